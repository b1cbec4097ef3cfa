// liteai bench gemm: SGEMM GFLOP/s of liteai beside the measured FMA peak, OpenBLAS and Eigen,
// all in the same run. Square sizes and the two conv-shaped products of the compact net.
#include <Eigen/Core>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "fma_peak.hpp"
#include "kernels/kernels.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"

#ifdef LITEAI_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

struct GemmSize {
  int64_t M, N, K;
  std::string label() const {
    if (M == N && N == K) return std::to_string(M);
    return std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
  }
};

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Eigen here is built without OpenMP, so its product is single-threaded: for t threads it runs
// on t column blocks of C in t std::threads (the natural way to parallelize it by hand).
double eigen_seconds(const GemmSize& s, int threads, int repeats, const std::vector<float>& a,
                     const std::vector<float>& b, std::vector<float>& c) {
  Eigen::Map<const RowMat> A(a.data(), s.M, s.K), B(b.data(), s.K, s.N);
  Eigen::Map<RowMat> C(c.data(), s.M, s.N);
  const int64_t cols = (s.N + threads - 1) / threads;
  return liteai::bench::median_seconds(repeats, [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      const int64_t j0 = t * cols, n = std::min(cols, s.N - j0);
      if (n <= 0) break;
      pool.emplace_back([&, j0, n] { C.middleCols(j0, n).noalias() = A * B.middleCols(j0, n); });
    }
    for (auto& th : pool) th.join();
  });
}

}  // namespace

LAI_BENCH_SUITE(gemm, "SGEMM GFLOP/s vs FMA peak, OpenBLAS and Eigen (squares and conv shapes)") {
  using namespace liteai;
  std::vector<GemmSize> sizes;
  if (args.quick)
    sizes = {{256, 256, 256}, {512, 512, 512}, {64, 8192, 288}, {128, 2048, 576}};
  else
    sizes = {{256, 256, 256}, {1024, 1024, 1024}, {2048, 2048, 2048}, {64, 65536, 288}, {128, 16384, 576}};
  const std::vector<int> counts = args.threads > 0 ? std::vector<int>{args.threads} : std::vector<int>{1, 2};
  const int repeats = args.quick ? std::min(args.repeats, 3) : args.repeats;
  report.note(std::string("liteai kernels ISA: ") + kernels::isa_name(kernels::active_isa()) +
              "; medians of " + std::to_string(repeats) + " runs; the CPU may be shared (noise)");
  for (int t : counts) {
    const std::string ts = "_t" + std::to_string(t);
    const double peak = bench::fma_peak_gflops(t);
    report.add({"fma_peak" + ts, peak, "GFLOP/s", "", 0});
    for (const GemmSize& s : sizes) {
      Generator g(1);
      std::vector<float> a(size_t(s.M * s.K)), b(size_t(s.K * s.N)), c(size_t(s.M * s.N));
      for (auto& v : a) v = g.uniform(-1.f, 1.f);
      for (auto& v : b) v = g.uniform(-1.f, 1.f);
      const double flop = 2.0 * double(s.M) * double(s.N) * double(s.K);
      const std::string name = "sgemm_" + s.label() + ts;

      set_num_threads(t);
      const double ours = flop / 1e9 / bench::median_seconds(repeats, [&] {
        kernels::sgemm(false, false, s.M, s.N, s.K, 1.f, a.data(), s.K, b.data(), s.N, 0.f, c.data(), s.N);
      });
      set_num_threads(0);
      report.add({name, ours, "GFLOP/s", "fma_peak" + ts, ours / peak});

#ifdef LITEAI_HAVE_OPENBLAS
      openblas_set_num_threads(t);
      const double ob = flop / 1e9 / bench::median_seconds(repeats, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(s.M), int(s.N), int(s.K), 1.f, a.data(),
                    int(s.K), b.data(), int(s.N), 0.f, c.data(), int(s.N));
      });
      report.add({"openblas_" + s.label() + ts, ob, "GFLOP/s", "fma_peak" + ts, ob / peak});
      report.add({name, ours, "GFLOP/s", "openblas" + ts, ours / ob});
#else
      report.note("OpenBLAS reference skipped: liteai was built without libopenblas-dev");
#endif
      const double eg = flop / 1e9 / eigen_seconds(s, t, repeats, a, b, c);
      report.add({"eigen_" + s.label() + ts, eg, "GFLOP/s", "fma_peak" + ts, eg / peak});
      report.add({name, ours, "GFLOP/s", "eigen" + ts, ours / eg});
    }
  }
}
