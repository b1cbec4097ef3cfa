#include "liteai/anomaly/senafas.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

using data::Image;

std::vector<float> Senafas::patch_features(const Image& map, int64_t* count) const {
  LAI_CHECK(dim_ > 0, "senafas: not fitted");
  LAI_CHECK(map.width == width_ && map.height == height_, "senafas: map is ", map.width, "x", map.height,
            ", the model was fitted on ", width_, "x", height_);
  const int p = patch_, gw = (width_ + p - 1) / p, gh = (height_ + p - 1) / p;
  const int64_t n = int64_t(gw) * gh;
  float pad = INFINITY;
  for (float v : map.pixels) pad = std::min(pad, v);
  std::vector<float> out(size_t(n) * size_t(dim_));
  parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    std::vector<float> vals(size_t(p) * size_t(p));
    for (int64_t k = b; k < e; ++k) {
      const int px = int(k % gw) * p, py = int(k / gw) * p;
      size_t m = 0;
      for (int y = py; y < py + p; ++y)
        for (int x = px; x < px + p; ++x) vals[m++] = (x < width_ && y < height_) ? map.at(x, y) : pad;
      std::sort(vals.begin(), vals.end(), std::greater<float>());
      float* f = out.data() + size_t(k) * size_t(dim_);
      for (int j = 0; j < dim_; ++j) f[j] = vals[size_t(int64_t(j) * int64_t(vals.size()) / dim_)];
    }
  });
  if (count) *count = n;
  return out;
}

void Senafas::fit(const std::vector<Image>& maps, const SenafasOptions& o) {
  LAI_CHECK(!maps.empty(), "senafas fit: no maps");
  LAI_CHECK(o.patch >= 1 && o.patch <= 256, "senafas fit: patch ", o.patch, " out of range 1..256");
  LAI_CHECK(o.max_features >= 1, "senafas fit: max_features must be >= 1");
  patch_ = o.patch;
  width_ = maps[0].width;
  height_ = maps[0].height;
  dim_ = std::min(o.max_features, o.patch * o.patch);
  std::vector<float> all;
  int64_t total = 0;
  for (const Image& m : maps) {
    int64_t n = 0;
    const auto f = patch_features(m, &n);
    all.insert(all.end(), f.begin(), f.end());
    total += n;
  }
  SomConfig c;
  c.rows = o.rows;
  c.cols = o.cols;
  c.dim = dim_;
  som_ = Som(c);
  som_.train(all.data(), total, o.train);
  // Level of a unit: mean of the top quarter of its (sorted) prototype.
  const int top = std::max(1, dim_ / 4);
  std::vector<float> raw(size_t(som_.units()));
  for (int u = 0; u < som_.units(); ++u) {
    const float* w = som_.unit_weights(u);
    double s = 0;
    for (int j = 0; j < top; ++j) s += w[j];
    raw[size_t(u)] = float(s / top);
  }
  // Baseline: the hit-weighted median level of the training patches.
  const auto hits = som_.hit_map(all.data(), total);
  std::vector<int> order(raw.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return raw[size_t(a)] < raw[size_t(b)]; });
  int64_t cum = 0;
  float base = raw[size_t(order.back())];
  for (int u : order) {
    cum += hits[size_t(u)];
    if (2 * cum >= total) {
      base = raw[size_t(u)];
      break;
    }
  }
  levels_.resize(raw.size());
  for (size_t u = 0; u < raw.size(); ++u) levels_[u] = raw[u] - base;
}

Image Senafas::channel(const Image& map) const {
  LAI_CHECK(fitted(), "senafas channel: not fitted");
  int64_t n = 0;
  const auto f = patch_features(map, &n);
  const auto b = som_.bmus(f.data(), n);
  const int gw = (width_ + patch_ - 1) / patch_, gh = (height_ + patch_ - 1) / patch_;
  Image out(gw, gh);
  out.max_value = 1.f;
  for (int64_t k = 0; k < n; ++k) out.pixels[size_t(k)] = std::max(0.f, levels_[size_t(b[size_t(k)])]);
  return out;
}

Som train_profile_som(const ProbTable& t, const SomConfig& grid, const SomTrainOptions& o) {
  const ProbMatConfig& c = t.config();
  LAI_CHECK(c.width > 0, "profile som: empty ProbTable");
  const int64_t cells = c.cells();
  std::vector<float> x(size_t(cells) * size_t(c.bins));
  for (int64_t k = 0; k < cells; ++k)
    for (int b = 0; b < c.bins; ++b) x[size_t(k) * size_t(c.bins) + size_t(b)] = t.prob(k, b);
  SomConfig g = grid;
  g.dim = c.bins;
  Som s(g);
  s.train(x.data(), cells, o);
  return s;
}

Image profile_regions(const ProbTable& t, const Som& som) {
  const ProbMatConfig& c = t.config();
  LAI_CHECK(som.config().dim == c.bins, "profile regions: SOM dimension ", som.config().dim, " but the ProbMat has ",
            c.bins, " bins");
  const int64_t cells = c.cells();
  std::vector<float> x(size_t(cells) * size_t(c.bins));
  for (int64_t k = 0; k < cells; ++k)
    for (int b = 0; b < c.bins; ++b) x[size_t(k) * size_t(c.bins) + size_t(b)] = t.prob(k, b);
  const auto b = som.bmus(x.data(), cells);
  Image out(c.grid_width(), c.grid_height());
  out.max_value = float(som.units() - 1);
  for (int64_t k = 0; k < cells; ++k) out.pixels[size_t(k)] = float(b[size_t(k)]);
  return out;
}

}  // namespace liteai::anomaly
