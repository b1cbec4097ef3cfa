// Resize against naive references, the standardization formula, seeded augmentation.
#include <catch2/catch.hpp>
#include <cmath>

#include "liteai/core/random.hpp"
#include "liteai/data/transforms.hpp"

using namespace liteai;
using namespace liteai::data;

namespace {
Image random_image(int w, int h, uint64_t seed) {
  Generator g(seed);
  Image img(w, h);
  for (auto& p : img.pixels) p = float(g.uniform()) * 255.f;
  return img;
}

// Area average by brute force: integrate the piecewise-constant source over the output cell.
float naive_area(const Image& s, int W, int H, int ox, int oy) {
  const double sx = double(s.width) / W, sy = double(s.height) / H;
  const double x0 = ox * sx, x1 = (ox + 1) * sx, y0 = oy * sy, y1 = (oy + 1) * sy;
  double acc = 0;
  for (int y = 0; y < s.height; ++y) {
    const double cy = std::max(0.0, std::min(y1, y + 1.0) - std::max(y0, double(y)));
    if (cy <= 0) continue;
    for (int x = 0; x < s.width; ++x) {
      const double cx = std::max(0.0, std::min(x1, x + 1.0) - std::max(x0, double(x)));
      acc += cx * cy * s.at(x, y);
    }
  }
  return float(acc / (sx * sy));
}

// Bilinear with half-pixel centres, edges clamped.
float naive_bilinear(const Image& s, int W, int H, int ox, int oy) {
  double x = std::clamp((ox + 0.5) * s.width / W - 0.5, 0.0, s.width - 1.0);
  double y = std::clamp((oy + 0.5) * s.height / H - 0.5, 0.0, s.height - 1.0);
  int x0 = int(x), y0 = int(y), x1 = std::min(x0 + 1, s.width - 1), y1 = std::min(y0 + 1, s.height - 1);
  double fx = x - x0, fy = y - y0;
  return float((s.at(x0, y0) * (1 - fx) + s.at(x1, y0) * fx) * (1 - fy) + (s.at(x0, y1) * (1 - fx) + s.at(x1, y1) * fx) * fy);
}
}  // namespace

TEST_CASE("resize shrinking is an exact area average") {
  for (auto [w, h, W, H] : std::vector<std::array<int, 4>>{{64, 48, 32, 24}, {37, 29, 10, 7}, {100, 100, 33, 33}, {9, 5, 1, 1}}) {
    Image s = random_image(w, h, uint64_t(w * 100 + h));
    Image r = resize(s, W, H);
    REQUIRE(r.width == W);
    REQUIRE(r.height == H);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) REQUIRE(r.at(x, y) == Approx(naive_area(s, W, H, x, y)).margin(1e-3));
  }
  // The mean is preserved when the ratio is whole.
  Image s = random_image(64, 64, 5);
  Image r = resize(s, 16, 16);
  double ms = 0, mr = 0;
  for (float v : s.pixels) ms += v;
  for (float v : r.pixels) mr += v;
  CHECK(mr / r.pixels.size() == Approx(ms / s.pixels.size()).epsilon(1e-5));
}

TEST_CASE("resize growing is bilinear with half-pixel centres") {
  for (auto [w, h, W, H] : std::vector<std::array<int, 4>>{{8, 6, 16, 12}, {5, 7, 23, 19}, {1, 1, 4, 4}}) {
    Image s = random_image(w, h, uint64_t(w + h));
    Image r = resize(s, W, H);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) REQUIRE(r.at(x, y) == Approx(naive_bilinear(s, W, H, x, y)).margin(1e-3));
  }
}

TEST_CASE("resize mixes area and bilinear per axis; equal size copies") {
  Image s = random_image(40, 10, 9);
  Image r = resize(s, 20, 25);  // shrink x, grow y
  Image ref_x = resize(s, 20, 10);
  Image ref = resize(ref_x, 20, 25);
  for (size_t i = 0; i < r.pixels.size(); ++i) REQUIRE(r.pixels[i] == Approx(ref.pixels[i]).margin(1e-3));
  CHECK(resize(s, 40, 10).pixels == s.pixels);
}

TEST_CASE("standardize follows tf.image.per_image_standardization") {
  Image img = random_image(17, 13, 3);
  const size_t n = img.pixels.size();
  double mean = 0;
  for (float v : img.pixels) mean += v;
  mean /= n;
  double var = 0;
  for (float v : img.pixels) var += (v - mean) * (v - mean);
  const double sd = std::max(std::sqrt(var / n), 1.0 / std::sqrt(double(n)));
  Image out = img;
  standardize(out);
  double m2 = 0, v2 = 0;
  for (size_t i = 0; i < n; ++i) {
    REQUIRE(out.pixels[i] == Approx((img.pixels[i] - mean) / sd).margin(1e-4));
    m2 += out.pixels[i];
  }
  m2 /= n;
  for (float v : out.pixels) v2 += (v - m2) * (v - m2);
  CHECK(std::fabs(m2) < 1e-5);
  CHECK(v2 / n == Approx(1.0).epsilon(1e-4));
  // A flat image: stddev 0, divided by 1/sqrt(N) instead, i.e. all zeros.
  Image flat(8, 8, 77.f);
  standardize(flat);
  for (float v : flat.pixels) CHECK(v == 0.f);
  // A nearly flat one: the floor 1/sqrt(N) applies (stddev 0.01 < 1/8).
  Image tiny(8, 8, 5.f);
  tiny.pixels[0] = 5.f + 0.08f;
  standardize(tiny);
  CHECK(tiny.pixels[0] == Approx((0.08 - 0.08 / 64) * 8).epsilon(1e-4));
}

TEST_CASE("augmentation is reproducible for a seed and does what it says") {
  Image s = random_image(32, 24, 11);
  AugmentOptions flip;
  flip.hflip = true;
  int flipped = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Image a = s;
    Generator g(seed);
    augment_geometry(a, flip, g);
    bool same = a.pixels == s.pixels;
    if (!same) {
      ++flipped;
      for (int y = 0; y < 24; ++y)
        for (int x = 0; x < 32; ++x) REQUIRE(a.at(x, y) == s.at(31 - x, y));
    }
  }
  CHECK(flipped > 10);
  CHECK(flipped < 30);

  AugmentOptions all;
  all.hflip = true;
  all.max_shift = 0.1f;
  all.max_crop = 0.1f;
  all.brightness = 0.2f;
  all.contrast = 0.2f;
  Preprocess p;
  p.width = 16;
  p.height = 12;
  p.augment = all;
  std::vector<float> a(16 * 12), b(16 * 12), c(16 * 12);
  Generator g1(sample_seed(7, 2, 5)), g2(sample_seed(7, 2, 5)), g3(sample_seed(7, 3, 5));
  preprocess_into(s, p, &g1, a.data());
  preprocess_into(s, p, &g2, b.data());
  preprocess_into(s, p, &g3, c.data());
  CHECK(a == b);
  CHECK(a != c);
  // Shift moves content: a pure shift by (dx, dy) with replicated edges.
  AugmentOptions shift;
  shift.max_shift = 0.25f;
  Image grad(20, 20);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x) grad.at(x, y) = float(x + 100 * y);
  Generator g(3);
  Image sh = grad;
  augment_geometry(sh, shift, g);
  const int dx = int(sh.at(10, 10)) % 100 - 10, dy = int(sh.at(10, 10)) / 100 - 10;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x)
      REQUIRE(sh.at(x, y) == grad.at(std::clamp(x + dx, 0, 19), std::clamp(y + dy, 0, 19)));
}

TEST_CASE("sample seeds differ across seed, epoch and index") {
  CHECK(sample_seed(1, 0, 0) != sample_seed(1, 0, 1));
  CHECK(sample_seed(1, 0, 1) != sample_seed(1, 1, 0));
  CHECK(sample_seed(1, 0, 0) != sample_seed(2, 0, 0));
  CHECK(sample_seed(5, 6, 7) == sample_seed(5, 6, 7));
}
