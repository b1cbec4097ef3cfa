// Public entry points of kernels.hpp: argument checks, then the implementation.
// (First version: the reference kernels, sgemm split over rows.)
#include <algorithm>

#include "kernels/kernels.hpp"
#include "kernels/ref.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::kernels {

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  LAI_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  parallel_for(0, M, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N)), [&](int64_t b, int64_t e) {
    ref::sgemm(ta, tb, e - b, N, K, alpha, ta ? A + b : A + b * lda, lda, B, ldb, beta, C + b * ldc, ldc);
  });
}

void conv2d_forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                    float* y, Act act) {
  ref::conv2d_forward(p, x, w, bias, y, act);
}
void conv2d_backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx) {
  ref::conv2d_backward_data(p, dy, w, dx);
}
void conv2d_backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                            float* dbias) {
  ref::conv2d_backward_weight(p, x, dy, dw, dbias);
}
void avg_pool2d_forward(const Pool2dShape& p, const float* x, float* y) { ref::avg_pool2d_forward(p, x, y); }
void avg_pool2d_backward(const Pool2dShape& p, const float* dy, float* dx) { ref::avg_pool2d_backward(p, dy, dx); }
void max_pool2d_forward(const Pool2dShape& p, const float* x, float* y, int32_t* argmax) {
  ref::max_pool2d_forward(p, x, y, argmax);
}
void max_pool2d_backward(const Pool2dShape& p, const float* dy, const int32_t* argmax, float* dx) {
  ref::max_pool2d_backward(p, dy, argmax, dx);
}
void vadd(int64_t n, const float* a, const float* b, float* y) { ref::vadd(n, a, b, y); }
void vsub(int64_t n, const float* a, const float* b, float* y) { ref::vsub(n, a, b, y); }
void vmul(int64_t n, const float* a, const float* b, float* y) { ref::vmul(n, a, b, y); }
void vdiv(int64_t n, const float* a, const float* b, float* y) { ref::vdiv(n, a, b, y); }
void vscale(int64_t n, float alpha, const float* x, float* y) { ref::vscale(n, alpha, x, y); }
void vaxpy(int64_t n, float alpha, const float* x, float* y) { ref::vaxpy(n, alpha, x, y); }
void vexp(int64_t n, const float* x, float* y) { ref::vexp(n, x, y); }
void vlog(int64_t n, const float* x, float* y) { ref::vlog(n, x, y); }
void vsigmoid(int64_t n, const float* x, float* y) { ref::vsigmoid(n, x, y); }
void vtanh(int64_t n, const float* x, float* y) { ref::vtanh(n, x, y); }
void vrelu(int64_t n, const float* x, float* y) { ref::vrelu(n, x, y); }
void vswish(int64_t n, const float* x, float* y) { ref::vswish(n, x, y); }
void vswish_backward(int64_t n, const float* x, const float* dy, float* dx) { ref::vswish_backward(n, x, dy, dx); }
double vsum(int64_t n, const float* x) { return ref::vsum(n, x); }
float vdot(int64_t n, const float* a, const float* b) { return ref::vdot(n, a, b); }
void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) { ref::softmax_rows(rows, cols, x, y); }
void log_softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) { ref::log_softmax_rows(rows, cols, x, y); }
void f32_to_bf16(int64_t n, const float* x, uint16_t* y) { ref::f32_to_bf16(n, x, y); }
void bf16_to_f32(int64_t n, const uint16_t* x, float* y) { ref::bf16_to_f32(n, x, y); }

}  // namespace liteai::kernels
