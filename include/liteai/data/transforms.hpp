#pragma once
// Per-image transforms of the data pipeline: resize, TensorFlow-style standardization and
// seeded augmentations. Everything works on gray float images and is deterministic.
#include <cstddef>
#include <cstdint>

#include "liteai/data/image.hpp"

namespace liteai {
class Generator;
}

namespace liteai::data {

// Resize to width x height. Per axis: area averaging (exact box coverage) when shrinking,
// bilinear with half-pixel centres (as TF/OpenCV, align_corners=false) when growing, copy when
// equal. Keeps max_value.
Image resize(const Image& src, int width, int height);
// Same, into a caller buffer of width*height floats (no allocation for the output).
void resize_into(const Image& src, float* dst, int width, int height);

// tf.image.per_image_standardization: (x - mean) / max(stddev, 1/sqrt(N)), N = pixel count.
// Mean and variance are accumulated in double. In place.
void standardize(float* pixels, size_t n);
inline void standardize(Image& img) { standardize(img.pixels.data(), img.pixels.size()); }

// Random augmentations. All off by default; amounts are maxima of uniform draws.
struct AugmentOptions {
  bool hflip = false;         // horizontal flip with probability 1/2
  bool vflip = false;         // vertical flip with probability 1/2 (rarely right for radiographs)
  float max_shift = 0.f;      // translation up to this fraction of width/height (edges replicated)
  float max_crop = 0.f;       // crop up to this fraction per side, then scale back to full size
  float brightness = 0.f;     // additive offset up to +-brightness (in standard deviations after
                              // standardization; as a fraction of max_value otherwise)
  float contrast = 0.f;       // multiplicative factor in [1-contrast, 1+contrast] around the mean
  bool any() const {
    return hflip || vflip || max_shift > 0 || max_crop > 0 || brightness > 0 || contrast > 0;
  }
};

// Geometric part (flip, shift, crop), in place. Draws from `rng` in a fixed order.
void augment_geometry(Image& img, const AugmentOptions& opt, Generator& rng);
// Photometric part (brightness, contrast). `unit` is the value scale (1 after standardization).
void augment_photometric(float* pixels, size_t n, const AugmentOptions& opt, float unit, Generator& rng);

// The whole per-sample preprocessing of the loader, in this order:
// resize -> geometric augmentation -> standardization (or scaling to [0,1]) -> photometric.
struct Preprocess {
  int width = 512;
  int height = 512;
  bool standardize = true;  // false: divide by max_value, giving [0, 1]
  AugmentOptions augment;
};
// Writes width*height floats to `out`. `rng` may be null when no augmentation is on.
void preprocess_into(const Image& src, const Preprocess& p, Generator* rng, float* out);

// A per-sample generator seed that depends only on (seed, epoch, index), never on threads.
uint64_t sample_seed(uint64_t seed, uint64_t epoch, uint64_t index);

}  // namespace liteai::data
