#include "liteai/anomaly/hough.hpp"

#include <algorithm>
#include <cmath>

#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

using data::Image;

EdgeMap canny_edges(const Image& image, float blur_sigma, float low_fraction, float high_fraction,
                    float noise_factor) {
  LAI_CHECK(!image.empty() && image.pixels.size() == size_t(image.width) * size_t(image.height),
            "hough: empty or inconsistent image (", image.width, "x", image.height, ")");
  LAI_CHECK(low_fraction >= 0 && high_fraction > 0 && low_fraction <= high_fraction && high_fraction <= 1,
            "hough: thresholds must satisfy 0 <= low <= high <= 1, got low ", low_fraction, " high ", high_fraction);
  LAI_CHECK(std::isfinite(blur_sigma) && blur_sigma >= 0 && blur_sigma <= 1000,
            "hough: blur sigma must be in [0, 1000] pixels (0: none), got ", blur_sigma);
  LAI_CHECK(std::isfinite(noise_factor) && noise_factor >= 0, "hough: noise factor must be >= 0 (0: off), got ",
            noise_factor);
  const Image src = blur_sigma > 0.f ? gaussian_blur(image, blur_sigma) : image;
  const int W = src.width, H = src.height;
  EdgeMap e;
  e.width = W;
  e.height = H;
  const size_t n = size_t(W) * size_t(H);
  e.gx.assign(n, 0.f);
  e.gy.assign(n, 0.f);
  e.magnitude.assign(n, 0.f);
  e.edge.assign(n, 0);
  auto px = [&](int x, int y) { return src.pixels[size_t(std::clamp(y, 0, H - 1)) * size_t(W) + size_t(std::clamp(x, 0, W - 1))]; };
  parallel_for(0, H, 16, [&](int64_t y0, int64_t y1) {
    for (int y = int(y0); y < int(y1); ++y)
      for (int x = 0; x < W; ++x) {
        const float gx = (px(x + 1, y - 1) + 2 * px(x + 1, y) + px(x + 1, y + 1)) -
                         (px(x - 1, y - 1) + 2 * px(x - 1, y) + px(x - 1, y + 1));
        const float gy = (px(x - 1, y + 1) + 2 * px(x, y + 1) + px(x + 1, y + 1)) -
                         (px(x - 1, y - 1) + 2 * px(x, y - 1) + px(x + 1, y - 1));
        const size_t i = size_t(y) * size_t(W) + size_t(x);
        e.gx[i] = gx;
        e.gy[i] = gy;
        e.magnitude[i] = std::sqrt(gx * gx + gy * gy);
      }
  });
  float mx = 0;
  for (float m : e.magnitude) mx = std::max(mx, m);
  if (!(mx > 0)) return e;
  float lo = low_fraction * mx, hi = high_fraction * mx;
  if (noise_factor > 0.f) {
    // Floor from the typical gradient (mostly noise and smooth shading): the median magnitude.
    std::vector<float> tmp(e.magnitude);
    std::nth_element(tmp.begin(), tmp.begin() + long(tmp.size() / 2), tmp.end());
    const float med = tmp[tmp.size() / 2];
    hi = std::max(hi, noise_factor * med);
    lo = std::max(lo, 0.5f * noise_factor * med);
    lo = std::min(lo, hi);
  }
  // Non-maximum suppression across the edge: keep pixels whose magnitude is a maximum along
  // the gradient direction (quantized to 0/45/90/135 degrees).
  std::vector<uint8_t> cand(n, 0);  // 1 = weak, 2 = strong
  for (int y = 1; y < H - 1; ++y)
    for (int x = 1; x < W - 1; ++x) {
      const size_t i = size_t(y) * size_t(W) + size_t(x);
      const float m = e.magnitude[i];
      if (m < lo || m <= 0) continue;
      float ang = std::atan2(e.gy[i], e.gx[i]) * 180.f / float(M_PI);
      if (ang < 0) ang += 180.f;
      int dx, dy;
      if (ang < 22.5f || ang >= 157.5f) dx = 1, dy = 0;
      else if (ang < 67.5f) dx = 1, dy = 1;
      else if (ang < 112.5f) dx = 0, dy = 1;
      else dx = -1, dy = 1;
      const float a = e.magnitude[size_t(y + dy) * size_t(W) + size_t(x + dx)];
      const float b = e.magnitude[size_t(y - dy) * size_t(W) + size_t(x - dx)];
      if (m >= a && m > b) cand[i] = m >= hi ? 2 : 1;
    }
  // Hysteresis: strong edges, plus weak ones 8-connected to a strong one.
  std::vector<int64_t> stack;
  for (size_t i = 0; i < n; ++i)
    if (cand[i] == 2 && !e.edge[i]) {
      e.edge[i] = 1;
      stack.push_back(int64_t(i));
      while (!stack.empty()) {
        const int64_t j = stack.back();
        stack.pop_back();
        const int x = int(j % W), y = int(j / W);
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int nx = x + dx, ny = y + dy;
            if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
            const size_t k = size_t(ny) * size_t(W) + size_t(nx);
            if (cand[k] && !e.edge[k]) {
              e.edge[k] = 1;
              stack.push_back(int64_t(k));
            }
          }
      }
    }
  return e;
}

std::vector<Circle> hough_circles(const Image& image, const HoughOptions& o) {
  LAI_CHECK(o.min_radius >= 1 && o.max_radius >= o.min_radius, "hough: radius range [", o.min_radius, ", ",
            o.max_radius, "] is invalid (need 1 <= min <= max)");
  LAI_CHECK(o.max_radius <= 4096, "hough: max radius ", o.max_radius, " is too large");
  LAI_CHECK(o.max_circles >= 1, "hough: max_circles must be >= 1");
  LAI_CHECK(std::isfinite(o.min_dist) && o.min_dist >= 0, "hough: min_dist must be >= 0 (0: min_radius), got ",
            o.min_dist);
  LAI_CHECK(std::isfinite(o.min_votes) && o.min_votes >= 0, "hough: min_votes must be >= 0, got ", o.min_votes);
  LAI_CHECK(o.min_support >= 0 && o.min_support <= 1, "hough: min_support must be in [0, 1], got ", o.min_support);
  LAI_CHECK(o.polarity == Polarity::Bright || o.polarity == Polarity::Dark || o.polarity == Polarity::Both,
            "hough: unknown polarity ", int(o.polarity));
  // About 30 bytes per pixel (blurred copy, gradients, magnitudes, edge maps, two accumulators):
  // decided before any of it is allocated.
  check_limit(Limit::total_bytes, uint64_t(image.pixels.size()) * 30,
              str_cat("hough: the working memory for a ", image.width, "x", image.height, " image"));
  const EdgeMap e = canny_edges(image, o.blur_sigma, o.low_threshold, o.high_threshold, o.noise_factor);
  const int W = e.width, H = e.height;
  // Edge list with unit gradient directions.
  struct EdgePx { int x, y; float ux, uy; };
  std::vector<EdgePx> edges;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const size_t i = size_t(y) * size_t(W) + size_t(x);
      if (!e.edge[i] || !(e.magnitude[i] > 0)) continue;
      edges.push_back({x, y, e.gx[i] / e.magnitude[i], e.gy[i] / e.magnitude[i]});
    }
  // Gradients point from dark to bright: a bright disc's centre lies along +gradient.
  std::vector<float> signs;
  if (o.polarity != Polarity::Dark) signs.push_back(1.f);
  if (o.polarity != Polarity::Bright) signs.push_back(-1.f);
  std::vector<float> acc(size_t(W) * size_t(H), 0.f);
  const int r0 = int(std::floor(o.min_radius)), r1 = int(std::ceil(o.max_radius));
  for (const EdgePx& p : edges)
    for (float s : signs)
      for (int r = r0; r <= r1; ++r) {
        const int cx = int(std::lround(p.x + s * p.ux * float(r))), cy = int(std::lround(p.y + s * p.uy * float(r)));
        if (cx < 0 || cy < 0 || cx >= W || cy >= H) break;
        acc[size_t(cy) * size_t(W) + size_t(cx)] += 1.f;
      }
  // 3x3 box smoothing: rounding spreads a centre's votes over neighbouring cells.
  std::vector<float> sm(acc.size(), 0.f);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      float s = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < W && ny < H) s += acc[size_t(ny) * size_t(W) + size_t(nx)];
        }
      sm[size_t(y) * size_t(W) + size_t(x)] = s;
    }
  // Candidate peaks: local maxima (5x5) above min_votes.
  struct Peak { float v; int x, y; };
  std::vector<Peak> peaks;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const float v = sm[size_t(y) * size_t(W) + size_t(x)];
      if (v < o.min_votes) continue;
      bool is_max = true;
      for (int dy = -2; dy <= 2 && is_max; ++dy)
        for (int dx = -2; dx <= 2; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if ((dx || dy) && nx >= 0 && ny >= 0 && nx < W && ny < H) {
            const float u = sm[size_t(ny) * size_t(W) + size_t(nx)];
            // Ties broken by position so a flat plateau yields one peak.
            if (u > v || (u == v && (ny < y || (ny == y && nx < x)))) {
              is_max = false;
              break;
            }
          }
        }
      if (is_max) peaks.push_back({v, x, y});
    }
  std::stable_sort(peaks.begin(), peaks.end(), [](const Peak& a, const Peak& b) { return a.v > b.v; });
  const float min_dist = o.min_dist > 0 ? o.min_dist : o.min_radius;
  const float bin = 0.5f;  // radius histogram resolution in pixels
  const int nbins = int((o.max_radius - o.min_radius) / bin) + 2;
  std::vector<Circle> out;
  std::vector<float> hist(static_cast<size_t>(nbins));
  for (const Peak& pk : peaks) {
    if (int(out.size()) >= o.max_circles) break;
    bool close = false;
    for (const Circle& c : out)
      if (std::hypot(c.x - pk.x, c.y - pk.y) < min_dist) close = true;
    if (close) continue;
    // Refine the centre: vote-weighted mean of the raw accumulator around the peak.
    double sw = 0, sx = 0, sy = 0;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int nx = pk.x + dx, ny = pk.y + dy;
        if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
        const float a = acc[size_t(ny) * size_t(W) + size_t(nx)];
        sw += a;
        sx += a * nx;
        sy += a * ny;
      }
    const float cx = sw > 0 ? float(sx / sw) : float(pk.x), cy = sw > 0 ? float(sy / sw) : float(pk.y);
    // Radius: the most supported distance among edge pixels whose gradient is radial.
    std::fill(hist.begin(), hist.end(), 0.f);
    const int reach = int(std::ceil(o.max_radius)) + 1;
    for (const EdgePx& p : edges) {
      if (std::abs(p.x - cx) > reach || std::abs(p.y - cy) > reach) continue;
      const float dx = p.x - cx, dy = p.y - cy, d = std::sqrt(dx * dx + dy * dy);
      if (d < o.min_radius - bin || d > o.max_radius + bin || d <= 0) continue;
      const float cosang = (p.ux * dx + p.uy * dy) / d;  // gradient vs outward direction
      const bool ok = (o.polarity == Polarity::Bright && cosang < -0.8f) ||
                      (o.polarity == Polarity::Dark && cosang > 0.8f) ||
                      (o.polarity == Polarity::Both && std::abs(cosang) > 0.8f);
      if (!ok) continue;
      const int b = std::clamp(int(std::lround((d - o.min_radius) / bin)), 0, nbins - 1);
      hist[size_t(b)] += 1.f;
    }
    // Smooth over +-1 bin, weight by 1/r so larger circles do not win by circumference alone.
    int best = -1;
    float best_score = 0;
    for (int b = 0; b < nbins; ++b) {
      const float r = o.min_radius + b * bin;
      if (r > o.max_radius) break;
      const float c = hist[size_t(b)] + (b > 0 ? hist[size_t(b - 1)] : 0) + (b + 1 < nbins ? hist[size_t(b + 1)] : 0);
      const float score = c / (2.f * float(M_PI) * r);
      if (score > best_score) {
        best_score = score;
        best = b;
      }
    }
    if (best < 0) continue;
    // Refined radius: count-weighted mean over the 3 bins.
    double cw = 0, cr = 0;
    for (int b = std::max(0, best - 1); b <= std::min(nbins - 1, best + 1); ++b) {
      cw += hist[size_t(b)];
      cr += hist[size_t(b)] * (o.min_radius + b * bin);
    }
    const float radius = float(cr / cw);
    const float support = std::min(1.f, float(cw) / (2.f * float(M_PI) * radius));
    if (support < o.min_support) continue;
    out.push_back({cx, cy, radius, pk.v, support});
  }
  return out;
}

double circle_score(const Image& map, const HoughOptions& options) {
  double best = 0;
  for (const Circle& c : hough_circles(map, options)) best = std::max(best, double(c.votes) * double(c.support));
  return best;
}

}  // namespace liteai::anomaly
