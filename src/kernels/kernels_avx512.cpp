// AVX-512 (F/DQ/BW/VL + FMA) instantiation of the kernels; compiled with those flags only.
// xsimd 8.1 starts some AVX-512 values from _mm512_undefined_*(): GCC warns, harmlessly.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/simd_impl.hpp"

namespace liteai::kernels::detail {

// 8 x 48 tile: 24 zmm accumulators, 3 B vectors, 1 broadcast.
using UkAvx512 = XsimdUK<xsimd::avx512bw, 8, 3>;

const Table& table_avx512() {
  static const Table t = make_table<xsimd::avx512bw, UkAvx512>(Isa::avx512);
  return t;
}

}  // namespace liteai::kernels::detail
