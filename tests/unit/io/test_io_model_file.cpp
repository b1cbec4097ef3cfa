#include <catch2/catch.hpp>

#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "liteai/io/model_file.hpp"

using liteai::DType;
using liteai::Error;
using liteai::Tensor;
using namespace liteai::io;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a liteai::Error");
  return {};
}

std::string tmp_dir() {
  const char* env = std::getenv("LITEAI_TEST_TMP");
  std::string dir = env ? env : "/tmp";
  dir += "/io_model_file_" + std::to_string(::getpid());
  std::string cmd = "mkdir -p '" + dir + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return dir;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Tensor ramp(const liteai::Shape& shape, float scale) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = scale * static_cast<float>(i) - 1.25f;
  return t;
}

Json sample_header() {
  Json h = Json::object();
  h["architecture"] = "small_cnn";
  h["classes"] = Json::array_of(std::vector<std::string>{"t-shirt", "trouser", "pullover"});
  h["preprocessing"]["mean"] = 0.2860;
  h["preprocessing"]["std"] = 0.3530;
  h["provenance"]["seed"] = 42;
  return h;
}

NamedTensors sample_tensors() {
  return {{"conv1.w", ramp({4, 1, 3, 3}, 0.5f)},
          {"conv1.b", ramp({4}, 0.25f)},
          {"fc1.w", ramp({3, 5}, -0.125f).to(DType::bf16)},
          {"scale", Tensor::scalar(7.5f)},
          {"empty", Tensor::empty({0, 3})}};
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t n = size_t(a.numel()) * liteai::dtype_size(a.dtype());
  return n == 0 || std::memcmp(a.raw_data(), b.raw_data(), n) == 0;
}

// Assembles a file by hand (valid prefix and header CRC) so that the checks behind the CRC can
// be reached: these are the files a fuzzer or a malicious writer would produce.
std::vector<uint8_t> craft(const std::string& json, size_t data_bytes, uint64_t data_start = 0) {
  const uint64_t start = data_start ? data_start : (32 + json.size() + 63) / 64 * 64;
  std::vector<uint8_t> f(start + data_bytes, 0);
  std::memcpy(f.data(), kModelMagic, 8);
  auto st32 = [&](size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) f[at + i] = uint8_t(v >> (8 * i)); };
  auto st64 = [&](size_t at, uint64_t v) { for (int i = 0; i < 8; ++i) f[at + i] = uint8_t(v >> (8 * i)); };
  st32(8, 1);
  st32(12, crc32_of(json.data(), json.size()));
  st64(16, json.size());
  st64(24, f.size());
  std::memcpy(f.data() + 32, json.data(), json.size());
  return f;
}

std::string load_error(const std::vector<uint8_t>& bytes) {
  return error_of([&] { model_file_from_bytes(bytes.data(), bytes.size(), "m.lai"); });
}

}  // namespace

TEST_CASE("model file: save and load round trip (f32, bf16, scalar, empty)", "[io][model_file]") {
  const std::string dir = tmp_dir();
  const std::string path = dir + "/round.lai";
  const Json header = sample_header();
  const NamedTensors tensors = sample_tensors();
  save_model_file(path, header, tensors);

  const ModelFile mf = load_model_file(path);
  CHECK(mf.header == header);
  CHECK(mf.format_version == kModelFormatVersion);
  CHECK(mf.source == path);
  REQUIRE(mf.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    CHECK(mf.tensors[i].first == tensors[i].first);  // file order = save order
    CHECK(same_bits(mf.tensors[i].second, tensors[i].second));
    CHECK(mf.tensors[i].second.is_contiguous());
  }
  CHECK(mf.tensor("fc1.w").dtype() == DType::bf16);
  CHECK(mf.tensor("scale").item() == 7.5f);
  CHECK(error_of([&] { mf.tensor("fc2.w"); }) == path + ": no tensor 'fc2.w'");

  // The in-memory writer produces the same bytes; the loader reads them back alike.
  const std::vector<uint8_t> bytes = model_file_to_bytes(header, tensors);
  CHECK(bytes == read_bytes(path));
  const ModelFile mem = model_file_from_bytes(bytes.data(), bytes.size());
  CHECK(mem.header == header);
  CHECK(same_bits(mem.tensor("conv1.w"), tensors[0].second));

  // Layout: tensors 64-byte aligned, in order, sizes as declared.
  const Json table = read_model_file_table(path);
  CHECK(table.at("header") == header);
  for (const Json& e : table.get_array("tensors")) {
    CHECK(e.get_int("offset") % 64 == 0);
  }
  const Json& fc = table.get_array("tensors")[2];
  CHECK(fc.get_string("dtype") == "bf16");
  CHECK(fc.get_int("bytes") == 3 * 5 * 2);
  CHECK(fc.get_int_array("shape") == std::vector<int64_t>{3, 5});

  // Loaded storage is 64-byte aligned in memory too.
  CHECK(reinterpret_cast<uintptr_t>(mf.tensor("conv1.w").data()) % 64 == 0);
}

TEST_CASE("model file: integer tensors (u8, u16, u32) keep their values; they convert to nothing", "[io][model_file]") {
  Tensor a = Tensor::empty({3, 2}, DType::u16), b = Tensor::empty({4}, DType::u32), c = Tensor::empty({2}, DType::u8);
  for (int64_t i = 0; i < 6; ++i) a.data_u16()[i] = uint16_t(65535 - 1000 * i);
  for (int64_t i = 0; i < 4; ++i) b.data_u32()[i] = 4000000000u + uint32_t(i);
  c.data_u8()[0] = 1;
  c.data_u8()[1] = 255;
  const std::string path = tmp_dir() + "/ints.lai";
  save_model_file(path, Json::object(), {{"a", a}, {"b", b}, {"c", c}});
  const ModelFile mf = load_model_file(path);
  CHECK(mf.tensor("a").dtype() == DType::u16);
  CHECK(mf.tensor("b").dtype() == DType::u32);
  CHECK(same_bits(mf.tensor("a"), a));
  CHECK(same_bits(mf.tensor("b"), b));
  CHECK(same_bits(mf.tensor("c"), c));
  CHECK(mf.tensor("b").data_u32()[3] == 4000000003u);
  CHECK(mf.tensor("a").at({2, 1}) == 60535.f);  // element 5
  CHECK(read_model_file_table(path).get_array("tensors")[1].get_string("dtype") == "u32");
  CHECK(read_model_file_table(path).get_array("tensors")[1].get_int("bytes") == 16);
  // Raw values: no conversion to or from floats, copies only between the same type.
  CHECK_THROWS_WITH(a.to(DType::f32), Catch::Contains("convert to nothing"));
  CHECK_THROWS_WITH(Tensor::empty({4}).copy_from(b), Catch::Contains("one type"));
  Tensor a2 = Tensor::zeros({3, 2}, DType::u16);
  a2.copy_from(a);
  CHECK(same_bits(a2, a));
  CHECK_THROWS_WITH(a.data_u32(), Catch::Contains("u16"));
}

TEST_CASE("model file: non-contiguous views are saved by value; no tensors at all is fine", "[io][model_file]") {
  const std::string dir = tmp_dir();
  Tensor base = ramp({3, 4}, 1.0f);
  Tensor t = base.transpose(0, 1);  // [4, 3], strided
  REQUIRE_FALSE(t.is_contiguous());
  save_model_file(dir + "/view.lai", Json("just a string header"), {{"t", t}});
  const ModelFile mf = load_model_file(dir + "/view.lai");
  CHECK(mf.header.as_string() == "just a string header");
  CHECK(mf.tensor("t").shape() == liteai::Shape{4, 3});
  CHECK(mf.tensor("t").to_vector() == t.to_vector());

  save_model_file(dir + "/none.lai", Json::object(), {});
  CHECK(load_model_file(dir + "/none.lai").tensors.empty());
}

TEST_CASE("model file: invalid inputs to save are refused before any file is touched", "[io][model_file]") {
  const std::string dir = tmp_dir();
  const std::string path = dir + "/refuse.lai";
  CHECK(error_of([&] { save_model_file(path, Json(), {{"a", Tensor()}}); }).find("tensor 'a' is undefined") !=
        std::string::npos);
  CHECK(error_of([&] { save_model_file(path, Json(), {{"a", ramp({2}, 1)}, {"a", ramp({2}, 1)}}); })
            .find("duplicate tensor name 'a'") != std::string::npos);
  CHECK(error_of([&] { save_model_file(path, Json(), {{"", ramp({2}, 1)}}); }).find("empty name") != std::string::npos);
  CHECK(access(path.c_str(), F_OK) != 0);
}

TEST_CASE("model file: a failed save leaves the old file untouched and no temp files", "[io][model_file][atomic]") {
  const std::string dir = tmp_dir() + "/atomic";
  REQUIRE(std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str()) == 0);
  const std::string path = dir + "/model.lai";
  save_model_file(path, sample_header(), sample_tensors());
  const std::vector<uint8_t> before = read_bytes(path);
  REQUIRE(before.size() > 100);

  // 1. Invalid tensors: refused before writing.
  CHECK_THROWS_AS(save_model_file(path, Json(), {{"w", Tensor()}}), Error);
  // 2. The producer fails half-way (stands for a full disk or a crash of the writer).
  const std::string msg = error_of([&] {
    atomic_write_file(path, [&](const ByteSink& sink) {
      sink(before.data(), before.size() / 2);
      liteai::throw_error("simulated failure while writing");
    });
  });
  CHECK(msg == "simulated failure while writing");
  // 3. A non-Error exception is also cleaned up and passed on.
  CHECK_THROWS_AS(atomic_write_file(path, [&](const ByteSink& sink) {
                    sink("x", 1);
                    throw std::bad_alloc();
                  }),
                  std::bad_alloc);
  CHECK(read_bytes(path) == before);
  CHECK(list_dir(dir) == std::vector<std::string>{"model.lai"});
  CHECK(load_model_file(path).header == sample_header());

  // 4. The folder cannot hold a temp file: a path under a regular file.
  const std::string bad = path + "/sub.lai";
  CHECK(error_of([&] { save_model_file(bad, Json(), {}); }).find("(Not a directory)") != std::string::npos);
  CHECK(error_of([&] { save_model_file(dir + "/no/such/dir/m.lai", Json(), {}); })
            .find("No such file or directory") != std::string::npos);
  CHECK(read_bytes(path) == before);

  // A successful save replaces the file as a whole.
  save_model_file(path, Json("v2"), {{"w", ramp({2, 2}, 3)}});
  CHECK(load_model_file(path).header.as_string() == "v2");
  CHECK(list_dir(dir) == std::vector<std::string>{"model.lai"});
}

TEST_CASE("model file: every truncation is an error naming the truncation", "[io][model_file][corrupt]") {
  const std::vector<uint8_t> good = model_file_to_bytes(sample_header(), sample_tensors());
  for (size_t len = 0; len < good.size(); ++len) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    const std::string msg = load_error(cut);
    INFO("length " << len << ": " << msg);
    CHECK(msg.rfind("m.lai: truncated (", 0) == 0);
  }
  // Extra bytes at the end are refused too.
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  CHECK(load_error(longer).find("1 unexpected bytes after the end") != std::string::npos);
  // A missing file.
  CHECK(error_of([] { load_model_file("/nonexistent/x.lai"); }).find("/nonexistent/x.lai: cannot open") == 0);
}

TEST_CASE("model file: any flipped byte is detected and named", "[io][model_file][corrupt]") {
  const std::vector<uint8_t> good = model_file_to_bytes(sample_header(), sample_tensors());
  const Json table = [&] {
    const uint64_t hb = good[16] | uint64_t(good[17]) << 8 | uint64_t(good[18]) << 16;
    return Json::parse(std::string(good.begin() + 32, good.begin() + 32 + static_cast<std::ptrdiff_t>(hb)));
  }();
  int header_hits = 0, data_hits = 0, padding_hits = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80)}) {
      std::vector<uint8_t> bad = good;
      bad[at] ^= mask;
      const std::string msg = load_error(bad);
      INFO("byte " << at << " ^ " << int(mask) << ": " << msg);
      REQUIRE(msg.rfind("m.lai", 0) == 0);
      // Which region was hit decides the message.
      std::string expect;
      if (at < 8) expect = "bad magic";
      for (const Json& e : table.get_array("tensors")) {
        const auto off = uint64_t(e.get_int("offset")), n = uint64_t(e.get_int("bytes"));
        if (at >= off && at < off + n) expect = "checksum mismatch in tensor '" + e.get_string("name") + "'";
      }
      if (expect.find("tensor") != std::string::npos) ++data_hits;
      if (at >= 32 && at < 32 + table.dump(1).size()) {
        expect = "checksum mismatch in the header";
        ++header_hits;
      }
      if (msg.find("padding") != std::string::npos) ++padding_hits;
      if (!expect.empty()) CHECK(msg.find(expect) != std::string::npos);
    }
  }
  CHECK(header_hits > 100);
  CHECK(data_hits > 100);
  CHECK(padding_hits > 0);
}

TEST_CASE("model file: wrong magic and wrong versions", "[io][model_file][corrupt]") {
  std::vector<uint8_t> good = model_file_to_bytes(sample_header(), sample_tensors());
  std::vector<uint8_t> bad = good;
  std::memcpy(bad.data(), "\x89PNG\r\n\x1a\n", 8);
  CHECK(load_error(bad) == "m.lai: not a liteai model file (bad magic)");
  CHECK(load_error({'{', '}'}) == "m.lai: not a liteai model file (bad magic)");
  bad = good;
  bad[8] = kModelFormatVersion + 1;
  CHECK(load_error(bad) == "m.lai: format version " + std::to_string(kModelFormatVersion + 1) +
                               " is newer than this build of liteai reads (up to " +
                               std::to_string(kModelFormatVersion) + "); upgrade liteai");
  bad[8] = 0;
  CHECK(load_error(bad) == "m.lai: invalid format version 0");
  bad = good;
  bad[11] = 0x80;  // + 2^31
  CHECK(load_error(bad).find("format version " + std::to_string((1u << 31) + kModelFormatVersion) + " is newer") !=
        std::string::npos);
}

TEST_CASE("model file: hostile tables with a valid checksum are refused cleanly", "[io][model_file][corrupt]") {
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape, int64_t offset,
                  int64_t bytes, int64_t crc = 0) {
    return "{\"name\":\"" + name + "\",\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"offset\":" + std::to_string(offset) + ",\"bytes\":" + std::to_string(bytes) +
           ",\"crc32\":" + std::to_string(crc) + "}";
  };
  auto doc = [](const std::string& entries) { return "{\"header\":{},\"tensors\":[" + entries + "]}"; };
  struct Case {
    std::string json;
    size_t data;
    const char* expect;
  };
  const Case cases[] = {
      {"{\"header\":{},\"tensors\":[1,2", 0, "m.lai header: invalid JSON at line 1, column 28"},
      {"[]", 0, "m.lai header: must be an object (found array)"},
      {"{\"tensors\":[]}", 0, "m.lai header: missing field 'header'"},
      {"{\"header\":{}}", 0, "m.lai header: missing field 'tensors'"},
      {"{\"header\":{},\"tensors\":{}}", 0, "field 'tensors' must be an array (found object)"},
      {doc("7"), 0, "tensor table entry 0 must be an object (found number)"},
      {doc("{\"name\":3}"), 0, "tensor table entry 0: field 'name' must be a string (found number)"},
      {doc(entry("w", "f16", "[2]", 512, 4)), 64, "tensor 'w': unknown dtype 'f16'"},
      {doc(entry("w", "f32", "[2,-1]", 512, 4)), 64, "negative dimension -1"},
      {doc(entry("w", "f32", "[2.5]", 512, 4)), 64, "field 'shape'[0] must be an integer"},
      {doc(entry("w", "f32", "[1,1,1,1,1,1,1,1,1]", 512, 4)), 64, "9 dimensions (at most 8)"},
      {doc(entry("w", "f32", "[1099511627776,1099511627776]", 512, 4)), 64, "is absurdly large"},
      {doc(entry("w", "f32", "[0,1099511627776,1099511627776]", 512, 0)), 64, "is absurdly large"},
      {doc(entry("w", "f32", "[9223372036854775807]", 512, 4)), 64, "is absurdly large"},
      {doc(entry("w", "f32", "[3]", 512, 8)), 64, "size 8 bytes does not match shape [3] f32 (12 bytes)"},
      {doc(entry("w", "f32", "[2]", 514, 8)), 64, "offset 514 is not 64-byte aligned"},
      {doc(entry("w", "f32", "[2]", 0, 8)), 64, "offset 0 overlaps the header"},
      {doc(entry("w", "f32", "[2]", -64, 8)), 64, "negative offset -64"},
      {doc(entry("w", "f32", "[2]", 9223372036854775744, 8)), 64, "truncated: tensor 'w' needs 8 bytes at offset"},
      {doc(entry("w", "f32", "[100]", 640, 400)), 64, "truncated: tensor 'w' needs 400 bytes"},
      {doc(entry("w", "f32", "[2]", 512, 8, -1)), 64, "crc32 -1 is not a 32-bit value"},
      {doc(entry("w", "f32", "[2]", 512, 8, 4294967296)), 64, "crc32 4294967296 is not a 32-bit value"},
      {doc(entry("w", "f32", "[2]", 512, 8) + "," + entry("w", "f32", "[2]", 576, 8)), 128,
       "m.lai: duplicate tensor name 'w'"},
      {doc(entry("a", "f32", "[32]", 576, 128) + "," + entry("b", "f32", "[2]", 640, 8)), 192,
       "tensors 'a' and 'b' overlap"},
      {doc(entry("", "f32", "[2]", 512, 8)), 64, "has an empty name"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    const std::vector<uint8_t> f = craft(c.json, c.data, c.data ? 512 : 0);
    const std::string msg = load_error(f);
    CHECK(msg.find(c.expect) != std::string::npos);
    if (msg.find(c.expect) == std::string::npos) WARN(msg);
  }
  // The crafted writer itself is right: a valid table loads.
  const uint8_t zeros[8] = {};
  const std::vector<uint8_t> ok = craft(doc(entry("w", "f32", "[2]", 512, 8, crc32_of(zeros, 8))), 64, 512);
  const ModelFile mf = model_file_from_bytes(ok.data(), ok.size());
  CHECK(mf.tensor("w").to_vector() == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("model file: the parallel CRC of large buffers equals zlib's serial CRC", "[io][model_file]") {
  std::vector<uint8_t> big((size_t(40) << 20) + 12345);
  uint32_t x = 1;
  for (auto& b : big) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  const uint32_t serial = static_cast<uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), big.data(), static_cast<uInt>(big.size())));
  CHECK(crc32_of(big.data(), big.size()) == serial);
  CHECK(crc32_of(big.data(), 100) == static_cast<uint32_t>(::crc32(0L, big.data(), 100)));
  // Chained: crc of the whole = crc of the tail started from the crc of the head.
  CHECK(crc32_of(big.data() + 1000, big.size() - 1000, crc32_of(big.data(), 1000)) == serial);
}

TEST_CASE("model file: random mutations load or fail with liteai::Error (in-suite mini fuzz)", "[io][model_file][corrupt]") {
  const std::vector<uint8_t> good = model_file_to_bytes(sample_header(), sample_tensors());
  uint64_t state = 12345;
  auto next = [&](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  int errors = 0, loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> f = good;
    const int edits = 1 + int(next(4));
    for (int k = 0; k < edits; ++k) {
      switch (next(4)) {
        case 0: f[next(f.size())] = uint8_t(next(256)); break;                                            // overwrite
        case 1: f.erase(f.begin() + std::ptrdiff_t(next(f.size()))); break;                               // delete
        case 2: f.insert(f.begin() + std::ptrdiff_t(next(f.size())), uint8_t(next(256))); break;          // insert
        default: f.resize(next(f.size() + 1)); break;                                                     // truncate
      }
      if (f.empty()) f.push_back(0);
    }
    // Half of the cases: repair the header CRC and length so the checks behind them are reached.
    if (iter % 2 && f.size() >= 32) {
      uint64_t hb = 0;
      for (int i = 0; i < 8; ++i) hb |= uint64_t(f[16 + i]) << (8 * i);
      if (hb <= f.size() - 32) {
        const uint32_t crc = crc32_of(f.data() + 32, size_t(hb));
        for (int i = 0; i < 4; ++i) f[12 + i] = uint8_t(crc >> (8 * i));
        for (int i = 0; i < 8; ++i) f[24 + i] = uint8_t(uint64_t(f.size()) >> (8 * i));
      }
    }
    try {
      model_file_from_bytes(f.data(), f.size(), "m.lai");
      ++loaded;
    } catch (const Error& e) {
      ++errors;
      CHECK(std::string(e.what()).rfind("m.lai", 0) == 0);
    }
  }
  CHECK(errors > 2900);
}

TEST_CASE("model file and JSON files: paths that are not files", "[io][model_file]") {
  const std::string dir = tmp_dir();
  CHECK(error_of([&] { load_model_file(dir); }) == dir + ": is a directory, not a regular file");
  CHECK(error_of([&] { read_json_file(dir); }) == dir + ": is a directory, not a regular file");
  CHECK(error_of([&] { read_json_file(dir + "/missing.json"); }) ==
        dir + "/missing.json: cannot open (No such file or directory)");
  write_json_file(dir + "/cfg.json", Json::parse("{\"a\": [1, 2]}"));
  CHECK(read_json_file(dir + "/cfg.json").dump() == "{\"a\":[1,2]}");
  const std::string text = "{\"a\": 1,\n \"a\": 2}";
  atomic_write_file(dir + "/dup.json", text.data(), text.size());
  CHECK(error_of([&] { read_json_file(dir + "/dup.json"); }) ==
        dir + "/dup.json: invalid JSON at line 2, column 2: duplicate key 'a'");
}

TEST_CASE("checked containers with another magic reuse the format", "[io][model_file]") {
  const ContainerFormat probmat = {{'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'}, 3, "probmat"};
  const std::string dir = tmp_dir();
  Json h = Json::object();
  h["bins"] = 256;
  save_container(probmat, dir + "/x.lpm", h, {{"hist", ramp({4, 256}, 0.01f)}});
  const ModelFile f = load_container(probmat, dir + "/x.lpm");
  CHECK(f.header == h);
  CHECK(f.format_version == 3);
  CHECK(same_bits(f.tensor("hist"), ramp({4, 256}, 0.01f)));
  // The two kinds do not mix, and messages use the container's own word.
  CHECK(error_of([&] { load_model_file(dir + "/x.lpm"); }) == dir + "/x.lpm: not a liteai model file (bad magic)");
  const std::vector<uint8_t> lai = model_file_to_bytes(h, {});
  CHECK(error_of([&] { container_from_bytes(probmat, lai.data(), lai.size(), "y.lpm"); }) ==
        "y.lpm: not a probmat file (bad magic)");
  const ContainerFormat old_reader = {{'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'}, 2, "probmat"};
  CHECK(error_of([&] { load_container(old_reader, dir + "/x.lpm"); }).find("format version 3 is newer") !=
        std::string::npos);
}

TEST_CASE("model file: header, tensor and total sizes are checked against the limits before allocating",
          "[io][model_file][limits]") {
  const liteai::Limits saved = liteai::limits();
  auto entry = [](const std::string& name, int64_t offset, int64_t n) {
    return "{\"name\":\"" + name + "\",\"dtype\":\"f32\",\"shape\":[" + std::to_string(n) + "],\"offset\":" +
           std::to_string(offset) + ",\"bytes\":" + std::to_string(4 * n) + ",\"crc32\":0}";
  };
  const std::string two = "{\"header\":{},\"tensors\":[" + entry("a", 512, 32) + "," + entry("b", 640, 32) + "]}";
  const std::vector<uint8_t> f = craft(two, 256, 512);
  auto kind_and_text = [&](const liteai::Limits& l) {
    liteai::set_limits(l);
    try {
      model_file_from_bytes(f.data(), f.size(), "m.lai");
    } catch (const Error& e) {
      liteai::set_limits(saved);
      return std::make_pair(e.kind(), std::string(e.what()));
    }
    liteai::set_limits(saved);
    return std::make_pair(liteai::ErrorKind::internal, std::string("loaded"));
  };
  liteai::Limits l = saved;
  l.max_tensor_bytes = 100;  // each tensor holds 128 bytes
  auto [k1, m1] = kind_and_text(l);
  CHECK(k1 == liteai::ErrorKind::out_of_memory);
  CHECK(m1.find("m.lai: tensor 'a' [32] (128 bytes) is over the limit of 100 bytes per array") != std::string::npos);
  l = saved;
  l.max_total_bytes = 200;  // together 256
  auto [k2, m2] = kind_and_text(l);
  CHECK(k2 == liteai::ErrorKind::out_of_memory);
  CHECK(m2.find("the tensors up to 'b' (256 bytes) is over the limit of 200 bytes") != std::string::npos);
  CHECK(m2.find("LITEAI_MAX_TOTAL_BYTES") != std::string::npos);
  l = saved;
  l.max_header_bytes = 64;
  auto [k3, m3] = kind_and_text(l);
  CHECK(k3 == liteai::ErrorKind::out_of_memory);
  CHECK(m3.find("m.lai: the header (") != std::string::npos);
  // Within the limits the same file is only refused for its (zero) CRCs.
  auto [k4, m4] = kind_and_text(saved);
  CHECK(m4.find("checksum mismatch in tensor 'a'") != std::string::npos);
}
