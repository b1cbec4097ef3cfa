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

namespace liteai::ops {

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value) {
  const int64_t nd = x.dim();
  LAI_CHECK(static_cast<int64_t>(pads.size()) == 2 * nd, "pad: ", pads.size(), " pads for a ", nd,
            "-dimensional input ", to_string(x.shape()), " (need ", 2 * nd, ": all begins, then all ends)");
  Shape out_shape = x.shape();
  // Per dimension: where the kept part of x starts/ends in x, and where it starts in the output.
  std::vector<int64_t> src0(static_cast<size_t>(nd)), src1(src0), dst0(src0);
  bool crops = false;
  for (int64_t d = 0; d < nd; ++d) {
    const int64_t b = pads[size_t(d)], e = pads[size_t(d + nd)];
    out_shape[size_t(d)] = x.size(d) + b + e;
    LAI_CHECK(out_shape[size_t(d)] >= 0 && std::max<int64_t>(0, -b) + std::max<int64_t>(0, -e) <= x.size(d), "pad: pads ",
              b, ", ", e, " remove more than dimension ", d, " of ", to_string(x.shape()), " holds");
    src0[size_t(d)] = std::max<int64_t>(0, -b);
    src1[size_t(d)] = x.size(d) - std::max<int64_t>(0, -e);
    dst0[size_t(d)] = std::max<int64_t>(0, b);
    crops = crops || b < 0 || e < 0;
  }
  auto region = [nd, src0, src1](Tensor t, const std::vector<int64_t>& start) {
    for (int64_t d = 0; d < nd; ++d)
      t = t.slice(d, start[size_t(d)], start[size_t(d)] + src1[size_t(d)] - src0[size_t(d)]);
    return t;
  };
  Tensor out = Tensor::full(out_shape, value);
  {
    autograd::NoGrad ng;
    if (out.numel() > 0) region(out, dst0).copy_from(region(x, src0));
  }
  Shape in_shape = x.shape();
  return autograd::record("pad", out, {x}, [region, src0, dst0, in_shape, crops](const Tensor& g) {
    autograd::NoGrad ng;
    Tensor kept = region(g, dst0);
    if (!crops) return std::vector<Tensor>{kept.contiguous()};
    Tensor dx = Tensor::zeros(in_shape);
    region(dx, src0).copy_from(kept);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace liteai::ops
