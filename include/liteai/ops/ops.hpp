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
// The same with W stored in bf16 (inference: products and sums in fp32, not recorded by autograd).
Tensor linear_bf16(const Tensor& x, const Tensor& w_bf16, const Tensor& b);

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

// ---- losses (mean over the batch) ----
// logits[N, C], target class indices as f32 [N] -> scalar
Tensor cross_entropy(const Tensor& logits, const Tensor& target_indices);
// logits[N, C], soft targets (rows sum to 1) [N, C] -> scalar
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs);
// Multi-label: logits[N, C], targets in {0,1} [N, C]; mean over N*C.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets);
Tensor mse(const Tensor& pred, const Tensor& target);

}  // namespace liteai::ops
