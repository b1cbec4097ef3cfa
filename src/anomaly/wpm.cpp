#include "liteai/anomaly/wpm.hpp"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

using data::Image;

Image wpm(const ProbTable& table, const Image& image, const WpmOptions& opt) {
  const ProbMatConfig& c = table.config();
  LAI_CHECK(c.width > 0, "wpm: empty ProbTable (finalize a ProbMat first)");
  LAI_CHECK(image.width == c.width && image.height == c.height &&
                image.pixels.size() == size_t(c.width) * size_t(c.height),
            "wpm: image is ", image.width, "x", image.height, ", the ProbMat was built for ", c.width, "x",
            c.height, " (resize first)");
  LAI_CHECK(opt.eps >= 0.f && std::isfinite(opt.eps), "wpm: eps must be >= 0, got ", opt.eps);
  Image out(c.width, c.height);
  const int W = c.width;
  parallel_for(0, c.height, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const float* src = image.pixels.data() + size_t(y) * size_t(W);
      float* dst = out.pixels.data() + size_t(y) * size_t(W);
      const ProbMatConfig& pc = table.config();
      const float to_bin = float(pc.bins) / (pc.hi - pc.lo);
      const uint16_t* q = table.quantized().data();
      constexpr int kAhead = 16;  // table rows are far apart: fetch a later pixel's entry early
      for (int x = 0; x < W; ++x) {
        if (x + kAhead < W) {
          const int xa = x + kAhead;
          float t = (src[xa] - pc.lo) * to_bin;
          t = t > 0.f ? t : 0.f;  // NaN -> 0
          const int b = int(t < float(pc.bins - 1) ? t : float(pc.bins - 1));
          __builtin_prefetch(q + size_t(table.cell_of(xa, int(y))) * size_t(pc.bins) + size_t(b));
        }
        const int64_t cell = table.cell_of(x, int(y));
        if ((opt.side == WpmSide::Brighter && src[x] <= table.mean_at(cell)) ||
            (opt.side == WpmSide::Darker && src[x] >= table.mean_at(cell))) {
          dst[x] = 0.f;
          continue;
        }
        if (opt.kind == WpmKind::NegLog) {
          const float nl = table.neglog_at(cell, src[x]);
          dst[x] = opt.eps > 0.f ? -std::log(std::exp(-nl) + opt.eps) : nl;
        } else {
          dst[x] = 1.f - table.rel_at(cell, src[x]);
        }
      }
    }
  });
  if (opt.smooth_sigma > 0.f) out = gaussian_blur(out, opt.smooth_sigma);
  return out;
}

Image gaussian_blur(const Image& in, float sigma) {
  LAI_CHECK(std::isfinite(sigma) && sigma >= 0.f && sigma <= 1000.f, "gaussian blur: sigma must be in [0, 1000] pixels, got ",
            sigma);
  if (sigma == 0.f || in.empty()) return in;
  const int r = std::max(1, int(std::ceil(3.f * sigma)));
  std::vector<float> k(size_t(2 * r + 1));
  float sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[size_t(i + r)] = std::exp(-0.5f * float(i * i) / (sigma * sigma));
  for (float& v : k) v /= sum;
  const int W = in.width, H = in.height;
  Image tmp(W, H), out(W, H);
  out.max_value = in.max_value;
  parallel_for(0, H, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const float* s = in.pixels.data() + size_t(y) * size_t(W);
      float* d = tmp.pixels.data() + size_t(y) * size_t(W);
      for (int x = 0; x < W; ++x) {
        float acc = 0;
        for (int i = -r; i <= r; ++i) acc += k[size_t(i + r)] * s[std::clamp(x + i, 0, W - 1)];
        d[x] = acc;
      }
    }
  });
  parallel_for(0, H, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      float* d = out.pixels.data() + size_t(y) * size_t(W);
      for (int x = 0; x < W; ++x) d[x] = 0;
      for (int i = -r; i <= r; ++i) {
        const float* s = tmp.pixels.data() + size_t(std::clamp(int(y) + i, 0, H - 1)) * size_t(W);
        const float kw = k[size_t(i + r)];
        for (int x = 0; x < W; ++x) d[x] += kw * s[x];
      }
    }
  });
  return out;
}

const char* to_string(ScoreMethod m) {
  switch (m) {
    case ScoreMethod::Percentile: return "percentile";
    case ScoreMethod::TopKMean: return "topk";
    case ScoreMethod::Max: return "max";
    case ScoreMethod::Mean: return "mean";
    case ScoreMethod::Blob: return "blob";
    case ScoreMethod::Spot: return "spot";
  }
  return "?";
}

ScoreMethod score_method_from_string(const std::string& name) {
  for (ScoreMethod m : {ScoreMethod::Spot, ScoreMethod::TopKMean, ScoreMethod::Percentile, ScoreMethod::Max,
                        ScoreMethod::Mean, ScoreMethod::Blob})
    if (name == to_string(m)) return m;
  LAI_FAIL(invalid_argument, "image score: unknown method '", name, "' (spot, topk, percentile, max, mean or blob)");
}

double image_score(const Image& map, const ScoreOptions& opt) {
  LAI_CHECK(!map.empty(), "image_score: empty map");
  if (opt.method == ScoreMethod::Spot) {
    const std::vector<Detection> spots = detect_circles(map, opt.spots);
    return spots.empty() ? 0.0 : spots.front().score;
  }
  if (opt.method == ScoreMethod::Blob) {
    LAI_CHECK(opt.blob_sigma_small >= 0 && opt.blob_sigma_large > opt.blob_sigma_small,
              "image_score: blob sigmas must satisfy 0 <= small < large, got ", opt.blob_sigma_small, " and ",
              opt.blob_sigma_large);
    const Image a = gaussian_blur(map, opt.blob_sigma_small), b = gaussian_blur(map, opt.blob_sigma_large);
    float best = -INFINITY;
    for (size_t i = 0; i < a.pixels.size(); ++i) best = std::max(best, a.pixels[i] - b.pixels[i]);
    return best;
  }
  std::vector<float> v(map.pixels);
  const size_t n = v.size();
  switch (opt.method) {
    case ScoreMethod::Max: return *std::max_element(v.begin(), v.end());
    case ScoreMethod::Mean: return std::accumulate(v.begin(), v.end(), 0.0) / double(n);
    case ScoreMethod::Percentile: {
      LAI_CHECK(opt.percentile >= 0 && opt.percentile <= 100, "image_score: percentile ", opt.percentile,
                " not in [0, 100]");
      const size_t k = std::min(n - 1, size_t(std::floor(opt.percentile / 100.0 * double(n - 1) + 0.5)));
      std::nth_element(v.begin(), v.begin() + long(k), v.end());
      return v[k];
    }
    case ScoreMethod::TopKMean:
    default: {
      LAI_CHECK(opt.top_fraction > 0 && opt.top_fraction <= 1, "image_score: top fraction ", opt.top_fraction,
                " not in (0, 1]");
      const size_t k = std::max<size_t>(1, size_t(opt.top_fraction * double(n)));
      std::nth_element(v.begin(), v.begin() + long(k - 1), v.end(), std::greater<float>());
      double s = 0;
      for (size_t i = 0; i < k; ++i) s += v[i];
      return s / double(k);
    }
  }
}

double threshold_for_fpr(std::vector<double> v, double fpr) {
  LAI_CHECK(!v.empty(), "threshold_for_fpr: no normal values");
  LAI_CHECK(fpr >= 0 && fpr <= 1, "threshold_for_fpr: fpr ", fpr, " not in [0, 1]");
  std::sort(v.begin(), v.end());
  // Smallest threshold t with #(v > t) <= fpr * n.
  const size_t allowed = size_t(std::floor(fpr * double(v.size())));
  if (allowed >= v.size()) return v.front() - 1e-9;
  return v[v.size() - 1 - allowed];
}

double pixel_threshold_for_fpr(const std::vector<Image>& maps, double fpr, size_t max_samples) {
  size_t total = 0;
  for (auto& m : maps) total += m.pixels.size();
  LAI_CHECK(total > 0, "pixel_threshold_for_fpr: no pixels");
  const size_t stride = std::max<size_t>(1, (total + max_samples - 1) / std::max<size_t>(1, max_samples));
  std::vector<double> v;
  v.reserve(total / stride + 1);
  size_t i = 0;
  for (auto& m : maps)
    for (float p : m.pixels)
      if (i++ % stride == 0) v.push_back(p);
  return threshold_for_fpr(std::move(v), fpr);
}

std::vector<Region> find_regions(const Image& map, float threshold, int64_t min_area) {
  const int W = map.width, H = map.height;
  std::vector<uint8_t> seen(size_t(W) * size_t(H), 0);
  std::vector<Region> out;
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < int64_t(W) * H; ++start) {
    if (seen[size_t(start)] || !(map.pixels[size_t(start)] > threshold)) continue;
    Region r;
    r.x0 = W;
    r.y0 = H;
    r.x1 = -1;
    r.y1 = -1;
    r.peak = -INFINITY;
    double sum = 0, sx = 0, sy = 0;
    stack.assign(1, start);
    seen[size_t(start)] = 1;
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      const int x = int(i % W), y = int(i / W);
      const float v = map.pixels[size_t(i)];
      ++r.area;
      sum += v;
      sx += x;
      sy += y;
      r.x0 = std::min(r.x0, x);
      r.x1 = std::max(r.x1, x);
      r.y0 = std::min(r.y0, y);
      r.y1 = std::max(r.y1, y);
      if (v > r.peak) {
        r.peak = v;
        r.peak_x = x;
        r.peak_y = y;
      }
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
          const int64_t j = int64_t(ny) * W + nx;
          if (seen[size_t(j)] || !(map.pixels[size_t(j)] > threshold)) continue;
          seen[size_t(j)] = 1;
          stack.push_back(j);
        }
    }
    if (r.area < min_area) continue;
    r.mean = sum / double(r.area);
    r.cx = sx / double(r.area);
    r.cy = sy / double(r.area);
    out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const Region& a, const Region& b) { return a.peak > b.peak; });
  return out;
}

double auroc(const std::vector<double>& scores, const std::vector<int>& labels) {
  LAI_CHECK(scores.size() == labels.size(), "auroc: ", scores.size(), " scores but ", labels.size(), " labels");
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0, npos = 0, nneg = 0;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j < idx.size() && scores[idx[j]] == scores[idx[i]]) ++j;
    const double avg_rank = 0.5 * double(i + 1 + j);  // ranks i+1..j
    for (size_t k = i; k < j; ++k)
      if (labels[idx[k]]) rank_sum += avg_rank;
    i = j;
  }
  for (int l : labels) (l ? npos : nneg) += 1;
  LAI_CHECK(npos > 0 && nneg > 0, "auroc: needs both classes (", npos, " positives, ", nneg, " negatives)");
  return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

double pixel_auroc(const std::vector<Image>& maps, const std::vector<Image>& masks, size_t max_pixels) {
  LAI_CHECK(maps.size() == masks.size(), "pixel_auroc: ", maps.size(), " maps but ", masks.size(), " masks");
  size_t total = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    LAI_CHECK(maps[i].width == masks[i].width && maps[i].height == masks[i].height, "pixel_auroc: map ", i,
              " is ", maps[i].width, "x", maps[i].height, ", its mask ", masks[i].width, "x", masks[i].height);
    total += maps[i].pixels.size();
  }
  const size_t stride = std::max<size_t>(1, (total + max_pixels - 1) / std::max<size_t>(1, max_pixels));
  std::vector<double> s;
  std::vector<int> l;
  size_t k = 0;
  for (size_t i = 0; i < maps.size(); ++i)
    for (size_t p = 0; p < maps[i].pixels.size(); ++p)
      if (k++ % stride == 0) {
        s.push_back(maps[i].pixels[p]);
        l.push_back(masks[i].pixels[p] > 0.5f ? 1 : 0);
      }
  return auroc(s, l);
}

void colormap(float t, uint8_t rgb[3]) {
  // Dark to bright through purple, red, orange and yellow (perceptually ordered, printable in gray).
  static const float stops[6][3] = {{0, 0, 4}, {80, 18, 123}, {182, 54, 121}, {251, 136, 97}, {252, 253, 191},
                                    {255, 255, 255}};
  if (!(t > 0.f)) t = 0.f;
  if (t > 1.f) t = 1.f;
  const float pos = t * 4.f;  // the first five stops
  const int i = std::min(3, int(pos));
  const float f = pos - float(i);
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<uint8_t>(std::lround(stops[i][c] * (1.f - f) + stops[i + 1][c] * f));
}

namespace {
void range_of(const Image& im, float& lo, float& hi) {
  if (lo < hi) return;
  lo = INFINITY;
  hi = -INFINITY;
  for (float v : im.pixels)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (!(hi > lo)) hi = lo + 1.f;
}
void write_png(const std::string& path, int w, int h, int comp, const std::vector<uint8_t>& px) {
  LAI_CHECK(w > 0 && h > 0, "png: empty image for ", path);
  LAI_CHECK_IO(stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp) != 0, "png: cannot write ", path);
}
}  // namespace

void write_heatmap_png(const std::string& path, const Image& map, float lo, float hi) {
  range_of(map, lo, hi);
  std::vector<uint8_t> px(map.pixels.size() * 3);
  for (size_t i = 0; i < map.pixels.size(); ++i) colormap((map.pixels[i] - lo) / (hi - lo), &px[i * 3]);
  write_png(path, map.width, map.height, 3, px);
}

void write_gray_png(const std::string& path, const Image& im, float lo, float hi) {
  range_of(im, lo, hi);
  std::vector<uint8_t> px(im.pixels.size());
  for (size_t i = 0; i < im.pixels.size(); ++i)
    px[i] = static_cast<uint8_t>(std::clamp((im.pixels[i] - lo) / (hi - lo), 0.f, 1.f) * 255.f + 0.5f);
  write_png(path, im.width, im.height, 1, px);
}

void write_overlay_png(const std::string& path, const Image& image, const Image& map, float threshold, float hi,
                       float max_alpha) {
  write_png(path, image.width, image.height, 3, overlay_rgb(image, map, threshold, hi, max_alpha));
}

std::vector<uint8_t> overlay_rgb(const Image& image, const Image& map, float threshold, float hi, float max_alpha) {
  LAI_CHECK(image.width == map.width && image.height == map.height, "overlay: image ", image.width, "x",
            image.height, " and map ", map.width, "x", map.height, " differ");
  float ilo = 0, ihi = -1;
  range_of(image, ilo, ihi);
  if (!(hi > threshold)) {
    hi = threshold;
    for (float v : map.pixels)
      if (std::isfinite(v)) hi = std::max(hi, v);
    if (!(hi > threshold)) hi = threshold + 1.f;
  }
  std::vector<uint8_t> px(image.pixels.size() * 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const float g = std::clamp((image.pixels[i] - ilo) / (ihi - ilo), 0.f, 1.f) * 255.f;
    const float m = map.pixels[i];
    float a = 0.f;
    uint8_t rgb[3] = {0, 0, 0};
    if (m > threshold) {
      const float t = std::clamp((m - threshold) / (hi - threshold), 0.f, 1.f);
      a = max_alpha * (0.35f + 0.65f * t);
      colormap(0.35f + 0.65f * t, rgb);
    }
    for (int c = 0; c < 3; ++c) px[i * 3 + size_t(c)] = static_cast<uint8_t>(std::lround(g * (1.f - a) + rgb[c] * a));
  }
  return px;
}

}  // namespace liteai::anomaly
