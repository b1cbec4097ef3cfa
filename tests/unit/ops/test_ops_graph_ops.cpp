// The general forms of the graph's operators: forward against naive references (double), backward
// against central finite differences (double) through autograd::gradcheck.
#include <catch2/catch.hpp>

#include <cmath>

#include "liteai/autograd/gradcheck.hpp"
#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"

using namespace liteai;
using Inputs = std::vector<Tensor>;

namespace {
Generator gen(21);
Tensor rnd(const Shape& s, float lo = -1.f, float hi = 1.f) { return rand_uniform(s, lo, hi, gen); }
// Distinct values `step` apart in random order (no max-pool ties within a gradcheck step).
Tensor distinct(const Shape& s, float step = 0.05f) {
  Tensor t = Tensor::empty(s);
  const int64_t n = t.numel();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(gen.below(uint64_t(i + 1)))]);
  for (int64_t i = 0; i < n; ++i) t.data()[i] = step * float(order[size_t(i)] - n / 2);
  return t;
}
void check(const char* name, const std::function<Tensor(const Inputs&)>& f, Inputs in,
           autograd::GradcheckOptions o = {}) {
  INFO(name);
  auto r = autograd::gradcheck(f, std::move(in), o);
  INFO(r.message);
  REQUIRE(r.ok);
}

ops::ConvGeometry geo(int64_t sh, int64_t sw, int64_t dh, int64_t dw, std::vector<int64_t> pads, int64_t groups) {
  ops::ConvGeometry g;
  g.stride_h = sh, g.stride_w = sw, g.dilation_h = dh, g.dilation_w = dw;
  g.pad_top = pads[0], g.pad_left = pads[1], g.pad_bottom = pads[2], g.pad_right = pads[3];
  g.groups = groups;
  return g;
}

// Direct convolution in double: any groups, pads per side.
std::vector<float> conv_ref(const Tensor& x, const Tensor& w, const Tensor& b, const ops::ConvGeometry& g) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), R = w.size(2), S = w.size(3);
  const int64_t cg = C / g.groups, kg = K / g.groups;
  const int64_t OH = (H + g.pad_top + g.pad_bottom - g.dilation_h * (R - 1) - 1) / g.stride_h + 1;
  const int64_t OW = (W + g.pad_left + g.pad_right - g.dilation_w * (S - 1) - 1) / g.stride_w + 1;
  std::vector<float> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b.defined() ? b.at({k}) : 0.0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ih = oh * g.stride_h - g.pad_top + r * g.dilation_h;
                const int64_t iw = ow * g.stride_w - g.pad_left + s * g.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += double(x.at({n, (k / kg) * cg + c, ih, iw})) * w.at({k, c, r, s});
              }
          y.push_back(float(acc));
        }
  return y;
}
}  // namespace

TEST_CASE("conv2d with groups, per-axis strides/dilations and asymmetric pads matches a direct reference", "[ops]") {
  struct C {
    Shape x, w;
    ops::ConvGeometry g;
  };
  const C cases[] = {
      {{2, 4, 9, 8}, {6, 2, 3, 3}, geo(1, 1, 1, 1, {1, 1, 1, 1}, 2)},      // 2 groups
      {{1, 6, 11, 10}, {6, 1, 3, 3}, geo(2, 2, 1, 1, {1, 1, 1, 1}, 6)},    // depthwise, stride 2
      {{1, 3, 10, 9}, {6, 1, 5, 5}, geo(1, 2, 1, 1, {2, 2, 2, 2}, 3)},     // depthwise multiplier 2
      {{2, 3, 9, 12}, {5, 3, 3, 3}, geo(2, 1, 1, 2, {0, 1, 1, 2}, 1)},     // asymmetric pads
      {{1, 4, 8, 8}, {4, 1, 3, 3}, geo(2, 2, 1, 1, {0, 0, 1, 1}, 4)},      // depthwise, TF 'SAME' stride 2
      {{1, 2, 7, 7}, {3, 2, 1, 1}, geo(1, 1, 1, 1, {0, 0, 0, 0}, 1)},      // 1x1
  };
  for (const C& c : cases) {
    Tensor x = rnd(c.x), w = rnd(c.w), b = rnd({c.w[0]});
    for (auto act : {ops::ConvAct::none, ops::ConvAct::relu, ops::ConvAct::swish}) {
      std::vector<float> want = conv_ref(x, w, b, c.g);
      for (float& v : want)
        v = act == ops::ConvAct::relu ? std::max(v, 0.f) : act == ops::ConvAct::swish ? v / (1.f + std::exp(-v)) : v;
      const std::vector<float> got = ops::conv2d(x, w, b, c.g, act).to_vector();
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) REQUIRE(std::fabs(got[i] - want[i]) < 1e-5);
    }
  }
}

TEST_CASE("gradcheck: grouped, depthwise and asymmetric convolutions", "[ops][gradcheck]") {
  check("grouped", [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], geo(1, 1, 1, 1, {1, 1, 1, 1}, 2)); },
        {rnd({2, 4, 5, 6}), rnd({4, 2, 3, 3}), rnd({4})});
  check("depthwise stride 2", [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], geo(2, 2, 1, 1, {1, 1, 1, 1}, 3)); },
        {rnd({2, 3, 7, 8}), rnd({3, 1, 3, 3}), rnd({3})});
  check("depthwise multiplier, dilation", [](const Inputs& x) {
          return ops::conv2d(x[0], x[1], x[2], geo(1, 2, 2, 1, {2, 1, 2, 1}, 2));
        },
        {rnd({1, 2, 8, 9}), rnd({4, 1, 3, 3}), rnd({4})});
  check("depthwise asymmetric", [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], geo(2, 2, 1, 1, {0, 0, 1, 1}, 2)); },
        {rnd({1, 2, 6, 7}), rnd({2, 1, 3, 3}), rnd({2})});
  check("dense asymmetric", [](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], geo(2, 1, 1, 1, {0, 1, 2, 0}, 1)); },
        {rnd({1, 2, 6, 5}), rnd({3, 2, 3, 2}), rnd({3})});
}

TEST_CASE("gradcheck: transposed convolution with output padding and uneven pads", "[ops][gradcheck]") {
  auto tg = [](int64_t s, std::vector<int64_t> p, int64_t op) {
    ops::ConvTransposeGeometry g;
    g.stride_h = g.stride_w = s;
    g.pad_top = p[0], g.pad_left = p[1], g.pad_bottom = p[2], g.pad_right = p[3];
    g.output_padding_h = g.output_padding_w = op;
    return g;
  };
  check("stride 2, output padding", [&](const Inputs& x) { return ops::conv_transpose2d(x[0], x[1], x[2], tg(2, {1, 1, 1, 1}, 1)); },
        {rnd({1, 3, 4, 5}), rnd({3, 2, 3, 3}), rnd({2})});
  check("uneven pads", [&](const Inputs& x) { return ops::conv_transpose2d(x[0], x[1], x[2], tg(2, {0, 1, 2, 0}, 0)); },
        {rnd({1, 2, 4, 4}), rnd({2, 2, 3, 3}), rnd({2})});
  // The uneven-pad path (full output, cropped) equals the symmetric path where both apply.
  Tensor x = rnd({1, 2, 5, 5}), w = rnd({2, 3, 3, 3});
  const auto a = ops::conv_transpose2d(x, w, Tensor(), tg(2, {1, 1, 1, 1}, 1)).to_vector();
  Tensor full = ops::conv_transpose2d(x, w, Tensor(), tg(2, {0, 0, 0, 0}, 0));
  const auto b = full.slice(2, 1, 11).slice(3, 1, 11).contiguous().to_vector();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(std::fabs(a[i] - b[i]) < 1e-5);
}

TEST_CASE("gradcheck: padded pooling, both average divisors, ceil mode", "[ops][gradcheck]") {
  ops::Pool2dGeometry g;
  g.kernel_h = g.kernel_w = 3;
  g.stride_h = g.stride_w = 2;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  check("max pool padded", [&](const Inputs& x) { return ops::max_pool2d(x[0], g); }, {distinct({2, 2, 7, 6})});
  check("avg pool counting pads", [&](const Inputs& x) { return ops::avg_pool2d(x[0], g, true); }, {rnd({1, 2, 7, 6})});
  check("avg pool not counting pads", [&](const Inputs& x) { return ops::avg_pool2d(x[0], g, false); }, {rnd({1, 2, 7, 6})});
  ops::Pool2dGeometry c = g;
  c.ceil_mode = true;
  CHECK(c.out_h(8) == 5);  // floor gives 4
  CHECK(g.out_h(8) == 4);
  check("avg pool ceil", [&](const Inputs& x) { return ops::avg_pool2d(x[0], c, false); }, {rnd({1, 1, 8, 8})});
  // Counting the pads divides the corner window by 9, not counting them by 4.
  Tensor ones = Tensor::ones({1, 1, 4, 4});
  CHECK(ops::avg_pool2d(ones, g, true).at({0, 0, 0, 0}) == Approx(4.f / 9.f));
  CHECK(ops::avg_pool2d(ones, g, false).at({0, 0, 0, 0}) == Approx(1.f));
}

TEST_CASE("pad: constant values, crops, and its gradient", "[ops][gradcheck]") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = ops::pad(x, {1, 0, 0, 2}, 9.f);  // one row before, two columns after
  CHECK(y.shape() == Shape{3, 5});
  CHECK(y.to_vector() == std::vector<float>{9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 9, 9});
  CHECK(ops::pad(x, {0, -1, 0, 0}).to_vector() == std::vector<float>{2, 3, 5, 6});
  check("pad", [](const Inputs& v) { return ops::pad(v[0], {0, 0, 1, 2, 0, 0, 3, 0}); }, {rnd({1, 2, 3, 3})});
  check("pad crop", [](const Inputs& v) { return ops::pad(v[0], {0, -1, 2, 0, 1, -1}); }, {rnd({2, 4, 3})});
}

TEST_CASE("batch norm: statistics, running updates, inference, and gradients", "[ops][gradcheck]") {
  Tensor x = rnd({3, 2, 4, 5}, -1.f, 2.f);
  Tensor g = rnd({2}, 0.5f, 1.5f), b = rnd({2});
  Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
  Tensor y = ops::batch_norm(x, g, b, rm, rv, true, 0.1f, 1e-5f);
  // Each channel: mean beta, standard deviation |gamma| (biased), running stats moved by 10%.
  for (int64_t c = 0; c < 2; ++c) {
    Tensor yc = y.slice(1, c, c + 1).contiguous(), xc = x.slice(1, c, c + 1).contiguous();
    double m = 0, v = 0, mx = 0, vx = 0;
    for (float t : yc.to_vector()) m += t;
    for (float t : xc.to_vector()) mx += t;
    m /= double(yc.numel()), mx /= double(xc.numel());
    for (float t : yc.to_vector()) v += (t - m) * (t - m);
    for (float t : xc.to_vector()) vx += (t - mx) * (t - mx);
    v /= double(yc.numel());
    CHECK(m == Approx(b.at({c})).margin(1e-5));
    CHECK(std::sqrt(v) == Approx(g.at({c})).epsilon(1e-3));
    CHECK(rm.at({c}) == Approx(0.1 * mx).margin(1e-6));
    CHECK(rv.at({c}) == Approx(0.9 + 0.1 * vx / double(xc.numel() - 1)).epsilon(1e-5));
  }
  // Inference with the running statistics: (x - mean) / sqrt(var + eps) * gamma + beta.
  Tensor ye = ops::batch_norm(x, g, b, rm, rv, false, 0.1f, 1e-5f, true);
  for (int64_t i : {0, 7, 33, 100}) {
    const int64_t c = (i / 20) % 2;
    const double z = (x.to_vector()[size_t(i)] - rm.at({c})) / std::sqrt(rv.at({c}) + 1e-5) * g.at({c}) + b.at({c});
    CHECK(ye.to_vector()[size_t(i)] == Approx(std::max(z, 0.0)).margin(1e-5));
  }
  for (bool training : {true, false})
    for (bool relu : {false, true}) {
      INFO("training " << training << " relu " << relu);
      // Inference with ReLU: inputs on a grid 0.1 apart, the mean between grid points, beta 0, so
      // no pre-activation lies within a finite-difference step of the kink.
      check("batch_norm", [&](const Inputs& v) {
              Tensor m = Tensor::full({3}, 0.05f), s = Tensor::full({3}, 1.5f);  // fresh: not moved by earlier calls
              return ops::batch_norm(v[0], v[1], v[2], m, s, training, 0.1f, 1e-5f, relu);
            },
            {distinct({2, 3, 3, 2}, 0.1f), rnd({3}, 0.5f, 1.5f), training ? rnd({3}) : Tensor::zeros({3})},
            {.eps = 1e-2, .atol = 3e-3, .rtol = 3e-2});
    }
}

TEST_CASE("gradcheck: leaky relu, hard sigmoid, hard swish", "[ops][gradcheck]") {
  // Values away from the kinks (0 for leaky relu, -3 and 3 for the hard forms).
  Tensor a = Tensor::from_vector({-2.5f, -0.7f, 0.4f, 1.9f, -1.3f, 0.8f}, {6});
  Tensor h = Tensor::from_vector({-4.2f, -2.1f, -0.5f, 0.3f, 1.7f, 2.6f, 3.9f, -3.4f}, {8});
  check("leaky_relu", [](const Inputs& x) { return ops::leaky_relu(x[0], 0.1f); }, {a});
  check("hard_sigmoid", [](const Inputs& x) { return ops::hard_sigmoid(x[0], 0.2f, 0.5f); }, {h});
  check("hard_swish", [](const Inputs& x) { return ops::hard_swish(x[0]); }, {h});
  const auto hs = ops::hard_swish(h).to_vector();
  const auto hv = h.to_vector();
  for (size_t i = 0; i < hv.size(); ++i)
    CHECK(hs[i] == Approx(hv[i] * std::min(std::max(hv[i] + 3.f, 0.f), 6.f) / 6.f).margin(1e-6));
  CHECK(ops::leaky_relu(a, 0.1f).to_vector()[0] == Approx(-0.25f));
}

TEST_CASE("bn_relu_conv2d equals concat + batch_norm(relu) + conv2d, forward and backward", "[ops][gradcheck]") {
  for (bool training : {true, false}) {
    INFO("training " << training);
    Tensor a = rnd({2, 3, 6, 5}, -1.f, 2.f), b = rnd({2, 2, 6, 5}), gamma = rnd({5}, 0.5f, 1.5f), beta = rnd({5});
    Tensor w = rnd({4, 5, 3, 3}), bias = rnd({4});
    ops::ConvGeometry g;
    g.stride_h = 2, g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = 1;
    for (Tensor* t : {&a, &b, &gamma, &beta, &w, &bias}) t->set_requires_grad(true);
    Tensor m1 = Tensor::full({5}, 0.1f), v1 = Tensor::full({5}, 1.2f), m2 = m1.clone(), v2 = v1.clone();
    Tensor fused = ops::bn_relu_conv2d({a, b}, {gamma, beta, m1, v1, training, 0.1f, 1e-5f}, w, bias, g);
    Tensor plain = ops::conv2d(ops::batch_norm(ops::concat({a, b}, 1), gamma, beta, m2, v2, training, 0.1f, 1e-5f, true),
                               w, bias, g);
    REQUIRE(fused.shape() == plain.shape());
    const auto f = fused.to_vector(), p = plain.to_vector();
    for (size_t i = 0; i < f.size(); ++i) REQUIRE(std::fabs(f[i] - p[i]) < 1e-5);
    CHECK(m1.to_vector() == m2.to_vector());  // the running statistics moved the same way
    CHECK(v1.to_vector() == v2.to_vector());
    Tensor r = rnd(fused.shape());
    std::vector<std::vector<float>> grads[2];
    for (int k = 0; k < 2; ++k) {
      for (Tensor* t : {&a, &b, &gamma, &beta, &w, &bias}) t->zero_grad();
      (k == 0 ? fused : plain).backward(r);
      for (Tensor* t : {&a, &b, &gamma, &beta, &w, &bias}) grads[k].push_back(t->grad().to_vector());
    }
    for (size_t t = 0; t < grads[0].size(); ++t)
      for (size_t i = 0; i < grads[0][t].size(); ++i) REQUIRE(std::fabs(grads[0][t][i] - grads[1][t][i]) < 1e-4);
  }
  // And against finite differences (inputs on a grid, beta 0: no pre-activation near the kink).
  check("bn_relu_conv2d", [](const Inputs& v) {
          Tensor m = Tensor::full({4}, 0.05f), s = Tensor::full({4}, 1.5f);
          ops::ConvGeometry g;
          g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = 1;
          return ops::bn_relu_conv2d({v[0], v[1]}, {v[2], Tensor::zeros({4}), m, s, false, 0.1f, 1e-5f}, v[3], Tensor(), g);
        },
        {distinct({1, 3, 4, 4}, 0.1f), distinct({1, 1, 4, 4}, 0.1f), rnd({4}, 0.5f, 1.5f), rnd({2, 4, 3, 3})});
}
