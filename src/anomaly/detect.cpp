#include "liteai/anomaly/detect.hpp"

#include <algorithm>
#include <cmath>

#include "liteai/core/error.hpp"
#include "liteai/anomaly/hough.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

using data::Image;

namespace {

constexpr float kRadiusStep = 1.25f;    // between successive scales
constexpr float kSurround = 2.f;        // DoG: surround sigma / centre sigma
constexpr float kRingInner = 1.5f, kRingOuter = 2.5f;  // annulus of the contrast, in radii
constexpr size_t kMaxCandidates = 64;  // strongest responses scored per map (4x the default output)

// One box-filter pass of odd width w along rows (horizontal) or columns, edges clamped.
void box_rows(const std::vector<float>& in, std::vector<float>& out, int W, int H, int w) {
  const int k = w / 2;
  parallel_for(0, H, 16, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const float* s = in.data() + size_t(y) * size_t(W);
      float* d = out.data() + size_t(y) * size_t(W);
      double sum = 0;
      for (int j = -k; j <= k; ++j) sum += s[std::clamp(j, 0, W - 1)];
      for (int x = 0; x < W; ++x) {
        d[x] = float(sum / w);
        sum += s[std::min(x + k + 1, W - 1)] - s[std::max(x - k, 0)];
      }
    }
  });
}
void box_columns(const std::vector<float>& in, std::vector<float>& out, int W, int H, int w) {
  const int k = w / 2;
  parallel_for(0, W, 64, [&](int64_t x0, int64_t x1) {
    std::vector<double> sum(size_t(x1 - x0), 0.0);
    auto row = [&](int y) { return in.data() + size_t(std::clamp(y, 0, H - 1)) * size_t(W); };
    for (int j = -k; j <= k; ++j)
      for (int64_t x = x0; x < x1; ++x) sum[size_t(x - x0)] += row(j)[x];
    for (int y = 0; y < H; ++y) {
      const float *add = row(y + k + 1), *sub = row(y - k);
      float* d = out.data() + size_t(y) * size_t(W);
      for (int64_t x = x0; x < x1; ++x) {
        double& s = sum[size_t(x - x0)];
        d[x] = float(s / w);
        s += add[x] - sub[x];
      }
    }
  });
}

// Gaussian blur approximated by three box filters per axis (Wells 1986; widths as Kovesi 2010
// chooses them so the variance is sigma^2): the same cost for any sigma, which matters because
// the surround of a coin-sized scale at 512 px has a sigma of 18 px.
std::vector<float> box_gaussian(const std::vector<float>& src, int W, int H, float sigma) {
  constexpr int n = 3;
  const double ideal = std::sqrt(12.0 * double(sigma) * sigma / n + 1.0);
  int wl = int(std::floor(ideal));
  if (wl % 2 == 0) --wl;
  wl = std::max(wl, 1);
  const int wu = wl + 2;
  const int m = int(std::lround((12.0 * sigma * sigma - n * wl * wl - 4.0 * n * wl - 3.0 * n) / (-4.0 * wl - 4.0)));
  std::vector<float> a = src, b(src.size());
  for (int pass = 0; pass < n; ++pass) {
    const int w = pass < m ? wl : wu;
    if (w <= 1) continue;
    box_rows(a, b, W, H, w);
    box_columns(b, a, W, H, w);
  }
  return a;
}

struct Candidate {
  int x, y;
  float radius, strength;
};

// Step 1-2 of detect.hpp: local maxima of the best scale-normalized DoG that are blobs, not edges.
std::vector<Candidate> spot_candidates(const Image& map, float r_lo, float r_hi, float max_edge_ratio) {
  const int W = map.width, H = map.height;
  const size_t N = size_t(W) * size_t(H);
  std::vector<float> radii;
  for (float r = r_lo; r <= r_hi * 1.0001f; r *= kRadiusStep) radii.push_back(r);
  std::vector<std::vector<float>> response(radii.size());
  std::vector<float> best(N, -INFINITY);
  std::vector<uint16_t> best_scale(N, 0);
  for (size_t s = 0; s < radii.size(); ++s) {
    const float sigma = radii[s] / std::sqrt(2.f);
    std::vector<float> centre = box_gaussian(map.pixels, W, H, sigma);
    const std::vector<float> surround = box_gaussian(map.pixels, W, H, sigma * kSurround);
    for (size_t i = 0; i < N; ++i) {
      centre[i] -= surround[i];
      if (centre[i] > best[i]) {
        best[i] = centre[i];
        best_scale[i] = uint16_t(s);
      }
    }
    response[s] = std::move(centre);
  }
  const float edge_limit = max_edge_ratio > 0 ? (max_edge_ratio + 1) * (max_edge_ratio + 1) / max_edge_ratio : 0;
  std::vector<Candidate> out;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const size_t i = size_t(y) * size_t(W) + size_t(x);
      const float v = best[i];
      if (!(v > 0.f)) continue;
      bool is_max = true;
      for (int dy = -2; dy <= 2 && is_max; ++dy)
        for (int dx = -2; dx <= 2; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if ((dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
          const size_t j = size_t(ny) * size_t(W) + size_t(nx);
          if (best[j] > v || (best[j] == v && j < i)) {  // ties: the first pixel wins
            is_max = false;
            break;
          }
        }
      if (!is_max) continue;
      const size_t s = best_scale[i];
      if (edge_limit > 0) {  // Hessian of the response at the blob's scale
        const std::vector<float>& d = response[s];
        const int h = std::max(1, int(radii[s] / 2));
        const int xm = std::max(0, x - h), xp = std::min(W - 1, x + h), ym = std::max(0, y - h), yp = std::min(H - 1, y + h);
        auto at = [&](int xx, int yy) { return d[size_t(yy) * size_t(W) + size_t(xx)]; };
        const float dxx = at(xp, y) + at(xm, y) - 2 * v, dyy = at(x, yp) + at(x, ym) - 2 * v;
        const float dxy = (at(xp, yp) - at(xm, yp) - at(xp, ym) + at(xm, ym)) / 4;
        const float tr = dxx + dyy, det = dxx * dyy - dxy * dxy;
        if (!(det > 0) || tr * tr / det >= edge_limit) continue;
      }
      out.push_back({x, y, radii[s], v});
    }
  return out;
}

// Circles of the Hough transform on the map (their circular edges are the evidence).
std::vector<Candidate> hough_candidates(const Image& map, float r_lo, float r_hi) {
  HoughOptions h;
  h.min_radius = r_lo;
  h.max_radius = std::max(r_hi, r_lo + 1.f);
  h.min_votes = 5;
  h.min_support = 0.3f;
  h.min_dist = 0.03f * float(map.width);
  h.max_circles = int(kMaxCandidates);
  std::vector<Candidate> out;
  for (const Circle& c : hough_circles(map, h))
    out.push_back({std::clamp(int(std::lround(c.x)), 0, map.width - 1), std::clamp(int(std::lround(c.y)), 0, map.height - 1),
                   c.radius, c.votes * c.support});
  return out;
}

// Step 3: the mean map value in the disc of radius r at (cx, cy) minus the largest mean of the
// 8 octants of the annulus [1.5 r, 2.5 r] (pixels outside the map left out).
double contrast(const Image& map, int cx, int cy, float r) {
  const int W = map.width, H = map.height;
  const int reach = int(std::ceil(kRingOuter * r));
  const float disc_r2 = r * r, inner2 = kRingInner * kRingInner * r * r, outer2 = kRingOuter * kRingOuter * r * r;
  double disc = 0;
  int64_t n_disc = 0;
  double sector[8] = {};
  int64_t n_sector[8] = {};
  for (int y = std::max(0, cy - reach); y <= std::min(H - 1, cy + reach); ++y) {
    const float* row = map.pixels.data() + size_t(y) * size_t(W);
    const int dy = y - cy;
    for (int x = std::max(0, cx - reach); x <= std::min(W - 1, cx + reach); ++x) {
      const int dx = x - cx;
      const float q2 = float(dx * dx + dy * dy);
      if (q2 <= disc_r2) {
        disc += row[x];
        ++n_disc;
      } else if (q2 >= inner2 && q2 <= outer2) {
        const int k = (dy < 0) * 4 + (dx < 0) * 2 + (std::abs(dx) < std::abs(dy));  // octant
        sector[k] += row[x];
        ++n_sector[k];
      }
    }
  }
  double hottest = -INFINITY;
  for (int k = 0; k < 8; ++k)
    if (n_sector[k] > 0) hottest = std::max(hottest, sector[k] / double(n_sector[k]));
  if (!std::isfinite(hottest)) hottest = 0;  // no surround inside the map
  return disc / double(std::max<int64_t>(1, n_disc)) - hottest;
}

}  // namespace

const char* to_string(CircleSource s) { return s == CircleSource::Hough ? "hough" : "spots"; }

CircleSource circle_source_from_string(const std::string& name) {
  if (name == "spots") return CircleSource::Spots;
  if (name == "hough") return CircleSource::Hough;
  LAI_FAIL(invalid_argument, "detect: unknown circle source '", name, "' (spots or hough)");
}

void DetectOptions::validate() const {
  LAI_CHECK(std::isfinite(min_radius) && std::isfinite(max_radius) && min_radius > 0 && max_radius >= min_radius &&
                max_radius <= 0.5f,
            "detect: radii must satisfy 0 < min_radius <= max_radius <= 0.5 (fractions of the map width), got ",
            min_radius, " and ", max_radius);
  LAI_CHECK(std::isfinite(min_contrast), "detect: min_contrast must be finite");
  LAI_CHECK(max_edge_ratio == 0.f || max_edge_ratio >= 1.f, "detect: max_edge_ratio must be 0 (off) or >= 1, got ",
            max_edge_ratio);
  LAI_CHECK(min_separation >= 0.f && min_separation <= 100.f, "detect: min_separation must be in [0, 100], got ",
            min_separation);
  LAI_CHECK(max_detections >= 1 && max_detections <= 100000, "detect: max_detections must be in 1..100000, got ",
            max_detections);
}

std::vector<Detection> detect_circles(const Image& map, const DetectOptions& o) {
  o.validate();
  const int W = map.width, H = map.height;
  LAI_CHECK(W > 0 && H > 0 && map.pixels.size() == size_t(W) * size_t(H), "detect: empty or inconsistent map (",
            W, "x", H, ")");
  for (float v : map.pixels) LAI_CHECK(std::isfinite(v), "detect: the map has a non-finite value");
  const float r_lo = std::max(1.f, o.min_radius * float(W)), r_hi = std::max(r_lo, o.max_radius * float(W));
  std::vector<Candidate> cands = o.source == CircleSource::Hough ? hough_candidates(map, r_lo, r_hi)
                                                                 : spot_candidates(map, r_lo, r_hi, o.max_edge_ratio);
  std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.strength > b.strength; });
  if (cands.size() > kMaxCandidates) cands.resize(kMaxCandidates);

  // 3. Contrast of each candidate, at the radius where it is largest (a DoG peaks at a radius
  // below the object's own, a Hough radius may be off by a pixel).
  std::vector<float> radii;
  for (float r = r_lo; r <= r_hi * 1.0001f; r *= kRadiusStep) radii.push_back(r);
  std::vector<Detection> dets;
  for (const Candidate& c : cands) {
    double best = -INFINITY;
    float best_r = 0;
    for (size_t k = 0; k <= radii.size(); ++k) {
      const float r = k < radii.size() ? radii[k] : c.radius;
      if (c.x < r || c.y < r || c.x > float(W - 1) - r || c.y > float(H - 1) - r) continue;  // the disc lies in the map
      const double s = contrast(map, c.x, c.y, r);
      if (s > best) best = s, best_r = r;
    }
    if (best > o.min_contrast) dets.push_back({float(c.x), float(c.y), best_r, best});
  }

  // 4. Non-maximum suppression.
  std::stable_sort(dets.begin(), dets.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::vector<Detection> kept;
  for (const Detection& d : dets) {
    bool clear = true;
    for (const Detection& k : kept)
      if (std::hypot(d.x - k.x, d.y - k.y) < o.min_separation * std::max(d.radius, k.radius)) clear = false;
    if (clear) kept.push_back(d);
    if (int(kept.size()) >= o.max_detections) break;
  }
  return kept;
}

Detection scale_detection(const Detection& d, int map_width, int map_height, int width, int height) {
  LAI_CHECK(map_width > 0 && map_height > 0 && width > 0 && height > 0, "scale_detection: sizes must be positive");
  const float sx = float(width) / float(map_width), sy = float(height) / float(map_height);
  Detection s = d;
  s.x = (d.x + 0.5f) * sx - 0.5f;
  s.y = (d.y + 0.5f) * sy - 0.5f;
  s.radius = d.radius * sx;
  return s;
}

}  // namespace liteai::anomaly
