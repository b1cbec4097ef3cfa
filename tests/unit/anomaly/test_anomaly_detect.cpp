// Circles on anomaly maps (detect.hpp): isolated discs are found where they are, at their size,
// scored by their contrast; bands, edges, broad areas and discs cut by the border are not.
#include <catch2/catch.hpp>

#include <cmath>

#include "liteai/anomaly/detect.hpp"
#include "liteai/core/random.hpp"

using namespace liteai;
using namespace liteai::anomaly;

namespace {
// A map of noise around `level` (standard deviation `noise`).
data::Image noise_map(int size, float level, float noise, uint64_t seed) {
  data::Image m(size, size, level);
  Generator g(seed);
  for (float& v : m.pixels) v = level + g.normal(0.f, noise);
  return m;
}
void add_disc(data::Image& m, float cx, float cy, float r, float height) {
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x)
      if (std::hypot(x - cx, y - cy) <= r) m.at(x, y) += height;
}
}  // namespace

TEST_CASE("detect: isolated discs are found at their centre and size, strongest first") {
  data::Image m = noise_map(128, 1.f, 0.1f, 1);
  add_disc(m, 40, 50, 4, 6.f);  // radius 3.1% of the width
  add_disc(m, 90, 80, 5, 3.f);
  const std::vector<Detection> d = detect_circles(m);
  REQUIRE(d.size() >= 2);
  CHECK(std::abs(d[0].x - 40) <= 1);
  CHECK(std::abs(d[0].y - 50) <= 1);
  CHECK(d[0].radius == Approx(4).margin(1.5));
  CHECK(std::abs(d[1].x - 90) <= 1);
  CHECK(std::abs(d[1].y - 80) <= 1);
  CHECK(d[1].radius == Approx(5).margin(1.5));
  // Score = contrast: about the disc's height above its surround.
  CHECK(d[0].score == Approx(6).margin(1.2));
  CHECK(d[1].score == Approx(3).margin(0.8));
  CHECK(std::isnan(d[0].confidence));  // uncalibrated
  for (size_t i = 2; i < d.size(); ++i) CHECK(d[i].score < 0.5);  // the rest is noise
  // The same map gives the same answer (deterministic).
  const std::vector<Detection> again = detect_circles(m);
  REQUIRE(again.size() == d.size());
  for (size_t i = 0; i < d.size(); ++i) CHECK(again[i].score == d[i].score);
}

TEST_CASE("detect: bands, edges and broad areas are not circles") {
  data::Image band = noise_map(128, 0.f, 0.05f, 2);
  for (int y = 0; y < 128; ++y)
    for (int x = 60; x < 68; ++x) band.at(x, y) += 8.f;  // a bright vertical band (a misregistered outline)
  for (const Detection& d : detect_circles(band)) CHECK(d.score < 1.0);

  data::Image plateau = noise_map(128, 0.f, 0.05f, 3);
  for (int y = 20; y < 110; ++y)
    for (int x = 20; x < 110; ++x) plateau.at(x, y) += 8.f;  // a broad improbable area
  for (const Detection& d : detect_circles(plateau)) CHECK(d.score < 1.0);

  // A disc on the band scores far less than the same disc alone (its surround is hot on one side).
  data::Image alone = noise_map(128, 0.f, 0.05f, 4), on_band = alone;
  add_disc(alone, 64, 64, 4, 8.f);
  for (int y = 0; y < 128; ++y)
    for (int x = 66; x < 74; ++x) on_band.at(x, y) += 8.f;  // touching the disc
  add_disc(on_band, 64, 64, 4, 8.f);
  const auto a = detect_circles(alone), b = detect_circles(on_band);
  REQUIRE(!a.empty());
  CHECK(a[0].score > 6.0);
  for (const Detection& d : b)
    if (std::hypot(d.x - 64, d.y - 64) < 3) CHECK(d.score < 0.6 * a[0].score);
}

TEST_CASE("detect: discs cut by the border, too small or too large are skipped") {
  data::Image m = noise_map(128, 0.f, 0.05f, 5);
  add_disc(m, 2, 60, 4, 8.f);     // centre inside the border margin
  m.at(64, 64) += 8.f;            // a one-pixel spike, far below min_radius (1.4% = 1.8 px)
  add_disc(m, 64, 20, 30, 8.f);   // far above max_radius (5% = 6.4 px)
  for (const Detection& d : detect_circles(m)) {
    CHECK(d.score < 2.0);
    CHECK(d.x >= d.radius);
  }
}

TEST_CASE("detect: options bound the output (NMS, count, contrast) and are checked") {
  data::Image m = noise_map(256, 0.f, 0.05f, 6);
  for (int k = 0; k < 12; ++k) add_disc(m, 30.f + 40.f * float(k % 6), 60.f + 100.f * float(k / 6), 6, 2.f + float(k));
  DetectOptions o;
  o.max_detections = 5;
  auto d = detect_circles(m, o);
  REQUIRE(d.size() == 5);
  for (size_t i = 1; i < d.size(); ++i) CHECK(d[i - 1].score >= d[i].score);
  o.max_detections = 100;
  o.min_contrast = 7.5f;
  d = detect_circles(m, o);
  for (const Detection& x : d) CHECK(x.score > 7.5);
  CHECK(d.size() == 6);  // heights 8..13
  for (size_t i = 0; i < d.size(); ++i)
    for (size_t j = i + 1; j < d.size(); ++j)
      CHECK(std::hypot(d[i].x - d[j].x, d[i].y - d[j].y) >= o.min_separation * std::max(d[i].radius, d[j].radius));

  DetectOptions bad;
  bad.min_radius = 0.2f;
  bad.max_radius = 0.1f;
  CHECK_THROWS_WITH(detect_circles(m, bad), Catch::Contains("radii"));
  bad = DetectOptions();
  bad.max_detections = 0;
  CHECK_THROWS_WITH(detect_circles(m, bad), Catch::Contains("max_detections"));
  data::Image nan_map = m;
  nan_map.pixels[7] = NAN;
  CHECK_THROWS_WITH(detect_circles(nan_map), Catch::Contains("non-finite"));
  CHECK_THROWS_WITH(detect_circles(data::Image()), Catch::Contains("empty"));
  CHECK(to_string(circle_source_from_string("hough")) == std::string("hough"));
  CHECK_THROWS_WITH(circle_source_from_string("blob"), Catch::Contains("spots or hough"));
}

TEST_CASE("detect: Hough candidates find sharp-edged discs and get the same contrast score") {
  data::Image m = noise_map(128, 0.f, 0.05f, 7);
  add_disc(m, 50, 60, 5, 8.f);
  DetectOptions o;
  o.source = CircleSource::Hough;
  const auto d = detect_circles(m, o);
  REQUIRE(!d.empty());
  CHECK(std::hypot(d[0].x - 50, d[0].y - 60) <= 1.5);
  CHECK(d[0].radius == Approx(5).margin(1));
  CHECK(d[0].score == Approx(8).margin(1));
}

TEST_CASE("detect: scale_detection maps pixel centres onto pixel centres") {
  Detection d;
  d.x = 0, d.y = 63, d.radius = 2, d.score = 1;
  const Detection s = scale_detection(d, 64, 64, 256, 256);
  CHECK(s.x == Approx(1.5));    // pixel 0 of 64 covers 0..3 of 256: centre 1.5
  CHECK(s.y == Approx(253.5));
  CHECK(s.radius == Approx(8));
  CHECK(s.score == 1);
  CHECK_THROWS(scale_detection(d, 0, 64, 256, 256));
}
