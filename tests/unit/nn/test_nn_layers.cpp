// nn layers: gradient checks on small shapes, BatchNorm train/eval, Dropout, naming, zoo shapes
// and parameter counts, architecture JSON.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "liteai/autograd/autograd.hpp"
#include "liteai/autograd/gradcheck.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/layers.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/ops/ops.hpp"

using namespace liteai;

namespace {
// Gradcheck of a module: the input gradient with gradcheck, the parameter gradients against
// central differences of L = sum(r * m(x)) taken on the parameters in place.
void check_module(nn::Module& m, const Tensor& x, double atol = 3e-3, double rtol = 3e-2) {
  auto params = m.parameters();
  autograd::GradcheckOptions o;
  o.atol = atol;
  o.rtol = rtol;
  // Input gradient through the module (parameters as constants of the function).
  auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return m.forward(in[0]); }, {x}, o);
  INFO(r.message);
  CHECK(r.ok);
  // Parameter gradients: finite differences on the parameters themselves.
  Tensor y = m.forward(x);
  Generator gen(11);
  Tensor rw = rand_uniform(y.shape(), -1.f, 1.f, gen);
  auto loss_of = [&]() {
    autograd::NoGrad ng;
    return static_cast<double>(ops::sum(ops::mul(m.forward(x.detach()), rw)).item());
  };
  m.zero_grad();
  ops::sum(ops::mul(y, rw)).backward();
  for (auto& p : params) {
    Tensor gp = p.grad();
    REQUIRE(gp.defined());
    std::vector<float> ga = gp.to_vector();
    const int64_t n = p.numel();
    const int64_t step = std::max<int64_t>(1, n / 24);
    for (int64_t k = 0; k < n; k += step) {
      float* w = p.data() + k;
      const float orig = *w;
      const float eps = 1e-2f;
      *w = orig + eps;
      const double lp = loss_of();
      *w = orig - eps;
      const double lm = loss_of();
      *w = orig;
      const double num = (lp - lm) / (2 * eps);
      INFO("param element " << k << " analytic " << ga[size_t(k)] << " numeric " << num);
      CHECK(std::fabs(ga[size_t(k)] - num) <= atol * 10 + rtol * std::fabs(num));
    }
  }
}
}  // namespace

TEST_CASE("Conv2d and Dense: gradients of input and parameters", "[nn]") {
  Generator g(3);
  nn::Conv2dOptions co;
  co.same = true;
  nn::Conv2d conv(2, 3, 3, co, g);
  check_module(conv, randn({2, 2, 5, 5}, 0, 1, g));
  co.activation = nn::Activation::swish;
  nn::Conv2d conv_swish(2, 3, 3, co, g);
  check_module(conv_swish, randn({1, 2, 4, 6}, 0, 1, g));
  nn::DenseOptions d;
  d.activation = nn::Activation::sigmoid;
  nn::Dense dense(7, 4, d, g);
  check_module(dense, randn({3, 7}, 0, 1, g));
  nn::ConvTranspose2dOptions t;
  t.stride = 2;
  nn::ConvTranspose2d convt(2, 3, 2, t, g);
  check_module(convt, randn({1, 2, 3, 3}, 0, 1, g));
}

TEST_CASE("Dense uses the Keras layout w[in, out] and computes x w + b", "[nn]") {
  Generator g(1);
  nn::Dense d(3, 2, {}, g);
  d.weight.copy_from(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2}));
  d.bias.copy_from(Tensor::from_vector({0.5f, -1}, {2}));
  Tensor y = d.forward(Tensor::from_vector({1, 1, 2}, {1, 3}));
  CHECK(y.to_vector() == std::vector<float>{1 + 3 + 10 + 0.5f, 2 + 4 + 12 - 1.f});
}

TEST_CASE("Dense in bf16 inference: fp32 products of bf16-rounded weights, fp32 when training", "[nn][bf16]") {
  Generator g(5);
  nn::DenseOptions o;
  o.activation = nn::Activation::swish;
  auto d = std::make_shared<nn::Dense>(3000, 37, o, g);
  Tensor x = randn({3, 3000}, 0, 1, g);
  // Reference in double: x * bf16(w) + b, then swish.
  auto expect = [&](bool rounded) {
    std::vector<float> xv = x.to_vector(), wv = d->weight.to_vector(), bv = d->bias.to_vector(), out;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t j = 0; j < 37; ++j) {
        double acc = bv[size_t(j)];
        for (int64_t k = 0; k < 3000; ++k) {
          const float w = wv[size_t(k * 37 + j)];
          acc += double(xv[size_t(n * 3000 + k)]) * (rounded ? bf16_to_f32(f32_to_bf16(w)) : w);
        }
        out.push_back(float(acc / (1 + std::exp(-acc))));
      }
    return out;
  };
  auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
    return m;
  };
  const auto exact = expect(false), rounded = expect(true);
  REQUIRE(max_diff(exact, rounded) > 1e-4);  // the rounding is visible, so the checks below can tell

  d->set_inference_dtype(DType::bf16);  // still in training mode: fp32
  REQUIRE(max_diff(d->forward(x).to_vector(), exact) < 2e-4);
  d->eval();
  {
    autograd::NoGrad ng;
    REQUIRE(max_diff(d->forward(x).to_vector(), rounded) < 2e-4);
    REQUIRE(max_diff(d->forward(x).to_vector(), exact) > 1e-4);
  }
  // Autograd on (an input gradient wanted from an eval model): the fp32 weights.
  REQUIRE(max_diff(d->forward(x).to_vector(), exact) < 2e-4);
  // New weights through load_state refresh the copy.
  Tensor w2 = randn({3000, 37}, 0, 0.05f, g);
  d->load_state({{"weight", w2}}, false);
  const auto exact2 = expect(false), rounded2 = expect(true);
  {
    autograd::NoGrad ng;
    REQUIRE(max_diff(d->forward(x).to_vector(), rounded2) < 2e-4);
  }
  d->set_inference_dtype(DType::f32);
  autograd::NoGrad ng;
  REQUIRE(max_diff(d->forward(x).to_vector(), exact2) < 2e-4);
}

TEST_CASE("Inference fuses conv -> 2x2 avg pool: the same bits as the recorded layer-by-layer pass", "[nn]") {
  auto model = nn::build_model("compact_cxr", 40, 3, 4);
  model->net->eval();
  Generator g(9);
  Tensor x = randn({2, 1, 40, 40}, 0, 1, g);
  Tensor recorded = model->forward(x);  // grad on: conv, swish and pool as separate recorded ops
  REQUIRE(recorded.requires_grad());
  Tensor fused;
  {
    autograd::NoGrad ng;
    fused = model->forward(x);
  }
  REQUIRE(fused.to_vector() == recorded.to_vector());
}

TEST_CASE("Precision: names, per-mode settings down the tree, the 0.3 dtype names", "[nn][bf16]") {
  for (nn::Precision p : {nn::Precision::f32, nn::Precision::bf16_storage, nn::Precision::bf16_compute})
    CHECK(nn::precision_from_string(nn::to_string(p)) == p);
  CHECK(nn::precision_from_string("bf16") == nn::Precision::bf16_storage);  // the 0.3 name
  CHECK_THROWS_WITH(nn::precision_from_string("fp16"), Catch::Contains("use f32, bf16-storage (or bf16) or bf16-compute"));
  auto model = nn::build_model("compact_cxr", 16, 2, 1);
  model->net->set_training_precision(nn::Precision::bf16_compute);
  model->net->set_inference_precision(nn::Precision::bf16_storage);
  std::function<void(const nn::Module&)> walk = [&](const nn::Module& m) {
    CHECK(m.training_precision() == nn::Precision::bf16_compute);
    CHECK(m.inference_precision() == nn::Precision::bf16_storage);
    for (const auto& [name, c] : m.children()) walk(*c);
  };
  walk(*model->net);
  model->net->train();
  CHECK(model->net->precision() == nn::Precision::bf16_compute);
  model->net->eval();
  CHECK(model->net->precision() == nn::Precision::bf16_storage);
  CHECK(model->net->inference_dtype() == DType::bf16);
  model->net->set_activation_dtype(DType::f32);
  CHECK(model->net->training_precision() == nn::Precision::f32);
  model->net->set_inference_dtype(DType::bf16);
  CHECK(model->net->inference_precision() == nn::Precision::bf16_storage);
  // A layer added later takes its parent's settings.
  auto seq = std::make_shared<nn::Sequential>();
  seq->set_inference_precision(nn::Precision::bf16_compute);
  seq->add("fc", std::make_shared<nn::Dense>(3, 2));
  CHECK(seq->children()[0].second->inference_precision() == nn::Precision::bf16_compute);
}

TEST_CASE("compact_cxr inference with bf16 products: close to fp32, visibly rounded, fused pool as recorded",
          "[nn][bf16]") {
  auto model = nn::build_model("compact_cxr", 40, 3, 4);
  model->net->eval();
  Generator g(10);
  Tensor x = randn({2, 1, 40, 40}, 0, 1, g);
  auto logits = [&](nn::Precision p, bool grad) {
    model->net->set_inference_precision(p);
    if (grad) return model->net->forward(x).detach().to_vector();
    autograd::NoGrad ng;
    return model->net->forward(x).to_vector();
  };
  const auto f32 = logits(nn::Precision::f32, false), storage = logits(nn::Precision::bf16_storage, false);
  const auto bf16 = logits(nn::Precision::bf16_compute, false);
  double d_storage = 0, d_bf16 = 0, scale = 0;
  for (size_t i = 0; i < f32.size(); ++i) {
    d_storage = std::max(d_storage, std::fabs(double(storage[i]) - f32[i]));
    d_bf16 = std::max(d_bf16, std::fabs(double(bf16[i]) - f32[i]));
    scale = std::max(scale, std::fabs(double(f32[i])));
  }
  INFO("logit scale " << scale << ", bf16-storage differs by " << d_storage << ", bf16 by " << d_bf16);
  CHECK(d_bf16 > d_storage);      // the convolutions' rounding shows on top of the weights'
  CHECK(d_bf16 < 0.02 * scale);   // 8 significant bits through 6 layers

  // conv -> swish -> pool stages fused without autograd: the same bits as recorded layer by layer
  // (both conv kinds: a kept bf16 pre-activation, 8 * 9 taps, and the recomputed one of 1 channel).
  Generator gw(11);
  auto stages = std::make_shared<nn::Sequential>();
  stages->add("c1", std::make_shared<nn::Conv2d>(1, 8, 3, nn::Conv2dOptions{.same = true, .activation = nn::Activation::swish}, gw));
  stages->add("p1", std::make_shared<nn::AvgPool2d>(2));
  stages->add("c2", std::make_shared<nn::Conv2d>(8, 16, 3, nn::Conv2dOptions{.same = true, .activation = nn::Activation::swish}, gw));
  stages->add("p2", std::make_shared<nn::AvgPool2d>(2));
  stages->eval();
  stages->set_inference_precision(nn::Precision::bf16_compute);
  const Tensor recorded = stages->forward(x);
  REQUIRE(recorded.requires_grad());
  autograd::NoGrad ng;
  CHECK(stages->forward(x).to_vector() == recorded.to_vector());
}

TEST_CASE("BatchNorm2d: batch statistics in training, running statistics in eval", "[nn]") {
  Generator g(5);
  nn::BatchNorm2d bn(2, 0.5f);
  Tensor x = randn({4, 2, 3, 3}, 2.f, 3.f, g);
  Tensor y = bn.forward(x);
  // Each channel of the output has mean 0 and (biased) variance 1.
  std::vector<float> v = y.to_vector();
  for (int c = 0; c < 2; ++c) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int b = 0; b < 4; ++b)
      for (int i = 0; i < 9; ++i) {
        const double e = v[size_t((b * 2 + c) * 9 + i)];
        s += e;
        s2 += e * e;
        ++n;
      }
    CHECK(std::fabs(s / n) < 1e-4);
    CHECK(std::fabs(s2 / n - 1.0) < 1e-2);
  }
  // running = 0.5 * init + 0.5 * batch (unbiased variance)
  std::vector<float> xv = x.to_vector();
  double m0 = 0, q0 = 0;
  for (int b = 0; b < 4; ++b)
    for (int i = 0; i < 9; ++i) m0 += xv[size_t(b * 18 + i)];
  m0 /= 36;
  for (int b = 0; b < 4; ++b)
    for (int i = 0; i < 9; ++i) q0 += (xv[size_t(b * 18 + i)] - m0) * (xv[size_t(b * 18 + i)] - m0);
  CHECK(bn.running_mean.to_vector()[0] == Approx(0.5 * m0).epsilon(1e-4));
  CHECK(bn.running_var.to_vector()[0] == Approx(0.5 + 0.5 * q0 / 35).epsilon(1e-4));
  // eval: (x - rm) / sqrt(rv + eps)
  bn.eval();
  Tensor ye = bn.forward(x);
  const float rm = bn.running_mean.to_vector()[0], rv = bn.running_var.to_vector()[0];
  CHECK(ye.to_vector()[0] == Approx((xv[0] - rm) / std::sqrt(rv + 1e-5f)).epsilon(1e-4));
  // training-mode gradient check (small shape)
  bn.train();
  bn.gamma.copy_from(Tensor::from_vector({1.5f, 0.7f}, {2}));
  check_module(bn, randn({3, 2, 2, 2}, 0, 1, g), 5e-3, 5e-2);
}

TEST_CASE("Dropout: seeded mask, scaling, identity in eval", "[nn]") {
  nn::Dropout d(0.5f, 9);
  Tensor x = Tensor::ones({1000});
  std::vector<float> y = d.forward(x).to_vector();
  int zeros = 0;
  for (float v : y) {
    CHECK((v == 0.f || v == 2.f));
    zeros += v == 0.f;
  }
  CHECK(zeros > 420);
  CHECK(zeros < 580);
  nn::Dropout d2(0.5f, 9);
  CHECK(d2.forward(x).to_vector() == y);
  d.eval();
  CHECK(d.forward(x).to_vector() == x.to_vector());
}

TEST_CASE("Module: hierarchical names, buffers, state round trip, L2", "[nn]") {
  auto m = nn::build_model("teacher_cxr", 32, 3, 1);
  auto names = m->net->named_parameters();
  CHECK(names.front().first == "stage1.conv1.weight");
  auto bufs = m->net->named_buffers();
  CHECK(bufs.front().first == "stage1.bn1.running_mean");
  auto other = nn::build_model("teacher_cxr", 32, 3, 2);
  CHECK(other->net->named_parameters()[0].second.to_vector() != names[0].second.to_vector());
  other->net->load_state(m->net->state());
  CHECK(other->net->named_parameters()[0].second.to_vector() == names[0].second.to_vector());
  auto wrong = nn::build_model("teacher_cxr", 32, 4, 2);
  CHECK_THROWS_WITH(wrong->net->load_state(m->net->state()), Catch::Contains("out.weight"));
  // Keras L2: l2 * sum(w^2) over kernels only
  auto c = nn::build_model("compact_cxr", 16, 2, 1);
  double expect = 0;
  for (auto& p : c->net->parameter_infos())
    if (p.is_kernel)
      for (float v : p.tensor.to_vector()) expect += 0.01 * double(v) * v;
  CHECK(c->net->regularization_loss().item() == Approx(expect).epsilon(1e-4));
}

TEST_CASE("Model zoo: output shapes and parameter counts", "[nn][zoo]") {
  Generator g(2);
  // Forward-only: no graph (a graph that never runs backward would hold reference cycles of
  // ops that keep their output, e.g. relu/sigmoid/softmax).
  autograd::NoGrad ng;
  {
    auto m = nn::build_model("compact_cxr", 32, 3);
    CHECK(m->forward(randn({2, 1, 32, 32}, 0, 1, g)).shape() == Shape{2, 3});
    CHECK(m->net->parameter_count() == nn::compact_cxr_parameter_count(32, 1, 3));
  }
  // At 512x512 the first Dense has 64*64*128*256 = 134,217,728 weights (SPEC.md section 2).
  // convs 320 + 18,496 + 73,856; fc1 bias 256; fc2 32,896; fc3 33,024; out 257 * classes
  CHECK(nn::compact_cxr_parameter_count(512, 1, 2) == 92672 + 134217728 + 256 + 32896 + 33024 + 514);
  CHECK(int64_t(64) * 64 * 128 * 256 == 134217728);
  {
    auto m = nn::build_model("small_cnn", 28, 10);
    CHECK(m->forward(randn({2, 1, 28, 28}, 0, 1, g)).shape() == Shape{2, 10});
    CHECK(m->net->parameter_count() == 320 + 18496 + 3136 * 128 + 128 + 1290);
  }
  {  // the global max pool leaves 64 features whatever the size
    auto m = nn::build_model("small_cnn_gmp", 30, 2);
    CHECK(m->forward(randn({2, 1, 30, 30}, 0, 1, g)).shape() == Shape{2, 2});
    CHECK(m->net->parameter_count() == 320 + 18496 + 64 * 128 + 128 + 258);
  }
  {
    auto m = nn::build_model("teacher_cxr", 32, 5);
    CHECK(m->forward(randn({2, 1, 32, 32}, 0, 1, g)).shape() == Shape{2, 5});
    CHECK(m->net->parameter_count() > nn::compact_cxr_parameter_count(32, 1, 5));
  }
  {
    auto m = nn::build_model("autoencoder", 16, 0);
    CHECK(m->forward(randn({2, 1, 16, 16}, 0, 1, g)).shape() == Shape{2, 1, 16, 16});
  }
  nn::ArchSpec multi;
  multi.name = "compact_cxr";
  multi.set("size", 16).set("classes", 14).set("head", "sigmoid");
  auto ml = nn::build_model(multi);
  Tensor p = ml->predict(randn({1, 1, 16, 16}, 0, 1, g));
  CHECK(p.shape() == Shape{1, 14});
  for (float v : p.to_vector()) CHECK((v > 0.f && v < 1.f));
  CHECK_THROWS_WITH(nn::build_model("resnet", 32, 2), Catch::Contains("compact_cxr"));
  CHECK_THROWS_WITH(nn::build_model("compact_cxr", 30, 2), Catch::Contains("multiple of 8"));
}

TEST_CASE("ArchSpec JSON round trip and errors", "[nn]") {
  nn::ArchSpec a;
  a.name = "compact_cxr";
  a.set("size", 256).set("l2", 0.01).set("head", "sigmoid");
  const std::string j = a.to_json();
  nn::ArchSpec b = nn::ArchSpec::from_json(j);
  CHECK(b.name == "compact_cxr");
  CHECK(b.get_int("size", 0) == 256);
  CHECK(b.get_double("l2", 0) == Approx(0.01));
  CHECK(b.get("head", "") == "sigmoid");
  CHECK(b.to_json() == j);
  CHECK_THROWS_WITH(nn::ArchSpec::from_json("{\"size\": 3}"), Catch::Contains("name"));
  CHECK_THROWS(nn::ArchSpec::from_json("{\"name\": \"x\", \"a\": {\"b\": 1}}"));
  CHECK_THROWS(nn::ArchSpec::from_json("{\"name\": \"x\""));
  // Every architecture honours or refuses a head: never silently another one.
  nn::ArchSpec small;
  small.name = "small_cnn";
  small.set("head", "sigmoid");
  CHECK(nn::build_model(small, 1)->head() == nn::Head::sigmoid);
  small.set("head", "none");
  CHECK_THROWS_WITH(nn::build_model(small, 1), Catch::Contains("small_cnn: head must be"));
  nn::ArchSpec ae;
  ae.name = "autoencoder";
  ae.set("head", "softmax");
  CHECK_THROWS_WITH(nn::build_model(ae, 1), Catch::Contains("autoencoder: head must be \"none\""));
}

TEST_CASE("Distillation loss: value against a direct formula, gradient check", "[nn][distill]") {
  Generator g(8);
  Tensor s = randn({3, 4}, 0, 2, g), t = randn({3, 4}, 0, 2, g);
  Tensor y = Tensor::from_vector({0, 3, 1}, {3});
  const float T = 3.f, alpha = 0.7f;
  const double got = nn::distillation_loss(s, t, y, T, alpha).item();
  // direct computation in double
  std::vector<float> sv = s.to_vector(), tv = t.to_vector();
  double kl = 0, ce = 0;
  for (int i = 0; i < 3; ++i) {
    auto softmax = [&](const std::vector<float>& v, double temp, int c) {
      double mx = -1e30, z = 0;
      for (int k = 0; k < 4; ++k) mx = std::max(mx, double(v[size_t(i * 4 + k)]) / temp);
      for (int k = 0; k < 4; ++k) z += std::exp(double(v[size_t(i * 4 + k)]) / temp - mx);
      return std::exp(double(v[size_t(i * 4 + c)]) / temp - mx) / z;
    };
    for (int c = 0; c < 4; ++c) kl += softmax(tv, T, c) * std::log(softmax(tv, T, c) / softmax(sv, T, c));
    ce -= std::log(softmax(sv, 1, int(y.to_vector()[size_t(i)])));
  }
  const double expect = alpha * T * T * kl / 3 + (1 - alpha) * ce / 3;
  CHECK(got == Approx(expect).epsilon(1e-4));
  // identical logits: the KL part vanishes
  CHECK(nn::softened_kl(s, s, 2.f).item() == Approx(0).margin(1e-6));
  auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return nn::distillation_loss(in[0], t, y, T, alpha); },
                               {s});
  INFO(r.message);
  CHECK(r.ok);
  // one-hot targets give the same value as indices
  Tensor onehot = Tensor::zeros({3, 4});
  onehot.data()[0] = 1;
  onehot.data()[4 + 3] = 1;
  onehot.data()[8 + 1] = 1;
  CHECK(nn::distillation_loss(s, t, onehot, T, alpha).item() == Approx(got).epsilon(1e-5));
  CHECK_THROWS(nn::distillation_loss(s, t, y, 0.f, alpha));
}

TEST_CASE("Binary (multi-label) distillation loss: value against a direct formula, gradient check", "[nn][distill]") {
  Generator g(9);
  Tensor s = randn({3, 4}, 0, 2, g), t = randn({3, 4}, 0, 2, g);
  Tensor y = Tensor::from_vector({1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1}, {3, 4});
  const float T = 2.f, alpha = 0.6f;
  const double got = nn::binary_distillation_loss(s, t, y, T, alpha).item();
  std::vector<float> sv = s.to_vector(), tv = t.to_vector(), yv = y.to_vector();
  auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  double kl = 0, bce = 0;
  for (size_t k = 0; k < 12; ++k) {
    const double pt = sig(tv[k] / T), ps = sig(sv[k] / T), p = sig(sv[k]);
    kl += pt * std::log(pt / ps) + (1 - pt) * std::log((1 - pt) / (1 - ps));
    bce -= yv[k] * std::log(p) + (1 - yv[k]) * std::log(1 - p);
  }
  const double expect = alpha * T * T * kl / 12 + (1 - alpha) * bce / 12;
  CHECK(got == Approx(expect).epsilon(1e-4));
  CHECK(nn::binary_distillation_loss(s, s, y, T, 1.f).item() == Approx(0).margin(1e-6));
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return nn::binary_distillation_loss(in[0], t, y, T, alpha); }, {s});
  INFO(r.message);
  CHECK(r.ok);
  CHECK(nn::head_distillation_loss(nn::Head::sigmoid, s, t, Tensor(), y, T, alpha).item() == Approx(got));
  CHECK_THROWS(nn::binary_distillation_loss(s, t, y, 2.f, 1.5f));
}

TEST_CASE("roi_cxr: gradients through both towers, the crops' max and the head; planes are checked") {
  Generator g(21);
  nn::ModulePtr net = nn::roi_cxr(8, 2, 3, 2, 0.f, g);
  const Tensor x = randn({2, 3, 8, 8}, 0, 1, g);
  CHECK(net->forward(x).shape() == Shape{2, 3});
  check_module(*net, x);
  // The crop tower is one set of weights for every crop: swapping the crops leaves the output.
  Tensor swapped = ops::concat({ops::slice(x, 1, 0, 1), ops::slice(x, 1, 2, 3), ops::slice(x, 1, 1, 2)}, 1);
  const std::vector<float> a = net->forward(x).to_vector(), b = net->forward(swapped).to_vector();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-6));
  CHECK_THROWS_WITH(net->forward(randn({2, 1, 8, 8}, 0, 1, g)), Catch::Contains("roi_cxr: expects [N, 3, H, W]"));
  auto m = nn::build_model(nn::ArchSpec{"roi_cxr", {{"size", "16"}, {"crops", "3"}}});
  CHECK(m->preprocessing.width == 16);
  CHECK(m->arch.get_int("width", 0) == 16);
  CHECK(m->net->forward(randn({1, 4, 16, 16}, 0, 1, g)).shape() == Shape{1, 2});
}
