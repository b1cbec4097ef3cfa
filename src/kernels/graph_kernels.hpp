#pragma once
// Kernels the graph's operator set needs beyond kernels.hpp: depthwise convolution (MobileNet,
// EfficientNet), pooling with padding, batch normalization, and the hard/leaky activations.
// Raw pointers, NCHW, contiguous; run-time ISA dispatch as in kernels.hpp (graph_kernels.cpp).
#include <cstdint>

namespace liteai::kernels {

// ---- depthwise convolution: groups == C, each input channel convolved with M filters ----
// x[N, C, H, W], w[C*M, 1, R, S] (output channel k reads input channel k / M), y[N, C*M, OH, OW].
// Pads may differ per side (top, left, bottom, right).
struct DwShape {
  int64_t N, C, H, W, M, R, S;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t K() const { return C * M; }
  int64_t OH() const { return (H + pt + pb - dh * (R - 1) - 1) / sh + 1; }
  int64_t OW() const { return (W + pl + pr - dw * (S - 1) - 1) / sw + 1; }
};
// bias may be null. Overwrites y / dx / dw / dbias. Parallel; the bits do not depend on the
// thread count.
void dwconv2d_forward(const DwShape& p, const float* x, const float* w, const float* bias, float* y);
void dwconv2d_backward_data(const DwShape& p, const float* dy, const float* w, float* dx);
void dwconv2d_backward_weight(const DwShape& p, const float* x, const float* dy, float* dw, float* dbias);

// ---- pooling with padding (ONNX MaxPool / AveragePool) ----
// OH, OW are given (floor or ceil mode is decided by the caller); a window is clipped to the
// padded input. Average: count_include_pad divides by the window clipped to the padded input,
// otherwise by the number of input elements it covers (PyTorch's rules).
struct PoolShape {
  int64_t N, C, H, W, kh, kw, sh, sw;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t OH = 0, OW = 0;
};
// argmax (may be null): flat index within the input plane of each chosen element (first max).
void max_pool_forward(const PoolShape& p, const float* x, float* y, int32_t* argmax);
void max_pool_backward(const PoolShape& p, const float* dy, const int32_t* argmax, float* dx);
void avg_pool_forward(const PoolShape& p, bool count_include_pad, const float* x, float* y);
void avg_pool_backward(const PoolShape& p, bool count_include_pad, const float* dy, float* dx);

// ---- batch normalization over the channels of x[N, C, HW] ----
// mean[c] and the biased variance var[c] over N*HW values (two passes, double sums).
void bn_stats(int64_t N, int64_t C, int64_t HW, const float* x, float* mean, float* var);
// y = x * scale[c] + shift[c], then max(y, 0) when relu (y may alias x).
void bn_apply(int64_t N, int64_t C, int64_t HW, const float* x, const float* scale, const float* shift, float* y,
              bool relu);
// Training-mode gradients, xhat = (x - mean) * invstd:
//   dgamma[c] = sum(dy * xhat), dbeta[c] = sum(dy),
//   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M)      (M = N * HW)
// dx may be null (only parameter gradients wanted).
void bn_backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy, const float* mean,
                 const float* invstd, const float* gamma, float* dx, float* dgamma, float* dbeta);

// ---- activations (ONNX definitions) ----
// hard_sigmoid: max(0, min(1, alpha x + beta)); hard_swish: x * hard_sigmoid(x) with
// alpha 1/6, beta 1/2; leaky_relu: x >= 0 ? x : alpha x. Backward: dx = dy * f'(x).
void vhard_sigmoid(int64_t n, float alpha, float beta, const float* x, float* y);
void vhard_sigmoid_backward(int64_t n, float alpha, float beta, const float* x, const float* dy, float* dx);
void vhard_swish(int64_t n, const float* x, float* y);
void vhard_swish_backward(int64_t n, const float* x, const float* dy, float* dx);
void vleaky_relu(int64_t n, float alpha, const float* x, float* y);
void vleaky_relu_backward(int64_t n, float alpha, const float* x, const float* dy, float* dx);

namespace ref {
// Naive references (plain loops, double sums) the fast paths are tested against.
void dwconv2d_forward(const DwShape& p, const float* x, const float* w, const float* bias, float* y);
void dwconv2d_backward_data(const DwShape& p, const float* dy, const float* w, float* dx);
void dwconv2d_backward_weight(const DwShape& p, const float* x, const float* dy, float* dw, float* dbias);
}  // namespace ref

}  // namespace liteai::kernels
