// Losses, fused where the fused form is both faster and more stable.
#include <cmath>

#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using GradList = std::vector<Tensor>;

namespace {
void check_logits(const char* op, const Tensor& logits) {
  LAI_CHECK(logits.dim() == 2, op, ": logits must be [N, C], got ", to_string(logits.shape()));
  LAI_CHECK(logits.size(0) > 0 && logits.size(1) > 0, op, ": empty logits ", to_string(logits.shape()));
}

// Softmax-based loss given per-row soft targets q (one-hot for hard labels): -mean_i sum_c q log p.
Tensor softmax_xent(const char* op, const Tensor& logits, const Tensor& q, const Tensor& record_target) {
  const int64_t N = logits.size(0), C = logits.size(1);
  Tensor x = logits.contiguous();
  Tensor logp = Tensor::empty({N, C});
  kernels::log_softmax_rows(N, C, x.data(), logp.data());
  double loss = 0;
  const float* pq = q.data();
  const float* pl = logp.data();
  for (int64_t i = 0; i < N * C; ++i)
    if (pq[i] != 0.f) loss -= double(pq[i]) * pl[i];
  Tensor out = Tensor::scalar(static_cast<float>(loss / N));
  return autograd::record(op, out, {logits, record_target}, [logp, q, N, C](const Tensor& g) {
    const float scale = g.item() / static_cast<float>(N);
    Tensor dx = Tensor::empty({N, C});
    const float* pl = logp.data();
    const float* pq = q.data();
    float* d = dx.data();
    for (int64_t i = 0; i < N * C; ++i) d[i] = (std::exp(pl[i]) - pq[i]) * scale;
    return GradList{dx, Tensor()};
  });
}
}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  check_logits("cross_entropy", logits);
  const int64_t N = logits.size(0), C = logits.size(1);
  LAI_CHECK(target.dim() == 1 && target.size(0) == N, "cross_entropy: targets must be [", N, "] class indices, got ",
            to_string(target.shape()));
  Tensor q = Tensor::zeros({N, C});
  std::vector<float> t = target.to_vector();
  for (int64_t i = 0; i < N; ++i) {
    const float v = t[i];
    LAI_CHECK(v >= 0 && v < C && v == std::floor(v), "cross_entropy: target ", v, " at row ", i,
              " is not a class index in [0, ", C, ")");
    q.data()[i * C + static_cast<int64_t>(v)] = 1.f;
  }
  return softmax_xent("cross_entropy", logits, q, target);
}

Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs) {
  check_logits("soft_cross_entropy", logits);
  LAI_CHECK(target_probs.shape() == logits.shape(), "soft_cross_entropy: targets ", to_string(target_probs.shape()),
            " do not match logits ", to_string(logits.shape()));
  return softmax_xent("soft_cross_entropy", logits, target_probs.contiguous(), target_probs);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets) {
  LAI_CHECK(logits.shape() == targets.shape(), "binary_cross_entropy_with_logits: targets ",
            to_string(targets.shape()), " do not match logits ", to_string(logits.shape()));
  LAI_CHECK(logits.numel() > 0, "binary_cross_entropy_with_logits: empty input");
  Tensor x = logits.contiguous(), t = targets.contiguous();
  const int64_t n = x.numel();
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = x.data()[i];
    loss += std::max(v, 0.0) - v * t.data()[i] + std::log1p(std::exp(-std::fabs(v)));
  }
  Tensor out = Tensor::scalar(static_cast<float>(loss / n));
  return autograd::record("binary_cross_entropy_with_logits", out, {logits, targets}, [x, t, n](const Tensor& g) {
    const float scale = g.item() / static_cast<float>(n);
    Tensor dx = Tensor::empty(x.shape());
    for (int64_t i = 0; i < n; ++i) dx.data()[i] = (1.f / (1.f + std::exp(-x.data()[i])) - t.data()[i]) * scale;
    return GradList{dx, Tensor()};
  });
}

Tensor mse(const Tensor& pred, const Tensor& target) {
  LAI_CHECK(pred.shape() == target.shape(), "mse: target ", to_string(target.shape()), " does not match prediction ",
            to_string(pred.shape()));
  Tensor d = sub(pred, target);
  return mean(mul(d, d));
}

}  // namespace liteai::ops
