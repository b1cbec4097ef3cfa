#pragma once
// The anomaly tasks both front ends share: ProbMats of normal images and the WPM of new images
// against them, the autoencoder detector, self-organizing maps and Hough circles, with their
// options (names as the `liteai probmat|anomaly|som|hough` commands take them).
//
// Intensity units: a ProbMat stores the range [lo, hi] its bins span. A range ending at 1 or below
// is the unit convention (images scaled to [0, 1] by their source's full scale: 8-bit and 16-bit
// alike), which is what `liteai probmat build` and build_probmat() make; any other range is the
// source's own units (0..255 for 8-bit pixels, the C API's default config). probmat_units() puts
// an image into the ProbMat's units, so a ProbMat scores the same whichever front end made it.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/anomaly/calibration.hpp"
#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/app/data.hpp"
#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"

namespace liteai::app {

// ---- ProbMat ----
const OptionSet& probmat_build_options();  // task "probmat-build"
// Streams the options' data (a folder of images, a class-folder tree or a CSV; --label keeps one
// class, --limit a seeded subset) batch by batch, resized and unit-scaled, into a new ProbMat,
// and calibrates it (calibration.hpp) on the --holdout share of those normals it did not count
// (every 1/share-th image), or on the normals of --calibrate, with the map, score and circle
// settings given (the same options as probmat score). --holdout 0 without --calibrate: none.
struct BuiltProbMat {
  anomaly::ProbMat probmat;
  anomaly::ProbMatCalibration calibration;  // empty when not calibrated
};
BuiltProbMat build_probmat(const Options& o, const Hooks& hooks = {});

// How a map is made from a ProbMat and turned into an image score and circles: the options of
// "probmat-score" that probmat-build shares (kind, eps, side, smooth, bandwidth, floor, score,
// top, percentile, min-radius, max-radius and the circle options of detection_tasks.hpp).
const OptionSet& wpm_map_options();
const OptionSet& probmat_score_options();  // task "probmat-score"
struct WpmSettings {
  anomaly::FinalizeOptions finalize;
  anomaly::WpmOptions wpm;
  anomaly::ScoreOptions score;    // score.spots = detect
  anomaly::DetectOptions detect;  // circles (calibrated with the file's normal scores)
  bool circle_score = false;      // score = the strongest Hough circle's votes x support
  anomaly::HoughOptions circles;  // for that circle score
  float threshold = 8.f;          // overlay threshold (map units)
};
// `size` (the ProbMat's width) sizes the default Hough radii of the circle score.
WpmSettings wpm_settings(const Options& o, int size);
// The settings a calibrated ProbMat is scored with: the calibration's when no map, score or
// circle option is given; else the options', and `calibrated` says whether they are the ones the
// calibration was made with (otherwise its p-values and confidences do not apply: a warning is
// logged once and the outputs are uncalibrated).
WpmSettings wpm_settings(const Options& o, int size, const anomaly::ProbMatCalibration& calibration,
                         bool* calibrated);
data::Image probmat_units(const anomaly::ProbMatConfig& c, const data::Image& img);
double map_score(const data::Image& map, const WpmSettings& s);
// What a WPM is assessed with (app::ScoreLines, anomaly::assess): the ProbMat's calibrated scores
// when `calibrated` (wpm_settings said so), else none; the settings' score and circle detection.
anomaly::Calibration wpm_scoring(const anomaly::ProbMatCalibration& calibration, bool calibrated,
                                 const WpmSettings& s);

// ---- autoencoder ----
const OptionSet& autoencoder_train_options();  // task "anomaly-train"
anomaly::AutoencoderOptions autoencoder_settings(const Options& o);
// Reads the options' normal images (at most --max-images, resized as read) and trains a detector.
anomaly::AutoencoderDetector train_autoencoder(const Options& o, const Hooks& hooks = {});
const OptionSet& autoencoder_score_options();  // task "anomaly-score"
// The image score and circles of the options (score.spots = the circle settings).
anomaly::ScoreOptions score_settings(const Options& o);
// The calibration an autoencoder is scored with: its own when the options give no score or circle
// setting, or give the ones it was made with; else empty (and a warning).
anomaly::Calibration autoencoder_calibration(const Options& o, const anomaly::AutoencoderDetector& det);

// ---- maps of files: the outputs of `probmat score` and `anomaly score` ----
// Per image OUT/<name>_wpm.npy (<name><npy_suffix>.npy) and, with png, OUT/<name>_heatmap.png
// and _overlay.png (a name met twice gets _2, _3...).
class MapWriter {
 public:
  MapWriter(const std::string& out_dir, bool png, const std::string& task, std::string npy_suffix = "_wpm");
  // heat_hi: top of the heatmap's colour range (<= 0: the map's own range). Returns the base path.
  std::string write(const std::string& path, const data::Image& image, const data::Image& map, float threshold,
                    float heat_hi = -1.f);

 private:
  std::string out_;
  bool png_;
  std::set<std::string> used_;
  std::string npy_suffix_;
};
// The overlay threshold that a fraction `fpr` of the pixels of these normal maps exceed.
float threshold_from_normals(const std::vector<data::Image>& normal_maps, double fpr);

// ---- SOM ----
const OptionSet& som_train_options();  // task "som-train"
anomaly::SomConfig som_config(const Options& o, int dim);
anomaly::SomTrainOptions som_settings(const Options& o);
struct SomSamples {
  std::vector<float> x;
  int64_t n = 0;
  int dim = 0;
  bool from_probmat = false;
  anomaly::ProbTable table;  // when from a ProbMat: its cells' probability profiles are the samples
};
// A float32 .npy matrix (one sample per row) or a .lpm ProbMat's per-cell profiles.
SomSamples load_som_samples(const std::string& path, const std::string& task);

// ---- Hough ----
const OptionSet& hough_options();  // task "hough"
anomaly::HoughOptions hough_settings(const Options& o);

}  // namespace liteai::app
