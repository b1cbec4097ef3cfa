// Optimizers against hand-computed updates, schedules, clipping, streamed updates, state round trip.
#include <catch2/catch.hpp>
#include <cmath>

#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"
#include "liteai/optim/optimizer.hpp"

using namespace liteai;
using optim::NamedTensors;

namespace {
Tensor param(std::vector<float> v) {
  Tensor t = Tensor::from_vector(v, {int64_t(v.size())});
  t.set_requires_grad(true);
  return t;
}
void set_grad(Tensor& p, std::vector<float> g) { p.set_grad(Tensor::from_vector(g, {int64_t(g.size())})); }
}  // namespace

TEST_CASE("SGD: plain, momentum, Nesterov, weight decay", "[optim]") {
  Tensor w = param({1.f, -2.f});
  optim::OptimizerOptions o;
  o.lr = 0.1f;
  optim::SGD plain({{"w", w}}, o);
  set_grad(w, {0.5f, 1.f});
  plain.step();
  CHECK(w.to_vector()[0] == Approx(1 - 0.05));
  CHECK(w.to_vector()[1] == Approx(-2 - 0.1));

  Tensor m = param({1.f});
  o.momentum = 0.9f;
  optim::SGD mom({{"m", m}}, o);
  set_grad(m, {1.f});
  mom.step();  // buf = 1, w = 1 - 0.1
  set_grad(m, {2.f});
  mom.step();  // buf = 0.9 + 2 = 2.9, w = 0.9 - 0.29
  CHECK(m.to_vector()[0] == Approx(0.61));

  Tensor n = param({1.f});
  o.nesterov = true;
  optim::SGD nes({{"n", n}}, o);
  set_grad(n, {1.f});
  nes.step();  // buf = 1, d = 1 + 0.9 = 1.9, w = 1 - 0.19
  set_grad(n, {2.f});
  nes.step();  // buf = 2.9, d = 2 + 2.61 = 4.61, w = 0.81 - 0.461
  CHECK(n.to_vector()[0] == Approx(0.349));

  Tensor d = param({2.f});
  optim::OptimizerOptions od;
  od.lr = 0.1f;
  od.weight_decay = 0.5f;
  optim::SGD l2({{"d", d}}, od);
  set_grad(d, {1.f});
  l2.step();  // g = 1 + 0.5 * 2 = 2, w = 2 - 0.2
  CHECK(d.to_vector()[0] == Approx(1.8));
  Tensor e = param({2.f});
  od.decoupled = true;
  optim::SGD dec({{"e", e}}, od);
  set_grad(e, {1.f});
  dec.step();  // w = 2 * (1 - 0.05) - 0.1
  CHECK(e.to_vector()[0] == Approx(1.8));
}

TEST_CASE("Adam and AdamW: two steps against the formula", "[optim]") {
  auto reference = [](double w, std::vector<double> grads, double lr, double wd, bool decoupled) {
    double m = 0, v = 0;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
    for (size_t t = 1; t <= grads.size(); ++t) {
      double g = grads[t - 1];
      if (!decoupled) g += wd * w;
      if (decoupled) w *= 1 - lr * wd;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const double mh = m / (1 - std::pow(b1, double(t))), vh = v / (1 - std::pow(b2, double(t)));
      w -= lr * mh / (std::sqrt(vh) + eps);
    }
    return w;
  };
  for (int variant = 0; variant < 3; ++variant) {
    Tensor w = param({0.5f, -1.5f});
    optim::OptimizerOptions o;
    o.lr = 0.01f;
    std::unique_ptr<optim::Optimizer> opt;
    double wd = 0;
    bool dec = false;
    if (variant == 0) opt = std::make_unique<optim::Adam>(NamedTensors{{"w", w}}, o);
    if (variant == 1) {
      o.weight_decay = 0.1f;
      wd = 0.1;
      opt = std::make_unique<optim::Adam>(NamedTensors{{"w", w}}, o);
    }
    if (variant == 2) {
      opt = std::make_unique<optim::AdamW>(NamedTensors{{"w", w}}, o);  // default wd 0.01
      wd = 0.01;
      dec = true;
      CHECK(opt->name() == "adamw");
    }
    set_grad(w, {0.3f, -2.f});
    opt->step();
    set_grad(w, {-0.1f, 1.f});
    opt->step();
    INFO("variant " << variant);
    CHECK(w.to_vector()[0] == Approx(reference(0.5, {0.3, -0.1}, 0.01, wd, dec)).epsilon(1e-5));
    CHECK(w.to_vector()[1] == Approx(reference(-1.5, {-2, 1}, 0.01, wd, dec)).epsilon(1e-5));
  }
}

TEST_CASE("Streamed updates: same result as step(), gradient never stored", "[optim]") {
  Generator g(4);
  Tensor x = randn({5, 6}, 0, 1, g);
  Tensor w0 = randn({6, 3}, 0, 1, g);
  Tensor a = w0.clone().detach(), b = w0.clone().detach();
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  optim::OptimizerOptions o;
  o.lr = 0.05f;
  optim::Adam oa({{"w", a}}, o), ob({{"w", b}}, o);
  oa.set_l2_grad("w", 0.01f);
  ob.set_l2_grad("w", 0.01f);
  ob.stream_updates("w");
  CHECK(ob.is_streamed("w"));
  for (int step = 0; step < 3; ++step) {
    Tensor ya = ops::matmul(x, a);
    ops::sum(ops::mul(ya, ops::tanh(ya.detach()))).backward();
    oa.step();
    oa.zero_grad();
    Tensor yb = ops::matmul(x, b);
    ops::sum(ops::mul(yb, ops::tanh(yb.detach()))).backward();
    CHECK_FALSE(b.grad().defined());  // consumed by the hook
    ob.step();
  }
  std::vector<float> va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) CHECK(va[i] == Approx(vb[i]).epsilon(1e-6));
  CHECK(va != w0.to_vector());
  // A parameter used twice in one forward pass gets two gradients: refused with a clear error.
  Tensor y1 = ops::matmul(x, b), y2 = ops::matmul(x, b);
  CHECK_THROWS_WITH(ops::sum(ops::add(y1, y2)).backward(), Catch::Contains("two gradients"));
  ob.stop_streaming();
  CHECK(b.impl()->grad_hook == nullptr);
}

TEST_CASE("LR schedules: warm-up, step, cosine", "[optim]") {
  optim::ScheduleOptions s;
  s.kind = optim::ScheduleKind::step;
  s.warmup_steps = 4;
  s.step_size = 10;
  s.gamma = 0.5f;
  optim::LRSchedule st(0.1f, s);
  CHECK(st.at(0) == Approx(0.025));
  CHECK(st.at(3) == Approx(0.1));
  CHECK(st.at(13) == Approx(0.1));
  CHECK(st.at(14) == Approx(0.05));
  CHECK(st.at(33) == Approx(0.025));
  CHECK(st.at(34) == Approx(0.0125));
  optim::ScheduleOptions c;
  c.kind = optim::ScheduleKind::cosine;
  c.total_steps = 100;
  c.min_lr = 0.01f;
  optim::LRSchedule cs(1.f, c);
  CHECK(cs.at(0) == Approx(1.0));
  CHECK(cs.at(50) == Approx(0.505));
  CHECK(cs.at(100) == Approx(0.01));
  CHECK(cs.at(500) == Approx(0.01));
  c.total_steps = 0;
  CHECK_THROWS_WITH(optim::LRSchedule(1.f, c), Catch::Contains("total_steps"));
  CHECK_THROWS(optim::schedule_from_string("linear"));
}

TEST_CASE("Gradient clipping by global norm", "[optim]") {
  Tensor a = param({3.f, 0.f}), b = param({4.f});
  set_grad(a, {3.f, 0.f});
  set_grad(b, {4.f});
  const double n = optim::clip_grad_norm({a, b}, 1.0);
  CHECK(n == Approx(5.0));
  CHECK(a.grad().to_vector()[0] == Approx(0.6).epsilon(1e-4));
  CHECK(b.grad().to_vector()[0] == Approx(0.8).epsilon(1e-4));
  // under the limit: unchanged
  CHECK(optim::clip_grad_norm({a, b}, 10.0) == Approx(1.0).epsilon(1e-4));
  CHECK(b.grad().to_vector()[0] == Approx(0.8).epsilon(1e-4));
}

TEST_CASE("Optimizer state round trip resumes identically", "[optim]") {
  Tensor w1 = param({1.f, 2.f}), w2 = param({1.f, 2.f});
  optim::OptimizerOptions o;
  o.lr = 0.1f;
  o.momentum = 0.9f;
  optim::SGD a({{"w", w1}}, o);
  set_grad(w1, {1.f, -1.f});
  a.step();
  optim::SGD b({{"w", w2}}, o);
  w2.copy_from(w1);
  b.load_state(a.state(), a.state_meta());
  CHECK(b.steps() == 1);
  set_grad(w1, {0.5f, 0.5f});
  set_grad(w2, {0.5f, 0.5f});
  a.step();
  b.step();
  CHECK(w1.to_vector() == w2.to_vector());
  optim::Adam c({{"other", param({1.f})}}, o);
  CHECK_THROWS_WITH(c.load_state(a.state(), a.state_meta()), Catch::Contains("w.momentum"));
  CHECK_THROWS_WITH(optim::optimizer_from_string("rmsprop"), Catch::Contains("adam"));
}
