// WPM on synthetic bright discs over a smooth varying background, scores, thresholds, regions,
// AUROC vs a naive pair count, blur vs direct convolution, PNG outputs.
#include <catch2/catch.hpp>
#include <stb/stb_image.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/random.hpp"

using namespace liteai;
using namespace liteai::anomaly;
using data::Image;

namespace {

std::string tmp_path(const std::string& name) {
  const char* d = std::getenv("LITEAI_TEST_TMP");
  return std::string(d && *d ? d : "/tmp") + "/anomaly_wpm_" + name;
}

// A smooth background that varies over the image (and a little between images), plus noise.
Image background(int w, int h, Generator& g) {
  Image im(w, h);
  const float gain = g.uniform(0.9f, 1.1f), off = g.uniform(-5.f, 5.f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float base = 60.f + 80.f * float(x) / float(w) + 30.f * std::sin(float(y) / float(h) * 3.14159f);
      im.at(x, y) = std::clamp(std::round(gain * base + off + g.normal(0.f, 3.f)), 0.f, 255.f);
    }
  return im;
}

void add_disc(Image& im, Image* mask, float cx, float cy, float r, float value) {
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      if (std::hypot(x - cx, y - cy) <= r) {
        im.at(x, y) = value;
        if (mask) mask->at(x, y) = 1.f;
      }
}

struct Fixture {
  ProbTable table;
  std::vector<Image> normals, abnormals, masks;
  std::vector<float> cx, cy;
};

Fixture make_fixture(int scale, int bins) {
  Fixture f;
  const int W = 64, H = 64;
  Generator g(42);
  ProbMat pm({W, H, bins, 16, scale, 1});
  std::vector<Image> train;
  for (int i = 0; i < 60; ++i) train.push_back(background(W, H, g));
  std::vector<const Image*> p;
  for (auto& im : train) p.push_back(&im);
  pm.add_batch(p);
  f.table = pm.finalize();
  for (int i = 0; i < 12; ++i) {
    f.normals.push_back(background(W, H, g));
    Image a = background(W, H, g), m(W, H, 0.f);
    const float cx = g.uniform(12, 52), cy = g.uniform(12, 52);
    add_disc(a, &m, cx, cy, g.uniform(3.f, 6.f), 250.f);
    f.abnormals.push_back(a);
    f.masks.push_back(m);
    f.cx.push_back(cx);
    f.cy.push_back(cy);
  }
  return f;
}

}  // namespace

TEST_CASE("wpm lights up a bright disc and nothing else", "[anomaly][wpm]") {
  for (int scale : {1, 2})
    for (int bins : {256, 32}) {
      INFO("scale " << scale << " bins " << bins);
      const Fixture f = make_fixture(scale, bins);
      std::vector<Image> maps, nmaps;
      std::vector<double> scores;
      std::vector<int> labels;
      for (size_t i = 0; i < f.abnormals.size(); ++i) {
        maps.push_back(wpm(f.table, f.abnormals[i]));
        nmaps.push_back(wpm(f.table, f.normals[i]));
        scores.push_back(image_score(maps.back()));
        labels.push_back(1);
        scores.push_back(image_score(nmaps.back()));
        labels.push_back(0);
      }
      CHECK(pixel_auroc(maps, f.masks) > 0.97);
      CHECK(auroc(scores, labels) == 1.0);
      // Threshold at 0.1% pixel false positives on normal maps: each disc is found as a region
      // centred on it.
      const double thr = pixel_threshold_for_fpr(nmaps, 0.001);
      for (size_t i = 0; i < maps.size(); ++i) {
        const auto regions = find_regions(maps[i], float(thr), 4);
        REQUIRE(!regions.empty());
        CHECK(std::hypot(regions[0].cx - f.cx[i], regions[0].cy - f.cy[i]) < 1.5);
        CHECK(regions[0].x0 <= int(f.cx[i]) + 1);
        CHECK(regions[0].x1 >= int(f.cx[i]));
      }
      // The other variant ranks pixels the same way (monotone in p up to the per-cell max).
      const Image rel = wpm(f.table, f.abnormals[0], {WpmKind::OneMinusRel});
      for (float v : rel.pixels) REQUIRE((v >= 0.f && v <= 1.f));
      CHECK(pixel_auroc({rel}, {f.masks[0]}) > 0.95);
    }
}

TEST_CASE("wpm values are the table's -log p and smoothing/eps behave", "[anomaly][wpm]") {
  ProbMat pm({4, 3, 64, 32, 1, 0});
  Generator g(1);
  std::vector<Image> imgs;
  for (int i = 0; i < 20; ++i) {
    Image im(4, 3);
    for (float& p : im.pixels) p = g.uniform(100, 140);
    imgs.push_back(im);
  }
  for (auto& im : imgs) pm.add(im);
  const ProbTable t = pm.finalize();
  Image probe(4, 3, 120.f);
  probe.at(2, 1) = 10.f;
  const Image m = wpm(t, probe);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) REQUIRE(m.at(x, y) == Approx(t.neglog_at(t.cell_of(x, y), probe.at(x, y))));
  CHECK(m.at(2, 1) > m.at(0, 0) + 5.f);
  WpmOptions eps;
  eps.eps = 0.01f;
  const Image me = wpm(t, probe, eps);
  CHECK(me.at(2, 1) <= -std::log(0.01f) + 1e-4f);
  CHECK(me.at(0, 0) == Approx(-std::log(std::exp(-m.at(0, 0)) + 0.01f)).epsilon(1e-5));
  CHECK_THROWS_WITH(wpm(t, Image(5, 3)), Catch::Contains("5x3") && Catch::Contains("4x3"));
}

TEST_CASE("gaussian blur matches a direct 2-D convolution", "[anomaly][wpm]") {
  Image im(21, 17, 0.f);
  im.at(10, 8) = 1.f;
  im.at(3, 4) = 2.f;
  const float s = 1.5f;
  const Image b = gaussian_blur(im, s);
  const int r = int(std::ceil(3 * s));
  double k1 = 0;
  for (int i = -r; i <= r; ++i) k1 += std::exp(-0.5 * i * i / (s * s));
  for (int y = 0; y < 17; ++y)
    for (int x = 0; x < 21; ++x) {
      double ref = 0;
      for (auto [px, py, v] : {std::tuple{10, 8, 1.0}, std::tuple{3, 4, 2.0}})
        if (std::abs(x - px) <= r && std::abs(y - py) <= r)
          ref += v * std::exp(-0.5 * ((x - px) * (x - px) + (y - py) * (y - py)) / (s * s)) / (k1 * k1);
      // Edge clamping only matters within r of the border for the (3,4) impulse.
      if (x >= r && y >= r) REQUIRE(b.at(x, y) == Approx(ref).margin(1e-6));
    }
}

TEST_CASE("image scores, thresholds and AUROC against naive references", "[anomaly][wpm]") {
  Image m(10, 10);
  for (int i = 0; i < 100; ++i) m.pixels[size_t(i)] = float(i);
  auto score = [&](ScoreMethod method, double percentile = 99.9, double top = 0.001) {
    ScoreOptions o;
    o.method = method;
    o.percentile = percentile;
    o.top_fraction = top;
    return image_score(m, o);
  };
  CHECK(score(ScoreMethod::Max) == 99.0);
  CHECK(score(ScoreMethod::Mean) == Approx(49.5));
  CHECK(score(ScoreMethod::TopKMean, 0, 0.05) == Approx((95 + 96 + 97 + 98 + 99) / 5.0));
  CHECK(score(ScoreMethod::Percentile, 50.0) == Approx(50.0).margin(0.5));
  CHECK(score(ScoreMethod::Spot) == 0.0);  // a ramp has no isolated spot
  CHECK(score_method_from_string(to_string(ScoreMethod::Spot)) == ScoreMethod::Spot);
  CHECK_THROWS_WITH(score_method_from_string("best"), Catch::Contains("spot, topk"));
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  const double t = threshold_for_fpr(v, 0.05);
  int above = 0;
  for (double x : v) above += x > t;
  CHECK(above == 5);
  CHECK(threshold_for_fpr(v, 0.0) == 100.0);

  Generator g(5);
  std::vector<double> s;
  std::vector<int> l;
  for (int i = 0; i < 400; ++i) {
    l.push_back(int(g.below(2)));
    s.push_back(std::round(g.normal(l.back() ? 1.f : 0.f, 1.f) * 4) / 4);  // many ties
  }
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (l[i] == 1 && l[j] == 0) {
        pairs += 1;
        wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
      }
  CHECK(auroc(s, l) == Approx(wins / pairs).epsilon(1e-12));
  CHECK_THROWS_WITH(auroc({1, 2}, {1, 1}), Catch::Contains("both classes"));
}

TEST_CASE("regions are 8-connected with exact area, bbox and peak", "[anomaly][wpm]") {
  Image m(8, 6, 0.f);
  m.at(1, 1) = 2;
  m.at(2, 2) = 3;  // diagonal neighbour: same region
  m.at(3, 3) = 1;
  m.at(6, 0) = 5;
  m.at(6, 1) = 4;
  m.at(0, 5) = 0.5f;  // below threshold
  const auto r = find_regions(m, 0.6f);
  REQUIRE(r.size() == 2);
  CHECK(r[0].peak == 5.f);
  CHECK(r[0].area == 2);
  CHECK((r[0].x0 == 6 && r[0].x1 == 6 && r[0].y0 == 0 && r[0].y1 == 1));
  CHECK(r[1].area == 3);
  CHECK((r[1].x0 == 1 && r[1].y0 == 1 && r[1].x1 == 3 && r[1].y1 == 3));
  CHECK((r[1].peak_x == 2 && r[1].peak_y == 2));
  CHECK(r[1].mean == Approx(2.0));
  CHECK(find_regions(m, 0.6f, 3).size() == 1);
}

TEST_CASE("heatmap and overlay PNGs are written and readable", "[anomaly][wpm]") {
  Image img(32, 24), map(32, 24, 0.f);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x) img.at(x, y) = float(x * 8);
  map.at(5, 5) = 10.f;
  const std::string hp = tmp_path("heat.png"), op = tmp_path("overlay.png");
  write_heatmap_png(hp, map);
  write_overlay_png(op, img, map, 1.f);
  int w, h, c;
  unsigned char* px = stbi_load(hp.c_str(), &w, &h, &c, 3);
  REQUIRE(px);
  CHECK((w == 32 && h == 24));
  const int hot = px[(5 * 32 + 5) * 3] + px[(5 * 32 + 5) * 3 + 1], cold = px[0] + px[1];
  CHECK(hot > cold + 200);
  stbi_image_free(px);
  px = stbi_load(op.c_str(), &w, &h, &c, 3);
  REQUIRE(px);
  // Below threshold the overlay is the gray radiograph; at the hot pixel it is tinted.
  CHECK(px[(10 * 32 + 20) * 3] == px[(10 * 32 + 20) * 3 + 2]);
  CHECK(px[(5 * 32 + 5) * 3] != px[(5 * 32 + 5) * 3 + 2]);
  stbi_image_free(px);
  CHECK_THROWS_AS(write_heatmap_png("/nonexistent-dir/x.png", map), Error);
  uint8_t lo[3], hi[3];
  colormap(0.f, lo);
  colormap(1.f, hi);
  CHECK(int(hi[0]) + hi[1] + hi[2] > int(lo[0]) + lo[1] + lo[2] + 500);
}
