#include "nn/placeholder.hpp"

namespace liteai::nn::detail {

namespace {
thread_local bool g_shape_only = false;
// Every placeholder views this one element (never written: nothing runs on a placeholder).
const Tensor& anchor() {
  static const Tensor t = Tensor::zeros({1});
  return t;
}
}  // namespace

ShapeOnly::ShapeOnly() : prev_(g_shape_only) { g_shape_only = true; }
ShapeOnly::~ShapeOnly() { g_shape_only = prev_; }
bool shape_only() { return g_shape_only; }

Tensor placeholder(const Shape& shape) {
  for (int64_t d : shape) LAI_CHECK(d >= 0, "tensor: negative dimension in shape ", to_string(shape));
  return Tensor::make_view(anchor(), shape, Shape(shape.size(), 0), 0);
}

bool is_placeholder(const Tensor& t) { return t.defined() && t.storage() == anchor().storage(); }

void adopt(const Tensor& dst, const Tensor& src, bool keep_bf16) {
  LAI_CHECK(dst.defined() && src.defined() && dst.shape() == src.shape(), "adopt: shape ",
            src.defined() ? to_string(src.shape()) : "undefined", " for a tensor of shape ", to_string(dst.shape()));
  // A placeholder stays one (a network described by shapes, still to adopt a file's tensors).
  const bool keep = src.dtype() == DType::f32 || (keep_bf16 && src.dtype() == DType::bf16);
  Tensor s = is_placeholder(src) ? src : keep ? src.contiguous() : src.to(DType::f32);
  TensorImpl* d = dst.impl();
  d->storage = s.storage();
  d->offset = s.offset();
  d->strides = s.strides();
  d->dtype = s.dtype();
}

}  // namespace liteai::nn::detail
