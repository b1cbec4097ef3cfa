#pragma once
// Circles on anomaly maps (a WPM or an autoencoder map): round, compact, isolated hot spots the
// size of a coin, a button or an ECG electrode, found in scale space rather than by Hough votes
// (on the smooth autoencoder maps Hough finds 20% fewer of the phantoms' foreign bodies; on both
// maps a broad improbable area gives it many circles).
//
// 1. Candidates: for radii r from min_radius to max_radius (steps of 1.25x), the difference of
//    Gaussians G(r/sqrt 2) - G(2 r/sqrt 2) of the map (scale-normalized, so it peaks at a disc's
//    own radius); each pixel keeps its best radius; local maxima (5x5) with a positive response.
// 2. Edges and ridges are dropped: a blob's response is curved alike in every direction, that of
//    a band (a misregistered body outline, the shoulder line at the image border) along one only,
//    so candidates whose Hessian of the response has principal curvatures in a ratio above
//    max_edge_ratio go (Lowe's test, SIFT).
// 3. Score = contrast against the brightest side of the surround: the mean map value in the disc
//    minus the largest of the mean values in 8 sectors of the annulus [1.5 r, 2.5 r]. A disc in a
//    broad improbable area or on an improbable band has a hot sector and scores low; an isolated
//    spot keeps its whole contrast. Units: those of the map.
//    Only discs that lie inside the map count: at the border half the surround is missing and
//    edge replication makes bands there look like blobs (on the phantoms, most false circles of
//    the autoencoder maps sat on the border).
// 4. Non-maximum suppression: the stronger of two detections closer than min_separation times the
//    larger radius is kept; at most max_detections, strongest first, all scoring above min_contrast.
//
// Coordinates are those of the map's pixels with pixel (i, j) centred at (i, j) (as Hough circles
// and the phantoms' findings).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/data/image.hpp"

namespace liteai::anomaly {

// Where candidates come from: scale-space spots (step 1) or circles of the Hough transform on the
// map (hough.hpp: circular edges; min_votes 5, min_support 0.3). Either way steps 2-4 follow.
enum class CircleSource { Spots, Hough };
const char* to_string(CircleSource s);  // "spots", "hough"
CircleSource circle_source_from_string(const std::string& name);

struct DetectOptions {
  CircleSource source = CircleSource::Spots;
  // Radii looked for, as fractions of the map's width (so one setting fits a WPM at 512 and an
  // autoencoder map at 128; the phantoms' foreign bodies have radii of 1.6..4.5% of the side).
  float min_radius = 0.014f;
  float max_radius = 0.05f;
  float min_contrast = 0.f;     // detections must score above this (map units)
  float max_edge_ratio = 4.f;   // principal-curvature ratio above which a candidate is an edge (0 = off)
  float min_separation = 1.5f;  // in units of the larger radius of two detections
  int max_detections = 16;      // per map
  void validate() const;        // throws naming the bad field
  bool operator==(const DetectOptions&) const = default;
};

struct Detection {
  float x = 0, y = 0, radius = 0;  // pixels of the map (or of the image, once scaled)
  double score = 0;                // contrast (map units), see above
  // exp(-false detections per normal image at this score) once calibrated (calibration.hpp): the
  // probability that a normal image shows no circle this strong. NaN when uncalibrated.
  double confidence = NAN;
};

// Strongest first.
std::vector<Detection> detect_circles(const data::Image& map, const DetectOptions& options = {});

// A detection of a map of map_width x map_height in the pixels of an image of width x height
// (pixel centres map onto pixel centres; the radius scales with the width).
Detection scale_detection(const Detection& d, int map_width, int map_height, int width, int height);

}  // namespace liteai::anomaly
