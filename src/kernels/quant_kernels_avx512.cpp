// AVX-512 (F/BW + FMA) quantization kernels; compiled with those flags only. Intrinsics: the
// byte <-> int32 conversions that xsimd 8.1 lacks are what these kernels spend their time on.
#include <immintrin.h>

#include "kernels/quant_kernels_impl.hpp"

namespace liteai::kernels::detail {

namespace {
void decode_avx512(int64_t n, const QuantTable& t, const uint8_t* codes, float absmax, float* x) {
  const __m512 scale = _mm512_set1_ps(absmax);
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + k)));
    _mm512_storeu_ps(x + k, _mm512_mul_ps(_mm512_i32gather_ps(idx, t.values, 4), scale));
  }
  q8_decode_scalar(n - k, t, codes + k, absmax, x + k);
}

float encode_avx512(int64_t n, const QuantTable& t, const float* x, uint8_t* codes) {
  __m512 vmax = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
  float absmax = _mm512_reduce_max_ps(vmax);
  for (; k < n; ++k) absmax = std::max(absmax, std::fabs(x[k]));
  const float inv = absmax > 0.f ? 1.f / absmax : 0.f;
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i low = _mm512_set1_epi32(0xffff), byte = _mm512_set1_epi32(0xff), one = _mm512_set1_epi32(1);
  for (k = 0; k + 16 <= n; k += 16) {
    const __m512i u = _mm512_castps_si512(_mm512_mul_ps(_mm512_loadu_ps(x + k), vinv));
    const __m512i e = _mm512_i32gather_epi32(_mm512_srli_epi32(u, 16), t.buckets, 4);
    const __m512i key = _mm512_xor_si512(_mm512_and_si512(u, low), _mm512_and_si512(_mm512_srai_epi32(u, 31), low));
    const __mmask16 up = _mm512_cmpge_epu32_mask(key, _mm512_srli_epi32(e, 8));
    const __m512i code = _mm512_mask_add_epi32(_mm512_and_si512(e, byte), up, _mm512_and_si512(e, byte), one);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + k), _mm512_cvtepi32_epi8(code));
  }
  for (; k < n; ++k) codes[k] = q8_code(t, x[k] * inv);
  return absmax;
}
}  // namespace

const QuantKernels& quant_kernels_avx512() {
  static const QuantKernels k{&decode_avx512, &encode_avx512};
  return k;
}

}  // namespace liteai::kernels::detail
