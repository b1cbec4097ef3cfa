#pragma once
// Kernels of 8-bit blockwise quantization (optim/quantize.hpp defines the maps and builds their
// tables): decoding a block of codes and encoding a block of floats, with run-time ISA dispatch
// as in kernels.hpp (quant_kernels.cpp). Every ISA gives the same bytes and the same floats.
#include <cstdint>

namespace liteai::kernels {

// A 256-value map as the kernels read it. buckets[b], for the floats whose top 16 bits are b:
// code | threshold << 8 — the index of the nearest value for the smallest float of the bucket,
// plus one for the floats whose key (the low 16 bits, inverted for negative floats so that the
// key grows with the value) is >= threshold (0x10000: none).
struct QuantTable {
  const float* values;      // 256, ascending
  const uint32_t* buckets;  // 65536
};

// x[k] = values[codes[k]] * absmax
void q8_decode(int64_t n, const QuantTable& t, const uint8_t* codes, float absmax, float* x);
// Writes codes[k] = the index of the value nearest to x[k] / absmax, absmax = max |x[k]| (returned;
// 0 for an all-zero block, whose codes are then the code of x * 0).
float q8_encode(int64_t n, const QuantTable& t, const float* x, uint8_t* codes);

namespace detail {
struct QuantKernels {
  void (*decode)(int64_t, const QuantTable&, const uint8_t*, float, float*);
  float (*encode)(int64_t, const QuantTable&, const float*, uint8_t*);
};
const QuantKernels& quant_kernels_avx512();
const QuantKernels& quant_kernels_avx2();
const QuantKernels& quant_kernels_sse();
const QuantKernels& quant_kernels_scalar();
}  // namespace detail

}  // namespace liteai::kernels
