// FedProx (TrainOptions::prox_mu, Optimizer::set_prox): the proximal term's gradient against
// finite differences, on stored and factored (streamed Dense) gradients; the loss the Trainer
// reports carries (mu/2)||w - w0||^2; a large mu keeps the trained weights near the start; the
// anchor travels in checkpoints.
#include <catch2/catch.hpp>

#include <cmath>

#include "liteai/core/random.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;

namespace {
using train_fixtures::make_toy;
using train_fixtures::tmp_path;

Tensor random_tensor(const Shape& s, uint64_t seed, float scale = 1.f) {
  Generator g(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = g.normal(0.f, scale);
  return t;
}

// The proximal term in double: f(w) = mu/2 sum (w - a)^2.
double prox_value(const std::vector<double>& w, const std::vector<float>& a, double mu) {
  double s = 0;
  for (size_t k = 0; k < w.size(); ++k) s += (w[k] - a[k]) * (w[k] - a[k]);
  return 0.5 * mu * s;
}

std::shared_ptr<nn::Model> small_model(uint64_t seed) {
  nn::ArchSpec spec;
  spec.name = "small_cnn";
  spec.set("size", 16.0);
  spec.set("classes", 2.0);
  return nn::build_model(spec, seed);
}

double distance(const nn::Model& m, const nn::NamedTensors& w0) {
  const nn::NamedTensors now = m.net->named_parameters();
  double s = 0;
  for (size_t i = 0; i < now.size(); ++i) {
    const std::vector<float> a = now[i].second.to_vector(), b = w0[i].second.to_vector();
    for (size_t k = 0; k < a.size(); ++k) s += double(a[k] - b[k]) * (a[k] - b[k]);
  }
  return std::sqrt(s);
}

nn::NamedTensors copy_params(const nn::Model& m) {
  nn::NamedTensors out;
  for (const auto& [n, t] : m.net->named_parameters()) out.emplace_back(n, t.detach().clone());
  return out;
}
}  // namespace

TEST_CASE("FedProx: the update's gradient is g + mu (w - w0), as finite differences say", "[optim][prox]") {
  const int64_t in = 37, out = 5, n = 6;
  const float mu = 0.3f, lr = 0.5f;
  const Tensor w_start = random_tensor({in, out}, 1);
  const Tensor anchor = random_tensor({in, out}, 2);
  const Tensor x = random_tensor({n, in}, 3), gf = random_tensor({n, out}, 4);
  // The data gradient x^T g in double.
  std::vector<double> data_grad(size_t(in * out), 0.0);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < out; ++j)
      for (int64_t r = 0; r < n; ++r)
        data_grad[size_t(i * out + j)] += double(x.data()[r * in + i]) * gf.data()[r * out + j];
  // Finite differences of the proximal term (double, central).
  const std::vector<float> a = anchor.to_vector(), w0 = w_start.to_vector();
  std::vector<double> w(w0.begin(), w0.end()), fd(w.size());
  const double h = 1e-4;
  for (size_t k = 0; k < w.size(); ++k) {
    const double keep = w[k];
    w[k] = keep + h;
    const double up = prox_value(w, a, mu);
    w[k] = keep - h;
    const double down = prox_value(w, a, mu);
    w[k] = keep;
    fd[k] = (up - down) / (2 * h);
  }
  for (int path = 0; path < 2; ++path) {
    Tensor p = w_start.clone();
    optim::OptimizerOptions oo;
    oo.lr = lr;
    optim::SGD sgd({{"w", p}}, oo);
    sgd.set_prox("w", anchor, mu);
    if (path == 0) {  // a stored gradient
      Tensor g = Tensor::empty({in, out});
      for (size_t k = 0; k < data_grad.size(); ++k) g.data()[k] = float(data_grad[k]);
      sgd.update(0, g);
    } else {  // the factors of a streamed Dense weight, in blocks of 8 rows
      sgd.update_outer(0, x, gf, 8);
    }
    const std::vector<float> after = p.to_vector();
    double worst = 0;
    for (size_t k = 0; k < after.size(); ++k) {
      const double applied = (double(w0[k]) - after[k]) / lr;  // SGD: w -= lr * gradient
      worst = std::max(worst, std::abs(applied - (data_grad[k] + fd[k])));
    }
    INFO("path " << path);
    CHECK(worst < 2e-5);
  }
  // The term is what moves the weights: without it the same update differs by mu (w - w0).
  Tensor p = w_start.clone();
  optim::OptimizerOptions oo;
  oo.lr = lr;
  optim::SGD plain({{"w", p}}, oo);
  plain.update_outer(0, x, gf);
  double moved = 0;
  for (size_t k = 0; k < w0.size(); ++k) moved = std::max(moved, std::abs((double(w0[k]) - p.data()[k]) / lr - data_grad[k]));
  CHECK(moved < 2e-5);
}

TEST_CASE("FedProx: Adam sees the same proximal gradient through update and update_outer", "[optim][prox]") {
  const int64_t in = 64, out = 80, n = 4;
  const Tensor w_start = random_tensor({in, out}, 11), anchor = random_tensor({in, out}, 12);
  const Tensor x = random_tensor({n, in}, 13), gf = random_tensor({n, out}, 14);
  Tensor full = Tensor::zeros({in, out});
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < out; ++j)
      for (int64_t r = 0; r < n; ++r) full.data()[i * out + j] += x.data()[r * in + i] * gf.data()[r * out + j];
  for (bool factored : {false, true}) {
    optim::OptimizerOptions oo;
    oo.lr = 1e-2f;
    oo.factored = factored;
    oo.min_compact_elements = 16;
    Tensor p1 = w_start.clone(), p2 = w_start.clone();
    optim::Adam a1({{"w", p1}}, oo), a2({{"w", p2}}, oo);
    a1.set_prox("w", anchor, 2.f);
    a2.set_prox("w", anchor, 2.f);
    for (int s = 0; s < 3; ++s) {
      a1.update(0, full);
      a2.update_outer(0, x, gf, 16);
    }
    const std::vector<float> v1 = p1.to_vector(), v2 = p2.to_vector();
    double worst = 0;
    for (size_t k = 0; k < v1.size(); ++k) worst = std::max(worst, double(std::abs(v1[k] - v2[k])));
    INFO("factored " << factored);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("FedProx: the reported loss carries (mu/2)||w - w0||^2", "[optim][prox]") {
  const train_fixtures::Toy tr = make_toy(8, 16, 21);
  const float mu = 4.f, delta = 0.01f;
  auto run = [&](double prox_mu) {
    auto m = small_model(5);
    optim::TrainOptions o;
    o.progress = 0;
    o.optimizer = optim::OptimizerKind::sgd;
    o.optim.lr = 1e-6f;
    o.prox_mu = prox_mu;
    optim::Trainer t(m, o);  // the anchor: the weights now
    int64_t count = 0;
    for (const auto& [name, p] : m->net->named_parameters()) {
      Tensor q = p;
      float* d = q.data();
      for (int64_t k = 0; k < p.numel(); ++k) d[k] += delta;
      count += p.numel();
    }
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 8, 1, false);
    const optim::Trainer::StepResult r = t.train_step(*s.next());
    return std::make_pair(r.loss, count);
  };
  const auto [with, count] = run(mu);
  const auto [without, c2] = run(0);
  const double expected = 0.5 * mu * double(count) * delta * delta;
  CHECK(with - without == Approx(expected).epsilon(1e-3));
}

TEST_CASE("FedProx: a large mu keeps the trained weights near the start", "[optim][prox]") {
  const train_fixtures::Toy tr = make_toy(64, 16, 31);
  auto train = [&](double mu) {
    auto m = small_model(9);
    const nn::NamedTensors w0 = copy_params(*m);
    optim::TrainOptions o;
    o.progress = 0;
    o.epochs = 2;
    o.optimizer = optim::OptimizerKind::sgd;
    o.optim.lr = 0.05f;
    o.prox_mu = mu;
    o.stream_min_elements = 100000;  // fc1 (1024 x 128) is streamed: its update takes the factors
    optim::Trainer t(m, o);
    REQUIRE(t.optimizer().is_streamed("fc1.weight"));
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 16, 3);
    t.fit(s);
    return distance(*m, w0);
  };
  const double free = train(0), held = train(10);
  INFO("distance from the start: mu 0 " << free << ", mu 10 " << held);
  CHECK(free > 0);
  CHECK(held < 0.5 * free);
}

TEST_CASE("FedProx: the anchor travels in the checkpoint; a checkpoint without one is refused", "[optim][prox]") {
  const train_fixtures::Toy tr = make_toy(32, 16, 41);
  const std::string with = tmp_path("optim_prox_with.lai"), without = tmp_path("optim_prox_without.lai");
  auto first = [&](double mu, const std::string& ck) {
    auto m = small_model(2);
    optim::TrainOptions o;
    o.progress = 0;
    o.epochs = 1;
    o.prox_mu = mu;
    o.checkpoint = ck;
    optim::Trainer t(m, o);
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 16, 3);
    t.fit(s);
  };
  first(1.0, with);
  first(0.0, without);
  // Resumed from another start: the two-epoch runs agree only if the anchor came from the file.
  auto straight = small_model(2);
  {
    optim::TrainOptions o;
    o.progress = 0;
    o.epochs = 2;
    o.prox_mu = 1.0;
    optim::Trainer t(straight, o);
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 16, 3);
    t.fit(s);
  }
  auto resumed = small_model(99);
  {
    optim::TrainOptions o;
    o.progress = 0;
    o.epochs = 2;
    o.prox_mu = 1.0;
    optim::Trainer t(resumed, o);
    t.resume(with);
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 16, 3);
    t.fit(s);
  }
  CHECK(distance(*resumed, copy_params(*straight)) == 0.0);
  auto other = small_model(3);
  optim::TrainOptions o;
  o.progress = 0;
  o.epochs = 2;
  o.prox_mu = 1.0;
  optim::Trainer t(other, o);
  CHECK_THROWS_WITH(t.resume(without), Catch::Contains("no FedProx anchor"));
}
