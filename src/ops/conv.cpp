// Convolution, transposed convolution, pooling and upsampling (NCHW) on the conv kernels.
#include <cstring>

#include "kernels/graph_kernels.hpp"
#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using GradList = std::vector<Tensor>;

namespace {
// The options of the zoo's layers in the general form.
ConvGeometry geometry_of(const char* op, const Tensor& w, const Conv2dOptions& o) {
  LAI_CHECK(w.dim() == 4, op, ": weight must be [K, C, R, S], got ", to_string(w.shape()));
  ConvGeometry g;
  g.stride_h = g.stride_w = o.stride;
  g.dilation_h = g.dilation_w = o.dilation;
  g.compute = o.compute;
  if (o.same) {
    LAI_CHECK(o.stride == 1 && w.size(2) % 2 == 1 && w.size(3) % 2 == 1, op,
              ": 'same' padding needs stride 1 and odd kernel sizes, got ", to_string(w.shape()));
    g.pad_top = g.pad_bottom = o.dilation * (w.size(2) - 1) / 2;
    g.pad_left = g.pad_right = o.dilation * (w.size(3) - 1) / 2;
  } else {
    g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = o.padding;
  }
  return g;
}

bool symmetric(const ConvGeometry& g) { return g.pad_top == g.pad_bottom && g.pad_left == g.pad_right; }

// Checks a convolution's operands against its geometry (any groups, any pads).
void check_conv(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeometry& g) {
  LAI_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", to_string(x.shape()));
  LAI_CHECK(w.dim() == 4, op, ": weight must be [K, C, R, S], got ", to_string(w.shape()));
  LAI_CHECK(g.stride_h >= 1 && g.stride_w >= 1 && g.dilation_h >= 1 && g.dilation_w >= 1, op,
            ": stride/dilation must be >= 1");
  LAI_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, op, ": padding must be >= 0");
  LAI_CHECK(g.groups >= 1 && x.size(1) % g.groups == 0 && w.size(0) % g.groups == 0, op, ": groups ", g.groups,
            " must divide the input channels ", x.size(1), " and the output channels ", w.size(0));
  LAI_CHECK(x.size(1) / g.groups == w.size(1), op, ": input has ", x.size(1), " channels, weight expects ",
            w.size(1) * g.groups, " (input ", to_string(x.shape()), ", weight ", to_string(w.shape()),
            g.groups > 1 ? str_cat(", groups ", g.groups) : std::string(), ")");
  if (b.defined())
    LAI_CHECK(b.dim() == 1 && b.size(0) == w.size(0), op, ": bias ", to_string(b.shape()), " does not match ",
              w.size(0), " output channels");
  const int64_t oh = (x.size(2) + g.pad_top + g.pad_bottom - g.dilation_h * (w.size(2) - 1) - 1) / g.stride_h + 1;
  const int64_t ow = (x.size(3) + g.pad_left + g.pad_right - g.dilation_w * (w.size(3) - 1) - 1) / g.stride_w + 1;
  LAI_CHECK(x.size(2) + g.pad_top + g.pad_bottom >= g.dilation_h * (w.size(2) - 1) + 1 &&
                x.size(3) + g.pad_left + g.pad_right >= g.dilation_w * (w.size(3) - 1) + 1 && oh > 0 && ow > 0,
            op, ": kernel ", to_string(w.shape()), " does not fit input ", to_string(x.shape()), " with padding ",
            g.pad_top, ",", g.pad_left, ",", g.pad_bottom, ",", g.pad_right);
}

// The kernels' shape of a dense (groups 1), symmetrically padded convolution.
kernels::Conv2dShape conv_shape(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                                const ConvGeometry& g) {
  check_conv(op, x, w, b, g);
  LAI_CHECK(g.groups == 1 && symmetric(g), op, ": internal: needs groups 1 and symmetric pads");
  kernels::Conv2dShape p{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3)};
  p.stride_h = g.stride_h, p.stride_w = g.stride_w;
  p.dil_h = g.dilation_h, p.dil_w = g.dilation_w;
  p.pad_h = g.pad_top, p.pad_w = g.pad_left;
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

Tensor conv_impl(const char* op, const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const ConvGeometry& o,
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
  return conv_impl("conv2d", x, w, b, geometry_of("conv2d", w, o), Fused::none);
}

Tensor conv2d_relu(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  return conv_impl("conv2d_relu", x, w, b, geometry_of("conv2d_relu", w, o), Fused::relu);
}

Tensor conv2d_swish(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o, bool keep_bf16) {
  return conv_impl("conv2d_swish", x, w, b, geometry_of("conv2d_swish", w, o),
                   keep_bf16 ? Fused::swish_bf16 : Fused::swish_recompute);
}

Tensor conv2d_avgpool2(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dOptions& o,
                       ConvAct act) {
  const kernels::Conv2dShape p = conv_shape("conv2d_avgpool2", x_in, w_in, b_in, geometry_of("conv2d_avgpool2", w_in, o));
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

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeometry& g, ConvAct act) {
  check_conv("conv2d", x, w, b, g);
  if (g.groups == 1 && !symmetric(g)) {
    // Asymmetric pads (TensorFlow's 'SAME' with a stride): pad explicitly, convolve unpadded.
    ConvGeometry inner = g;
    inner.pad_top = inner.pad_left = inner.pad_bottom = inner.pad_right = 0;
    return conv2d(pad(x, {0, 0, g.pad_top, g.pad_left, 0, 0, g.pad_bottom, g.pad_right}), w, b, inner, act);
  }
  if (g.groups == 1) {
    const Fused f = act == ConvAct::relu ? Fused::relu : act == ConvAct::swish ? Fused::swish_recompute : Fused::none;
    return conv_impl("conv2d", x, w, b, g, f);
  }
  Tensor y;
  if (w.size(1) == 1) {
    y = depthwise_conv2d(x, w, b, g);
  } else {
    // Grouped: each group is a dense convolution of its channel slice (views, recorded).
    const int64_t cg = x.size(1) / g.groups, kg = w.size(0) / g.groups;
    ConvGeometry one = g;
    one.groups = 1;
    std::vector<Tensor> parts;
    for (int64_t i = 0; i < g.groups; ++i)
      parts.push_back(conv2d(x.slice(1, i * cg, (i + 1) * cg), w.slice(0, i * kg, (i + 1) * kg),
                             b.defined() ? b.slice(0, i * kg, (i + 1) * kg) : Tensor(), one));
    y = concat(parts, 1);
  }
  return act == ConvAct::relu ? relu(y) : act == ConvAct::swish ? swish(y) : y;
}

Tensor depthwise_conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const ConvGeometry& g) {
  check_conv("depthwise_conv2d", x_in, w_in, b_in, g);
  LAI_CHECK(w_in.size(1) == 1 && g.groups == x_in.size(1), "depthwise_conv2d: needs groups == channels (",
            x_in.size(1), ") and weight [K, 1, R, S], got groups ", g.groups, " and ", to_string(w_in.shape()));
  kernels::DwShape p{x_in.size(0), x_in.size(1), x_in.size(2), x_in.size(3), w_in.size(0) / x_in.size(1),
                     w_in.size(2), w_in.size(3)};
  p.sh = g.stride_h, p.sw = g.stride_w, p.dh = g.dilation_h, p.dw = g.dilation_w;
  p.pt = g.pad_top, p.pl = g.pad_left, p.pb = g.pad_bottom, p.pr = g.pad_right;
  // bf16 weights (a file with bf16 kernels loaded for inference) are widened for the fp32 kernels.
  Tensor x = x_in.contiguous(), w = w_in.dtype() == DType::f32 ? w_in.contiguous() : w_in.to(DType::f32);
  Tensor b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor y = Tensor::empty({p.N, p.K(), p.OH(), p.OW()});
  kernels::dwconv2d_forward(p, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data());
  const bool gx = x_in.requires_grad(), gw = w_in.requires_grad(), gb = b_in.defined() && b_in.requires_grad();
  std::vector<Tensor> inputs{x_in, w_in, b_in.defined() ? b_in : Tensor::zeros({p.K()})};
  return autograd::record("depthwise_conv2d", y, inputs, [p, x, w, gx, gw, gb](const Tensor& g) {
    Tensor dy = g.contiguous();
    Tensor dx, dw, db;
    if (gx) {
      dx = Tensor::empty(x.shape());
      kernels::dwconv2d_backward_data(p, dy.data(), w.data(), dx.data());
    }
    if (gw || gb) {
      dw = Tensor::empty(w.shape());
      db = Tensor::empty({p.K()});
      kernels::dwconv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
    }
    return GradList{dx, gw ? dw : Tensor(), gb ? db : Tensor()};
  });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding) {
  LAI_CHECK(stride >= 1 && padding >= 0, "conv_transpose2d: stride must be >= 1 and padding >= 0");
  ConvTransposeGeometry g;
  g.stride_h = g.stride_w = stride;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = padding;
  return conv_transpose2d(x, w, b, g);
}

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const ConvTransposeGeometry& g) {
  LAI_CHECK(x_in.dim() == 4 && w_in.dim() == 4, "conv_transpose2d: expects x[N, Cin, H, W] and w[Cin, Cout, R, S], got ",
            to_string(x_in.shape()), " and ", to_string(w_in.shape()));
  LAI_CHECK(x_in.size(1) == w_in.size(0), "conv_transpose2d: input has ", x_in.size(1), " channels, weight expects ",
            w_in.size(0));
  LAI_CHECK(g.stride_h >= 1 && g.stride_w >= 1 && g.dilation_h >= 1 && g.dilation_w >= 1,
            "conv_transpose2d: stride and dilation must be >= 1");
  LAI_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0,
            "conv_transpose2d: padding must be >= 0");
  LAI_CHECK(g.output_padding_h >= 0 && g.output_padding_w >= 0 && g.output_padding_h < g.stride_h &&
                g.output_padding_w < g.stride_w,
            "conv_transpose2d: output padding must be in [0, stride), got ", g.output_padding_h, "x",
            g.output_padding_w);
  const int64_t N = x_in.size(0), Cin = x_in.size(1), H = x_in.size(2), W = x_in.size(3);
  const int64_t Cout = w_in.size(1), R = w_in.size(2), S = w_in.size(3);
  const int64_t OH = (H - 1) * g.stride_h - g.pad_top - g.pad_bottom + g.dilation_h * (R - 1) + 1 + g.output_padding_h;
  const int64_t OW = (W - 1) * g.stride_w - g.pad_left - g.pad_right + g.dilation_w * (S - 1) + 1 + g.output_padding_w;
  LAI_CHECK(OH > 0 && OW > 0, "conv_transpose2d: output would be empty for input ", to_string(x_in.shape()),
            " and weight ", to_string(w_in.shape()));
  if (b_in.defined())
    LAI_CHECK(b_in.dim() == 1 && b_in.size(0) == Cout, "conv_transpose2d: bias ", to_string(b_in.shape()),
              " does not match ", Cout, " output channels");
  // The kernels take one pad per axis, and the extra end rows must stay under one stride; other
  // pads: the unpadded output, cropped (a recorded view).
  const int64_t extra_h = g.output_padding_h + g.pad_top - g.pad_bottom, extra_w = g.output_padding_w + g.pad_left - g.pad_right;
  if (extra_h < 0 || extra_h >= g.stride_h || extra_w < 0 || extra_w >= g.stride_w) {
    ConvTransposeGeometry full = g;
    full.pad_top = full.pad_left = full.pad_bottom = full.pad_right = 0;
    full.output_padding_h = std::max<int64_t>(0, g.output_padding_h - g.pad_bottom);
    full.output_padding_w = std::max<int64_t>(0, g.output_padding_w - g.pad_right);
    Tensor y = conv_transpose2d(x_in, w_in, b_in, full);
    return y.slice(2, g.pad_top, g.pad_top + OH).slice(3, g.pad_left, g.pad_left + OW).contiguous();
  }
  // The forward of a transposed conv is the input-gradient of the conv from y[N,Cout,OH,OW] to x.
  kernels::Conv2dShape p{N, Cout, OH, OW, Cin, R, S};
  p.stride_h = g.stride_h, p.stride_w = g.stride_w;
  p.pad_h = g.pad_top, p.pad_w = g.pad_left;
  p.dil_h = g.dilation_h, p.dil_w = g.dilation_w;
  LAI_CHECK(p.OH() == H && p.OW() == W, "conv_transpose2d: inconsistent geometry");
  // bf16 weights (a file with bf16 kernels loaded for inference) are widened for the fp32 kernels.
  Tensor x = x_in.contiguous(), w = w_in.dtype() == DType::f32 ? w_in.contiguous() : w_in.to(DType::f32);
  Tensor y = Tensor::empty({N, Cout, OH, OW});
  kernels::conv2d_backward_data(p, x.data(), w.data(), y.data());
  if (b_in.defined()) {
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

int64_t Pool2dGeometry::out_h(int64_t h) const {
  const int64_t span = h + pad_top + pad_bottom - kernel_h;
  if (span < 0 || stride_h < 1) return 0;
  int64_t o = (ceil_mode ? (span + stride_h - 1) / stride_h : span / stride_h) + 1;
  if (ceil_mode && (o - 1) * stride_h >= h + pad_top) --o;
  return o;
}
int64_t Pool2dGeometry::out_w(int64_t w) const {
  const int64_t span = w + pad_left + pad_right - kernel_w;
  if (span < 0 || stride_w < 1) return 0;
  int64_t o = (ceil_mode ? (span + stride_w - 1) / stride_w : span / stride_w) + 1;
  if (ceil_mode && (o - 1) * stride_w >= w + pad_left) --o;
  return o;
}

namespace {
kernels::PoolShape pool_shape(const char* op, const Tensor& x, const Pool2dGeometry& g) {
  LAI_CHECK(x.dim() == 4, op, ": input must be [N, C, H, W], got ", to_string(x.shape()));
  LAI_CHECK(g.kernel_h >= 1 && g.kernel_w >= 1 && g.stride_h >= 1 && g.stride_w >= 1, op,
            ": kernel and stride must be >= 1");
  LAI_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, op, ": padding must be >= 0");
  // A window lying wholly in the padding would have nothing to pool (PyTorch's limit).
  LAI_CHECK(std::max(g.pad_top, g.pad_bottom) < g.kernel_h && std::max(g.pad_left, g.pad_right) < g.kernel_w, op,
            ": padding must be smaller than the window ", g.kernel_h, "x", g.kernel_w);
  kernels::PoolShape p{x.size(0), x.size(1), x.size(2), x.size(3), g.kernel_h, g.kernel_w, g.stride_h, g.stride_w};
  p.pt = g.pad_top, p.pl = g.pad_left, p.pb = g.pad_bottom, p.pr = g.pad_right;
  p.OH = g.out_h(p.H), p.OW = g.out_w(p.W);
  LAI_CHECK(p.OH > 0 && p.OW > 0, op, ": window ", g.kernel_h, "x", g.kernel_w, " larger than input ",
            to_string(x.shape()), " with its padding");
  return p;
}
// The unpadded square windows in floor mode: the zoo's pooling kernels.
bool plain_square(const kernels::PoolShape& p) {
  return p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0 && p.kh == p.kw && p.sh == p.sw &&
         p.OH == (p.H - p.kh) / p.sh + 1 && p.OW == (p.W - p.kw) / p.sw + 1;
}
}  // namespace

Tensor max_pool2d(const Tensor& x_in, const Pool2dGeometry& g) {
  const kernels::PoolShape p = pool_shape("max_pool2d", x_in, g);
  if (plain_square(p)) return max_pool2d(x_in, p.kh, p.sh);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.C, p.OH, p.OW});
  const bool need = autograd::needs_grad({&x_in});
  auto argmax = std::make_shared<std::vector<int32_t>>(need ? size_t(y.numel()) : 0);
  kernels::max_pool_forward(p, x.data(), y.data(), need ? argmax->data() : nullptr);
  return autograd::record("max_pool2d", y, {x_in}, [p, argmax](const Tensor& g) {
    Tensor gy = g.contiguous();
    Tensor dx = Tensor::empty({p.N, p.C, p.H, p.W});
    kernels::max_pool_backward(p, gy.data(), argmax->data(), dx.data());
    return GradList{dx};
  });
}

Tensor avg_pool2d(const Tensor& x_in, const Pool2dGeometry& g, bool count_include_pad) {
  const kernels::PoolShape p = pool_shape("avg_pool2d", x_in, g);
  if (plain_square(p)) return avg_pool2d(x_in, p.kh, p.sh);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.C, p.OH, p.OW});
  kernels::avg_pool_forward(p, count_include_pad, x.data(), y.data());
  return autograd::record("avg_pool2d", y, {x_in}, [p, count_include_pad](const Tensor& g) {
    Tensor gy = g.contiguous();
    Tensor dx = Tensor::empty({p.N, p.C, p.H, p.W});
    kernels::avg_pool_backward(p, count_include_pad, gy.data(), dx.data());
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
