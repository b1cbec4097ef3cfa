// Shape ops: thin functional wrappers over the Tensor views, concat, and dtype conversion.
#include "kernels/kernels.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

Tensor cast(const Tensor& t, DType dtype) {
  LAI_CHECK(t.defined(), "cast: undefined tensor");
  Tensor c = t.detach();
  if (!c.is_contiguous()) {
    autograd::NoGrad ng;
    c = c.contiguous();
  }
  if (c.dtype() == dtype) return c;
  Tensor out = Tensor::empty(c.shape(), dtype);
  if (dtype == DType::bf16)
    kernels::f32_to_bf16(c.numel(), c.data(), out.data_bf16());
  else
    kernels::bf16_to_f32(c.numel(), c.data_bf16(), out.data());
  return out;
}

Tensor reshape(const Tensor& a, const Shape& shape) { return a.reshape(shape); }
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) { return a.transpose(d0, d1); }
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims) { return a.permute(dims); }
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return a.slice(dim, start, end, step);
}
Tensor contiguous(const Tensor& a) { return a.contiguous(); }

Tensor concat(const std::vector<Tensor>& parts, int64_t dim) {
  LAI_CHECK(!parts.empty(), "concat: no tensors given");
  const int64_t nd = parts[0].dim();
  dim = wrap_axis(dim, nd, "concat");
  Shape out_shape = parts[0].shape();
  out_shape[dim] = 0;
  for (const Tensor& p : parts) {
    LAI_CHECK(p.dim() == nd, "concat: ranks differ: ", to_string(parts[0].shape()), " and ", to_string(p.shape()));
    for (int64_t d = 0; d < nd; ++d)
      LAI_CHECK(d == dim || p.shape()[d] == parts[0].shape()[d], "concat: shapes ", to_string(parts[0].shape()),
                " and ", to_string(p.shape()), " differ outside dimension ", dim);
    out_shape[dim] += p.shape()[dim];
  }
  Tensor out = Tensor::empty(out_shape);
  std::vector<int64_t> starts;
  int64_t at = 0;
  {
    autograd::NoGrad ng;
    for (const Tensor& p : parts) {
      starts.push_back(at);
      out.slice(dim, at, at + p.shape()[dim]).copy_from(p);
      at += p.shape()[dim];
    }
  }
  std::vector<int64_t> sizes;
  for (const Tensor& p : parts) sizes.push_back(p.shape()[dim]);
  return autograd::record("concat", out, parts, [starts, sizes, dim](const Tensor& g) {
    std::vector<Tensor> r;
    for (size_t i = 0; i < starts.size(); ++i) r.push_back(g.slice(dim, starts[i], starts[i] + sizes[i]).contiguous());
    return r;
  });
}

}  // namespace liteai::ops
