// Dispatch of quant_kernels.hpp and the portable instantiation.
#include "kernels/kernels.hpp"
#include "kernels/quant_kernels_impl.hpp"

namespace liteai::kernels {

namespace detail {
const QuantKernels& quant_kernels_scalar() {
  static const QuantKernels k{&q8_decode_scalar, &q8_encode_scalar};
  return k;
}
}  // namespace detail

namespace {
const detail::QuantKernels& table() {
  switch (active_isa()) {
    case Isa::avx512: return detail::quant_kernels_avx512();
    case Isa::avx2: return detail::quant_kernels_avx2();
    case Isa::sse: return detail::quant_kernels_sse();
    default: return detail::quant_kernels_scalar();
  }
}
}  // namespace

void q8_decode(int64_t n, const QuantTable& t, const uint8_t* codes, float absmax, float* x) {
  if (n > 0) table().decode(n, t, codes, absmax, x);
}

float q8_encode(int64_t n, const QuantTable& t, const float* x, uint8_t* codes) {
  return n > 0 ? table().encode(n, t, x, codes) : 0.f;
}

}  // namespace liteai::kernels
