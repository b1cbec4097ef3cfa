// senafas: patch features and calibrated levels against naive references; the channel marks hot
// spots but not the places where normal maps are always noisy; on SYNTHETIC phantoms the channel
// alone separates foreign-body images from normal ones; save/load round trip and corrupted files;
// the profile SOM separates cells with different intensity distributions.
#include <catch2/catch.hpp>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/random.hpp"
#include "liteai/io/model_file.hpp"
#include "legacy_anomaly_files.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;
using namespace liteai::anomaly;
using data::Image;

namespace {

std::string tmp_path(const std::string& name) {
  const char* d = std::getenv("TMPDIR");
  return std::string(d && *d ? d : "/tmp") + "/anomaly_senafas_" + std::to_string(getpid()) + "_" + name;
}

// A "normal" map: noise everywhere, plus a band (rows 8..11) that is always very noisy, the way
// the body outline is in real WPMs.
Image normal_map(int w, int h, Generator& g) {
  Image m(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      m.at(x, y) = std::abs(g.normal(1.f, 0.5f));
      if (y >= 8 && y < 12) m.at(x, y) = std::abs(g.normal(4.f, 4.f));
    }
  return m;
}
void hot_disc(Image& m, float cx, float cy, float r, float v = 8.f) {
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x)
      if (std::hypot(x - cx, y - cy) <= r) m.at(x, y) = v;
}

}  // namespace

TEST_CASE("senafas features, calibration and levels agree with naive references", "[anomaly][senafas]") {
  Generator g(3);
  std::vector<Image> train;
  for (int i = 0; i < 12; ++i) train.push_back(normal_map(37, 21, g));  // 37x21: partial edge patches
  SenafasOptions o;
  o.patch = 8;
  o.max_features = 16;  // 8x8 pooled 2x2 -> 16 values
  o.rows = 3;
  o.cols = 3;
  o.train.epochs = 5;
  Senafas s;
  s.fit(train, o);
  REQUIRE(s.pool() == 2);
  REQUIRE(s.dim() == 16);
  REQUIRE((s.grid_width() == 5 && s.grid_height() == 3));
  const Image m = normal_map(37, 21, g);
  int64_t n = 0;
  const auto f = s.patch_features(m, &n);
  REQUIRE(n == 15);
  float lo = INFINITY;
  for (float v : m.pixels) lo = std::min(lo, v);
  for (int k = 0; k < 15; ++k)
    for (int j = 0; j < 16; ++j) {
      // Naive: mean of the in-image pixels of pooled slot j of patch k; the map minimum if none.
      const int x0 = (k % 5) * 8 + (j % 4) * 2, y0 = (k / 5) * 8 + (j / 4) * 2;
      double sum = 0;
      int cnt = 0;
      for (int y = y0; y < y0 + 2; ++y)
        for (int x = x0; x < x0 + 2; ++x)
          if (x < 37 && y < 21) sum += m.at(x, y), ++cnt;
      REQUIRE(f[size_t(k) * 16 + size_t(j)] == Approx(cnt ? sum / cnt : lo).margin(1e-5));
    }
  // Quantization errors: distance to the naive best unit.
  const Image qe = s.quantization_errors(m);
  for (int k = 0; k < 15; ++k) {
    const float* x = f.data() + size_t(k) * 16;
    const float* w = s.som().unit_weights(s.som().bmu(x));
    double d = 0;
    for (int j = 0; j < 16; ++j) d += double(x[j] - w[j]) * (x[j] - w[j]);
    REQUIRE(qe.pixels[size_t(k)] == Approx(std::sqrt(d)).epsilon(1e-4).margin(1e-4));
  }
  // Calibration: per-cell mean and sample sd of the training maps' errors; floor from the mean sd.
  std::vector<double> sum(15, 0), sq(15, 0);
  for (const Image& t : train) {
    const Image e = s.quantization_errors(t);
    for (int k = 0; k < 15; ++k) sum[size_t(k)] += e.pixels[size_t(k)], sq[size_t(k)] += double(e.pixels[size_t(k)]) * e.pixels[size_t(k)];
  }
  double mean_sd = 0;
  for (int k = 0; k < 15; ++k) {
    const double mu = sum[size_t(k)] / 12, sd = std::sqrt(std::max(0.0, (sq[size_t(k)] - 12 * mu * mu) / 11));
    REQUIRE(s.cell_mean()[size_t(k)] == Approx(mu).epsilon(1e-4));
    REQUIRE(s.cell_sd()[size_t(k)] == Approx(sd).epsilon(1e-3).margin(1e-5));
    mean_sd += sd / 15;
  }
  REQUIRE(s.floor() == Approx(0.5 * mean_sd).epsilon(1e-3));
  const Image ch = s.channel(m);
  for (int k = 0; k < 15; ++k) {
    const double z = std::max(0.0, double(qe.pixels[size_t(k)] - s.cell_mean()[size_t(k)]) / (s.cell_sd()[size_t(k)] + s.floor()));
    REQUIRE(ch.pixels[size_t(k)] == Approx(std::log1p(z)).margin(1e-5));
  }
  CHECK(Senafas::image_score(ch) == Approx(*std::max_element(ch.pixels.begin(), ch.pixels.end())));
  // Same data, same options: same bits.
  Senafas s2;
  s2.fit(train, o);
  CHECK(s2.som().weights() == s.som().weights());
  CHECK(s2.channel(m).pixels == ch.pixels);
}

TEST_CASE("senafas channel marks a hot spot, not the band that is always noisy", "[anomaly][senafas]") {
  Generator g(1);
  std::vector<Image> train;
  for (int i = 0; i < 40; ++i) train.push_back(normal_map(64, 48, g));
  Senafas s;
  SenafasOptions o;
  o.patch = 8;
  o.rows = 5;
  o.cols = 5;
  s.fit(train, o);
  Image test = normal_map(64, 48, g);
  hot_disc(test, 36.f, 28.f, 2.5f);  // inside patch (4, 3)
  const Image ch = s.channel(test);
  REQUIRE((ch.width == 8 && ch.height == 6));
  const float hot = ch.at(4, 3);
  float other = 0, band = 0;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x) {
      if (std::abs(x - 4) > 1 || std::abs(y - 3) > 1) other = std::max(other, ch.at(x, y));
      if (y == 1) band = std::max(band, ch.at(x, y));
    }
  INFO("hot patch " << hot << ", largest elsewhere " << other << ", largest in the noisy band " << band);
  CHECK(hot > 1.5f);
  CHECK(other < 0.5f * hot);
  // The band's raw errors are large, its calibrated levels are not.
  const Image qe = s.quantization_errors(test);
  float band_qe = 0, quiet_qe = 0;
  for (int x = 0; x < 8; ++x) band_qe = std::max(band_qe, qe.at(x, 1)), quiet_qe = std::max(quiet_qe, qe.at(x, 5));
  CHECK(band_qe > 2 * quiet_qe);
  CHECK(band < 0.5f * hot);
  // The same disc on the noisy band is still seen (a disc is not a noise pattern).
  Image on_band = normal_map(64, 48, g);
  hot_disc(on_band, 20.f, 10.f, 2.5f, 14.f);
  CHECK(s.channel(on_band).at(2, 1) > 1.f);
  const Image plain = s.channel(normal_map(64, 48, g));
  CHECK(Senafas::image_score(plain) < 0.5f * hot);

  CHECK_THROWS_WITH(s.channel(Image(63, 48)), Catch::Contains("63x48"));
  CHECK_THROWS_WITH(Senafas().channel(test), Catch::Contains("not fitted"));
  CHECK_THROWS_WITH(Senafas().save(tmp_path("x.lsnf")), Catch::Contains("not fitted"));
  CHECK_THROWS_WITH(Senafas().fit({test}), Catch::Contains("at least 2"));
  CHECK_THROWS_WITH(Senafas().fit({test, Image(64, 47)}), Catch::Contains("64x47"));
  Image nan_map = test;
  nan_map.at(3, 3) = NAN;
  CHECK_THROWS_WITH(Senafas().fit({test, nan_map}), Catch::Contains("non-finite"));
  SenafasOptions bad;
  bad.patch = 0;
  CHECK_THROWS_WITH(Senafas().fit({test, test}, bad), Catch::Contains("patch 0"));
}

// SYNTHETIC phantoms (liteai::data, drawn by formula). Small images keep this fast; the example
// senafas_compare and `liteai bench anomaly` measure the same at 256.
TEST_CASE("senafas channel alone separates foreign-body phantoms from normal ones", "[anomaly][senafas][phantom]") {
  constexpr int S = 128, P = 4;
  data::PhantomOptions normal_opt, fb_opt;
  normal_opt.size = fb_opt.size = S;
  normal_opt.classes = {0};
  fb_opt.classes = {1};
  ProbMatConfig pc;
  pc.width = pc.height = S;
  pc.bins = 64;
  pc.count_bits = 16;
  ProbMat pm(pc);
  for (int i = 0; i < 120; ++i) pm.add(data::make_phantom(31, uint64_t(i), normal_opt).image);
  const ProbTable table = pm.finalize();
  WpmOptions wo;
  wo.side = WpmSide::Brighter;
  wo.smooth_sigma = 1.f;
  std::vector<Image> normal_maps;
  for (int i = 0; i < 60; ++i) normal_maps.push_back(wpm(table, data::make_phantom(32, uint64_t(i), normal_opt).image, wo));
  Senafas sen;
  SenafasOptions so;
  so.patch = P;
  sen.fit(normal_maps, so);
  std::vector<double> scores, topk;
  std::vector<int> labels;
  for (int i = 0; i < 50; ++i)
    for (int label : {0, 1}) {
      const data::Phantom ph = data::make_phantom(label ? 34 : 33, uint64_t(i), label ? fb_opt : normal_opt);
      const Image map = wpm(table, ph.image, wo);
      const Image ch = sen.channel(map);
      REQUIRE((ch.width == S / P && ch.height == S / P));
      scores.push_back(Senafas::image_score(ch));
      topk.push_back(image_score(map));
      labels.push_back(label);
    }
  const double auc = auroc(scores, labels), auc_topk = auroc(topk, labels);
  WARN("senafas channel " << S / P << "x" << S / P << " alone: image AUROC " << auc << " (WPM top-k mean at " << S << "x"
                          << S << ": " << auc_topk << ")");
  CHECK(auc >= 0.95);
}

TEST_CASE("senafas save/load round trip and corrupted files", "[anomaly][senafas]") {
  Generator g(5);
  std::vector<Image> train;
  for (int i = 0; i < 6; ++i) train.push_back(normal_map(24, 16, g));
  Senafas s;
  SenafasOptions o;
  o.patch = 8;
  o.rows = 2;
  o.cols = 3;
  o.log_scale = false;
  o.train.epochs = 3;
  s.fit(train, o);
  const std::string p = tmp_path("rt.lsnf"), bad = tmp_path("bad.lsnf");
  s.save(p);
  const Senafas back = Senafas::load(p);
  CHECK(back.som().weights() == s.som().weights());
  CHECK(back.cell_mean() == s.cell_mean());
  CHECK(back.cell_sd() == s.cell_sd());
  CHECK(back.floor() == s.floor());
  CHECK_FALSE(back.log_scale());
  Image m = normal_map(24, 16, g);
  hot_disc(m, 12, 4, 2);
  CHECK(back.channel(m).pixels == s.channel(m).pixels);

  {
    // The current layout: the checked container, a JSON header and three tensors.
    const io::ContainerFormat fmt = {{'L', 'A', 'I', 'S', 'N', 'F', '\0', '\0'}, 2, "senafas (.lsnf)"};
    const io::ModelFile f = io::load_container(fmt, p);
    CHECK(f.header.get_int("patch") == 8);
    CHECK(f.tensor("cell_sd").shape() == Shape{6});
    auto resave = [&](const std::function<void(io::Json&, io::NamedTensors&)>& edit) {
      io::Json h = f.header;
      io::NamedTensors t = f.tensors;
      edit(h, t);
      io::save_container(fmt, bad, h, t);
      Senafas::load(bad);
    };
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("patch", 0); }), Catch::Contains("patch 0"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("width", 40); }), Catch::Contains("'cell_mean'"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("floor", -1.0); }), Catch::Contains("floor"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.erase("som"); }), Catch::Contains("som"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h["som"].set("dim", 63); }),
                      Catch::Contains("the SOM's dimension 63"));
    CHECK_THROWS_WITH(resave([](io::Json&, io::NamedTensors& t) {
                        Tensor sd = t[2].second.clone();
                        sd.data()[5] = -1.f;
                        t[2].second = sd;
                      }),
                      Catch::Contains("standard deviation 5"));
  }
  // Files of liteai 0.3 (the legacy layout) load, and damaged ones are refused.
  const std::vector<uint8_t> bytes = test::legacy_senafas(s);
  test::write_bytes(p, bytes);
  {
    const Senafas old = Senafas::load(p);
    CHECK(old.som().weights() == s.som().weights());
    CHECK(old.cell_sd() == s.cell_sd());
    CHECK(old.channel(m).pixels == s.channel(m).pixels);
  }
  // header: width 0, height 4, patch 8, pool 12, dim 16, log 20, floor 24, then the SOM: rows 28,
  // cols 32, dim 36, topology 40, toroidal 44, neighborhood 48 (offsets from byte 32)
  REQUIRE(bytes.size() == 32 + 52 + 4 * (6 * 64 + 2 * 6));
  auto load_bad = [&](std::vector<uint8_t> b, bool fix_crc) {
    if (fix_crc) {
      uLong crc = crc32(0L, Z_NULL, 0);
      crc = crc32(crc, b.data() + 32, uInt(b.size() - 32));
      for (int i = 0; i < 4; ++i) b[24 + size_t(i)] = uint8_t(crc >> (8 * i));
    }
    std::ofstream o2(bad, std::ios::binary | std::ios::trunc);
    o2.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    o2.close();
    Senafas::load(bad);
  };
  auto put_i32 = [](std::vector<uint8_t>& b, size_t at, int32_t v) {
    for (int i = 0; i < 4; ++i) b[at + size_t(i)] = uint8_t(uint32_t(v) >> (8 * i));
  };
  for (size_t n = 0; n < bytes.size(); n += 5)
    REQUIRE_THROWS_AS(load_bad({bytes.begin(), bytes.begin() + long(n)}, false), Error);
  CHECK_THROWS_WITH(load_bad({bytes.begin(), bytes.end() - 4}, false), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(Senafas::load(tmp_path("missing.lsnf")), Catch::Contains("cannot open"));
  auto b = bytes;
  b[3] = 'x';
  CHECK_THROWS_WITH(load_bad(b, false), Catch::Contains("magic"));
  b = bytes;
  b[bytes.size() - 30] ^= 2;
  CHECK_THROWS_WITH(load_bad(b, false), Catch::Contains("checksum"));
  b = bytes;
  b[8] = 9;
  CHECK_THROWS_WITH(load_bad(b, false), Catch::Contains("version 9"));
  b = bytes;
  b.push_back(0);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("trailing"));
  // Valid CRC, bad fields: each named.
  b = bytes;
  put_i32(b, 32 + 0, 40);  // width 24 -> 40: more cells than the payload holds
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("payload"));
  b = bytes;
  put_i32(b, 32 + 8, 0);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("patch 0"));
  b = bytes;
  put_i32(b, 32 + 16, 63);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("dim 63"));
  b = bytes;
  put_i32(b, 32 + 20, 7);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("log_scale"));
  b = bytes;
  put_i32(b, 32 + 24, int32_t(0xbf800000u));  // floor -1
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("floor"));
  b = bytes;
  put_i32(b, 32 + 40, 9);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("topology"));
  b = bytes;
  put_i32(b, 32 + 36, 63);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("the SOM's dimension 63"));
  b = bytes;
  put_i32(b, 32 + 28, -1);
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("grid"));
  b = bytes;
  put_i32(b, 84 + 4 * 5, int32_t(0x7fc00000u));  // NaN SOM weight
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("not finite"));
  b = bytes;
  put_i32(b, bytes.size() - 4, int32_t(0xbf800000u));  // negative sd of the last cell
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("standard deviation 5"));
  // A failed save leaves no file behind and names the path.
  CHECK_THROWS_WITH(s.save("/nonexistent-dir/x.lsnf"), Catch::Contains("/nonexistent-dir/x.lsnf"));
  std::remove(p.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("profile SOM separates cells with different intensity laws", "[anomaly][senafas]") {
  Generator g(2);
  ProbMat pm({16, 8, 64, 32, 1, 0});
  for (int i = 0; i < 40; ++i) {
    Image im(16, 8);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 16; ++x) im.at(x, y) = x < 8 ? g.normal(50, 5) : g.normal(190, 12);
    pm.add(im);
  }
  const ProbTable t = pm.finalize();
  SomConfig grid;
  grid.rows = 2;
  grid.cols = 2;
  const Som s = train_profile_som(t, grid);
  const Image reg = profile_regions(t, s);
  REQUIRE((reg.width == 16 && reg.height == 8));
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int y2 = 0; y2 < 8; ++y2) REQUIRE(reg.at(x, y) != reg.at(8 + x, y2));
}
