// AVX-512 (F/DQ/BW/VL + FMA) instantiation of the kernels; compiled with those flags only.
// xsimd 8.1 starts some AVX-512 values from _mm512_undefined_*(): GCC warns, harmlessly.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/simd_impl.hpp"

namespace liteai::kernels::detail {

// 8 x 48 tile: 24 zmm accumulators, 3 B vectors, 1 broadcast.
using UkAvx512 = XsimdUK<xsimd::avx512bw, 8, 3>;

namespace {
// 16 outputs per step: even/odd columns split with two-source permutes, then the scalar
// version's sequence of takes as masks (the same results, ties and NaNs included).
void max_pool2x2_row_avx512(int64_t OW, const float* r0, const float* r1, float* y, int32_t* am, int32_t i0,
                            int32_t i1) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1)), one = _mm512_set1_epi32(1);
  // Masked loads and stores cover the ragged end (and rows shorter than 16 outputs).
  for (int64_t ow = 0; ow < OW; ow += 16) {
    const int64_t n = std::min<int64_t>(16, OW - ow), in = 2 * n;
    const __mmask16 m0 = __mmask16((1u << std::min<int64_t>(16, in)) - 1);
    const __mmask16 m1 = __mmask16((1u << std::max<int64_t>(0, in - 16)) - 1), mo = __mmask16((1u << n) - 1);
    const __m512 a0 = _mm512_maskz_loadu_ps(m0, r0 + 2 * ow), a1 = _mm512_maskz_loadu_ps(m1, r0 + 2 * ow + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, r1 + 2 * ow), b1 = _mm512_maskz_loadu_ps(m1, r1 + 2 * ow + 16);
    const __m512i col = _mm512_add_epi32(_mm512_set1_epi32(int32_t(2 * ow)), even);
    __m512 best = _mm512_permutex2var_ps(a0, even, a1);
    __m512i idx = _mm512_add_epi32(col, _mm512_set1_epi32(i0));
    auto take = [&](__m512 v, __m512i i) {
      const __mmask16 t = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                          (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
      best = _mm512_mask_blend_ps(t, best, v);
      idx = _mm512_mask_blend_epi32(t, idx, i);
    };
    const __m512i base1 = _mm512_add_epi32(col, _mm512_set1_epi32(i1));
    take(_mm512_permutex2var_ps(a0, odd, a1), _mm512_add_epi32(idx, one));
    take(_mm512_permutex2var_ps(b0, even, b1), base1);
    take(_mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(base1, one));
    _mm512_mask_storeu_ps(y + ow, mo, best);
    if (am) _mm512_mask_storeu_epi32(am + ow, mo, idx);
  }
}
}  // namespace

const Table& table_avx512() {
  static const Table t = [] {
    Table t = make_table<xsimd::avx512bw, UkAvx512>(Isa::avx512);
    t.max_pool2x2_row = &max_pool2x2_row_avx512;
    return t;
  }();
  return t;
}

}  // namespace liteai::kernels::detail
