// softmax / log_softmax along an axis (the row kernels work on the last axis).
#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using GradList = std::vector<Tensor>;

namespace {
using RowFn = void (*)(int64_t, int64_t, const float*, float*);

// Applies a row kernel along `axis` by moving that axis last.
Tensor along_rows(const Tensor& a, int64_t axis, RowFn fn) {
  const int64_t nd = a.dim();
  autograd::NoGrad ng;
  Tensor x = axis == nd - 1 ? a.contiguous() : a.transpose(axis, nd - 1).contiguous();
  Tensor y = Tensor::empty(x.shape());
  const int64_t cols = x.size(-1);
  if (x.numel() > 0) fn(x.numel() / cols, cols, x.data(), y.data());
  return axis == nd - 1 ? y : y.transpose(axis, nd - 1).contiguous();
}
}  // namespace

Tensor softmax(const Tensor& a, int64_t axis) {
  LAI_CHECK(a.dim() >= 1, "softmax: needs at least one dimension");
  axis = wrap_axis(axis, a.dim(), "softmax");
  Tensor y = along_rows(a, axis, kernels::softmax_rows);
  return autograd::record("softmax", y, {a}, [y = y.detach(), axis](const Tensor& g) {
    // dx = y * (g - sum(g * y))
    Tensor gy = mul(g, y);
    return GradList{mul(y, sub(g, sum(gy, {axis}, true)))};
  });
}

Tensor log_softmax(const Tensor& a, int64_t axis) {
  LAI_CHECK(a.dim() >= 1, "log_softmax: needs at least one dimension");
  axis = wrap_axis(axis, a.dim(), "log_softmax");
  Tensor y = along_rows(a, axis, kernels::log_softmax_rows);
  return autograd::record("log_softmax", y, {a}, [y = y.detach(), axis](const Tensor& g) {
    // dx = g - softmax * sum(g)
    return GradList{sub(g, mul(exp(y), sum(g, {axis}, true)))};
  });
}

}  // namespace liteai::ops
