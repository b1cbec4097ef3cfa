// Resource limits (core/limits.hpp) and the thread-count range: defaults, overrides from code and
// from the environment, and the refusals (kind and message naming the limit).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/parallel.hpp"

using namespace liteai;

namespace {
// Restores the limits in force when it was made.
struct KeepLimits {
  Limits saved = limits();
  ~KeepLimits() { set_limits(saved); }
};
}  // namespace

TEST_CASE("limits: documented defaults, set_limits validates every field") {
  KeepLimits keep;
  const Limits d;
  CHECK(d.max_image_pixels == int64_t(1) << 26);
  CHECK(d.max_file_bytes == int64_t(1) << 30);
  CHECK(d.max_tensor_bytes == int64_t(4) << 30);
  CHECK(d.max_total_bytes == int64_t(8) << 30);
  CHECK(d.max_header_bytes == int64_t(64) << 20);
  Limits l = limits();
  l.max_image_pixels = 100;
  set_limits(l);
  CHECK(limit(Limit::image_pixels) == 100);
  l.max_file_bytes = 0;
  CHECK_THROWS_WITH(set_limits(l), Catch::Contains("max_file_bytes must be >= 1"));
  CHECK(limit(Limit::file_bytes) == limits().max_file_bytes);  // nothing changed by the refused call
}

TEST_CASE("limits: a refusal is out_of_memory and names the limit and how to change it") {
  KeepLimits keep;
  check_limit(Limit::file_bytes, uint64_t(1) << 30, "exactly at the limit is fine");
  try {
    check_limit(Limit::tensor_bytes, (uint64_t(4) << 30) + 1, "x.npy: the array (2, 3)");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::out_of_memory);
    const std::string m = e.what();
    CHECK(m.find("x.npy: the array (2, 3)") == 0);
    CHECK(m.find("over the limit of 4.0 GiB per array") != std::string::npos);
    CHECK(m.find("LITEAI_MAX_TENSOR_BYTES") != std::string::npos);
  }
  CHECK_THROWS_WITH(check_image_size(16384, 16384, "black.png"),
                    Catch::Contains("black.png: a 16384x16384 image (268435456 pixels) is over the limit of 67108864 "
                                    "pixels per image (LITEAI_MAX_IMAGE_PIXELS"));
  // Overflowing products are refused, not wrapped.
  CHECK_THROWS_AS(check_image_size(int64_t(1) << 40, int64_t(1) << 40, "huge"), Error);
  check_image_size(8192, 8192, "fits");
}

TEST_CASE("limits: the environment overrides the defaults, in counts with binary suffixes") {
  ::setenv("LITEAI_MAX_IMAGE_PIXELS", "256M", 1);
  ::setenv("LITEAI_MAX_TOTAL_BYTES", "16G", 1);
  ::setenv("LITEAI_MAX_HEADER_BYTES", "4096", 1);
  Limits l = default_limits();
  CHECK(l.max_image_pixels == int64_t(256) << 20);
  CHECK(l.max_total_bytes == int64_t(16) << 30);
  CHECK(l.max_header_bytes == 4096);
  CHECK(l.max_file_bytes == Limits().max_file_bytes);
  for (const char* bad : {"lots", "-5", "0", "12Q", "1.5G"}) {
    ::setenv("LITEAI_MAX_FILE_BYTES", bad, 1);
    CHECK_THROWS_WITH(default_limits(), Catch::Contains("LITEAI_MAX_FILE_BYTES='") && Catch::Contains("positive count"));
  }
  for (const char* v : {"LITEAI_MAX_IMAGE_PIXELS", "LITEAI_MAX_TOTAL_BYTES", "LITEAI_MAX_HEADER_BYTES", "LITEAI_MAX_FILE_BYTES"})
    ::unsetenv(v);
  CHECK(describe_bytes(512) == "512 bytes");
  CHECK(describe_bytes(uint64_t(3) << 29) == "1.5 GiB");
}

TEST_CASE("set_num_threads: 0 is the default, negative and absurd counts are refused naming the range") {
  const int before = num_threads();
  CHECK_THROWS_WITH(set_num_threads(-3), Catch::Contains("-3 threads is out of range (1..1024, or 0 for the default)"));
  CHECK_THROWS_WITH(set_num_threads(100000), Catch::Contains("100000 threads is out of range"));
  CHECK(num_threads() == before);
  set_num_threads(2);
  CHECK(num_threads() == 2);
  set_num_threads(0);
  CHECK(num_threads() >= 1);
}
