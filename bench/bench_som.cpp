// liteai bench som: SOM batch-training time (GEMM-style distances, parallel) against a naive
// loop implementation of the same algorithm, measured in the same run; BMU search GFLOP/s.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bench.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

// The textbook batch SOM, written plainly: per sample a loop over units for the BMU, then
// w_j = sum_u h(j,u) S_u / sum_u h(j,u) n_u.
void naive_batch_epochs(const Som& geom, std::vector<float>& w, const std::vector<float>& x, int64_t n, int dim,
                        int epochs, float r0, float r1) {
  const int U = geom.units();
  std::vector<double> S(static_cast<size_t>(U) * size_t(dim)), cnt(static_cast<size_t>(U));
  for (int e = 0; e < epochs; ++e) {
    const float rad = som_schedule(SomSchedule::Exponential, r0, r1, epochs > 1 ? float(e) / float(epochs - 1) : 1.f);
    std::fill(S.begin(), S.end(), 0.0);
    std::fill(cnt.begin(), cnt.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x.data() + size_t(i) * size_t(dim);
      int best = 0;
      float bd = INFINITY;
      for (int u = 0; u < U; ++u) {
        float d = 0;
        for (int j = 0; j < dim; ++j) d += (xi[j] - w[size_t(u) * size_t(dim) + size_t(j)]) * (xi[j] - w[size_t(u) * size_t(dim) + size_t(j)]);
        if (d < bd) bd = d, best = u;
      }
      for (int j = 0; j < dim; ++j) S[size_t(best) * size_t(dim) + size_t(j)] += xi[j];
      cnt[size_t(best)] += 1;
    }
    for (int a = 0; a < U; ++a) {
      double den = 0;
      std::vector<double> num(size_t(dim), 0.0);
      for (int u = 0; u < U; ++u) {
        const double h = std::max(0.f, geom.neighborhood(geom.grid_distance(a, u), rad));
        den += h * cnt[size_t(u)];
        for (int j = 0; j < dim; ++j) num[size_t(j)] += h * S[size_t(u) * size_t(dim) + size_t(j)];
      }
      if (den > 1e-6)
        for (int j = 0; j < dim; ++j) w[size_t(a) * size_t(dim) + size_t(j)] = float(num[size_t(j)] / den);
    }
  }
}

}  // namespace

LAI_BENCH_SUITE(som, "SOM batch training (GEMM-style, parallel) vs a naive loop; BMU search GFLOP/s") {
  const int64_t n = args.quick ? 5000 : 20000;
  const int dim = 64, rows = 10, cols = 10, epochs = args.quick ? 3 : 5;
  const int repeats = std::max(1, std::min(args.repeats, 3));
  // Clustered data: 12 centres in 64-D plus noise (like sorted WPM patch profiles).
  Generator g(5);
  std::vector<float> centres(size_t(12) * dim), x(size_t(n) * dim);
  for (float& c : centres) c = g.uniform(0.f, 10.f);
  for (int64_t i = 0; i < n; ++i) {
    const int k = int(g.below(12));
    for (int j = 0; j < dim; ++j) x[size_t(i) * dim + size_t(j)] = centres[size_t(k) * dim + size_t(j)] + g.normal(0.f, 1.f);
  }
  SomConfig c;
  c.rows = rows;
  c.cols = cols;
  c.dim = dim;
  Som init(c);
  init.init_pca(x.data(), n);
  const std::vector<float> w0 = init.weights();
  SomTrainOptions o;
  o.epochs = epochs;
  o.initialize = false;
  const float r0 = float(std::max(rows, cols)) / 2.f;

  std::vector<float> wn;
  const double naive = bench::median_seconds(1, [&] {
    wn = w0;
    naive_batch_epochs(init, wn, x, n, dim, epochs, r0, o.radius_end);
  });
  report.add({"som_batch_naive_" + std::to_string(n) + "x" + std::to_string(dim), naive * 1e3, "ms", "", 0});
  const std::vector<int> counts = args.threads > 0 ? std::vector<int>{args.threads} : std::vector<int>{1, 2};
  for (int t : counts) {
    set_num_threads(t);
    Som s(c);
    const double sec = bench::median_seconds(repeats, [&] {
      s.weights() = w0;
      s.train(x.data(), n, o);
    });
    // Same algorithm: the weights should agree with the naive loop up to rounding.
    double diff = 0;
    for (size_t i = 0; i < wn.size(); ++i) diff = std::max(diff, double(std::abs(wn[i] - s.weights()[i])));
    report.add({"som_batch_" + std::to_string(n) + "x" + std::to_string(dim) + "_t" + std::to_string(t), sec * 1e3, "ms",
                "naive_loop", naive / sec});
    report.note("som: max |w - w_naive| after " + std::to_string(epochs) + " epochs = " + std::to_string(diff));
    const double bsec = bench::median_seconds(repeats, [&] { (void)s.bmus(x.data(), n); });
    report.add({"som_bmu_search_t" + std::to_string(t), 2.0 * double(n) * s.units() * dim / bsec / 1e9, "GFLOP/s", "", 0});
    set_num_threads(0);
  }
}
