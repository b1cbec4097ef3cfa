// Kohonen SOM (see som.hpp). .lsom (version 2): the checked container of anomaly_file.hpp, magic
// "LAISOM\0\0"; header: the SOM's layout (som_layout.hpp); tensor "weights" f32 [units, dim].
// Version 1 (liteai <= 0.3), the binary layout of legacy_file.hpp: header rows, cols, dim,
// topology, toroidal, neighborhood (i32 LE); payload weights f32 LE, units x dim.
#include "liteai/anomaly/som.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "anomaly/anomaly_file.hpp"
#include "anomaly/som_layout.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"

namespace liteai::anomaly {

namespace {
io::ModelFile som_from_legacy(const detail::LegacyFile& f, const std::string& path);
const detail::AnomalyFormat kFormat = {{{'L', 'A', 'I', 'S', 'O', 'M', '\0', '\0'}, 2, "som (.lsom)"}, 1, som_from_legacy};
constexpr int64_t kChunk = 512;  // samples per BMU chunk: fixed, so results do not depend on threads
const float kSqrt3_2 = std::sqrt(3.f) / 2.f;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace

void SomConfig::validate() const {
  LAI_CHECK(rows >= 1 && cols >= 1 && rows <= 4096 && cols <= 4096 && int64_t(rows) * cols <= (1 << 20),
            "som: grid ", rows, "x", cols, " out of range");
  LAI_CHECK(dim >= 1 && dim <= (1 << 24), "som: input dimension ", dim, " out of range (1..", 1 << 24, ")");
  LAI_CHECK(int64_t(rows) * cols * dim <= (int64_t(1) << 31), "som: ", rows, "x", cols, "x", dim,
            " weights are too many");
  check_limit(Limit::tensor_bytes, uint64_t(rows) * uint64_t(cols) * uint64_t(dim) * 4,
              str_cat("som: the weights of a ", rows, "x", cols, " grid of dimension ", dim));
  LAI_CHECK(!(toroidal && topology == SomTopology::Hexagonal && rows % 2 != 0),
            "som: a toroidal hexagonal grid needs an even number of rows, got ", rows);
  LAI_CHECK(int(topology) >= 0 && int(topology) <= 1, "som: bad topology");
  LAI_CHECK(int(neighborhood) >= 0 && int(neighborhood) <= 2, "som: bad neighborhood");
}

Som::Som(const SomConfig& c) : config_(c) {
  config_.validate();
  w_.assign(size_t(c.units()) * size_t(c.dim), 0.f);
  px_.resize(size_t(c.units()));
  py_.resize(size_t(c.units()));
  for (int r = 0; r < c.rows; ++r)
    for (int k = 0; k < c.cols; ++k) {
      const size_t u = size_t(r) * size_t(c.cols) + size_t(k);
      if (c.topology == SomTopology::Hexagonal) {
        px_[u] = float(k) + ((r & 1) ? 0.5f : 0.f);
        py_[u] = float(r) * kSqrt3_2;
      } else {
        px_[u] = float(k);
        py_[u] = float(r);
      }
    }
}

void Som::unit_position(int u, float& x, float& y) const {
  x = px_[size_t(u)];
  y = py_[size_t(u)];
}

float Som::grid_distance(int a, int b) const {
  float dx = std::abs(px_[size_t(a)] - px_[size_t(b)]), dy = std::abs(py_[size_t(a)] - py_[size_t(b)]);
  if (config_.toroidal) {
    const float wx = float(config_.cols);
    const float wy = config_.topology == SomTopology::Hexagonal ? float(config_.rows) * kSqrt3_2 : float(config_.rows);
    dx = std::min(dx, wx - dx);
    dy = std::min(dy, wy - dy);
  }
  return std::sqrt(dx * dx + dy * dy);
}

float Som::neighborhood(float d, float s) const {
  s = std::max(s, 1e-6f);
  const float q = d * d / (s * s);
  switch (config_.neighborhood) {
    case SomNeighborhood::Bubble: return d <= s ? 1.f : 0.f;
    case SomNeighborhood::MexicanHat: return (1.f - q) * std::exp(-0.5f * q);
    case SomNeighborhood::Gaussian:
    default: return std::exp(-0.5f * q);
  }
}

float som_schedule(SomSchedule s, float a, float b, float t) {
  t = std::clamp(t, 0.f, 1.f);
  if (s == SomSchedule::Linear || a <= 0.f || b <= 0.f) return a + (b - a) * t;
  return a * std::pow(b / a, t);
}

void Som::check_data(const float* data, int64_t n, const char* op) const {
  LAI_CHECK(config_.dim > 0 && !w_.empty(), op, ": the SOM has no grid (construct it with a config)");
  LAI_CHECK(n >= 1 && data != nullptr, op, ": no data (", n, " samples)");
}

void Som::init_random(const float* data, int64_t n, uint64_t seed) {
  check_data(data, n, "som init_random");
  const int d = config_.dim;
  std::vector<float> lo(size_t(d), std::numeric_limits<float>::infinity()), hi(size_t(d), -std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) {
      const float v = data[size_t(i) * size_t(d) + size_t(j)];
      lo[size_t(j)] = std::min(lo[size_t(j)], v);
      hi[size_t(j)] = std::max(hi[size_t(j)], v);
    }
  Generator g(seed);
  for (int u = 0; u < units(); ++u)
    for (int j = 0; j < d; ++j) w_[size_t(u) * size_t(d) + size_t(j)] = g.uniform(lo[size_t(j)], hi[size_t(j)]);
}


void Som::init_pca(const float* data, int64_t n) {
  check_data(data, n, "som init_pca");
  const int d = config_.dim;
  // Up to 20k evenly spaced samples are plenty for the two leading components.
  const int64_t stride = std::max<int64_t>(1, n / 20000);
  const int64_t m = (n + stride - 1) / stride;
  Eigen::MatrixXd X(m, d);
  for (int64_t i = 0; i < m; ++i)
    for (int j = 0; j < d; ++j) X(i, j) = data[size_t(i * stride) * size_t(d) + size_t(j)];
  const Eigen::RowVectorXd mean = X.colwise().mean();
  X.rowwise() -= mean;
  Eigen::VectorXd e1 = Eigen::VectorXd::Zero(d), e2 = Eigen::VectorXd::Zero(d);
  double l1 = 0, l2 = 0;
  if (m >= 2) {
    const Eigen::MatrixXd C = (X.transpose() * X) / double(m - 1);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(C);
    const int k = int(es.eigenvalues().size());
    e1 = es.eigenvectors().col(k - 1);
    l1 = std::max(0.0, es.eigenvalues()(k - 1));
    if (k >= 2) {
      e2 = es.eigenvectors().col(k - 2);
      l2 = std::max(0.0, es.eigenvalues()(k - 2));
    }
    // Fix the sign so the init does not depend on the solver's choice.
    auto fix = [](Eigen::VectorXd& v) {
      Eigen::Index i;
      v.cwiseAbs().maxCoeff(&i);
      if (v(i) < 0) v = -v;
    };
    fix(e1);
    fix(e2);
  }
  const bool cols_first = config_.cols >= config_.rows;
  for (int r = 0; r < config_.rows; ++r)
    for (int c = 0; c < config_.cols; ++c) {
      const double a = config_.cols > 1 ? 2.0 * c / (config_.cols - 1) - 1.0 : 0.0;
      const double b = config_.rows > 1 ? 2.0 * r / (config_.rows - 1) - 1.0 : 0.0;
      const double s1 = cols_first ? a : b, s2 = cols_first ? b : a;
      float* w = w_.data() + (size_t(r) * size_t(config_.cols) + size_t(c)) * size_t(d);
      for (int j = 0; j < d; ++j) w[j] = float(mean(j) + s1 * std::sqrt(l1) * e1(j) + s2 * std::sqrt(l2) * e2(j));
    }
}

int Som::bmu(const float* v) const {
  const int d = config_.dim;
  int best = 0;
  float bd = std::numeric_limits<float>::infinity();
  for (int u = 0; u < units(); ++u) {
    const float* w = unit_weights(u);
    float s = 0;
    for (int j = 0; j < d; ++j) s += (v[j] - w[j]) * (v[j] - w[j]);
    if (s < bd) {
      bd = s;
      best = u;
    }
  }
  return best;
}

std::vector<int> Som::bmus(const float* data, int64_t n, std::vector<int>* second, std::vector<float>* sq_dist) const {
  check_data(data, n, "som bmus");
  const int d = config_.dim, U = units();
  Eigen::Map<const RowMat> W(w_.data(), U, d);
  const Eigen::VectorXf ww = W.rowwise().squaredNorm();
  std::vector<int> best(static_cast<size_t>(n));
  if (second) second->assign(size_t(n), 0);
  if (sq_dist) sq_dist->assign(size_t(n), 0.f);
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  parallel_for(0, nchunks, 1, [&](int64_t c0, int64_t c1) {
    RowMat D;
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * kChunk, m = std::min(kChunk, n - i0);
      Eigen::Map<const RowMat> X(data + size_t(i0) * size_t(d), m, d);
      // ||x - w||^2 = ||x||^2 - 2 x.w + ||w||^2; ||x||^2 does not change the argmin, added at the end.
      D.noalias() = X * W.transpose();
      for (int64_t i = 0; i < m; ++i) {
        float b1 = std::numeric_limits<float>::infinity(), b2 = b1;
        int u1 = 0, u2 = 0;
        for (int u = 0; u < U; ++u) {
          const float v = ww(u) - 2.f * D(i, u);
          if (v < b1) {
            b2 = b1;
            u2 = u1;
            b1 = v;
            u1 = u;
          } else if (v < b2) {
            b2 = v;
            u2 = u;
          }
        }
        best[size_t(i0 + i)] = u1;
        if (second) (*second)[size_t(i0 + i)] = U > 1 ? u2 : u1;
        if (sq_dist) (*sq_dist)[size_t(i0 + i)] = std::max(0.f, b1 + X.row(i).squaredNorm());
      }
    }
  });
  return best;
}

double Som::quantization_error(const float* data, int64_t n) const {
  const std::vector<int> b = bmus(data, n);
  // Exact distances (the GEMM form loses digits when ||x|| is large compared to ||x - w||).
  std::vector<double> part(size_t((n + kChunk - 1) / kChunk), 0.0);
  const int d = config_.dim;
  parallel_for(0, int64_t(part.size()), 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
        const float* x = data + size_t(i) * size_t(d);
        const float* w = unit_weights(b[size_t(i)]);
        double q = 0;
        for (int j = 0; j < d; ++j) q += double(x[j] - w[j]) * double(x[j] - w[j]);
        s += std::sqrt(q);
      }
      part[size_t(c)] = s;
    }
  });
  return std::accumulate(part.begin(), part.end(), 0.0) / double(n);
}

double Som::topographic_error(const float* data, int64_t n) const {
  if (units() < 2) return 0.0;
  std::vector<int> second;
  const std::vector<int> b = bmus(data, n, &second);
  const float limit = config_.topology == SomTopology::Hexagonal ? 1.01f : 1.42f;
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i)
    if (grid_distance(b[size_t(i)], second[size_t(i)]) > limit) ++bad;
  return double(bad) / double(n);
}

std::vector<int64_t> Som::hit_map(const float* data, int64_t n) const {
  std::vector<int64_t> h(size_t(units()), 0);
  for (int u : bmus(data, n)) ++h[size_t(u)];
  return h;
}

void Som::train(const float* data, int64_t n, const SomTrainOptions& o) {
  check_data(data, n, "som train");
  LAI_CHECK(o.epochs >= 1, "som train: epochs must be >= 1, got ", o.epochs);
  LAI_CHECK(o.radius_start >= 0 && o.radius_end > 0, "som train: radii must be positive (start ", o.radius_start,
            ", end ", o.radius_end, ")");
  LAI_CHECK(o.mode == SomMode::Batch || (o.lr_start > 0 && o.lr_end > 0 && o.lr_start <= 1),
            "som train: learning rates must be in (0, 1] (start ", o.lr_start, ", end ", o.lr_end, ")");
  for (int64_t i = 0; i < n * config_.dim; ++i)
    LAI_CHECK(std::isfinite(data[i]), "som train: sample ", i / config_.dim, " has a non-finite value");
  if (o.initialize) {
    if (o.init == SomInit::Pca)
      init_pca(data, n);
    else
      init_random(data, n, o.seed);
  }
  const float r0 = o.radius_start > 0 ? o.radius_start : std::max(1.f, float(std::max(config_.rows, config_.cols)) / 2.f);
  if (o.mode == SomMode::Online)
    train_online(data, n, o, r0);
  else
    train_batch(data, n, o, r0);
}

void Som::train_online(const float* data, int64_t n, const SomTrainOptions& o, float r0) {
  const int d = config_.dim, U = units();
  Generator g(o.seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const double total = double(o.epochs) * double(n);
  int64_t step = 0;
  std::vector<float> h(static_cast<size_t>(U));
  for (int e = 0; e < o.epochs; ++e) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(g.below(uint64_t(i + 1)))]);
    for (int64_t k = 0; k < n; ++k, ++step) {
      const float t = total > 1 ? float(double(step) / (total - 1)) : 0.f;
      const float lr = som_schedule(o.schedule, o.lr_start, o.lr_end, t);
      const float rad = som_schedule(o.schedule, r0, o.radius_end, t);
      const float* x = data + size_t(order[size_t(k)]) * size_t(d);
      const int b = bmu(x);
      // Units beyond 4 radii get a negligible pull (Gaussian/Mexican hat) or none (bubble).
      auto update = [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
          const float dist = grid_distance(b, int(u));
          if (dist > 4.f * rad + 1.f) continue;
          const float a = lr * std::max(0.f, neighborhood(dist, rad));  // see som.hpp on the hat
          if (a == 0.f) continue;
          float* w = w_.data() + size_t(u) * size_t(d);
          for (int j = 0; j < d; ++j) w[j] += a * (x[j] - w[j]);
        }
      };
      // Threads only pay off for large maps (one update per sample is short).
      if (int64_t(U) * d < 65536)
        update(0, U);
      else
        parallel_for(0, U, 256, update);
    }
    if (o.progress && !o.progress(e, quantization_error(data, n))) break;
  }
}

void Som::train_batch(const float* data, int64_t n, const SomTrainOptions& o, float r0) {
  const int d = config_.dim, U = units();
  Eigen::MatrixXd H(U, U);
  RowMat S(U, d);
  std::vector<double> cnt(static_cast<size_t>(U));
  std::vector<int64_t> start(static_cast<size_t>(U) + 1), order(static_cast<size_t>(n));
  for (int e = 0; e < o.epochs; ++e) {
    const float t = o.epochs > 1 ? float(e) / float(o.epochs - 1) : 1.f;
    const float rad = som_schedule(o.schedule, r0, o.radius_end, t);
    const std::vector<int> b = bmus(data, n);
    // Bucket samples by BMU (counting sort keeps sample order: deterministic sums).
    std::fill(start.begin(), start.end(), 0);
    for (int u : b) ++start[size_t(u) + 1];
    for (int u = 0; u < U; ++u) start[size_t(u) + 1] += start[size_t(u)];
    {
      std::vector<int64_t> pos(start.begin(), start.end() - 1);
      for (int64_t i = 0; i < n; ++i) order[size_t(pos[size_t(b[size_t(i)])]++)] = i;
    }
    parallel_for(0, U, 16, [&](int64_t u0, int64_t u1) {
      std::vector<double> acc(static_cast<size_t>(d));
      for (int64_t u = u0; u < u1; ++u) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = start[size_t(u)]; k < start[size_t(u) + 1]; ++k) {
          const float* x = data + size_t(order[size_t(k)]) * size_t(d);
          for (int j = 0; j < d; ++j) acc[size_t(j)] += x[j];
        }
        for (int j = 0; j < d; ++j) S(u, j) = float(acc[size_t(j)]);
        cnt[size_t(u)] = double(start[size_t(u) + 1] - start[size_t(u)]);
      }
    });
    for (int a = 0; a < U; ++a)
      for (int c = 0; c < U; ++c) H(a, c) = std::max(0.f, neighborhood(grid_distance(a, c), rad));
    // New weights: (H S) / (H n), a matrix product; units with no (or negative) support keep theirs.
    const RowMat num = (H.cast<float>() * S);
    Eigen::Map<const Eigen::VectorXd> cv(cnt.data(), U);
    const Eigen::VectorXd den = H * cv;
    for (int u = 0; u < U; ++u) {
      if (!(den(u) > 1e-6)) continue;
      float* w = w_.data() + size_t(u) * size_t(d);
      for (int j = 0; j < d; ++j) w[j] = float(num(u, j) / den(u));
    }
    if (o.progress && !o.progress(e, quantization_error(data, n))) break;
  }
}

std::vector<float> Som::umatrix() const {
  const int d = config_.dim, U = units();
  const float limit = config_.topology == SomTopology::Hexagonal ? 1.01f : 1.01f;
  std::vector<float> um(size_t(U), 0.f);
  for (int a = 0; a < U; ++a) {
    double s = 0;
    int k = 0;
    // Neighbours lie within two rows/cols (any wrap included).
    for (int b = 0; b < U; ++b) {
      if (a == b || grid_distance(a, b) > limit) continue;
      double q = 0;
      for (int j = 0; j < d; ++j) {
        const double t = double(unit_weights(a)[j]) - unit_weights(b)[j];
        q += t * t;
      }
      s += std::sqrt(q);
      ++k;
    }
    um[size_t(a)] = k ? float(s / k) : 0.f;
  }
  return um;
}

data::Image Som::umatrix_image(int cell) const {
  LAI_CHECK(cell >= 1 && cell <= 256, "som umatrix: cell size ", cell, " out of range");
  const std::vector<float> um = umatrix();
  const bool hex = config_.topology == SomTopology::Hexagonal;
  const int W = config_.cols * cell + (hex ? cell / 2 : 0), H = config_.rows * cell;
  float lo = *std::min_element(um.begin(), um.end()), hi = *std::max_element(um.begin(), um.end());
  if (!(hi > lo)) hi = lo + 1.f;
  data::Image img(W, H, -1.f);
  for (int r = 0; r < config_.rows; ++r)
    for (int c = 0; c < config_.cols; ++c) {
      const int x0 = c * cell + ((hex && (r & 1)) ? cell / 2 : 0);
      const float v = (um[size_t(r) * size_t(config_.cols) + size_t(c)] - lo) / (hi - lo);
      for (int y = r * cell; y < (r + 1) * cell; ++y)
        for (int x = x0; x < x0 + cell; ++x) img.at(x, y) = v;
    }
  for (float& v : img.pixels) v = std::max(v, 0.f);
  img.max_value = 1.f;
  return img;
}

void Som::write_umatrix_png(const std::string& path, int cell) const {
  write_heatmap_png(path, umatrix_image(cell), 0.f, 1.f);
}

namespace detail {
namespace {
constexpr const char* kTopologies[] = {"rectangular", "hexagonal"};
constexpr const char* kNeighborhoods[] = {"gaussian", "bubble", "mexican_hat"};
}  // namespace

io::Json som_layout_to_json(const SomConfig& c) {
  io::Json h = io::Json::object();
  h.set("rows", c.rows);
  h.set("cols", c.cols);
  h.set("dim", c.dim);
  h.set("topology", kTopologies[int(c.topology)]);
  h.set("toroidal", c.toroidal);
  h.set("neighborhood", kNeighborhoods[int(c.neighborhood)]);
  return h;
}

SomConfig som_layout_from_json(const io::Json& h, const std::string& path) {
  const std::string what = path + " header";
  LAI_CHECK_FORMAT(h.is_object(), what, ": the SOM layout must be an object (found ", h.type_name(), ")");
  auto size = [&](const char* key) { return header_int(h, key, what); };
  auto pick = [&](const char* key, const auto& names) {
    const std::string& v = h.get_string(key, what);
    for (size_t i = 0; i < std::size(names); ++i)
      if (v == names[i]) return int(i);
    throw_error(ErrorKind::format, str_cat(path, ": invalid header: ", key, " '", v, "'"));
  };
  SomConfig c;
  c.rows = size("rows");
  c.cols = size("cols");
  c.dim = size("dim");
  c.topology = SomTopology(pick("topology", kTopologies));
  c.toroidal = h.get_bool("toroidal", what);
  c.neighborhood = SomNeighborhood(pick("neighborhood", kNeighborhoods));
  try {
    c.validate();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::invalid_argument) throw;  // a limit stays a limit
    throw_error(ErrorKind::format, str_cat(path, ": invalid header: ", e.what()));
  }
  return c;
}

io::Json read_legacy_som_layout(ByteReader& r, const std::string& path) {
  io::Json h = io::Json::object();
  for (const char* key : {"rows", "cols", "dim"}) h.set(key, r.i32(key));
  const int topo = r.i32("topology"), tor = r.i32("toroidal"), nb = r.i32("neighborhood");
  LAI_CHECK_FORMAT(topo == 0 || topo == 1, path, ": invalid header: topology ", topo, " (0 rectangular, 1 hexagonal)");
  LAI_CHECK_FORMAT(tor == 0 || tor == 1, path, ": invalid header: toroidal flag ", tor);
  LAI_CHECK_FORMAT(nb >= 0 && nb <= 2, path, ": invalid header: neighborhood ", nb);
  h.set("topology", kTopologies[topo]);
  h.set("toroidal", tor == 1);
  h.set("neighborhood", kNeighborhoods[nb]);
  return h;
}
}  // namespace detail

namespace {
io::ModelFile som_from_legacy(const detail::LegacyFile& f, const std::string& path) {
  detail::ByteReader r(f.header.data(), f.header.size(), path + " header");
  io::ModelFile out;
  out.header = detail::read_legacy_som_layout(r, path);
  const SomConfig c = detail::som_layout_from_json(out.header, path);
  const uint64_t expect = detail::checked_mul(uint64_t(c.units()) * uint64_t(c.dim), 4, "som weights");
  LAI_CHECK(f.payload.size() == expect, path, ": payload is ", f.payload.size(), " bytes, a ", c.rows, "x", c.cols,
            " SOM of dimension ", c.dim, " needs ", expect);
  Tensor w = Tensor::empty({c.units(), c.dim});
  detail::ByteReader p(f.payload.data(), f.payload.size(), path + " payload");
  p.array(w.raw_data(), size_t(w.numel()), 4, "weights");
  out.tensors = {{"weights", w}};
  return out;
}
}  // namespace

void Som::save(const std::string& path) const {
  LAI_CHECK(!w_.empty(), "som save: empty SOM");
  Tensor w = Tensor::empty({config_.units(), config_.dim});
  std::copy(w_.begin(), w_.end(), w.data());
  detail::save_anomaly_file(kFormat, path, detail::som_layout_to_json(config_), {{"weights", w}});
}

Som Som::load(const std::string& path) {
  // Everything the file fails to satisfy is a damaged file (format).
  return reclassify(ErrorKind::format, [&] {
    const io::ModelFile f = detail::load_anomaly_file(kFormat, path);
    const SomConfig c = detail::som_layout_from_json(f.header, path);
    const Tensor& w = detail::require_tensor(f, "weights", DType::f32, {c.units(), c.dim});
    Som s(c);
    std::copy(w.data(), w.data() + w.numel(), s.w_.begin());
    for (size_t i = 0; i < s.w_.size(); ++i)
      LAI_CHECK(std::isfinite(s.w_[i]), path, ": weight ", i, " is not finite");
    return s;
  });
}

}  // namespace liteai::anomaly
