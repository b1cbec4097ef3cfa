#pragma once
// Functional ops: each computes its forward with the kernels and records its backward.
// Shapes follow NumPy/PyTorch conventions; errors name the op and the shapes.
#include <vector>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/tensor.hpp"

namespace liteai::ops {

// ---- element-wise (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& a);
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor pow(const Tensor& a, float exponent);
Tensor abs(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor swish(const Tensor& a);  // x * sigmoid(x), a.k.a. SiLU
Tensor clamp(const Tensor& a, float lo, float hi);

// ---- reductions ----
Tensor sum(const Tensor& a);  // all elements -> scalar
Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim = false);
Tensor max(const Tensor& a, int64_t axis, bool keepdim = false);  // gradient to the first max
Tensor argmax(const Tensor& a, int64_t axis);                     // indices as f32, no grad

// ---- linear algebra ----
// [.., M, K] x [.., K, N] -> [.., M, N], batch dims broadcast; 1-D operands as in NumPy.
Tensor matmul(const Tensor& a, const Tensor& b);
// x[N, in] W[in, out] + b[out] in one GEMM (b may be undefined).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// The same with W stored in bf16 (products and sums in fp32; not recorded by autograd: inference,
// and the forward pass of a streamed Dense layer with bf16 master weights).
Tensor linear_bf16(const Tensor& x, const Tensor& w_bf16, const Tensor& b);
// g [N, out] times the transpose of a bf16 w [in, out] (the input gradient of linear_bf16), w
// decoded a row block of about 1M elements at a time: fp32 products, no fp32 copy of w. Not recorded.
Tensor matmul_transposed_bf16(const Tensor& g, const Tensor& w_bf16);

// ---- softmax family (along `axis`, numerically stable) ----
Tensor softmax(const Tensor& a, int64_t axis = -1);
Tensor log_softmax(const Tensor& a, int64_t axis = -1);

// ---- dtype ----
// t as a contiguous tensor of `dtype` (t itself, detached, when it already is one): converted by
// the SIMD kernels, bf16 rounded to nearest even. Not recorded by autograd.
Tensor cast(const Tensor& t, DType dtype);

// ---- shape ops (views when possible) ----
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor concat(const std::vector<Tensor>& parts, int64_t dim);
Tensor contiguous(const Tensor& a);

// ---- convolution and pooling (NCHW) ----
struct Conv2dOptions {
  int64_t stride = 1, padding = 0, dilation = 1;
  bool same = false;  // 'same' padding for stride 1 (odd kernels): padding = dilation*(k-1)/2
  // The products: f32, or bf16 (x, w and the output gradient rounded to bf16, sums in fp32:
  // AVX512_BF16 dot products where the kernels use them, kernels.hpp). Backward then keeps bf16
  // copies of x and w (half the memory of an fp32 input); outputs and gradients stay fp32.
  DType compute = DType::f32;
};
// x[N,C,H,W], w[K,C,R,S], b[K] (may be undefined)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o = {});
// Fused conv + bias + swish. Backward needs the pre-activation: by default it is recomputed (one
// more forward conv, no memory); keep_bf16 keeps it from the forward pass in bf16 instead (half an
// activation map of memory, no recompute; swish' then sees the pre-activation rounded to bf16).
Tensor conv2d_swish(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o = {},
                    bool keep_bf16 = false);
// Fused conv + bias + ReLU (backward needs only the output).
Tensor conv2d_relu(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o = {});
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0);  // stride 0 = kernel
// Inference: avg_pool2d(act(conv2d(x, w, b)), 2) in one pass, the same bits, without writing the
// full-size activation. Not recorded by autograd (callers use it only when no gradient is wanted).
enum class ConvAct { none, relu, swish };
Tensor conv2d_avgpool2(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o, ConvAct act);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0);
// Transposed convolution (for decoders): w[C_in, C_out, R, S].
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride = 1,
                        int64_t padding = 0);
Tensor upsample_nearest2d(const Tensor& x, int64_t scale);

// ---- the general forms the graph's operators need (ONNX semantics) ----
// Convolution geometry: per-axis stride and dilation, pads per side, groups (C and K divisible by
// groups; weight [K, C/groups, R, S]). groups == C is depthwise (its own SIMD kernels);
// asymmetric pads are applied as an explicit zero pad of the input.
struct ConvGeometry {
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t groups = 1;
  DType compute = DType::f32;  // the products of dense (groups 1) convolutions, as Conv2dOptions::compute
};
// act: an activation applied to the output (fused into the kernel where it can be).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeometry& g, ConvAct act = ConvAct::none);
// The depthwise case itself (groups == C, w[C * M, 1, R, S]); conv2d routes to it.
Tensor depthwise_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeometry& g);
// Transposed convolution, w[C_in, C_out, R, S] (groups 1). Output size per axis:
// (in - 1) * stride - pad_begin - pad_end + dilation * (kernel - 1) + 1 + output_padding.
struct ConvTransposeGeometry {
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t output_padding_h = 0, output_padding_w = 0;
};
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvTransposeGeometry& g);
// Pooling window with padding; ceil_mode as PyTorch/ONNX (a last window must start inside the
// input or its left/top padding).
struct Pool2dGeometry {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;
  int64_t out_h(int64_t h) const;
  int64_t out_w(int64_t w) const;
};
Tensor max_pool2d(const Tensor& x, const Pool2dGeometry& g);
// count_include_pad: padded positions count in the divisor (as PyTorch's default).
Tensor avg_pool2d(const Tensor& x, const Pool2dGeometry& g, bool count_include_pad);
// Constant padding: pads = {begin_0, ..., begin_{n-1}, end_0, ..., end_{n-1}} (ONNX order);
// negative values crop.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value = 0.f);
// Batch normalization over dim 1 of x[N, C, ...]. Training: batch statistics (biased variance)
// and running statistics updated in place (running = (1 - momentum) running + momentum batch,
// unbiased variance; momentum as PyTorch's). Inference: the running statistics. relu: max(y, 0)
// fused (its backward recomputes the mask, no extra activation is kept).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, float momentum, float eps, bool relu = false);
// Batch norm -> ReLU -> convolution in one op (DenseNet's layers, pre-activation blocks), the
// batch norm's input given as `parts` concatenated along the channels (one part: no concat). The
// concatenation and the normalized activation never exist as tensors beyond one step: the forward
// pass writes the activation straight from the parts, and backward recomputes it from the parts
// (which the caller keeps anyway) instead of keeping it, so training holds the parts alone.
// Same results as concat + batch_norm(relu) + conv2d. Needs groups 1 and symmetric pads.
struct BatchNormParams {
  Tensor gamma, beta, running_mean, running_var;
  bool training = false;
  float momentum = 0.1f, eps = 1e-5f;  // momentum as PyTorch's (see batch_norm)
};
Tensor bn_relu_conv2d(const std::vector<Tensor>& parts, const BatchNormParams& bn, const Tensor& w, const Tensor& b,
                      const ConvGeometry& g);
Tensor leaky_relu(const Tensor& a, float alpha);
Tensor hard_sigmoid(const Tensor& a, float alpha, float beta);  // max(0, min(1, alpha x + beta))
Tensor hard_swish(const Tensor& a);                             // x * hard_sigmoid(x, 1/6, 1/2)

// ---- losses (mean over the batch) ----
// logits[N, C], target class indices as f32 [N] -> scalar
Tensor cross_entropy(const Tensor& logits, const Tensor& target_indices);
// logits[N, C], soft targets (rows sum to 1) [N, C] -> scalar
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs);
// Multi-label: logits[N, C], targets in {0,1} [N, C]; mean over N*C.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets);
Tensor mse(const Tensor& pred, const Tensor& target);

}  // namespace liteai::ops
