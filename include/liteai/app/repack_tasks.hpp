#pragma once
// Repacking as a task (transform/repack.hpp for the passes): `liteai repack`, lai_model_repack,
// Python's liteai.repack. Reads --in, applies --gray / --fold, writes --out (kernels in bf16 with
// --bf16) with provenance (task "repack", the options, the source file's SHA-256), then measures
// both files the same way: parameters, file size, peak RSS growth and median latency of batch-1
// inference (the file loaded for inference as `liteai predict` loads it), and the largest output
// difference on a check batch (--check: a folder or manifest; default a few SYNTHETIC phantoms).
#include <memory>
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

// One file's figures, measured in this process.
struct RepackFigures {
  int64_t parameters = 0;  // trained tensors' elements
  int64_t buffers = 0;     // other tensors' elements (BN statistics, constants)
  int64_t file_bytes = 0;
  // The library's own peak (tensors, weights and activations, and kernel scratch: core/storage.hpp
  // memory_stats) while loading and running it: what the model needs, independent of the allocator.
  double memory_peak_mb = 0;
  // Peak resident memory above what the process held before loading (includes what the allocator
  // keeps from earlier work, so the second file measured tends to show less).
  double rss_growth_mb = 0;
  double peak_rss_mb = 0;    // the process's peak while loading and running it
  double latency_ms = 0;     // median of the runs at batch 1 (the two files' runs alternate)
  io::Json to_json() const;
};

struct RepackOutcome {
  std::vector<std::string> changes;  // what the passes did, naming the nodes
  RepackFigures before, after;
  std::string check_source;  // "SYNTHETIC phantoms" or the --check path
  int64_t check_images = 0;
  int64_t runs = 0;
  double max_abs_diff = 0, max_rel_diff = 0;  // largest output (logit) difference; relative to the largest |logit|
  bool exact = true;                          // only exact passes ran (no --bf16)
  std::string in, out;
  io::Json to_json() const;
  std::string summary() const;  // the before/after table the CLI prints
};

const OptionSet& repack_options();  // task "repack"
// The result is the --out file (load it; the transformed model is not kept in memory while both
// files are measured).
RepackOutcome repack(const Options& o, const Hooks& hooks = {});

}  // namespace liteai::app
