#pragma once
// Federated averaging between sites (SPEC.md section 8): each site trains on its own data, the
// models are merged, no image leaves a site. FedAvg (McMahan et al. 2017): the weighted mean of the
// sites' weights, in proportion to their sample counts (read from each file's provenance when not
// given). Architectures, class names and preprocessing must be identical (the first difference is
// named). BatchNorm statistics and affine parameters are averaged, or kept local (FedBN, Li et al.
// 2021: the merged file carries the first model's, so each site merges with its own model first).
// Optional differential privacy (DP-FedAvg, McMahan et al. 2018): each site's update against the
// previous round's model is clipped to an L2 norm, and Gaussian noise of std
// noise_multiplier x clip x max_i(w_i) / sum_i(w_i) is added to the merged update; the settings are
// recorded in the provenance. Streaming: one model in memory plus the site file being read.
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

struct MergeOutcome {
  std::shared_ptr<nn::Model> model;
  std::vector<double> weights;  // per site, as used (normalized to sum 1)
  int64_t tensors = 0, averaged = 0, kept_local = 0;
  io::Json to_json() const;
};

const OptionSet& merge_options();  // task "merge"
// Merges the model files at `paths` (at least two).
MergeOutcome merge_models(const std::vector<std::string>& paths, const Options& o, const Hooks& hooks = {});

}  // namespace liteai::app
