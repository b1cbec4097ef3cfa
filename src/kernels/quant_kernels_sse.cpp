// SSE4.2 instantiation of quant_kernels_impl.hpp; compiled with those flags only.
#define LITEAI_QUANT_KERNELS_XSIMD
#include "kernels/quant_kernels_impl.hpp"

namespace liteai::kernels::detail {
const QuantKernels& quant_kernels_sse() {
  static const QuantKernels k = make_quant_kernels<xsimd::sse4_2>();
  return k;
}
}  // namespace liteai::kernels::detail
