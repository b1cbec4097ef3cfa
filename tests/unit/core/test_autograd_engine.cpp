#include <catch2/catch.hpp>

#include "liteai/autograd/autograd.hpp"
#include "liteai/autograd/gradcheck.hpp"
#include "liteai/core/random.hpp"

using namespace liteai;
using autograd::record;

// A tiny differentiable op defined right here so the engine is tested without the ops layer:
// scale(x, s) = s * x elementwise.
static Tensor scale(const Tensor& x, float s) {
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = s * xc.data()[i];
  return record("scale", out, {x}, [s](const Tensor& g) { return std::vector<Tensor>{scale(g, s)}; });
}
// sum of all elements
static Tensor total(const Tensor& x) {
  Tensor out = Tensor::scalar(0.f);
  for (float v : x.to_vector()) out.data()[0] += v;
  Shape s = x.shape();
  return record("total", out, {x}, [s](const Tensor& g) { return std::vector<Tensor>{Tensor::full(s, g.item())}; });
}
// elementwise product of two same-shape tensors
static Tensor times(const Tensor& a, const Tensor& b) {
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor out = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) out.data()[i] = ac.data()[i] * bc.data()[i];
  return record("times", out, {a, b}, [ac, bc](const Tensor& g) {
    return std::vector<Tensor>{times(g, bc), times(g, ac)};
  });
}

TEST_CASE("backward through a chain and a tensor used twice") {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad();
  Tensor y = times(x, x);  // x used twice: dy/dx = 2x
  total(scale(y, 3.f)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{6, 12, 18});
  // Gradients accumulate across backward calls until zeroed.
  total(x).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{7, 13, 19});
  x.zero_grad();
  REQUIRE(!x.grad().defined());
}

TEST_CASE("diamond graph: gradient accumulates from both branches") {
  Tensor x = Tensor::from_vector({1, -2}, {2}).set_requires_grad();
  Tensor a = scale(x, 2.f), b = scale(x, 5.f);
  total(times(a, b)).backward();  // 10 x^2 -> 20 x
  REQUIRE(x.grad().to_vector() == std::vector<float>{20, -40});
}

TEST_CASE("views are differentiable") {
  Tensor x = Tensor::arange(6).reshape({2, 3}).detach().set_requires_grad();
  Tensor y = x.transpose(0, 1).slice(0, 1, 3);  // [2, 2]: columns 1, 2 of x
  total(scale(y.contiguous(), 2.f)).backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{0, 2, 2, 0, 2, 2});
  Tensor z = Tensor::from_vector({1, 2}, {2, 1}).set_requires_grad();
  total(z.expand({2, 3})).backward();
  REQUIRE(z.grad().to_vector() == std::vector<float>{3, 3});
}

TEST_CASE("NoGrad, detach and requires_grad propagation") {
  Tensor x = Tensor::ones({2}).set_requires_grad();
  {
    autograd::NoGrad ng;
    Tensor y = scale(x, 2.f);
    REQUIRE(!y.requires_grad());
  }
  Tensor y = scale(x, 2.f);
  REQUIRE(y.requires_grad());
  REQUIRE(!y.is_leaf());
  Tensor d = y.detach();
  REQUIRE(!d.requires_grad());
  REQUIRE(d.storage() == y.storage());
  Tensor c = Tensor::ones({2});
  REQUIRE(!scale(c, 2.f).requires_grad());
}

TEST_CASE("backward errors are clear") {
  Tensor c = Tensor::ones({2});
  REQUIRE_THROWS_WITH(total(c).backward(), Catch::Contains("does not require grad"));
  Tensor x = Tensor::ones({2}).set_requires_grad();
  REQUIRE_THROWS_WITH(scale(x, 2.f).backward(), Catch::Contains("scalars"));
  Tensor loss = total(scale(x, 2.f));
  loss.backward();
  REQUIRE_THROWS_WITH(loss.backward(), Catch::Contains("second time"));
  Tensor kept = total(scale(x, 2.f));
  x.zero_grad();
  kept.backward(Tensor(), true);
  kept.backward();
  REQUIRE(x.grad().to_vector() == std::vector<float>{4, 4});
}

TEST_CASE("graph memory is released after backward") {
  size_t before = storage_bytes_in_use();
  Tensor x = Tensor::ones({1000}).set_requires_grad();
  {
    Tensor loss = total(times(scale(x, 2.f), scale(x, 3.f)));
    loss.backward();
  }
  x.zero_grad();
  REQUIRE(storage_bytes_in_use() == before + 4000);  // only x is left
}

TEST_CASE("grad hooks consume the gradient") {
  Tensor x = Tensor::ones({3}).set_requires_grad();
  std::vector<float> seen;
  x.impl()->grad_hook = [&](const Tensor& g) { seen = g.to_vector(); };
  total(scale(x, 4.f)).backward();
  REQUIRE(seen == std::vector<float>{4, 4, 4});
  REQUIRE(!x.grad().defined());
}

TEST_CASE("gradcheck detects a wrong backward") {
  auto wrong = [](const std::vector<Tensor>& in) {
    Tensor x = in[0];
    Tensor out = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = x.data()[i] * x.data()[i];
    return record("square_wrong", out, {x}, [x](const Tensor& g) { return std::vector<Tensor>{times(g, x)}; });
  };
  auto right = [](const std::vector<Tensor>& in) { return times(in[0], in[0]); };
  Generator g(3);
  Tensor x = rand_uniform({5}, 0.5f, 2.f, g);
  REQUIRE(autograd::gradcheck(right, {x}).ok);
  auto r = autograd::gradcheck(wrong, {x});
  REQUIRE(!r.ok);
  REQUIRE_THAT(r.message, Catch::Contains("analytic"));
}
