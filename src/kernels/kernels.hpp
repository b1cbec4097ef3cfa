#pragma once
// Raw-pointer compute kernels behind the ops. They never see Tensors or autograd.
// Each entry point dispatches at run time to the best ISA the CPU has (isa.cpp, detail.hpp);
// LITEAI_ISA=avx512bf16|avx512|avx2|sse|scalar forces one.
#include <cstdint>

namespace liteai::kernels {

// avx512bf16: avx512 plus AVX512_BF16 dot products (vdpbf16ps) for the bf16 kernels below. It is
// the default only where vdpbf16ps is a full-rate instruction (AMD Zen 4 and later: two fp32
// FMAs' worth of products per instruction); Intel Xeons up to Emerald Rapids issue it at a
// quarter of the FMA rate (half the products per second: measured by `liteai bench bf16`),
// so there avx512 stays the default and its bf16 kernels widen to fp32 FMAs.
enum class Isa : int { scalar = 0, sse = 1, avx2 = 2, avx512 = 3, avx512bf16 = 4 };
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // by this CPU (and this build)
Isa active_isa();             // what the kernels use now
void set_isa(Isa isa);        // throws liteai::Error if the CPU lacks it

// ---- GEMM ----
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major with leading dimensions.
// op(X) = X or X^T. beta == 0 ignores C's previous contents (NaN-safe). Parallel inside.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// C[M,N] = A[M,K] * B[K,N], B in bf16 (weights kept compact for inference), A and C fp32, all
// row-major; products and sums in fp32. Parallel inside; the bits do not depend on the thread count.
void sgemm_bf16b(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B, int64_t ldb,
                 float* C, int64_t ldc);

// ---- convolution (NCHW, weight [K, C, R, S]) ----
enum class Act : int { none = 0, relu = 1, swish = 2 };
struct Conv2dShape {
  int64_t N, C, H, W;  // input
  int64_t K, R, S;     // output channels, kernel height, width
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  int64_t OH() const { return (H + 2 * pad_h - dil_h * (R - 1) - 1) / stride_h + 1; }
  int64_t OW() const { return (W + 2 * pad_w - dil_w * (S - 1) - 1) / stride_w + 1; }
};
// y[N,K,OH,OW] = act(conv(x, w) + bias); bias may be null. Extra memory is bounded per tile.
void conv2d_forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                    float* y, Act act = Act::none);
// y[N,K,OH/2,OW/2] = 2x2 stride-2 average pool (floor) of act(conv(x, w) + bias), the same bits as
// conv2d_forward then avg_pool2d_forward; the full-size activation is never written (inference).
void conv2d_forward_avgpool2(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                             float* y, Act act = Act::none);
// dx[N,C,H,W] = conv2d input gradient of dy[N,K,OH,OW] (overwrites dx).
void conv2d_backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx);
// dw[K,C,R,S] (and dbias[K] when not null) = gradients (overwrite, not accumulate).
void conv2d_backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                            float* dbias);

// ---- pooling (NCHW; window kh x kw, stride sh x sw, no padding) ----
struct Pool2dShape {
  int64_t N, C, H, W, kh, kw, sh, sw;
  int64_t OH() const { return (H - kh) / sh + 1; }
  int64_t OW() const { return (W - kw) / sw + 1; }
};
void avg_pool2d_forward(const Pool2dShape& p, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& p, const float* dy, float* dx);  // overwrites dx
// argmax (may be null) receives the flat index within each input plane of the chosen element.
void max_pool2d_forward(const Pool2dShape& p, const float* x, float* y, int32_t* argmax);
void max_pool2d_backward(const Pool2dShape& p, const float* dy, const int32_t* argmax, float* dx);

// ---- element-wise on contiguous arrays of n floats ----
void vadd(int64_t n, const float* a, const float* b, float* y);
void vsub(int64_t n, const float* a, const float* b, float* y);
void vmul(int64_t n, const float* a, const float* b, float* y);
void vdiv(int64_t n, const float* a, const float* b, float* y);
void vscale(int64_t n, float alpha, const float* x, float* y);   // y = alpha x
void vaxpy(int64_t n, float alpha, const float* x, float* y);    // y += alpha x
void vexp(int64_t n, const float* x, float* y);
void vlog(int64_t n, const float* x, float* y);
void vsigmoid(int64_t n, const float* x, float* y);
void vtanh(int64_t n, const float* x, float* y);
void vrelu(int64_t n, const float* x, float* y);
void vswish(int64_t n, const float* x, float* y);
// dx = dy * swish'(x)
void vswish_backward(int64_t n, const float* x, const float* dy, float* dx);
// dx = y > 0 ? dy : 0, from the ReLU's output y
void vrelu_backward(int64_t n, const float* y, const float* dy, float* dx);
double vsum(int64_t n, const float* x);  // accurate (pairwise / double) sum
float vdot(int64_t n, const float* a, const float* b);
// Row-wise over a [rows, cols] contiguous matrix, numerically stable.
void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y);
void log_softmax_rows(int64_t rows, int64_t cols, const float* x, float* y);

// ---- optimizer ----
// One Adam step on n elements in place, PyTorch's form:
//   g' = g + l2 * w;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
//   w = w * decay - lr * (m * c1) / (sqrt(v) * c2 + eps)
// (c1, c2: bias corrections; decay: decoupled weight decay, 1 for none).
struct AdamStep {
  float lr, beta1, beta2, eps, c1, c2, decay, l2;
};
void adam_update(int64_t n, const AdamStep& s, const float* g, float* w, float* m, float* v);

// ---- bf16 products with fp32 sums (mixed precision) ----
// Operands are bf16 (uint16_t, the upper half of an fp32), results fp32. The products of bf16
// values are exact in fp32, so every ISA computes the same sums of the same products and differs
// only in the rounding of the fp32 sums: on Isa::avx512bf16 through vdpbf16ps (operands packed
// in pairs along the sum), elsewhere by widening the operands to fp32 in the packing routines
// and running the fp32 micro-kernels. vdpbf16ps flushes denormal inputs and results to zero.
// Same contracts, parallelism and determinism as the fp32 entry points above.
bool bf16_dot_products();  // the active ISA multiplies bf16 pairs in hardware (vdpbf16ps)
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
               int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void conv2d_forward_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                         Act act = Act::none);
void conv2d_forward_avgpool2_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias,
                                  float* y, Act act = Act::none);
void conv2d_backward_data_bf16(const Conv2dShape& p, const uint16_t* dy, const uint16_t* w, float* dx);
// dw only (overwritten); the bias gradient is a sum of the fp32 output gradient (bias_grad).
void conv2d_backward_weight_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* dy, float* dw);
// db[k] = sum over images and pixels of dy[N, K, P] (accurate: double across blocks).
void bias_grad(int64_t N, int64_t K, int64_t P, const float* dy, float* db);

// ---- bf16 conversions ----
void f32_to_bf16(int64_t n, const float* x, uint16_t* y);
void bf16_to_f32(int64_t n, const uint16_t* x, float* y);
// Mixed-precision swish: saved = bf16(x), then x = swish(x) in place (one pass through cache);
// dx = dy * swish'(bf16 saved value).
void vswish_save_bf16(int64_t n, float* x, uint16_t* saved);
void vswish_backward_bf16(int64_t n, const uint16_t* saved, const float* dy, float* dx);
// true when no element is NaN or infinite (gradient checks of bf16 training).
bool all_finite(int64_t n, const float* x);

}  // namespace liteai::kernels
