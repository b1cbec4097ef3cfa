#include "liteai/data/plot.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/io/file.hpp"

namespace liteai::data {
namespace {

// Plot area margins (pixels): room for tick labels and axis titles in the SVG.
constexpr int kLeft = 56, kRight = 16, kTop = 28, kBottom = 44;

struct Frame {
  const Chart& c;
  int w, h;
  double px(double x) const {
    const double t = c.log_x ? (std::log10(x) - std::log10(c.x_min)) / (std::log10(c.x_max) - std::log10(c.x_min))
                             : (x - c.x_min) / (c.x_max - c.x_min);
    return kLeft + t * (w - kLeft - kRight);
  }
  double py(double y) const { return h - kBottom - (y - c.y_min) / (c.y_max - c.y_min) * (h - kTop - kBottom); }
};

void check(const Chart& c, int w, int h) {
  LAI_CHECK(w >= 120 && h >= 90 && w <= 8192 && h <= 8192, "chart: size ", w, "x", h, " is outside 120x90..8192x8192");
  LAI_CHECK(c.x_max > c.x_min && c.y_max > c.y_min, "chart '", c.title, "': empty axis range");
  LAI_CHECK(!c.log_x || c.x_min > 0, "chart '", c.title, "': a log axis needs x_min > 0");
  for (const Series& s : c.series)
    LAI_CHECK(s.x.size() == s.y.size(), "chart '", c.title, "': series '", s.name, "' has ", s.x.size(), " x and ",
              s.y.size(), " y values");
}

std::string esc(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '<') o += "&lt;";
    else if (ch == '>') o += "&gt;";
    else if (ch == '&') o += "&amp;";
    else if (ch == '"') o += "&quot;";
    else o += ch;
  }
  return o;
}

std::string hex_color(uint32_t c) {
  char b[8];
  std::snprintf(b, sizeof b, "#%06x", c & 0xffffff);
  return b;
}

std::string num(double v) {
  char b[32];
  if (std::fabs(v) >= 1000 || (std::fabs(v) < 0.01 && v != 0)) std::snprintf(b, sizeof b, "%.3g", v);
  else std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// Tick positions: 5-6 round values on a linear axis, the powers of 2 or 10 on a log axis.
std::vector<double> ticks(double lo, double hi, bool log) {
  std::vector<double> t;
  if (log) {
    const double ratio = hi / lo;
    const double base = ratio <= 1024 ? 2 : 10;
    for (double v = std::pow(base, std::ceil(std::log(lo) / std::log(base) - 1e-9)); v <= hi * (1 + 1e-9); v *= base)
      t.push_back(v);
    return t;
  }
  const double span = hi - lo, raw = span / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * span; v += step) t.push_back(std::fabs(v) < 1e-12 * span ? 0 : v);
  return t;
}

double bar_width_of(const Series& s) {
  if (s.bar_width > 0) return s.bar_width;
  return s.x.size() >= 2 ? std::fabs(s.x[1] - s.x[0]) * 0.8 : 0.05;
}

// ---- raster drawing for the PNG ----
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
constexpr int kGlyphW = 6;  // advance, in font pixels

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
  Canvas(int w_, int h_) : w(w_), h(h_), px(size_t(w_) * size_t(h_) * 3, 255) {}
  void dot(int x, int y, uint32_t c, double alpha = 1) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &px[(size_t(y) * size_t(w) + size_t(x)) * 3];
    const uint8_t rgb[3] = {uint8_t(c >> 16), uint8_t(c >> 8), uint8_t(c)};
    for (int k = 0; k < 3; ++k) p[k] = uint8_t(std::lround(p[k] * (1 - alpha) + rgb[k] * alpha));
  }
  void line(double x0, double y0, double x1, double y1, uint32_t c, double width = 1.5, bool dashed = false) {
    // Liang-Barsky: only the part over the canvas is drawn (a point far off costs nothing).
    const double m = width + 1, dx = x1 - x0, dy = y1 - y0;
    const double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 + m, w - 1 + m - x0, y0 + m, h - 1 + m - y0};
    double a = 0, b = 1;
    for (int k = 0; k < 4; ++k) {
      if (p[k] == 0) {
        if (q[k] < 0) return;
      } else if (p[k] < 0) {
        a = std::max(a, q[k] / p[k]);
      } else {
        b = std::min(b, q[k] / p[k]);
      }
    }
    if (!(a <= b)) return;  // also NaN
    x1 = x0 + b * dx, y1 = y0 + b * dy, x0 += a * dx, y0 += a * dy;
    const double len = std::hypot(x1 - x0, y1 - y0);
    const int steps = std::max(1, int(len * 2));
    for (int i = 0; i <= steps; ++i) {
      const double t = double(i) / steps;
      if (dashed && int(t * len / 5) % 2) continue;
      const double x = x0 + t * (x1 - x0), y = y0 + t * (y1 - y0);
      const int r = int(std::ceil(width / 2));
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx)
          if (dx * dx + dy * dy <= (width / 2 + 0.5) * (width / 2 + 0.5)) dot(int(std::lround(x)) + dx, int(std::lround(y)) + dy, c);
    }
  }
  void rect(double x0, double y0, double x1, double y1, uint32_t c, double alpha) {
    const int ya = std::max(0, int(std::min(y0, y1))), yb = std::min(h - 1, int(std::max(y0, y1)));
    const int xa = std::max(0, int(std::min(x0, x1))), xb = std::min(w - 1, int(std::max(x0, x1)));
    for (int y = ya; y <= yb; ++y)
      for (int x = xa; x <= xb; ++x) dot(x, y, c, alpha);
  }
  // Text in the 5x7 font, `scale` pixels per font pixel; anchor 0 = left, 1 = centre, 2 = right
  // of x; y is the top. Vertical text reads bottom to top, centred on (x, y).
  static int text_width(const std::string& s, int scale = 1) { return int(s.size()) * kGlyphW * scale - scale; }
  void text(double x, double y, const std::string& s, uint32_t c, int anchor = 0, int scale = 1, bool vertical = false) {
    const int tw = text_width(s, scale);
    const int x0 = int(std::lround(x)) - (vertical ? 0 : anchor * tw / 2), y0 = int(std::lround(y)) + (vertical ? tw / 2 : 0);
    for (size_t k = 0; k < s.size(); ++k) {
      const uint8_t* rows = glyph(s[k]);
      for (int r = 0; r < 7; ++r)
        for (int col = 0; col < 5; ++col) {
          if (!(rows[r] & (0x10 >> col))) continue;
          const int gx = (int(k) * kGlyphW + col) * scale, gy = r * scale;
          for (int i = 0; i < scale; ++i)
            for (int j = 0; j < scale; ++j)
              vertical ? dot(x0 + gy + j, y0 - gx - i, c) : dot(x0 + gx + i, y0 + gy + j, c);
        }
    }
  }
};

}  // namespace

std::string Chart::svg(int w, int h) const {
  check(*this, w, h);
  const Frame f{*this, w, h};
  std::string s;
  char b[512];
  std::snprintf(b, sizeof b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                w, h, w, h);
  s += b;
  if (!title.empty())
    s += "<text x=\"" + num(w / 2.0) + "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" + esc(title) + "</text>\n";
  // grid and ticks
  for (double t : ticks(x_min, x_max, log_x)) {
    std::snprintf(b, sizeof b,
                  "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/><text x=\"%.1f\" y=\"%d\" "
                  "text-anchor=\"middle\">%s</text>\n",
                  f.px(t), kTop, f.px(t), h - kBottom, f.px(t), h - kBottom + 14, num(t).c_str());
    s += b;
  }
  for (double t : ticks(y_min, y_max, false)) {
    std::snprintf(b, sizeof b,
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/><text x=\"%d\" y=\"%.1f\" "
                  "text-anchor=\"end\">%s</text>\n",
                  kLeft, f.py(t), w - kRight, f.py(t), kLeft - 4, f.py(t) + 4, num(t).c_str());
    s += b;
  }
  std::snprintf(b, sizeof b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", kLeft,
                kTop, w - kLeft - kRight, h - kTop - kBottom);
  s += b;
  if (!x_label.empty())
    s += "<text x=\"" + num((kLeft + w - kRight) / 2.0) + "\" y=\"" + std::to_string(h - 8) +
         "\" text-anchor=\"middle\">" + esc(x_label) + "</text>\n";
  if (!y_label.empty())
    s += "<text transform=\"translate(14 " + num((kTop + h - kBottom) / 2.0) +
         ") rotate(-90)\" text-anchor=\"middle\">" + esc(y_label) + "</text>\n";
  for (const Series& sr : series) {
    const std::string col = hex_color(sr.color);
    if (sr.style == Series::Style::bars) {
      const double bw = bar_width_of(sr);
      for (size_t i = 0; i < sr.x.size(); ++i) {
        const double x0 = f.px(sr.x[i] - bw / 2), x1 = f.px(sr.x[i] + bw / 2), y0 = f.py(std::max(y_min, 0.0)),
                     y1 = f.py(sr.y[i]);
        std::snprintf(b, sizeof b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" opacity=\"0.6\"/>\n",
                      x0, std::min(y0, y1), std::fabs(x1 - x0), std::fabs(y1 - y0), col.c_str());
        s += b;
      }
    } else if (sr.style == Series::Style::points) {
      for (size_t i = 0; i < sr.x.size(); ++i) {
        std::snprintf(b, sizeof b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", f.px(sr.x[i]), f.py(sr.y[i]),
                      col.c_str());
        s += b;
      }
    } else if (!sr.x.empty()) {
      s += "<polyline fill=\"none\" stroke=\"" + col + "\" stroke-width=\"1.8\"" +
           (sr.style == Series::Style::dashed ? " stroke-dasharray=\"5 4\"" : "") + " points=\"";
      for (size_t i = 0; i < sr.x.size(); ++i) {
        std::snprintf(b, sizeof b, "%.1f,%.1f ", f.px(sr.x[i]), f.py(sr.y[i]));
        s += b;
      }
      s += "\"/>\n";
    }
  }
  int ly = kTop + 12;  // legend, top left inside the plot
  for (const Series& sr : series) {
    if (sr.name.empty()) continue;
    std::snprintf(b, sizeof b,
                  "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
                  kLeft + 8, ly - 9, hex_color(sr.color).c_str(), kLeft + 22, ly, esc(sr.name).c_str());
    s += b;
    ly += 15;
  }
  return s + "</svg>\n";
}

void Chart::write_svg(const std::string& path, int w, int h) const {
  const std::string s = svg(w, h);
  io::atomic_write_file(path, s.data(), s.size());
}

void Chart::write_png(const std::string& path, int w, int h) const {
  check(*this, w, h);
  const Frame f{*this, w, h};
  Canvas cv(w, h);
  for (double t : ticks(x_min, x_max, log_x)) cv.line(f.px(t), kTop, f.px(t), h - kBottom, 0xe0e0e0, 1);
  for (double t : ticks(y_min, y_max, false)) cv.line(kLeft, f.py(t), w - kRight, f.py(t), 0xe0e0e0, 1);
  for (const Series& sr : series) {
    if (sr.style == Series::Style::bars) {
      const double bw = bar_width_of(sr);
      for (size_t i = 0; i < sr.x.size(); ++i)
        cv.rect(f.px(sr.x[i] - bw / 2), f.py(std::max(y_min, 0.0)), f.px(sr.x[i] + bw / 2), f.py(sr.y[i]), sr.color, 0.6);
    } else if (sr.style == Series::Style::points) {
      for (size_t i = 0; i < sr.x.size(); ++i) cv.line(f.px(sr.x[i]), f.py(sr.y[i]), f.px(sr.x[i]), f.py(sr.y[i]), sr.color, 6);
    } else {
      for (size_t i = 1; i < sr.x.size(); ++i)
        cv.line(f.px(sr.x[i - 1]), f.py(sr.y[i - 1]), f.px(sr.x[i]), f.py(sr.y[i]), sr.color, 2,
                sr.style == Series::Style::dashed);
    }
  }
  const double l = kLeft, r = w - kRight, t = kTop, btm = h - kBottom;
  cv.line(l, t, r, t, 0x444444, 1), cv.line(l, btm, r, btm, 0x444444, 1);
  cv.line(l, t, l, btm, 0x444444, 1), cv.line(r, t, r, btm, 0x444444, 1);
  // The text of the SVG, in the built-in font (letters upper-case).
  const uint32_t ink = 0x202020;
  if (!title.empty()) cv.text(w / 2.0, 6, title, ink, 1, 2);
  for (double v : ticks(x_min, x_max, log_x)) cv.text(f.px(v), btm + 6, num(v), ink, 1);
  for (double v : ticks(y_min, y_max, false)) cv.text(l - 5, f.py(v) - 3, num(v), ink, 2);
  if (!x_label.empty()) cv.text((l + r) / 2, h - 14, x_label, ink, 1);
  if (!y_label.empty()) cv.text(6, (t + btm) / 2, y_label, ink, 0, 1, true);
  double ly = t + 6;  // legend, top left inside the plot, as in the SVG
  for (const Series& sr : series) {
    if (sr.name.empty()) continue;
    cv.rect(l + 8, ly, l + 17, ly + 7, sr.color, 1);
    cv.text(l + 22, ly, sr.name, ink);
    ly += 12;
  }
  liteai::data::write_png(path, cv.px.data(), w, h, 3);
}

}  // namespace liteai::data
