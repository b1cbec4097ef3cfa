// liteai bench bigmodel: the big model brought in, beside PyTorch running the same network.
// DenseNet121 at 512x512 with a 1-channel first conv (torchvision, seeded random weights, 14
// outputs), exported to ONNX by PyTorch and imported by liteai: inference at batch 1 and a training
// step (forward, backward, Adam) at batch 8, 2 threads, PyTorch in its fastest CPU configuration
// (channels_last) and in its default layout. Peak RSS of training is measured in separate
// processes (each side starts fresh): the model, its optimizer state and the step's activations.
//
// Records: infer_densenet121_512_b1 (ms, reference torch channels_last), train_densenet121_512_b8
// (images/s), rss_train_densenet121_512_b8 (MB, ratio torch / liteai), each with the torch figures
// (_torch, _torch_default) and per-CPU-second forms (_cpu) that other processes on a shared machine
// disturb less. Skipped with a clear line when python3-torch is absent (the model comes from it).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench.hpp"
#include "liteai/app/repack_tasks.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#ifdef LITEAI_HAVE_ONNX
#include "liteai/interop/onnx.hpp"
#endif

namespace {

const char* kTorchScript = R"PY(
import resource, statistics, sys, time
import torch, torchvision
mode, layout = sys.argv[1], sys.argv[2]
threads, batch, steps = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads); torch.manual_seed(0)
m = torchvision.models.densenet121(weights=None, num_classes=14)
m.features.conv0 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
x = torch.randn(batch, 1, 512, 512)
if mode == 'export':
    torch.onnx.export(m.eval(), x, layout, opset_version=13, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
    sys.exit(0)
if layout == 'channels_last':
    m = m.to(memory_format=torch.channels_last); x = x.to(memory_format=torch.channels_last)
def timed(fn):
    fn(); wall = []; cpu = []
    for _ in range(steps):
        t = time.perf_counter(); c = time.process_time(); fn()
        wall.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)
if mode == 'infer':
    m.eval()
    with torch.no_grad():
        w, c = timed(lambda: m(x))
    print('infer_ms', 1000 * w); print('infer_cpu_ms', 1000 * c)
else:
    opt = torch.optim.Adam(m.parameters(), lr=1e-3); y = torch.randint(0, 14, (batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    w, c = timed(step)
    print('train_ips', batch / w); print('train_ips_cpu', batch / c)
print('peak_rss_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
sys.stdout.flush()
)PY";

const char* kChildEnv = "LITEAI_BENCH_BIGMODEL_CHILD";  // "MODEL.lai BATCH STEPS": the training process

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs a command; returns its "key value" lines.
std::map<std::string, double> run_capture(const std::string& cmd) {
  std::map<std::string, double> out;
  if (FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r")) {
    char key[64];
    double v;
    while (std::fscanf(p, "%63s %lf", key, &v) == 2) out[key] = v;
    pclose(p);
  }
  return out;
}

std::string write_script(const std::string& dir) {
  const std::string path = dir + "/densenet.py";
  std::ofstream(path) << kTorchScript;
  return path;
}

// The training measurement, in its own process (see kChildEnv): load, one warm-up step, `steps` timed.
void train_child(const std::string& spec, int threads) {
  using namespace liteai;
  char model[PATH_MAX];
  int batch = 0, steps = 0;
  if (std::sscanf(spec.c_str(), "%4095s %d %d", model, &batch, &steps) != 3) return;
  set_num_threads(threads);
  auto m = nn::load_model(model, false).model;
  m->net->train();
  optim::TrainOptions o;
  o.progress = 0;
  o.optim.lr = 1e-3f;
  optim::Trainer trainer(m, o);
  Generator g(1);
  optim::TrainBatch b;
  b.images = randn({batch, 1, 512, 512}, 0, 1, g);
  std::vector<float> labels(static_cast<size_t>(batch));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = float(i % 14);
  b.labels = Tensor::from_vector(labels, {batch});
  trainer.train_step(b);
  std::vector<double> wall, cpu;
  for (int i = 0; i < steps; ++i) {
    const double t = bench::now_seconds(), c = cpu_seconds();
    trainer.train_step(b);
    wall.push_back(bench::now_seconds() - t);
    cpu.push_back(cpu_seconds() - c);
  }
  std::printf("train_ips %.6g\ntrain_ips_cpu %.6g\npeak_rss_mb %.1f\n", batch / median(wall), batch / median(cpu),
              bench::peak_rss_mb());
  std::fflush(stdout);
}

}  // namespace

LAI_BENCH_SUITE(bigmodel, "densenet121 512x512 1-channel from ONNX: inference b1, training b8, peak RSS vs PyTorch") {
  using namespace liteai;
  const int threads = args.threads > 0 ? args.threads : 2;
  if (const char* child = std::getenv(kChildEnv)) return train_child(child, threads);
#ifndef LITEAI_HAVE_ONNX
  report.note("bigmodel skipped: this build has no ONNX support (libonnx-dev)");
  return;
#else
  std::string why;
  if (!bench::torch_available(&why)) {
    report.note("bigmodel skipped (the model is made by torchvision): " + why);
    return;
  }
  set_num_threads(threads);
  char tmpl[] = "/tmp/liteai_bench_bigmodel_XXXXXX";
  const std::string dir = mkdtemp(tmpl) ? tmpl : "/tmp";
  const std::string script = write_script(dir), onnx = dir + "/densenet121_512_c1.onnx", lai = dir + "/densenet121.lai";
  const std::string py = "/usr/bin/python3 " + script + " ";
  const int repeats = std::max(2, args.quick ? 2 : args.repeats), steps = args.quick ? 1 : 3, batch = 8;
  const std::string t = str_cat(" ", threads, " ");
  run_capture(py + "export " + onnx + t + "1 1");
  interop::onnx::ImportOptions io;
  io.gray = false, io.preprocess = interop::onnx::Preprocess::unit;
  std::shared_ptr<nn::Model> model;
  try {
    model = interop::onnx::import_model(onnx, io);
  } catch (const Error& e) {
    report.note(std::string("bigmodel: the PyTorch export did not import: ") + e.what());
    return;
  }
  nn::save_model(lai, *model);
  report.note(str_cat("densenet121 512x512, 1 channel, 14 outputs, ", model->net->parameter_count(), " parameters, ",
                      threads, " threads; PyTorch ", "channels_last (its fastest CPU layout) and default"));

  // ---- inference, batch 1 ----
  model->net->eval();
  Generator g(2);
  Tensor x = randn({1, 1, 512, 512}, 0, 1, g);
  std::vector<double> wall, cpu;
  {
    autograd::NoGrad ng;
    model->forward(x);
    for (int i = 0; i < repeats; ++i) {
      const double t0 = bench::now_seconds(), c0 = cpu_seconds();
      model->forward(x);
      wall.push_back(bench::now_seconds() - t0);
      cpu.push_back(cpu_seconds() - c0);
    }
  }
  model.reset();

  // ---- the import repacked (BatchNorm folded, bf16 weights) as `liteai repack` does; the task
  // times both files at batch 1, their runs alternating, and measures the library's peak ----
  {
    app::Options o(app::repack_options());
    o.set("in", lai);
    o.set("out", dir + "/densenet121_repacked.lai");
    o.set_bool("fold", true);
    o.set_bool("bf16", true);
    o.set_bool("quiet", true);
    o.set_int("runs", repeats);
    const app::RepackOutcome rp = app::repack(o);
    const app::RepackFigures &b = rp.before, &a = rp.after;
    auto less = [](double before, double after) { return after > 0 ? before / after : 0; };
    report.add({"infer_densenet121_512_b1_unrepacked", b.latency_ms, "ms", "", 0});
    report.add({"infer_densenet121_512_b1_repacked", a.latency_ms, "ms", "infer_densenet121_512_b1_unrepacked",
                less(b.latency_ms, a.latency_ms)});
    report.add({"file_densenet121_512_repacked", double(a.file_bytes) / 1e6, "MB", "file_densenet121_512",
                less(double(b.file_bytes), double(a.file_bytes))});
    report.add({"memory_infer_densenet121_512_repacked", a.memory_peak_mb, "MB", "memory_infer_densenet121_512",
                less(b.memory_peak_mb, a.memory_peak_mb)});
    report.add({"parameters_densenet121_512_repacked", double(a.parameters + a.buffers), "values",
                "parameters_densenet121_512", less(double(b.parameters + b.buffers), double(a.parameters + a.buffers))});
    report.note(str_cat("repacked: ", rp.changes.size(), " changes, largest relative output difference ",
                        rp.max_rel_diff, " on ", rp.check_images, " ", rp.check_source));
  }
  const double ms = 1000 * median(wall), cpu_ms = 1000 * median(cpu);
  const std::string r = std::to_string(repeats);
  auto ti = run_capture(py + "infer channels_last" + t + "1 " + r), td = run_capture(py + "infer default" + t + "1 " + r);
  const bool hi = ti.count("infer_ms") > 0;
  report.add({"infer_densenet121_512_b1", ms, "ms", hi ? "torch" : "", hi ? ti["infer_ms"] / ms : 0});
  report.add({"infer_densenet121_512_b1_cpu", cpu_ms, "cpu-ms", hi ? "torch" : "", hi ? ti["infer_cpu_ms"] / cpu_ms : 0});
  if (hi) {
    report.add({"infer_densenet121_512_b1_torch", ti["infer_ms"], "ms", "", 0});
    report.add({"infer_densenet121_512_b1_torch_cpu", ti["infer_cpu_ms"], "cpu-ms", "", 0});
  }
  if (td.count("infer_ms")) report.add({"infer_densenet121_512_b1_torch_default", td["infer_ms"], "ms", "", 0});

  // ---- training, batch 8, each side in its own process ----
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::map<std::string, double> lt;
  if (n > 0) {
    self[n] = '\0';
    lt = run_capture(str_cat(kChildEnv, "='", lai, " ", batch, " ", steps, "' ", self, " bigmodel --threads ", threads));
  }
  const std::string b = std::to_string(batch), s = std::to_string(steps);
  auto tc = run_capture(py + "train channels_last" + t + b + " " + s), tdef = run_capture(py + "train default" + t + b + " " + s);
  if (!lt.count("train_ips")) {
    report.note("bigmodel: the liteai training process did not report");
    return;
  }
  const bool ht = tc.count("train_ips") > 0;
  report.add({"train_densenet121_512_b8", lt["train_ips"], "images/s", ht ? "torch" : "",
              ht ? lt["train_ips"] / tc["train_ips"] : 0});
  report.add({"train_densenet121_512_b8_cpu", lt["train_ips_cpu"], "images/cpu-s", ht ? "torch" : "",
              ht ? lt["train_ips_cpu"] / tc["train_ips_cpu"] : 0});
  // lower is better: ratio = torch / liteai
  report.add({"rss_train_densenet121_512_b8", lt["peak_rss_mb"], "MB", ht ? "torch" : "",
              ht ? tc["peak_rss_mb"] / lt["peak_rss_mb"] : 0});
  if (ht) {
    report.add({"train_densenet121_512_b8_torch", tc["train_ips"], "images/s", "", 0});
    report.add({"train_densenet121_512_b8_torch_cpu", tc["train_ips_cpu"], "images/cpu-s", "", 0});
    report.add({"rss_train_densenet121_512_b8_torch", tc["peak_rss_mb"], "MB", "", 0});
  }
  if (tdef.count("train_ips")) {
    report.add({"train_densenet121_512_b8_torch_default", tdef["train_ips"], "images/s", "", 0});
    report.add({"rss_train_densenet121_512_b8_torch_default", tdef["peak_rss_mb"], "MB", "", 0});
  }
  report.note("torch's CPU time includes its OpenMP threads spinning while they wait: on a busy machine its per-CPU-second "
              "figures look worse than its wall time would on an idle one");
  std::remove(onnx.c_str());
  std::remove(lai.c_str());
  std::remove(script.c_str());
  ::rmdir(dir.c_str());
#endif
}
