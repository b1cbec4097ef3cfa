#pragma once
// PyTorch as the reference of the training and inference benchmarks: the same models and recipe
// (compact_cxr, small_cnn; Adam, cross entropy, Keras L2) in a separate /usr/bin/python3 process
// per configuration, so each has its own peak RSS. The reference must be PyTorch at its best on
// this CPU, not its default: every figure is compared with the best configuration measured
// (channels_last, and bf16 autocast for bf16 figures), and the default layout (NCHW) is kept as a
// second line.
#include <map>
#include <string>
#include <vector>

#include "bench.hpp"

namespace liteai::bench {

struct TorchConfig {
  std::string name;        // "nchw", "channels_last", "channels_last_bf16"
  bool channels_last = false;
  bool bf16 = false;       // torch.autocast("cpu", dtype=torch.bfloat16) around forward passes
};
// The three configurations above; bf16 = false leaves out the autocast one.
std::vector<TorchConfig> torch_configs(bool bf16);
// Names to pick the best from: fp32 figures are compared with fp32 PyTorch, bf16 ones with either.
inline const std::vector<std::string> kTorchFp32{"nchw", "channels_last"};
inline const std::vector<std::string> kTorchAny{"nchw", "channels_last", "channels_last_bf16"};

// Runs the script with `args` (--model compact|small --size S --batch B --steps N --threads T
// --infer 0|1) in configuration c. Keys: train_ips, train_ips_cpu, peak_rss_mb, infer_ms. Empty
// on failure.
std::map<std::string, double> run_torch(const std::string& args, const TorchConfig& c);

// Each configuration's figures, and the best of them for one key.
struct TorchRuns {
  std::map<std::string, std::map<std::string, double>> by_config;  // config name -> key -> value
  bool has(const std::string& config, const std::string& key) const;
  double get(const std::string& config, const std::string& key) const;
  // The best value of `key` over `configs` (higher is better unless lower_is_better) and the
  // configuration that gave it; false when none measured it.
  bool best(const std::string& key, bool lower_is_better, const std::vector<std::string>& configs, double* value,
            std::string* config) const;
};
TorchRuns run_torch_configs(const std::string& args, const std::vector<TorchConfig>& configs);

// Adds `name` (this library's value) against the best of `configs` for `key` (reference
// "torch_<config>", the ratio oriented so that higher is better), then `name`_torch (that best
// value) and `name`_torch_nchw (PyTorch's default layout, when measured). Without any torch
// figure: `name` alone.
void add_vs_torch(Report& report, const std::string& name, double value, const std::string& unit, const TorchRuns& runs,
                  const std::string& key, bool lower_is_better, const std::vector<std::string>& configs);

}  // namespace liteai::bench
