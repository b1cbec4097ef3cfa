// Every differentiable op against central finite differences (double), including broadcasting
// and a tensor used more than once.
#include <catch2/catch.hpp>

#include "liteai/autograd/gradcheck.hpp"
#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"

using namespace liteai;
using Inputs = std::vector<Tensor>;

namespace {
Generator gen(11);
Tensor rnd(const Shape& s, float lo = -1.f, float hi = 1.f) { return rand_uniform(s, lo, hi, gen); }
// Values bounded away from zero (for kinks and divisions), random sign.
Tensor away(const Shape& s) {
  Tensor t = rnd(s, 0.3f, 1.5f);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (gen.uniform() < 0.5) t.data()[i] = -t.data()[i];
  return t;
}
void check(const char* name, const std::function<Tensor(const Inputs&)>& f, Inputs in,
           autograd::GradcheckOptions o = {}) {
  INFO(name);
  auto r = autograd::gradcheck(f, std::move(in), o);
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("gradcheck: broadcasting binary ops") {
  check("add", [](const Inputs& x) { return ops::add(x[0], x[1]); }, {rnd({3, 4}), rnd({4})});
  check("add outer", [](const Inputs& x) { return ops::add(x[0], x[1]); }, {rnd({3, 1}), rnd({1, 5})});
  check("sub", [](const Inputs& x) { return ops::sub(x[0], x[1]); }, {rnd({2, 3, 4}), rnd({3, 1})});
  check("mul", [](const Inputs& x) { return ops::mul(x[0], x[1]); }, {rnd({2, 3}), rnd({2, 1})});
  check("div", [](const Inputs& x) { return ops::div(x[0], x[1]); }, {rnd({4, 3}), rnd({3}, 0.5f, 2.f)});
  check("mul same tensor", [](const Inputs& x) { return ops::mul(x[0], x[0]); }, {rnd({5})});
  check("x*y + x", [](const Inputs& x) { return ops::add(ops::mul(x[0], x[1]), x[0]); }, {rnd({3, 2}), rnd({3, 2})});
  check("neg", [](const Inputs& x) { return ops::neg(x[0]); }, {rnd({4})});
  check("scalars", [](const Inputs& x) { return (x[0] * 3.f + 1.f) / 2.f - 0.5f; }, {rnd({4})});
}

TEST_CASE("gradcheck: unary ops") {
  check("exp", [](const Inputs& x) { return ops::exp(x[0]); }, {rnd({6})});
  check("log", [](const Inputs& x) { return ops::log(x[0]); }, {rnd({6}, 0.5f, 3.f)});
  check("sqrt", [](const Inputs& x) { return ops::sqrt(x[0]); }, {rnd({6}, 0.5f, 3.f)});
  check("pow", [](const Inputs& x) { return ops::pow(x[0], 3.f); }, {rnd({6})});
  check("pow frac", [](const Inputs& x) { return ops::pow(x[0], 0.5f); }, {rnd({6}, 0.5f, 3.f)});
  check("abs", [](const Inputs& x) { return ops::abs(x[0]); }, {away({6})});
  check("relu", [](const Inputs& x) { return ops::relu(x[0]); }, {away({6})});
  check("sigmoid", [](const Inputs& x) { return ops::sigmoid(x[0]); }, {rnd({6}, -4, 4)});
  check("tanh", [](const Inputs& x) { return ops::tanh(x[0]); }, {rnd({6}, -2, 2)});
  check("swish", [](const Inputs& x) { return ops::swish(x[0]); }, {rnd({6}, -4, 4)});
  check("clamp", [](const Inputs& x) { return ops::clamp(x[0], -0.2f, 0.2f); }, {away({8})});
}

TEST_CASE("gradcheck: reductions") {
  check("sum all", [](const Inputs& x) { return ops::sum(x[0]); }, {rnd({3, 4})});
  check("sum axis", [](const Inputs& x) { return ops::sum(x[0], {1}); }, {rnd({3, 4, 2})});
  check("sum axes keep", [](const Inputs& x) { return ops::sum(x[0], {0, 2}, true); }, {rnd({3, 4, 2})});
  check("mean", [](const Inputs& x) { return ops::mean(x[0]); }, {rnd({3, 4})});
  check("mean axis", [](const Inputs& x) { return ops::mean(x[0], {-1}); }, {rnd({3, 4})});
  check("max", [](const Inputs& x) { return ops::max(x[0], 1); }, {Tensor::from_vector({1, 5, 2, 7, 3, 4}, {2, 3})});
}

TEST_CASE("gradcheck: matmul and linear") {
  check("matmul 2d", [](const Inputs& x) { return ops::matmul(x[0], x[1]); }, {rnd({3, 5}), rnd({5, 4})});
  check("matmul batched bcast", [](const Inputs& x) { return ops::matmul(x[0], x[1]); }, {rnd({2, 3, 5}), rnd({5, 4})});
  check("matmul 1d", [](const Inputs& x) { return ops::matmul(x[0], x[1]); }, {rnd({5}), rnd({5, 3})});
  check("matmul vec", [](const Inputs& x) { return ops::matmul(x[0], x[1]); }, {rnd({4, 5}), rnd({5})});
  check("matmul transposed view", [](const Inputs& x) { return ops::matmul(x[0].transpose(0, 1), x[1]); },
        {rnd({5, 3}), rnd({5, 2})});
  check("linear", [](const Inputs& x) { return ops::linear(x[0], x[1], x[2]); }, {rnd({4, 6}), rnd({6, 3}), rnd({3})});
}

TEST_CASE("gradcheck: softmax family") {
  check("softmax last", [](const Inputs& x) { return ops::softmax(x[0]); }, {rnd({3, 5}, -2, 2)});
  check("softmax axis0", [](const Inputs& x) { return ops::softmax(x[0], 0); }, {rnd({4, 3}, -2, 2)});
  check("log_softmax", [](const Inputs& x) { return ops::log_softmax(x[0], 1); }, {rnd({2, 4, 3}, -2, 2)});
}

TEST_CASE("gradcheck: shape ops") {
  check("reshape", [](const Inputs& x) { return ops::mul(ops::reshape(x[0], {3, 4}), x[1]); }, {rnd({2, 6}), rnd({3, 4})});
  check("transpose", [](const Inputs& x) { return ops::mul(ops::transpose(x[0], 0, 1), x[1]); }, {rnd({2, 3}), rnd({3, 2})});
  check("permute", [](const Inputs& x) { return ops::mul(ops::permute(x[0], {2, 0, 1}), x[1]); },
        {rnd({2, 3, 4}), rnd({4, 2, 3})});
  check("slice", [](const Inputs& x) { return ops::mul(ops::slice(x[0], 1, 1, 5, 2), x[1]); }, {rnd({3, 6}), rnd({3, 2})});
  check("concat", [](const Inputs& x) { return ops::mul(ops::concat({x[0], x[1], x[0]}, 1), x[2]); },
        {rnd({2, 2}), rnd({2, 3}), rnd({2, 7})});
  check("expand", [](const Inputs& x) { return ops::mul(x[0].expand({4, 3}), x[1]); }, {rnd({1, 3}), rnd({4, 3})});
}

TEST_CASE("gradcheck: convolution, pooling, upsampling") {
  autograd::GradcheckOptions o;
  o.max_checks_per_input = 64;
  check("conv2d same", [](const Inputs& x) { ops::Conv2dOptions c; c.same = true; return ops::conv2d(x[0], x[1], x[2], c); },
        {rnd({2, 3, 6, 5}), rnd({4, 3, 3, 3}), rnd({4})}, o);
  check("conv2d stride pad dil", [](const Inputs& x) {
          ops::Conv2dOptions c; c.stride = 2; c.padding = 1; c.dilation = 2;
          return ops::conv2d(x[0], x[1], x[2], c); },
        {rnd({1, 2, 7, 8}), rnd({3, 2, 3, 2}), rnd({3})}, o);
  check("conv2d no bias", [](const Inputs& x) { return ops::conv2d(x[0], x[1], Tensor()); },
        {rnd({1, 1, 5, 5}), rnd({2, 1, 3, 3})}, o);
  check("conv2d_swish", [](const Inputs& x) { ops::Conv2dOptions c; c.same = true; return ops::conv2d_swish(x[0], x[1], x[2], c); },
        {rnd({2, 2, 5, 5}), rnd({3, 2, 3, 3}), rnd({3})}, o);
  check("conv_transpose2d", [](const Inputs& x) { return ops::conv_transpose2d(x[0], x[1], x[2], 2, 1); },
        {rnd({1, 3, 4, 4}), rnd({3, 2, 3, 3}), rnd({2})}, o);
  check("avg_pool2d", [](const Inputs& x) { return ops::avg_pool2d(x[0], 2); }, {rnd({2, 3, 6, 4})}, o);
  check("avg_pool2d stride1", [](const Inputs& x) { return ops::avg_pool2d(x[0], 3, 1); }, {rnd({1, 2, 5, 5})}, o);
  // max pool: distinct values so the argmax is stable under the finite-difference step
  Tensor mp = Tensor::arange(2 * 36).reshape({1, 2, 6, 6}).detach();
  for (int64_t i = 0; i < mp.numel(); ++i) mp.data()[i] = static_cast<float>((i * 37) % 72) * 0.1f;
  check("max_pool2d", [](const Inputs& x) { return ops::max_pool2d(x[0], 2); }, {mp}, o);
  check("upsample", [](const Inputs& x) { return ops::upsample_nearest2d(x[0], 2); }, {rnd({1, 2, 3, 3})}, o);
}

TEST_CASE("gradcheck: losses") {
  Tensor target = Tensor::from_vector({0, 2, 1, 2}, {4});
  check("cross_entropy", [target](const Inputs& x) { return ops::cross_entropy(x[0], target); }, {rnd({4, 3}, -2, 2)});
  Tensor q = ops::softmax(rnd({4, 3}, -1, 1));
  check("soft_cross_entropy", [q](const Inputs& x) { return ops::soft_cross_entropy(x[0], q); }, {rnd({4, 3}, -2, 2)});
  Tensor t = Tensor::from_vector({1, 0, 0, 1, 1, 0}, {2, 3});
  check("bce", [t](const Inputs& x) { return ops::binary_cross_entropy_with_logits(x[0], t); }, {rnd({2, 3}, -3, 3)});
  check("mse", [](const Inputs& x) { return ops::mse(x[0], x[1]); }, {rnd({3, 2}), rnd({3, 2})});
}

TEST_CASE("forward values against hand-computed results") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2});
  REQUIRE(ops::matmul(a, b).to_vector() == std::vector<float>{4, 5, 10, 11});
  REQUIRE(ops::sum(a, {0}).to_vector() == std::vector<float>{5, 7, 9});
  REQUIRE(ops::mean(a, {1}).to_vector() == std::vector<float>{2, 5});
  REQUIRE(ops::argmax(a, 1).to_vector() == std::vector<float>{2, 2});
  std::vector<float> s = ops::softmax(Tensor::from_vector({0, 0, 1000}, {1, 3})).to_vector();
  REQUIRE(s[2] == Approx(1.f));
  REQUIRE(s[0] == Approx(0.f).margin(1e-30));
  std::vector<float> ls = ops::log_softmax(Tensor::from_vector({1000, 0}, {1, 2})).to_vector();
  REQUIRE(std::isfinite(ls[1]));
  REQUIRE(ls[1] == Approx(-1000.f));
  // cross entropy of uniform logits = log(C)
  REQUIRE(ops::cross_entropy(Tensor::zeros({2, 4}), Tensor::from_vector({1, 3}, {2})).item() == Approx(std::log(4.f)));
  // conv with a delta kernel is the identity
  Tensor x = rnd({1, 1, 4, 4});
  Tensor w = Tensor::zeros({1, 1, 3, 3});
  w.data()[4] = 1.f;
  ops::Conv2dOptions same;
  same.same = true;
  std::vector<float> y = ops::conv2d(x, w, Tensor(), same).to_vector(), xv = x.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) REQUIRE(y[i] == Approx(xv[i]));
}

TEST_CASE("ops reject bad shapes with messages naming them") {
  REQUIRE_THROWS_WITH(ops::add(Tensor::zeros({2, 3}), Tensor::zeros({4})), Catch::Contains("add") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 2})), Catch::Contains("not aligned"));
  REQUIRE_THROWS_WITH(ops::conv2d(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({4, 1, 3, 3}), Tensor()),
                      Catch::Contains("3 channels") && Catch::Contains("expects 1"));
  REQUIRE_THROWS_WITH(ops::conv2d(Tensor::zeros({3, 8, 8}), Tensor::zeros({4, 3, 3, 3}), Tensor()), Catch::Contains("[N, C, H, W]"));
  REQUIRE_THROWS_WITH(ops::cross_entropy(Tensor::zeros({2, 3}), Tensor::from_vector({0, 3}, {2})), Catch::Contains("class index"));
  REQUIRE_THROWS_WITH(ops::linear(Tensor::zeros({2, 5}), Tensor::zeros({4, 3}), Tensor()), Catch::Contains("5 features"));
  REQUIRE_THROWS_WITH(ops::avg_pool2d(Tensor::zeros({1, 1, 1, 1}), 2), Catch::Contains("window"));
  REQUIRE_THROWS_WITH(ops::softmax(Tensor::zeros({2, 2}), 3), Catch::Contains("axis"));
}

TEST_CASE("a forward pass that never runs backward frees everything") {
  const size_t before = storage_bytes_in_use();
  {
    Tensor x = rnd({4, 3}).set_requires_grad();
    Tensor y = ops::softmax(ops::relu(ops::sigmoid(ops::tanh(ops::exp(ops::sqrt(ops::div(ops::abs(x), x + 5.f)))))));
    Tensor z = ops::log_softmax(y);
    REQUIRE(z.requires_grad());
  }
  REQUIRE(storage_bytes_in_use() == before);
}

TEST_CASE("conv2d_swish keeping its pre-activation in bf16: the same forward, gradients within bf16 rounding") {
  ops::Conv2dOptions c;
  c.same = true;
  Tensor x0 = rnd({2, 8, 9, 21}), w0 = rnd({5, 8, 3, 3}), b0 = rnd({5});
  Tensor r = rnd({2, 5, 9, 21});  // loss = sum(r * y)
  auto run = [&](bool keep_bf16) {
    Tensor x = x0.detach().clone(), w = w0.detach().clone(), b = b0.detach().clone();
    x.set_requires_grad(true), w.set_requires_grad(true), b.set_requires_grad(true);
    Tensor y = ops::conv2d_swish(x, w, b, c, keep_bf16);
    ops::sum(ops::mul(y, r)).backward();
    return std::vector<Tensor>{y.detach(), x.grad(), w.grad(), b.grad()};
  };
  const auto exact = run(false), kept = run(true);
  REQUIRE(kept[0].to_vector() == exact[0].to_vector());
  for (size_t i = 1; i < exact.size(); ++i) {
    const auto e = exact[i].to_vector(), k = kept[i].to_vector();
    double worst = 0, scale = 0, differ = 0;
    for (size_t j = 0; j < e.size(); ++j) {
      worst = std::max(worst, std::fabs(double(e[j]) - k[j]));
      scale = std::max(scale, std::fabs(double(e[j])));
      differ += e[j] != k[j];
    }
    INFO("gradient " << i << " worst difference " << worst << " of " << scale);
    REQUIRE(differ > 0);               // the bf16 path really ran
    REQUIRE(worst <= 1e-2 * scale);    // swish' of a value rounded to 8 bits of mantissa
  }
}

TEST_CASE("conv2d_relu: the same values and gradients as relu(conv2d)") {
  ops::Conv2dOptions c;
  c.same = true;
  Tensor x0 = rnd({2, 3, 7, 30}), w0 = rnd({4, 3, 3, 3}), b0 = rnd({4}), r = rnd({2, 4, 7, 30});
  auto run = [&](bool fused) {
    Tensor x = x0.detach().clone(), w = w0.detach().clone(), b = b0.detach().clone();
    x.set_requires_grad(true), w.set_requires_grad(true), b.set_requires_grad(true);
    Tensor y = fused ? ops::conv2d_relu(x, w, b, c) : ops::relu(ops::conv2d(x, w, b, c));
    ops::sum(ops::mul(y, r)).backward();
    return std::vector<std::vector<float>>{y.to_vector(), x.grad().to_vector(), w.grad().to_vector(),
                                           b.grad().to_vector()};
  };
  const auto fused = run(true), separate = run(false);
  size_t zeros = 0;
  for (float v : fused[0]) zeros += v == 0.f;
  REQUIRE(zeros > 0);  // the kink is exercised
  for (size_t i = 0; i < fused.size(); ++i) REQUIRE(fused[i] == separate[i]);
}
