#include "liteai/data/plot.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

namespace liteai::data {

namespace {

// 5x7 glyphs, one byte per row, bit 4 = leftmost column.
struct Glyph {
  char c;
  uint8_t rows[7];
};
constexpr Glyph kFont[] = {
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},                {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
    {'-', {0, 0, 0, 0x1F, 0, 0, 0}},                   {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'[', {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}}, {']', {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}},
    {'/', {0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10}}, {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {';', {0, 0x0C, 0x0C, 0, 0x0C, 0x04, 0x08}},       {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},                {'_', {0, 0, 0, 0, 0, 0, 0x1F}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}}, {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}}, {'*', {0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04}},    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04}},
    {'\'', {0x04, 0x04, 0x08, 0, 0, 0, 0}},            {'"', {0x0A, 0x0A, 0x0A, 0, 0, 0, 0}},
    {'&', {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D}}, {'^', {0x04, 0x0A, 0x11, 0, 0, 0, 0}},
};
constexpr int kGlyphW = 6, kGlyphH = 8;  // advance and line height, in font pixels

const uint8_t* glyph(char c) {
  const char u = char(std::toupper(static_cast<unsigned char>(c)));
  for (const Glyph& g : kFont)
    if (g.c == u) return g.rows;
  for (const Glyph& g : kFont)
    if (g.c == '?') return g.rows;
  return kFont[0].rows;
}

struct Canvas {
  int w, h;
  std::vector<uint8_t> px;
  int clip_x0 = 0, clip_y0 = 0, clip_x1, clip_y1;  // drawing stays inside (inclusive)
  Canvas(int w_, int h_) : w(w_), h(h_), px(size_t(w_) * size_t(h_) * 3, 255), clip_x1(w_ - 1), clip_y1(h_ - 1) {}
  void set(int x, int y, uint32_t rgb) {
    if (x < clip_x0 || y < clip_y0 || x > clip_x1 || y > clip_y1) return;
    uint8_t* p = &px[(size_t(y) * size_t(w) + size_t(x)) * 3];
    p[0] = uint8_t(rgb >> 16), p[1] = uint8_t(rgb >> 8), p[2] = uint8_t(rgb);
  }
  void rect(int x0, int y0, int x1, int y1, uint32_t rgb) {  // inclusive
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, rgb);
  }
  // A line of thickness t (squares of side t along it).
  void line(double x0, double y0, double x1, double y1, uint32_t rgb, int t) {
    // Liang-Barsky: keep the part inside the clip rectangle (so far-off points cost nothing).
    double a = 0, b = 1;
    const double dx = x1 - x0, dy = y1 - y0;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {x0 - (clip_x0 - t), (clip_x1 + t) - x0, y0 - (clip_y0 - t), (clip_y1 + t) - y0};
    for (int k = 0; k < 4; ++k) {
      if (p[k] == 0) {
        if (q[k] < 0) return;
        continue;
      }
      const double r = q[k] / p[k];
      if (p[k] < 0) a = std::max(a, r);
      else b = std::min(b, r);
    }
    if (a > b) return;
    x1 = x0 + b * dx, y1 = y0 + b * dy, x0 = x0 + a * dx, y0 = y0 + a * dy;
    const double steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1.0});
    for (int i = 0; i <= int(steps); ++i) {
      const double f = double(i) / steps;
      const int x = int(std::lround(x0 + f * (x1 - x0))), y = int(std::lround(y0 + f * (y1 - y0)));
      rect(x - t / 2, y - t / 2, x - t / 2 + t - 1, y - t / 2 + t - 1, rgb);
    }
  }
  // Text at (x, y) = top-left, `scale` screen pixels per font pixel; vertical = rotated 90 degrees
  // counter-clockwise (reads bottom to top, (x, y) = bottom-left).
  void text(int x, int y, const std::string& s, uint32_t rgb, int scale = 1, bool vertical = false) {
    for (size_t k = 0; k < s.size(); ++k) {
      const uint8_t* rows = glyph(s[k]);
      for (int r = 0; r < 7; ++r)
        for (int c = 0; c < 5; ++c) {
          if (!(rows[r] & (0x10 >> c))) continue;
          const int gx = int(k) * kGlyphW + c, gy = r;
          const int sx = vertical ? x + gy * scale : x + gx * scale;
          const int sy = vertical ? y - gx * scale : y + gy * scale;
          rect(sx, sy - (vertical ? scale - 1 : 0), sx + scale - 1, sy + (vertical ? 0 : scale - 1), rgb);
        }
    }
  }
  static int text_width(const std::string& s, int scale = 1) { return int(s.size()) * kGlyphW * scale - scale; }
};

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// About five round ticks (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> linear_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

constexpr uint32_t kPalette[] = {0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B};

}  // namespace

std::vector<uint8_t> render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& o) {
  LAI_CHECK(o.width >= 120 && o.height >= 90 && o.width <= 8192 && o.height <= 8192,
            "plot: size must be within 120x90..8192x8192, got ", o.width, "x", o.height);
  for (size_t s = 0; s < series.size(); ++s)
    LAI_CHECK(series[s].x.size() == series[s].y.size(), "plot: series ", s, " has ", series[s].x.size(), " x but ",
              series[s].y.size(), " y values");
  auto tx = [&](double x) { return o.log2_x ? (x > 0 ? std::log2(x) : NAN) : x; };
  // Ranges from the data where not given.
  double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
  for (const PlotSeries& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(tx(s.x[i])) && std::isfinite(s.y[i])) {
        xl = std::min(xl, tx(s.x[i])), xh = std::max(xh, tx(s.x[i]));
        yl = std::min(yl, s.y[i]), yh = std::max(yh, s.y[i]);
      }
  if (!std::isfinite(xl)) xl = 0, xh = 1, yl = 0, yh = 1;
  auto pad = [](double& lo, double& hi) {
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    const double m = 0.04 * (hi - lo);
    lo -= m, hi += m;
  };
  pad(xl, xh);
  pad(yl, yh);
  if (std::isfinite(o.x_min)) xl = tx(o.x_min);
  if (std::isfinite(o.x_max)) xh = tx(o.x_max);
  if (std::isfinite(o.y_min)) yl = o.y_min;
  if (std::isfinite(o.y_max)) yh = o.y_max;
  LAI_CHECK(std::isfinite(xl) && std::isfinite(xh) && xh > xl && yh > yl, "plot: empty axis range");

  Canvas cv(o.width, o.height);
  const uint32_t ink = 0x202020, grid = 0xE4E4E4;
  const int left = 58 + (o.y_label.empty() ? 0 : 12), right = o.width - 16;
  const int top = o.title.empty() ? 14 : 34, bottom = o.height - 30 - (o.x_label.empty() ? 0 : 14);
  auto px = [&](double x) { return left + (x - xl) / (xh - xl) * (right - left); };
  auto py = [&](double y) { return bottom - (y - yl) / (yh - yl) * (bottom - top); };

  // Grid, ticks and their labels.
  std::vector<double> xt;
  if (o.log2_x) {
    for (double e = std::ceil(xl - 1e-9); e <= xh + 1e-9; e += 1) xt.push_back(e);
  } else {
    xt = linear_ticks(xl, xh);
  }
  for (double t : xt) {
    const int x = int(std::lround(px(t)));
    cv.line(x, top, x, bottom, grid, 1);
    const std::string s = tick_label(o.log2_x ? std::exp2(t) : t);
    cv.text(x - Canvas::text_width(s) / 2, bottom + 6, s, ink);
  }
  for (double t : linear_ticks(yl, yh)) {
    const int y = int(std::lround(py(t)));
    cv.line(left, y, right, y, grid, 1);
    const std::string s = tick_label(t);
    cv.text(left - 6 - Canvas::text_width(s), y - 3, s, ink);
  }
  cv.line(left, top, left, bottom, ink, 1);
  cv.line(left, bottom, right, bottom, ink, 1);
  if (!o.title.empty()) cv.text((o.width - Canvas::text_width(o.title, 2)) / 2, 8, o.title, ink, 2);
  if (!o.x_label.empty())
    cv.text((left + right - Canvas::text_width(o.x_label)) / 2, o.height - 14, o.x_label, ink);
  if (!o.y_label.empty())
    cv.text(6, (top + bottom + Canvas::text_width(o.y_label)) / 2, o.y_label, ink, 1, true);

  // Series, clipped to the plot area; the legend in its top-right corner.
  size_t auto_colour = 0;
  int labelled = 0;
  for (const PlotSeries& s : series) labelled += s.label.empty() ? 0 : 1;
  int legend_y = o.legend_bottom ? bottom - 6 - 12 * labelled : top + 6;
  for (const PlotSeries& s : series) {
    const uint32_t rgb = s.rgb ? s.rgb : kPalette[auto_colour++ % std::size(kPalette)];
    cv.clip_x0 = left, cv.clip_y0 = top, cv.clip_x1 = right, cv.clip_y1 = bottom;
    bool have = false;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double x = tx(s.x[i]), y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y)) {
        have = false;
        continue;
      }
      const double X = std::clamp(px(x), -1e6, 1e6), Y = std::clamp(py(y), -1e6, 1e6);
      if (have) cv.line(lx, ly, X, Y, rgb, 2);
      if (s.markers) cv.rect(int(std::lround(X)) - 2, int(std::lround(Y)) - 2, int(std::lround(X)) + 2,
                             int(std::lround(Y)) + 2, rgb);
      lx = X, ly = Y, have = true;
    }
    cv.clip_x0 = 0, cv.clip_y0 = 0, cv.clip_x1 = o.width - 1, cv.clip_y1 = o.height - 1;
    if (!s.label.empty()) {
      const int tw = Canvas::text_width(s.label);
      cv.rect(right - 8 - tw - 16, legend_y + 2, right - 8 - tw - 4, legend_y + 4, rgb);
      cv.text(right - 8 - tw, legend_y, s.label, ink);
      legend_y += 12;
    }
  }
  return cv.px;
}

void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& o) {
  const std::vector<uint8_t> px = render_line_plot(series, o);
  write_png(path, px.data(), o.width, o.height, 3);
}

}  // namespace liteai::data
