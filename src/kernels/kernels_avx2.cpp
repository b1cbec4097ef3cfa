// AVX2 + FMA instantiation of the kernels; compiled with those flags only.
#include "kernels/simd_impl.hpp"

namespace liteai::kernels::detail {

using Avx2Arch = xsimd::fma3<xsimd::avx2>;
// 6 x 16 tile: 12 ymm accumulators, 2 B vectors, 1 broadcast (16 registers).
using UkAvx2 = XsimdUK<Avx2Arch, 6, 2>;

const Table& table_avx2() {
  static const Table t = make_table<Avx2Arch, UkAvx2>(Isa::avx2);
  return t;
}

}  // namespace liteai::kernels::detail
