// liteai bench conv: forward, input-gradient and weight-gradient time of the compact net's three
// 3x3 conv layers (batch 8, 512x512 input) in GFLOP/s, against the measured FMA peak and against
// the classic OpenBLAS recipe (whole-image im2col + cblas_sgemm [+ col2im]) in the same run.
#include <algorithm>
#include <cstdio>
#include <string>
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

using liteai::kernels::Conv2dShape;

#ifdef LITEAI_HAVE_OPENBLAS
// col[(c*R + r)*S + s][oh*OW + ow] for one image.
void im2col(const Conv2dShape& p, const float* x, float* col) {
  const int64_t OH = p.OH(), OW = p.OW();
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        float* d = col + ((c * p.R + r) * p.S + s) * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
            d[oh * OW + ow] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? x[(c * p.H + ih) * p.W + iw] : 0.f;
          }
        }
      }
}
void col2im(const Conv2dShape& p, const float* col, float* x) {
  const int64_t OH = p.OH(), OW = p.OW();
  std::fill(x, x + p.C * p.H * p.W, 0.f);
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        const float* d = col + ((c * p.R + r) * p.S + s) * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
          if (ih < 0 || ih >= p.H) continue;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
            if (iw >= 0 && iw < p.W) x[(c * p.H + ih) * p.W + iw] += d[oh * OW + ow];
          }
        }
      }
}
#endif

struct Layer {
  const char* name;
  int64_t C, K, H;
};

}  // namespace

LAI_BENCH_SUITE(conv, "compact-net conv layers fwd/bwd GFLOP/s vs FMA peak and OpenBLAS im2col") {
  using namespace liteai;
  const int64_t batch = args.quick ? 1 : 8, scale = args.quick ? 4 : 1;
  const Layer layers[] = {{"conv1", 1, 32, 512 / scale}, {"conv2", 32, 64, 256 / scale}, {"conv3", 64, 128, 128 / scale}};
  const std::vector<int> counts = args.threads > 0 ? std::vector<int>{args.threads} : std::vector<int>{2};
  const int repeats = std::min(args.repeats, 3);
  report.note("layers: 3x3 same conv, batch " + std::to_string(batch) + ", conv1 1->32 @" +
              std::to_string(512 / scale) + ", conv2 32->64 @" + std::to_string(256 / scale) +
              ", conv3 64->128 @" + std::to_string(128 / scale) + "; ISA " +
              kernels::isa_name(kernels::active_isa()) + "; medians of " + std::to_string(repeats) +
              "; the CPU may be shared (noise)");
  for (int t : counts) {
    const std::string ts = "_t" + std::to_string(t);
    const double peak = bench::fma_peak_gflops(t);
    report.add({"fma_peak" + ts, peak, "GFLOP/s", "", 0});
    for (const Layer& L : layers) {
      Conv2dShape p{batch, L.C, L.H, L.H, L.K, 3, 3};
      p.pad_h = p.pad_w = 1;
      const int64_t P = p.OH() * p.OW(), CRS = p.C * 9;
      Generator g(2);
      std::vector<float> x(size_t(p.N * p.C * p.H * p.W)), w(size_t(p.K * CRS)), b(size_t(p.K)),
          y(size_t(p.N * p.K * P)), dy(y.size()), dx(x.size()), dw(w.size()), db(b.size());
      for (auto& v : x) v = g.uniform(-1.f, 1.f);
      for (auto& v : w) v = g.uniform(-0.1f, 0.1f);
      for (auto& v : dy) v = g.uniform(-1.f, 1.f);
      const double gflop = 2.0 * double(p.N) * double(p.K) * double(CRS) * double(P) / 1e9;

      set_num_threads(t);
      for (auto* v : {&y, &dx, &dw, &db}) std::fill(v->begin(), v->end(), 0.f);  // touch outputs
      const double rss_base = bench::current_rss_mb();
      bench::reset_peak_rss();
      const double t_fwd = bench::median_seconds(repeats, [&] {
        kernels::conv2d_forward(p, x.data(), w.data(), b.data(), y.data(), kernels::Act::swish);
      });
      const double t_bd = bench::median_seconds(repeats, [&] { kernels::conv2d_backward_data(p, dy.data(), w.data(), dx.data()); });
      const double t_bw = bench::median_seconds(repeats, [&] {
        kernels::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
      });
      // Memory beyond the tensors (growth of the peak RSS: scratch buffers grown by an earlier
      // layer are reused and do not show again).
      const double workspace = bench::peak_rss_mb() - rss_base;
      set_num_threads(0);
      const std::string base = std::string(L.name) + "_" + std::to_string(L.H) + "_b" + std::to_string(batch);
      struct Pass {
        const char* tag;
        double sec;
      };
      const Pass passes[] = {{"fwd", t_fwd}, {"bwd_data", t_bd}, {"bwd_weight", t_bw}};
      report.add({base + "_workspace" + ts, std::max(0.0, workspace), "MB", "", 0});
      for (const Pass& ps : passes) {
        const std::string name = base + "_" + ps.tag + ts;
        report.add({name + "_ms", ps.sec * 1e3, "ms", "", 0});
        report.add({name, gflop / ps.sec, "GFLOP/s", "fma_peak" + ts, gflop / ps.sec / peak});
      }

#ifdef LITEAI_HAVE_OPENBLAS
      // Reference: the whole im2col of one image at a time, then one cblas_sgemm (bias/act not
      // included, which favours the reference).
      openblas_set_num_threads(t);
      std::vector<float> col(size_t(CRS * P));
      const double r_fwd = bench::median_seconds(repeats, [&] {
        for (int64_t n = 0; n < p.N; ++n) {
          im2col(p, x.data() + n * p.C * p.H * p.W, col.data());
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(p.K), int(P), int(CRS), 1.f, w.data(),
                      int(CRS), col.data(), int(P), 0.f, y.data() + n * p.K * P, int(P));
        }
      });
      const double r_bd = bench::median_seconds(repeats, [&] {
        for (int64_t n = 0; n < p.N; ++n) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(CRS), int(P), int(p.K), 1.f, w.data(),
                      int(CRS), dy.data() + n * p.K * P, int(P), 0.f, col.data(), int(P));
          col2im(p, col.data(), dx.data() + n * p.C * p.H * p.W);
        }
      });
      const double r_bw = bench::median_seconds(repeats, [&] {
        for (int64_t n = 0; n < p.N; ++n) {
          im2col(p, x.data() + n * p.C * p.H * p.W, col.data());
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(p.K), int(CRS), int(P), 1.f,
                      dy.data() + n * p.K * P, int(P), col.data(), int(P), n ? 1.f : 0.f, dw.data(), int(CRS));
        }
      });
      const Pass refs[] = {{"fwd", r_fwd}, {"bwd_data", r_bd}, {"bwd_weight", r_bw}};
      for (int i = 0; i < 3; ++i) {
        const std::string name = base + "_" + passes[i].tag + ts;
        report.add({name, gflop / passes[i].sec, "GFLOP/s", "openblas_im2col" + ts, refs[i].sec / passes[i].sec});
      }
#else
      report.note("OpenBLAS reference skipped: liteai was built without libopenblas-dev");
#endif
    }
  }
}
