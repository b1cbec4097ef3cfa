#pragma once
// Gradient-based circle Hough transform (on a WPM or on the raw image).
//
// 1. Optional Gaussian blur, Sobel gradients.
// 2. Canny-like edges: non-maximum suppression across the gradient direction, then hysteresis
//    between a low and a high threshold (fractions of the largest gradient magnitude, floored
//    by a multiple of the median magnitude so noise alone makes no edges).
// 3. Every edge pixel votes for centres along its gradient direction, at each distance in
//    [min_radius, max_radius] (towards the darker side for bright discs, the other way for dark
//    ones, both for Polarity::Both), into an accumulator the size of the image (lightly smoothed).
// 4. Accumulator peaks above `min_votes` are taken in decreasing order, skipping any closer than
//    min_dist to one already taken. For each, the radius is the distance that most edge pixels
//    (whose gradient points along the centre-to-pixel line) lie at; `support` is the fraction of
//    that circumference covered by such edge pixels, and circles below `min_support` are dropped.
#include <cstddef>
#include <vector>

#include "liteai/data/image.hpp"

namespace liteai::anomaly {

enum class Polarity { Bright, Dark, Both };

struct HoughOptions {
  float min_radius = 3.f;
  float max_radius = 30.f;
  float min_dist = 0.f;        // minimum distance between centres (0: min_radius)
  float blur_sigma = 1.f;      // Gaussian blur before the gradients (0 = none)
  float low_threshold = 0.1f;  // hysteresis thresholds as fractions of the max gradient magnitude
  float high_threshold = 0.25f;
  // The thresholds are also at least noise_factor (high) and noise_factor / 2 (low) times the
  // median gradient magnitude, so a featureless noisy image yields no edges (0 = off).
  float noise_factor = 5.f;
  float min_votes = 10.f;      // accumulator peak threshold
  float min_support = 0.35f;   // fraction of the circumference backed by edge pixels
  Polarity polarity = Polarity::Bright;
  int max_circles = 100;
};

struct Circle {
  float x = 0, y = 0, radius = 0;
  float votes = 0;    // accumulator value at the centre
  float support = 0;  // fraction of the circumference with edge pixels
};

std::vector<Circle> hough_circles(const data::Image& image, const HoughOptions& options = {});

// Image-level "round object" score of a map (e.g. a WPM): the largest votes x support over the
// circles found (0 when none). On the phantoms this separates foreign bodies from normal images
// better than any statistic of the WPM alone, since misregistration makes large improbable
// areas but not round ones.
double circle_score(const data::Image& map, const HoughOptions& options);

// The Canny-like edge map used above (1 = edge) and gradients, exposed for inspection and tests.
struct EdgeMap {
  int width = 0, height = 0;
  std::vector<float> gx, gy, magnitude;
  std::vector<uint8_t> edge;
};
EdgeMap canny_edges(const data::Image& image, float blur_sigma, float low_fraction, float high_fraction,
                    float noise_factor = 0.f);

}  // namespace liteai::anomaly
