#include "liteai/app/repack_tasks.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "liteai/app/data.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/trust_tasks.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/core/log.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/io/file.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/transform/repack.hpp"

namespace liteai::app {

namespace fs = std::filesystem;

namespace {
// ---- resident memory of this process (Linux /proc) ----
double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::string(key).size())) * 1024.0 / 1e6;  // kB
  return 0;
}
// Gives freed heap back and restarts the peak (VmHWM) at the current resident size, so the next
// peak is the next measurement's alone.
void reset_peak() {
  malloc_trim(0);
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

std::string mb(double bytes) {
  std::ostringstream s;
  s.precision(bytes >= 1e7 ? 4 : 3);
  s << bytes / 1e6 << " MB";
  return s.str();
}

std::string with_commas(int64_t v) {
  std::string d = std::to_string(v), s;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && d[i - 1] != '-' && (d.size() - i) % 3 == 0) s += ',';
    s += d[i];
  }
  return s;
}

// The check batch: the first `count` images of --check, else SYNTHETIC phantoms at the model's size.
std::vector<data::Image> check_images(const Options& o, const nn::Model& m, std::string& source) {
  const int64_t count = o.get_int("check-count");
  std::vector<data::Image> out;
  if (o.has("check")) {
    source = o.get_text("check");
    std::error_code ec;
    LAI_CHECK(fs::exists(source, ec), o.spec().task(), ": --check ", source,
              " does not exist (a folder of images or a CSV manifest)");
    Options d(data_options());
    d.set("data", source);
    DataRequest r;
    r.task = o.spec().task();
    r.allow_flat = true;
    const DataSource ds = open_data(d, r);
    LAI_CHECK(ds.all && ds.all->size() > 0, o.spec().task(), ": --check ", source, " has no images");
    for (size_t i = 0; i < ds.all->size() && int64_t(out.size()) < count; ++i) out.push_back(ds.all->get(i).image);
    return out;
  }
  source = "SYNTHETIC phantoms";
  data::PhantomOptions po;
  po.size = int(std::max<int64_t>(16, std::max(m.preprocessing.width, m.preprocessing.height)));
  for (int64_t i = 0; i < count; ++i) out.push_back(data::make_phantom(14, uint64_t(i), po).image);
  return out;
}

// Loads `path` for inference as `liteai predict` does and runs the check batch and batch 1 (a
// warm-up run, then `runs` more): the memory figures cover the load and those runs.
RepackFigures measure_memory(const std::string& path, const std::vector<data::Image>& images, int64_t runs,
                             Tensor& logits) {
  RepackFigures f;
  f.file_bytes = int64_t(fs::file_size(path));
  reset_peak();
  const double rss0 = status_mb("VmRSS:");
  const size_t live0 = memory_stats().total_live;
  memory_reset_peaks();
  {
    nn::SavedModel s = nn::load_model_for_inference(path, nn::Precision::f32);
    const nn::Model& m = *s.model;
    f.parameters = m.net->parameter_count();
    for (const auto& [n, t] : m.net->named_buffers()) f.buffers += t.numel();
    autograd::NoGrad ng;
    const Tensor x = model_input(m, {images[0]});
    for (int64_t i = 0; i <= runs; ++i) m.net->forward(x);
    logits = predict(m, images, /*raw=*/true);
    f.peak_rss_mb = status_mb("VmHWM:");
    f.memory_peak_mb = double(memory_stats().total_peak - std::min(live0, memory_stats().total_peak)) / 1e6;
  }
  f.rss_growth_mb = std::max(0.0, f.peak_rss_mb - rss0);
  return f;
}

// Median batch-1 latency of both files, their runs alternating (A B A B ...) so that the load of
// a shared machine drifting during the measurement affects both alike.
void measure_latency(const std::string& a_path, const std::string& b_path, const data::Image& image, int64_t runs,
                     RepackFigures& a, RepackFigures& b) {
  const nn::SavedModel ma = nn::load_model_for_inference(a_path, nn::Precision::f32);
  const nn::SavedModel mb = nn::load_model_for_inference(b_path, nn::Precision::f32);
  autograd::NoGrad ng;
  const Tensor xa = model_input(*ma.model, {image}), xb = model_input(*mb.model, {image});
  ma.model->net->forward(xa);  // warm-up: first touch of the weights, kernel selection
  mb.model->net->forward(xb);
  std::vector<double> ta, tb;
  auto time = [](const nn::Model& m, const Tensor& x) {
    const auto t0 = std::chrono::steady_clock::now();
    m.net->forward(x);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int64_t i = 0; i < runs; ++i) {
    ta.push_back(time(*ma.model, xa));
    tb.push_back(time(*mb.model, xb));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  a.latency_ms = median(ta);
  b.latency_ms = median(tb);
}
}  // namespace

io::Json RepackFigures::to_json() const {
  io::Json j = io::Json::object();
  j.set("parameters", parameters);
  j.set("buffers", buffers);
  j.set("file_bytes", file_bytes);
  j.set("inference_memory_peak_mb", memory_peak_mb);
  j.set("inference_rss_growth_mb", rss_growth_mb);
  j.set("inference_peak_rss_mb", peak_rss_mb);
  j.set("latency_ms_batch1", latency_ms);
  return j;
}

io::Json RepackOutcome::to_json() const {
  io::Json j = io::Json::object();
  j.set("in", in);
  j.set("out", out);
  j.set("changes", io::Json::array_of(changes));
  j.set("before", before.to_json());
  j.set("after", after.to_json());
  io::Json c = io::Json::object();
  c.set("source", check_source);
  c.set("images", check_images);
  c.set("max_abs_diff", max_abs_diff);
  c.set("max_rel_diff", max_rel_diff);
  j.set("check", c);
  j.set("exact", exact);
  j.set("runs", runs);
  return j;
}

std::string RepackOutcome::summary() const {
  std::ostringstream s;
  s << "repacked " << in << " -> " << out << "\n";
  const size_t shown = 12;
  for (size_t i = 0; i < changes.size() && i < shown; ++i) s << "  " << changes[i] << "\n";
  if (changes.size() > shown) s << "  ... and " << changes.size() - shown << " more changes\n";
  if (changes.empty()) s << "  (nothing to change)\n";
  char line[256];
  auto row = [&](const char* what, const std::string& a, const std::string& b) {
    std::snprintf(line, sizeof line, "%-26s %16s %16s\n", what, a.c_str(), b.c_str());
    s << line;
  };
  auto fmt = [](const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  row("", "before", "after");
  row("parameters", with_commas(before.parameters), with_commas(after.parameters));
  row("buffers (statistics)", with_commas(before.buffers), with_commas(after.buffers));
  row("file size", mb(double(before.file_bytes)), mb(double(after.file_bytes)));
  row("inference memory (peak)", fmt("%.1f MB", before.memory_peak_mb), fmt("%.1f MB", after.memory_peak_mb));
  // (The RSS growth is in the JSON only: memory freed by earlier work and kept by the allocators
  // is reused, so it understates; the library's own count does not.)
  row("process peak RSS", fmt("%.1f MB", before.peak_rss_mb), fmt("%.1f MB", after.peak_rss_mb));
  row(str_cat("latency, batch 1 (med. ", runs, ")").c_str(), fmt("%.3g ms", before.latency_ms),
      fmt("%.3g ms", after.latency_ms));
  std::snprintf(line, sizeof line, "check (%lld %s): largest output difference %.3g (relative %.3g)%s\n",
                (long long)check_images, check_source.c_str(), max_abs_diff, max_rel_diff,
                exact ? (max_rel_diff <= 1e-5 ? ", within 1e-5" : ", MORE THAN 1e-5") : ", bf16 weights");
  s << line;
  return s.str();
}

const OptionSet& repack_options() {
  static const OptionSet s = [] {
    OptionSet o("repack", "Re-optimizes a trained model without changing what it computes (SPEC.md 3): 3 -> 1 "
                          "input channel, BatchNorm/Dropout/Identity/constant folding and merged linear layers, bf16 "
                          "weights in the file; prints parameters, file size, inference memory and latency before "
                          "and after, and the largest output difference on a check batch.");
    o.group("repack")
        .path("in", "the model to repack (zoo or graph)", "MODEL.lai")
        .path("out", "where to write the repacked (graph) model", "OUT.lai")
        .flag("gray", "a net trained on RGB copies of gray images gets a 1-channel first conv (its normalization "
                      "folded in; exact)")
        .flag("fold", "fold BatchNorm into the conv/dense before it, drop Dropout/Identity, evaluate constant "
                      "subgraphs, merge linear layers with no nonlinearity between (exact)")
        .flag("bf16", "store the conv/dense weights as bf16 in the file (half the size; inference keeps them "
                      "bf16 with fp32 sums; not exact: outputs differ by the weights' rounding)")
        .path("check", "images to compare the outputs on: a folder or CSV manifest (default: SYNTHETIC phantoms)",
              "DATA")
        .integer("check-count", 4, 1, 256, "images of the check batch")
        .integer("runs", 7, 1, 1000, "timed batch-1 runs per model (the median is reported)")
        .path("json", "also write the report as JSON", "REPORT.json");
    o.include(common_options());
    return o;
  }();
  return s;
}

RepackOutcome repack(const Options& o, const Hooks& hooks) {
  (void)hooks;  // one short step: nothing to report or cancel in between
  apply_common(o);
  const std::string task = o.spec().task();
  o.require("in");
  o.require("out");
  RepackOutcome r;
  r.in = o.get_text("in");
  r.out = o.get_text("out");
  LAI_CHECK(fs::weakly_canonical(r.in) != fs::weakly_canonical(r.out), task,
            ": --out must be another file than --in (", r.out, ")");
  const auto lock = claim_output(o);
  const bool bf16 = o.get_bool("bf16");
  r.exact = !bf16;
  r.runs = o.get_int("runs");
  std::vector<data::Image> images;
  {
    const nn::SavedModel src = nn::load_model(r.in, /*with_optimizer=*/false);
    images = check_images(o, *src.model, r.check_source);
    transform::RepackOptions ro;
    ro.gray = o.get_bool("gray");
    ro.fold = o.get_bool("fold");
    transform::RepackResult t = transform::repack(*src.model, ro);
    r.changes = t.changes;
    io::Json metrics = io::Json::object();
    metrics.set("changes", io::Json::array_of(r.changes));
    metrics.set("bf16_weights", bf16);
    t.model->provenance = make_provenance("repack", o, nullptr, {{"source", r.in}}, metrics);
    if (bf16) transform::save_bf16(*t.model, r.out);
    else save_model(*t.model, r.out);
  }  // both models released before anything is measured
  r.check_images = int64_t(images.size());
  if (progress_mode(o) != 0) log(LogLevel::info, str_cat(task, ": wrote ", r.out, "; measuring both files"));
  Tensor a, b;
  r.before = measure_memory(r.in, images, r.runs, a);
  r.after = measure_memory(r.out, images, r.runs, b);
  measure_latency(r.in, r.out, images[0], r.runs, r.before, r.after);
  const auto x = a.to_vector(), y = b.to_vector();
  LAI_CHECK(x.size() == y.size(), task, ": internal: ", x.size(), " outputs before, ", y.size(), " after");
  double scale = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    r.max_abs_diff = std::max(r.max_abs_diff, std::fabs(double(x[i]) - double(y[i])));
    scale = std::max(scale, std::fabs(double(x[i])));
  }
  r.max_rel_diff = scale > 0 ? r.max_abs_diff / scale : r.max_abs_diff;
  if (o.has("json")) {
    const std::string j = r.to_json().dump();
    io::atomic_write_file(o.get_text("json"), j.data(), j.size());
  }
  return r;
}

}  // namespace liteai::app
