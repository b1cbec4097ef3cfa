// senafas anomaly channel (see senafas.hpp). .lsnf layout (version 1) inside the checked
// container of checked_file.hpp:
//   header: width i32, height i32, patch i32, pool i32, dim i32, log_scale i32 (0/1), floor f32,
//           SOM rows i32, cols i32, topology i32, toroidal i32, neighborhood i32
//   payload: SOM weights f32 (units x dim), cell mean f32 (cells), cell sd f32 (cells)
#include "liteai/anomaly/senafas.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "anomaly/checked_file.hpp"
#include "anomaly/som_layout.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

using data::Image;

namespace {
constexpr char kMagic[8] = {'L', 'A', 'I', 'S', 'N', 'F', '\0', '\0'};
constexpr uint32_t kVersion = 1;
// SOM training sees at most this many patches (a deterministic stride sample); the per-cell
// calibration always uses every patch of every map.
constexpr int64_t kMaxTrainPatches = 200'000;

int pooled_side(int patch, int pool) { return (patch + pool - 1) / pool; }
}  // namespace

void Senafas::check_map(const Image& map, const char* op) const {
  LAI_CHECK(dim_ > 0, op, ": not fitted");
  LAI_CHECK(map.width == width_ && map.height == height_, op, ": map is ", map.width, "x", map.height,
            ", the model was fitted on ", width_, "x", height_);
  LAI_CHECK(map.pixels.size() == size_t(width_) * size_t(height_), op, ": map has ", map.pixels.size(),
            " pixels, expected ", size_t(width_) * size_t(height_));
}

std::vector<float> Senafas::patch_features(const Image& map, int64_t* count) const {
  check_map(map, "senafas");
  const int p = patch_, q = pool_, d = pooled_side(p, q), gw = grid_width(), gh = grid_height();
  const int64_t n = int64_t(gw) * gh;
  float pad = INFINITY;
  for (float v : map.pixels) pad = std::min(pad, v);
  std::vector<float> out(size_t(n) * size_t(dim_));
  parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    std::vector<float> sum(static_cast<size_t>(dim_));
    std::vector<int> cnt(static_cast<size_t>(dim_));
    for (int64_t k = b; k < e; ++k) {
      const int px = int(k % gw) * p, py = int(k / gw) * p;
      std::fill(sum.begin(), sum.end(), 0.f);
      std::fill(cnt.begin(), cnt.end(), 0);
      for (int y = 0; y < p && py + y < height_; ++y)
        for (int x = 0; x < p && px + x < width_; ++x) {
          const size_t s = size_t(y / q) * size_t(d) + size_t(x / q);
          sum[s] += map.at(px + x, py + y);
          ++cnt[s];
        }
      float* f = out.data() + size_t(k) * size_t(dim_);
      for (int j = 0; j < dim_; ++j) f[j] = cnt[size_t(j)] ? sum[size_t(j)] / float(cnt[size_t(j)]) : pad;
    }
  });
  if (count) *count = n;
  return out;
}

std::vector<float> Senafas::patch_qe(const Image& map) const {
  int64_t n = 0;
  const auto f = patch_features(map, &n);
  std::vector<float> d2;
  som_.bmus(f.data(), n, nullptr, &d2);
  std::vector<float> qe(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) qe[size_t(k)] = std::sqrt(std::max(0.f, d2[size_t(k)]));
  return qe;
}

void Senafas::fit(const std::vector<Image>& maps, const SenafasOptions& o) {
  LAI_CHECK(maps.size() >= 2, "senafas fit: needs at least 2 normal maps for the per-cell calibration, got ",
            maps.size());
  LAI_CHECK(o.patch >= 1 && o.patch <= 256, "senafas fit: patch ", o.patch, " out of range 1..256");
  LAI_CHECK(o.max_features >= 1, "senafas fit: max_features must be >= 1, got ", o.max_features);
  LAI_CHECK(std::isfinite(o.sd_floor) && o.sd_floor >= 0.f, "senafas fit: sd_floor must be >= 0, got ",
            o.sd_floor);
  const int w = maps[0].width, h = maps[0].height;
  LAI_CHECK(w >= 1 && h >= 1, "senafas fit: empty map");
  for (size_t i = 0; i < maps.size(); ++i) {
    LAI_CHECK(maps[i].width == w && maps[i].height == h, "senafas fit: map ", i, " is ", maps[i].width, "x",
              maps[i].height, ", map 0 is ", w, "x", h);
    for (float v : maps[i].pixels) LAI_CHECK(std::isfinite(v), "senafas fit: map ", i, " has a non-finite value");
  }
  Senafas s;
  s.patch_ = o.patch;
  s.width_ = w;
  s.height_ = h;
  s.log_scale_ = o.log_scale;
  s.pool_ = 1;
  while (int64_t(pooled_side(o.patch, s.pool_)) * pooled_side(o.patch, s.pool_) > o.max_features) ++s.pool_;
  s.dim_ = pooled_side(o.patch, s.pool_) * pooled_side(o.patch, s.pool_);

  // SOM on the patches of all maps (stride sample when there are very many).
  const int64_t cells = int64_t(s.grid_width()) * s.grid_height();
  const int64_t total = cells * int64_t(maps.size());
  const int64_t stride = (total + kMaxTrainPatches - 1) / kMaxTrainPatches;
  std::vector<float> train;
  int64_t taken = 0, index = 0;
  for (const Image& m : maps) {
    const auto f = s.patch_features(m);
    for (int64_t k = 0; k < cells; ++k, ++index)
      if (index % stride == 0) {
        train.insert(train.end(), f.begin() + k * s.dim_, f.begin() + (k + 1) * s.dim_);
        ++taken;
      }
  }
  SomConfig c;
  c.rows = o.rows;
  c.cols = o.cols;
  c.dim = s.dim_;
  s.som_ = Som(c);
  s.som_.train(train.data(), taken, o.train);
  train = {};

  // Per-cell calibration on every patch of every map (two-pass sums in double: exact enough and
  // independent of the thread count).
  std::vector<double> sum(size_t(cells), 0.0), sq(size_t(cells), 0.0);
  for (const Image& m : maps) {
    const auto qe = s.patch_qe(m);
    for (int64_t k = 0; k < cells; ++k) {
      sum[size_t(k)] += qe[size_t(k)];
      sq[size_t(k)] += double(qe[size_t(k)]) * qe[size_t(k)];
    }
  }
  const double n = double(maps.size());
  s.mu_.resize(size_t(cells));
  s.sd_.resize(size_t(cells));
  double mean_sd = 0;
  for (int64_t k = 0; k < cells; ++k) {
    const double mu = sum[size_t(k)] / n;
    const double var = std::max(0.0, (sq[size_t(k)] - n * mu * mu) / (n - 1));
    s.mu_[size_t(k)] = float(mu);
    s.sd_[size_t(k)] = float(std::sqrt(var));
    mean_sd += std::sqrt(var);
  }
  mean_sd /= double(cells);
  // The floor keeps cells that happened to be constant on the normal maps from turning noise
  // into huge levels; the absolute 1e-6 only matters when every map was constant.
  s.floor_ = float(std::max(double(o.sd_floor) * mean_sd, 1e-6));
  *this = std::move(s);
}

Image Senafas::quantization_errors(const Image& map) const {
  LAI_CHECK(fitted(), "senafas: not fitted");
  const auto qe = patch_qe(map);
  Image out(grid_width(), grid_height());
  out.pixels = qe;
  out.max_value = 1.f;
  return out;
}

Image Senafas::channel(const Image& map) const {
  LAI_CHECK(fitted(), "senafas channel: not fitted");
  Image out = quantization_errors(map);
  for (size_t k = 0; k < out.pixels.size(); ++k) {
    const float z = std::max(0.f, (out.pixels[k] - mu_[k]) / (sd_[k] + floor_));
    out.pixels[k] = log_scale_ ? std::log1p(z) : z;
  }
  return out;
}

double Senafas::image_score(const Image& channel) {
  LAI_CHECK(!channel.pixels.empty(), "senafas image_score: empty channel");
  return double(*std::max_element(channel.pixels.begin(), channel.pixels.end()));
}

void Senafas::save(const std::string& path) const {
  LAI_CHECK(fitted(), "senafas save: not fitted");
  const SomConfig& c = som_.config();
  detail::ByteWriter h;
  h.i32(width_);
  h.i32(height_);
  h.i32(patch_);
  h.i32(pool_);
  h.i32(dim_);
  h.i32(log_scale_ ? 1 : 0);
  h.f32(floor_);
  detail::write_som_layout(h, c);
  detail::ByteWriter p;
  p.array_f32(som_.weights().data(), som_.weights().size());
  p.array_f32(mu_.data(), mu_.size());
  p.array_f32(sd_.data(), sd_.size());
  detail::write_checked_file(path, kMagic, kVersion, h.buffer(), p.buffer());
}

Senafas Senafas::load(const std::string& path) {
  // Everything the file fails to satisfy is a damaged file (format).
  return reclassify(ErrorKind::format, [&] {
    detail::CheckedFile f = detail::read_checked_file(path, kMagic, kVersion, "senafas (.lsnf)");
    detail::ByteReader h(f.header.data(), f.header.size(), path + " header");
    Senafas s;
    s.width_ = h.i32("width");
    s.height_ = h.i32("height");
    s.patch_ = h.i32("patch");
    s.pool_ = h.i32("pool");
    s.dim_ = h.i32("dim");
    const int log_flag = h.i32("log_scale");
    s.floor_ = h.f32("floor");
    const SomConfig c = detail::read_som_layout(h, path);
    LAI_CHECK_FORMAT(h.remaining() == 0, path, ": invalid header: ", h.remaining(), " unexpected trailing bytes");
    LAI_CHECK_FORMAT(s.width_ >= 1 && s.height_ >= 1 && s.width_ <= (1 << 16) && s.height_ <= (1 << 16), path,
              ": invalid header: map size ", s.width_, "x", s.height_);
    LAI_CHECK_FORMAT(s.patch_ >= 1 && s.patch_ <= 256, path, ": invalid header: patch ", s.patch_);
    LAI_CHECK_FORMAT(s.pool_ >= 1 && s.pool_ <= s.patch_, path, ": invalid header: pool ", s.pool_, " for patch ", s.patch_);
    const int side = pooled_side(s.patch_, s.pool_);
    LAI_CHECK_FORMAT(s.dim_ == side * side, path, ": invalid header: dim ", s.dim_, " but patch ", s.patch_, " pooled by ",
              s.pool_, " gives ", side * side);
    LAI_CHECK_FORMAT(log_flag == 0 || log_flag == 1, path, ": invalid header: log_scale flag ", log_flag);
    LAI_CHECK_FORMAT(std::isfinite(s.floor_) && s.floor_ > 0.f, path, ": invalid header: sd floor ", s.floor_);
    LAI_CHECK_FORMAT(c.dim == s.dim_, path, ": invalid header: the SOM's dimension ", c.dim, " is not the patch dimension ",
              s.dim_);
    s.log_scale_ = log_flag == 1;
    const uint64_t cells = uint64_t(s.grid_width()) * uint64_t(s.grid_height());
    const uint64_t weights = uint64_t(c.units()) * uint64_t(c.dim);
    const uint64_t expect = detail::checked_mul(weights + 2 * cells, 4, "senafas payload");
    LAI_CHECK(f.payload.size() == expect, path, ": payload is ", f.payload.size(), " bytes, a ", c.rows, "x", c.cols,
              " SOM of dimension ", c.dim, " and ", cells, " cells need ", expect);
    s.som_ = Som(c);
    s.mu_.resize(size_t(cells));
    s.sd_.resize(size_t(cells));
    detail::ByteReader p(f.payload.data(), f.payload.size(), path + " payload");
    p.array_f32(s.som_.weights().data(), s.som_.weights().size(), "SOM weights");
    p.array_f32(s.mu_.data(), s.mu_.size(), "cell means");
    p.array_f32(s.sd_.data(), s.sd_.size(), "cell standard deviations");
    for (size_t i = 0; i < s.som_.weights().size(); ++i)
      LAI_CHECK(std::isfinite(s.som_.weights()[i]), path, ": SOM weight ", i, " is not finite");
    for (size_t k = 0; k < cells; ++k) {
      LAI_CHECK(std::isfinite(s.mu_[k]), path, ": cell mean ", k, " is not finite");
      LAI_CHECK(std::isfinite(s.sd_[k]) && s.sd_[k] >= 0.f, path, ": cell standard deviation ", k, " is ", s.sd_[k]);
    }
    return s;
  });
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
