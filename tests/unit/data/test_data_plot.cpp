// PNG line plots (data/plot.hpp): deterministic pixels, series drawn where their data are, axes
// and text in the margins, log2 axes, clipping of far-off points, errors for bad input.
#include <catch2/catch.hpp>

#include <cmath>

#include "data_fixtures.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/plot.hpp"

using namespace liteai;
using namespace liteai::data;

namespace {
bool has_colour(const std::vector<uint8_t>& px, int w, int x0, int y0, int x1, int y1, uint32_t rgb) {
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const uint8_t* p = &px[(size_t(y) * size_t(w) + size_t(x)) * 3];
      if (p[0] == uint8_t(rgb >> 16) && p[1] == uint8_t(rgb >> 8) && p[2] == uint8_t(rgb)) return true;
    }
  return false;
}
size_t count_not_white(const std::vector<uint8_t>& px, int w, int x0, int y0, int x1, int y1) {
  size_t n = 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const uint8_t* p = &px[(size_t(y) * size_t(w) + size_t(x)) * 3];
      n += !(p[0] == 255 && p[1] == 255 && p[2] == 255);
    }
  return n;
}
}  // namespace

TEST_CASE("plot: series are drawn in their colour, text and axes in the margins, the same every time") {
  PlotSeries a{"rising", {0, 1, 2, 3}, {0, 1, 2, 3}, 0xFF0000, false};
  PlotSeries b{"", {0, 3}, {3, 0}, 0x0000FF, true};
  PlotOptions o;
  o.title = "Test plot (synthetic)";
  o.x_label = "x";
  o.y_label = "y";
  const std::vector<uint8_t> px = render_line_plot({a, b}, o);
  REQUIRE(px.size() == size_t(o.width) * size_t(o.height) * 3);
  CHECK(px == render_line_plot({a, b}, o));
  // The rising line runs from the bottom-left to the top-right of the plot area.
  CHECK(has_colour(px, o.width, 70, o.height - 70, 120, o.height - 40, 0xFF0000));
  CHECK(has_colour(px, o.width, o.width - 80, 30, o.width - 17, 80, 0xFF0000));
  CHECK_FALSE(has_colour(px, o.width, 70, 30, 120, 80, 0xFF0000));
  CHECK(has_colour(px, o.width, 70, 30, 120, 80, 0x0000FF));  // the falling one starts top-left
  CHECK(count_not_white(px, o.width, 0, 0, o.width - 1, 24) > 50);  // the title
  CHECK(count_not_white(px, o.width, 0, 40, 14, o.height - 60) > 10);  // the vertical y label

  const std::string dir = test::temp_dir("plot");
  write_line_plot_png(dir + "/p.png", {a, b}, o);
  const ImageInfo info = probe_image(dir + "/p.png");
  CHECK(info.width == o.width);
  CHECK(info.height == o.height);
  CHECK(info.channels == 3);
}

TEST_CASE("plot: log2 axes, NaN gaps, fixed ranges and far-off points") {
  PlotOptions o;
  o.log2_x = true;
  o.x_min = 0.125, o.x_max = 8, o.y_min = 0, o.y_max = 1;
  PlotSeries s{"s", {0.125, 0.25, NAN, 4, 8, 0, -1}, {0.5, 0.5, NAN, 0.9, 0.9, 1, 1}, 0, false};
  const std::vector<uint8_t> px = render_line_plot({s}, o);  // x <= 0 is skipped on a log axis
  CHECK(has_colour(px, o.width, 60, 30, o.width - 1, o.height - 30, 0x1F77B4));  // the first palette colour
  // Points far outside the range are clipped, not drawn into the margins (and cost nothing).
  PlotSeries far{"", {0, 1e300}, {0, 1e300}, 0x00AA00, false};
  PlotOptions lin;
  lin.x_min = 0, lin.x_max = 1, lin.y_min = 0, lin.y_max = 1;
  const std::vector<uint8_t> q = render_line_plot({far}, lin);
  CHECK(has_colour(q, lin.width, 60, 14, lin.width - 16, lin.height - 31, 0x00AA00));
  CHECK_FALSE(has_colour(q, lin.width, lin.width - 10, 0, lin.width - 1, 10, 0x00AA00));
  // An empty plot still renders its axes.
  CHECK(render_line_plot({}, PlotOptions()).size() == 640u * 420u * 3u);
}

TEST_CASE("plot: bad sizes and series are refused") {
  PlotOptions o;
  o.width = 10;
  CHECK_THROWS_WITH(render_line_plot({}, o), Catch::Contains("size"));
  PlotSeries bad{"", {1, 2}, {1}, 0, false};
  CHECK_THROWS_WITH(render_line_plot({bad}, PlotOptions()), Catch::Contains("series 0"));
  PlotOptions inverted;
  inverted.y_min = 1, inverted.y_max = 0;
  CHECK_THROWS_WITH(render_line_plot({}, inverted), Catch::Contains("range"));
}
