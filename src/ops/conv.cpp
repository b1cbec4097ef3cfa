// Convolution, transposed convolution, pooling and upsampling (NCHW) on the conv kernels.
#include <cstring>

#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using GradList = std::vector<Tensor>;

namespace {
kernels::Conv2dShape conv_shape(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                                const Conv2dOptions& o) {
  LAI_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", to_string(x.shape()));
  LAI_CHECK(w.dim() == 4, op, ": weight must be [K, C, R, S], got ", to_string(w.shape()));
  LAI_CHECK(x.size(1) == w.size(1), op, ": input has ", x.size(1), " channels, weight expects ", w.size(1),
            " (input ", to_string(x.shape()), ", weight ", to_string(w.shape()), ")");
  LAI_CHECK(o.stride >= 1 && o.dilation >= 1 && o.padding >= 0, op, ": stride/dilation must be >= 1, padding >= 0");
  if (b.defined())
    LAI_CHECK(b.dim() == 1 && b.size(0) == w.size(0), op, ": bias ", to_string(b.shape()), " does not match ",
              w.size(0), " output channels");
  kernels::Conv2dShape p{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3)};
  p.stride_h = p.stride_w = o.stride;
  p.dil_h = p.dil_w = o.dilation;
  if (o.same) {
    LAI_CHECK(o.stride == 1 && w.size(2) % 2 == 1 && w.size(3) % 2 == 1, op,
              ": 'same' padding needs stride 1 and odd kernel sizes, got ", to_string(w.shape()));
    p.pad_h = o.dilation * (w.size(2) - 1) / 2;
    p.pad_w = o.dilation * (w.size(3) - 1) / 2;
  } else {
    p.pad_h = p.pad_w = o.padding;
  }
  LAI_CHECK(p.OH() > 0 && p.OW() > 0, op, ": kernel ", to_string(w.shape()), " does not fit input ",
            to_string(x.shape()), " with padding ", p.pad_h);
  return p;
}

// The operands as the kernels of the compute type take them: fp32, or bf16 copies (which are also
// what backward keeps: half the memory of an fp32 input).
struct ConvOperands {
  kernels::Conv2dShape p;
  bool bf16 = false;
  Tensor x, w;  // contiguous, f32 or bf16

  ConvOperands(const kernels::Conv2dShape& shape, const Tensor& x_in, const Tensor& w_in, DType compute)
      : p(shape), bf16(compute == DType::bf16), x(cast(x_in, compute)), w(cast(w_in, compute)) {}

  // y = act(conv(x, w) + bias); pooled: the fused 2x2 average pool.
  void forward(const float* bias, float* y, kernels::Act act, bool pooled = false) const {
    if (bf16 && pooled) return kernels::conv2d_forward_avgpool2_bf16(p, x.data_bf16(), w.data_bf16(), bias, y, act);
    if (bf16) return kernels::conv2d_forward_bf16(p, x.data_bf16(), w.data_bf16(), bias, y, act);
    if (pooled) return kernels::conv2d_forward_avgpool2(p, x.data(), w.data(), bias, y, act);
    kernels::conv2d_forward(p, x.data(), w.data(), bias, y, act);
  }

  // Gradients from the pre-activation gradient dz (fp32): bf16 products take dz rounded to bf16
  // once for both kernels; the bias gradient sums the fp32 dz.
  GradList grads(bool gx, bool gw, bool gb, const Tensor& dz) const {
    Tensor dx, dw, db;
    const Tensor dz16 = bf16 && (gx || gw) ? cast(dz, DType::bf16) : Tensor();
    if (gx) {
      dx = Tensor::empty({p.N, p.C, p.H, p.W});
      if (bf16) kernels::conv2d_backward_data_bf16(p, dz16.data_bf16(), w.data_bf16(), dx.data());
      else kernels::conv2d_backward_data(p, dz.data(), w.data(), dx.data());
    }
    if (gw || gb) {
      dw = Tensor::empty({p.K, p.C, p.R, p.S});
      db = Tensor::empty({p.K});
      if (!bf16) {
        kernels::conv2d_backward_weight(p, x.data(), dz.data(), dw.data(), db.data());
      } else {
        if (gw) kernels::conv2d_backward_weight_bf16(p, x.data_bf16(), dz16.data_bf16(), dw.data());
        kernels::bias_grad(p.N, p.K, p.OH() * p.OW(), dz.data(), db.data());
      }
    }
    return {dx, gw ? dw : Tensor(), gb ? db : Tensor()};
  }
};

// The activation fused into the conv and what its backward uses: swish recomputes its
// pre-activation or keeps it in bf16; relu needs only its own output.
enum class Fused { none, swish_recompute, swish_bf16, relu };

Tensor conv_impl(const char* op, const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dOptions& o,
                 Fused fused) {
  const kernels::Conv2dShape p = conv_shape(op, x_in, w_in, b_in, o);
  const ConvOperands in(p, x_in, w_in, o.compute);
  Tensor b = b_in.defined() ? cast(b_in, DType::f32) : Tensor();
  const float* bias = b.defined() ? b.data() : nullptr;
  Tensor y = Tensor::empty({p.N, p.K, p.OH(), p.OW()});
  const bool gx = x_in.requires_grad(), gw = w_in.requires_grad(), gb = b_in.defined() && b_in.requires_grad();
  const bool recorded = autograd::grad_enabled() && (gx || gw || gb);
  Tensor z16;  // bf16 pre-activation for backward
  if (fused == Fused::swish_bf16 && recorded) {
    in.forward(bias, y.data(), kernels::Act::none);
    z16 = Tensor::empty(y.shape(), DType::bf16);
    kernels::vswish_save_bf16(y.numel(), y.data(), z16.data_bf16());
  } else {
    const kernels::Act act = fused == Fused::relu   ? kernels::Act::relu
                             : fused == Fused::none ? kernels::Act::none
                                                    : kernels::Act::swish;
    in.forward(bias, y.data(), act);
  }
  if (!recorded) return y;
  Tensor y_kept = fused == Fused::relu ? y.detach() : Tensor();
  std::vector<Tensor> inputs{x_in, w_in, b_in.defined() ? b_in : Tensor::zeros({p.K})};
  return autograd::record(op, y, inputs, [in, b, gx, gw, gb, fused, z16, y_kept](const Tensor& g) {
    Tensor dy = g.contiguous();
    if (fused == Fused::relu) {
      Tensor dz = Tensor::empty(dy.shape());
      kernels::vrelu_backward(dz.numel(), y_kept.data(), dy.data(), dz.data());
      dy = dz;
    } else if (z16.defined()) {
      Tensor dz = Tensor::empty(dy.shape());
      kernels::vswish_backward_bf16(dz.numel(), z16.data_bf16(), dy.data(), dz.data());
      dy = dz;
    } else if (fused == Fused::swish_recompute) {
      // Recompute the pre-activation instead of keeping it from the forward pass: one extra
      // forward conv buys a whole activation map of memory per layer.
      Tensor z = Tensor::empty(dy.shape());
      in.forward(b.defined() ? b.data() : nullptr, z.data(), kernels::Act::none);
      kernels::vswish_backward(z.numel(), z.data(), dy.data(), z.data());
      dy = z;
    }
    return in.grads(gx, gw, gb, dy);
  });
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  return conv_impl("conv2d", x, w, b, o, Fused::none);
}

Tensor conv2d_relu(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  return conv_impl("conv2d_relu", x, w, b, o, Fused::relu);
}

Tensor conv2d_swish(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o, bool keep_bf16) {
  return conv_impl("conv2d_swish", x, w, b, o, keep_bf16 ? Fused::swish_bf16 : Fused::swish_recompute);
}

Tensor conv2d_avgpool2(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dOptions& o,
                       ConvAct act) {
  const kernels::Conv2dShape p = conv_shape("conv2d_avgpool2", x_in, w_in, b_in, o);
  LAI_CHECK(p.OH() >= 2 && p.OW() >= 2, "conv2d_avgpool2: conv output ", p.OH(), "x", p.OW(),
            " is smaller than the 2x2 pool window");
  const ConvOperands in(p, x_in, w_in, o.compute);
  Tensor b = b_in.defined() ? cast(b_in, DType::f32) : Tensor();
  Tensor y = Tensor::empty({p.N, p.K, p.OH() / 2, p.OW() / 2});
  const kernels::Act ka = act == ConvAct::swish ? kernels::Act::swish
                          : act == ConvAct::relu ? kernels::Act::relu
                                                 : kernels::Act::none;
  in.forward(b.defined() ? b.data() : nullptr, y.data(), ka, true);
  return y;
}

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, int64_t stride, int64_t padding) {
  LAI_CHECK(x_in.dim() == 4 && w_in.dim() == 4, "conv_transpose2d: expects x[N, Cin, H, W] and w[Cin, Cout, R, S], got ",
            to_string(x_in.shape()), " and ", to_string(w_in.shape()));
  LAI_CHECK(x_in.size(1) == w_in.size(0), "conv_transpose2d: input has ", x_in.size(1), " channels, weight expects ",
            w_in.size(0));
  LAI_CHECK(stride >= 1 && padding >= 0, "conv_transpose2d: stride must be >= 1 and padding >= 0");
  const int64_t N = x_in.size(0), Cin = x_in.size(1), H = x_in.size(2), W = x_in.size(3);
  const int64_t Cout = w_in.size(1), R = w_in.size(2), S = w_in.size(3);
  const int64_t OH = (H - 1) * stride - 2 * padding + R, OW = (W - 1) * stride - 2 * padding + S;
  LAI_CHECK(OH > 0 && OW > 0, "conv_transpose2d: output would be empty");
  // The forward of a transposed conv is the input-gradient of the conv from y[N,Cout,OH,OW] to x.
  kernels::Conv2dShape p{N, Cout, OH, OW, Cin, R, S};
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = padding;
  LAI_CHECK(p.OH() == H && p.OW() == W, "conv_transpose2d: inconsistent geometry");
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor y = Tensor::empty({N, Cout, OH, OW});
  kernels::conv2d_backward_data(p, x.data(), w.data(), y.data());
  if (b_in.defined()) {
    LAI_CHECK(b_in.dim() == 1 && b_in.size(0) == Cout, "conv_transpose2d: bias ", to_string(b_in.shape()),
              " does not match ", Cout, " output channels");
    Tensor b = b_in.contiguous();
    float* py = y.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < Cout; ++c) {
        float* plane = py + (n * Cout + c) * OH * OW;
        for (int64_t i = 0; i < OH * OW; ++i) plane[i] += b.data()[c];
      }
  }
  const bool gx = x_in.requires_grad(), gw = w_in.requires_grad(), gb = b_in.defined() && b_in.requires_grad();
  std::vector<Tensor> inputs{x_in, w_in, b_in.defined() ? b_in : Tensor::zeros({Cout})};
  return autograd::record("conv_transpose2d", y, inputs, [p, x, w, gx, gw, gb](const Tensor& g) {
    Tensor gy = g.contiguous();
    Tensor dx, dw, db;
    if (gx) {
      dx = Tensor::empty(x.shape());
      kernels::conv2d_forward(p, gy.data(), w.data(), nullptr, dx.data(), kernels::Act::none);
    }
    if (gw) {
      dw = Tensor::empty(w.shape());
      kernels::conv2d_backward_weight(p, gy.data(), x.data(), dw.data(), nullptr);
    }
    if (gb) db = autograd::sum_to(gy, {1, p.C, 1, 1}).reshape({p.C});
    return GradList{dx, dw, db};
  });
}

namespace {
kernels::Pool2dShape pool_shape(const char* op, const Tensor& x, int64_t k, int64_t s) {
  LAI_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", to_string(x.shape()));
  LAI_CHECK(k >= 1 && s >= 1, op, ": kernel and stride must be >= 1");
  LAI_CHECK(x.size(2) >= k && x.size(3) >= k, op, ": window ", k, " larger than input ", to_string(x.shape()));
  return {x.size(0), x.size(1), x.size(2), x.size(3), k, k, s, s};
}
}  // namespace

Tensor avg_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride) {
  if (stride == 0) stride = kernel;
  const kernels::Pool2dShape p = pool_shape("avg_pool2d", x_in, kernel, stride);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.C, p.OH(), p.OW()});
  kernels::avg_pool2d_forward(p, x.data(), y.data());
  return autograd::record("avg_pool2d", y, {x_in}, [p](const Tensor& g) {
    Tensor gy = g.contiguous();
    Tensor dx = Tensor::empty({p.N, p.C, p.H, p.W});
    kernels::avg_pool2d_backward(p, gy.data(), dx.data());
    return GradList{dx};
  });
}

Tensor max_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride) {
  if (stride == 0) stride = kernel;
  const kernels::Pool2dShape p = pool_shape("max_pool2d", x_in, kernel, stride);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.C, p.OH(), p.OW()});
  const bool need = autograd::needs_grad({&x_in});
  auto argmax = std::make_shared<std::vector<int32_t>>(need ? size_t(y.numel()) : 0);
  kernels::max_pool2d_forward(p, x.data(), y.data(), need ? argmax->data() : nullptr);
  return autograd::record("max_pool2d", y, {x_in}, [p, argmax](const Tensor& g) {
    Tensor gy = g.contiguous();
    Tensor dx = Tensor::empty({p.N, p.C, p.H, p.W});
    kernels::max_pool2d_backward(p, gy.data(), argmax->data(), dx.data());
    return GradList{dx};
  });
}

Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale) {
  LAI_CHECK(x_in.dim() == 4, "upsample_nearest2d: input must be [N, C, H, W], got ", to_string(x_in.shape()));
  LAI_CHECK(scale >= 1, "upsample_nearest2d: scale must be >= 1");
  Tensor x = x_in.contiguous();
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = H * scale, OW = W * scale;
  Tensor y = Tensor::empty({x.size(0), x.size(1), OH, OW});
  for (int64_t c = 0; c < NC; ++c)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) y.data()[(c * OH + i) * OW + j] = x.data()[(c * H + i / scale) * W + j / scale];
  Shape in_shape = x.shape();
  return autograd::record("upsample_nearest2d", y, {x_in}, [in_shape, scale, NC, H, W, OH, OW](const Tensor& g) {
    Tensor gy = g.contiguous();
    Tensor dx = Tensor::zeros(in_shape);
    for (int64_t c = 0; c < NC; ++c)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) dx.data()[(c * H + i / scale) * W + j / scale] += gy.data()[(c * OH + i) * OW + j];
    return GradList{dx};
  });
}

}  // namespace liteai::ops
