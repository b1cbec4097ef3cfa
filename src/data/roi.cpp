#include "liteai/data/roi.hpp"

#include <algorithm>
#include <cmath>

#include "liteai/core/error.hpp"
#include "liteai/data/transforms.hpp"

namespace liteai::data {

void RoiOptions::validate() const {
  LAI_CHECK(k >= 1 && k <= 64, "roi: k must be in 1..64, got ", k);
  LAI_CHECK(size >= 1 && size <= 16384, "roi: size must be in 1..16384, got ", size);
  LAI_CHECK(max_overlap >= 0.f && max_overlap <= 1.f, "roi: max_overlap must be in [0, 1], got ", max_overlap);
}

std::vector<Roi> select_rois(const Image& map, int W, int H, const RoiOptions& o) {
  o.validate();
  const int mw = map.width, mh = map.height;
  LAI_CHECK(mw > 0 && mh > 0 && map.pixels.size() == size_t(mw) * size_t(mh), "roi: empty or inconsistent map (", mw,
            "x", mh, ")");
  LAI_CHECK(W > 0 && H > 0 && W <= 1 << 16 && H <= 1 << 16, "roi: image size ", W, "x", H, " out of range");
  for (float v : map.pixels) LAI_CHECK(std::isfinite(v), "roi: the map has a non-finite value");
  // The region's window in map pixels (at least one, at most the map).
  const double sx = double(mw) / W, sy = double(mh) / H;
  const int ww = std::clamp(int(std::lround(o.size * sx)), 1, mw), wh = std::clamp(int(std::lround(o.size * sy)), 1, mh);
  // Centre-weighted window means: a tent (two box filters whose widths add up to the window's
  // plus one) over every window inside the map, so a spot smaller than a region gets the region
  // centred on it instead of any window that happens to contain it.
  const int nx = mw - ww + 1, ny = mh - wh + 1;
  std::vector<double> mean(map.pixels.begin(), map.pixels.end());
  int cw = mw, ch = mh;
  auto box_rows = [&](int k) {  // valid part: cw -> cw - k + 1
    std::vector<double> out(size_t(cw - k + 1) * size_t(ch));
    for (int y = 0; y < ch; ++y) {
      const double* in = mean.data() + size_t(y) * size_t(cw);
      double sum = 0;
      for (int x = 0; x < k; ++x) sum += in[x];
      for (int x = 0; x + k <= cw; ++x) {
        out[size_t(y) * size_t(cw - k + 1) + size_t(x)] = sum / k;
        if (x + k < cw) sum += in[x + k] - in[x];
      }
    }
    mean.swap(out);
    cw = cw - k + 1;
  };
  auto box_cols = [&](int k) {  // valid part: ch -> ch - k + 1
    std::vector<double> out(size_t(cw) * size_t(ch - k + 1));
    for (int x = 0; x < cw; ++x) {
      double sum = 0;
      for (int y = 0; y < k; ++y) sum += mean[size_t(y) * size_t(cw) + size_t(x)];
      for (int y = 0; y + k <= ch; ++y) {
        out[size_t(y) * size_t(cw) + size_t(x)] = sum / k;
        if (y + k < ch) sum += mean[size_t(y + k) * size_t(cw) + size_t(x)] - mean[size_t(y) * size_t(cw) + size_t(x)];
      }
    }
    mean.swap(out);
    ch = ch - k + 1;
  };
  box_rows((ww + 1) / 2);
  box_rows(ww + 1 - (ww + 1) / 2);
  box_cols((wh + 1) / 2);
  box_cols(wh + 1 - (wh + 1) / 2);
  auto overlap = [&](int ax, int ay, int bx, int by) {  // shared area / window area
    const int ox = std::max(0, std::min(ax, bx) + ww - std::max(ax, bx));
    const int oy = std::max(0, std::min(ay, by) + wh - std::max(ay, by));
    return double(ox) * oy / (double(ww) * wh);
  };
  std::vector<std::pair<int, int>> picked;
  std::vector<Roi> out;
  for (int r = 0; r < o.k; ++r) {
    int best = -1, fallback = -1;
    for (int i = 0; i < nx * ny; ++i) {
      const int x = i % nx, y = i / nx;
      bool taken = false, clear = true;
      for (const auto& [px, py] : picked) {
        taken = taken || (px == x && py == y);
        clear = clear && overlap(x, y, px, py) <= o.max_overlap;
      }
      if (taken) continue;
      if (fallback < 0 || mean[size_t(i)] > mean[size_t(fallback)]) fallback = i;
      if (clear && (best < 0 || mean[size_t(i)] > mean[size_t(best)])) best = i;
    }
    if (best < 0) best = fallback;
    if (best < 0) best = 0;  // a single window, already taken: repeat it
    const int x = best % nx, y = best / nx;
    picked.emplace_back(x, y);
    // Back to image pixels: the window's centre, the region clamped into the image.
    const double cx = (x + ww / 2.0) / sx, cy = (y + wh / 2.0) / sy;
    Roi roi;
    roi.size = o.size;
    roi.x0 = o.size <= W ? std::clamp(int(std::lround(cx - o.size / 2.0)), 0, W - o.size) : (W - o.size) / 2;
    roi.y0 = o.size <= H ? std::clamp(int(std::lround(cy - o.size / 2.0)), 0, H - o.size) : (H - o.size) / 2;
    roi.score = mean[size_t(best)];
    out.push_back(roi);
  }
  return out;
}

Image crop(const Image& image, const Roi& roi) {
  LAI_CHECK(!image.empty() && image.pixels.size() == size_t(image.width) * size_t(image.height),
            "roi crop: empty or inconsistent image");
  LAI_CHECK(roi.size >= 1 && roi.size <= 16384, "roi crop: size must be in 1..16384, got ", roi.size);
  Image out(roi.size, roi.size);
  out.max_value = image.max_value;
  for (int y = 0; y < roi.size; ++y) {
    const int sy = std::clamp(roi.y0 + y, 0, image.height - 1);
    for (int x = 0; x < roi.size; ++x) {
      const int sx = std::clamp(roi.x0 + x, 0, image.width - 1);
      out.pixels[size_t(y) * size_t(roi.size) + size_t(x)] = image.pixels[size_t(sy) * size_t(image.width) + size_t(sx)];
    }
  }
  return out;
}

RoiSample make_roi_sample(const Image& image, const Image& map, int whole_width, int whole_height,
                          const RoiOptions& o) {
  LAI_CHECK(whole_width >= 1 && whole_height >= 1, "roi: the whole image's size must be positive");
  RoiSample s;
  s.rois = select_rois(map, image.width, image.height, o);
  s.whole = resize(image, whole_width, whole_height);
  for (const Roi& r : s.rois) s.crops.push_back(crop(image, r));
  return s;
}

std::vector<Roi> roi_planes_into(const Image& image, const RoiInput& in, int width, int height, bool standardize,
                                 float* out) {
  LAI_CHECK(in.active(), "roi: no anomaly map function");
  LAI_CHECK(width >= 1 && height >= 1, "roi: the plane size must be positive, got ", width, "x", height);
  const Image map = in.map(image);
  const std::vector<Roi> rois = select_rois(map, image.width, image.height, in.regions);
  const size_t n = size_t(width) * size_t(height);
  resize_into(image, out, width, height);
  for (size_t r = 0; r < rois.size(); ++r) resize_into(crop(image, rois[r]), out + (r + 1) * n, width, height);
  // The whole plane's scaling for every plane (as data::standardize does for one).
  double offset = 0, scale = 1.0 / image.max_value;
  if (standardize) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; ++i) sum += out[i];
    const double mean = sum / double(n);
    for (size_t i = 0; i < n; ++i) sq += (out[i] - mean) * (out[i] - mean);
    offset = mean;
    scale = 1.0 / std::max(std::sqrt(sq / double(n)), 1.0 / std::sqrt(double(n)));
  }
  const float m = float(offset), s = float(scale);
  for (size_t i = 0; i < n * (rois.size() + 1); ++i) out[i] = (out[i] - m) * s;
  return rois;
}

}  // namespace liteai::data
