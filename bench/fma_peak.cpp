// Register-only FMA micro-kernels (no memory traffic): 12 independent accumulator chains hide
// the FMA latency, so the loop runs at the core's FMA throughput; the same for AVX512_BF16 dot
// products (vdpbf16ps, two bf16 products per fp32 lane).
#include "fma_peak.hpp"

#include <immintrin.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bench.hpp"

namespace liteai::bench {
namespace {

constexpr long kIters = 20'000'000;

__attribute__((target("avx512f,fma"), noinline)) float fma_loop_avx512(long iters) {
  // Distinct start values: identical chains would be merged by the compiler.
  __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
         a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
         a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
         a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
    a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c), a2 = _mm512_fmadd_ps(a2, m, c);
    a3 = _mm512_fmadd_ps(a3, m, c), a4 = _mm512_fmadd_ps(a4, m, c), a5 = _mm512_fmadd_ps(a5, m, c);
    a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c), a8 = _mm512_fmadd_ps(a8, m, c);
    a9 = _mm512_fmadd_ps(a9, m, c), a10 = _mm512_fmadd_ps(a10, m, c), a11 = _mm512_fmadd_ps(a11, m, c);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}
constexpr double kFlopsAvx512 = 12.0 * 16 * 2;

__attribute__((target("avx2,fma"), noinline)) float fma_loop_avx2(long iters) {
  __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
         a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
         a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
         a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c), a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float v[8];
  _mm256_store_ps(v, s);
  return v[0] + v[7];
}
constexpr double kFlopsAvx2 = 12.0 * 8 * 2;

// The same 12 chains on vdpbf16ps: each instruction adds 16 lanes x 2 bf16 products.
__attribute__((target("avx512f,avx512bf16"), noinline)) float dot_loop_bf16(long iters) {
  __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
         a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
         a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
         a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  const __m512bh m = (__m512bh)_mm512_set1_epi16(0x3f80), c = (__m512bh)_mm512_set1_epi16(0x3380);  // 1, 6e-8
  for (long i = 0; i < iters; ++i) {
    a0 = _mm512_dpbf16_ps(a0, m, c), a1 = _mm512_dpbf16_ps(a1, m, c), a2 = _mm512_dpbf16_ps(a2, m, c);
    a3 = _mm512_dpbf16_ps(a3, m, c), a4 = _mm512_dpbf16_ps(a4, m, c), a5 = _mm512_dpbf16_ps(a5, m, c);
    a6 = _mm512_dpbf16_ps(a6, m, c), a7 = _mm512_dpbf16_ps(a7, m, c), a8 = _mm512_dpbf16_ps(a8, m, c);
    a9 = _mm512_dpbf16_ps(a9, m, c), a10 = _mm512_dpbf16_ps(a10, m, c), a11 = _mm512_dpbf16_ps(a11, m, c);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}
constexpr double kFlopsBf16 = 12.0 * 32 * 2;

volatile float g_sink;

// GFLOP/s of `threads` threads running loop(kIters) each: the fastest of `repeats` runs. The
// fastest, not the median: the peak is a physical capability, and on a shared CPU a slow run
// only measures somebody else's load (ratios against it stay conservative).
template <class Loop>
double best_gflops(int threads, int repeats, double flops_per_iter, Loop loop) {
  auto run = [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&] { g_sink = loop(kIters); });
    for (auto& th : pool) th.join();
  };
  run();
  double sec = 1e30;
  for (int i = 0; i < std::max(3, repeats); ++i) {
    const double t0 = now_seconds();
    run();
    sec = std::min(sec, now_seconds() - t0);
  }
  return flops_per_iter * kIters * threads / sec / 1e9;
}

}  // namespace

double fma_peak_gflops(int threads, int repeats) {
  static std::mutex mu;
  static std::map<int, double> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(threads); it != cache.end()) return it->second;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) return 0;
  const double gflops = best_gflops(threads, repeats, avx512 ? kFlopsAvx512 : kFlopsAvx2,
                                    [&](long n) { return avx512 ? fma_loop_avx512(n) : fma_loop_avx2(n); });
  cache[threads] = gflops;
  return gflops;
}

double bf16_dot_peak_gflops(int threads, int repeats) {
  static std::mutex mu;
  static std::map<int, double> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(threads); it != cache.end()) return it->second;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512bf16")) return 0;
  return cache[threads] = best_gflops(threads, repeats, kFlopsBf16, dot_loop_bf16);
}

}  // namespace liteai::bench

LAI_BENCH_SUITE(peak, "measured FMA peak of this machine (register-only micro-kernel)") {
  const std::vector<int> counts = args.threads > 0 ? std::vector<int>{args.threads} : std::vector<int>{1, 2};
  for (int t : counts) {
    const std::string ts = "_t" + std::to_string(t);
    const double fma = liteai::bench::fma_peak_gflops(t, args.repeats);
    report.add({"fma_peak" + ts, fma, "GFLOP/s", "", 0});
    if (const double dot = liteai::bench::bf16_dot_peak_gflops(t, args.repeats))
      report.add({"fma_peak_bf16" + ts, dot, "GFLOP/s", "fma_peak" + ts, dot / fma});
  }
}
