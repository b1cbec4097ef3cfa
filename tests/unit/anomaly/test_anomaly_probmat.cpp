// ProbMat: histogram counts vs a naive count, KDE vs a naive kernel sum, bandwidth rules, merge ==
// accumulate-all, uint16 overflow halving, .lpm round trip and every corruption we can think of.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/random.hpp"
#include "liteai/io/model_file.hpp"
#include "legacy_anomaly_files.hpp"

using namespace liteai;
using namespace liteai::anomaly;
using data::Image;

namespace {

std::string tmp_path(const std::string& name) {
  const char* d = std::getenv("LITEAI_TEST_TMP");
  return std::string(d && *d ? d : "/tmp") + "/anomaly_probmat_" + name;
}

std::vector<Image> random_images(int n, int w, int h, uint64_t seed, float lo = 0, float hi = 255) {
  Generator g(seed);
  std::vector<Image> v;
  for (int i = 0; i < n; ++i) {
    Image im(w, h);
    for (float& p : im.pixels) p = std::floor(g.uniform(lo, hi));
    v.push_back(im);
  }
  return v;
}

std::vector<const Image*> ptrs(const std::vector<Image>& v, size_t b = 0, size_t e = SIZE_MAX) {
  std::vector<const Image*> out;
  for (size_t i = b; i < std::min(e, v.size()); ++i) out.push_back(&v[i]);
  return out;
}

// Naive count of bin `bin` at cell (cx, cy): every pixel in the cell's block plus tolerance.
uint64_t naive_count(const ProbMatConfig& c, const std::vector<Image>& imgs, int cx, int cy, int bin) {
  uint64_t n = 0;
  for (const Image& im : imgs)
    for (int y = cy * c.scale - c.tolerance; y < cy * c.scale + c.scale + c.tolerance; ++y)
      for (int x = cx * c.scale - c.tolerance; x < cx * c.scale + c.scale + c.tolerance; ++x) {
        if (x < 0 || y < 0 || x >= c.width || y >= c.height) continue;
        int b = int(std::floor((im.at(x, y) - c.lo) / (c.hi - c.lo) * c.bins));
        b = std::max(0, std::min(c.bins - 1, b));
        if (b == bin) ++n;
      }
  return n;
}

std::vector<uint8_t> slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void spit(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
// Recomputes the container CRC (header + payload) so deeper checks are reached.
void fix_crc(std::vector<uint8_t>& b) {
  if (b.size() < 32) return;
  uint32_t hb = uint32_t(b[12]) | uint32_t(b[13]) << 8 | uint32_t(b[14]) << 16 | uint32_t(b[15]) << 24;
  if (32 + uint64_t(hb) > b.size()) return;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, b.data() + 32, uInt(b.size() - 32));
  for (int i = 0; i < 4; ++i) b[24 + size_t(i)] = uint8_t(crc >> (8 * i));
}
void put_i32(std::vector<uint8_t>& b, size_t at, int32_t v) {
  for (int i = 0; i < 4; ++i) b[at + size_t(i)] = uint8_t(uint32_t(v) >> (8 * i));
}

bool same_counts(const ProbMat& a, const ProbMat& b) {
  if (!(a.config() == b.config()) || a.images() != b.images()) return false;
  for (int64_t c = 0; c < a.config().cells(); ++c) {
    if (a.shift(c) != b.shift(c)) return false;
    for (int k = 0; k < a.config().bins; ++k)
      if (a.count(c, k) != b.count(c, k)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("probmat counts match a naive per-pixel histogram", "[anomaly][probmat]") {
  const auto imgs = random_images(7, 13, 11, 3, 0, 256);
  for (int bins : {32, 256})
    for (int bits : {16, 32})
      for (int scale : {1, 2, 3})
        for (int tol : {0, 1}) {
          ProbMatConfig c{13, 11, bins, bits, scale, tol, 0.f, 256.f};
          ProbMat pm(c);
          pm.add_batch(ptrs(imgs, 0, 3));
          pm.add_batch(ptrs(imgs, 3));
          INFO(c.describe());
          REQUIRE(pm.images() == 7);
          for (int cy = 0; cy < c.grid_height(); ++cy)
            for (int cx = 0; cx < c.grid_width(); ++cx)
              for (int b = 0; b < bins; ++b)
                REQUIRE(pm.count(int64_t(cy) * c.grid_width() + cx, b) == naive_count(c, imgs, cx, cy, b));
        }
}

TEST_CASE("probmat bin mapping clamps and agrees with accumulation", "[anomaly][probmat]") {
  ProbMat pm({256, 1, 64, 32, 1, 0, 0.f, 255.f});
  Image ramp(256, 1);
  for (int x = 0; x < 256; ++x) ramp.at(x, 0) = float(x);
  pm.add(ramp);
  for (int x = 0; x < 256; ++x) REQUIRE(pm.count(x, pm.bin_of(float(x))) == 1);
  CHECK(pm.bin_of(-5.f) == 0);
  CHECK(pm.bin_of(1e9f) == 63);
  CHECK(pm.bin_of(std::nanf("")) == 0);
  Image bad(255, 1);
  CHECK_THROWS_WITH(pm.add(bad), Catch::Contains("255x1") && Catch::Contains("256x1"));
}

TEST_CASE("probmat batch split does not change the counts", "[anomaly][probmat]") {
  const auto imgs = random_images(10, 32, 20, 5);
  ProbMatConfig c{32, 20, 64, 32, 2, 1};
  ProbMat a(c), b(c);
  a.add_batch(ptrs(imgs));
  for (const Image& im : imgs) b.add(im);
  REQUIRE(same_counts(a, b));
}

TEST_CASE("probmat merge equals accumulating everything", "[anomaly][probmat]") {
  const auto imgs = random_images(12, 24, 16, 9);
  for (int bits : {16, 32}) {
    ProbMatConfig c{24, 16, 128, bits, 1, 1};
    ProbMat all(c), a(c), b(c);
    all.add_batch(ptrs(imgs));
    a.add_batch(ptrs(imgs, 0, 5));
    b.add_batch(ptrs(imgs, 5));
    a.merge(b);
    REQUIRE(same_counts(a, all));
  }
  ProbMat a({24, 16, 128, 32, 1, 1}), d({24, 16, 64, 32, 1, 1});
  CHECK_THROWS_WITH(a.merge(d), Catch::Contains("bins differ") && Catch::Contains("128") && Catch::Contains("64"));
  ProbMat e({24, 16, 128, 16, 1, 1});
  CHECK_THROWS_WITH(a.merge(e), Catch::Contains("count widths differ"));
  ProbMat f({24, 17, 128, 32, 1, 1});
  CHECK_THROWS_WITH(a.merge(f), Catch::Contains("image sizes differ"));
  ProbMat g({24, 16, 128, 32, 1, 1, 0.f, 1.f});
  CHECK_THROWS_WITH(a.merge(g), Catch::Contains("intensity ranges differ"));
}

TEST_CASE("probmat uint16 counts halve instead of wrapping", "[anomaly][probmat]") {
  Image lo(1, 1, 10.f), hi(1, 1, 200.f);
  ProbMat pm({1, 1, 32, 16, 1, 0});
  // 3 : 1 mixture, 100k samples: the low bin must overflow 65535.
  std::vector<const Image*> batch;
  for (int i = 0; i < 75000; ++i) batch.push_back(&lo);
  for (int i = 0; i < 25000; ++i) batch.push_back(&hi);
  pm.add_batch(batch);
  REQUIRE(pm.shift(0) == 1);
  const auto h = pm.histogram(0);
  const double n = h[size_t(pm.bin_of(10))] + h[size_t(pm.bin_of(200))];
  CHECK(std::abs(n - 100000) < 4);  // halving loses at most a count per halving
  CHECK(h[size_t(pm.bin_of(10))] / n == Approx(0.75).margin(0.002));
  // A second ProbMat that also overflowed, merged: ratios survive.
  ProbMat other({1, 1, 32, 16, 1, 0});
  other.add_batch(batch);
  pm.merge(other);
  const auto h2 = pm.histogram(0);
  CHECK(h2[size_t(pm.bin_of(10))] / (h2[size_t(pm.bin_of(10))] + h2[size_t(pm.bin_of(200))]) ==
        Approx(0.75).margin(0.002));
  CHECK(pm.shift(0) == 2);
}

TEST_CASE("probmat KDE matches a naive Gaussian kernel sum", "[anomaly][probmat]") {
  // One cell, samples drawn from a bimodal law.
  Generator g(11);
  std::vector<Image> imgs;
  for (int i = 0; i < 300; ++i) imgs.emplace_back(1, 1, std::clamp(std::round(i % 3 ? g.normal(80, 10) : g.normal(170, 6)), 0.f, 255.f));
  for (int bins : {256, 64}) {
    ProbMat pm({1, 1, bins, 32, 1, 0, 0.f, 256.f});
    pm.add_batch(ptrs(imgs));
    const double w = 256.0 / bins;
    std::vector<double> xs;  // bin centres of the samples, intensity units
    for (auto& im : imgs) xs.push_back((pm.bin_of(im.pixels[0]) + 0.5) * w);
    const double n = double(xs.size());
    double mean = 0, var = 0;
    for (double x : xs) mean += x / n;
    for (double x : xs) var += (x - mean) * (x - mean) / n;
    const double sd = std::sqrt(var);

    for (auto rule : {Bandwidth::Fixed, Bandwidth::Scott, Bandwidth::Silverman}) {
      FinalizeOptions opt;
      opt.rule = rule;
      opt.fixed_bandwidth = 7.f;
      opt.floor = 1e-4f;
      double bw = 0;
      const auto p = pm.cell_probabilities(0, opt, &bw);
      if (rule == Bandwidth::Fixed) CHECK(bw == Approx(7.0));
      if (rule == Bandwidth::Scott) CHECK(bw == Approx(1.06 * sd * std::pow(n, -0.2)).epsilon(1e-6));
      if (rule == Bandwidth::Silverman) {
        // Sample quartiles (nearest rank) vs the histogram's interpolated ones: close, not equal.
        std::vector<double> s = xs;
        std::sort(s.begin(), s.end());
        const double iqr = s[size_t(0.75 * n)] - s[size_t(0.25 * n)];
        CHECK(bw == Approx(0.9 * std::min(sd, iqr / 1.34) * std::pow(n, -0.2)).epsilon(0.1));
      }
      // Naive KDE evaluated at bin centres, normalized over the bins, plus the floor.
      std::vector<double> ref(size_t(bins), 0.0);
      double tot = 0;
      for (int b = 0; b < bins; ++b) {
        for (double x : xs) ref[size_t(b)] += std::exp(-0.5 * std::pow(((b + 0.5) * w - x) / bw, 2));
        tot += ref[size_t(b)];
      }
      double psum = 0;
      for (int b = 0; b < bins; ++b) {
        const double r = (1 - 1e-4) * ref[size_t(b)] / tot + 1e-4 / bins;
        INFO("bins " << bins << " rule " << int(rule) << " bin " << b);
        REQUIRE(p[size_t(b)] == Approx(r).epsilon(2e-3).margin(1e-5));
        REQUIRE(p[size_t(b)] >= 1e-4 / bins * 0.999);
        psum += p[size_t(b)];
      }
      CHECK(psum == Approx(1.0).epsilon(1e-9));
    }
  }
}

TEST_CASE("probmat finalize table agrees with the double-precision probabilities", "[anomaly][probmat]") {
  const auto imgs = random_images(30, 8, 6, 21, 60, 120);
  ProbMat pm({8, 6, 128, 16, 2, 0});
  pm.add_batch(ptrs(imgs));
  FinalizeOptions opt;
  const ProbTable t = pm.finalize(opt);
  REQUIRE(t.memory_bytes() == size_t(pm.config().cells()) * (128 * 2 + 8));
  for (int64_t c = 0; c < pm.config().cells(); ++c) {
    const auto p = pm.cell_probabilities(c, opt);
    double sum = 0;
    for (int b = 0; b < 128; ++b) {
      sum += t.prob(c, b);
      REQUIRE(t.prob(c, b) == Approx(p[size_t(b)]).epsilon(2e-4));
      // At a bin centre neglog_at is exactly that bin's -log p.
      const float centre = (b + 0.5f) * 255.f / 128.f;
      REQUIRE(t.neglog_at(c, centre) == Approx(-std::log(p[size_t(b)])).margin(2e-3));
    }
    CHECK(sum == Approx(1.0).epsilon(1e-3));
  }
  // Intensities inside the training range are far more probable than outside it.
  CHECK(t.neglog_at(0, 90.f) + 5.f < t.neglog_at(0, 240.f));
  CHECK(t.rel_at(0, 240.f) < 0.01f);
  CHECK_THROWS_WITH(pm.finalize({Bandwidth::Silverman, 4.f, 1.f, 0.f}), Catch::Contains("floor"));
}

TEST_CASE("probmat save/load round trip", "[anomaly][probmat]") {
  const auto imgs = random_images(9, 20, 14, 13);
  for (int bits : {16, 32}) {
    ProbMat pm({20, 14, 64, bits, 3, 1, 0.f, 255.f});
    pm.add_batch(ptrs(imgs));
    const std::string p = tmp_path("rt" + std::to_string(bits) + ".lpm");
    pm.save(p);
    const ProbMat back = ProbMat::load(p);
    REQUIRE(same_counts(pm, back));
    const ProbTable a = pm.finalize(), b = back.finalize();
    REQUIRE(a.quantized() == b.quantized());
  }
}

TEST_CASE("probmat files are the checked container; damaged ones are refused with a clear error", "[anomaly][probmat]") {
  ProbMat pm({5, 4, 32, 16, 1, 0});
  pm.add_batch(ptrs(random_images(3, 5, 4, 1)));
  const std::string good = tmp_path("cgood.lpm"), bad = tmp_path("cbad.lpm");
  pm.save(good);
  const io::ContainerFormat fmt = {{'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'}, 3, "probmat (.lpm)"};
  const io::ModelFile f = io::load_container(fmt, good);
  CHECK(f.format_version == 3);
  CHECK(f.header.get_int("bins") == 32);
  REQUIRE(f.find("counts"));
  CHECK(f.tensor("counts").dtype() == DType::u16);
  CHECK(f.tensor("counts").shape() == Shape{20, 32});
  CHECK(f.tensor("shifts").dtype() == DType::u8);
  const std::vector<uint8_t> bytes = slurp(good);
  for (size_t n = 0; n < bytes.size(); n += 3) {
    spit(bad, {bytes.begin(), bytes.begin() + long(n)});
    INFO("truncated to " << n);
    REQUIRE_THROWS_AS(ProbMat::load(bad), Error);
  }
  auto b = bytes;
  b[0] = 'X';
  spit(bad, b);
  CHECK_THROWS_WITH(ProbMat::load(bad), Catch::Contains("bad magic"));
  b = bytes;
  b[b.size() - 30] ^= 0x10;  // inside the counts
  spit(bad, b);
  CHECK_THROWS_WITH(ProbMat::load(bad), Catch::Contains("checksum"));
  b = bytes;
  b[8] = 9;
  spit(bad, b);
  CHECK_THROWS_WITH(ProbMat::load(bad), Catch::Contains("version 9"));
  // Header fields and tensors that pass every checksum but lie: each named.
  auto resave = [&](const std::function<void(io::Json&, io::NamedTensors&)>& edit) {
    io::Json h = f.header;
    io::NamedTensors t = f.tensors;
    edit(h, t);
    io::save_container(fmt, bad, h, t);
    ProbMat::load(bad);
  };
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("bins", 33); }), Catch::Contains("bins"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("count_bits", 8); }), Catch::Contains("16 or 32"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("width", int64_t(1) << 40); }),
                    Catch::Contains("out of range"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("grid_width", 99); }), Catch::Contains("grid"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("bins", 64); }), Catch::Contains("'counts'"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("count_bits", 32); }), Catch::Contains("u32"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.erase("lo"); }), Catch::Contains("lo"));
  CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("images", -1); }), Catch::Contains("image count"));
  CHECK_THROWS_WITH(resave([](io::Json&, io::NamedTensors& t) { t.pop_back(); }), Catch::Contains("no tensor 'shifts'"));
  CHECK_THROWS_WITH(resave([](io::Json&, io::NamedTensors& t) {
                      Tensor s = t[1].second.clone();
                      s.data_u8()[3] = 40;
                      t[1].second = s;
                    }),
                    Catch::Contains("shift"));
  try {
    resave([](io::Json& h, io::NamedTensors&) { h.set("scale", 0); });
    FAIL("expected a format error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::format);
    CHECK_THAT(e.what(), Catch::Contains("scale"));
  }
}

TEST_CASE("probmat files of liteai 0.3 (the legacy layout) load; damaged ones are refused", "[anomaly][probmat]") {
  ProbMat pm({5, 4, 32, 16, 1, 0});
  pm.add_batch(ptrs(random_images(3, 5, 4, 1)));
  const std::string good = tmp_path("good.lpm"), bad = tmp_path("bad.lpm");
  const std::vector<uint8_t> bytes = test::legacy_probmat(pm);
  spit(good, bytes);
  REQUIRE(same_counts(pm, ProbMat::load(good)));
  REQUIRE(bytes.size() == 32 + 56 + 5 * 4 * 32 * 2 + 5 * 4);  // version 2 header, no calibration
  auto load_bad = [&](const std::vector<uint8_t>& b) {
    spit(bad, b);
    ProbMat::load(bad);
  };
  SECTION("every truncation") {
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO("truncated to " << n);
      REQUIRE_THROWS_AS(load_bad(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(n))), Error);
    }
    CHECK_THROWS_WITH(load_bad(std::vector<uint8_t>(bytes.begin(), bytes.end() - 7)), Catch::Contains("truncated"));
    CHECK_THROWS_WITH(load_bad(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10)), Catch::Contains("prefix"));
  }
  SECTION("trailing garbage") {
    auto b = bytes;
    b.push_back(0);
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("trailing"));
  }
  SECTION("bad magic") {
    auto b = bytes;
    b[0] = 'X';
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("bad magic"));
  }
  SECTION("bad CRC: payload or header byte flipped") {
    auto b = bytes;
    b[b.size() - 30] ^= 0x10;
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("checksum"));
    b = bytes;
    b[40] ^= 1;
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("checksum"));
  }
  SECTION("wrong version") {
    auto b = bytes;
    b[8] = 9;
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("version 9"));
    b[8] = 0;
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("version 0"));
  }
  SECTION("header fields that pass the CRC but lie") {
    struct Case { size_t at; int32_t v; const char* msg; };
    const Case cases[] = {{32 + 0, 0, "image size"},   {32 + 0, 1 << 20, "image size"},
                          {32 + 8, 33, "bins"},        {32 + 12, 8, "16 or 32"},
                          {32 + 16, 0, "scale"},       {32 + 20, -1, "tolerance"},
                          {32 + 40, 99, "grid"},       {32 + 0, 6, "grid"},
                          {32 + 8, 64, "payload"},     {12, 200, "truncated"},
                          {12, 40, "trailing"},        {32 + 48, 5, "payload"},
                          {32 + 48, 0x7fffffff, "implausible"}};
    for (const Case& c : cases) {
      auto b = bytes;
      put_i32(b, c.at, c.v);
      fix_crc(b);
      INFO("offset " << c.at << " value " << c.v);
      CHECK_THROWS_WITH(load_bad(b), Catch::Contains(c.msg));
    }
    // Declared payload larger than the file.
    auto b = bytes;
    b[20] = 1;  // payload_bytes high word
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("truncated"));
    // lo/hi NaN
    b = bytes;
    put_i32(b, 32 + 24, 0x7fc00000);
    fix_crc(b);
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("range"));
    // shift byte implausible
    b = bytes;
    b.back() = 40;
    fix_crc(b);
    CHECK_THROWS_WITH(load_bad(b), Catch::Contains("shift"));
  }
  SECTION("random byte corruption with a valid CRC never crashes") {
    Generator g(77);
    int loaded = 0, rejected = 0;
    for (int it = 0; it < 300; ++it) {
      auto b = bytes;
      const int flips = 1 + int(g.below(4));
      for (int k = 0; k < flips; ++k) b[size_t(g.below(80))] = uint8_t(g.below(256));
      if (g.below(2)) fix_crc(b);
      try {
        load_bad(b);
        ++loaded;
      } catch (const Error&) {
        ++rejected;
      }
    }
    CHECK(rejected > 0);
    CHECK(loaded + rejected == 300);
  }
  SECTION("missing file") { CHECK_THROWS_WITH(ProbMat::load(tmp_path("nope.lpm")), Catch::Contains("cannot open")); }
}

TEST_CASE("probmat config validation names the bad field", "[anomaly][probmat]") {
  CHECK_THROWS_WITH(ProbMat({10, 10, 100, 32}), Catch::Contains("bins"));
  CHECK_THROWS_WITH(ProbMat({10, 10, 64, 8}), Catch::Contains("16 or 32"));
  CHECK_THROWS_WITH(ProbMat({0, 10, 64, 32}), Catch::Contains("image size"));
  CHECK_THROWS_WITH(ProbMat({10, 10, 64, 32, 1, 0, 5.f, 5.f}), Catch::Contains("range"));
  CHECK(ProbMatConfig{512, 512, 256, 32}.count_bytes() == 256ull << 20);
  CHECK(ProbMatConfig{512, 512, 64, 16, 2}.count_bytes() == 8ull << 20);
}
