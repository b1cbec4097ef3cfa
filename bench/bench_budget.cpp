// liteai bench budget: training compact_cxr at 512x512, effective batch 8, within a memory budget
// (TrainOptions::max_memory: the planner picks micro-batches, checkpointing, the optimizer state
// and the master weights' type; once more at 768 MiB with bf16 master weights asked for, records
// *_budget768m_bf16), and inference with the weights memory-mapped from the .lai file.
//
// Every configuration runs alone in a child process of this program (bench::run_child), so its
// peak RSS (VmHWM, the kernel's high-water mark of the whole process: code, threads, heap,
// tensors, the planner's measuring passes) is its own and is measured, never estimated. Images/s
// are compared side by side with the unconstrained run (Adam f32, whole batch), the children
// alternating round by round so that the load of other processes hits all of them alike.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

long long arg(const std::vector<std::string>& a, size_t i) { return i < a.size() ? std::stoll(a[i]) : 0; }

}  // namespace

// Child: size batch steps budget_bytes threads [state micro_batch factored [save|resume|- path
// [bf16]]] (state, micro_batch and factored set the knobs by hand when there is no budget; save
// writes a checkpoint after the steps, resume starts from one; bf16: bf16 master weights for fc1). Prints ips, ips_cpu, est_peak_mb,
// tracked_peak_mb, peak_rss_mb.
LAI_BENCH_CHILD(budget_train) {
  using namespace liteai;
  const int64_t size = arg(args, 0), batch = arg(args, 1), steps = arg(args, 2), budget = arg(args, 3);
  set_num_threads(static_cast<int>(arg(args, 4)));
  auto model = nn::build_model("compact_cxr", size, 2, 1);
  optim::TrainOptions o;
  o.optim.lr = 1e-3f;
  o.progress = 0;
  o.stream_min_elements = 1 << 20;  // the first Dense: updated from its gradient's factors
  o.max_memory = budget;
  o.loader_bytes = 4 * batch * size * size;  // the one batch this program holds (no loader)
  if (args.size() > 5) o.optim.state = optim::state_precision_from_string(args[5]);
  o.micro_batch = arg(args, 6);
  o.optim.factored = arg(args, 7) != 0;
  if (args.size() > 10 && args[10] == "bf16") o.master_weights = DType::bf16;
  optim::Trainer trainer(model, o);
  Generator g(2);
  optim::TrainBatch b;
  b.images = randn({batch, 1, size, size}, 0, 1, g);
  std::vector<float> lab(static_cast<size_t>(batch));
  for (size_t i = 0; i < lab.size(); ++i) lab[i] = static_cast<float>(i % 2);
  b.labels = Tensor::from_vector(lab, {batch});
  const std::string ck_mode = args.size() > 9 ? args[8] : "", ck_path = args.size() > 9 ? args[9] : "";
  if (budget > 0) {
    const optim::MemoryPlan& plan = trainer.plan_memory(batch, {1, size, size});
    std::printf("# plan: %s\n", plan.to_string().c_str());
    std::printf("est_peak_mb %.1f\n", plan.peak() / 1048576.0);
  }
  std::printf("# rss after planning %.0f MB (peak %.0f)\n", bench::current_rss_mb(), bench::peak_rss_mb());
  if (ck_mode == "resume") {
    trainer.resume(ck_path);
    std::printf("# rss after resuming %.0f MB (peak %.0f)\n", bench::current_rss_mb(), bench::peak_rss_mb());
  }
  trainer.train_step(b);  // warm-up: allocates the optimizer state
  std::vector<double> t, c;
  rusage u0{}, u1{};
  getrusage(RUSAGE_SELF, &u0);
  for (int64_t i = 0; i < steps; ++i) {
    const double t0 = bench::now_seconds(), c0 = cpu_seconds();
    trainer.train_step(b);
    t.push_back(bench::now_seconds() - t0);
    c.push_back(cpu_seconds() - c0);
  }
  getrusage(RUSAGE_SELF, &u1);
  std::printf("faults_per_step %.0f\n", double(u1.ru_minflt - u0.ru_minflt) / double(std::max<int64_t>(1, steps)));
  if (ck_mode == "save") trainer.save_checkpoint(ck_path);
  const MemoryStats m = memory_stats();
  std::printf("# tensors and kernel scratch, %s\n", m.to_string().c_str());
  std::printf("# %s\n", trainer.memory_plan().c_str());
  std::printf("ips %.4f\nips_cpu %.4f\n", batch / median(t), batch / median(c));
  std::printf("tracked_peak_mb %.1f\n", m.total_peak / 1048576.0);
  std::printf("peak_rss_mb %.1f\n", bench::peak_rss_mb());
  return 0;
}

namespace {
void measure_inference(const liteai::bench::SuiteArgs& args, liteai::bench::Report& report);
}

LAI_BENCH_SUITE(budget, "compact_cxr 512x512 training within 1 GiB and 768 MiB (8-bit state, micro-batches, bf16 master weights), inference with mapped weights; each in its own process: peak RSS, images/s") {
  using namespace liteai;
  const int threads = args.threads > 0 ? args.threads : 2;
  const int64_t size = args.quick ? 128 : 512, batch = 8, steps = args.quick ? 2 : 4;
  const int rounds = args.quick ? 1 : std::max(1, std::min(args.repeats, 5));
  const std::string s = std::to_string(size);
  struct Config {
    std::string name;  // record suffix
    int64_t budget;
    bool bf16;  // bf16 master weights asked for (else the planner's choice)
  };
  const std::vector<Config> configs{{"b8", 0, false},
                                    {"budget1g", int64_t(1) << 30, false},
                                    {"budget768m", int64_t(768) << 20, false},
                                    {"budget768m_bf16", int64_t(768) << 20, true}};
  std::map<std::string, std::vector<double>> ips, rss, est, tracked;
  std::map<std::string, std::vector<std::string>> notes;
  for (int r = 0; r < rounds; ++r)
    for (const Config& c : configs) {
      std::vector<std::string> a{s, std::to_string(batch), std::to_string(steps), std::to_string(c.budget),
                                 std::to_string(threads)};
      if (c.bf16) a.insert(a.end(), {"f32", "0", "0", "-", "-", "bf16"});
      bench::ChildResult res = bench::run_child("budget_train", a);
      if (res.status != 0) {
        report.note(str_cat("compact_cxr ", s, " ", c.name, ": the child process failed (status ", res.status, ")"));
        continue;
      }
      ips[c.name].push_back(res.values["ips"]);
      rss[c.name].push_back(std::max(res.values["peak_rss_mb"], res.values["child_peak_rss_mb"]));
      if (res.values.count("est_peak_mb")) est[c.name].push_back(res.values["est_peak_mb"]);
      tracked[c.name].push_back(res.values["tracked_peak_mb"]);
      if (r == 0) notes[c.name] = res.notes;
    }
  // Resuming within the budget: a checkpoint written by a 1 GiB run, resumed by a fresh one.
  const std::string ck = "/tmp/liteai_bench_budget_ck_" + std::to_string(getpid()) + ".lai";
  const std::string one_g = std::to_string(int64_t(1) << 30);
  bench::ChildResult saved = bench::run_child(
      "budget_train", {s, std::to_string(batch), "1", one_g, std::to_string(threads), "f32", "0", "0", "save", ck});
  bench::ChildResult resumed = bench::run_child(
      "budget_train", {s, std::to_string(batch), "1", one_g, std::to_string(threads), "f32", "0", "0", "resume", ck});
  std::remove(ck.c_str());
  report.note(str_cat("compact_cxr ", s, "x", s, ", effective batch ", batch, ", Adam, ", threads, " threads, ", rounds,
                      " round(s) of one child process per configuration (medians); wall-time ratios need an idle machine"));
  const double ref_ips = median(ips["b8"]);
  for (const Config& c : configs) {
    if (ips[c.name].empty()) continue;
    for (const std::string& n : notes[c.name]) report.note(str_cat(c.name, ": ", n));
    if (!est[c.name].empty())
      report.note(str_cat(c.name, ": estimated peak ", static_cast<int>(median(est[c.name])), " MiB, tensors measured ",
                          static_cast<int>(median(tracked[c.name])), " MiB, process measured ",
                          static_cast<int>(median(rss[c.name])), " MiB"));
    const double v = median(ips[c.name]), m = median(rss[c.name]);
    if (c.budget == 0) {
      report.add({"train_compact_" + s + "_b8", v, "images/s", "", 0});
      report.add({"rss_train_compact_" + s + "_b8", m, "MB", "", 0});
    } else {
      const double budget_mb = c.budget / 1048576.0;
      report.add({"rss_train_compact_" + s + "_" + c.name, m, "MB", "budget", budget_mb / m});
      report.add({"train_compact_" + s + "_" + c.name, v, "images/s", "train_compact_" + s + "_b8",
                  ref_ips > 0 ? v / ref_ips : 0});
    }
  }
  if (saved.status == 0 && resumed.status == 0) {
    const double m = std::max(resumed.values["peak_rss_mb"], resumed.values["child_peak_rss_mb"]);
    report.add({"rss_resume_compact_" + s + "_budget1g", m, "MB", "budget", 1024.0 / m});
  } else {
    report.note(str_cat("resume within the budget: a child process failed (status ", saved.status, ", ", resumed.status, ")"));
  }
  measure_inference(args, report);
}

// Child: rows cols threads. The optimizer update alone on a [rows, cols] weight, per state form.
LAI_BENCH_CHILD(budget_update) {
  using namespace liteai;
  const int64_t rows = arg(args, 0), cols = arg(args, 1);
  set_num_threads(static_cast<int>(arg(args, 2)));
  Generator g(5);
  Tensor w = randn({rows, cols}, 0, 0.01f, g), x = randn({8, rows}, 0, 1, g), gr = randn({8, cols}, 0, 1, g);
  w.set_requires_grad(true);
  for (const char* form : {"f32", "8bit", "factored"}) {
    optim::OptimizerOptions o;
    o.state = std::string(form) == "f32" ? optim::StatePrecision::f32 : optim::StatePrecision::q8;
    o.factored = std::string(form) == "factored";
    optim::Adam opt({{"w", w}}, o);
    opt.stream_updates("w", false);
    std::vector<double> t;
    for (int i = 0; i < 4; ++i) {
      const double t0 = bench::now_seconds(), c0 = cpu_seconds();
      opt.update_outer(0, x, gr, arg(args, 3));
      opt.step();
      t.push_back(cpu_seconds() - c0);
      (void)t0;
    }
    std::printf("update_%s_cpu_ns %.3f\n", form, median(t) / double(rows * cols) * 1e9);
  }
  return 0;
}

// Child: path mode(fp32|mmap) threads repeats. Single-image inference of a saved compact_cxr.
LAI_BENCH_CHILD(budget_infer) {
  using namespace liteai;
  const std::string path = args.at(0), mode = args.at(1);
  set_num_threads(static_cast<int>(arg(args, 2)));
  const int repeats = static_cast<int>(std::max<long long>(1, arg(args, 3)));
  nn::SavedModel saved = mode == "mmap" ? nn::load_model_mapped(path) : nn::load_model(path, false);
  nn::Model& model = *saved.model;
  const int64_t size = model.preprocessing.width;
  Generator g(3);
  Tensor x = randn({1, 1, size, size}, 0, 1, g);
  Tensor p;
  const double ms = 1000 * bench::median_seconds(repeats, [&] { p = model.predict(x); });
  std::printf("infer_ms %.3f\n", ms);
  for (int64_t i = 0; i < p.numel(); ++i) std::printf("p%lld %.9g\n", (long long)i, p.data()[i]);
  std::printf("peak_rss_mb %.1f\n", bench::peak_rss_mb());
  return 0;
}

namespace {
// Single-image inference with the weights copied vs mapped from the .lai file, each in its own process.
void measure_inference(const liteai::bench::SuiteArgs& args, liteai::bench::Report& report) {
  using namespace liteai;
  const int threads = args.threads > 0 ? args.threads : 2;
  const int64_t size = args.quick ? 128 : 512;
  const std::string s = std::to_string(size);
  const std::string path = "/tmp/liteai_bench_budget_" + std::to_string(getpid()) + ".lai";
  {
    auto model = nn::build_model("compact_cxr", size, 2, 1);
    nn::save_model(path, *model);
  }
  storage_release_cache();
  const int rounds = args.quick ? 1 : 3;
  std::map<std::string, std::vector<double>> ms, rss;
  std::map<std::string, std::vector<double>> probs;
  for (int r = 0; r < rounds; ++r)
    for (const std::string mode : {"fp32", "mmap"}) {
      bench::ChildResult res = bench::run_child("budget_infer", {path, mode, std::to_string(threads), "5"});
      if (res.status != 0) {
        report.note(str_cat("inference ", mode, ": the child process failed (status ", res.status, ")"));
        continue;
      }
      ms[mode].push_back(res.values["infer_ms"]);
      rss[mode].push_back(std::max(res.values["peak_rss_mb"], res.values["child_peak_rss_mb"]));
      probs[mode] = {res.values["p0"], res.values["p1"]};
    }
  std::remove(path.c_str());
  if (ms["fp32"].empty() || ms["mmap"].empty()) return;
  const double diff = std::max(std::fabs(probs["fp32"][0] - probs["mmap"][0]), std::fabs(probs["fp32"][1] - probs["mmap"][1]));
  report.note(str_cat("compact_cxr ", s, "x", s, " batch 1, ", threads, " threads, ", rounds,
                      " round(s); mapped weights: largest probability change vs copied ", diff));
  const double rf = median(rss["fp32"]), rm = median(rss["mmap"]);
  report.add({"rss_infer_compact_" + s + "_fp32", rf, "MB", "", 0});
  report.add({"rss_infer_compact_" + s + "_mmap", rm, "MB", "rss_infer_compact_" + s + "_fp32", rf / rm});
  const double tf = median(ms["fp32"]), tm = median(ms["mmap"]);
  report.add({"infer_compact_" + s + "_fp32", tf, "ms", "", 0});
  report.add({"infer_compact_" + s + "_mmap", tm, "ms", "infer_compact_" + s + "_fp32", tf / tm});
}
}  // namespace
