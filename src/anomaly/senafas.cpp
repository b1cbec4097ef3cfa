// senafas anomaly channel (see senafas.hpp). .lsnf (version 2): the checked container of
// anomaly_file.hpp, magic "LAISNF\0\0":
//   header:  {"width", "height", "patch", "pool", "dim", "log_scale": bool, "floor",
//             "som": the SOM's layout (som_layout.hpp)}
//   tensors: "som_weights" f32 [units, dim], "cell_mean" f32 [cells], "cell_sd" f32 [cells]
// Version 1 (liteai <= 0.3), the binary layout of legacy_file.hpp: header width, height, patch,
// pool, dim, log_scale (i32), floor f32, the SOM's layout (i32); payload the same arrays (f32 LE).
#include "liteai/anomaly/senafas.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "anomaly/anomaly_file.hpp"
#include "anomaly/som_layout.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

using data::Image;

namespace {
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

namespace detail {
struct SenafasFile {
  // An unfitted channel of the shape a header describes, every field checked.
  static Senafas from_header(const io::Json& header, const std::string& path);
  static io::ModelFile from_legacy(const LegacyFile& file, const std::string& path);
};
}  // namespace detail

namespace {
const detail::AnomalyFormat kFormat = {
    {{'L', 'A', 'I', 'S', 'N', 'F', '\0', '\0'}, 2, "senafas (.lsnf)"}, 1, detail::SenafasFile::from_legacy};
}  // namespace

void Senafas::save(const std::string& path) const {
  LAI_CHECK(fitted(), "senafas save: not fitted");
  const SomConfig& c = som_.config();
  io::Json h = io::Json::object();
  h.set("width", width_);
  h.set("height", height_);
  h.set("patch", patch_);
  h.set("pool", pool_);
  h.set("dim", dim_);
  h.set("log_scale", log_scale_);
  h.set("floor", floor_);
  h.set("som", detail::som_layout_to_json(c));
  auto f32 = [](const std::vector<float>& v, Shape shape) {
    Tensor t = Tensor::empty(shape);
    std::copy(v.begin(), v.end(), t.data());
    return t;
  };
  const int64_t cells = int64_t(mu_.size());
  detail::save_anomaly_file(kFormat, path, h,
                            {{"som_weights", f32(som_.weights(), {c.units(), c.dim})},
                             {"cell_mean", f32(mu_, {cells})},
                             {"cell_sd", f32(sd_, {cells})}});
}

namespace detail {
io::ModelFile SenafasFile::from_legacy(const LegacyFile& f, const std::string& path) {
  detail::ByteReader r(f.header.data(), f.header.size(), path + " header");
  io::Json h = io::Json::object();
  for (const char* key : {"width", "height", "patch", "pool", "dim"}) h.set(key, r.i32(key));
  const int log_flag = r.i32("log_scale");
  LAI_CHECK_FORMAT(log_flag == 0 || log_flag == 1, path, ": invalid header: log_scale flag ", log_flag);
  h.set("log_scale", log_flag == 1);
  h.set("floor", r.f32("floor"));
  h.set("som", detail::read_legacy_som_layout(r, path));
  LAI_CHECK_FORMAT(r.remaining() == 0, path, ": invalid header: ", r.remaining(), " unexpected trailing bytes");
  // The arrays' sizes follow from the header, checked as the current layout's are.
  const Senafas shape = from_header(h, path);
  const SomConfig& c = shape.som_.config();
  const uint64_t cells = uint64_t(shape.grid_width()) * uint64_t(shape.grid_height());
  const uint64_t weights = uint64_t(c.units()) * uint64_t(c.dim);
  const uint64_t expect = detail::checked_mul(weights + 2 * cells, 4, "senafas payload");
  LAI_CHECK(f.payload.size() == expect, path, ": payload is ", f.payload.size(), " bytes, a ", c.rows, "x", c.cols,
            " SOM of dimension ", c.dim, " and ", cells, " cells need ", expect);
  detail::ByteReader p(f.payload.data(), f.payload.size(), path + " payload");
  auto f32 = [&](Shape s, const char* field) {
    Tensor t = Tensor::empty(s);
    p.array(t.raw_data(), size_t(t.numel()), 4, field);
    return t;
  };
  io::ModelFile out;
  out.header = std::move(h);
  Tensor w = f32({c.units(), c.dim}, "SOM weights");
  Tensor mu = f32({int64_t(cells)}, "cell means");
  out.tensors = {{"som_weights", w}, {"cell_mean", mu}, {"cell_sd", f32({int64_t(cells)}, "cell standard deviations")}};
  return out;
}

Senafas SenafasFile::from_header(const io::Json& h, const std::string& path) {
  const std::string what = path + " header";
  LAI_CHECK_FORMAT(h.is_object(), what, ": must be an object (found ", h.type_name(), ")");
  auto field = [&](const char* key) { return detail::header_int(h, key, what); };
  Senafas s;
  s.width_ = field("width");
  s.height_ = field("height");
  s.patch_ = field("patch");
  s.pool_ = field("pool");
  s.dim_ = field("dim");
  s.log_scale_ = h.get_bool("log_scale", what);
  s.floor_ = float(h.get_number("floor", what));
  const SomConfig c = detail::som_layout_from_json(h.get_object("som", what), path);
  LAI_CHECK_FORMAT(s.width_ >= 1 && s.height_ >= 1 && s.width_ <= (1 << 16) && s.height_ <= (1 << 16), path,
                   ": invalid header: map size ", s.width_, "x", s.height_);
  LAI_CHECK_FORMAT(s.patch_ >= 1 && s.patch_ <= 256, path, ": invalid header: patch ", s.patch_);
  LAI_CHECK_FORMAT(s.pool_ >= 1 && s.pool_ <= s.patch_, path, ": invalid header: pool ", s.pool_, " for patch ",
                   s.patch_);
  const int side = pooled_side(s.patch_, s.pool_);
  LAI_CHECK_FORMAT(s.dim_ == side * side, path, ": invalid header: dim ", s.dim_, " but patch ", s.patch_,
                   " pooled by ", s.pool_, " gives ", side * side);
  LAI_CHECK_FORMAT(std::isfinite(s.floor_) && s.floor_ > 0.f, path, ": invalid header: sd floor ", s.floor_);
  LAI_CHECK_FORMAT(c.dim == s.dim_, path, ": invalid header: the SOM's dimension ", c.dim,
                   " is not the patch dimension ", s.dim_);
  s.som_ = Som(c);
  return s;
}
}  // namespace detail

Senafas Senafas::load(const std::string& path) {
  // Everything the file fails to satisfy is a damaged file (format).
  return reclassify(ErrorKind::format, [&] {
    const io::ModelFile f = detail::load_anomaly_file(kFormat, path);
    Senafas s = detail::SenafasFile::from_header(f.header, path);
    const SomConfig& c = s.som_.config();
    const int64_t cells = int64_t(s.grid_width()) * s.grid_height();
    const Tensor& w = detail::require_tensor(f, "som_weights", DType::f32, {c.units(), c.dim});
    const Tensor& mu = detail::require_tensor(f, "cell_mean", DType::f32, {cells});
    const Tensor& sd = detail::require_tensor(f, "cell_sd", DType::f32, {cells});
    std::copy(w.data(), w.data() + w.numel(), s.som_.weights().begin());
    s.mu_.assign(mu.data(), mu.data() + cells);
    s.sd_.assign(sd.data(), sd.data() + cells);
    for (size_t i = 0; i < s.som_.weights().size(); ++i)
      LAI_CHECK(std::isfinite(s.som_.weights()[i]), path, ": SOM weight ", i, " is not finite");
    for (size_t k = 0; k < size_t(cells); ++k) {
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
