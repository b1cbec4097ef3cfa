#pragma once
// Blockwise dynamic 8-bit quantization of optimizer state (Dettmers et al. 2021, "8-bit Optimizers
// via Block-wise Quantization").
//
// A tensor is cut into blocks of kQuantBlock elements. Each block keeps its absolute maximum (f32)
// and one byte per element: the index of the value nearest to x / absmax in a fixed 256-entry
// "dynamic" map. The map spaces its values per decade, 1e-6 .. 1, with more values in the larger
// decades, so both tiny and large entries of a block keep a useful relative precision (a linear
// map would round everything below absmax / 256 to zero). Two maps: signed over [-1, 1] for
// momenta, unsigned over [0, 1] (twice as many values per decade) for second moments. Rounding is
// to the nearest value (ties to the lower index), so quantizing the same numbers always gives the
// same bytes. One block is independent of the others: an outlier costs precision only in its block.
#include <cstdint>

#include "liteai/core/tensor.hpp"

namespace liteai::optim {

inline constexpr int64_t kQuantBlock = 2048;

enum class QuantMap : uint8_t { signed_dynamic, unsigned_dynamic };

// The 256 values of a map, ascending (0 and 1 included; the signed map also holds -x for each x).
const float* quant_values(QuantMap map);
// Index of the map value nearest to y (y is x / absmax, so |y| <= 1; larger magnitudes clamp).
uint8_t quantize_normalized(QuantMap map, float y);

// One block of n <= kQuantBlock elements: writes codes[0, n) and returns the block's absmax
// (0 for an all-zero block: every code then decodes to 0).
float quantize_block(QuantMap map, const float* x, int64_t n, uint8_t* codes);
void dequantize_block(QuantMap map, const uint8_t* codes, float absmax, int64_t n, float* x);

// A whole tensor: codes (u8, x's shape) and absmax (f32, [ceil(numel / kQuantBlock)]).
struct Quantized {
  Tensor codes, absmax;
};
inline int64_t quant_blocks(int64_t numel) { return (numel + kQuantBlock - 1) / kQuantBlock; }
Quantized quantize(QuantMap map, const Tensor& x);
Tensor dequantize(QuantMap map, const Quantized& q);  // f32 with the codes' shape

}  // namespace liteai::optim
