// liteai bench repack: a 3-channel net with BatchNorm brought in the way an ONNX import of a
// torchvision model looks (gray input replicated by a Concat, ImageNet's Sub/Div; teacher_cxr as
// the stand-in: no PyTorch needed), repacked with gray + fold + bf16 by the task `liteai repack`
// runs; the before/after figures it measures (parameters, file size, the library's inference
// memory peak, batch-1 latency) and the output difference on SYNTHETIC phantoms.
#include <filesystem>

#include "bench.hpp"
#include "liteai/app/repack_tasks.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/model_io.hpp"

#ifdef LITEAI_HAVE_ONNX
#include "liteai/interop/onnx.hpp"
#endif

using namespace liteai;

LAI_BENCH_SUITE(repack, "repacking an imported-style 3-channel BN net: gray + fold + bf16, before/after") {
  const int64_t size = args.quick ? 64 : 256;
  if (args.threads > 0) set_num_threads(args.threads);
  nn::ArchSpec spec;
  spec.name = "teacher_cxr";
  spec.set("size", double(size)).set("channels", 3.0).set("classes", 5.0).set("width", 32.0);
  auto m = nn::build_model(spec, 7 + uint64_t(args.seed));
  Generator g(5);
  for (auto& [name, t] : m->net->state())  // statistics as a trained net has them
    if (name.find("running_var") != std::string::npos || name.find("gamma") != std::string::npos)
      for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = g.uniform(0.5f, 2.f);
  m->preprocessing.standardize = false;
  std::string kind = "zoo";
#ifdef LITEAI_HAVE_ONNX
  {
    const auto bytes = interop::onnx::export_model_to_bytes(*m);
    interop::onnx::ImportOptions io;
    io.preprocess = interop::onnx::Preprocess::imagenet;  // Concat x3, Sub mean, Div std in front
    m = interop::onnx::import_model_from_bytes(bytes.data(), bytes.size(), io);
    kind = "ONNX import";
  }
#endif
  const auto dir = std::filesystem::temp_directory_path() / "liteai_bench_repack";
  std::filesystem::create_directories(dir);
  const std::string in = (dir / "rgb.lai").string(), out = (dir / "repacked.lai").string();
  nn::save_model(in, *m);
  app::Options o(app::repack_options());
  o.set("in", in);
  o.set("out", out);
  o.set_bool("gray", true);
  o.set_bool("fold", true);
  o.set_bool("bf16", true);
  o.set_bool("quiet", true);
  o.set_int("runs", std::max(3, args.repeats));
  const app::RepackOutcome r = app::repack(o);
  const std::string base = "infer_teacher_cxr_rgb_" + std::to_string(size) + "_b1";
  report.note("repack: teacher_cxr width 32, 3 channels, " + std::to_string(size) + "x" + std::to_string(size) + " (" +
              kind + "), " + std::to_string(r.changes.size()) + " changes; check on " +
              std::to_string(r.check_images) + " " + r.check_source);
  auto ratio = [](double ref, double v) { return v > 0 ? ref / v : 0; };  // higher is better: smaller after
  report.add({base + "_ms", r.before.latency_ms, "ms", "", 0});
  report.add({base + "_repacked_ms", r.after.latency_ms, "ms", base + "_ms", ratio(r.before.latency_ms, r.after.latency_ms)});
  report.add({base + "_memory_mb", r.before.memory_peak_mb, "MB", "", 0});
  report.add({base + "_repacked_memory_mb", r.after.memory_peak_mb, "MB", base + "_memory_mb",
              ratio(r.before.memory_peak_mb, r.after.memory_peak_mb)});
  report.add({base + "_file_mb", double(r.before.file_bytes) / 1e6, "MB", "", 0});
  report.add({base + "_repacked_file_mb", double(r.after.file_bytes) / 1e6, "MB", base + "_file_mb",
              ratio(double(r.before.file_bytes), double(r.after.file_bytes))});
  report.add({base + "_parameters", double(r.before.parameters + r.before.buffers), "values", "", 0});
  report.add({base + "_repacked_parameters", double(r.after.parameters + r.after.buffers), "values",
              base + "_parameters", ratio(double(r.before.parameters + r.before.buffers), double(r.after.parameters + r.after.buffers))});
  report.add({base + "_repacked_max_rel_diff", r.max_rel_diff, "", "", 0});
  std::filesystem::remove_all(dir);
  if (args.threads > 0) set_num_threads(0);
}
