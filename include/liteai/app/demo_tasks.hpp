#pragma once
// The main job end to end on SYNTHETIC chest-radiograph phantoms rendered on the fly (no patient
// data, nothing to download): `liteai demo`. A table of stages, each a function that runs, is
// timed (wall time, peak resident memory), writes its files (CSV, PNG, JSON) and adds a section
// to the report DIR/index.html (app/report.hpp); every figure is also in DIR/metrics.json.
// Stages whose feature is not in this build (e.g. Grad-CAM explanations, repack) are listed as
// "not in this build": a stage says whether it is available (a compile-time switch or a task of
// the registry, app::task_names()), so wiring a feature in is its function and one table row.
//
//   Options o(task_options("demo"));
//   o.set("out", "demo-out"); o.set_bool("quick", true);
//   DemoOutcome d = run_demo(o);   // d.metrics: what metrics.json holds
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/io/json.hpp"

namespace liteai::app {

struct DemoStageResult {
  std::string id, title;
  std::string status;  // "ran", "not in this build"
  double seconds = 0;      // wall time
  double cpu_seconds = 0;  // user + system, all threads (what a shared machine does not inflate)
  int64_t peak_rss_bytes = 0;  // peak resident set of the process during the stage
};

struct DemoOutcome {
  std::vector<DemoStageResult> stages;
  io::Json metrics;  // the whole of metrics.json
  std::string report;  // path of index.html
  double seconds = 0, cpu_seconds = 0;
};

const OptionSet& demo_options();  // task "demo"
DemoOutcome run_demo(const Options& o, const Hooks& hooks = {});

}  // namespace liteai::app
