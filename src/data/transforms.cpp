#include "liteai/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "liteai/core/error.hpp"
#include "liteai/core/random.hpp"

namespace liteai::data {
namespace {

// Contributions of source pixels to each output pixel along one axis.
struct AxisWeights {
  std::vector<int> first;      // first source index per output
  std::vector<int> count;      // number of taps per output
  std::vector<float> weights;  // taps, `max_taps` per output
  int max_taps = 0;
};

AxisWeights axis_weights(int in, int out) {
  AxisWeights a;
  a.first.resize(out);
  a.count.resize(out);
  if (out < in) {
    // Area: output pixel o covers source interval [o*s, (o+1)*s), s = in/out.
    const double s = double(in) / out;
    a.max_taps = int(std::ceil(s)) + 1;
    a.weights.assign(size_t(out) * a.max_taps, 0.f);
    for (int o = 0; o < out; ++o) {
      const double lo = o * s, hi = (o + 1) * s;
      const int i0 = int(std::floor(lo));
      const int i1 = std::min(in - 1, int(std::ceil(hi)) - 1);
      a.first[o] = i0;
      a.count[o] = i1 - i0 + 1;
      for (int i = i0; i <= i1; ++i) {
        const double cover = std::min(hi, double(i + 1)) - std::max(lo, double(i));
        a.weights[size_t(o) * a.max_taps + (i - i0)] = float(cover / s);
      }
    }
  } else {
    // Bilinear with half-pixel centres; edges clamp. Equal sizes give weight 1 on one tap.
    a.max_taps = 2;
    a.weights.assign(size_t(out) * 2, 0.f);
    const double s = double(in) / out;
    for (int o = 0; o < out; ++o) {
      double x = (o + 0.5) * s - 0.5;
      x = std::clamp(x, 0.0, double(in - 1));
      int i0 = std::min(int(std::floor(x)), in - 1);
      const double f = x - i0;
      if (i0 + 1 < in && f > 0) {
        a.first[o] = i0;
        a.count[o] = 2;
        a.weights[size_t(o) * 2] = float(1 - f);
        a.weights[size_t(o) * 2 + 1] = float(f);
      } else {
        a.first[o] = i0;
        a.count[o] = 1;
        a.weights[size_t(o) * 2] = 1.f;
      }
    }
  }
  return a;
}

}  // namespace

void resize_into(const Image& src, float* dst, int width, int height) {
  LAI_CHECK(!src.empty() && src.width > 0 && src.height > 0, "resize: empty source image");
  LAI_CHECK(width > 0 && height > 0, "resize: bad target size ", width, "x", height);
  if (width == src.width && height == src.height) {
    std::copy(src.pixels.begin(), src.pixels.end(), dst);
    return;
  }
  const AxisWeights ax = axis_weights(src.width, width);
  const AxisWeights ay = axis_weights(src.height, height);
  // Horizontal pass over only the rows the vertical pass needs, one output row at a time,
  // caching horizontally resized source rows in a small ring.
  std::vector<float> rows(size_t(ay.max_taps) * width);
  std::vector<int> row_of(ay.max_taps, -1);
  auto hrow = [&](int sy) -> const float* {
    const int slot = sy % ay.max_taps;
    float* r = rows.data() + size_t(slot) * width;
    if (row_of[slot] != sy) {
      const float* s = src.pixels.data() + size_t(sy) * src.width;
      for (int o = 0; o < width; ++o) {
        const float* w = ax.weights.data() + size_t(o) * ax.max_taps;
        const float* p = s + ax.first[o];
        float acc = 0.f;
        for (int k = 0; k < ax.count[o]; ++k) acc += w[k] * p[k];
        r[o] = acc;
      }
      row_of[slot] = sy;
    }
    return r;
  };
  for (int oy = 0; oy < height; ++oy) {
    float* d = dst + size_t(oy) * width;
    const float* w = ay.weights.data() + size_t(oy) * ay.max_taps;
    std::fill(d, d + width, 0.f);
    for (int k = 0; k < ay.count[oy]; ++k) {
      const float* r = hrow(ay.first[oy] + k);
      const float wk = w[k];
      for (int x = 0; x < width; ++x) d[x] += wk * r[x];
    }
  }
}

Image resize(const Image& src, int width, int height) {
  Image out(width, height);
  out.max_value = src.max_value;
  resize_into(src, out.pixels.data(), width, height);
  return out;
}

void standardize(float* x, size_t n) {
  if (n == 0) return;
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / double(n);
  for (size_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    sq += d * d;
  }
  const double stddev = std::sqrt(sq / double(n));
  const double adjusted = std::max(stddev, 1.0 / std::sqrt(double(n)));
  const float m = float(mean), inv = float(1.0 / adjusted);
  for (size_t i = 0; i < n; ++i) x[i] = (x[i] - m) * inv;
}

void augment_geometry(Image& img, const AugmentOptions& opt, Generator& rng) {
  const int w = img.width, h = img.height;
  // Draw every random number up front in a fixed order so options don't shift each other's draws.
  const bool hf = opt.hflip && rng.uniform() < 0.5;
  const bool vf = opt.vflip && rng.uniform() < 0.5;
  const float sx = opt.max_shift > 0 ? rng.uniform(-opt.max_shift, opt.max_shift) : 0.f;
  const float sy = opt.max_shift > 0 ? rng.uniform(-opt.max_shift, opt.max_shift) : 0.f;
  const float c0 = opt.max_crop > 0 ? rng.uniform(0.f, opt.max_crop) : 0.f;
  const float c1 = opt.max_crop > 0 ? rng.uniform(0.f, opt.max_crop) : 0.f;
  const float c2 = opt.max_crop > 0 ? rng.uniform(0.f, opt.max_crop) : 0.f;
  const float c3 = opt.max_crop > 0 ? rng.uniform(0.f, opt.max_crop) : 0.f;
  if (hf)
    for (int y = 0; y < h; ++y) std::reverse(img.pixels.begin() + size_t(y) * w, img.pixels.begin() + size_t(y + 1) * w);
  if (vf)
    for (int y = 0; y < h / 2; ++y)
      std::swap_ranges(img.pixels.begin() + size_t(y) * w, img.pixels.begin() + size_t(y + 1) * w,
                       img.pixels.begin() + size_t(h - 1 - y) * w);
  const int dx = int(std::lround(sx * w)), dy = int(std::lround(sy * h));
  if (dx != 0 || dy != 0) {
    std::vector<float> out(img.pixels.size());
    for (int y = 0; y < h; ++y) {
      const int ys = std::clamp(y - dy, 0, h - 1);
      for (int x = 0; x < w; ++x) out[size_t(y) * w + x] = img.pixels[size_t(ys) * w + std::clamp(x - dx, 0, w - 1)];
    }
    img.pixels.swap(out);
  }
  const int left = int(c0 * w), right = int(c1 * w), top = int(c2 * h), bottom = int(c3 * h);
  if (left + right > 0 || top + bottom > 0) {
    Image crop(w - left - right, h - top - bottom);
    crop.max_value = img.max_value;
    for (int y = 0; y < crop.height; ++y)
      std::copy_n(img.pixels.begin() + size_t(y + top) * w + left, crop.width, crop.pixels.begin() + size_t(y) * crop.width);
    resize_into(crop, img.pixels.data(), w, h);
  }
}

void augment_photometric(float* x, size_t n, const AugmentOptions& opt, float unit, Generator& rng) {
  const float b = opt.brightness > 0 ? rng.uniform(-opt.brightness, opt.brightness) * unit : 0.f;
  const float c = opt.contrast > 0 ? rng.uniform(1.f - opt.contrast, 1.f + opt.contrast) : 1.f;
  if (b == 0.f && c == 1.f) return;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i];
  const float mean = n ? float(sum / double(n)) : 0.f;
  for (size_t i = 0; i < n; ++i) x[i] = (x[i] - mean) * c + mean + b;
}

void preprocess_into(const Image& src, const Preprocess& p, Generator* rng, float* out) {
  const size_t n = size_t(p.width) * size_t(p.height);
  const bool geo = p.augment.hflip || p.augment.vflip || p.augment.max_shift > 0 || p.augment.max_crop > 0;
  LAI_CHECK(!p.augment.any() || rng != nullptr, "preprocess: augmentation needs a generator");
  if (geo) {
    thread_local Image tmp;
    tmp.width = p.width;
    tmp.height = p.height;
    tmp.max_value = src.max_value;
    tmp.pixels.resize(n);
    resize_into(src, tmp.pixels.data(), p.width, p.height);
    augment_geometry(tmp, p.augment, *rng);
    std::copy(tmp.pixels.begin(), tmp.pixels.end(), out);
  } else {
    resize_into(src, out, p.width, p.height);
  }
  float unit = 1.f;
  if (p.standardize) {
    standardize(out, n);
  } else {
    const float inv = 1.f / src.max_value;
    for (size_t i = 0; i < n; ++i) out[i] *= inv;
  }
  if (p.augment.brightness > 0 || p.augment.contrast > 0) augment_photometric(out, n, p.augment, unit, *rng);
}

uint64_t sample_seed(uint64_t seed, uint64_t epoch, uint64_t index) {
  // splitmix64 finalizer over a combination; distinct (epoch, index) pairs give unrelated seeds.
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ epoch) ^ (index * 0xd1342543de82ef95ull));
}

}  // namespace liteai::data
