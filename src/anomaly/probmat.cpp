// ProbMat accumulation, merge, finalize (histogram KDE) and the .lpm file.
//
// .lpm (version 3): the checked container of anomaly_file.hpp, magic "LAIPMAT\0".
//   header:  {"width", "height", "bins", "count_bits", "scale", "tolerance", "lo", "hi", "images",
//             "grid_width", "grid_height", "calibration" (optional: ProbMatCalibration::to_json,
//             the finalize and WPM settings, score and circle settings, the normal scores)}
//   tensors: "counts" u16 or u32 [cells, bins] (cell-major), "shifts" u8 [cells] (halvings
//            applied to that cell's counts)
// Versions 1 and 2 (liteai <= 0.3) are the binary layout of legacy_file.hpp:
//   header: width i32, height i32, bins i32, count_bits i32, scale i32, tolerance i32,
//           lo f32, hi f32, images u64, grid_width i32, grid_height i32      (48 bytes, LE)
//           version 2: + calibration_bytes u64                               (56 bytes)
//   payload: counts (u16 or u32 LE), shifts (u8), version 2: calibration_bytes of UTF-8 JSON
// They load through the same checks (translated into the version 3 header and tensors).
#include "liteai/anomaly/probmat.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "anomaly/anomaly_file.hpp"
#include "liteai/anomaly/calibration.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

namespace {

io::ModelFile probmat_from_legacy(const detail::LegacyFile& f, const std::string& path);
const detail::AnomalyFormat kFormat = {
    {{'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'}, 3, "probmat (.lpm)"}, 2, probmat_from_legacy};
constexpr uint64_t kMaxCalibrationBytes = 256ull << 20;  // far above any real calibration (JSON of the scores)
constexpr int kMaxSide = 1 << 16;

bool valid_bins(int b) { return b == 32 || b == 64 || b == 128 || b == 256; }

// Cells per tile so a tile's histograms take about 256 KB (stay in L2 while a batch is counted).
int64_t tile_cells(const ProbMatConfig& c) {
  const int64_t per_cell = int64_t(c.bins) * (c.count_bits / 8);
  return std::max<int64_t>(16, (256 * 1024) / per_cell);
}

}  // namespace

void ProbMatConfig::validate() const {
  LAI_CHECK(width >= 1 && width <= kMaxSide && height >= 1 && height <= kMaxSide,
            "probmat: image size ", width, "x", height, " out of range (1..", kMaxSide, ")");
  LAI_CHECK(valid_bins(bins), "probmat: bins must be 256, 128, 64 or 32, got ", bins);
  LAI_CHECK(count_bits == 16 || count_bits == 32, "probmat: counts must be 16 or 32 bits, got ", count_bits);
  LAI_CHECK(scale >= 1 && scale <= 256, "probmat: scale must be in 1..256, got ", scale);
  LAI_CHECK(tolerance >= 0 && tolerance <= 64, "probmat: tolerance must be in 0..64, got ", tolerance);
  LAI_CHECK(std::isfinite(lo) && std::isfinite(hi) && hi > lo, "probmat: intensity range [", lo, ", ", hi,
            "] is not a finite increasing range");
  // Each side is bounded above; the products are what allocates (46341 x 46341 x 256 x 4 = 2.2 TB).
  check_image_size(width, height, "probmat");
  check_limit(Limit::tensor_bytes, count_bytes(),
              str_cat("probmat: the counts of a ", grid_width(), "x", grid_height(), " grid x ", bins, " bins x ",
                      count_bits / 8, " bytes"));
}

std::string ProbMatConfig::describe() const {
  return str_cat(width, "x", height, " bins=", bins, " counts=u", count_bits, " scale=", scale,
                 " tol=", tolerance, " range=[", lo, ",", hi, "] grid=", grid_width(), "x", grid_height(),
                 " memory=", double(count_bytes()) / (1024.0 * 1024.0), " MB");
}

ProbMat::ProbMat(const ProbMatConfig& config) : config_(config) {
  config_.validate();
  const size_t n = size_t(config_.cells()) * size_t(config_.bins);
  if (config_.count_bits == 32)
    c32_.assign(n, 0);
  else
    c16_.assign(n, 0);
  shift_.assign(size_t(config_.cells()), 0);
  phase_.assign(size_t(config_.cells()), 0);
}

size_t ProbMat::memory_bytes() const { return c32_.size() * 4 + c16_.size() * 2 + shift_.size() + phase_.size() * 4; }

int ProbMat::bin_of(float v) const {
  const float t = (v - config_.lo) / (config_.hi - config_.lo) * float(config_.bins);
  if (!(t > 0.f)) return 0;  // also NaN
  const int b = static_cast<int>(t);
  return b >= config_.bins ? config_.bins - 1 : b;
}

uint64_t ProbMat::count(int64_t cell, int bin) const {
  const size_t i = size_t(cell) * size_t(config_.bins) + size_t(bin);
  return config_.count_bits == 32 ? c32_[i] : c16_[i];
}

std::vector<double> ProbMat::histogram(int64_t cell) const {
  LAI_CHECK(cell >= 0 && cell < config_.cells(), "probmat: cell ", cell, " out of range");
  std::vector<double> h(size_t(config_.bins));
  const double mul = std::ldexp(1.0, shift_[size_t(cell)]);
  for (int b = 0; b < config_.bins; ++b) h[size_t(b)] = double(count(cell, b)) * mul;
  return h;
}

namespace {

// Counts one batch into the cells [c0, c1). The batch is quantized pixel-major: qt[pixel * B + i]
// is the bin of image i at that pixel, so a cell's samples are B contiguous bytes per pixel of its
// window and its histogram stays in L1 while they are counted. T is the count type.
template <class T>
void count_tile(const ProbMatConfig& cfg, const uint8_t* qt, int64_t B, int64_t c0, int64_t c1, T* counts,
                uint8_t* shifts, uint32_t* phase) {
  const int gw = cfg.grid_width(), W = cfg.width, H = cfg.height, s = cfg.scale, t = cfg.tolerance;
  const int bins = cfg.bins;
  constexpr T kMax = std::numeric_limits<T>::max();
  for (int64_t c = c0; c < c1; ++c) {
    T* h = counts + size_t(c) * size_t(bins);
    uint8_t sh = shifts[c];
    uint32_t ph = phase[c];
    // After sh halvings a cell counts one sample in 2^sh (each standing for 2^sh), so earlier
    // and later samples keep the same weight.
    auto count = [&](const uint8_t* smp) {
      for (int64_t i = 0; i < B; ++i) {
        if (sh != 0 && (ph++ & ((1u << sh) - 1u)) != 0) continue;
        const uint8_t b = smp[i];
        if (h[b] == kMax) {
          for (int k = 0; k < bins; ++k) h[k] = static_cast<T>(h[k] >> 1);
          LAI_CHECK(sh < 31, "probmat: count shift overflow at cell ", c);
          ++sh;
          ph = 1;  // this sample is the first counted at the new rate
        }
        ++h[b];
      }
    };
    if (s == 1 && t == 0) {
      count(qt + size_t(c) * size_t(B));
    } else {
      const int cx = int(c % gw), cy = int(c / gw);
      const int x0 = std::max(0, cx * s - t), x1 = std::min(W, cx * s + s + t);
      const int y0 = std::max(0, cy * s - t), y1 = std::min(H, cy * s + s + t);
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) count(qt + (size_t(y) * size_t(W) + size_t(x)) * size_t(B));
    }
    shifts[c] = sh;
    phase[c] = ph;
  }
}

// Adds src (with its shift) into dst (with its shift) for one cell, halving as needed.
template <class T>
void merge_cell(T* dst, uint8_t& dshift, const T* src, uint8_t sshift, int bins) {
  constexpr uint64_t kMax = std::numeric_limits<T>::max();
  const int s = std::max(dshift, sshift);
  std::vector<uint64_t> sum(static_cast<size_t>(bins));
  uint64_t mx = 0;
  for (int b = 0; b < bins; ++b) {
    const int da = s - dshift, db = s - sshift;
    sum[size_t(b)] = (da >= 64 ? 0 : uint64_t(dst[b]) >> da) + (db >= 64 ? 0 : uint64_t(src[b]) >> db);
    mx = std::max(mx, sum[size_t(b)]);
  }
  int extra = 0;
  while ((mx >> extra) > kMax) ++extra;
  LAI_CHECK(s + extra <= 31, "probmat: merge shift overflow");
  for (int b = 0; b < bins; ++b) dst[b] = static_cast<T>(sum[size_t(b)] >> extra);
  dshift = static_cast<uint8_t>(s + extra);
}

}  // namespace

void ProbMat::add_batch(const std::vector<const data::Image*>& batch) {
  LAI_CHECK(config_.width > 0, "probmat: add on an empty ProbMat (construct it with a config)");
  if (batch.empty()) return;
  const int W = config_.width, H = config_.height;
  for (size_t i = 0; i < batch.size(); ++i) {
    LAI_CHECK(batch[i] != nullptr, "probmat: image ", i, " of the batch is null");
    LAI_CHECK(batch[i]->width == W && batch[i]->height == H && batch[i]->pixels.size() == size_t(W) * size_t(H),
              "probmat: image ", i, " of the batch is ", batch[i]->width, "x", batch[i]->height,
              ", the ProbMat expects ", W, "x", H, " (resize first)");
  }
  std::vector<const float*> planes;
  for (const data::Image* im : batch) planes.push_back(im->pixels.data());
  add_pointers(planes);
}

void ProbMat::add_planes(const float* p, int64_t count) {
  LAI_CHECK(config_.width > 0, "probmat: add on an empty ProbMat (construct it with a config)");
  LAI_CHECK(count >= 0 && (p != nullptr || count == 0), "probmat: add_planes needs data");
  std::vector<const float*> planes;
  for (int64_t i = 0; i < count; ++i) planes.push_back(p + size_t(i) * size_t(config_.width) * size_t(config_.height));
  add_pointers(planes);
}

void ProbMat::add_pointers(const std::vector<const float*>& batch) {
  if (batch.empty()) return;
  const int W = config_.width, H = config_.height;
  // Quantize once per batch, pixel-major (all images' bins of a pixel side by side): 1 byte per
  // sample, so the counting passes read little memory and each cell's samples are contiguous.
  const int64_t nimg = int64_t(batch.size());
  std::vector<uint8_t> qt(size_t(W) * size_t(H) * size_t(nimg));
  const float scale = float(config_.bins) / (config_.hi - config_.lo), lo = config_.lo;
  const float top = float(config_.bins - 1);
  parallel_for(0, H, 4, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t i = 0; i < nimg; ++i) {
        const float* src = batch[size_t(i)] + size_t(y) * size_t(W);
        uint8_t* dst = qt.data() + size_t(y) * size_t(W) * size_t(nimg) + size_t(i);
        for (int x = 0; x < W; ++x) {
          float t = (src[x] - lo) * scale;
          t = t > 0.f ? t : 0.f;  // NaN -> 0
          t = t < top ? t : top;
          dst[size_t(x) * size_t(nimg)] = static_cast<uint8_t>(t);
        }
      }
  });
  const int64_t cells = config_.cells(), tc = tile_cells(config_);
  const int64_t ntiles = (cells + tc - 1) / tc;
  parallel_for(0, ntiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t c0 = t * tc, c1 = std::min(cells, c0 + tc);
      if (config_.count_bits == 32)
        count_tile<uint32_t>(config_, qt.data(), nimg, c0, c1, c32_.data(), shift_.data(), phase_.data());
      else
        count_tile<uint16_t>(config_, qt.data(), nimg, c0, c1, c16_.data(), shift_.data(), phase_.data());
    }
  });
  images_ += uint64_t(nimg);
}

void ProbMat::merge(const ProbMat& o) {
  const ProbMatConfig &a = config_, &b = o.config_;
  LAI_CHECK(a.width > 0 && b.width > 0, "probmat merge: one of the ProbMats is empty");
  LAI_CHECK(a.width == b.width && a.height == b.height, "probmat merge: image sizes differ (", a.width, "x",
            a.height, " vs ", b.width, "x", b.height, ")");
  LAI_CHECK(a.bins == b.bins, "probmat merge: bins differ (", a.bins, " vs ", b.bins, ")");
  LAI_CHECK(a.count_bits == b.count_bits, "probmat merge: count widths differ (u", a.count_bits, " vs u",
            b.count_bits, ")");
  LAI_CHECK(a.scale == b.scale, "probmat merge: scales differ (", a.scale, " vs ", b.scale, ")");
  LAI_CHECK(a.tolerance == b.tolerance, "probmat merge: tolerances differ (", a.tolerance, " vs ", b.tolerance, ")");
  LAI_CHECK(a.lo == b.lo && a.hi == b.hi, "probmat merge: intensity ranges differ ([", a.lo, ",", a.hi, "] vs [",
            b.lo, ",", b.hi, "])");
  const int bins = a.bins;
  parallel_for(0, a.cells(), 1024, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const size_t off = size_t(c) * size_t(bins);
      if (a.count_bits == 32)
        merge_cell<uint32_t>(c32_.data() + off, shift_[size_t(c)], o.c32_.data() + off, o.shift_[size_t(c)], bins);
      else
        merge_cell<uint16_t>(c16_.data() + off, shift_[size_t(c)], o.c16_.data() + off, o.shift_[size_t(c)], bins);
    }
  });
  images_ += o.images_;
}

namespace {
struct KdeScratch {
  std::vector<double> h, kern, s;
};
}  // namespace

// Probabilities of one cell into p[bins] (see probmat.hpp), using caller-owned scratch buffers.
static void cell_probs_into(const ProbMat& pm, int64_t cell, const FinalizeOptions& opt, double* p, KdeScratch& k,
                            double* bw_out) {
  const ProbMatConfig& cfg = pm.config();
  const int bins = cfg.bins;
  k.h.resize(size_t(bins));
  const double mul = std::ldexp(1.0, pm.shift(cell));
  double n = 0;
  for (int b = 0; b < bins; ++b) n += k.h[size_t(b)] = double(pm.count(cell, b)) * mul;
  if (n <= 0) {
    if (bw_out) *bw_out = 0;
    for (int b = 0; b < bins; ++b) p[b] = 1.0 / bins;  // no data: flat
    return;
  }
  const double* h = k.h.data();
  const double w = double(cfg.hi - cfg.lo) / bins;      // intensity units per bin
  const double level = double(cfg.hi - cfg.lo) / 256.0;  // one 8-bit level of the range
  // Moments and quartiles of the cell's samples (bin centres; quartiles interpolated in bins).
  double mean = 0;
  for (int b = 0; b < bins; ++b) mean += h[b] * (b + 0.5);
  mean /= n;
  double var = 0;
  for (int b = 0; b < bins; ++b) var += h[b] * (b + 0.5 - mean) * (b + 0.5 - mean);
  var /= n;
  auto quantile = [&](double f) {
    const double target = f * n;
    double cum = 0;
    for (int b = 0; b < bins; ++b) {
      if (cum + h[b] >= target && h[b] > 0) return b + (target - cum) / h[b];
      cum += h[b];
    }
    return double(bins);
  };
  double bw;
  if (opt.rule == Bandwidth::Fixed) {
    bw = opt.fixed_bandwidth * level;
  } else {
    const double sd = std::sqrt(var) * w;
    if (opt.rule == Bandwidth::Scott) {
      bw = 1.06 * sd * std::pow(n, -0.2);
    } else {
      const double iqr = (quantile(0.75) - quantile(0.25)) * w;
      bw = 0.9 * (iqr > 0 ? std::min(sd, iqr / 1.34) : sd) * std::pow(n, -0.2);
    }
    bw = std::max(bw, double(opt.min_bandwidth) * level);
  }
  const double hb = std::max(bw / w, 1e-3);  // bandwidth in bins
  if (bw_out) *bw_out = bw;
  // Gaussian kernel along the intensity axis, applied from the non-empty bins only.
  const int radius = std::max(1, int(std::ceil(5.0 * hb)));
  k.kern.resize(size_t(radius) + 1);
  for (int d = 0; d <= radius; ++d) k.kern[size_t(d)] = std::exp(-0.5 * (d / hb) * (d / hb));
  k.s.assign(size_t(bins), 0.0);
  double* sm = k.s.data();
  const double* kern = k.kern.data();
  for (int c = 0; c < bins; ++c) {
    const double v = h[c];
    if (v == 0) continue;
    const int b0 = std::max(0, c - radius), b1 = std::min(bins - 1, c + radius);
    for (int b = b0; b <= b1; ++b) sm[b] += v * kern[std::abs(b - c)];
  }
  double total = 0;
  for (int b = 0; b < bins; ++b) total += sm[b];
  const double fl = std::clamp(double(opt.floor), 0.0, 1.0);
  for (int b = 0; b < bins; ++b) p[b] = (1.0 - fl) * sm[b] / total + fl / bins;
}

std::vector<double> ProbMat::cell_probabilities(int64_t cell, const FinalizeOptions& opt, double* bw_out) const {
  LAI_CHECK(cell >= 0 && cell < config_.cells(), "probmat: cell ", cell, " out of range");
  std::vector<double> p(size_t(config_.bins));
  KdeScratch k;
  cell_probs_into(*this, cell, opt, p.data(), k, bw_out);
  return p;
}

ProbTable ProbMat::finalize(const FinalizeOptions& opt) const {
  LAI_CHECK(config_.width > 0, "probmat finalize: empty ProbMat");
  LAI_CHECK(opt.floor > 0.f && opt.floor < 1.f, "probmat finalize: floor must be in (0, 1), got ", opt.floor);
  LAI_CHECK(opt.rule != Bandwidth::Fixed || opt.fixed_bandwidth > 0.f,
            "probmat finalize: fixed bandwidth must be > 0, got ", opt.fixed_bandwidth);
  LAI_CHECK(opt.min_bandwidth >= 0.f, "probmat finalize: min bandwidth must be >= 0");
  ProbTable t;
  t.config_ = config_;
  const int bins = config_.bins;
  t.q_.assign(size_t(config_.cells()) * size_t(bins), 0);
  t.log_max_.assign(size_t(config_.cells()), 0.f);
  t.mean_.assign(size_t(config_.cells()), 0.5f * (config_.lo + config_.hi));
  parallel_for(0, config_.cells(), 256, [&](int64_t c0, int64_t c1) {
    KdeScratch scratch;
    std::vector<double> p(static_cast<size_t>(bins));
    for (int64_t c = c0; c < c1; ++c) {
      cell_probs_into(*this, c, opt, p.data(), scratch, nullptr);
      {
        const std::vector<double>& h = scratch.h;  // the cell's histogram, left by cell_probs_into
        double n = 0, m = 0;
        for (int b = 0; b < bins; ++b) {
          n += h[size_t(b)];
          m += h[size_t(b)] * (b + 0.5);
        }
        if (n > 0) t.mean_[size_t(c)] = float(config_.lo + m / n * (config_.hi - config_.lo) / bins);
      }
      double mx = 0;
      for (double v : p) mx = std::max(mx, v);
      t.log_max_[size_t(c)] = float(std::log(mx));
      uint16_t* q = t.q_.data() + size_t(c) * size_t(bins);
      for (int b = 0; b < bins; ++b) {
        const double u = -std::log(p[size_t(b)] / mx) / double(ProbTable::kQuantStep);
        q[b] = static_cast<uint16_t>(std::min(65535.0, std::round(u)));
      }
    }
  });
  return t;
}

float ProbTable::prob(int64_t cell, int bin) const {
  const size_t i = size_t(cell) * size_t(config_.bins) + size_t(bin);
  return std::exp(-float(q_[i]) * kQuantStep + log_max_[size_t(cell)]);
}

namespace {
inline float interp_q(const ProbMatConfig& cfg, const uint16_t* q, float v) {
  // Position in bin-centre units: bin b's centre is at b.
  const float t = (v - cfg.lo) / (cfg.hi - cfg.lo) * float(cfg.bins) - 0.5f;
  if (!(t > 0.f)) return float(q[0]);
  const float top = float(cfg.bins - 1);
  if (t >= top) return float(q[cfg.bins - 1]);
  const int b = int(t);
  const float f = t - float(b);
  return float(q[b]) * (1.f - f) + float(q[b + 1]) * f;
}
}  // namespace

float ProbTable::neglog_at(int64_t cell, float v) const {
  const uint16_t* q = q_.data() + size_t(cell) * size_t(config_.bins);
  return interp_q(config_, q, v) * kQuantStep - log_max_[size_t(cell)];
}

float ProbTable::rel_at(int64_t cell, float v) const {
  const uint16_t* q = q_.data() + size_t(cell) * size_t(config_.bins);
  return std::exp(-interp_q(config_, q, v) * kQuantStep);
}

void ProbMat::save(const std::string& path, const ProbMatCalibration* calibration) const {
  LAI_CHECK(config_.width > 0, "probmat save: empty ProbMat");
  io::Json h = io::Json::object();
  h.set("width", config_.width);
  h.set("height", config_.height);
  h.set("bins", config_.bins);
  h.set("count_bits", config_.count_bits);
  h.set("scale", config_.scale);
  h.set("tolerance", config_.tolerance);
  h.set("lo", config_.lo);
  h.set("hi", config_.hi);
  h.set("images", images_);
  h.set("grid_width", config_.grid_width());
  h.set("grid_height", config_.grid_height());
  if (calibration && !calibration->empty()) h.set("calibration", calibration->to_json());
  const int64_t cells = config_.cells();
  Tensor counts = Tensor::empty({cells, config_.bins}, config_.count_bits == 32 ? DType::u32 : DType::u16);
  if (config_.count_bits == 32)
    std::copy(c32_.begin(), c32_.end(), counts.data_u32());
  else
    std::copy(c16_.begin(), c16_.end(), counts.data_u16());
  Tensor shifts = Tensor::empty({cells}, DType::u8);
  std::copy(shift_.begin(), shift_.end(), shifts.data_u8());
  detail::save_anomaly_file(kFormat, path, h, {{"counts", counts}, {"shifts", shifts}});
}

namespace {
// The config a header describes, checked (its grid against the stored one too).
ProbMatConfig config_from_header(const io::Json& h, const std::string& path) {
  const std::string what = path + " header";
  LAI_CHECK_FORMAT(h.is_object(), what, ": must be an object (found ", h.type_name(), ")");
  ProbMatConfig c;
  using detail::header_int;
  c.width = header_int(h, "width", what);
  c.height = header_int(h, "height", what);
  c.bins = header_int(h, "bins", what);
  c.count_bits = header_int(h, "count_bits", what);
  c.scale = header_int(h, "scale", what);
  c.tolerance = header_int(h, "tolerance", what);
  c.lo = float(h.get_number("lo", what));
  c.hi = float(h.get_number("hi", what));
  try {
    c.validate();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::invalid_argument) throw;  // a limit stays a limit
    throw_error(ErrorKind::format, str_cat(path, ": invalid header: ", e.what()));
  }
  const int gw = header_int(h, "grid_width", what), gh = header_int(h, "grid_height", what);
  LAI_CHECK(gw == c.grid_width() && gh == c.grid_height(), path, ": grid ", gw, "x", gh, " does not match ",
            c.width, "x", c.height, " at scale ", c.scale);
  return c;
}

io::ModelFile probmat_from_legacy(const detail::LegacyFile& f, const std::string& path) {
  detail::ByteReader r(f.header.data(), f.header.size(), path + " header");
  io::Json h = io::Json::object();
  for (const char* key : {"width", "height", "bins", "count_bits", "scale", "tolerance"}) h.set(key, r.i32(key));
  h.set("lo", r.f32("lo"));
  h.set("hi", r.f32("hi"));
  const uint64_t images = r.u64("images");
  LAI_CHECK_FORMAT(images <= uint64_t(INT64_MAX), path, ": implausible image count ", images);
  h.set("images", images);
  for (const char* key : {"grid_width", "grid_height"}) h.set(key, r.i32(key));
  const uint64_t cal_bytes = f.version >= 2 ? r.u64("calibration_bytes") : 0;
  LAI_CHECK_FORMAT(r.remaining() == 0, path, ": ", r.remaining(), " unexpected bytes after the version ", f.version,
                   " header");
  LAI_CHECK_FORMAT(cal_bytes <= kMaxCalibrationBytes, path, ": calibration of ", cal_bytes, " bytes is implausible");
  // The sizes the payload holds follow from the header, checked as the current layout's are.
  const ProbMatConfig c = config_from_header(h, path);
  const uint64_t cells = uint64_t(c.cells()), bytes = uint64_t(c.count_bits / 8);
  const uint64_t expect = detail::checked_mul(detail::checked_mul(cells, uint64_t(c.bins), "probmat counts"), bytes,
                                              "probmat counts") + cells + cal_bytes;
  LAI_CHECK_FORMAT(f.payload.size() == expect, path, ": payload is ", f.payload.size(), " bytes, the header (",
                   c.describe(), ") needs ", expect);
  detail::ByteReader p(f.payload.data(), f.payload.size(), path + " payload");
  Tensor counts = Tensor::empty({int64_t(cells), c.bins}, c.count_bits == 32 ? DType::u32 : DType::u16);
  p.array(counts.raw_data(), size_t(counts.numel()), size_t(bytes), "counts");
  Tensor shifts = Tensor::empty({int64_t(cells)}, DType::u8);
  p.array(shifts.raw_data(), size_t(cells), 1, "shifts");
  if (cal_bytes > 0) {
    std::string text(size_t(cal_bytes), '\0');
    p.array(text.data(), text.size(), 1, "calibration");
    h.set("calibration", io::Json::parse(text, path + " calibration"));
  }
  io::ModelFile out;
  out.header = std::move(h);
  out.tensors = {{"counts", counts}, {"shifts", shifts}};
  return out;
}
}  // namespace

ProbMat ProbMat::load(const std::string& path, ProbMatCalibration* calibration) {
  if (calibration) *calibration = ProbMatCalibration();
  // Everything the file fails to satisfy is a damaged file (format).
  return reclassify(ErrorKind::format, [&] {
    const io::ModelFile f = detail::load_anomaly_file(kFormat, path);
    const io::Json& h = f.header;
    const ProbMatConfig c = config_from_header(h, path);
    const int64_t images = h.get_int("images", path + " header");
    LAI_CHECK_FORMAT(images >= 0, path, ": negative image count ", images);
    const int64_t cells = c.cells();
    const Tensor& counts = detail::require_tensor(f, "counts", c.count_bits == 32 ? DType::u32 : DType::u16,
                                                  {cells, c.bins});
    const Tensor& shifts = detail::require_tensor(f, "shifts", DType::u8, {cells});
    ProbMat pm(c);
    pm.images_ = uint64_t(images);
    if (c.count_bits == 32)
      std::copy(counts.data_u32(), counts.data_u32() + counts.numel(), pm.c32_.begin());
    else
      std::copy(counts.data_u16(), counts.data_u16() + counts.numel(), pm.c16_.begin());
    std::copy(shifts.data_u8(), shifts.data_u8() + cells, pm.shift_.begin());
    for (size_t i = 0; i < pm.shift_.size(); ++i)
      LAI_CHECK(pm.shift_[i] <= 31, path, ": cell ", i, " has an implausible count shift ", int(pm.shift_[i]));
    if (const io::Json* cal = h.find("calibration"); cal && calibration)
      *calibration = ProbMatCalibration::from_json(*cal, path + " calibration");
    return pm;
  });
}

}  // namespace liteai::anomaly
