#include "liteai/data/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

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
    for (int y = int(std::min(y0, y1)); y <= int(std::max(y0, y1)); ++y)
      for (int x = int(std::min(x0, x1)); x <= int(std::max(x0, x1)); ++x) dot(x, y, c, alpha);
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
  write_file_atomic(path, s.data(), s.size());
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
  liteai::data::write_png(path, cv.px.data(), w, h, 3);
}

}  // namespace liteai::data
