#pragma once
// Temperature scaling (Guo et al. 2017): one temperature T for a softmax head, one per finding
// for a sigmoid head, chosen to minimize the negative log-likelihood of held-out labels. It
// divides the logits, so the ranking (accuracy, AUROC) stays exactly as it was while the
// probabilities come to mean what they say (nn::Model::temperature applies it).
#include <vector>

#include "liteai/core/tensor.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::nn {

// logits [N, C]; softmax: labels [N] (class indices as f32); sigmoid: targets [N, C] in {0, 1}.
// T is searched on a log scale in [0.05, 20] (the NLL is unimodal in T).
std::vector<float> fit_temperature(Head head, const Tensor& logits, const Tensor& labels, const Tensor& targets);
// Mean negative log-likelihood of the labels under logits / T (T: one, or one per class).
double temperature_nll(Head head, const Tensor& logits, const Tensor& labels, const Tensor& targets,
                       const std::vector<float>& temperature);

}  // namespace liteai::nn
