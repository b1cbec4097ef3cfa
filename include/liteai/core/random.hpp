#pragma once
// A seeded generator whose bits are the same on every platform (no std:: distributions, whose
// output is implementation-defined), and the usual initializers built on it.
#include <cstdint>

#include "liteai/core/tensor.hpp"

namespace liteai {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { seed_(seed); }
  void seed_(uint64_t seed);
  uint64_t next_u64();                        // xoshiro256**
  uint32_t next_u32() { return static_cast<uint32_t>(next_u64() >> 32); }
  double uniform();                           // [0, 1)
  float uniform(float lo, float hi);
  float normal(float mean = 0.f, float stddev = 1.f);  // Box-Muller
  uint64_t below(uint64_t n);                 // uniform integer in [0, n)

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// The library's default generator (used when none is passed).
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand_uniform(const Shape& shape, float lo, float hi, Generator& g = default_generator());
Tensor randn(const Shape& shape, float mean = 0.f, float stddev = 1.f, Generator& g = default_generator());
// fan_in/fan_out come from the shape: [in, out] for a dense kernel (y = x W), [out, in, kh, kw] for conv.
Tensor kaiming_uniform(const Shape& shape, Generator& g = default_generator());  // gain sqrt(2)
Tensor kaiming_normal(const Shape& shape, Generator& g = default_generator());
Tensor glorot_uniform(const Shape& shape, Generator& g = default_generator());
void fan_in_out(const Shape& shape, int64_t& fan_in, int64_t& fan_out);

}  // namespace liteai
