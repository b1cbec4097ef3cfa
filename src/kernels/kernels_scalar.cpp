// Portable instantiation (no ISA flags): plain C++ micro-kernel, reference element-wise code.
// The baseline for CPUs without SSE4.2 and the yardstick the SIMD units are tested against.
#include "kernels/conv_impl.hpp"

namespace liteai::kernels::detail {

struct UkScalar {
  static constexpr int MR = 4, NR = 8;
  static void full(int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                   int64_t ldc, bool accumulate) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k)
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] += a[k * MR + i] * b[k * NR + j];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.f) + acc[i][j];
  }
  // The table's own element-wise functions: a fused epilogue gives the same bits as a separate
  // activation pass (a kept pre-activation, then vswish).
  static void act_row(float* row, int64_t n, float bias, Act act) {
    for (int64_t j = 0; j < n; ++j) row[j] += bias;
    if (act == Act::relu) ref::vrelu(n, row, row);
    if (act == Act::swish) ref::vswish(n, row, row);
  }
  static double sum(int64_t n, const float* x) { return ref::vsum(n, x); }
};

static double vdot_scalar(int64_t n, const float* a, const float* b) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += double(a[i]) * b[i];
  return acc;
}

const Table& table_scalar() {
  static const Table t = [] {
    using C = ConvImpl<UkScalar>;
    Table s{};
    s.isa = Isa::scalar;
    s.mr = UkScalar::MR, s.nr = UkScalar::NR;
    s.sgemm = &GemmDriver<UkScalar>::sgemm;
    s.sgemm_bf16b = &GemmDriver<UkScalar>::sgemm_bf16b;
    s.conv2d_forward = &C::forward;
    s.conv2d_backward_data = &C::backward_data;
    s.max_pool2x2_row = &max_pool2x2_row_scalar;
    s.conv2d_backward_weight = &C::backward_weight;
    s.vadd = &ref::vadd, s.vsub = &ref::vsub, s.vmul = &ref::vmul, s.vdiv = &ref::vdiv;
    s.vscale = &ref::vscale, s.vaxpy = &ref::vaxpy;
    s.vexp = &ref::vexp, s.vlog = &ref::vlog, s.vsigmoid = &ref::vsigmoid, s.vtanh = &ref::vtanh;
    s.vrelu = &ref::vrelu, s.vswish = &ref::vswish, s.vswish_backward = &ref::vswish_backward;
    s.vrelu_backward = &ref::vrelu_backward;
    s.vsum = &ref::vsum, s.vdot = &vdot_scalar;
    s.softmax_rows = &ref::softmax_rows, s.log_softmax_rows = &ref::log_softmax_rows;
    s.adam_update = &ref::adam_update;
    s.f32_to_bf16 = &ref::f32_to_bf16, s.bf16_to_f32 = &ref::bf16_to_f32;
    s.gemm_bf16 = &GemmDriver<UkScalar>::gemm_bf16;  // the bf16 convolutions: api.cpp widens
    return s;
  }();
  return t;
}

}  // namespace liteai::kernels::detail
