// AVX2 + FMA quantization kernels; compiled with those flags only. Intrinsics: the byte <-> int32
// conversions that xsimd 8.1 lacks are what these kernels spend their time on.
#include <immintrin.h>

#include "kernels/quant_kernels_impl.hpp"

namespace liteai::kernels::detail {

namespace {
void decode_avx2(int64_t n, const QuantTable& t, const uint8_t* codes, float absmax, float* x) {
  const __m256 scale = _mm256_set1_ps(absmax);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + k)));
    _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_i32gather_ps(t.values, idx, 4), scale));
  }
  q8_decode_scalar(n - k, t, codes + k, absmax, x + k);
}

float encode_avx2(int64_t n, const QuantTable& t, const float* x, uint8_t* codes) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  __m256 vmax = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float absmax = 0.f;
  for (float v : lanes) absmax = std::max(absmax, v);
  for (; k < n; ++k) absmax = std::max(absmax, std::fabs(x[k]));
  const float inv = absmax > 0.f ? 1.f / absmax : 0.f;
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i low = _mm256_set1_epi32(0xffff), byte = _mm256_set1_epi32(0xff);
  // byte 0 of each int32, per 128-bit lane, then the two lanes' 4 bytes side by side
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                                        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i join = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
  const int* buckets = reinterpret_cast<const int*>(t.buckets);
  for (k = 0; k + 8 <= n; k += 8) {
    const __m256i u = _mm256_castps_si256(_mm256_mul_ps(_mm256_loadu_ps(x + k), vinv));
    const __m256i e = _mm256_i32gather_epi32(buckets, _mm256_srli_epi32(u, 16), 4);
    const __m256i key = _mm256_xor_si256(_mm256_and_si256(u, low), _mm256_and_si256(_mm256_srai_epi32(u, 31), low));
    // key >= threshold, as threshold - 1 < key (both below 2^17: signed compares are exact)
    const __m256i up = _mm256_cmpgt_epi32(key, _mm256_sub_epi32(_mm256_srli_epi32(e, 8), _mm256_set1_epi32(1)));
    const __m256i code = _mm256_sub_epi32(_mm256_and_si256(e, byte), up);  // up is -1 where true
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(code, pick), join);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + k), _mm256_castsi256_si128(bytes));
  }
  for (; k < n; ++k) codes[k] = q8_code(t, x[k] * inv);
  return absmax;
}
}  // namespace

const QuantKernels& quant_kernels_avx2() {
  static const QuantKernels k{&decode_avx2, &encode_avx2};
  return k;
}

}  // namespace liteai::kernels::detail
