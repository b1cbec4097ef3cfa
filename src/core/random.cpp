#include "liteai/core/random.hpp"

#include <cmath>

namespace liteai {

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void Generator::seed_(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
  has_spare_ = false;
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

float Generator::uniform(float lo, float hi) {
  return static_cast<float>(lo + (static_cast<double>(hi) - lo) * uniform());
}

float Generator::normal(float mean, float stddev) {
  if (has_spare_) {
    has_spare_ = false;
    return static_cast<float>(mean + stddev * spare_);
  }
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
  spare_ = r * std::sin(th);
  has_spare_ = true;
  return static_cast<float>(mean + stddev * r * std::cos(th));
}

uint64_t Generator::below(uint64_t n) {
  if (n <= 1) return 0;
  // Rejection sampling: no modulo bias.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

Generator& default_generator() {
  static Generator g(0x5eed);
  return g;
}
void manual_seed(uint64_t seed) { default_generator().seed_(seed); }

Tensor rand_uniform(const Shape& shape, float lo, float hi, Generator& g) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = g.uniform(lo, hi);
  return t;
}

Tensor randn(const Shape& shape, float mean, float stddev, Generator& g) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = g.normal(mean, stddev);
  return t;
}

void fan_in_out(const Shape& s, int64_t& fan_in, int64_t& fan_out) {
  if (s.size() == 1) {
    fan_in = fan_out = s[0];
  } else if (s.size() == 2) {  // dense kernel [in, out]
    fan_in = s[0];
    fan_out = s[1];
  } else {  // conv [out, in, kh, kw, ...]
    int64_t field = 1;
    for (size_t i = 2; i < s.size(); ++i) field *= s[i];
    fan_in = s[1] * field;
    fan_out = s[0] * field;
  }
  if (fan_in < 1) fan_in = 1;
  if (fan_out < 1) fan_out = 1;
}

Tensor kaiming_uniform(const Shape& shape, Generator& g) {
  int64_t fi, fo;
  fan_in_out(shape, fi, fo);
  float bound = static_cast<float>(std::sqrt(6.0 / fi));
  return rand_uniform(shape, -bound, bound, g);
}

Tensor kaiming_normal(const Shape& shape, Generator& g) {
  int64_t fi, fo;
  fan_in_out(shape, fi, fo);
  return randn(shape, 0.f, static_cast<float>(std::sqrt(2.0 / fi)), g);
}

Tensor glorot_uniform(const Shape& shape, Generator& g) {
  int64_t fi, fo;
  fan_in_out(shape, fi, fo);
  float bound = static_cast<float>(std::sqrt(6.0 / (fi + fo)));
  return rand_uniform(shape, -bound, bound, g);
}

}  // namespace liteai
