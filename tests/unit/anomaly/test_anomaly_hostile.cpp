// Hostile inputs to the anomaly layer: ProbMat sizes whose product is absurd, anomaly files that
// are directories or FIFOs, Hough and blur options that are NaN or negative.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"

using namespace liteai;
using namespace liteai::anomaly;
namespace fs = std::filesystem;

namespace {
std::pair<ErrorKind, std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::internal, "no error"};
}
}  // namespace

TEST_CASE("probmat: each side in range but an absurd product is refused before allocating") {
  ProbMatConfig c;
  c.width = c.height = 46341;  // 2.2 TB of counts
  auto [kind, text] = error_of([&] { ProbMat pm(c); });
  CHECK(kind == ErrorKind::out_of_memory);
  CHECK(text.find("probmat: a 46341x46341 image") == 0);
  c.width = c.height = 8192;  // within the pixels, but 64 GiB of u32 counts over 256 bins
  std::tie(kind, text) = error_of([&] { c.validate(); });
  CHECK(kind == ErrorKind::out_of_memory);
  CHECK(text.find("probmat: the counts of a 8192x8192 grid x 256 bins x 4 bytes (64 GiB) is over the limit") == 0);
  c.bins = 32;
  c.count_bits = 16;
  c.scale = 4;
  c.validate();  // the compact form fits
}

TEST_CASE("anomaly files: a directory or a FIFO is an io error saying so, not a format error") {
  const char* env = std::getenv("LITEAI_TEST_TMP");
  const fs::path dir = fs::path(env && *env ? env : "/tmp") / ("anomaly_hostile_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string fifo = (dir / "x.lpm").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  for (const std::string& p : {dir.string(), fifo}) {
    const std::string what = p == fifo ? "is a FIFO (named pipe)" : "is a directory";
    for (auto f : std::vector<std::function<void()>>{[&] { ProbMat::load(p); }, [&] { Som::load(p); },
                                                     [&] { Senafas::load(p); }}) {
      auto [kind, text] = error_of(f);
      CHECK(kind == ErrorKind::io);
      CHECK(text == p + ": " + what + ", not a regular file");
    }
  }
}

TEST_CASE("hough and blur: NaN, infinite and negative options are refused naming the option") {
  data::Image img(32, 32, 0.f);
  for (int y = 10; y < 20; ++y)
    for (int x = 10; x < 20; ++x) img.at(x, y) = 200.f;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  struct Case {
    HoughOptions o;
    const char* expect;
  };
  std::vector<Case> cases;
  auto add = [&](auto set, const char* expect) {
    HoughOptions o;
    set(o);
    cases.push_back({o, expect});
  };
  add([&](HoughOptions& o) { o.blur_sigma = nan; }, "hough: blur sigma must be in [0, 1000]");
  add([&](HoughOptions& o) { o.blur_sigma = -1; }, "hough: blur sigma must be in [0, 1000]");
  add([&](HoughOptions& o) { o.blur_sigma = inf; }, "hough: blur sigma");
  add([&](HoughOptions& o) { o.noise_factor = -1; }, "hough: noise factor must be >= 0");
  add([&](HoughOptions& o) { o.noise_factor = nan; }, "hough: noise factor");
  add([&](HoughOptions& o) { o.min_votes = nan; }, "hough: min_votes");
  add([&](HoughOptions& o) { o.min_support = 2; }, "hough: min_support must be in [0, 1]");
  add([&](HoughOptions& o) { o.min_dist = -3; }, "hough: min_dist");
  add([&](HoughOptions& o) { o.min_radius = nan; }, "hough: radius range");
  add([&](HoughOptions& o) { o.low_threshold = nan; }, "hough: thresholds");
  for (const Case& c : cases) {
    auto [kind, text] = error_of([&] { hough_circles(img, c.o); });
    INFO(text);
    CHECK(kind == ErrorKind::invalid_argument);
    CHECK(text.find(c.expect) == 0);
  }
  CHECK(error_of([&] { gaussian_blur(img, nan); }).second.find("gaussian blur: sigma must be in [0, 1000]") == 0);
  CHECK(error_of([&] { gaussian_blur(img, 1e9f); }).first == ErrorKind::invalid_argument);
  CHECK(gaussian_blur(img, 0.f).pixels == img.pixels);
  hough_circles(img, HoughOptions{});  // the defaults are fine
}
