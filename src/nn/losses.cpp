#include "liteai/nn/losses.hpp"

#include "liteai/autograd/autograd.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::nn {

Tensor softened_kl(const Tensor& s, const Tensor& t, float T) {
  LAI_CHECK(s.dim() == 2 && s.shape() == t.shape(), "distillation: student logits ", to_string(s.shape()),
            " and teacher logits ", to_string(t.shape()), " must both be [N, C]");
  LAI_CHECK(T > 0.f, "distillation: temperature must be > 0, got ", T);
  Tensor pt, log_pt;
  {
    autograd::NoGrad ng;  // the teacher is a constant
    Tensor tt = ops::mul_scalar(t.detach(), 1.f / T);
    pt = ops::softmax(tt, -1);
    log_pt = ops::log_softmax(tt, -1);
  }
  Tensor log_ps = ops::log_softmax(ops::mul_scalar(s, 1.f / T), -1);
  // sum_c p_t (log p_t - log p_s), averaged over rows
  Tensor kl = ops::sum(ops::mul(pt, ops::sub(log_pt, log_ps)));
  return ops::mul_scalar(kl, 1.f / static_cast<float>(s.size(0)));
}

Tensor distillation_loss(const Tensor& s, const Tensor& t, const Tensor& targets, float T, float alpha) {
  LAI_CHECK(alpha >= 0.f && alpha <= 1.f, "distillation: alpha must be in [0, 1], got ", alpha);
  Tensor soft = ops::mul_scalar(softened_kl(s, t, T), alpha * T * T);
  if (alpha == 1.f) return soft;
  Tensor hard;
  if (targets.dim() == 1)
    hard = ops::cross_entropy(s, targets);
  else
    hard = ops::soft_cross_entropy(s, targets);
  return ops::add(soft, ops::mul_scalar(hard, 1.f - alpha));
}

Tensor binary_distillation_loss(const Tensor& s, const Tensor& t, const Tensor& targets, float T, float alpha) {
  LAI_CHECK(s.dim() == 2 && s.shape() == t.shape(), "distillation: student logits ", to_string(s.shape()),
            " and teacher logits ", to_string(t.shape()), " must both be [N, C]");
  LAI_CHECK(T > 0.f, "distillation: temperature must be > 0, got ", T);
  LAI_CHECK(alpha >= 0.f && alpha <= 1.f, "distillation: alpha must be in [0, 1], got ", alpha);
  Tensor pt, entropy;
  {
    autograd::NoGrad ng;  // the teacher is a constant
    Tensor tt = ops::mul_scalar(t.detach(), 1.f / T);
    pt = ops::sigmoid(tt);
    entropy = ops::binary_cross_entropy_with_logits(tt, pt);  // mean H(Bern(p_t))
  }
  // KL(Bern(p_t) || Bern(p_s)) = BCE(s/T; p_t) - H(p_t), per finding, averaged.
  Tensor kl = ops::sub(ops::binary_cross_entropy_with_logits(ops::mul_scalar(s, 1.f / T), pt), entropy);
  Tensor soft = ops::mul_scalar(kl, alpha * T * T);
  if (alpha == 1.f) return soft;
  LAI_CHECK(targets.defined() && targets.shape() == s.shape(), "distillation: a sigmoid head needs multi-hot targets ",
            to_string(s.shape()));
  return ops::add(soft, ops::mul_scalar(ops::binary_cross_entropy_with_logits(s, targets), 1.f - alpha));
}

Tensor head_distillation_loss(Head head, const Tensor& s, const Tensor& t, const Tensor& labels, const Tensor& targets,
                              float T, float alpha) {
  switch (head) {
    case Head::softmax: return distillation_loss(s, t, labels.defined() ? labels : targets, T, alpha);
    case Head::sigmoid: return binary_distillation_loss(s, t, targets, T, alpha);
    case Head::none: break;
  }
  throw_error("distillation: a model without classes (head none) has nothing to distil");
}

Tensor head_loss(Head head, const Tensor& out, const Tensor& labels, const Tensor& targets) {
  switch (head) {
    case Head::softmax:
      LAI_CHECK(labels.defined(), "loss: a softmax head needs class labels");
      return ops::cross_entropy(out, labels);
    case Head::sigmoid:
      LAI_CHECK(targets.defined(), "loss: a sigmoid (multi-label) head needs multi-hot targets [N, C]");
      return ops::binary_cross_entropy_with_logits(out, targets);
    case Head::none:
      LAI_CHECK(targets.defined(), "loss: a regression/autoencoder head needs targets");
      return ops::mse(out, targets);
  }
  throw_error("loss: unknown head");
}

}  // namespace liteai::nn
