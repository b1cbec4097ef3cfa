#pragma once
// WPM (weighted probability map): how improbable each pixel's intensity is at its location under
// a ProbMat, image scores, thresholds chosen on normal images, connected regions, AUROC, and the
// heatmap / overlay PNGs people look at.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/anomaly/detect.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/core/shape.hpp"
#include "liteai/data/image.hpp"

namespace liteai::anomaly {

enum class WpmKind {
  NegLog,       // -log(p(I(x,y)) + eps): nats, 0 for certain intensities, up to -log(floor/bins)
  OneMinusRel,  // 1 - p / max p at that location: in [0, 1]
};

// Which deviations count: foreign bodies (metal, bone-dense objects) are brighter than the
// anatomy expected there, while misregistration makes both brighter and darker pixels.
enum class WpmSide { Both, Brighter, Darker };

struct WpmOptions {
  WpmKind kind = WpmKind::NegLog;
  WpmSide side = WpmSide::Both;  // Brighter: pixels darker than the location's mean map to 0
  float eps = 0.f;           // added to p before the log (0: the ProbMat floor already bounds it)
  float smooth_sigma = 0.f;  // Gaussian smoothing of the map in pixels (0 = none)
  bool operator==(const WpmOptions&) const = default;
};

// The map at the image's size (which must be the ProbMat's width x height); each pixel reads its
// cell (reduced-resolution ProbMats are looked up, not upsampled). Parallel over rows.
data::Image wpm(const ProbTable& table, const data::Image& image, const WpmOptions& options = {});

// Separable Gaussian blur (edges clamped); sigma <= 0 returns a copy.
data::Image gaussian_blur(const data::Image& image, float sigma);

// Spot (the default): the score of the strongest circle detect_circles finds (0 when none): the
//   contrast of a compact, isolated hot spot against the brightest side of its surround. Broad
//   improbable areas and improbable bands (a misregistered body outline, the shoulder line) do
//   not count, so normals stay low while every foreign body keeps its contrast. It is what makes
//   the image AUROC on the phantoms 0.999-1.000 (bench anomaly, 4 seeds) where the top-k mean
//   gives 0.970: every pixel of a WPM is bounded by the ProbMat's floor (about 16 nats), and a
//   badly registered normal has hundreds of pixels at that bound, as many as a coin. The bound
//   itself is kept: unbounded maps (-log of the KDE without floor, or its logarithm) rank worse
//   with every statistic tried (AUROC 0.96-0.99), because they let the most misregistered
//   pixels dominate.
// Percentile / TopKMean / Max / Mean: statistics of the map itself.
// Blob: the largest difference-of-Gaussians response (sigma_small - sigma_large blurs), one scale.
enum class ScoreMethod { Percentile, TopKMean, Max, Mean, Blob, Spot };
struct ScoreOptions {
  ScoreMethod method = ScoreMethod::Spot;
  double percentile = 99.9;  // for Percentile
  double top_fraction = 0.001;  // for TopKMean: mean of the top max(1, fraction * N) values
  float blob_sigma_small = 2.f;   // for Blob, in pixels
  float blob_sigma_large = 10.f;
  DetectOptions spots;            // for Spot
  bool operator==(const ScoreOptions&) const = default;
};
// A robust high statistic of the map (its image-level anomaly score).
double image_score(const data::Image& map, const ScoreOptions& options = {});
const char* to_string(ScoreMethod m);           // "spot", "topk", "percentile", "max", "mean", "blob"
using liteai::to_string;  // keep Shape printing visible beside the overload above
ScoreMethod score_method_from_string(const std::string& name);  // throws listing the names

// The threshold that a fraction `fpr` of the normal values exceed: the (1 - fpr) quantile
// (pass image scores of normal images, or the pixels of normal maps).
double threshold_for_fpr(std::vector<double> normal_values, double fpr);
// Pixel-level version: pools (a deterministic stride sample of) the pixels of normal maps.
double pixel_threshold_for_fpr(const std::vector<data::Image>& normal_maps, double fpr,
                               size_t max_samples = 4'000'000);

struct Region {
  int64_t area = 0;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive bounding box
  float peak = 0;                      // largest map value in the region
  int peak_x = 0, peak_y = 0;
  double mean = 0;                     // mean map value in the region
  double cx = 0, cy = 0;               // centroid
};
// 8-connected regions of map > threshold with at least min_area pixels, largest peak first.
std::vector<Region> find_regions(const data::Image& map, float threshold, int64_t min_area = 1);

// Area under the ROC curve of scores for label 1 vs label 0 (ties count half; Mann-Whitney).
double auroc(const std::vector<double>& scores, const std::vector<int>& labels);
// Pixel-level AUROC of maps against binary masks (mask > 0.5 is positive); pixels pooled over
// all images, optionally on a deterministic stride sample of at most max_pixels.
double pixel_auroc(const std::vector<data::Image>& maps, const std::vector<data::Image>& masks,
                   size_t max_pixels = 8'000'000);

// PNG outputs (8-bit). The heatmap maps [lo, hi] through a perceptual dark-to-bright colour ramp
// (lo >= hi: the map's own min..max). The overlay shows the radiograph in gray (its own range) with
// the colour ramp blended in where the map exceeds `threshold`, opacity growing with the value.
void write_heatmap_png(const std::string& path, const data::Image& map, float lo = 0.f, float hi = -1.f);
void write_overlay_png(const std::string& path, const data::Image& image, const data::Image& map,
                       float threshold, float hi = -1.f, float max_alpha = 0.7f);
// The overlay's pixels: width x height interleaved RGB bytes (e.g. for a DICOM Secondary Capture).
std::vector<uint8_t> overlay_rgb(const data::Image& image, const data::Image& map, float threshold, float hi = -1.f,
                                 float max_alpha = 0.7f);
// Gray PNG of an image scaled from [lo, hi] (lo >= hi: its own range) to 0..255.
void write_gray_png(const std::string& path, const data::Image& image, float lo = 0.f, float hi = -1.f);
// The colour ramp used above: t in [0, 1] -> RGB.
void colormap(float t, uint8_t rgb[3]);

}  // namespace liteai::anomaly
