// Batch normalization (training and inference, optionally fused with ReLU) on the BN kernels.
#include <cmath>

#include "kernels/graph_kernels.hpp"
#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

Tensor batch_norm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, const Tensor& running_mean,
                  const Tensor& running_var, bool training, float momentum, float eps, bool relu) {
  LAI_CHECK(x_in.dim() >= 2, "batch_norm: input must be [N, C, ...], got ", to_string(x_in.shape()));
  const int64_t N = x_in.size(0), C = x_in.size(1), HW = C > 0 && N > 0 ? x_in.numel() / (N * C) : 0;
  for (const Tensor* t : {&gamma_in, &beta_in, &running_mean, &running_var})
    LAI_CHECK(t->defined() && t->dim() == 1 && t->size(0) == C, "batch_norm: statistics and parameters must be [", C,
              "] for input ", to_string(x_in.shape()), ", got ", t->defined() ? to_string(t->shape()) : "undefined");
  LAI_CHECK(eps > 0.f && std::isfinite(eps), "batch_norm: epsilon must be positive, got ", eps);
  Tensor x = x_in.contiguous(), gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
  Tensor mean = Tensor::empty({C}), invstd = Tensor::empty({C});
  if (training) {
    LAI_CHECK(N * HW > 1, "batch_norm: training needs more than one value per channel, got ", to_string(x_in.shape()));
    Tensor var = Tensor::empty({C});
    kernels::bn_stats(N, C, HW, x.data(), mean.data(), var.data());
    LAI_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(),
              "batch_norm: running statistics must be contiguous");
    const float unbias = float(N * HW) / float(N * HW - 1);
    Tensor rm_t = running_mean, rv_t = running_var;  // handles: the statistics are updated in place
    float* rm = rm_t.data();
    float* rv = rv_t.data();
    for (int64_t c = 0; c < C; ++c) {
      rm[c] = (1.f - momentum) * rm[c] + momentum * mean.data()[c];
      rv[c] = (1.f - momentum) * rv[c] + momentum * var.data()[c] * unbias;
      invstd.data()[c] = 1.f / std::sqrt(var.data()[c] + eps);
    }
  } else {
    Tensor m = running_mean.contiguous(), v = running_var.contiguous();
    for (int64_t c = 0; c < C; ++c) {
      mean.data()[c] = m.data()[c];
      invstd.data()[c] = 1.f / std::sqrt(v.data()[c] + eps);
    }
  }
  Tensor scale = Tensor::empty({C}), shift = Tensor::empty({C});
  for (int64_t c = 0; c < C; ++c) {
    scale.data()[c] = gamma.data()[c] * invstd.data()[c];
    shift.data()[c] = beta.data()[c] - mean.data()[c] * scale.data()[c];
  }
  Tensor y = Tensor::empty(x.shape());
  kernels::bn_apply(N, C, HW, x.data(), scale.data(), shift.data(), y.data(), relu);
  const bool gx = x_in.requires_grad();
  return autograd::record("batch_norm", y, {x_in, gamma_in, beta_in},
                          [x, gamma, mean, invstd, scale, shift, training, relu, gx, N, C, HW](const Tensor& g) {
                            Tensor dy = g.contiguous();
                            if (relu) {  // the mask from the recomputed pre-activation (same kernel, same bits)
                              Tensor z = Tensor::empty(x.shape());
                              kernels::bn_apply(N, C, HW, x.data(), scale.data(), shift.data(), z.data(), false);
                              kernels::vrelu_backward(z.numel(), z.data(), dy.data(), z.data());
                              dy = z;
                            }
                            Tensor dx = gx ? Tensor::empty(x.shape()) : Tensor();
                            Tensor dgamma = Tensor::empty({C}), dbeta = Tensor::empty({C});
                            kernels::bn_backward(N, C, HW, x.data(), dy.data(), mean.data(), invstd.data(),
                                                 gamma.data(), training && gx ? dx.data() : nullptr, dgamma.data(),
                                                 dbeta.data());
                            if (!training && gx) {  // constant statistics: dx = dy * scale
                              Tensor zero = Tensor::zeros({C});
                              kernels::bn_apply(N, C, HW, dy.data(), scale.data(), zero.data(), dx.data(), false);
                            }
                            return std::vector<Tensor>{dx, dgamma, dbeta};
                          });
}

}  // namespace liteai::ops
