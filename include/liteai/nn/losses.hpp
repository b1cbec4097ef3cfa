#pragma once
// Losses built from ops (so autograd differentiates them). The basic ones live in ops/ops.hpp
// (cross_entropy, soft_cross_entropy, binary_cross_entropy_with_logits, mse).
#include <string>

#include "liteai/core/tensor.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::nn {

// Knowledge distillation (Hinton et al. 2015, SPEC.md section 4), mean over the batch:
//   alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, softmax(s))
// student_logits [N, C] (recorded), teacher_logits [N, C] (treated as constants), targets
// either class indices [N] (f32) or probabilities / one-hot rows [N, C]. T > 0, alpha in [0, 1].
// The T^2 factor keeps the soft term's gradient scale independent of T.
Tensor distillation_loss(const Tensor& student_logits, const Tensor& teacher_logits, const Tensor& targets,
                         float temperature, float alpha);

// The multi-label (sigmoid) form: each finding is its own two-class problem,
//   alpha * T^2 * mean KL(Bern(sigmoid(t/T)) || Bern(sigmoid(s/T))) + (1 - alpha) * BCE(y, s)
// with the KL and the BCE both averaged over samples and findings. targets [N, C] in {0, 1}.
Tensor binary_distillation_loss(const Tensor& student_logits, const Tensor& teacher_logits, const Tensor& targets,
                                float temperature, float alpha);
// The loss of a head: softmax -> distillation_loss, sigmoid -> binary_distillation_loss.
Tensor head_distillation_loss(Head head, const Tensor& student_logits, const Tensor& teacher_logits,
                              const Tensor& labels, const Tensor& targets, float temperature, float alpha);

// KL(softmax(t/T) || softmax(s/T)) alone, mean over the batch (no T^2 factor).
Tensor softened_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature);

// The training loss for a model head: softmax -> cross_entropy with class indices `labels` [N];
// sigmoid -> binary_cross_entropy_with_logits against multi-hot `targets` [N, C];
// none -> mse(output, targets).
Tensor head_loss(Head head, const Tensor& output, const Tensor& labels, const Tensor& targets);

}  // namespace liteai::nn
