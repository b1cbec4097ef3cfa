#pragma once
// Tensor: a shared handle to a strided view of aligned storage, plus the autograd fields.
// Copying a Tensor copies the handle (like torch.Tensor); clone() copies the data.
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "liteai/core/dtype.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/shape.hpp"
#include "liteai/core/storage.hpp"

namespace liteai {

namespace autograd {
struct Node;
}

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (contiguous, new storage) ----
  // Contents unspecified: every element must be written before it is read (NaN in sanitized builds).
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor arange(int64_t n);  // 0, 1, ..., n-1 as f32
  // A view over another tensor's storage (used by views and by zero-copy wrappers).
  static Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  int64_t offset() const;
  DType dtype() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;
  std::string describe() const;  // "Tensor[2, 3] f32"

  // ---- data access ----
  float* data();  // first element; requires f32
  const float* data() const;
  uint16_t* data_bf16();
  const uint16_t* data_bf16() const;
  uint8_t* data_u8();
  const uint8_t* data_u8() const;
  uint16_t* data_u16();
  const uint16_t* data_u16() const;
  uint32_t* data_u32();
  const uint32_t* data_u32() const;
  void* raw_data();  // first element's bytes, any dtype
  const void* raw_data() const;
  std::vector<float> to_vector() const;  // logical order, any strides (integers: their values)
  float item() const;                    // one-element tensors
  float at(std::initializer_list<int64_t> index) const;

  // ---- copies and conversions (not recorded by autograd unless stated) ----
  Tensor contiguous() const;  // this if already contiguous, else a copy (recorded)
  Tensor clone() const;       // always a copy (recorded)
  Tensor to(DType dtype) const;  // f32 <-> bf16 conversion copy (not recorded); integers only to themselves
  void copy_from(const Tensor& src);  // elementwise copy into this (shapes must match; not recorded); integers from the same type
  void fill_(float value);            // not recorded

  // ---- views (zero-copy, recorded by autograd) ----
  Tensor reshape(const Shape& shape) const;  // view when strides allow, else copy; one -1 allowed
  Tensor view(const Shape& shape) const;     // like reshape but requires a contiguous input
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor expand(const Shape& shape) const;  // broadcast view (stride 0)
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value = true);
  Tensor grad() const;  // accumulated gradient of a leaf (undefined until backward)
  void set_grad(const Tensor& g);
  void zero_grad();     // drops the gradient
  // Reverse-mode from this tensor: a scalar unless `grad_output` is given. The graph is freed
  // afterwards unless keep_graph.
  void backward(const Tensor& grad_output = Tensor(), bool keep_graph = false) const;
  Tensor detach() const;  // same storage, no history
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<autograd::Node> fn);
  bool is_leaf() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  // Optional: called with each gradient arriving at this leaf instead of accumulating it into
  // `grad` (lets an optimizer update a huge weight the moment its gradient exists, so the
  // gradient never has to be stored).
  std::function<void(const Tensor&)> grad_hook;
};

// Arithmetic operators (recorded by autograd; broadcasting as NumPy).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, float b);
Tensor operator-(const Tensor& a, float b);
Tensor operator*(const Tensor& a, float b);
Tensor operator/(const Tensor& a, float b);
Tensor operator*(float a, const Tensor& b);

}  // namespace liteai
