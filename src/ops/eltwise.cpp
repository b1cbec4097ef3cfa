// Element-wise ops with NumPy broadcasting, and their gradients.
#include <cmath>

#include "kernels/graph_kernels.hpp"
#include "kernels/kernels.hpp"
#include "liteai/core/strided.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::ops {

using autograd::record;
using autograd::sum_to;
using GradList = std::vector<Tensor>;

// Backward closures that need an op's own output capture out.detach(): the same storage without
// the autograd history, so the output does not own (through its node) a closure owning itself.

namespace {

using VecFn = void (*)(int64_t, const float*, const float*, float*);

// out = f(a, b) with broadcasting. Same-shape contiguous inputs go straight to the vector kernel.
template <class F>
Tensor broadcast_binary(const char* op, const Tensor& a, const Tensor& b, VecFn vec, F scalar) {
  LAI_CHECK(a.defined() && b.defined(), op, ": undefined input");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape);
  float* o = out.data();
  const float* pa = a.data();
  const float* pb = b.data();
  if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
    vec(out.numel(), pa, pb, o);
    return out;
  }
  const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
  const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
  int64_t pos = 0;
  for_each_run<2>(shape, {&sa, &sb}, [&](int64_t n, auto off, auto inner) {
    const float* x = pa + off[0];
    const float* y = pb + off[1];
    if (inner[0] == 1 && inner[1] == 1) {
      vec(n, x, y, o + pos);
    } else {
      for (int64_t i = 0; i < n; ++i) o[pos + i] = scalar(x[i * inner[0]], y[i * inner[1]]);
    }
    pos += n;
  });
  return out;
}

// out = f(x) for contiguous x.
template <class F>
Tensor map_unary(const Tensor& a, F f) {
  Tensor x = a.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* o = out.data();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = f(px[i]);
  return out;
}

using UnaryVec = void (*)(int64_t, const float*, float*);
Tensor vec_unary(const Tensor& a, UnaryVec vec) {
  Tensor x = a.contiguous();
  Tensor out = Tensor::empty(x.shape());
  vec(x.numel(), x.data(), out.data());
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary("add", a, b, kernels::vadd, [](float x, float y) { return x + y; });
  Shape sa = a.shape(), sb = b.shape();
  return record("add", out, {a, b}, [sa, sb](const Tensor& g) { return GradList{sum_to(g, sa), sum_to(g, sb)}; });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary("sub", a, b, kernels::vsub, [](float x, float y) { return x - y; });
  Shape sa = a.shape(), sb = b.shape();
  return record("sub", out, {a, b},
                [sa, sb](const Tensor& g) { return GradList{sum_to(g, sa), sum_to(neg(g), sb)}; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary("mul", a, b, kernels::vmul, [](float x, float y) { return x * y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record("mul", out, {a, b}, [a, b, ga, gb](const Tensor& g) {
    return GradList{ga ? sum_to(mul(g, b), a.shape()) : Tensor(), gb ? sum_to(mul(g, a), b.shape()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast_binary("div", a, b, kernels::vdiv, [](float x, float y) { return x / y; });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record("div", out, {a, b}, [a, b, out = out.detach(), ga, gb](const Tensor& g) {
    Tensor gdiv = div(g, b);
    return GradList{ga ? sum_to(gdiv, a.shape()) : Tensor(), gb ? sum_to(neg(mul(gdiv, out)), b.shape()) : Tensor()};
  });
}

Tensor neg(const Tensor& a) { return mul_scalar(a, -1.f); }

Tensor add_scalar(const Tensor& a, float s) {
  Tensor out = map_unary(a, [s](float x) { return x + s; });
  return record("add_scalar", out, {a}, [](const Tensor& g) { return GradList{g}; });
}

Tensor mul_scalar(const Tensor& a, float s) {
  Tensor x = a.contiguous();
  Tensor out = Tensor::empty(x.shape());
  kernels::vscale(x.numel(), s, x.data(), out.data());
  return record("mul_scalar", out, {a}, [s](const Tensor& g) { return GradList{mul_scalar(g, s)}; });
}

Tensor exp(const Tensor& a) {
  Tensor out = vec_unary(a, kernels::vexp);
  return record("exp", out, {a}, [out = out.detach()](const Tensor& g) { return GradList{mul(g, out)}; });
}

Tensor log(const Tensor& a) {
  Tensor out = vec_unary(a, kernels::vlog);
  return record("log", out, {a}, [a](const Tensor& g) { return GradList{div(g, a)}; });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return std::sqrt(x); });
  return record("sqrt", out, {a}, [out = out.detach()](const Tensor& g) { return GradList{div(mul_scalar(g, 0.5f), out)}; });
}

Tensor pow(const Tensor& a, float p) {
  Tensor out = map_unary(a, [p](float x) { return std::pow(x, p); });
  return record("pow", out, {a}, [a, p](const Tensor& g) {
    Tensor d = map_unary(a, [p](float x) { return p * std::pow(x, p - 1.f); });
    return GradList{mul(g, d)};
  });
}

Tensor abs(const Tensor& a) {
  Tensor out = map_unary(a, [](float x) { return std::fabs(x); });
  return record("abs", out, {a}, [a](const Tensor& g) {
    return GradList{mul(g, map_unary(a, [](float x) { return float((x > 0) - (x < 0)); }))};
  });
}

Tensor relu(const Tensor& a) {
  Tensor out = vec_unary(a, kernels::vrelu);
  return record("relu", out, {a}, [out = out.detach()](const Tensor& g) {
    Tensor gc = g.contiguous(), dx = Tensor::empty(out.shape());
    kernels::vrelu_backward(dx.numel(), out.data(), gc.data(), dx.data());
    return GradList{dx};
  });
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = vec_unary(a, kernels::vsigmoid);
  return record("sigmoid", out, {a}, [out = out.detach()](const Tensor& g) {
    return GradList{mul(g, map_unary(out, [](float y) { return y * (1.f - y); }))};
  });
}

Tensor tanh(const Tensor& a) {
  Tensor out = vec_unary(a, kernels::vtanh);
  return record("tanh", out, {a}, [out = out.detach()](const Tensor& g) {
    return GradList{mul(g, map_unary(out, [](float y) { return 1.f - y * y; }))};
  });
}

Tensor swish(const Tensor& a) {
  Tensor x = a.contiguous();
  Tensor out = vec_unary(x, kernels::vswish);
  return record("swish", out, {a}, [x](const Tensor& g) {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    kernels::vswish_backward(x.numel(), x.data(), gc.data(), dx.data());
    return GradList{dx};
  });
}

Tensor clamp(const Tensor& a, float lo, float hi) {
  LAI_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi);
  Tensor out = map_unary(a, [lo, hi](float x) { return x < lo ? lo : (x > hi ? hi : x); });
  return record("clamp", out, {a}, [a, lo, hi](const Tensor& g) {
    return GradList{mul(g, map_unary(a, [lo, hi](float x) { return (x >= lo && x <= hi) ? 1.f : 0.f; }))};
  });
}

}  // namespace liteai::ops

namespace liteai {
Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator-(const Tensor& a) { return ops::neg(a); }
Tensor operator+(const Tensor& a, float b) { return ops::add_scalar(a, b); }
Tensor operator-(const Tensor& a, float b) { return ops::add_scalar(a, -b); }
Tensor operator*(const Tensor& a, float b) { return ops::mul_scalar(a, b); }
Tensor operator/(const Tensor& a, float b) { return ops::mul_scalar(a, 1.f / b); }
Tensor operator*(float a, const Tensor& b) { return ops::mul_scalar(b, a); }
}  // namespace liteai

namespace liteai::ops {

Tensor leaky_relu(const Tensor& a, float alpha) {
  Tensor x = a.contiguous(), out = Tensor::empty(x.shape());
  kernels::vleaky_relu(x.numel(), alpha, x.data(), out.data());
  return record("leaky_relu", out, {a}, [x, alpha](const Tensor& g) {
    Tensor gc = g.contiguous(), dx = Tensor::empty(x.shape());
    kernels::vleaky_relu_backward(x.numel(), alpha, x.data(), gc.data(), dx.data());
    return GradList{dx};
  });
}

Tensor hard_sigmoid(const Tensor& a, float alpha, float beta) {
  Tensor x = a.contiguous(), out = Tensor::empty(x.shape());
  kernels::vhard_sigmoid(x.numel(), alpha, beta, x.data(), out.data());
  return record("hard_sigmoid", out, {a}, [x, alpha, beta](const Tensor& g) {
    Tensor gc = g.contiguous(), dx = Tensor::empty(x.shape());
    kernels::vhard_sigmoid_backward(x.numel(), alpha, beta, x.data(), gc.data(), dx.data());
    return GradList{dx};
  });
}

Tensor hard_swish(const Tensor& a) {
  Tensor x = a.contiguous(), out = Tensor::empty(x.shape());
  kernels::vhard_swish(x.numel(), x.data(), out.data());
  return record("hard_swish", out, {a}, [x](const Tensor& g) {
    Tensor gc = g.contiguous(), dx = Tensor::empty(x.shape());
    kernels::vhard_swish_backward(x.numel(), x.data(), gc.data(), dx.data());
    return GradList{dx};
  });
}

}  // namespace liteai::ops
