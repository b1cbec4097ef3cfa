#pragma once
// Clinical trust (SPEC.md 8b): calibrated probabilities (temperature scaling fitted on validation
// data), provenance in every model file the tasks write, and the model card people read.
#include <string>
#include <vector>

#include "liteai/app/data.hpp"
#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

// ---- calibration ----
struct CalibrationOutcome {
  std::vector<float> temperature;  // the fitted T (one, or one per finding)
  int64_t samples = 0;
  double nll_before = 0, nll_after = 0;
  nn::Calibration before, after;  // ECE, Brier, reliability bins
  io::Json to_json() const;
};
const OptionSet& calibrate_options();  // task "calibrate"
// Fits temperature scaling on the options' (validation) data and sets model.temperature (the
// ranking, so accuracy and AUROC, is unchanged); records it in the model's provenance.
CalibrationOutcome calibrate(nn::Model& model, const Options& o, const Hooks& hooks = {});

// ---- provenance ----
struct Parent {
  std::string role;  // "resume", "teacher", "site", "init", "source"
  std::string path;
};
// The provenance object of a model a task made: liteai version and source revision, the task and
// the options given, the data (spec, format, SHA-256 of the manifest or of the listing of the image
// files and their sizes, samples per class), the parents with their files' SHA-256, the date (UTC),
// the seed and thread count, and the final metrics (no timings: the same run gives the same object
// but for "created").
io::Json make_provenance(const std::string& task, const Options& o, const DataSource* data,
                         const std::vector<Parent>& parents, const io::Json& metrics);
// The data's fingerprint: {"spec", "format", "sha256", "samples", "per_class": {name: n}}.
io::Json data_fingerprint(const DataSource& d);

// ---- model card ----
// The model file's header as a Markdown model card (what it is, its inputs and classes, how and on
// what it was trained, its metrics and calibration, its lineage, the versions; unknowns say so).
std::string model_card(const io::Json& header, const std::string& file_name);

}  // namespace liteai::app
