// Data-parallel training over MPI (issue 20): compact_cxr at 256 and 512 px, 2 ranks of 1 thread
// against 1 rank of 1 thread on this machine (weak scaling: every rank a batch of its own, so
// efficiency = 2-rank images/s / (2 x 1-rank images/s)), and the bytes a rank hands to MPI per
// step with fc1's gradient exchanged as factors against a plain all-reduce of the whole gradient
// (every parameter's, 4 bytes each). The suite starts its own runs: `mpirun -np 2` of this program
// as a child (`--child distributed_train`) and the same child alone for 1 rank. Records
// scaling_compact_256_2ranks, scaling_compact_512_2ranks (images/s, reference 1rank) and
// exchange_bytes_compact_512 (bytes per step, reference full_gradient, ratio full / factored).
// On a 2-core machine shared with other work the scaling figure says little: 2 ranks need 2 idle
// cores.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"
#ifdef LITEAI_HAVE_MPI
#include "liteai/interop/mpi.hpp"
#endif

using namespace liteai;

namespace {
long long arg_of(const std::vector<std::string>& a, size_t i) { return i < a.size() ? std::stoll(a[i]) : 0; }

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string("liteai-bench");
}

// Runs a command, returns its "key value" lines (rank 0 prints them) and its exit status.
std::map<std::string, double> run_lines(const std::string& cmd, int* status, std::vector<std::string>* notes) {
  std::map<std::string, double> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  char line[1024];
  while (std::fgets(line, sizeof line, p)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.rfind("# ", 0) == 0) {
      notes->push_back(s.substr(2));
      continue;
    }
    const size_t sp = s.find(' ');
    if (sp == std::string::npos) continue;
    char* end = nullptr;
    const double v = std::strtod(s.c_str() + sp + 1, &end);
    if (end && *end == '\0') out[s.substr(0, sp)] = v;
  }
  *status = pclose(p);
  return out;
}
}  // namespace

// Child: size batch steps distributed(0|1). One thread. Prints (rank 0) ips (global images/s,
// median step), bytes_per_step (what this rank handed to MPI per step), full_gradient_bytes.
LAI_BENCH_CHILD(distributed_train) {
  const int64_t size = arg_of(args, 0), batch = arg_of(args, 1), steps = std::max<long long>(1, arg_of(args, 2));
  const bool distributed = arg_of(args, 3) != 0;
  set_num_threads(1);
  optim::TrainOptions o;
  o.optimizer = optim::OptimizerKind::sgd;  // no optimizer state: two 512 px ranks fit beside other work
  o.optim.lr = 1e-3f;
  o.progress = 0;
  o.stream_min_elements = 1 << 20;  // fc1: updated from its gradient's factors
#ifdef LITEAI_HAVE_MPI
  if (distributed) o.collective = interop::mpi_world();
#else
  if (distributed) {
    std::fprintf(stderr, "distributed_train: this build has no MPI\n");
    return 1;
  }
#endif
  const bool lead = !o.collective || o.collective->rank() == 0;
  auto model = nn::build_model("compact_cxr", size, 2, 1);
  int64_t params = 0;
  for (const auto& [name, t] : model->net->named_parameters()) params += t.numel();
  optim::Trainer trainer(model, o);
  Generator g(2 + (o.collective ? uint64_t(o.collective->rank()) : 0));
  optim::TrainBatch b;
  b.images = randn({batch, 1, size, size}, 0, 1, g);
  std::vector<float> lab(static_cast<size_t>(batch));
  for (size_t i = 0; i < lab.size(); ++i) lab[i] = static_cast<float>(i % 2);
  b.labels = Tensor::from_vector(lab, {batch});
  trainer.train_step(b);  // warm-up
  const int64_t bytes0 = o.collective ? o.collective->bytes_sent() : 0;
  std::vector<double> t;
  for (int64_t i = 0; i < steps; ++i) {
    const double t0 = bench::now_seconds();
    trainer.train_step(b);
    double dt = bench::now_seconds() - t0;
    if (o.collective) {  // a step lasts as long as its slowest rank
      std::vector<double> all(size_t(o.collective->size()), 0.0);
      all[size_t(o.collective->rank())] = dt;
      o.collective->all_reduce_sum(all.data(), int64_t(all.size()));
      dt = *std::max_element(all.begin(), all.end());
    }
    t.push_back(dt);
  }
  const int64_t bytes = o.collective ? o.collective->bytes_sent() - bytes0 : 0;
  if (lead) {
    std::sort(t.begin(), t.end());
    const double med = t[t.size() / 2];
    const int ranks = o.collective ? o.collective->size() : 1;
    std::printf("# %s\n", trainer.memory_plan().c_str());
    std::printf("ips %.4f\n", double(batch) * ranks / med);
    // the step-time exchanges only (the timing's own all-reduce excluded)
    std::printf("bytes_per_step %.0f\n",
                double(bytes) / double(steps) - (o.collective ? 8.0 * o.collective->size() : 0.0));
    std::printf("full_gradient_bytes %.0f\n", double(params) * 4.0);
  }
  return 0;
}

LAI_BENCH_SUITE(distributed, "data-parallel training over MPI: compact_cxr 256/512, 2 ranks x 1 thread vs 1 rank; bytes exchanged per step, factored vs full gradient") {
#ifndef LITEAI_HAVE_MPI
  report.note("distributed: skipped, this build has no MPI (openmpi-bin, libopenmpi-dev; LITEAI_WITH_MPI)");
  return;
#else
  if (getuid() == 0) {  // Open MPI refuses root without these
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  const std::string exe = self_exe();
  const int batch = 8, steps = args.quick ? 2 : std::max(3, args.repeats);
  for (const int size : {256, 512}) {
    const std::vector<std::string> a = {std::to_string(size), std::to_string(batch), std::to_string(steps)};
    auto cmd = [&](bool two) {
      std::string c = two ? "mpirun --oversubscribe -np 2 " : "";
      c += "'" + exe + "' --child distributed_train " + a[0] + " " + a[1] + " " + a[2] + (two ? " 1" : " 0");
      return c + " 2>&1";
    };
    int s1 = 0, s2 = 0;
    std::vector<std::string> notes;
    const auto one = run_lines(cmd(false), &s1, &notes);
    const auto two = run_lines(cmd(true), &s2, &notes);
    for (const std::string& n : notes) report.note(str_cat("compact_cxr ", size, ": ", n));
    if (s1 != 0 || s2 != 0 || !one.count("ips") || !two.count("ips")) {
      report.note(str_cat("compact_cxr ", size, ": a run failed (status ", s1, ", ", s2, ")"));
      continue;
    }
    const double ips1 = one.at("ips"), ips2 = two.at("ips");
    report.add({str_cat("scaling_compact_", size, "_2ranks"), ips2, "images/s", "1rank", ips2 / (2 * ips1)});
    report.note(str_cat("compact_cxr ", size, ": 1 rank ", ips1, " images/s, 2 ranks ", ips2,
                        " images/s (batch ", batch, " per rank, median of ", steps, " steps)"));
    if (size == 512 || args.quick) {
      const double factored = two.at("bytes_per_step"), full = two.at("full_gradient_bytes");
      report.add({str_cat("exchange_bytes_compact_", size), factored, "bytes/step", "full_gradient",
                  factored > 0 ? full / factored : 0});
    }
    if (args.quick) break;  // 256 px only
  }
#endif
}
