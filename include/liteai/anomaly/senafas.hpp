#pragma once
// senafas: "reduce resolution while still telling the CNN there is an anomaly here" (SPEC 6).
//
// Anomaly channel (Senafas), fitted on the anomaly maps (WPMs) of NORMAL images:
//   1. A map is cut into non-overlapping p x p patches, p the reduction factor. A patch's feature
//      vector is its values average-pooled q x q, q the smallest factor that keeps the vector at
//      most `max_features` long (edge patches: in-image pixels only).
//   2. A SOM is trained on the patch vectors of the normal maps: its prototypes are the shapes
//      improbability takes on ordinary anatomy (flat low patches, misregistration lines along the
//      body outline, ribs and heart border at every orientation and offset).
//   3. A patch's anomaly is its quantization error (distance to its best-matching prototype):
//      a compact bright disc (coin, button, electrode) matches none of them.
//   4. Calibration per cell: the normal maps' quantization errors at that cell give a mean mu_c
//      and a standard deviation sd_c; a cell's level is z = (qe - mu_c) / (sd_c + floor), floor =
//      sd_floor x the mean sd over the cells, clipped at 0 and (by default) compressed by log1p.
//      Cells where the anatomy is always hard to predict (the outline, the diaphragm) therefore
//      need a much larger error than quiet lung cells before they light up.
//   5. channel(map): the (W/p) x (H/p) image of these levels: ~0 on normal anatomy, high where a
//      patch holds something that no normal patch looks like. Feed it to a compact net as a
//      second input channel at the reduced input size; its maximum is an image-level score.
//
// Why not the earlier design (SOM over sorted patch values, each unit's level = its prototype's
// top values minus a global baseline, no per-location calibration): every image, normal or not,
// has patches on the body outline that map to the hottest units, so the channel's maximum was the
// same for nearly all images (image AUROC ~0.52 on the phantoms); sorting also threw away the
// shape that tells a disc from a line.
//
// Anatomy regions (profile SOM): a SOM over the per-cell probability profiles of a ProbTable
// groups cells whose intensity distributions look alike (lung field, mediastinum, bone, air,
// soft tissue); profile_regions() labels each cell with its unit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/data/image.hpp"

namespace liteai::anomaly {

namespace detail {
struct SenafasFile;  // the .lsnf reader (senafas.cpp)
}

struct SenafasOptions {
  int patch = 8;           // reduction factor p
  int max_features = 64;   // pooled patch values kept per patch
  int rows = 6, cols = 6;  // SOM grid
  float sd_floor = 0.5f;   // added to every cell's sd, as a fraction of the mean sd over the cells
  bool log_scale = true;   // channel = log1p(max(0, z)) instead of max(0, z)
  SomTrainOptions train;   // defaults: batch, PCA init, 20 epochs
};

class Senafas {
 public:
  Senafas() = default;
  // Fits on the maps of normal images (all the same size; at least 2 for the calibration).
  void fit(const std::vector<data::Image>& maps, const SenafasOptions& options = {});
  // The reduced-resolution channel of one map (same size as the training maps). Thread-safe.
  data::Image channel(const data::Image& map) const;
  // Uncalibrated quantization error of every patch (grid_width x grid_height).
  data::Image quantization_errors(const data::Image& map) const;
  // Patch features of a map: (patches) x dim, row-major; also used by fit().
  std::vector<float> patch_features(const data::Image& map, int64_t* count = nullptr) const;
  // Image-level score of a channel: its maximum.
  static double image_score(const data::Image& channel);

  const Som& som() const { return som_; }
  int patch() const { return patch_; }
  int pool() const { return pool_; }
  int dim() const { return dim_; }
  int map_width() const { return width_; }
  int map_height() const { return height_; }
  int grid_width() const { return (width_ + patch_ - 1) / patch_; }
  int grid_height() const { return (height_ + patch_ - 1) / patch_; }
  const std::vector<float>& cell_mean() const { return mu_; }  // normal qe per cell
  const std::vector<float>& cell_sd() const { return sd_; }
  float floor() const { return floor_; }  // absolute sd floor
  bool log_scale() const { return log_scale_; }
  bool fitted() const { return !mu_.empty(); }

  // .lsnf file: the checked container of the anomaly files (magic "LAISNF\0\0"; JSON header, CRC32
  // per part, atomic write); load checks every size and value before use and names the problem.
  void save(const std::string& path) const;
  static Senafas load(const std::string& path);

 private:
  friend struct detail::SenafasFile;
  void check_map(const data::Image& map, const char* op) const;
  std::vector<float> patch_qe(const data::Image& map) const;
  int patch_ = 8, pool_ = 1, dim_ = 0, width_ = 0, height_ = 0;
  float floor_ = 0.f;
  bool log_scale_ = true;
  Som som_;
  std::vector<float> mu_, sd_;  // per cell
};

// SOM over the probability profiles (bins values per cell) of a finalized ProbMat.
Som train_profile_som(const ProbTable& table, const SomConfig& grid, const SomTrainOptions& options = {});
// Unit index of every cell (grid_width x grid_height image of unit numbers).
data::Image profile_regions(const ProbTable& table, const Som& som);

}  // namespace liteai::anomaly
