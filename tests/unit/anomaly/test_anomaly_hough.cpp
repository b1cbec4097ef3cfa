// Hough circles: known discs (anti-aliased) on a smooth noisy background are found within 1-2 px,
// with no extra circles; dark discs with Polarity::Dark; the edge map is thin and on the rim.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "liteai/anomaly/hough.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/random.hpp"

using namespace liteai;
using namespace liteai::anomaly;
using data::Image;

namespace {

struct Disc { float x, y, r, value; };

Image scene(int w, int h, const std::vector<Disc>& discs, float noise, uint64_t seed) {
  Generator g(seed);
  Image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float v = 80.f + 40.f * float(x) / float(w) + 20.f * std::cos(float(y) * 0.02f);
      for (const Disc& d : discs) {
        // 4x4 supersampled coverage: anti-aliased rims.
        int in = 0;
        for (int sy = 0; sy < 4; ++sy)
          for (int sx = 0; sx < 4; ++sx)
            in += std::hypot(x + (sx + 0.5f) / 4 - 0.5f - d.x, y + (sy + 0.5f) / 4 - 0.5f - d.y) <= d.r;
        v += (d.value - v) * float(in) / 16.f;
      }
      im.at(x, y) = v + g.normal(0.f, noise);
    }
  return im;
}

void match(const std::vector<Circle>& found, const std::vector<Disc>& truth, float tol) {
  REQUIRE(found.size() == truth.size());
  for (const Disc& d : truth) {
    const Circle* best = nullptr;
    for (const Circle& c : found)
      if (!best || std::hypot(c.x - d.x, c.y - d.y) < std::hypot(best->x - d.x, best->y - d.y)) best = &c;
    INFO("disc at " << d.x << "," << d.y << " r " << d.r << " -> " << best->x << "," << best->y << " r " << best->radius
                    << " votes " << best->votes << " support " << best->support);
    CHECK(std::hypot(best->x - d.x, best->y - d.y) < tol);
    CHECK(std::abs(best->radius - d.r) < tol);
    CHECK(best->support > 0.5f);
  }
}

}  // namespace

TEST_CASE("hough finds bright discs of several radii within 1-2 px", "[anomaly][hough]") {
  const std::vector<Disc> truth = {{40.3f, 50.7f, 8.f, 220.f}, {130.f, 60.f, 14.5f, 230.f},
                                   {80.6f, 140.2f, 20.f, 210.f}, {170.f, 160.f, 5.5f, 240.f}};
  const Image im = scene(200, 200, truth, 3.f, 1);
  HoughOptions o;
  o.min_radius = 4;
  o.max_radius = 24;
  o.min_dist = 10;
  const auto found = hough_circles(im, o);
  match(found, truth, 1.5f);
}

TEST_CASE("hough polarity: dark discs need Dark or Both", "[anomaly][hough]") {
  const std::vector<Disc> truth = {{60.f, 60.f, 12.f, 10.f}, {130.f, 90.f, 9.f, 15.f}};
  const Image im = scene(180, 160, truth, 2.f, 2);
  HoughOptions o;
  o.min_radius = 5;
  o.max_radius = 18;
  o.polarity = Polarity::Dark;
  match(hough_circles(im, o), truth, 1.5f);
  o.polarity = Polarity::Both;
  match(hough_circles(im, o), truth, 1.5f);
  o.polarity = Polarity::Bright;
  CHECK(hough_circles(im, o).empty());
}

TEST_CASE("hough on a smooth image without discs finds nothing", "[anomaly][hough]") {
  const Image im = scene(128, 128, {}, 2.f, 3);
  HoughOptions o;
  o.min_radius = 4;
  o.max_radius = 20;
  CHECK(hough_circles(im, o).empty());
}

TEST_CASE("hough respects the radius range and minimum distance", "[anomaly][hough]") {
  const std::vector<Disc> truth = {{50.f, 50.f, 6.f, 220.f}, {120.f, 50.f, 16.f, 220.f}};
  const Image im = scene(170, 100, truth, 1.f, 4);
  HoughOptions o;
  o.min_radius = 10;
  o.max_radius = 20;
  const auto found = hough_circles(im, o);
  REQUIRE(found.size() == 1);
  CHECK(std::abs(found[0].x - 120.f) < 1.5f);
  o.max_circles = 1;
  o.min_radius = 4;
  CHECK(hough_circles(im, o).size() == 1);
  o.min_radius = 0.f;
  CHECK_THROWS_WITH(hough_circles(im, o), Catch::Contains("radius range"));
}

TEST_CASE("canny edges are thin and lie on the rim", "[anomaly][hough]") {
  const Image im = scene(80, 80, {{40.f, 40.f, 15.f, 230.f}}, 0.5f, 5);
  const EdgeMap e = canny_edges(im, 1.f, 0.1f, 0.25f);
  int on_rim = 0, total = 0;
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 80; ++x)
      if (e.edge[size_t(y) * 80 + size_t(x)]) {
        ++total;
        on_rim += std::abs(std::hypot(x - 40.f, y - 40.f) - 15.f) < 1.5f;
      }
  CHECK(total > int(2 * M_PI * 15 * 0.8));   // closed contour
  CHECK(total < int(2 * M_PI * 15 * 1.6));   // one pixel thick (8-connected)
  CHECK(on_rim == total);
}
