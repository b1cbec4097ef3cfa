#pragma once
// Operating points and detection evaluation, shared by the anomaly tasks: the circle settings
// (anomaly/detect.hpp) every map task takes, the operating point of the scoring tasks (named by
// false positives per normal image, anomaly/calibration.hpp), what a reader gets for one image
// as JSON, and the task "eval-detections" (image AUROC and FROC as the object-CXR challenge
// defines it, anomaly/evaluate.hpp, with the FROC curve as CSV, PNG and SVG).
#include <functional>
#include <string>
#include <vector>

#include "liteai/anomaly/calibration.hpp"
#include "liteai/anomaly/detect.hpp"
#include "liteai/anomaly/evaluate.hpp"
#include "liteai/app/options.hpp"
#include "liteai/io/json.hpp"

namespace liteai::app {

// circles (auto|spots|hough), circle-radii (MIN,MAX as fractions of the map width), min-contrast,
// max-circles.
const OptionSet& circle_options();
// fp-per-image, level.
const OptionSet& operating_point_options();
// `automatic` is what --circles auto means for the maps at hand: Hough candidates on WPMs, spots
// on autoencoder maps and map folders (the settings that measured best on each, calibration.hpp).
anomaly::DetectOptions circle_settings(const Options& o, anomaly::CircleSource automatic);
anomaly::OperatingPoint operating_point(const Options& o);
// Whether any option of `set` was given (e.g. any circle option): then the options decide, not a
// file's calibration.
bool any_given(const Options& o, const OptionSet& set);

// {"score", "p_value" (null: uncalibrated), "flagged", "circle_threshold" (null: none),
//  "circles": [{"x", "y", "radius", "score", "confidence"}]}, the circles scaled from the map's
// map_w x map_h pixels to the image's image_w x image_h.
io::Json assessment_json(const anomaly::Assessment& a, int map_w, int map_h, int image_w, int image_h);

// The per-image outputs of `probmat score` and `anomaly score`: a CSV line per image
// ("path,score" uncalibrated; "path,score,p_value,flagged,circles" calibrated) and, with
// --detections FILE, the circles in the image's own pixels (only those past the operating point,
// or every one with --all-circles).
class ScoreLines {
 public:
  ScoreLines(const Options& o, anomaly::Calibration calibration);  // empty calibration: uncalibrated
  const std::string& header() const { return header_; }
  // What one map gets: the calibration's assessment (its score replaced by set_score's when
  // uncalibrated).
  anomaly::Assessment assess(const data::Image& map) const;
  // Assesses one map (of an image of image_w x image_h) and returns its CSV line (no newline);
  // last() is that assessment (e.g. for the DICOM results of the same image).
  std::string add(const std::string& path, const data::Image& map, int image_w, int image_h);
  const anomaly::Assessment& last() const { return last_; }
  void finish() const;  // writes --detections
  // An image score other than the calibration's (uncalibrated only: e.g. the Hough circle score).
  void set_score(std::function<double(const data::Image&)> score) { score_ = std::move(score); }

 private:
  anomaly::Calibration cal_;
  anomaly::OperatingPoint op_;
  std::string header_, detections_;
  bool all_ = false;
  std::vector<anomaly::ImageDetections> rows_;
  std::function<double(const data::Image&)> score_;
  anomaly::Assessment last_;
};

// Task "eval-detections": --truth MANIFEST (columns path, mask; masks are the truth) against
// --detections FILE (path,x,y,radius,score,confidence; evaluate.hpp) or --maps DIR (the
// <name>_wpm.npy maps of probmat score / anomaly score: circles and image scores found with the
// circle and score options). Writes into --out (when given) evaluation.json, froc.csv, froc.png and
// froc.svg, and returns the evaluation as JSON (evaluate.hpp's fields, plus "truth", "source" and
// "synthetic": true when the manifest's folder holds the README of `liteai synth`, which every
// output then says).
const OptionSet& eval_detections_options();
io::Json eval_detections(const Options& o);

}  // namespace liteai::app
