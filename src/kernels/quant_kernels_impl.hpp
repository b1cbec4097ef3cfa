#pragma once
// The quantization kernels for one architecture: Arch an xsimd architecture, or void for the
// portable loop. The float-to-code step is a table read on the float's top 16 bits and one integer
// comparison on its low 16 bits (quant_kernels.hpp), so every ISA rounds the same way.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/quant_kernels.hpp"

#ifdef LITEAI_QUANT_KERNELS_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace liteai::kernels::detail {

inline uint8_t q8_code(const QuantTable& t, float y) {
  uint32_t u;
  std::memcpy(&u, &y, 4);
  const uint32_t e = t.buckets[u >> 16];
  const uint32_t key = (u & 0xffffu) ^ (u >> 31 ? 0xffffu : 0u);
  return static_cast<uint8_t>((e & 0xffu) + (key >= (e >> 8) ? 1u : 0u));
}

inline void q8_decode_scalar(int64_t n, const QuantTable& t, const uint8_t* codes, float absmax, float* x) {
  for (int64_t k = 0; k < n; ++k) x[k] = t.values[codes[k]] * absmax;
}

inline float q8_encode_scalar(int64_t n, const QuantTable& t, const float* x, uint8_t* codes) {
  float absmax = 0.f;
  for (int64_t k = 0; k < n; ++k) absmax = std::max(absmax, std::fabs(x[k]));
  const float inv = absmax > 0.f ? 1.f / absmax : 0.f;
  for (int64_t k = 0; k < n; ++k) codes[k] = q8_code(t, x[k] * inv);
  return absmax;
}

#ifdef LITEAI_QUANT_KERNELS_XSIMD
template <class Arch>
struct QuantSimd {
  using F = xsimd::batch<float, Arch>;
  using I = xsimd::batch<int32_t, Arch>;
  static constexpr int64_t W = static_cast<int64_t>(F::size);

  static void decode(int64_t n, const QuantTable& t, const uint8_t* codes, float absmax, float* x) {
    const F scale(absmax);
    alignas(64) int32_t idx[W];
    int64_t k = 0;
    for (; k + W <= n; k += W) {
      for (int64_t i = 0; i < W; ++i) idx[i] = codes[k + i];
      const F v = F::gather(t.values, I::load_aligned(idx));
      (v * scale).store_unaligned(x + k);
    }
    q8_decode_scalar(n - k, t, codes + k, absmax, x + k);
  }

  static float encode(int64_t n, const QuantTable& t, const float* x, uint8_t* codes) {
    F vmax(0.f);
    int64_t k = 0;
    for (; k + W <= n; k += W) vmax = xsimd::max(vmax, xsimd::abs(F::load_unaligned(x + k)));
    alignas(64) float lanes[W];
    vmax.store_aligned(lanes);
    float absmax = 0.f;
    for (int64_t i = 0; i < W; ++i) absmax = std::max(absmax, lanes[i]);
    for (; k < n; ++k) absmax = std::max(absmax, std::fabs(x[k]));
    const float inv = absmax > 0.f ? 1.f / absmax : 0.f;
    const F vinv(inv);
    const I low(0xffff), byte(0xff), one(1);
    const int32_t* buckets = reinterpret_cast<const int32_t*>(t.buckets);
    alignas(64) int32_t q[W];
    for (k = 0; k + W <= n; k += W) {
      const I u = xsimd::bitwise_cast<I>(F::load_unaligned(x + k) * vinv);
      const I e = I::gather(buckets, (u >> 16) & low);  // logical shift of the top half
      const I key = (u & low) ^ ((u >> 31) & low);        // arithmetic shift: all ones when negative
      const I code = (e & byte) + xsimd::select(key >= (e >> 8), one, I(0));
      code.store_aligned(q);
      for (int64_t i = 0; i < W; ++i) codes[k + i] = static_cast<uint8_t>(q[i]);
    }
    for (; k < n; ++k) codes[k] = q8_code(t, x[k] * inv);
    return absmax;
  }
};

template <class Arch>
QuantKernels make_quant_kernels() {
  return {&QuantSimd<Arch>::decode, &QuantSimd<Arch>::encode};
}
#endif

}  // namespace liteai::kernels::detail
