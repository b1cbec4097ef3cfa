#pragma once
// Anomalous regions of interest for ROI-guided training (SPEC section 6, "anomalous ROI
// extraction before training"): a classifier looks at the whole radiograph downscaled plus the k
// most anomalous regions at full resolution, so a 512 px net sees a coin at the detail of a
// 2048 px image while its big first layer stays the size of a 512 px one.
//
// The anomaly map (a WPM or an autoencoder map, at any resolution; the anomaly layer makes it)
// chooses the regions: the k squares of `size` image pixels whose centre-weighted mean map value
// (tent weights, so a small spot gets a region centred on it) is largest, picked greedily, each overlapping the ones before by at most max_overlap of its area. Always k
// regions (a net's input has a fixed shape): when the overlap rule leaves none, the best
// remaining square is taken anyway. Deterministic (ties: the first in row order).
//
//   data::RoiOptions ro{.k = 2, .size = 128};
//   data::RoiSample s = data::make_roi_sample(radiograph, wpm_map, 512, 512, ro);
//   // s.whole: 512 x 512; s.crops[0..1]: 128 x 128 at full resolution; s.rois: where they are
#include <cstdint>
#include <functional>
#include <vector>

#include "liteai/data/image.hpp"

namespace liteai::data {

struct RoiOptions {
  int k = 2;                  // regions per image
  int size = 128;             // side of a region, in pixels of the full-resolution image
  float max_overlap = 0.25f;  // of a region's area, with any region picked before it
  void validate() const;
};

struct Roi {
  int x0 = 0, y0 = 0, size = 0;  // square [x0, x0 + size) x [y0, y0 + size) in image pixels
  double score = 0;              // centre-weighted mean map value inside
};

// The k regions of an image of image_width x image_height, chosen on `map` (scaled onto it).
// A region lies inside the image when the image is at least `size` wide and high; otherwise it
// is centred and the crop replicates the image's edges.
std::vector<Roi> select_rois(const Image& map, int image_width, int image_height, const RoiOptions& options = {});

// The pixels of a region (size x size; outside the image, the nearest edge pixel).
Image crop(const Image& image, const Roi& roi);

struct RoiSample {
  Image whole;              // the image resized to whole_width x whole_height (area averaging)
  std::vector<Image> crops;  // k crops at full resolution
  std::vector<Roi> rois;
};
RoiSample make_roi_sample(const Image& image, const Image& map, int whole_width, int whole_height,
                          const RoiOptions& options = {});

// The input of an ROI-guided net (nn zoo roi_cxr) as one tensor per image: 1 + k planes of
// width x height. Plane 0 is the whole image resized (area averaging); planes 1..k are the
// regions, cut at full resolution and resized to width x height (untouched when the region's size
// is the plane's). Every plane is scaled like the whole plane (standardized with its mean and
// deviation, or divided by the full scale), so a crop keeps its brightness relative to the image.
struct RoiInput {
  RoiOptions regions;
  // The anomaly map of an image as decoded (source units, any size; called from several threads
  // at once): the regions are chosen on it. Empty: no ROI input (one plane, the whole image).
  std::function<Image(const Image&)> map;
  bool active() const { return bool(map); }
  int planes() const { return active() ? 1 + regions.k : 1; }
};
// Writes input.planes() x width x height floats to `out`; returns the regions.
std::vector<Roi> roi_planes_into(const Image& image, const RoiInput& input, int width, int height, bool standardize,
                                 float* out);

}  // namespace liteai::data
