#pragma once
// The machine's measured FMA peak: register-only fused multiply-adds, the physical reference
// every compute benchmark is compared with.
namespace liteai::bench {

// GFLOP/s of `threads` threads each running independent FMA chains (AVX-512 when the CPU has
// it, else AVX2+FMA, else 0). Best of `repeats` runs; cached per thread count.
double fma_peak_gflops(int threads, int repeats = 5);
// The same for AVX512_BF16 dot products (vdpbf16ps: 64 flops per instruction); 0 without them.
double bf16_dot_peak_gflops(int threads, int repeats = 5);

}  // namespace liteai::bench
