// Reductions: sum, mean, max, argmax.
#include <algorithm>
#include <limits>

#include "kernels/kernels.hpp"
#include "liteai/core/strided.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using GradList = std::vector<Tensor>;

namespace {
// Shape with the reduced axes kept as 1.
Shape keep_shape(const Shape& s, const std::vector<int64_t>& axes, const char* op) {
  Shape k = s;
  for (int64_t a : axes) k[wrap_axis(a, static_cast<int64_t>(s.size()), op)] = 1;
  return k;
}
Shape drop_ones(const Shape& in, const Shape& kept, const std::vector<int64_t>& axes) {
  std::vector<bool> drop(in.size(), false);
  for (int64_t a : axes) drop[wrap_axis(a, static_cast<int64_t>(in.size()), "sum")] = true;
  Shape r;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) r.push_back(kept[i]);
  return r;
}
// The gradient of a reduction, broadcast back over the input.
Tensor expand_back(const Tensor& g, const Shape& kept, const Shape& in_shape) {
  autograd::NoGrad ng;
  return g.reshape(kept).expand(in_shape).contiguous();
}
}  // namespace

Tensor sum(const Tensor& a) {
  Tensor x = a.contiguous();
  Tensor out = Tensor::scalar(static_cast<float>(kernels::vsum(x.numel(), x.data())));
  Shape in_shape = a.shape();
  return autograd::record("sum", out, {a}, [in_shape](const Tensor& g) {
    return GradList{Tensor::full(in_shape, g.item())};
  });
}

Tensor sum(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  if (axes.empty()) return keepdim ? sum(a).reshape(Shape(a.dim(), 1)) : sum(a);
  const Shape kept = keep_shape(a.shape(), axes, "sum");
  Tensor out = [&] {
    autograd::NoGrad ng;
    return autograd::sum_to(a, kept);
  }();
  if (out.impl() == a.impl()) out = out.clone();  // nothing reduced: still a new tensor
  Shape in_shape = a.shape();
  out = autograd::record("sum", out, {a}, [kept, in_shape](const Tensor& g) {
    return GradList{expand_back(g, kept, in_shape)};
  });
  return keepdim ? out : out.reshape(drop_ones(a.shape(), kept, axes));
}

Tensor mean(const Tensor& a) {
  LAI_CHECK(a.numel() > 0, "mean: empty tensor ", to_string(a.shape()));
  return mul_scalar(sum(a), 1.f / static_cast<float>(a.numel()));
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& axes, bool keepdim) {
  if (axes.empty()) return keepdim ? mean(a).reshape(Shape(a.dim(), 1)) : mean(a);
  const Shape kept = keep_shape(a.shape(), axes, "mean");
  const int64_t count = a.numel() / std::max<int64_t>(1, numel(kept));
  LAI_CHECK(count > 0, "mean: reducing an empty dimension of ", to_string(a.shape()));
  return mul_scalar(sum(a, axes, keepdim), 1.f / static_cast<float>(count));
}

namespace {
// Views x as [outer, n, inner] around `axis` and calls fn(o, i, base pointer, stride).
template <class F>
void along_axis(const Tensor& x, int64_t axis, F fn) {
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t n = s[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) fn(o * inner + i, x.data() + o * n * inner + i, n, inner);
}
}  // namespace

Tensor max(const Tensor& a, int64_t axis, bool keepdim) {
  axis = wrap_axis(axis, a.dim(), "max");
  LAI_CHECK(a.size(axis) > 0, "max: empty axis ", axis, " in ", to_string(a.shape()));
  Tensor x = a.contiguous();
  Shape kept = a.shape();
  kept[axis] = 1;
  Tensor out = Tensor::empty(kept);
  std::vector<int64_t> idx(static_cast<size_t>(out.numel()));
  along_axis(x, axis, [&](int64_t k, const float* p, int64_t n, int64_t st) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; ++j)
      if (p[j * st] > p[best * st]) best = j;
    out.data()[k] = p[best * st];
    idx[k] = best;
  });
  Shape in_shape = a.shape();
  out = autograd::record("max", out, {a}, [in_shape, axis, idx](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::zeros(in_shape);
    along_axis(dx, axis, [&](int64_t k, const float* p, int64_t, int64_t st) {
      const_cast<float*>(p)[idx[k] * st] = gc.data()[k];
    });
    return GradList{dx};
  });
  return keepdim ? out : out.squeeze(axis);
}

Tensor argmax(const Tensor& a, int64_t axis) {
  axis = wrap_axis(axis, a.dim(), "argmax");
  LAI_CHECK(a.size(axis) > 0, "argmax: empty axis ", axis, " in ", to_string(a.shape()));
  Tensor x = a.contiguous();
  Shape kept = a.shape();
  kept[axis] = 1;
  Tensor out = Tensor::empty(kept);
  along_axis(x, axis, [&](int64_t k, const float* p, int64_t n, int64_t st) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; ++j)
      if (p[j * st] > p[best * st]) best = j;
    out.data()[k] = static_cast<float>(best);
  });
  return out.squeeze(axis);
}

}  // namespace liteai::ops
