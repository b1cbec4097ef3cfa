#pragma once
// Small charts the library draws itself (no plotting dependency): line, point and bar series on
// linear or logarithmic axes, as a self-contained SVG (axes, ticks, labels, legend; what the HTML
// report embeds) or as a PNG (the same picture without text, for files people open directly).
// Used for reliability diagrams, ROC and FROC curves, loss curves.
#include <cstdint>
#include <string>
#include <vector>

namespace liteai::data {

struct Series {
  enum class Style : uint8_t { line, points, bars, dashed };
  std::string name;  // legend text ("" = not in the legend)
  std::vector<double> x, y;
  Style style = Style::line;
  uint32_t color = 0x1f77b4;  // 0xRRGGBB
  double bar_width = 0;       // bars: in x units (0: the gap between the first two x)
};

struct Chart {
  std::string title, x_label, y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_x = false;  // x_min must then be > 0
  std::vector<Series> series;

  std::string svg(int width = 480, int height = 360) const;
  void write_svg(const std::string& path, int width = 480, int height = 360) const;  // atomic
  void write_png(const std::string& path, int width = 480, int height = 360) const;  // atomic
};

}  // namespace liteai::data
