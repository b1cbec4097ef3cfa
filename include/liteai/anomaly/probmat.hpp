#pragma once
// ProbMat: per-pixel intensity probability of aligned gray images (SPEC.md section 6).
//
// Accumulation: for every cell of a (possibly reduced) grid, a histogram of the intensities seen
// there over all images added so far. Images arrive batch by batch (the data set never has to fit
// in memory); within a batch the work is split over tiles of cells so each tile's histograms stay
// in cache while all images of the batch are counted into it. Two ProbMats with the same config
// merge by adding counts, so sites or threads can build partial ProbMats.
//
// Compact forms (memory = cells x bins x count bytes):
//   bins 256/128/64/32; counts uint32 or uint16; scale s >= 1 (a cell pools an s x s block).
//   512x512, 256 bins, uint32 = 256 MB; 64 bins, uint16, scale 2 = 8 MB.
// Counts never wrap: when a bin would overflow (65535 for uint16), that cell's histogram is halved
// (its shape, which is all finalize uses, is kept) and from then on the cell counts one sample in
// 2^shift, so earlier and later samples keep equal weight; histogram() multiplies back by 2^shift.
//
// Alignment tolerance t: a cell also counts the pixels within t image pixels around its block,
// which absorbs small misregistration between images (at the price of a blurrier model).
//
// finalize() turns counts into probabilities: the normalized histogram is smoothed along the
// intensity axis by a Gaussian kernel (KDE on the histogram) whose bandwidth is a fixed number of
// grey levels (a level is 1/256 of the configured lo..hi range, see FinalizeOptions) or, per cell,
// Silverman's (0.9 min(sd, IQR/1.34) n^-1/5) or Scott's (1.06 sd n^-1/5) rule on that cell's
// samples (bounded below by min_bandwidth levels); then mixed with a uniform floor so no probability
// is zero, and normalized to sum 1. The result (ProbTable) stores, per cell and bin,
// -log(p / max p) quantized to uint16 (1/4096 nat steps) plus log(max p): half the size of floats,
// and lookups for the WPM are a gather.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/data/image.hpp"

namespace liteai::anomaly {

struct ProbMatCalibration;  // calibration.hpp

struct ProbMatConfig {
  int width = 0;          // image size the ProbMat is built for (images must match)
  int height = 0;
  int bins = 256;         // 256, 128, 64 or 32
  int count_bits = 32;    // 32 or 16
  int scale = 1;          // a cell pools a scale x scale block of pixels
  int tolerance = 0;      // alignment tolerance in image pixels (0 = none)
  float lo = 0.f;         // intensity range mapped onto the bins (values outside are clamped)
  float hi = 255.f;

  int grid_width() const { return (width + scale - 1) / scale; }
  int grid_height() const { return (height + scale - 1) / scale; }
  int64_t cells() const { return int64_t(grid_width()) * grid_height(); }
  // Bytes of the count array.
  uint64_t count_bytes() const { return uint64_t(cells()) * uint64_t(bins) * uint64_t(count_bits / 8); }
  void validate() const;  // throws liteai::Error naming the bad field
  bool operator==(const ProbMatConfig&) const = default;
  std::string describe() const;  // "512x512 bins=64 counts=u16 scale=2 tol=0 range=[0,255]"
};

enum class Bandwidth { Silverman, Scott, Fixed };

// Bandwidths given here are in "levels": 1/256 of the intensity range [lo, hi] (one 8-bit grey
// level whatever the range, e.g. 1/256 for images scaled to [0, 1]).
struct FinalizeOptions {
  Bandwidth rule = Bandwidth::Silverman;
  float fixed_bandwidth = 4.f;   // in levels, for Bandwidth::Fixed
  float min_bandwidth = 1.f;     // in levels: lower bound for the rules (and cells with sd = 0)
  float floor = 1e-5f;           // probability mass spread uniformly over the bins
  bool operator==(const FinalizeOptions&) const = default;
};

// Finalized probabilities: what WPM scoring reads.
class ProbTable {
 public:
  ProbTable() = default;
  const ProbMatConfig& config() const { return config_; }
  // p of bin b at cell c (slow path; the WPM uses neglog_at).
  float prob(int64_t cell, int bin) const;
  // -log p of intensity v at cell c, linearly interpolated between bin centres.
  float neglog_at(int64_t cell, float v) const;
  // p / max p at cell c for intensity v (interpolated like neglog_at).
  float rel_at(int64_t cell, float v) const;
  int64_t cell_of(int x, int y) const {
    return int64_t(y / config_.scale) * config_.grid_width() + x / config_.scale;
  }
  // Mean intensity of the samples at cell c (for one-sided maps).
  float mean_at(int64_t cell) const { return mean_[size_t(cell)]; }
  size_t memory_bytes() const { return q_.size() * 2 + log_max_.size() * 4 + mean_.size() * 4; }
  // Raw access (cells x bins quantized -log(p/max p) in 1/4096 nats; per-cell log max p).
  const std::vector<uint16_t>& quantized() const { return q_; }
  const std::vector<float>& log_max() const { return log_max_; }
  static constexpr float kQuantStep = 1.f / 4096.f;

 private:
  friend class ProbMat;
  ProbMatConfig config_;
  std::vector<uint16_t> q_;
  std::vector<float> log_max_;
  std::vector<float> mean_;
};

class ProbMat {
 public:
  ProbMat() = default;
  explicit ProbMat(const ProbMatConfig& config);

  const ProbMatConfig& config() const { return config_; }
  uint64_t images() const { return images_; }

  // Counts every image of the batch (all must be width x height). Parallel over cell tiles.
  void add_batch(const std::vector<const data::Image*>& batch);
  void add(const data::Image& image) { add_batch({&image}); }
  // The same for `count` contiguous width x height float planes (e.g. a loader batch [N,1,H,W]).
  void add_planes(const float* planes, int64_t count);
  // Adds other's counts; configs must be identical (throws naming the differing field).
  void merge(const ProbMat& other);

  // Bin of an intensity under this config.
  int bin_of(float v) const;
  // Histogram of a cell as counts (uint16 halvings undone: the true sample counts, approximately).
  std::vector<double> histogram(int64_t cell) const;
  uint64_t count(int64_t cell, int bin) const;  // stored count (before undoing halvings)
  int shift(int64_t cell) const { return shift_.empty() ? 0 : shift_[size_t(cell)]; }
  size_t memory_bytes() const;

  ProbTable finalize(const FinalizeOptions& options = {}) const;
  // Probabilities of one cell as doubles (what finalize quantizes); optionally the bandwidth
  // used, converted to the image's own units (the lo..hi scale, not grey levels: the Fixed rule
  // gives fixed_bandwidth x (hi - lo) / 256).
  std::vector<double> cell_probabilities(int64_t cell, const FinalizeOptions& options,
                                         double* bandwidth = nullptr) const;

  // .lpm file: the checked container of the .lai files with magic "LAIPMAT\0" (settings in the
  // JSON header, "counts" and "shifts" tensors; src/anomaly/probmat.cpp), atomic, CRC-checked,
  // fuzz-safe load. A calibration on normal images (calibration.hpp) may travel with the counts:
  // save writes it when given; load fills it when the file has one (and clears it otherwise).
  // Files of liteai 0.3 and earlier (another layout) still load; version 1 ones carry none.
  void save(const std::string& path, const ProbMatCalibration* calibration = nullptr) const;
  static ProbMat load(const std::string& path, ProbMatCalibration* calibration = nullptr);

 private:
  void add_pointers(const std::vector<const float*>& planes);
  ProbMatConfig config_;
  uint64_t images_ = 0;
  std::vector<uint32_t> c32_;  // cells x bins, when count_bits == 32
  std::vector<uint16_t> c16_;  // cells x bins, when count_bits == 16
  std::vector<uint8_t> shift_;   // cells: halvings applied to the cell's counts
  std::vector<uint32_t> phase_;  // cells: sample counter used once a cell has been halved
};

}  // namespace liteai::anomaly
