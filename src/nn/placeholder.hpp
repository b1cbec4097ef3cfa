#pragma once
// Networks built as shapes: while a ShapeOnly guard lives on a thread, layers create their
// tensors as placeholders (the right shape, no memory: a stride-0 view of one element), and
// initialize nothing. A loader builds a network this way, checks every shape against a file
// before anything big exists, then adopts the file's tensors as the parameters' storage.
#include "liteai/core/tensor.hpp"

namespace liteai::nn::detail {

class ShapeOnly {
 public:
  ShapeOnly();
  ~ShapeOnly();
  ShapeOnly(const ShapeOnly&) = delete;
  ShapeOnly& operator=(const ShapeOnly&) = delete;

 private:
  bool prev_;
};
bool shape_only();  // a guard is alive on this thread

Tensor placeholder(const Shape& shape);
bool is_placeholder(const Tensor& t);
// A new parameter or buffer: a placeholder under ShapeOnly, else filled by `make`.
template <class F>
Tensor new_tensor(const Shape& shape, F make) {
  return shape_only() ? placeholder(shape) : make();
}
// Makes the tensor behind `dst` (a layer's handle) hold `src`'s values: shapes must match; src is
// converted to contiguous f32 (kept bf16 with keep_bf16: a model loaded for bf16 inference) and
// its storage shared, not copied.
void adopt(const Tensor& dst, const Tensor& src, bool keep_bf16 = false);

}  // namespace liteai::nn::detail
