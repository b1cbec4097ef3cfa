// liteai bench train: a whole training step (forward, backward, Adam) of compact_cxr at 512x512
// and 256x256, batch 8 — images/s and peak RSS — plus single-image inference and the small
// Fashion-MNIST CNN (batch 64), each beside PyTorch running the same model and recipe in a
// separate /usr/bin/python3 process (skipped with a clear line when python3-torch is absent).
// The PyTorch reference is its best configuration here (torch_ref.hpp): the faster of NCHW and
// channels_last for fp32 figures, bf16 autocast included for bf16 ones; the default NCHW figure
// follows as a second line (*_torch_nchw).
//
// Wall-time figures suffer when other processes share the cores; the *_cpu records divide by
// this process's CPU time instead (both sides measured the same way) as a steadier comparison.
//
// Memory: the first Dense of compact_cxr at 512x512 holds 134M weights. The training step
// streams its Adam update from the gradient hook (optim::Optimizer::stream_updates), so its
// 537 MB gradient exists only transiently inside backward; weights + Adam m, v stay.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench.hpp"
#include "torch_ref.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace {

// CPU seconds (user + system) of this process: a figure that other processes on a busy machine
// disturb much less than wall time.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Measured {
  double images_per_second = 0, peak_mb = 0, base_mb = 0, state_mb = 0, infer_ms = 0, infer_bf16_ms = 0;
  double bf16_max_prob_diff = 0;
  double build_peak_mb = 0, first_step_peak_mb = 0, step_peak_mb = 0;
  double images_per_cpu_second = 0;
};

Measured measure_compact(int64_t size, int64_t batch, int steps, bool infer) {
  using namespace liteai;
  Measured m;
  storage_release_cache();  // blocks cached by the previous measurement are not this one's
  liteai::bench::reset_peak_rss();
  m.base_mb = liteai::bench::current_rss_mb();
  auto model = nn::build_model("compact_cxr", size, 2, 1);
  optim::TrainOptions o;
  o.optim.lr = 1e-3f;
  o.progress = 0;
  o.stream_min_elements = 1 << 20;  // the first Dense: update inside backward, no stored gradient
  optim::Trainer trainer(model, o);
  Generator g(2);
  optim::TrainBatch b;
  b.images = randn({batch, 1, size, size}, 0, 1, g);
  b.labels = Tensor::from_vector(std::vector<float>(static_cast<size_t>(batch), 1.f), {batch});
  m.build_peak_mb = liteai::bench::peak_rss_mb();
  trainer.train_step(b);  // warm-up; allocates the Adam state
  m.first_step_peak_mb = liteai::bench::peak_rss_mb();
  m.state_mb = liteai::bench::current_rss_mb();
  liteai::bench::reset_peak_rss();  // the steady-state step from here
  std::vector<double> t, c;
  for (int i = 0; i < steps; ++i) {
    const double t0 = liteai::bench::now_seconds(), c0 = cpu_seconds();
    trainer.train_step(b);
    t.push_back(liteai::bench::now_seconds() - t0);
    c.push_back(cpu_seconds() - c0);
  }
  m.images_per_second = batch / median(t);
  m.images_per_cpu_second = batch / median(c);
  m.step_peak_mb = liteai::bench::peak_rss_mb();
  m.peak_mb = std::max({m.build_peak_mb, m.first_step_peak_mb, m.step_peak_mb});
  if (infer) {
    Tensor x1 = randn({1, 1, size, size}, 0, 1, g);
    model->net->eval();
    Tensor p32;
    m.infer_ms = 1000 * liteai::bench::median_seconds(5, [&] { p32 = model->predict(x1); });
    model->net->set_inference_precision(nn::Precision::bf16_storage);  // the first Dense reads bf16 weights
    Tensor p16;
    m.infer_bf16_ms = 1000 * liteai::bench::median_seconds(5, [&] { p16 = model->predict(x1); });
    const auto a = p32.to_vector(), b16 = p16.to_vector();
    for (size_t i = 0; i < a.size(); ++i) m.bf16_max_prob_diff = std::max<double>(m.bf16_max_prob_diff, std::fabs(a[i] - b16[i]));
  }
  return m;
}

}  // namespace

LAI_BENCH_SUITE(train, "training step of compact_cxr (512/256, batch 8) and small_cnn: images/s, peak RSS vs PyTorch") {
  using namespace liteai;
  const int threads = args.threads > 0 ? args.threads : 2;
  set_num_threads(threads);
  const int steps = args.quick ? 2 : 3;
  std::string why;
  const bool torch = bench::torch_available(&why);
  if (!torch) report.note("torch reference skipped: " + why);
  const std::string tt = "_t" + std::to_string(threads);

  // ---- compact_cxr ----
  std::vector<int64_t> sizes = args.quick ? std::vector<int64_t>{256} : std::vector<int64_t>{512, 256};
  for (int64_t size : sizes) {
    const std::string s = std::to_string(size);
    // fp32 figures against PyTorch's faster layout; the bf16-storage inference also against autocast.
    bench::TorchRuns ref;
    if (torch)
      ref = bench::run_torch_configs("--model compact --size " + s + " --batch 8 --steps " + std::to_string(steps) +
                                         " --threads " + std::to_string(threads) + " --infer " + (size == 512 ? "1" : "0"),
                                     bench::torch_configs(size == 512));
    if (torch && !ref.has("nchw", "train_ips")) report.note("torch reference failed to run for size " + s);
    Measured m = measure_compact(size, 8, steps, size == 512);
    const double params = static_cast<double>(nn::compact_cxr_parameter_count(size, 1, 2));
    const double w_mb = params * 4 / 1048576.0;
    report.note(str_cat("compact_cxr ", s, "x", s, " batch 8, ", threads, " threads: ", static_cast<int64_t>(params),
                        " parameters; Adam; swish convs keep pre-activations in bf16 (TrainOptions default)"));
    report.note(str_cat("  memory: weights ", static_cast<int>(w_mb), " MB, Adam m+v ", static_cast<int>(2 * w_mb),
                        " MB, the first Dense's gradient is streamed in row blocks (never whole; ", static_cast<int>(w_mb),
                        " MB if it were stored)"));
    report.note(str_cat("  RSS: at start ", static_cast<int>(m.base_mb), " MB, peak while building the model ",
                        static_cast<int>(m.build_peak_mb), " MB, peak of the first step ", static_cast<int>(m.first_step_peak_mb),
                        " MB, steady state between steps ", static_cast<int>(m.state_mb), " MB, peak of later steps ",
                        static_cast<int>(m.step_peak_mb), " MB -> activations + transient buffers ",
                        static_cast<int>(m.step_peak_mb - m.state_mb), " MB"));
    const std::vector<std::string>& fp32 = bench::kTorchFp32;
    const std::string b8 = "train_compact_" + s + "_b8";
    bench::add_vs_torch(report, b8, m.images_per_second, "images/s", ref, "train_ips", false, fp32);
    bench::add_vs_torch(report, b8 + "_cpu", m.images_per_cpu_second, "images/cpu-s", ref, "train_ips_cpu", false, fp32);
    bench::add_vs_torch(report, "rss_" + b8, m.peak_mb, "MB", ref, "peak_rss_mb", true, fp32);
    if (size == 512) {
      bench::add_vs_torch(report, "infer_compact_512_b1", m.infer_ms, "ms", ref, "infer_ms", true, fp32);
      bench::add_vs_torch(report, "infer_compact_512_b1_bf16_storage", m.infer_bf16_ms, "ms", ref, "infer_ms", true,
                          bench::kTorchAny);
      report.note(str_cat("  inference with bf16 dense weights (fp32 products): largest probability change vs fp32 ",
                          m.bf16_max_prob_diff));
    }
  }

  // ---- small_cnn, the Fashion-MNIST recipe (batch 64, Adam 1e-3) on random 28x28 data ----
  {
    const int small_steps = args.quick ? 5 : 30;
    bench::TorchRuns ref;
    if (torch)
      ref = bench::run_torch_configs("--model small --batch 64 --steps " + std::to_string(small_steps) + " --threads " +
                                         std::to_string(threads) + " --infer 0",
                                     bench::torch_configs(false));
    auto model = nn::build_model("small_cnn", 28, 10, 1);
    optim::TrainOptions o;
    o.progress = 0;
    optim::Trainer trainer(model, o);
    Generator g(3);
    optim::TrainBatch b;
    b.images = rand_uniform({64, 1, 28, 28}, 0, 1, g);
    std::vector<float> lab(64);
    for (size_t i = 0; i < lab.size(); ++i) lab[i] = static_cast<float>(i % 10);
    b.labels = Tensor::from_vector(lab, {64});
    trainer.train_step(b);
    std::vector<double> t, c;
    for (int i = 0; i < small_steps; ++i) {
      const double t0 = bench::now_seconds(), c0 = cpu_seconds();
      trainer.train_step(b);
      t.push_back(bench::now_seconds() - t0);
      c.push_back(cpu_seconds() - c0);
    }
    const double ips = 64 / median(t), ips_cpu = 64 / median(c);
    const std::vector<std::string>& fp32 = bench::kTorchFp32;
    bench::add_vs_torch(report, "train_small_cnn_b64" + tt, ips, "images/s", ref, "train_ips", false, fp32);
    bench::add_vs_torch(report, "train_small_cnn_b64" + tt + "_cpu", ips_cpu, "images/cpu-s", ref, "train_ips_cpu", false,
                        fp32);
  }
}
