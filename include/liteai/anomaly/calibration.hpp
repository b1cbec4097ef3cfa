#pragma once
// Operating points from normal images: what a raw anomaly score means.
//
// A detector (ProbMat + WPM, or the autoencoder) is calibrated on normal images it did not learn
// from (a held-back share of its normals, or a separate set): the image score of each, and the
// score of every circle found on each, make two NormalTails. From them
//   - an image score becomes a p-value: the share of normal images that score at least as high;
//   - a circle score becomes a false-positive rate: how many circles at least this strong a
//     normal image shows on average, and a confidence exp(-rate) (the probability that a normal
//     image shows none);
//   - an operating point is named by false positives per normal image (fp_per_image = 0.125)
//     instead of raw units: the threshold keeps the rate at or below that with probability
//     `level` (0.9) given what the calibration saw (exact Poisson bound on the count).
//
//   Calibrator cal;                                   // default score and circle settings
//   for (const auto& m : normal_maps) cal.add(m);     // maps of held-back normal images
//   Calibration c = cal.finish();
//   Assessment a = assess(map, c);                    // score, p-value, circles with confidence
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "liteai/anomaly/detect.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/io/json.hpp"

namespace liteai::anomaly {

// The scores normal images gave, and the tail rule beyond them. With n images and the values
// v1 >= v2 >= ... (any number per image):
//   exceedance(s) = (1 + #{v >= s}) / (n + 1)                 for s <= v1 (never 0: n normals
//                                                              cannot show that a score is impossible)
//   exceedance(s) = exp(-(s - v1) / beta) / (n + 1)          for s above every normal value,
// beta the mean excess of the m - 1 largest values over the m-th, m = max(5, 10% of the values)
// (an exponential tail fitted to the top: scores beyond every normal keep getting rarer instead of
// all sharing 1 / (n + 1)); with fewer than 3 values beta = |v1| (a slow, cautious decay). For one
// value per image (an image score) exceedance is the conformal p-value, for circles a rate per
// image.
class NormalTail {
 public:
  NormalTail() = default;
  // `values` seen on `images` normal images (finite; throws otherwise).
  NormalTail(std::vector<double> values, int64_t images);

  bool empty() const { return images_ == 0; }
  int64_t images() const { return images_; }
  const std::vector<double>& values() const { return values_; }  // descending
  double tail_scale() const { return beta_; }

  double exceedance(double score) const;
  // The threshold t at which values above t occur at most `rate` times per normal image with
  // probability `level`: t = v(k+1) with k the largest count whose Poisson probability at mean
  // rate x n is at most 1 - level (-inf when fewer than k + 1 values exist: every score passes).
  // Below n = -ln(1 - level) / rate images (18.4 for 0.125 at 0.9) even k = 0 is short of that
  // level; the threshold is then the largest normal value (supported() says so).
  double threshold(double rate, double level = 0.9) const;
  bool supported(double rate, double level = 0.9) const;

  io::Json to_json() const;
  static NormalTail from_json(const io::Json& j, std::string_view what);

 private:
  std::vector<double> values_;
  int64_t images_ = 0;
  double beta_ = 0;
};

// The two tails of a detector and the settings they were measured with (a calibration is only
// valid for the maps and scores it was made with).
struct Calibration {
  ScoreOptions score;    // image scores
  DetectOptions detect;  // circles
  NormalTail image;      // one image score per calibration image
  NormalTail circles;    // every circle found on them

  bool empty() const { return image.empty(); }
  int64_t images() const { return image.images(); }
  double p_value(double image_score) const { return std::min(1.0, image.exceedance(image_score)); }
  double circle_fp_rate(double circle_score) const { return circles.exceedance(circle_score); }
  double circle_confidence(double circle_score) const { return std::exp(-circle_fp_rate(circle_score)); }
  double image_threshold(double fpr, double level = 0.9) const { return image.threshold(fpr, level); }
  double circle_threshold(double fp_per_image, double level = 0.9) const { return circles.threshold(fp_per_image, level); }

  io::Json to_json() const;
  static Calibration from_json(const io::Json& j, std::string_view what);
};

// Collects normal maps into a Calibration (one map at a time: memory is the scores only).
class Calibrator {
 public:
  explicit Calibrator(const ScoreOptions& score = {}, const DetectOptions& detect = {});
  void add(const data::Image& normal_map);
  int64_t images() const { return images_; }
  Calibration finish() const;  // throws when no map was added

 private:
  ScoreOptions score_;
  DetectOptions detect_;
  std::vector<double> image_scores_, circle_scores_;
  int64_t images_ = 0;
};

struct OperatingPoint {
  double fp_per_image = 0.125;  // false circles per normal image, and the share of normals flagged
  double level = 0.9;           // probability that the true rate is at most that (0.5: the estimate)
  void validate() const;
};

// What a reader gets for one map.
struct Assessment {
  double score = 0;             // raw image score
  double p_value = NAN;         // share of normal images scoring at least as high (NaN: uncalibrated)
  bool flagged = false;         // score above the image threshold of the operating point
  double circle_threshold = -INFINITY;
  std::vector<Detection> circles;  // above the threshold, strongest first, with their confidence
};
// Uncalibrated (c.empty()): the raw score and every circle found (with the settings of `c`),
// p-value and confidences NaN, nothing flagged.
Assessment assess(const data::Image& map, const Calibration& c, const OperatingPoint& op = {});

// The held-back share: indices i of 0..n-1 with floor((i + 1) share) > floor(i share), i.e. every
// (1/share)-th image, spread evenly over the data set (deterministic, no seed). At least one when
// share > 0 and n >= 2; never all.
std::vector<size_t> holdout_indices(size_t n, double share);
std::vector<size_t> complement_indices(size_t n, const std::vector<size_t>& sorted_indices);

// The circle and image-score settings that measured best on WPMs (bench anomaly, 5 seeds of
// SYNTHETIC phantoms, 100 + 100 test images each: image AUROC 0.995-1.000 and FROC 0.983-1.000
// with Hough candidates; 0.986-0.997 and 0.973-0.993 with spots): a WPM keeps a sharp circular
// edge around a dense object, misregistered anatomy does not. Autoencoder maps are smooth (Hough
// misses 12-19% of their foreign bodies), so theirs are the plain defaults (spots).
DetectOptions wpm_detect_options();
ScoreOptions wpm_score_options();  // Spot over wpm_detect_options()

// A ProbMat's calibration: its maps depend on how the counts are finalized and mapped, so those
// settings travel with the scores (in the .lpm file, ProbMat::save / load).
struct ProbMatCalibration {
  FinalizeOptions finalize;
  WpmOptions wpm;
  Calibration scores;
  bool empty() const { return scores.empty(); }
  io::Json to_json() const;
  static ProbMatCalibration from_json(const io::Json& j, std::string_view what);
};

// Calibrates a ProbMat on normal images it was not built from (its own size and units).
ProbMatCalibration calibrate_probmat(const ProbMat& pm, const std::vector<data::Image>& normal_images,
                                     const FinalizeOptions& finalize = {}, const WpmOptions& wpm = {},
                                     const ScoreOptions& score = wpm_score_options(),
                                     const DetectOptions& detect = wpm_detect_options());

// Options as JSON, for files and reports.
io::Json to_json(const ScoreOptions& o);
io::Json to_json(const DetectOptions& o);
io::Json to_json(const FinalizeOptions& o);
io::Json to_json(const WpmOptions& o);
ScoreOptions score_options_from_json(const io::Json& j, std::string_view what);
DetectOptions detect_options_from_json(const io::Json& j, std::string_view what);
FinalizeOptions finalize_options_from_json(const io::Json& j, std::string_view what);
WpmOptions wpm_options_from_json(const io::Json& j, std::string_view what);

}  // namespace liteai::anomaly
