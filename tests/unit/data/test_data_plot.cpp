// Charts (data/plot.hpp): the PNG is deterministic, draws each series where its data are and the
// text in the margins (built-in font), clips far-off points; the SVG carries the same text.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "data_fixtures.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/plot.hpp"

using namespace liteai;
using namespace liteai::data;

namespace {
size_t dark_pixels(const Image& g, int x0, int y0, int x1, int y1) {
  size_t n = 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) n += g.at(x, y) < 128;
  return n;
}
Chart sample_chart() {
  Chart c;
  c.title = "Test chart (synthetic)";
  c.x_label = "x value";
  c.y_label = "y value";
  c.x_min = 0, c.x_max = 3, c.y_min = 0, c.y_max = 3;
  Series up;
  up.name = "rising";
  up.x = {0, 1, 2, 3};
  up.y = {0, 1, 2, 3};
  up.color = 0x000000;
  c.series = {up};
  return c;
}
}  // namespace

TEST_CASE("chart: the PNG draws the series and the text, the same bytes every time") {
  const std::filesystem::path dir = test::temp_dir("chart");
  const Chart c = sample_chart();
  c.write_png((dir / "a.png").string(), 480, 360);
  c.write_png((dir / "b.png").string(), 480, 360);
  CHECK(test::read_bytes((dir / "a.png").string()) == test::read_bytes((dir / "b.png").string()));
  const ImageInfo info = probe_image((dir / "a.png").string());
  CHECK(info.width == 480);
  CHECK(info.height == 360);
  const Image g = decode_image((dir / "a.png").string());  // as gray
  // The black rising line: bottom-left and top-right of the plot area, not top-left.
  CHECK(dark_pixels(g, 56, 280, 110, 316) > 10);
  CHECK(dark_pixels(g, 400, 28, 463, 90) > 10);
  CHECK(dark_pixels(g, 100, 120, 200, 200) == 0);
  // Text: the title above the plot, tick labels below it and left of it, the vertical y label.
  CHECK(dark_pixels(g, 0, 0, 479, 24) > 40);
  CHECK(dark_pixels(g, 40, 320, 479, 335) > 20);
  CHECK(dark_pixels(g, 20, 28, 50, 316) > 20);
  CHECK(dark_pixels(g, 0, 100, 14, 260) > 5);
}

TEST_CASE("chart: far-off points are clipped; the SVG has the text; bad charts are refused") {
  const std::filesystem::path dir = test::temp_dir("chart2");
  Chart c = sample_chart();
  c.series[0].x = {0, 1e300};
  c.series[0].y = {0, 1e300};
  c.write_png((dir / "far.png").string(), 200, 150);  // returns promptly
  CHECK(probe_image((dir / "far.png").string()).width == 200);
  const std::string svg = sample_chart().svg();
  CHECK(svg.find("Test chart (synthetic)") != std::string::npos);
  CHECK(svg.find("rising") != std::string::npos);
  Chart bad = sample_chart();
  bad.y_max = bad.y_min;
  CHECK_THROWS_WITH(bad.write_png((dir / "bad.png").string()), Catch::Contains("axis range"));
  bad = sample_chart();
  bad.series[0].y.pop_back();
  CHECK_THROWS_WITH(bad.svg(), Catch::Contains("series 'rising'"));
  CHECK_THROWS_WITH(sample_chart().write_png((dir / "tiny.png").string(), 10, 10), Catch::Contains("size"));
}
