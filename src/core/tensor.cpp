#include "liteai/core/tensor.hpp"

#include <cstring>

#include "liteai/autograd/autograd.hpp"
#include "liteai/autograd/only_leaf.hpp"
#include "liteai/core/strided.hpp"

namespace liteai {

namespace {
const Shape kEmptyShape;

TensorImpl& need(const std::shared_ptr<TensorImpl>& p, const char* what) {
  LAI_CHECK(p != nullptr, what, ": tensor is undefined");
  return *p;
}

std::shared_ptr<TensorImpl> new_impl(const Shape& shape, DType dtype, bool zero) {
  for (int64_t d : shape) LAI_CHECK(d >= 0, "tensor: negative dimension in shape ", to_string(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::make(static_cast<size_t>(numel(shape)) * dtype_size(dtype), zero);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}

// Copies src (any strides) into a contiguous float buffer in logical order.
void gather(const Tensor& src, float* dst) {
  const float* s = src.data();
  int64_t pos = 0;
  for_each_run<1>(src.shape(), {&src.strides()}, [&](int64_t n, auto off, auto inner) {
    const float* p = s + off[0];
    if (inner[0] == 1) {
      std::memcpy(dst + pos, p, size_t(n) * 4);
    } else {
      for (int64_t i = 0; i < n; ++i) dst[pos + i] = p[i * inner[0]];
    }
    pos += n;
  });
}
}  // namespace

// ---- factories ----
Tensor Tensor::empty(const Shape& shape, DType dtype) { return Tensor(new_impl(shape, dtype, false)); }
Tensor Tensor::zeros(const Shape& shape, DType dtype) { return Tensor(new_impl(shape, dtype, true)); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.f); }
Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill_(value);
  return t;
}
Tensor Tensor::scalar(float value) { return full({}, value); }
Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  LAI_CHECK(static_cast<int64_t>(values.size()) == liteai::numel(shape), "from_vector: ", values.size(),
            " values do not fill shape ", to_string(shape));
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * 4);
  return t;
}
Tensor Tensor::arange(int64_t n) {
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(i);
  return t;
}
Tensor Tensor::make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = need(base.impl_ptr(), "view").storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// ---- metadata ----
const Shape& Tensor::shape() const { return impl_ ? impl_->shape : kEmptyShape; }
const Shape& Tensor::strides() const { return impl_ ? impl_->strides : kEmptyShape; }
int64_t Tensor::size(int64_t d) const { return shape()[wrap_axis(d, dim(), "size")]; }
int64_t Tensor::numel() const { return impl_ ? liteai::numel(impl_->shape) : 0; }
int64_t Tensor::offset() const { return impl_ ? impl_->offset : 0; }
DType Tensor::dtype() const { return need(impl_, "dtype").dtype; }
const std::shared_ptr<Storage>& Tensor::storage() const { return need(impl_, "storage").storage; }
bool Tensor::is_contiguous() const {
  if (!impl_) return true;
  int64_t expect = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expect) return false;
    expect *= impl_->shape[i];
  }
  return true;
}
std::string Tensor::describe() const {
  if (!impl_) return "Tensor(undefined)";
  return "Tensor" + to_string(shape()) + " " + dtype_name(dtype());
}

// ---- data access ----
float* Tensor::data() {
  LAI_CHECK(need(impl_, "data").dtype == DType::f32, "data(): tensor is ", dtype_name(impl_->dtype), ", not f32");
  return static_cast<float*>(impl_->storage->data()) + impl_->offset;
}
const float* Tensor::data() const { return const_cast<Tensor*>(this)->data(); }
uint16_t* Tensor::data_bf16() {
  LAI_CHECK(need(impl_, "data").dtype == DType::bf16, "data_bf16(): tensor is ", dtype_name(impl_->dtype));
  return static_cast<uint16_t*>(impl_->storage->data()) + impl_->offset;
}
const uint16_t* Tensor::data_bf16() const { return const_cast<Tensor*>(this)->data_bf16(); }
uint8_t* Tensor::data_u8() {
  LAI_CHECK(need(impl_, "data").dtype == DType::u8, "data_u8(): tensor is ", dtype_name(impl_->dtype));
  return static_cast<uint8_t*>(impl_->storage->data()) + impl_->offset;
}
const uint8_t* Tensor::data_u8() const { return const_cast<Tensor*>(this)->data_u8(); }
uint16_t* Tensor::data_u16() {
  LAI_CHECK(need(impl_, "data").dtype == DType::u16, "data_u16(): tensor is ", dtype_name(impl_->dtype));
  return static_cast<uint16_t*>(impl_->storage->data()) + impl_->offset;
}
const uint16_t* Tensor::data_u16() const { return const_cast<Tensor*>(this)->data_u16(); }
uint32_t* Tensor::data_u32() {
  LAI_CHECK(need(impl_, "data").dtype == DType::u32, "data_u32(): tensor is ", dtype_name(impl_->dtype));
  return static_cast<uint32_t*>(impl_->storage->data()) + impl_->offset;
}
const uint32_t* Tensor::data_u32() const { return const_cast<Tensor*>(this)->data_u32(); }
void* Tensor::raw_data() {
  TensorImpl& t = need(impl_, "raw_data");
  return static_cast<char*>(t.storage->data()) + t.offset * int64_t(dtype_size(t.dtype));
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  if (v.empty()) return v;
  if (dtype() == DType::bf16) return to(DType::f32).to_vector();
  if (is_integer(dtype())) {
    LAI_CHECK(is_contiguous(), "to_vector: strided ", dtype_name(dtype()), " tensors are not supported");
    const int64_t n = numel();
    if (dtype() == DType::u8) std::copy(data_u8(), data_u8() + n, v.begin());
    if (dtype() == DType::u16) std::copy(data_u16(), data_u16() + n, v.begin());
    if (dtype() == DType::u32) std::copy(data_u32(), data_u32() + n, v.begin());
    return v;
  }
  gather(*this, v.data());
  return v;
}
float Tensor::item() const {
  LAI_CHECK(numel() == 1, "item(): tensor has ", numel(), " elements (shape ", to_string(shape()), ")");
  return to_vector()[0];
}
float Tensor::at(std::initializer_list<int64_t> index) const {
  LAI_CHECK(static_cast<int64_t>(index.size()) == dim(), "at(): ", index.size(), " indices for shape ",
            to_string(shape()));
  int64_t off = offset(), d = 0;
  for (int64_t i : index) {
    LAI_CHECK(i >= 0 && i < shape()[d], "at(): index ", i, " out of range for dim ", d, " of ", to_string(shape()));
    off += i * strides()[d++];
  }
  if (dtype() == DType::bf16) return bf16_to_f32(static_cast<const uint16_t*>(storage()->data())[off]);
  if (dtype() == DType::u8) return static_cast<const uint8_t*>(storage()->data())[off];
  if (dtype() == DType::u16) return static_cast<const uint16_t*>(storage()->data())[off];
  if (dtype() == DType::u32) return float(static_cast<const uint32_t*>(storage()->data())[off]);
  return static_cast<const float*>(storage()->data())[off];
}

// ---- copies ----
Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  if (dtype() != DType::f32) {
    LAI_CHECK(is_contiguous(), "clone: strided ", dtype_name(dtype()), " tensors are not supported");
    std::memcpy(out.raw_data(), raw_data(), size_t(numel()) * dtype_size(dtype()));
    return out;
  }
  gather(*this, out.data());
  return autograd::record("clone", out, {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}
Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  LAI_CHECK(!is_integer(t) && !is_integer(dtype()), "to: integer tensors hold raw values and convert to nothing (",
            dtype_name(dtype()), " -> ", dtype_name(t), ")");
  Tensor src = contiguous();
  Tensor out = empty(shape(), t);
  const int64_t n = numel();
  if (t == DType::bf16) {
    const float* s = src.data();
    uint16_t* d = out.data_bf16();
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(s[i]);
  } else {
    const uint16_t* s = src.data_bf16();
    float* d = out.data();
    for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_f32(s[i]);
  }
  return out;
}

namespace {
void check_writable(const Tensor& t, const char* op) {
  LAI_CHECK(!t.storage()->read_only(), op, ": the tensor is a read-only mapping of a model file (load the model ",
            "without mapping to change its weights)");
}
}  // namespace

void Tensor::copy_from(const Tensor& src) {
  LAI_CHECK(shape() == src.shape(), "copy_from: shape ", to_string(src.shape()), " into ", to_string(shape()));
  check_writable(*this, "copy_from");
  if (is_integer(dtype()) || is_integer(src.dtype())) {
    LAI_CHECK(dtype() == src.dtype() && is_contiguous() && src.is_contiguous(),
              "copy_from: integer copies need two contiguous tensors of one type (", dtype_name(src.dtype()),
              " into ", dtype_name(dtype()), ")");
    std::memcpy(raw_data(), src.raw_data(), size_t(numel()) * dtype_size(dtype()));
    return;
  }
  if (dtype() == DType::bf16) {  // bf16 weights (a trainer's bf16 master weights, resumed): rounded to nearest
    LAI_CHECK(is_contiguous(), "copy_from: a bf16 destination must be contiguous");
    const Tensor s = src.dtype() == DType::bf16 ? src.contiguous() : src.to(DType::bf16);
    std::memcpy(raw_data(), s.raw_data(), size_t(numel()) * 2);
    return;
  }
  Tensor s = src.dtype() == DType::f32 ? src : src.to(DType::f32);
  if (is_contiguous()) {
    gather(s, data());
    return;
  }
  std::vector<float> tmp(static_cast<size_t>(numel()));
  gather(s, tmp.data());
  float* d = data();
  int64_t pos = 0;
  for_each_run<1>(shape(), {&strides()}, [&](int64_t n, auto off, auto inner) {
    for (int64_t i = 0; i < n; ++i) d[off[0] + i * inner[0]] = tmp[pos + i];
    pos += n;
  });
}

void Tensor::fill_(float value) {
  check_writable(*this, "fill_");
  float* d = data();
  for_each_run<1>(shape(), {&strides()}, [&](int64_t n, auto off, auto inner) {
    for (int64_t i = 0; i < n; ++i) d[off[0] + i * inner[0]] = value;
  });
}

// ---- views ----
static Shape infer_shape(Shape shape, int64_t n, const char* op, const Shape& from) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      LAI_CHECK(infer < 0, op, ": more than one -1 in ", to_string(shape));
      infer = static_cast<int64_t>(i);
    } else {
      LAI_CHECK(shape[i] >= 0, op, ": negative size in ", to_string(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    LAI_CHECK(known > 0 && n % known == 0, op, ": cannot reshape ", to_string(from), " into ", to_string(shape));
    shape[infer] = n / known;
  }
  LAI_CHECK(liteai::numel(shape) == n, op, ": cannot reshape ", to_string(from), " (", n, " elements) into ",
            to_string(shape));
  return shape;
}

Tensor Tensor::view(const Shape& s) const {
  Shape shape = infer_shape(s, numel(), "view", this->shape());
  LAI_CHECK(is_contiguous(), "view: tensor ", to_string(this->shape()), " is not contiguous; use reshape()");
  Tensor out = make_view(*this, shape, contiguous_strides(shape), offset());
  Shape in_shape = this->shape();
  return autograd::record("view", out, {*this}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(in_shape)};
  });
}

Tensor Tensor::reshape(const Shape& s) const {
  return is_contiguous() ? view(s) : clone().view(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  int64_t nd = dim();
  if (nd == 0) return reshape({1});
  start = wrap_axis(start, nd, "flatten");
  end = wrap_axis(end, nd, "flatten");
  LAI_CHECK(start <= end, "flatten: start_dim ", start, " > end_dim ", end);
  Shape s;
  for (int64_t i = 0; i < start; ++i) s.push_back(shape()[i]);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[i];
  s.push_back(m);
  for (int64_t i = end + 1; i < nd; ++i) s.push_back(shape()[i]);
  return reshape(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  const int64_t nd = dim();
  LAI_CHECK(static_cast<int64_t>(dims.size()) == nd, "permute: ", dims.size(), " dims for a tensor of rank ", nd);
  std::vector<int64_t> p(dims.size()), inv(dims.size(), -1);
  Shape s(nd), st(nd);
  for (int64_t i = 0; i < nd; ++i) {
    p[i] = wrap_axis(dims[i], nd, "permute");
    LAI_CHECK(inv[p[i]] < 0, "permute: dimension ", p[i], " repeated");
    inv[p[i]] = i;
    s[i] = shape()[p[i]];
    st[i] = strides()[p[i]];
  }
  Tensor out = make_view(*this, s, st, offset());
  return autograd::record("permute", out, {*this}, [inv](const Tensor& g) {
    return std::vector<Tensor>{g.permute(inv)};
  });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  const int64_t nd = dim();
  d0 = wrap_axis(d0, nd, "transpose");
  d1 = wrap_axis(d1, nd, "transpose");
  std::vector<int64_t> p(nd);
  for (int64_t i = 0; i < nd; ++i) p[i] = i;
  std::swap(p[d0], p[d1]);
  return permute(p);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_axis(d, dim(), "slice");
  LAI_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[d]);
  Shape in_shape = shape();
  return autograd::record("slice", out, {*this}, [in_shape, d, start, end, step](const Tensor& g) {
    Tensor full = Tensor::zeros(in_shape);
    full.slice(d, start, end, step).copy_from(g);
    return std::vector<Tensor>{full};
  });
}

Tensor Tensor::expand(const Shape& target) const {
  LAI_CHECK(target.size() >= shape().size(), "expand: cannot expand ", to_string(shape()), " to ", to_string(target));
  Shape out_shape = broadcast_shapes(shape(), target, "expand");
  LAI_CHECK(out_shape == target, "expand: cannot expand ", to_string(shape()), " to ", to_string(target));
  Tensor out = make_view(*this, target, broadcast_strides(shape(), strides(), target), offset());
  Shape in_shape = shape();
  return autograd::record("expand", out, {*this}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{autograd::sum_to(g, in_shape)};
  });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_axis(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_axis(d, dim(), "squeeze");
  LAI_CHECK(shape()[d] == 1, "squeeze: dimension ", d, " of ", to_string(shape()), " is not 1");
  Shape s = shape();
  s.erase(s.begin() + d);
  return reshape(s);
}

// ---- autograd ----
namespace {
// autograd::OnlyLeaf: while active, leaves other than `t_only_allowed` need no gradient.
thread_local bool t_only_active = false;
thread_local const void* t_only_allowed = nullptr;
}  // namespace
namespace autograd {
OnlyLeaf::OnlyLeaf() : prev_allowed_(t_only_allowed), prev_active_(t_only_active) {
  t_only_active = true;
  t_only_allowed = nullptr;
}
OnlyLeaf::~OnlyLeaf() {
  t_only_active = prev_active_;
  t_only_allowed = prev_allowed_;
}
void OnlyLeaf::allow(const Tensor& leaf) { t_only_allowed = leaf.impl(); }
}  // namespace autograd

bool Tensor::requires_grad() const {
  if (!impl_ || !impl_->requires_grad) return false;
  return !t_only_active || impl_->grad_fn || impl_.get() == t_only_allowed;
}
Tensor& Tensor::set_requires_grad(bool v) {
  need(impl_, "set_requires_grad").requires_grad = v;
  return *this;
}
Tensor Tensor::grad() const { return impl_ && impl_->grad ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) { need(impl_, "set_grad").grad = g.impl_ptr(); }
void Tensor::zero_grad() {
  if (impl_) impl_->grad.reset();
}
void Tensor::backward(const Tensor& grad_output, bool keep_graph) const {
  autograd::run_backward(*this, grad_output, keep_graph);
}
Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), offset());
}
const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> none;
  return impl_ ? impl_->grad_fn : none;
}
void Tensor::set_grad_fn(std::shared_ptr<autograd::Node> fn) {
  need(impl_, "set_grad_fn").grad_fn = std::move(fn);
  if (impl_->grad_fn) impl_->requires_grad = true;
}
bool Tensor::is_leaf() const { return !grad_fn(); }

}  // namespace liteai
