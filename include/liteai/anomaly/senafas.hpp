#pragma once
// senafas: "reduce resolution while still telling the CNN there is an anomaly here" (SPEC 6).
//
// Anomaly channel (Senafas):
//   1. An anomaly map (a WPM, same size for every image) is cut into non-overlapping p x p
//      patches, p the reduction factor (edge patches are padded with the map's minimum).
//   2. A patch's feature vector is its values sorted in decreasing order, subsampled evenly to at
//      most `max_features`: the patch's "anomaly profile", blind to where inside the patch the hot
//      pixels sit, so small misregistrations do not change it.
//   3. A SOM is trained on the patches of a set of maps (normal images, optionally with some
//      abnormal ones); its prototypes order patch profiles from "all probable" to "holds a hot spot".
//   4. Each unit's level is the mean of the top quarter of its prototype (how hot its hottest
//      pixels are) minus the baseline: the hit-weighted median level over the training patches.
//   5. channel(map): each patch's value is max(0, level of its best-matching unit), giving a
//      (W/p) x (H/p) image that is ~0 on ordinary anatomy and high where a patch holds something
//      improbable; quantized to the SOM's few prototype levels, so it carries "how anomalous"
//      and "where", not the pixel detail. Feed it to a compact net as a second input channel at
//      the reduced input size.
//
// Anatomy regions (profile SOM): a SOM over the per-cell probability profiles of a ProbTable
// groups cells whose intensity distributions look alike (lung field, mediastinum, bone, air,
// soft tissue); profile_regions() labels each cell with its unit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/data/image.hpp"

namespace liteai::anomaly {

struct SenafasOptions {
  int patch = 8;          // reduction factor p
  int max_features = 64;  // sorted patch values kept per patch
  int rows = 6, cols = 6; // SOM grid
  SomTrainOptions train;  // defaults: batch, PCA init, 20 epochs
};

class Senafas {
 public:
  Senafas() = default;
  // Trains on the patches of `maps` (all the same size).
  void fit(const std::vector<data::Image>& maps, const SenafasOptions& options = {});
  // The reduced-resolution channel of one map (same size as the training maps).
  data::Image channel(const data::Image& map) const;
  // Patch features of a map: (patches) x dim, row-major; also used by fit().
  std::vector<float> patch_features(const data::Image& map, int64_t* count = nullptr) const;

  const Som& som() const { return som_; }
  const std::vector<float>& unit_levels() const { return levels_; }
  int patch() const { return patch_; }
  bool fitted() const { return !levels_.empty(); }

 private:
  int patch_ = 8, dim_ = 0, width_ = 0, height_ = 0;
  Som som_;
  std::vector<float> levels_;  // per unit, baseline removed
};

// SOM over the probability profiles (bins values per cell) of a finalized ProbMat.
Som train_profile_som(const ProbTable& table, const SomConfig& grid, const SomTrainOptions& options = {});
// Unit index of every cell (grid_width x grid_height image of unit numbers).
data::Image profile_regions(const ProbTable& table, const Som& som);

}  // namespace liteai::anomaly
