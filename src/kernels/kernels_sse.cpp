// SSE4.2 instantiation of the kernels; compiled with that flag only.
#include "kernels/simd_impl.hpp"

namespace liteai::kernels::detail {

// 6 x 8 tile: 12 xmm accumulators, 2 B vectors, 1 broadcast.
using UkSse = XsimdUK<xsimd::sse4_2, 6, 2>;

const Table& table_sse() {
  static const Table t = make_table<xsimd::sse4_2, UkSse>(Isa::sse);
  return t;
}

}  // namespace liteai::kernels::detail
