#pragma once
// Kohonen self-organizing map.
//
// Grid: rows x cols units, rectangular (unit (r, c) at (c, r)) or hexagonal (odd rows shifted by
// half a unit, rows sqrt(3)/2 apart, so all six neighbours are at distance 1); optionally toroidal
// (distances wrap; a hexagonal torus needs an even number of rows).
// Neighbourhood of grid distance d at radius s: Gaussian exp(-d^2 / 2s^2); bubble 1 for d <= s;
// Mexican hat (1 - d^2/s^2) exp(-d^2 / 2s^2).
// Training:
//   online: one sample at a time (shuffled each epoch), w += lr(t) h(d, s(t)) (x - w);
//   batch:  per epoch, every sample's best-matching unit (BMU) is found (distances as
//           ||x||^2 - 2 x.w + ||w||^2, the middle term a matrix product, in parallel over sample
//           chunks), then w_j = sum_i h(j, bmu_i) x_i / sum_i h(j, bmu_i)  (no learning rate).
//   The Mexican hat's negative lobe (lateral inhibition) is clipped to 0 in both updates: pushed
//   away again and again by the same data, a unit's weights grow without bound (online) and a
//   weighted sum with negative weights is no longer an average (batch). What remains is a
//   compact kernel that vanishes at d = radius; neighborhood() still returns the true hat.
//   lr and radius follow linear or exponential schedules from start to end values.
// Init: random (uniform in the data's bounding box) or PCA (the grid spans +-1 standard
// deviation along the two leading principal components; the longer grid side takes the first).
// Quality: quantization error (mean distance to the BMU) and topographic error (fraction of
// samples whose two best units are not grid neighbours: distance > 1 on hexagonal grids,
// > sqrt(2) on rectangular ones, as MiniSom and the SOM Toolbox do).
// Determinism: same data, options and seed give the same bits for any thread count.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "liteai/data/image.hpp"

namespace liteai::anomaly {

enum class SomTopology { Rectangular, Hexagonal };
enum class SomNeighborhood { Gaussian, Bubble, MexicanHat };
enum class SomSchedule { Linear, Exponential };
enum class SomInit { Random, Pca };
enum class SomMode { Online, Batch };

struct SomConfig {
  int rows = 10;
  int cols = 10;
  int dim = 0;  // length of the input vectors
  SomTopology topology = SomTopology::Rectangular;
  bool toroidal = false;
  SomNeighborhood neighborhood = SomNeighborhood::Gaussian;
  int units() const { return rows * cols; }
  void validate() const;
};

struct SomTrainOptions {
  SomMode mode = SomMode::Batch;
  int epochs = 20;
  float lr_start = 0.5f;   // online only
  float lr_end = 0.01f;
  float radius_start = 0.f;  // 0: max(rows, cols) / 2
  float radius_end = 1.f;
  SomSchedule schedule = SomSchedule::Exponential;
  SomInit init = SomInit::Pca;
  bool initialize = true;  // false: continue from the current weights
  uint64_t seed = 1;
  // Called after every epoch with (epoch, quantization error); return false to stop early.
  std::function<bool(int, double)> progress;
};

class Som {
 public:
  Som() = default;
  explicit Som(const SomConfig& config);

  const SomConfig& config() const { return config_; }
  int units() const { return config_.units(); }
  const std::vector<float>& weights() const { return w_; }  // units x dim, row-major
  std::vector<float>& weights() { return w_; }
  const float* unit_weights(int u) const { return w_.data() + size_t(u) * size_t(config_.dim); }

  // Grid geometry.
  void unit_position(int u, float& x, float& y) const;
  float grid_distance(int a, int b) const;
  float neighborhood(float d, float radius) const;

  // data: n x dim row-major.
  void init_random(const float* data, int64_t n, uint64_t seed);
  void init_pca(const float* data, int64_t n);
  void train(const float* data, int64_t n, const SomTrainOptions& options = {});

  int bmu(const float* v) const;  // naive loop over units
  // BMUs of all samples (GEMM-style distances, parallel). Optionally the second-best units and
  // the squared distances to the best.
  std::vector<int> bmus(const float* data, int64_t n, std::vector<int>* second = nullptr,
                        std::vector<float>* sq_dist = nullptr) const;
  double quantization_error(const float* data, int64_t n) const;
  double topographic_error(const float* data, int64_t n) const;
  std::vector<int64_t> hit_map(const float* data, int64_t n) const;  // samples per unit
  // Mean distance of each unit's weights to its grid neighbours' (rows x cols, row-major).
  std::vector<float> umatrix() const;
  // U-matrix as an image (each unit a cell_px square; hexagonal rows offset by half a cell).
  data::Image umatrix_image(int cell_px = 16) const;
  void write_umatrix_png(const std::string& path, int cell_px = 16) const;

  // .lsom file: the checked container of the .lai files with magic "LAISOM\0\0" (JSON header, a
  // "weights" tensor), atomic write, fuzz-safe load; liteai 0.3 files still load.
  void save(const std::string& path) const;
  static Som load(const std::string& path);

 private:
  void check_data(const float* data, int64_t n, const char* op) const;
  void train_online(const float* data, int64_t n, const SomTrainOptions& o, float r0);
  void train_batch(const float* data, int64_t n, const SomTrainOptions& o, float r0);
  SomConfig config_;
  std::vector<float> w_;
  std::vector<float> px_, py_;  // unit positions
};

float som_schedule(SomSchedule s, float start, float end, float t);  // t in [0, 1]

}  // namespace liteai::anomaly
