#include "torch_ref.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace liteai::bench {
namespace {

const char* kTorchScript = R"PY(
import argparse, contextlib, resource, statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
p = argparse.ArgumentParser()
p.add_argument('--model', default='compact'); p.add_argument('--size', type=int, default=512)
p.add_argument('--batch', type=int, default=8); p.add_argument('--steps', type=int, default=3)
p.add_argument('--threads', type=int, default=2); p.add_argument('--infer', type=int, default=1)
p.add_argument('--train', type=int, default=1)
p.add_argument('--channels-last', type=int, default=0); p.add_argument('--bf16', type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)

class Compact(nn.Module):  # SPEC.md section 2, same as liteai's compact_cxr
    def __init__(s, size, classes=2):
        super().__init__()
        s.c1 = nn.Conv2d(1, 32, 3, padding=1); s.c2 = nn.Conv2d(32, 64, 3, padding=1)
        s.c3 = nn.Conv2d(64, 128, 3, padding=1)
        s.fc1 = nn.Linear((size // 8) ** 2 * 128, 256); s.fc2 = nn.Linear(256, 128)
        s.fc3 = nn.Linear(128, 256); s.out = nn.Linear(256, classes)
    def forward(s, x):
        x = F.avg_pool2d(F.silu(s.c1(x)), 2); x = F.avg_pool2d(F.silu(s.c2(x)), 2)
        x = F.avg_pool2d(F.silu(s.c3(x)), 2); h = F.silu(s.fc1(torch.flatten(x, 1)))
        h = F.silu(h + s.fc3(F.silu(s.fc2(h)))); return s.out(h)
    def l2(s):  # Keras kernel_regularizer l2(0.01) on every kernel
        return 0.01 * sum((m.weight ** 2).sum() for m in [s.c1, s.c2, s.c3, s.fc1, s.fc2, s.fc3, s.out])

class Small(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 32, 3, padding=1); s.c2 = nn.Conv2d(32, 64, 3, padding=1)
        s.fc1 = nn.Linear(64 * 7 * 7, 128); s.out = nn.Linear(128, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c2(x)), 2)
        return s.out(F.relu(s.fc1(torch.flatten(x, 1))))
    def l2(s): return 0.0

m = Compact(a.size) if a.model == 'compact' else Small()
classes = 2 if a.model == 'compact' else 10
size = a.size if a.model == 'compact' else 28
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
m = m.to(memory_format=fmt)
def autocast():
    return torch.autocast('cpu', dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()
if a.train:
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 1, size, size).contiguous(memory_format=fmt); y = torch.randint(0, classes, (a.batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(m(x), y) + m.l2()
        loss.backward(); opt.step()
    step()
    times = []; cpu = []
    for _ in range(a.steps):
        t = time.perf_counter(); c = time.process_time(); step()
        times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
    print('train_ips', a.batch / statistics.median(times))
    print('train_ips_cpu', a.batch / statistics.median(cpu))
if a.infer:
    m.eval(); x1 = torch.randn(1, 1, size, size).contiguous(memory_format=fmt); times = []
    with torch.no_grad(), autocast():
        m(x1)
        for _ in range(5):
            t = time.perf_counter(); m(x1); times.append(time.perf_counter() - t)
    print('infer_ms', 1000 * statistics.median(times))
print('peak_rss_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
sys.stdout.flush()
)PY";

}  // namespace

std::vector<TorchConfig> torch_configs(bool bf16) {
  std::vector<TorchConfig> out{{"nchw", false, false}, {"channels_last", true, false}};
  if (bf16) out.push_back({"channels_last_bf16", true, true});
  return out;
}

std::map<std::string, double> run_torch(const std::string& args, const TorchConfig& c) {
  std::map<std::string, double> out;
  char path[] = "/tmp/liteai_bench_torch_XXXXXX.py";
  const int fd = mkstemps(path, 3);
  if (fd < 0) return out;
  {
    std::ofstream f(path);
    f << kTorchScript;
  }
  ::close(fd);
  const std::string cmd = "/usr/bin/python3 " + std::string(path) + " " + args + " --channels-last " +
                          (c.channels_last ? "1" : "0") + " --bf16 " + (c.bf16 ? "1" : "0") + " 2>/dev/null";
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char key[64];
    double v;
    while (std::fscanf(p, "%63s %lf", key, &v) == 2) out[key] = v;
    pclose(p);
  }
  std::remove(path);
  return out;
}

bool TorchRuns::has(const std::string& config, const std::string& key) const {
  auto c = by_config.find(config);
  return c != by_config.end() && c->second.count(key) > 0;
}
double TorchRuns::get(const std::string& config, const std::string& key) const {
  return has(config, key) ? by_config.at(config).at(key) : 0;
}
bool TorchRuns::best(const std::string& key, bool lower_is_better, const std::vector<std::string>& configs,
                     double* value, std::string* config) const {
  bool found = false;
  for (const std::string& c : configs) {
    if (!has(c, key)) continue;
    const double v = get(c, key);
    if (!found || (lower_is_better ? v < *value : v > *value)) *value = v, *config = c, found = true;
  }
  return found;
}

TorchRuns run_torch_configs(const std::string& args, const std::vector<TorchConfig>& configs) {
  TorchRuns r;
  for (const TorchConfig& c : configs) r.by_config[c.name] = run_torch(args, c);
  return r;
}

void add_vs_torch(Report& report, const std::string& name, double value, const std::string& unit, const TorchRuns& runs,
                  const std::string& key, bool lower_is_better, const std::vector<std::string>& configs) {
  double best = 0;
  std::string config;
  if (!runs.best(key, lower_is_better, configs, &best, &config) || best <= 0 || value <= 0) {
    report.add({name, value, unit, "", 0});
    return;
  }
  report.add({name, value, unit, "torch_" + config, lower_is_better ? best / value : value / best});
  report.add({name + "_torch", best, unit, "", 0});
  if (runs.has("nchw", key)) report.add({name + "_torch_nchw", runs.get("nchw", key), unit, "", 0});
}

}  // namespace liteai::bench
