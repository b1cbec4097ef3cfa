// matmul (batched, broadcasting) and linear, on the packed SGEMM kernel.
#include "kernels/kernels.hpp"
#include "liteai/core/strided.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using GradList = std::vector<Tensor>;

namespace {
// How a 2-D slice [rows, cols] is laid out for GEMM: row-major, or a transposed view.
struct GemmOperand {
  Tensor t;  // possibly a contiguous copy
  bool trans = false;
  int64_t ld = 0;
};
GemmOperand as_gemm_operand(const Tensor& x) {
  const int64_t nd = x.dim();
  const int64_t rows = x.shape()[nd - 2], cols = x.shape()[nd - 1];
  const int64_t s_r = x.strides()[nd - 2], s_c = x.strides()[nd - 1];
  if ((s_c == 1 || cols == 1) && s_r >= std::max<int64_t>(1, cols)) return {x, false, s_r};
  if ((s_r == 1 || rows == 1) && s_c >= std::max<int64_t>(1, rows)) return {x, true, s_c};
  Tensor c = x.contiguous();
  return {c, false, std::max<int64_t>(1, cols)};
}

// C[batch..., M, N] = A[batch..., M, K] B[batch..., K, N] for 2+-D operands.
Tensor batched_gemm(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  LAI_CHECK(b.size(-2) == K, "matmul: shapes ", to_string(a.shape()), " and ", to_string(b.shape()),
            " are not aligned (", K, " != ", b.size(-2), ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape);
  GemmOperand A = as_gemm_operand(a), B = as_gemm_operand(b);
  Shape sa(A.t.strides().begin(), A.t.strides().end() - 2), sb(B.t.strides().begin(), B.t.strides().end() - 2);
  sa = broadcast_strides(ba, sa, batch);
  sb = broadcast_strides(bb, sb, batch);
  Shape so = contiguous_strides(batch);
  const float* pa = A.t.data();
  const float* pb = B.t.data();
  float* pc = out.data();
  for_each_run<3>(batch, {&sa, &sb, &so}, [&](int64_t n, auto off, auto inner) {
    for (int64_t i = 0; i < n; ++i)
      kernels::sgemm(A.trans, B.trans, M, N, K, 1.f, pa + off[0] + i * inner[0], A.ld, pb + off[1] + i * inner[1],
                     B.ld, 0.f, pc + (off[2] + i * inner[2]) * M * N, N);
  });
  return out;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  LAI_CHECK(a.defined() && b.defined(), "matmul: undefined input");
  LAI_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: scalars are not allowed (shapes ", to_string(a.shape()), ", ",
            to_string(b.shape()), ")");
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  Tensor out = batched_gemm(a, b);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record("matmul", out, {a, b}, [a, b, ga, gb](const Tensor& g) {
    Tensor da, db;
    if (ga) da = autograd::sum_to(batched_gemm(g, b.transpose(-1, -2)), a.shape());
    if (gb) db = autograd::sum_to(batched_gemm(a.transpose(-1, -2), g), b.shape());
    return GradList{da, db};
  });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  LAI_CHECK(x.dim() == 2 && w.dim() == 2, "linear: expects x[N, in] and w[in, out], got ", to_string(x.shape()),
            " and ", to_string(w.shape()));
  LAI_CHECK(x.size(1) == w.size(0), "linear: input has ", x.size(1), " features, weight expects ", w.size(0),
            " (x ", to_string(x.shape()), ", w ", to_string(w.shape()), ")");
  const int64_t N = x.size(0), K = x.size(1), M = w.size(1);
  if (b.defined())
    LAI_CHECK(b.dim() == 1 && b.size(0) == M, "linear: bias shape ", to_string(b.shape()), " does not match ", M,
              " outputs");
  Tensor out = Tensor::empty({N, M});
  float beta = 0.f;
  if (b.defined()) {
    Tensor bc = b.contiguous();
    for (int64_t i = 0; i < N; ++i) std::copy(bc.data(), bc.data() + M, out.data() + i * M);
    beta = 1.f;
  }
  GemmOperand X = as_gemm_operand(x), W = as_gemm_operand(w);
  kernels::sgemm(X.trans, W.trans, N, M, K, 1.f, X.t.data(), X.ld, W.t.data(), W.ld, beta, out.data(), M);
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  return autograd::record("linear", out, {x, w, b.defined() ? b : Tensor::zeros({M})},
                          [x, w, gx, gw, gb, N, M](const Tensor& g) {
                            Tensor dx, dw, db;
                            if (gx) dx = batched_gemm(g, w.transpose(0, 1));
                            if (gw) dw = batched_gemm(x.transpose(0, 1), g);
                            if (gb) db = autograd::sum_to(g, {M});
                            return GradList{dx, dw, db};
                          });
}

Tensor linear_bf16(const Tensor& x_in, const Tensor& w, const Tensor& b) {
  LAI_CHECK(x_in.dim() == 2 && w.dim() == 2 && w.dtype() == DType::bf16,
            "linear_bf16: expects x[N, in] (f32) and a bf16 w[in, out], got ", to_string(x_in.shape()), " and ",
            dtype_name(w.dtype()), " ", to_string(w.shape()));
  LAI_CHECK(x_in.size(1) == w.size(0), "linear_bf16: input has ", x_in.size(1), " features, weight expects ",
            w.size(0));
  LAI_CHECK(w.is_contiguous(), "linear_bf16: the bf16 weight must be contiguous");
  const int64_t N = x_in.size(0), K = x_in.size(1), M = w.size(1);
  if (b.defined())
    LAI_CHECK(b.dim() == 1 && b.size(0) == M, "linear_bf16: bias shape ", to_string(b.shape()),
              " does not match ", M, " outputs");
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty({N, M});
  kernels::sgemm_bf16b(N, M, K, x.data(), K, w.data_bf16(), M, out.data(), M);
  if (b.defined()) {
    Tensor bc = b.contiguous();
    for (int64_t i = 0; i < N; ++i) kernels::vadd(M, out.data() + i * M, bc.data(), out.data() + i * M);
  }
  return out;
}

Tensor matmul_transposed_bf16(const Tensor& g_in, const Tensor& w) {
  LAI_CHECK(g_in.dim() == 2 && w.dim() == 2 && w.dtype() == DType::bf16 && w.is_contiguous() &&
                g_in.size(1) == w.size(1),
            "matmul_transposed_bf16: expects g[N, out] (f32) and a contiguous bf16 w[in, out], got ",
            to_string(g_in.shape()), " and ", dtype_name(w.dtype()), " ", to_string(w.shape()));
  const Tensor g = g_in.contiguous();
  const int64_t n = g.size(0), in = w.size(0), out = w.size(1);
  const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(in, (int64_t(1) << 20) / out));
  Tensor dx = Tensor::empty({n, in}), block = Tensor::empty({rows, out});
  for (int64_t r0 = 0; r0 < in; r0 += rows) {
    const int64_t r1 = std::min(in, r0 + rows);
    kernels::bf16_to_f32((r1 - r0) * out, w.data_bf16() + r0 * out, block.data());
    kernels::sgemm(false, true, n, r1 - r0, out, 1.f, g.data(), out, block.data(), out, 0.f, dx.data() + r0, in);
  }
  return dx;
}

}  // namespace liteai::ops
