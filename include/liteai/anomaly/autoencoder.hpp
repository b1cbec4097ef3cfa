#pragma once
// Anomaly maps from a convolutional autoencoder trained on normal images only (SPEC.md section 7,
// Baur et al. 2021): the network learns to reconstruct normal anatomy, so what it cannot
// reconstruct (a coin, an electrode) shows up as reconstruction error. Two things make the map
// usable for image-level decisions (measured on the 256 px phantoms, autoencoder at 128, bench
// anomaly): denoising training (coarse noise on the input, clean target) so the network redraws
// normal anatomy over a foreign body instead of copying it through, and a per-pixel calibration
// by the mean AND spread of the error on the normal training images (edges of ribs and the heart
// are always reconstructed worse, and more variably: the map counts standard deviations above
// the usual error). Bench anomaly, seeds 1-3: plain training + mean-only calibration gave image
// AUROC 0.925-0.948 (pixel 0.98), both 0.995-0.997 (pixel 0.998); with a small training budget
// (64 px, width 8, 60 steps) 0.78-0.84 -> 0.90-0.95: denoising needs steps to learn. The map
// has the same form as a WPM (one float per pixel, higher = more anomalous), so image_score,
// thresholds, regions and the PNG writers of wpm.hpp apply unchanged and the two methods
// compare side by side.
//
// Operating points (calibration.hpp): training holds back a share of the normal images (or takes
// a separate calibration set), whose maps give the normal distribution of the image score and of
// circle scores; the file keeps it, so a score comes with its p-value and circles with their
// confidence at a threshold named by false positives per normal image.
//
//   auto det = anomaly::AutoencoderDetector::train(normal_images, {.size = 128});
//   data::Image map = det.anomaly_map(image);      // 128 x 128
//   anomaly::Assessment a = det.assess(image);     // score, p-value, circles (map pixels)
#include <memory>
#include <string>
#include <vector>

#include "liteai/anomaly/calibration.hpp"
#include "liteai/data/image.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::anomaly {

struct AutoencoderOptions {
  int64_t size = 128;    // network input (images are resized to size x size); divisible by 4
  int64_t width = 16;    // channels of the first encoder stage
  int64_t epochs = 10;
  int64_t batch = 16;
  float lr = 2e-3f;      // Adam
  uint64_t seed = 1;
  int progress = -1;     // stderr progress: -1 only on a terminal, 0 off, 1 on
  float smooth_sigma = 2.f;  // Gaussian smoothing of the error map, in pixels (0 = none)
  float calibration_floor = 0.05f;  // added to the divisor (spread, or mean) of the normal error; > 0
  // true: map = max(0, error - mean normal error) / (std of the normal error + floor) per pixel;
  // false: error / (mean normal error + floor) (the maps of detectors before this option).
  bool calibrate_variance = true;
  // Denoising training: coarse Gaussian noise of this standard deviation (in units of the
  // standardized image) on a denoise_grid x denoise_grid grid, upsampled, is added to each input
  // while the target stays clean (0 = plain autoencoder).
  float denoise_std = 1.f;
  int64_t denoise_grid = 16;
  // Share of the normal images held back from training (and from the per-pixel calibration) to
  // calibrate the scores on (holdout_indices: every 1/share-th image); 0 = none, unless a separate
  // calibration set is given to train().
  double holdout = 0.2;
  ScoreOptions score;    // the image score that is calibrated
  DetectOptions detect;  // the circles that are calibrated
  optim::ProgressCallback callback;  // may cancel
};

class AutoencoderDetector {
 public:
  // Wraps a trained model whose architecture is "autoencoder" (head "none"). `calibration`: the
  // per-pixel divisor [size, size] (undefined = none; must be positive); `calibration_offset`:
  // the per-pixel error subtracted (clamped at 0) before dividing (undefined = none).
  AutoencoderDetector(std::shared_ptr<nn::Model> model, Tensor calibration = Tensor(), float smooth_sigma = 2.f,
                      Tensor calibration_offset = Tensor());

  // Trains a fresh autoencoder on normal images (any size; resized to options.size) and calibrates
  // its scores on `calibration_images` (other normals) when given, else on the held-back share.
  static AutoencoderDetector train(const std::vector<data::Image>& normal_images, const AutoencoderOptions& options = {},
                                   const std::vector<data::Image>* calibration_images = nullptr);

  // Squared reconstruction error per pixel of the standardized image, at size x size, minus the
  // calibration offset (if any, clamped at 0), divided by the calibration map, smoothed.
  // Thread-safe (inference only).
  data::Image anomaly_map(const data::Image& image) const;
  std::vector<data::Image> anomaly_maps(const std::vector<data::Image>& images, int64_t batch = 16) const;

  // The scores' calibration (empty for files written before it, or when trained without one).
  const Calibration& calibration() const { return score_calibration_; }
  // (Re)calibrates on the maps of other normal images.
  void calibrate(const std::vector<data::Image>& normal_images, const ScoreOptions& score = {},
                 const DetectOptions& detect = {});
  // The map's image score, its p-value and the circles above the operating point (in map pixels).
  // Thread-safe.
  Assessment assess(const data::Image& image, const OperatingPoint& op = {}) const;

  int64_t size() const { return model_->preprocessing.width; }
  const nn::Model& model() const { return *model_; }
  std::shared_ptr<nn::Model> model_ptr() const { return model_; }

  // A .lai model file: the network, the per-pixel calibration maps and smoothing as extra tensors,
  // and (detector version 2) the score calibration as JSON under "training": {"anomaly": {"version":
  // 2, "calibration": Calibration::to_json()}}. Files without it load uncalibrated.
  void save(const std::string& path) const;
  static AutoencoderDetector load(const std::string& path);

 private:
  // Raw squared errors (no calibration, no smoothing).
  std::vector<data::Image> raw_errors(const std::vector<data::Image>& images, int64_t batch) const;

  std::shared_ptr<nn::Model> model_;
  Tensor calibration_;
  Tensor calibration_offset_;
  float smooth_sigma_;
  Calibration score_calibration_;
};

}  // namespace liteai::anomaly
