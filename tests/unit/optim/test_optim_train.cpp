// Trainer, model files, determinism, checkpoint/resume, early stopping, cancellation.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;

namespace {
using train_fixtures::make_toy;
using train_fixtures::tmp_path;
using train_fixtures::Toy;

std::shared_ptr<nn::Model> toy_model(uint64_t seed) { return nn::build_model("small_cnn", 8, 2, seed); }

optim::TrainOptions toy_options() {
  optim::TrainOptions o;
  o.epochs = 2;
  o.optim.lr = 3e-3f;
  o.progress = 0;
  return o;
}
}  // namespace

TEST_CASE("Trainer learns a toy task; validation accuracy is high", "[train]") {
  Toy tr = make_toy(512, 8, 1), va = make_toy(256, 8, 2);
  auto model = toy_model(3);
  optim::Trainer trainer(model, toy_options());
  optim::TensorSource src(tr.images, tr.labels, Tensor(), 32, 5);
  optim::TensorSource vsrc(va.images, va.labels, Tensor(), 64, 0, false);
  optim::TrainResult r = trainer.fit(src, &vsrc);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[1].loss < r.history[0].loss);
  CHECK(r.history[1].val_metric > 0.9);
  CHECK(r.steps == 32);
  optim::EvalResult e = trainer.evaluate(vsrc);
  CHECK(e.samples == 256);
  CHECK(e.metric == Approx(r.history[1].val_metric));
}

TEST_CASE("bf16 training: learns like fp32, deterministic, a non-finite gradient stops it with its name",
          "[train][bf16]") {
  Toy tr = make_toy(512, 8, 1), va = make_toy(256, 8, 2);
  auto train = [&](nn::Precision p) {
    auto model = toy_model(3);
    optim::TrainOptions o = toy_options();
    o.precision = p;
    optim::Trainer trainer(model, o);
    CHECK(model->net->training_precision() == p);
    optim::TensorSource src(tr.images, tr.labels, Tensor(), 32, 5);
    optim::TensorSource vsrc(va.images, va.labels, Tensor(), 64, 0, false);
    optim::TrainResult r = trainer.fit(src, &vsrc);
    std::vector<float> w;
    for (auto& [n, t] : model->net->state())
      for (float v : t.to_vector()) w.push_back(v);
    return std::make_pair(r, w);
  };
  const auto [r32, w32] = train(nn::Precision::f32);
  const auto [r16, w16] = train(nn::Precision::bf16_compute);
  const auto [r16b, w16b] = train(nn::Precision::bf16_compute);
  CHECK(r16.history[1].val_metric > 0.9);
  CHECK(std::fabs(r16.history[1].val_metric - r32.history[1].val_metric) < 0.05);
  CHECK(w16 == w16b);  // the same bits for the same seed
  CHECK(w16 != w32);   // the products really were bf16

  auto model = toy_model(4);
  optim::TrainOptions o = toy_options();
  o.precision = nn::Precision::bf16_compute;
  optim::Trainer trainer(model, o);
  optim::TrainBatch b;
  b.images = tr.images.slice(0, 0, 8).contiguous();
  b.images.data()[5] = std::numeric_limits<float>::infinity();
  b.labels = tr.labels.slice(0, 0, 8).contiguous();
  const std::vector<float> before = model->net->state()[0].second.to_vector();
  CHECK_THROWS_WITH(trainer.train_step(b), Catch::Contains("the gradient of '") && Catch::Contains("is not finite"));
  CHECK(model->net->state()[0].second.to_vector() == before);  // no weight was updated
}

TEST_CASE("Training is deterministic for a fixed seed", "[train]") {
  Toy tr = make_toy(128, 8, 1);
  std::vector<std::vector<float>> finals;
  for (int run = 0; run < 2; ++run) {
    auto model = toy_model(3);
    optim::Trainer trainer(model, toy_options());
    optim::TensorSource src(tr.images, tr.labels, Tensor(), 16, 5);
    trainer.fit(src);
    std::vector<float> all;
    for (auto& [n, t] : model->net->state())
      for (float v : t.to_vector()) all.push_back(v);
    finals.push_back(all);
  }
  CHECK(finals[0] == finals[1]);
  // a different seed gives different weights (the check above can fail)
  auto other = toy_model(4);
  CHECK(other->net->named_parameters()[0].second.to_vector() != toy_model(3)->net->named_parameters()[0].second.to_vector());
}

TEST_CASE("Checkpoint + resume continues exactly where training stopped", "[train]") {
  Toy tr = make_toy(128, 8, 1);
  // straight: 2 epochs
  auto a = toy_model(3);
  optim::Trainer ta(a, toy_options());
  optim::TensorSource sa(tr.images, tr.labels, Tensor(), 16, 5);
  ta.fit(sa);
  // 1 epoch with a checkpoint, then a fresh trainer resumes for the second
  const std::string ck = tmp_path("nn_resume.lai");
  auto b = toy_model(3);
  optim::TrainOptions o1 = toy_options();
  o1.epochs = 1;
  o1.checkpoint = ck;
  o1.metrics_csv = tmp_path("nn_resume.csv");
  {
    optim::Trainer tb(b, o1);
    optim::TensorSource sb(tr.images, tr.labels, Tensor(), 16, 5);
    tb.fit(sb);
  }
  auto c = toy_model(99);  // different initial weights: all must come from the checkpoint
  optim::TrainOptions o2 = toy_options();
  o2.metrics_csv = o1.metrics_csv;
  optim::Trainer tc(c, o2);
  tc.resume(ck);
  CHECK(tc.epochs_done() == 1);
  optim::TensorSource sc(tr.images, tr.labels, Tensor(), 16, 5);
  optim::TrainResult r = tc.fit(sc);
  CHECK(r.history.size() == 1);
  CHECK(r.history[0].epoch == 2);
  auto sa_state = a->net->state(), sc_state = c->net->state();
  for (size_t i = 0; i < sa_state.size(); ++i) {
    INFO(sa_state[i].first);
    CHECK(sa_state[i].second.to_vector() == sc_state[i].second.to_vector());
  }
  // the metrics log has a header and one row per epoch
  std::ifstream csv(o1.metrics_csv);
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  CHECK(lines == 3);
}

TEST_CASE("Early stopping and cancellation", "[train]") {
  Toy tr = make_toy(64, 8, 1), va = make_toy(64, 8, 2);
  auto model = toy_model(3);
  optim::TrainOptions o = toy_options();
  o.epochs = 50;
  o.optim.lr = 0.f;  // nothing improves: stops after `patience` epochs past the first
  o.early_stopping_patience = 2;
  optim::Trainer t(model, o);
  optim::TensorSource src(tr.images, tr.labels, Tensor(), 16, 5), vsrc(va.images, va.labels, Tensor(), 64, 0, false);
  optim::TrainResult r = t.fit(src, &vsrc);
  CHECK(r.early_stopped);
  CHECK(r.history.size() == 3);

  auto m2 = toy_model(3);
  optim::TrainOptions oc = toy_options();
  int calls = 0;
  oc.callback = [&](const optim::Progress& p) {
    ++calls;
    CHECK(p.phase == optim::Phase::train);
    CHECK(p.steps_per_epoch == 4);
    return p.step < 3;  // cancel at step 3
  };
  optim::Trainer tc(m2, oc);
  optim::TensorSource s2(tr.images, tr.labels, Tensor(), 16, 5);
  optim::TrainResult rc = tc.fit(s2);
  CHECK(rc.cancelled);
  CHECK(calls == 3);
  CHECK(rc.steps == 3);
}

TEST_CASE("Multi-label (sigmoid) and autoencoder heads train", "[train]") {
  Generator g(1);
  {
    nn::ArchSpec s;
    s.name = "compact_cxr";
    s.set("size", 16).set("classes", 3).set("head", "sigmoid").set("l2", 0.0);
    auto m = nn::build_model(s, 1);
    Tensor x = randn({16, 1, 16, 16}, 0, 1, g);
    Tensor y = Tensor::zeros({16, 3});
    for (int i = 0; i < 16; ++i) {
      y.data()[i * 3 + (i % 3)] = 1;  // label pattern tied to the image below
      x.data()[i * 256 + (i % 3) * 40] += 4.f;
    }
    optim::TrainOptions o = toy_options();
    o.epochs = 20;
    o.optim.lr = 3e-3f;
    optim::Trainer t(m, o);
    optim::TensorSource src(x, Tensor(), y, 16, 1);
    auto r = t.fit(src);
    CHECK(r.history.back().loss < r.history.front().loss * 0.5);
    CHECK(r.history.back().metric > 0.9);
  }
  {
    auto m = nn::build_model("autoencoder", 8, 0, 1);
    Tensor x = randn({8, 1, 8, 8}, 0, 1, g);
    optim::TrainOptions o = toy_options();
    o.epochs = 8;
    optim::Trainer t(m, o);
    optim::TensorSource src(x, Tensor(), Tensor(), 8, 1);
    auto r = t.fit(src);
    CHECK(r.history.back().loss < r.history.front().loss);
  }
}

TEST_CASE("compact_cxr with Keras L2 and a streamed first Dense trains like the stored-gradient path", "[train]") {
  Generator g(2);
  Tensor x = randn({8, 1, 16, 16}, 0, 1, g);
  Tensor y = Tensor::from_vector({0, 1, 0, 1, 1, 0, 1, 0}, {8});
  std::vector<std::vector<float>> finals;
  std::vector<double> losses;
  for (int streamed = 0; streamed < 2; ++streamed) {
    auto m = nn::build_model("compact_cxr", 16, 2, 5);
    optim::TrainOptions o = toy_options();
    o.epochs = 2;
    o.stream_min_elements = streamed ? 4096 : 0;  // fc1 has 2*2*128*256 = 131,072 weights
    o.stream_block_rows = 100;                     // 512 rows: 5 full blocks and a partial one
    optim::Trainer t(m, o);
    CHECK(t.optimizer().is_streamed("fc1.weight") == (streamed == 1));
    optim::TensorSource src(x, y, Tensor(), 4, 1);
    auto r = t.fit(src);
    losses.push_back(r.history.back().loss);
    finals.push_back(m->net->named_parameters()[6].second.to_vector());  // fc1.weight
  }
  CHECK(losses[0] == Approx(losses[1]).epsilon(1e-4));
  for (size_t i = 0; i < finals[0].size(); i += 97) CHECK(finals[0][i] == Approx(finals[1][i]).margin(1e-6));
}

TEST_CASE("Model files: round trip, preprocessing, class names, errors", "[io]") {
  auto m = nn::build_model("teacher_cxr", 32, 3, 7);
  m->class_names = {"normal", "nodule", "effusion"};
  m->preprocessing.standardize = false;
  // run one training forward so BatchNorm running stats differ from their initial values
  Generator g(3);
  Tensor x = randn({2, 1, 32, 32}, 0, 1, g);
  m->net->train();
  {
    autograd::NoGrad ng;
    m->forward(x);
  }
  const std::string path = tmp_path("nn_roundtrip.lai");
  nn::save_model(path, *m);
  nn::SavedModel s = nn::load_model(path);
  CHECK(s.model->arch.to_json() == m->arch.to_json());
  CHECK(s.model->class_names == m->class_names);
  CHECK_FALSE(s.model->preprocessing.standardize);
  CHECK(s.model->preprocessing.width == 32);
  CHECK(s.optimizer.name.empty());
  CHECK(s.model->predict(x).to_vector() == m->predict(x).to_vector());
  auto bytes = nn::save_model_to_bytes(*m);
  nn::SavedModel sb = nn::load_model_from_bytes(bytes.data(), bytes.size());
  CHECK(sb.model->predict(x).to_vector() == m->predict(x).to_vector());
  // truncated file: a clear error, no crash
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2));
  CHECK_THROWS(nn::load_model_from_bytes(cut.data(), cut.size(), "cut.lai"));
  CHECK_THROWS_WITH(nn::load_model(tmp_path("does_not_exist.lai")), Catch::Contains("does_not_exist"));
}

TEST_CASE("Distillation through a custom loss: the student approaches the teacher", "[train][distill]") {
  Toy tr = make_toy(256, 8, 1), va = make_toy(128, 8, 2);
  auto teacher = toy_model(3);
  {
    optim::Trainer t(teacher, toy_options());
    optim::TensorSource src(tr.images, tr.labels, Tensor(), 32, 5);
    t.fit(src);
  }
  teacher->net->eval();
  auto student = toy_model(11);
  optim::TrainOptions o = toy_options();
  o.loss = [&](const Tensor& out, const optim::TrainBatch& b) {
    Tensor t;
    {
      autograd::NoGrad ng;
      t = teacher->forward(b.images);
    }
    return nn::distillation_loss(out, t, b.labels, 4.f, 0.7f);
  };
  optim::Trainer ts(student, o);
  optim::TensorSource src(tr.images, tr.labels, Tensor(), 32, 6);
  auto r = ts.fit(src);
  CHECK(r.history.back().loss < r.history.front().loss);
  optim::TensorSource vsrc(va.images, va.labels, Tensor(), 64, 0, false);
  CHECK(ts.evaluate(vsrc).metric > 0.85);
}
