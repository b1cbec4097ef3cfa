// Batch normalization (training and inference, optionally fused with ReLU), and batch norm ->
// ReLU -> convolution over channel-concatenated parts, on the BN and conv kernels.
#include <algorithm>
#include <cmath>

#include "kernels/graph_kernels.hpp"
#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

namespace {
// Per-channel normalization of one batch: the statistics used, and y = x * scale + shift.
struct Norm {
  Tensor mean, invstd, scale, shift;
};

// The statistics of the channels [c0, c0 + Cp) of the batch-norm input, one part at a time:
// batch statistics (and the running ones updated) in training, the running ones otherwise.
Norm normalization(const std::vector<Tensor>& parts, int64_t C, const Tensor& gamma_in, const Tensor& beta_in,
                   const Tensor& running_mean, const Tensor& running_var, bool training, float momentum, float eps,
                   const char* op) {
  for (const Tensor* t : {&gamma_in, &beta_in, &running_mean, &running_var})
    LAI_CHECK(t->defined() && t->dim() == 1 && t->size(0) == C, op, ": statistics and parameters must be [", C,
              "], got ", t->defined() ? to_string(t->shape()) : "undefined");
  LAI_CHECK(eps > 0.f && std::isfinite(eps), op, ": epsilon must be positive, got ", eps);
  Norm r{Tensor::empty({C}), Tensor::empty({C}), Tensor::empty({C}), Tensor::empty({C})};
  Tensor gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
  if (training) {
    Tensor var = Tensor::empty({C});
    int64_t c0 = 0, count = 0;
    for (const Tensor& x : parts) {
      const int64_t N = x.size(0), Cp = x.size(1), HW = x.numel() / std::max<int64_t>(1, N * Cp);
      count = N * HW;
      LAI_CHECK(count > 1, op, ": training needs more than one value per channel, got ", to_string(x.shape()));
      kernels::bn_stats(N, Cp, HW, x.data(), r.mean.data() + c0, var.data() + c0);
      c0 += Cp;
    }
    LAI_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(), op,
              ": running statistics must be contiguous");
    const float unbias = float(count) / float(count - 1);
    Tensor rm_t = running_mean, rv_t = running_var;  // handles: the statistics are updated in place
    float* rm = rm_t.data();
    float* rv = rv_t.data();
    for (int64_t c = 0; c < C; ++c) {
      rm[c] = (1.f - momentum) * rm[c] + momentum * r.mean.data()[c];
      rv[c] = (1.f - momentum) * rv[c] + momentum * var.data()[c] * unbias;
      r.invstd.data()[c] = 1.f / std::sqrt(var.data()[c] + eps);
    }
  } else {
    Tensor m = running_mean.contiguous(), v = running_var.contiguous();
    for (int64_t c = 0; c < C; ++c) {
      r.mean.data()[c] = m.data()[c];
      r.invstd.data()[c] = 1.f / std::sqrt(v.data()[c] + eps);
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    r.scale.data()[c] = gamma.data()[c] * r.invstd.data()[c];
    r.shift.data()[c] = beta.data()[c] - r.mean.data()[c] * r.scale.data()[c];
  }
  return r;
}

// Gradients of the batch norm of one part [N, Cp, HW] (channels from c0) from the gradient dz at
// its output (ReLU's mask applied): dx (when wanted), and dgamma, dbeta into their slices.
Tensor norm_backward(const Tensor& x, const Tensor& dz, const Norm& n, const Tensor& gamma, int64_t c0, bool training,
                     bool want_dx, float* dgamma, float* dbeta) {
  const int64_t N = x.size(0), Cp = x.size(1), HW = x.numel() / std::max<int64_t>(1, N * Cp);
  Tensor dx = want_dx ? Tensor::empty(x.shape()) : Tensor();
  kernels::bn_backward(N, Cp, HW, x.data(), dz.data(), n.mean.data() + c0, n.invstd.data() + c0, gamma.data() + c0,
                       training && want_dx ? dx.data() : nullptr, dgamma + c0, dbeta + c0);
  if (!training && want_dx) {  // constant statistics: dx = dz * scale
    Tensor zero = Tensor::zeros({Cp});
    kernels::bn_apply(N, Cp, HW, dz.data(), n.scale.data() + c0, zero.data(), dx.data(), false);
  }
  return dx;
}
}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& gamma_in, const Tensor& beta_in, const Tensor& running_mean,
                  const Tensor& running_var, bool training, float momentum, float eps, bool relu) {
  LAI_CHECK(x_in.dim() >= 2, "batch_norm: input must be [N, C, ...], got ", to_string(x_in.shape()));
  const int64_t N = x_in.size(0), C = x_in.size(1), HW = C > 0 && N > 0 ? x_in.numel() / (N * C) : 0;
  Tensor x = x_in.contiguous(), gamma = gamma_in.contiguous();
  const Norm n = normalization({x}, C, gamma_in, beta_in, running_mean, running_var, training, momentum, eps,
                               "batch_norm");
  Tensor y = Tensor::empty(x.shape());
  kernels::bn_apply(N, C, HW, x.data(), n.scale.data(), n.shift.data(), y.data(), relu);
  const bool gx = x_in.requires_grad();
  return autograd::record("batch_norm", y, {x_in, gamma_in, beta_in}, [x, gamma, n, training, relu, gx](const Tensor& g) {
    Tensor dy = g.contiguous();
    if (relu) {  // the mask from the recomputed pre-activation (same kernel, same bits)
      Tensor z = Tensor::empty(x.shape());
      const int64_t N = x.size(0), C = x.size(1);
      kernels::bn_apply(N, C, x.numel() / std::max<int64_t>(1, N * C), x.data(), n.scale.data(), n.shift.data(),
                        z.data(), false);
      kernels::vrelu_backward(z.numel(), z.data(), dy.data(), z.data());
      dy = z;
    }
    const int64_t C = x.size(1);
    Tensor dgamma = Tensor::empty({C}), dbeta = Tensor::empty({C});
    Tensor dx = norm_backward(x, dy, n, gamma, 0, training, gx, dgamma.data(), dbeta.data());
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
}

Tensor bn_relu_conv2d(const std::vector<Tensor>& parts_in, const BatchNormParams& bn, const Tensor& w_in,
                      const Tensor& b_in, const ConvGeometry& g) {
  const char* op = "bn_relu_conv2d";
  LAI_CHECK(!parts_in.empty(), op, ": no input");
  std::vector<Tensor> parts;
  std::vector<int64_t> offsets;  // first channel of each part
  int64_t C = 0;
  const Tensor& first = parts_in[0];
  LAI_CHECK(first.dim() == 4, op, ": inputs must be [N, C, H, W], got ", to_string(first.shape()));
  for (const Tensor& p : parts_in) {
    LAI_CHECK(p.dim() == 4 && p.size(0) == first.size(0) && p.size(2) == first.size(2) && p.size(3) == first.size(3),
              op, ": inputs ", to_string(first.shape()), " and ", to_string(p.shape()), " differ outside the channels");
    parts.push_back(p.contiguous());
    offsets.push_back(C);
    C += p.size(1);
  }
  LAI_CHECK(w_in.dim() == 4 && w_in.size(1) == C, op, ": the inputs have ", C, " channels, weight ",
            to_string(w_in.shape()), " expects ", w_in.dim() == 4 ? w_in.size(1) : 0);
  LAI_CHECK(g.groups == 1 && g.pad_top == g.pad_bottom && g.pad_left == g.pad_right, op,
            ": needs groups 1 and symmetric pads");
  if (b_in.defined())
    LAI_CHECK(b_in.dim() == 1 && b_in.size(0) == w_in.size(0), op, ": bias ", to_string(b_in.shape()),
              " does not match ", w_in.size(0), " output channels");
  const int64_t N = first.size(0), H = first.size(2), W = first.size(3), HW = H * W;
  kernels::Conv2dShape p{N, C, H, W, w_in.size(0), w_in.size(2), w_in.size(3)};
  p.stride_h = g.stride_h, p.stride_w = g.stride_w, p.dil_h = g.dilation_h, p.dil_w = g.dilation_w;
  p.pad_h = g.pad_top, p.pad_w = g.pad_left;
  LAI_CHECK(H + 2 * p.pad_h >= p.dil_h * (p.R - 1) + 1 && W + 2 * p.pad_w >= p.dil_w * (p.S - 1) + 1, op,
            ": kernel ", to_string(w_in.shape()), " does not fit input ", H, "x", W);
  const Norm n = normalization(parts, C, bn.gamma, bn.beta, bn.running_mean, bn.running_var, bn.training, bn.momentum,
                               bn.eps, op);
  // bf16 weights (a file with bf16 kernels loaded for inference) are widened: the fp32 kernels below.
  Tensor w = w_in.dtype() == DType::f32 ? w_in.contiguous() : w_in.to(DType::f32);
  Tensor b = b_in.defined() ? b_in.contiguous() : Tensor(), gamma = bn.gamma.contiguous();
  // relu(x * scale + shift) of every part, written into its channels of z [N, C, H, W].
  auto activation = [parts, offsets, n, N, C, HW](Tensor& z) {
    z = Tensor::empty({N, C, HW});
    for (size_t k = 0; k < parts.size(); ++k) {
      const int64_t Cp = parts[k].size(1), c0 = offsets[k];
      for (int64_t i = 0; i < N; ++i)
        kernels::bn_apply(1, Cp, HW, parts[k].data() + i * Cp * HW, n.scale.data() + c0, n.shift.data() + c0,
                          z.data() + (i * C + c0) * HW, true);
    }
  };
  Tensor y = Tensor::empty({N, p.K, p.OH(), p.OW()});
  {
    Tensor z;
    activation(z);
    kernels::conv2d_forward(p, z.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), kernels::Act::none);
  }
  std::vector<Tensor> inputs = parts_in;
  inputs.insert(inputs.end(), {bn.gamma, bn.beta, w_in, b_in.defined() ? b_in : Tensor::zeros({p.K})});
  std::vector<bool> gx;
  for (const Tensor& t : parts_in) gx.push_back(t.requires_grad());
  const bool gg = bn.gamma.requires_grad() || bn.beta.requires_grad(), gw = w_in.requires_grad();
  const bool gb = b_in.defined() && b_in.requires_grad(), training = bn.training;
  return autograd::record(op, y, inputs, [=](const Tensor& grad) {
    Tensor dy = grad.contiguous();
    std::vector<Tensor> out(parts.size() + 4);
    if (gw || gb) {  // the activation again, for the weight gradient
      Tensor z, dw = Tensor::empty(w.shape()), db = Tensor::empty({p.K});
      activation(z);
      kernels::conv2d_backward_weight(p, z.data(), dy.data(), dw.data(), db.data());
      if (gw) out[parts.size() + 2] = dw;
      if (gb) out[parts.size() + 3] = db;
    }
    const bool any_x = std::find(gx.begin(), gx.end(), true) != gx.end();
    if (!any_x && !gg) return out;
    Tensor dz = Tensor::empty({N, C, H, W});
    kernels::conv2d_backward_data(p, dy.data(), w.data(), dz.data());
    Tensor dgamma = Tensor::empty({C}), dbeta = Tensor::empty({C});
    for (size_t k = 0; k < parts.size(); ++k) {
      if (!gx[k] && !gg) continue;
      const Tensor& x = parts[k];
      const int64_t Cp = x.size(1), c0 = offsets[k];
      // This part's slice of dz, masked where the recomputed pre-activation is not positive.
      Tensor z = Tensor::empty(x.shape()), d = Tensor::empty(x.shape());
      kernels::bn_apply(N, Cp, HW, x.data(), n.scale.data() + c0, n.shift.data() + c0, z.data(), false);
      for (int64_t i = 0; i < N; ++i)
        std::copy(dz.data() + (i * C + c0) * HW, dz.data() + (i * C + c0 + Cp) * HW, d.data() + i * Cp * HW);
      kernels::vrelu_backward(d.numel(), z.data(), d.data(), d.data());
      out[k] = norm_backward(x, d, n, gamma, c0, training, gx[k], dgamma.data(), dbeta.data());
    }
    if (gg) out[parts.size()] = dgamma, out[parts.size() + 1] = dbeta;
    return out;
  });
}

}  // namespace liteai::ops
