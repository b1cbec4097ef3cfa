#include "liteai/app/tasks.hpp"

#include <unistd.h>

#include <utility>

#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/data_tasks.hpp"
#include "liteai/app/demo_tasks.hpp"
#include "liteai/app/detection_tasks.hpp"
#include "liteai/app/distill_tasks.hpp"
#include "liteai/app/explain_tasks.hpp"
#include "liteai/app/federated_tasks.hpp"
#include "liteai/app/trust_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/onnx_tasks.hpp"
#include "liteai/app/repack_tasks.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::app {

const OptionSet& threads_option() {
  static const OptionSet s = [] {
    OptionSet o("common", "");
    o.group("general")
        .integer("threads", 0, 0, 1024, "threads of the library's pool (0: LITEAI_NUM_THREADS, else every core)")
        .list("limits", "resource limits for this run, e.g. max_image_pixels=256M,max_file_bytes=2G (max_image_pixels, "
                        "max_file_bytes, max_tensor_bytes, max_total_bytes, max_header_bytes; default: LITEAI_MAX_* "
                        "from the environment, else core/limits.hpp's)");
    return o;
  }();
  return s;
}

const OptionSet& common_options() {
  static const OptionSet s = [] {
    OptionSet o("common", "");
    o.include(threads_option());
    o.group("general")
        .flag("quiet", "no informational messages")
        .flag("progress", "progress lines even when stderr is not a terminal");
    return o;
  }();
  return s;
}

void apply_limits(const std::vector<std::string>& settings, const std::string& what) {
  Limits l = limits();
  for (const std::string& s : settings) {
    const size_t eq = s.find('=');
    LAI_CHECK(eq != std::string::npos && eq > 0, what, ": '", s, "' is not NAME=VALUE (e.g. max_image_pixels=256M)");
    const std::string name = s.substr(0, eq);
    int64_t* field = name == "max_image_pixels"   ? &l.max_image_pixels
                     : name == "max_file_bytes"   ? &l.max_file_bytes
                     : name == "max_tensor_bytes" ? &l.max_tensor_bytes
                     : name == "max_total_bytes"  ? &l.max_total_bytes
                     : name == "max_header_bytes" ? &l.max_header_bytes
                                                  : nullptr;
    LAI_CHECK(field, what, ": unknown limit '", name, "' (max_image_pixels, max_file_bytes, max_tensor_bytes, "
              "max_total_bytes or max_header_bytes)");
    *field = reclassify(ErrorKind::invalid_argument, [&] { return parse_bytes(s.substr(eq + 1)); });
  }
  set_limits(l);
}

void apply_common(const Options& o) {
  if (o.spec().find("threads") && o.has("threads")) set_num_threads(int(o.get_int("threads")));
  if (o.spec().find("limits") && o.has("limits")) apply_limits(o.get_list("limits"), option_label("limits", OptionStyle::cli));
}

std::optional<io::OutputLock> claim_output(const Options& o, const std::string& name) {
  if (!o.spec().find(name) || !o.has(name)) return std::nullopt;
  const std::string path = o.get_text(name);
  io::check_writable(path, option_label(name, OptionStyle::cli));
  return std::optional<io::OutputLock>(std::in_place, path);
}

int progress_mode(const Options& o) {
  if (o.spec().find("quiet") && o.get_bool("quiet")) return 0;
  if (o.spec().find("progress") && o.get_bool("progress")) return 1;
  return -1;
}

namespace {
using Getter = const OptionSet& (*)();
// Every task, by the name the C API and Python use (the CLI's sub-command, with spaces as '-').
const std::vector<std::pair<const char*, Getter>>& table() {
  static const std::vector<std::pair<const char*, Getter>> t = {
      {"train", &train_options},
      {"evaluate", &evaluate_options},
      {"predict", &predict_options},
      {"probmat-build", &probmat_build_options},
      {"probmat-score", &probmat_score_options},
      {"anomaly-train", &autoencoder_train_options},
      {"anomaly-score", &autoencoder_score_options},
      {"eval-detections", &eval_detections_options},
      {"som-train", &som_train_options},
      {"hough", &hough_options},
      {"synth", &synth_options},
      {"distill", &distill_options},
      {"calibrate", &calibrate_options},
      {"merge", &merge_options},
      {"import", &import_options},
      {"export", &export_options},
      {"repack", &repack_options},
      {"explain", &explain_options},
      {"demo", &demo_options},
  };
  return t;
}
}  // namespace

const OptionSet& task_options(const std::string& task) {
  for (const auto& [name, get] : table())
    if (task == name) return get();
  std::string known;
  for (const auto& [name, get] : table()) known += (known.empty() ? "" : ", ") + std::string(name);
  throw_error(str_cat("unknown task '", task, "' (tasks: ", known, ")"));
}

std::vector<std::string> task_names() {
  std::vector<std::string> out;
  for (const auto& [name, get] : table()) out.emplace_back(name);
  return out;
}

}  // namespace liteai::app
