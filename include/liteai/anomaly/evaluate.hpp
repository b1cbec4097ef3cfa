#pragma once
// Detection evaluation against ground-truth masks: image AUROC, and FROC as the object-CXR
// challenge defines it (JF Healthcare, MIDL 2020; github.com/jfhealthcare/object-CXR):
//   - the objects of an image are the 8-connected regions of its mask (> 0.5);
//   - a detection is a hit when its centre (rounded to the nearest pixel) lies inside an object;
//     the first hit of an object counts, later ones on the same object count neither way;
//   - every other detection is a false positive; FP per image = false positives / all images
//     (normal and abnormal alike);
//   - detections are taken strongest first (equal scores together); the sensitivity at a rate r
//     is the share of objects hit before the false positives reach r x images; FROC is the mean
//     sensitivity at 0.125, 0.25, 0.5, 1, 2, 4 and 8 FP per image.
// Image AUROC: the image score (given, or the strongest detection's score, 0 without any) of the
// images with objects against those without.
//
// Detections file (CSV, UTF-8, one header line):
//     path,x,y,radius,score,confidence
//     images/000001.png,131.0,88.0,7.2,9.41,0.9987
//     images/000002.png,,,,,
// x, y, radius in pixels of the image (pixel (i, j) centred at (i, j)); score raw (higher =
// stronger), confidence as calibration.hpp defines it (empty = uncalibrated). A row with only a
// path says that image has no detection; images of the truth the file does not name count as
// having none. For FROC the file should hold every candidate, not only those above an operating
// point. Paths match the truth's by equal text, else by the same file on disk, else by file
// name when that is unique.
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/anomaly/detect.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/image.hpp"
#include "liteai/data/plot.hpp"
#include "liteai/io/json.hpp"

namespace liteai::anomaly {

// One ground-truth object: its bounding box and which of its pixels belong to it.
struct TruthObject {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) x [y0, y1)
  std::vector<uint8_t> inside;         // (x1 - x0) x (y1 - y0), row-major
  bool contains(int x, int y) const;
  int64_t area() const;
};
struct ImageTruth {
  std::string path;  // as the manifest writes it
  std::string file;  // resolved on disk (empty for truth made in memory)
  int width = 0, height = 0;
  std::vector<TruthObject> objects;
};
// The objects of a mask (8-connected regions of pixels > 0.5).
ImageTruth truth_from_mask(const data::Image& mask, const std::string& path = {});

// A CSV manifest with columns path and mask (e.g. `liteai synth`'s manifest.csv); relative paths
// are resolved against the manifest's folder. An empty mask cell means no objects (the image's
// size is then read from its header). Masks are read one at a time, so memory is the objects only.
std::vector<ImageTruth> read_truth_manifest(const std::string& manifest);

struct ImageDetections {
  std::string path;
  std::vector<Detection> detections;
};
void write_detections_csv(const std::string& path, const std::vector<ImageDetections>& rows);
std::vector<ImageDetections> read_detections_csv(const std::string& path);
// The detections of each truth image in truth order (matched as described above; a path of the
// file that matches no truth image is an error naming it).
std::vector<std::vector<Detection>> match_detections(const std::vector<ImageTruth>& truth,
                                                     const std::vector<ImageDetections>& rows);

struct FrocPoint {
  double threshold = 0;   // detections scoring at least this are in
  double fp_per_image = 0;
  double sensitivity = 0;
};
struct DetectionEvaluation {
  int64_t images = 0, images_with_objects = 0, objects = 0, detections = 0;
  double image_auroc = NAN;  // NaN when all images are of one kind
  std::vector<double> rates;          // 0.125 .. 8
  std::vector<double> sensitivities;  // at each rate
  double froc = 0;                    // their mean
  std::vector<FrocPoint> curve;       // after each group of equal-score detections
  io::Json to_json() const;           // everything but the curve, plus "synthetic"/notes by the caller
  std::string curve_csv() const;      // threshold,fp_per_image,sensitivity
};
// detections[i] in the pixels of truth[i]; image_scores (optional, one per image) for the AUROC.
DetectionEvaluation evaluate_detections(const std::vector<ImageTruth>& truth,
                                        const std::vector<std::vector<Detection>>& detections,
                                        const std::vector<double>* image_scores = nullptr);

// Maps written by `probmat score` / `anomaly score` (DIR/<stem>_wpm.npy, any size): the circles of
// each truth image's map (scaled to the image) and its image score. A truth image without a map
// is an error naming the file looked for.
struct MapDetections {
  std::vector<std::vector<Detection>> detections;
  std::vector<double> image_scores;
};
MapDetections detections_from_maps(const std::vector<ImageTruth>& truth, const std::string& maps_dir,
                                   const DetectOptions& detect = {}, const ScoreOptions& score = {});

// The FROC curve as a chart (log x axis from 1/8 to 8, the seven rates marked); write it with
// .write_png / .write_svg. Put SYNTHETIC in the title when the images are.
data::Chart froc_chart(const DetectionEvaluation& e, const std::string& title);

}  // namespace liteai::anomaly
