#pragma once
// Small line plots as PNG (FROC curves, training curves, reliability diagrams): axes with ticks
// and grid, a linear or log2 x axis, one or more series, a legend, a title and axis labels in a
// built-in 5x7 pixel font (letters are drawn upper-case; no font files needed). Deterministic:
// the same data give the same bytes.
//
//   data::PlotSeries s{"WPM", fp_rates, sensitivities};
//   data::write_line_plot_png("froc.png", {s}, {.title = "FROC (SYNTHETIC phantoms)",
//                                               .x_label = "FP per image", .y_label = "sensitivity",
//                                               .log2_x = true, .y_min = 0, .y_max = 1});
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace liteai::data {

struct PlotSeries {
  std::string label;          // legend text ("" = not in the legend)
  std::vector<double> x, y;   // equal lengths; non-finite points break the line
  uint32_t rgb = 0;           // 0xRRGGBB; 0 = the next colour of a fixed palette
  bool markers = false;       // a small square at each point
};

struct PlotOptions {
  int width = 640, height = 420;
  std::string title, x_label, y_label;
  bool log2_x = false;  // log2 x axis (ticks at powers of 2); x <= 0 is not drawn
  // Axis ranges; NaN = from the data (a little padded on linear axes).
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;
  bool legend_bottom = false;  // the legend in the bottom-right corner instead of the top-right
};

// RGB pixels, width x height x 3, row-major.
std::vector<uint8_t> render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options = {});
void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series,
                         const PlotOptions& options = {});

}  // namespace liteai::data
