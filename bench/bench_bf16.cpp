// liteai bench bf16: bf16 products with fp32 sums against fp32, measured side by side in one run
// (alternating repetitions, medians): the machine's bf16 dot-product peak, SGEMM 1024, the compact
// net's three conv layers (forward, input and weight gradient), a compact_cxr training step, and
// single-image inference (latency, and peak RSS of separate `liteai predict` processes), with
// PyTorch at its best as the reference of the training and inference figures (torch_ref.hpp).
//
// The bf16 figures use the kernels the library picks here (kernels.hpp: vdpbf16ps where it is a
// full-rate instruction, else bf16 widened into the fp32 micro-kernels); when the CPU has
// AVX512_BF16, the other path is measured too (`_dot` / `_widen` records) so both are visible.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench.hpp"
#include "fma_peak.hpp"
#include "kernels/kernels.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/dtype.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#include "torch_ref.hpp"

namespace {

using namespace liteai;
using kernels::Isa;

std::vector<uint16_t> random_bf16(Generator& g, int64_t n, float lo, float hi) {
  std::vector<uint16_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = f32_to_bf16(g.uniform(lo, hi));
  return v;
}
std::vector<float> widened(const std::vector<uint16_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = bf16_to_f32(v[i]);
  return out;
}

// The bf16 kernel paths to time: the one the library picks, and the other one when this CPU has
// both (record suffix, ISA).
struct Bf16Path {
  std::string suffix;
  Isa isa;
};
std::vector<Bf16Path> bf16_paths() {
  const Isa active = kernels::active_isa();
  std::vector<Bf16Path> out{{"_bf16", active}};
  if (kernels::isa_supported(Isa::avx512bf16)) {
    if (active != Isa::avx512bf16) out.push_back({"_bf16_dot", Isa::avx512bf16});
    else out.push_back({"_bf16_widen", Isa::avx512});
  }
  return out;
}

// Runs fn with the kernels of `isa`, restoring the active ISA.
template <class F>
void with_isa(Isa isa, F fn) {
  const Isa saved = kernels::active_isa();
  kernels::set_isa(isa);
  fn();
  kernels::set_isa(saved);
}

struct ConvLayer {
  const char* name;
  int64_t C, K, H;
};

void bench_kernels(const bench::SuiteArgs& args, bench::Report& report, int threads) {
  const std::string ts = "_t" + std::to_string(threads);
  const int repeats = std::max(3, args.repeats);
  const std::vector<Bf16Path> paths = bf16_paths();
  report.note(std::string("kernels: ISA ") + kernels::isa_name(kernels::active_isa()) + ", bf16 products " +
              (kernels::bf16_dot_products() ? "through vdpbf16ps" : "widened into fp32 FMAs") + "; " +
              std::to_string(threads) + " threads; medians of " + std::to_string(repeats) +
              " alternating runs; the CPU may be shared (final figures need an idle machine)");

  const double fma = bench::fma_peak_gflops(threads, args.repeats);
  report.add({"fma_peak" + ts, fma, "GFLOP/s", "", 0});
  const double dot = bench::bf16_dot_peak_gflops(threads, args.repeats);
  if (dot > 0)
    report.add({"fma_peak_bf16" + ts, dot, "GFLOP/s", "fma_peak" + ts, dot / fma});
  else
    report.note("no AVX512_BF16 on this CPU: fma_peak_bf16 skipped, bf16 products widen into fp32 FMAs");

  set_num_threads(threads);
  {  // SGEMM 1024
    const int64_t n = args.quick ? 512 : 1024;
    Generator g(1);
    const std::vector<uint16_t> a16 = random_bf16(g, n * n, -1, 1), b16 = random_bf16(g, n * n, -1, 1);
    const std::vector<float> a = widened(a16), b = widened(b16);
    std::vector<float> c(size_t(n * n));
    const double gflop = 2.0 * double(n) * n * n / 1e9;
    std::vector<std::function<void()>> fns{
        [&] { kernels::sgemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n); }};
    for (const Bf16Path& bp : paths)
      fns.push_back([&, bp] {
        with_isa(bp.isa, [&] { kernels::gemm_bf16(false, false, n, n, n, 1.f, a16.data(), n, b16.data(), n, 0.f, c.data(), n); });
      });
    const std::vector<double> sec = bench::median_seconds_alternating(repeats, fns);
    const std::string name = "sgemm_" + std::to_string(n) + ts;
    report.add({name, gflop / sec[0], "GFLOP/s", "fma_peak" + ts, gflop / sec[0] / fma});
    for (size_t i = 0; i < paths.size(); ++i) {
      const double v = gflop / sec[i + 1];
      const std::string bn = "sgemm" + paths[i].suffix + "_" + std::to_string(n) + ts;
      report.add({bn, v, "GFLOP/s", name, v * sec[0] / gflop});
      const bool on_dot = paths[i].isa == Isa::avx512bf16;
      if (on_dot || dot == 0)
        report.add({bn, v, "GFLOP/s", on_dot ? "fma_peak_bf16" + ts : "fma_peak" + ts, v / (on_dot ? dot : fma)});
    }
  }

  // The compact net's conv layers at batch 8 (512x512 input): 3x3 same, swish fused in forward.
  const int64_t batch = args.quick ? 1 : 8, scale = args.quick ? 4 : 1;
  const ConvLayer layers[] = {{"conv1", 1, 32, 512 / scale}, {"conv2", 32, 64, 256 / scale}, {"conv3", 64, 128, 128 / scale}};
  for (const ConvLayer& L : layers) {
    kernels::Conv2dShape p{batch, L.C, L.H, L.H, L.K, 3, 3};
    p.pad_h = p.pad_w = 1;
    const int64_t P = p.OH() * p.OW(), CRS = p.C * 9;
    Generator g(2);
    const std::vector<uint16_t> x16 = random_bf16(g, p.N * p.C * p.H * p.W, -1, 1),
                                w16 = random_bf16(g, p.K * CRS, -0.1f, 0.1f),
                                dy16 = random_bf16(g, p.N * p.K * P, -1, 1);
    const std::vector<float> x = widened(x16), w = widened(w16), dy = widened(dy16), b(size_t(p.K), 0.01f);
    std::vector<float> y(size_t(p.N * p.K * P)), dx(x.size()), dw(w.size()), db(b.size());
    const double gflop = 2.0 * double(p.N) * double(p.K) * double(CRS) * double(P) / 1e9;
    const std::string base = std::string(L.name) + "_" + std::to_string(L.H) + "_b" + std::to_string(batch);
    struct Pass {
      const char* tag;
      std::function<void()> f32;
      std::function<void()> bf16;
    };
    const Pass passes[] = {
        {"fwd", [&] { kernels::conv2d_forward(p, x.data(), w.data(), b.data(), y.data(), kernels::Act::swish); },
         [&] { kernels::conv2d_forward_bf16(p, x16.data(), w16.data(), b.data(), y.data(), kernels::Act::swish); }},
        {"bwd_data", [&] { kernels::conv2d_backward_data(p, dy.data(), w.data(), dx.data()); },
         [&] { kernels::conv2d_backward_data_bf16(p, dy16.data(), w16.data(), dx.data()); }},
        {"bwd_weight", [&] { kernels::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data()); },
         [&] {
           kernels::conv2d_backward_weight_bf16(p, x16.data(), dy16.data(), dw.data());
           kernels::bias_grad(p.N, p.K, P, dy.data(), db.data());
         }},
    };
    for (const Pass& ps : passes) {
      std::vector<std::function<void()>> fns{ps.f32};
      for (const Bf16Path& bp : paths) fns.push_back([&, bp] { with_isa(bp.isa, ps.bf16); });
      const std::vector<double> sec = bench::median_seconds_alternating(std::min(repeats, 3), fns);
      const std::string name = base + "_" + ps.tag + ts;
      report.add({name, gflop / sec[0], "GFLOP/s", "fma_peak" + ts, gflop / sec[0] / fma});
      for (size_t i = 0; i < paths.size(); ++i)
        report.add({base + "_" + ps.tag + paths[i].suffix + ts, gflop / sec[i + 1], "GFLOP/s", name, sec[0] / sec[i + 1]});
    }
  }
  set_num_threads(0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A compact_cxr training step at batch 8, products in fp32 (the default, bf16_storage) and in
// bf16: two models from the same seed, steps alternating between them.
void bench_training(const bench::SuiteArgs& args, bench::Report& report, int threads, int64_t size,
                    const bench::TorchRuns& torch) {
  const std::string s = std::to_string(size), b8 = "train_compact_" + s + "_b8";
  const int steps = args.quick ? 2 : 3;
  set_num_threads(threads);
  storage_release_cache();
  struct Run {
    std::shared_ptr<nn::Model> model;
    std::unique_ptr<optim::Trainer> trainer;
    std::vector<double> sec;
  };
  auto make = [&](nn::Precision p) {
    Run r;
    r.model = nn::build_model("compact_cxr", size, 2, 1);
    optim::TrainOptions o;
    o.optim.lr = 1e-3f;
    o.progress = 0;
    o.stream_min_elements = 1 << 20;  // the first Dense: updated inside backward (bench train's recipe)
    o.precision = p;
    r.trainer = std::make_unique<optim::Trainer>(r.model, o);
    return r;
  };
  Run runs[2] = {make(nn::Precision::bf16_storage), make(nn::Precision::bf16_compute)};
  Generator g(2);
  optim::TrainBatch b;
  b.images = randn({8, 1, size, size}, 0, 1, g);
  b.labels = Tensor::from_vector(std::vector<float>(8, 1.f), {8});
  for (Run& r : runs) r.trainer->train_step(b);  // warm-up: the Adam state
  for (int i = 0; i < steps; ++i)
    for (Run& r : runs) {
      const double t0 = bench::now_seconds();
      r.trainer->train_step(b);
      r.sec.push_back(bench::now_seconds() - t0);
    }
  const double f32 = 8 / median(runs[0].sec), bf16 = 8 / median(runs[1].sec);
  report.note("compact_cxr " + s + " batch 8 training: " + b8 + " is TrainOptions' default (bf16_storage: fp32 " +
              "products, bf16 kept pre-activations), " + b8 + "_bf16 has bf16 conv products; Adam, fp32 weights");
  report.add({b8, f32, "images/s", "", 0});
  report.add({b8 + "_bf16", bf16, "images/s", b8, bf16 / f32});
  bench::add_vs_torch(report, b8 + "_bf16", bf16, "images/s", torch, "train_ips", false, bench::kTorchAny);
  runs[0] = Run(), runs[1] = Run();
  storage_release_cache();
  set_num_threads(0);
}

// The path of `liteai` beside this program (liteai bench runs liteai-bench from its folder).
std::string liteai_command() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const auto cli = self.parent_path() / "liteai";
  return std::filesystem::exists(cli, ec) ? cli.string() : "";
}

// Peak RSS (MB) of a child process running argv, stdout and stderr discarded; -1 if it failed.
double child_peak_rss_mb(const std::vector<std::string>& argv) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> a;
    for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    if (FILE* null = std::fopen("/dev/null", "w")) {
      dup2(fileno(null), 1);
      dup2(fileno(null), 2);
    }
    execv(a[0], a.data());
    _exit(127);
  }
  int status = 0;
  rusage u{};
  if (wait4(pid, &status, 0, &u) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return u.ru_maxrss / 1024.0;
}

// Single-image compact_cxr 512 inference, fp32 and bf16: latency in this process (two models
// loaded for inference from one file, calls alternating) and peak RSS of `liteai predict` runs.
void bench_inference(const bench::SuiteArgs& args, bench::Report& report, int threads, const bench::TorchRuns& torch) {
  const int64_t size = args.quick ? 256 : 512;
  const std::string s = std::to_string(size);
  const std::string dir = std::filesystem::temp_directory_path() / ("liteai_bench_bf16_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string model_path = dir + "/compact.lai", image_path = dir + "/phantom.png";
  {
    auto model = nn::build_model("compact_cxr", size, 2, 1);
    nn::save_model(model_path, *model);
  }
  data::PhantomOptions po;
  po.size = int(size);
  data::write_png(image_path, data::make_phantom(7, 0, po).image);
  storage_release_cache();
  set_num_threads(threads);
  {
    nn::SavedModel f32 = nn::load_model_for_inference(model_path, nn::Precision::f32);
    nn::SavedModel bf16 = nn::load_model_for_inference(model_path, nn::Precision::bf16_compute);
    Generator g(3);
    const Tensor x = randn({1, 1, size, size}, 0, 1, g);
    Tensor p32, p16;
    const std::vector<double> sec = bench::median_seconds_alternating(
        std::max(5, args.repeats), {[&] { p32 = f32.model->predict(x); }, [&] { p16 = bf16.model->predict(x); }});
    double diff = 0;
    const auto a = p32.to_vector(), b = p16.to_vector();
    for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
    const std::string name = "infer_compact_" + s + "_b1";
    report.note("compact_cxr " + s + " single-image inference, " + std::to_string(threads) +
                " threads; bf16: every weight in bf16, bf16 conv products; largest probability change vs fp32 " +
                std::to_string(diff));
    bench::add_vs_torch(report, name, 1000 * sec[0], "ms", torch, "infer_ms", true, bench::kTorchFp32);
    report.add({name + "_bf16", 1000 * sec[1], "ms", name, sec[0] / sec[1]});
    bench::add_vs_torch(report, name + "_bf16", 1000 * sec[1], "ms", torch, "infer_ms", true, bench::kTorchAny);
  }
  storage_release_cache();
  set_num_threads(0);

  const std::string cli = liteai_command();
  if (cli.empty()) {
    report.note("rss_infer skipped: no liteai command beside liteai-bench");
  } else {
    double rss[2];
    const char* modes[2] = {"f32", "bf16-compute"};
    for (int m = 0; m < 2; ++m) {
      std::vector<double> runs;
      for (int r = 0; r < 3; ++r)
        runs.push_back(child_peak_rss_mb({cli, "predict", "--model", model_path, "--precision", modes[m], "--threads",
                                          std::to_string(threads), image_path}));
      rss[m] = median(runs);
    }
    report.note("peak RSS of `liteai predict --precision f32|bf16-compute` on one " + s + "x" + s +
                " image (separate processes, medians of 3)");
    const std::string name = "rss_infer_compact_" + s;
    if (rss[0] > 0 && rss[1] > 0) {
      report.add({name + "_fp32", rss[0], "MB", "", 0});
      report.add({name + "_bf16", rss[1], "MB", name + "_fp32", rss[0] / rss[1]});
    } else {
      report.note("rss_infer failed: liteai predict did not run");
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

LAI_BENCH_SUITE(bf16, "bf16 products vs fp32: dot-product peak, SGEMM, compact-net convs, training, inference, RSS") {
  const int threads = args.threads > 0 ? args.threads : 2;
  bench_kernels(args, report, threads);
  std::string why;
  const bool torch = bench::torch_available(&why);
  if (!torch) report.note("torch reference skipped: " + why);
  const int64_t size = args.quick ? 256 : 512;
  const std::string t = " --threads " + std::to_string(threads);
  bench::TorchRuns train_ref, infer_ref;
  if (torch) {
    train_ref = bench::run_torch_configs("--model compact --size " + std::to_string(size) + " --batch 8 --steps " +
                                             (args.quick ? "2" : "3") + t + " --infer 0",
                                         bench::torch_configs(true));
    infer_ref = bench::run_torch_configs("--model compact --size " + std::to_string(size) + " --train 0 --infer 1" + t,
                                         bench::torch_configs(true));
  }
  bench_training(args, report, threads, size, train_ref);
  bench_inference(args, report, threads, infer_ref);
}
