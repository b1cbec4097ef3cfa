// ProbMat accumulation, merge, finalize (histogram KDE) and the .lpm file.
//
// .lpm layout (version 1), inside the checked container of checked_file.hpp (magic "LAIPMAT\0"):
//   header: width i32, height i32, bins i32, count_bits i32, scale i32, tolerance i32,
//           lo f32, hi f32, images u64, grid_width i32, grid_height i32      (48 bytes, LE)
//   payload: counts  cells x bins  (u16 or u32 LE, cell-major: cell * bins + bin)
//            shifts  cells          (u8: halvings applied to that cell's counts)
#include "liteai/anomaly/probmat.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "anomaly/checked_file.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::anomaly {

namespace {

constexpr char kMagic[8] = {'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'};
constexpr uint32_t kVersion = 1;
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

// Counts one batch of quantized images into the cells [c0, c1). T is the count type.
template <class T>
void count_tile(const ProbMatConfig& cfg, const std::vector<uint8_t>& q, int64_t nimg, int64_t c0, int64_t c1,
                T* counts, uint8_t* shifts, uint32_t* phase) {
  const int gw = cfg.grid_width(), W = cfg.width, H = cfg.height, s = cfg.scale, t = cfg.tolerance;
  const int bins = cfg.bins;
  const size_t plane = size_t(W) * size_t(H);
  constexpr T kMax = std::numeric_limits<T>::max();
  auto halve = [&](T* h, int64_t cell) {
    for (int b = 0; b < bins; ++b) h[b] = static_cast<T>(h[b] >> 1);
    LAI_CHECK(shifts[cell] < 31, "probmat: count shift overflow at cell ", cell);
    ++shifts[cell];
    phase[cell] = 0;
  };
  // After s halvings a cell counts one sample in 2^s (each standing for 2^s), so old and new
  // samples keep the same weight.
  auto skip = [&](int64_t cell) {
    const uint8_t s = shifts[cell];
    return s != 0 && (phase[cell]++ & ((1u << s) - 1u)) != 0;
  };
  for (int64_t i = 0; i < nimg; ++i) {
    const uint8_t* img = q.data() + size_t(i) * plane;
    if (s == 1 && t == 0) {
      // Fast path: one sample per cell, consecutive cells are consecutive pixels.
      for (int64_t c = c0; c < c1; ++c) {
        T* h = counts + size_t(c) * size_t(bins);
        const uint8_t b = img[c];
        if (skip(c)) continue;
        if (h[b] == kMax) halve(h, c);
        ++h[b];
      }
      continue;
    }
    for (int64_t c = c0; c < c1; ++c) {
      const int cx = int(c % gw), cy = int(c / gw);
      const int x0 = std::max(0, cx * s - t), x1 = std::min(W, cx * s + s + t);
      const int y0 = std::max(0, cy * s - t), y1 = std::min(H, cy * s + s + t);
      T* h = counts + size_t(c) * size_t(bins);
      for (int y = y0; y < y1; ++y) {
        const uint8_t* row = img + size_t(y) * size_t(W);
        for (int x = x0; x < x1; ++x) {
          const uint8_t b = row[x];
          if (skip(c)) continue;
          if (h[b] == kMax) halve(h, c);
          ++h[b];
        }
      }
    }
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
  // Quantize once per batch: 1 byte per pixel, so the tile passes read little memory.
  const int64_t nimg = int64_t(batch.size());
  const size_t plane = size_t(W) * size_t(H);
  std::vector<uint8_t> q(plane * size_t(nimg));
  const float scale = float(config_.bins) / (config_.hi - config_.lo), lo = config_.lo;
  const float top = float(config_.bins - 1);
  parallel_for(0, nimg * H, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = batch[size_t(r / H)] + size_t(r % H) * size_t(W);
      uint8_t* dst = q.data() + size_t(r) * size_t(W);
      for (int x = 0; x < W; ++x) {
        float t = (src[x] - lo) * scale;
        t = t > 0.f ? t : 0.f;  // NaN -> 0
        t = t < top ? t : top;
        dst[x] = static_cast<uint8_t>(t);
      }
    }
  });
  const int64_t cells = config_.cells(), tc = tile_cells(config_);
  const int64_t ntiles = (cells + tc - 1) / tc;
  parallel_for(0, ntiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t c0 = t * tc, c1 = std::min(cells, c0 + tc);
      if (config_.count_bits == 32)
        count_tile<uint32_t>(config_, q, nimg, c0, c1, c32_.data(), shift_.data(), phase_.data());
      else
        count_tile<uint16_t>(config_, q, nimg, c0, c1, c16_.data(), shift_.data(), phase_.data());
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

std::vector<double> ProbMat::cell_probabilities(int64_t cell, const FinalizeOptions& opt, double* bw_out) const {
  const int bins = config_.bins;
  const std::vector<double> h = histogram(cell);
  double n = 0;
  for (double v : h) n += v;
  std::vector<double> p(size_t(bins), 1.0 / bins);
  if (n <= 0) {
    if (bw_out) *bw_out = 0;
    return p;  // no data: flat
  }
  const double w = double(config_.hi - config_.lo) / bins;  // intensity units per bin
  // Moments and quartiles of the cell's samples (bin centres; quartiles interpolated in bins).
  double mean = 0;
  for (int b = 0; b < bins; ++b) mean += h[size_t(b)] * (b + 0.5);
  mean /= n;
  double var = 0;
  for (int b = 0; b < bins; ++b) var += h[size_t(b)] * (b + 0.5 - mean) * (b + 0.5 - mean);
  var /= n;
  auto quantile = [&](double f) {
    const double target = f * n;
    double cum = 0;
    for (int b = 0; b < bins; ++b) {
      if (cum + h[size_t(b)] >= target && h[size_t(b)] > 0) return b + (target - cum) / h[size_t(b)];
      cum += h[size_t(b)];
    }
    return double(bins);
  };
  const double sd = std::sqrt(var) * w, iqr = (quantile(0.75) - quantile(0.25)) * w;
  double bw;
  switch (opt.rule) {
    case Bandwidth::Fixed: bw = opt.fixed_bandwidth; break;
    case Bandwidth::Scott: bw = 1.06 * sd * std::pow(n, -0.2); break;
    case Bandwidth::Silverman:
    default: {
      double spread = sd;
      if (iqr > 0) spread = std::min(sd, iqr / 1.34);
      bw = 0.9 * spread * std::pow(n, -0.2);
    }
  }
  bw = std::max(bw, double(opt.min_bandwidth));
  const double hb = bw / w;  // bandwidth in bins
  if (bw_out) *bw_out = bw;
  // Gaussian kernel along the intensity axis, applied from the non-empty bins only.
  const int radius = std::max(1, int(std::ceil(5.0 * hb)));
  std::vector<double> kern(size_t(radius) + 1);
  for (int d = 0; d <= radius; ++d) kern[size_t(d)] = std::exp(-0.5 * (d / hb) * (d / hb));
  std::vector<double> s(size_t(bins), 0.0);
  for (int k = 0; k < bins; ++k) {
    const double c = h[size_t(k)];
    if (c == 0) continue;
    const int b0 = std::max(0, k - radius), b1 = std::min(bins - 1, k + radius);
    for (int b = b0; b <= b1; ++b) s[size_t(b)] += c * kern[size_t(std::abs(b - k))];
  }
  double total = 0;
  for (double v : s) total += v;
  const double fl = std::clamp(double(opt.floor), 0.0, 1.0);
  for (int b = 0; b < bins; ++b) p[size_t(b)] = (1.0 - fl) * s[size_t(b)] / total + fl / bins;
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
    for (int64_t c = c0; c < c1; ++c) {
      const std::vector<double> p = cell_probabilities(c, opt);
      {
        const std::vector<double> h = histogram(c);
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

void ProbMat::save(const std::string& path) const {
  LAI_CHECK(config_.width > 0, "probmat save: empty ProbMat");
  detail::ByteWriter h;
  h.i32(config_.width);
  h.i32(config_.height);
  h.i32(config_.bins);
  h.i32(config_.count_bits);
  h.i32(config_.scale);
  h.i32(config_.tolerance);
  h.f32(config_.lo);
  h.f32(config_.hi);
  h.u64(images_);
  h.i32(config_.grid_width());
  h.i32(config_.grid_height());
  detail::ByteWriter p;
  if (config_.count_bits == 32)
    p.array_u32(c32_.data(), c32_.size());
  else
    p.array_u16(c16_.data(), c16_.size());
  p.bytes(shift_.data(), shift_.size());
  detail::write_checked_file(path, kMagic, kVersion, h.buffer(), p.buffer());
}

ProbMat ProbMat::load(const std::string& path) {
  detail::CheckedFile f = detail::read_checked_file(path, kMagic, kVersion, "probmat (.lpm)");
  detail::ByteReader h(f.header.data(), f.header.size(), path + " header");
  ProbMatConfig c;
  c.width = h.i32("width");
  c.height = h.i32("height");
  c.bins = h.i32("bins");
  c.count_bits = h.i32("count_bits");
  c.scale = h.i32("scale");
  c.tolerance = h.i32("tolerance");
  c.lo = h.f32("lo");
  c.hi = h.f32("hi");
  const uint64_t images = h.u64("images");
  const int gw = h.i32("grid_width"), gh = h.i32("grid_height");
  try {
    c.validate();
  } catch (const Error& e) {
    throw_error(str_cat(path, ": invalid header: ", e.what()));
  }
  LAI_CHECK(gw == c.grid_width() && gh == c.grid_height(), path, ": grid ", gw, "x", gh,
            " does not match ", c.width, "x", c.height, " at scale ", c.scale);
  const uint64_t cells = uint64_t(c.cells());
  const uint64_t expect = detail::checked_mul(detail::checked_mul(cells, uint64_t(c.bins), "probmat counts"),
                                              uint64_t(c.count_bits / 8), "probmat counts") + cells;
  LAI_CHECK(f.payload.size() == expect, path, ": payload is ", f.payload.size(), " bytes, the header (",
            c.describe(), ") needs ", expect);
  ProbMat pm(c);
  pm.images_ = images;
  detail::ByteReader p(f.payload.data(), f.payload.size(), path + " payload");
  if (c.count_bits == 32)
    p.array_u32(pm.c32_.data(), pm.c32_.size(), "counts");
  else
    p.array_u16(pm.c16_.data(), pm.c16_.size(), "counts");
  p.bytes(pm.shift_.data(), pm.shift_.size(), "shifts");
  for (size_t i = 0; i < pm.shift_.size(); ++i)
    LAI_CHECK(pm.shift_[i] <= 31, path, ": cell ", i, " has an implausible count shift ", int(pm.shift_[i]));
  return pm;
}

}  // namespace liteai::anomaly
