#pragma once
// Naive reference kernels (plain loops, double accumulation where it matters). They define what
// the fast kernels must compute; the tests compare every ISA against them. Same contracts as
// kernels.hpp; no ISA flags, no threads.
#include "kernels/kernels.hpp"

namespace liteai::kernels::ref {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);
void conv2d_forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                    float* y, Act act = Act::none);
void conv2d_backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx);
void conv2d_backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                            float* dbias);
void avg_pool2d_forward(const Pool2dShape& p, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& p, const float* dy, float* dx);
void max_pool2d_forward(const Pool2dShape& p, const float* x, float* y, int32_t* argmax);
void max_pool2d_backward(const Pool2dShape& p, const float* dy, const int32_t* argmax, float* dx);
void vadd(int64_t n, const float* a, const float* b, float* y);
void vsub(int64_t n, const float* a, const float* b, float* y);
void vmul(int64_t n, const float* a, const float* b, float* y);
void vdiv(int64_t n, const float* a, const float* b, float* y);
void vscale(int64_t n, float alpha, const float* x, float* y);
void vaxpy(int64_t n, float alpha, const float* x, float* y);
void vexp(int64_t n, const float* x, float* y);
void vlog(int64_t n, const float* x, float* y);
void vsigmoid(int64_t n, const float* x, float* y);
void vtanh(int64_t n, const float* x, float* y);
void vrelu(int64_t n, const float* x, float* y);
void vswish(int64_t n, const float* x, float* y);
void vswish_backward(int64_t n, const float* x, const float* dy, float* dx);
void vrelu_backward(int64_t n, const float* y, const float* dy, float* dx);
double vsum(int64_t n, const float* x);
float vdot(int64_t n, const float* a, const float* b);
void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y);
void log_softmax_rows(int64_t rows, int64_t cols, const float* x, float* y);
void adam_update(int64_t n, const AdamStep& s, const float* g, float* w, float* m, float* v);
void f32_to_bf16(int64_t n, const float* x, uint16_t* y);
void bf16_to_f32(int64_t n, const uint16_t* x, float* y);

// Scalar helpers shared with the fast paths (tails, fallbacks).
float apply_act(float v, Act act);

}  // namespace liteai::kernels::ref
