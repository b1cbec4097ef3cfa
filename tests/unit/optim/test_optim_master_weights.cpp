// bf16 master weights (TrainOptions::master_weights): stochastic rounding that keeps small updates
// on average, optimizers updating bf16 parameters, a streamed Dense layer training on bf16
// weights, a Trainer that stores them, resumes bit for bit and saves them, and the planner
// choosing them when f32 weights do not fit.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/layers.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/ops/ops.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;
using train_fixtures::make_toy;
using train_fixtures::Resumed;
using train_fixtures::train_resumed;
using train_fixtures::tmp_path;
using train_fixtures::Toy;

namespace {
float from_bf16(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t truncated(float x) {  // the bf16 value at or below |x| (towards zero)
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return uint16_t(bits >> 16);
}

int64_t file_size(const std::string& path) { return int64_t(std::filesystem::file_size(path)); }

std::vector<float> flat_state(const nn::Module& m) {
  std::vector<float> out;
  for (const auto& [name, t] : m.state()) {
    const std::vector<float> v = t.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// compact_cxr at 16x16: fc1 is a 512 x 256 Dense (131,072 weights) that a threshold streams.
std::shared_ptr<nn::Model> compact(uint64_t seed) { return nn::build_model("compact_cxr", 16, 2, seed); }

optim::TrainOptions bf16_options() {
  optim::TrainOptions o;
  o.progress = 0;
  o.optim.lr = 2e-3f;
  o.stream_min_elements = 100000;
  o.master_weights = DType::bf16;
  return o;
}

Tensor fc1_weight(nn::Model& m) {
  for (const auto& [name, t] : m.net->named_parameters())
    if (t.numel() >= 100000) return t;
  FAIL("no streamed weight");
  return Tensor();
}
}  // namespace

TEST_CASE("Stochastic rounding to bf16: one of the two neighbours, unbiased, reproducible", "[optim][bf16]") {
  const int64_t n = 200000;
  // 1 + 0.3 ulp: round-to-nearest would always give 1.0; stochastic rounding gives the upper
  // neighbour for 30 % of the elements.
  const float ulp = 1.f / 128.f, x = 1.f + 0.3f * ulp;
  std::vector<float> in(size_t(n), x);
  std::vector<uint16_t> out(static_cast<size_t>(n)), again(static_cast<size_t>(n)), other(static_cast<size_t>(n));
  optim::round_bf16_stochastic(n, in.data(), out.data(), 42, 1000);
  double mean = 0;
  int64_t up = 0;
  for (uint16_t h : out) {
    const float y = from_bf16(h);
    REQUIRE((y == 1.f || y == 1.f + ulp));
    up += y > 1.f;
    mean += y;
  }
  mean /= double(n);
  // binomial: the share of ups within 5 standard deviations of 0.3
  CHECK(std::fabs(double(up) / double(n) - 0.3) < 5 * std::sqrt(0.3 * 0.7 / double(n)));
  CHECK(std::fabs(mean - double(x)) < 1e-4 * ulp * 100);
  // The same key and indices give the same bits; another key other bits; a split call the same.
  optim::round_bf16_stochastic(n, in.data(), again.data(), 42, 1000);
  CHECK(again == out);
  optim::round_bf16_stochastic(n, in.data(), other.data(), 43, 1000);
  CHECK(other != out);
  optim::round_bf16_stochastic(777, in.data(), again.data(), 42, 1000);
  optim::round_bf16_stochastic(n - 777, in.data() + 777, again.data() + 777, 42, 1000 + 777);
  CHECK(again == out);
  // bf16 values stay exactly themselves; signs, infinities and NaNs are kept.
  const float specials[] = {0.f, -0.f, 1.f, -2.5f, 65280.f, INFINITY, -INFINITY, NAN, 3.0e38f};
  uint16_t s[9];
  optim::round_bf16_stochastic(9, specials, s, 7, 0);
  for (int i = 0; i < 7; ++i) CHECK(s[i] == truncated(specials[i]));
  CHECK(std::isnan(from_bf16(s[7])));
  CHECK(from_bf16(s[8]) > 2.9e38f);  // one of the neighbours of a large finite value
}

TEST_CASE("Optimizers update bf16 parameters in f32 and keep updates below half a bf16 step", "[optim][bf16]") {
  const int64_t n = 100000;
  for (optim::OptimizerKind kind : {optim::OptimizerKind::sgd, optim::OptimizerKind::adam}) {
    INFO(optim::to_string(kind));
    // SGD: w = 1, g = 1, lr 1e-3: each step lowers w by 0.128 of a bf16 step (1/128 at 1.0).
    // Adam: its first step moves every weight by lr as well.
    Tensor w16 = Tensor::full({n}, 1.f).to(DType::bf16), w32 = Tensor::full({n}, 1.f);
    optim::OptimizerOptions oo;
    oo.lr = 1e-3f;
    auto a = optim::make_optimizer(kind, {{"w", w16}}, oo);
    auto b = optim::make_optimizer(kind, {{"w", w32}}, oo);
    const Tensor g = Tensor::full({n}, 1.f);
    for (int step = 0; step < 3; ++step) {
      a->update(0, g);
      b->update(0, g);
    }
    REQUIRE(w16.dtype() == DType::bf16);
    const std::vector<float> v16 = w16.to_vector(), v32 = w32.to_vector();
    double mean = 0;
    for (size_t i = 0; i < v16.size(); ++i) {
      REQUIRE(std::fabs(v16[i] - v32[i]) <= 3.f / 128.f);  // each step's rounding: at most a bf16 step
      mean += v16[i];
    }
    mean /= double(n);
    // Round-to-nearest would leave every weight at 1.0 (0.997 rounds back up); on average the
    // bf16 weights follow the f32 ones.
    CHECK(v32[0] == Approx(0.997f).epsilon(1e-4));
    CHECK(std::fabs(mean - double(v32[0])) < 2e-4);
  }
}

TEST_CASE("A streamed Dense layer trains on bf16 weights: the products of the f32 layer with the same values",
          "[optim][bf16]") {
  Generator gen(5);
  auto f32 = std::make_shared<nn::Dense>(300, 70, nn::DenseOptions{}, gen);
  // weights that bf16 holds exactly, so both layers compute with the same values
  Tensor(f32->weight).copy_from(f32->weight.to(DType::bf16));
  auto b16 = std::make_shared<nn::Dense>(f32->weight.to(DType::bf16), f32->bias.clone());
  REQUIRE(b16->weight.dtype() == DType::bf16);
  Tensor fx, fg, bx, bg;
  f32->stream_weight_gradient([&](const Tensor& x, const Tensor& g) { fx = x.clone(), fg = g.clone(); });
  b16->stream_weight_gradient([&](const Tensor& x, const Tensor& g) { bx = x.clone(), bg = g.clone(); });
  const Tensor x0 = randn({6, 300}, 0, 1, gen), up = randn({6, 70}, 0, 1, gen);
  Tensor xa = x0.clone(), xb = x0.clone();
  xa.set_requires_grad(true), xb.set_requires_grad(true);
  const Tensor ya = f32->forward(xa), yb = b16->forward(xb);
  ops::sum(ops::mul(ya, up)).backward();
  ops::sum(ops::mul(yb, up)).backward();
  auto close = [](const Tensor& a, const Tensor& b) {
    const std::vector<float> u = a.to_vector(), v = b.to_vector();
    REQUIRE(u.size() == v.size());
    double d = 0, s = 0;
    for (size_t i = 0; i < u.size(); ++i) d = std::max(d, std::fabs(double(u[i]) - v[i])), s = std::max(s, std::fabs(double(u[i])));
    return d / s;
  };
  CHECK(close(ya, yb) < 1e-5);
  CHECK(close(xa.grad(), xb.grad()) < 1e-5);
  CHECK(close(fx, bx) == 0);
  CHECK(close(fg, bg) < 1e-5);
  CHECK_FALSE(b16->weight.grad().defined());
  // Without a sink a bf16 layer cannot train: a clear error, not an f32 read of bf16 bits.
  b16->stream_weight_gradient(nullptr);
  CHECK_THROWS_WITH(b16->forward(xb), Catch::Contains("bf16") && Catch::Contains("streamed"));
  // Inference (no autograd) reads them directly.
  autograd::NoGrad ng;
  CHECK(close(b16->forward(x0), f32->forward(x0)) < 1e-5);
}

TEST_CASE("A Trainer with bf16 master weights: fc1 in bf16, it learns like f32, resumes bit for bit, saves bf16",
          "[train][bf16]") {
  Toy tr = make_toy(48, 16, 10);
  // Like f32: the same init and batches, the training loss close to the f32 run's.
  optim::TrainOptions o32 = bf16_options();
  o32.master_weights = DType::f32;
  o32.epochs = 3;
  auto m32 = compact(11);
  optim::Trainer t32(m32, o32);
  optim::TensorSource s32(tr.images, tr.labels, Tensor(), 12, 5);
  const optim::TrainResult r32 = t32.fit(s32);

  optim::TrainOptions o = bf16_options();
  o.epochs = 3;
  auto a = compact(11);
  optim::Trainer ta(a, o);
  REQUIRE(fc1_weight(*a).dtype() == DType::bf16);
  CHECK_THAT(ta.memory_plan(), Catch::Contains("in bf16"));
  optim::TensorSource sa(tr.images, tr.labels, Tensor(), 12, 5);
  const optim::TrainResult ra = ta.fit(sa);
  REQUIRE(ra.history.size() == 3);
  INFO("losses f32 " << r32.history[0].loss << " " << r32.history[2].loss << ", bf16 " << ra.history[0].loss << " "
                     << ra.history[2].loss);
  CHECK(ra.history[2].loss < ra.history[0].loss);
  CHECK(std::fabs(ra.history[2].loss - r32.history[2].loss) < 0.1 * r32.history[2].loss);

  // Resume: one epoch, a checkpoint, two more epochs on a fresh model = three epochs in one go.
  const Resumed c = train_resumed(compact, 11, 77, tr, o, 12, 5, tmp_path("bf16_weights_resume.lai"));
  CHECK(flat_state(*c.model->net) == flat_state(*a->net));

  // The model file keeps fc1 in bf16 (2 bytes a weight fewer than the f32 run's file); loaded,
  // it holds the same values (exact f32 copies, a model that can train) and predicts the same.
  const std::string path = tmp_path("bf16_weights_model.lai"), path32 = tmp_path("f32_weights_model.lai");
  nn::save_model(path, *a);
  nn::save_model(path32, *m32);
  CHECK(file_size(path32) - file_size(path) == 2 * fc1_weight(*a).numel());
  nn::SavedModel back = nn::load_model(path);
  CHECK(fc1_weight(*back.model).to_vector() == fc1_weight(*a).to_vector());
  autograd::NoGrad ng;
  a->net->train(false);
  back.model->net->train(false);
  const std::vector<float> ya = a->forward(tr.images).to_vector(), yb = back.model->forward(tr.images).to_vector();
  REQUIRE(ya.size() == yb.size());
  for (size_t i = 0; i < ya.size(); ++i) CHECK(yb[i] == Approx(ya[i]).epsilon(1e-5).margin(1e-5));
  // A Trainer asked for f32 master weights takes a bf16 model back to exact f32.
  const std::vector<float> before = fc1_weight(*a).to_vector();
  optim::TrainOptions of = o;
  of.master_weights = DType::f32;
  optim::Trainer tf(a, of);
  CHECK(fc1_weight(*a).dtype() == DType::f32);
  CHECK(fc1_weight(*a).to_vector() == before);
}

TEST_CASE("The planner chooses bf16 master weights where f32 weights leave no room", "[train][budget][bf16]") {
  auto model = nn::build_model("compact_cxr", 128, 2, 13);  // fc1: 32768 x 256 = 8.4M weights, 32 MiB
  optim::TrainOptions o;
  o.progress = 0;
  o.stream_min_elements = 100000;
  o.loader_bytes = 0;
  o.runtime_bytes = 64 << 20;  // a fixed process figure: budgets derived from one plan hold in the next
  const Shape sample{1, 128, 128};
  const optim::MemoryPlan roomy = optim::plan_memory(*model, o, 8, sample, int64_t(1) << 34);
  CHECK(roomy.master_weights == DType::f32);
  // The f32 weights and the process figure plus 12 MiB: no f32-weight plan fits (8-bit factored
  // state, one sample's activations and the update's workspace take about 20 MiB), bf16 weights
  // free 16 MiB.
  const int64_t budget = roomy.weights + roomy.runtime + (12 << 20);
  const optim::MemoryPlan p = optim::plan_memory(*model, o, 8, sample, budget);
  INFO(p.to_string());
  CHECK(p.master_weights == DType::bf16);
  CHECK(p.peak() <= budget);
  CHECK(p.weights == roomy.weights - 2 * 32768 * 256);
  CHECK_THAT(p.to_string(), Catch::Contains("streamed weights bf16"));
  // Asked for f32 weights only... the planner never picks a more precise type than asked; asked
  // for bf16, it keeps bf16 even with room for f32.
  optim::TrainOptions ob = o;
  ob.master_weights = DType::bf16;
  CHECK(optim::plan_memory(*model, ob, 8, sample, int64_t(1) << 34).master_weights == DType::bf16);
  // A trainer adopting the plan stores fc1 in bf16 and trains within it.
  Toy t = make_toy(8, 128, 12);
  optim::TrainBatch b;
  b.images = t.images;
  b.labels = t.labels;
  o.max_memory = budget;
  optim::Trainer trainer(model, o);
  trainer.train_step(b);
  REQUIRE(trainer.plan());
  CHECK(trainer.options().master_weights == DType::bf16);
  CHECK(fc1_weight(*model).dtype() == DType::bf16);
}
