// Trainer: early stopping restores the best weights; checkpoints carry the Dropout random state
// so a resumed run is bit-identical to an uninterrupted one.
#include <catch2/catch.hpp>
#include <cstdlib>

#include "liteai/core/random.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;

namespace {
using train_fixtures::make_toy;
using train_fixtures::tmp_path;
using train_fixtures::Toy;

std::vector<float> flat_state(const nn::Model& m) {
  std::vector<float> all;
  for (auto& [n, t] : m.net->state())
    for (float v : t.to_vector()) all.push_back(v);
  return all;
}

// teacher_cxr holds BatchNorm and Dropout(0.2): the dropout masks depend on the layer's random state.
std::shared_ptr<nn::Model> dropout_model(uint64_t seed) {
  nn::ArchSpec spec;
  spec.name = "teacher_cxr";
  spec.set("size", 16.0);
  spec.set("classes", 2.0);
  spec.set("width", 2.0);
  return nn::build_model(spec, seed);
}
}  // namespace

TEST_CASE("Dropout random state: counter-based, saved and restored", "[optim][dropout]") {
  nn::Dropout a(0.5f, 11);
  const Tensor x = Tensor::ones({256});
  const std::vector<float> m1 = a.forward(x).to_vector();
  const std::vector<float> m2 = a.forward(x).to_vector();
  CHECK(m1 != m2);  // each call draws a new mask
  const nn::Dropout::RngState s = a.rng_state();
  CHECK(s.seed == 11);
  CHECK(s.calls == 2);
  const std::vector<float> m3 = a.forward(x).to_vector();
  nn::Dropout b(0.5f, 999);  // other seed: everything comes from the restored state
  b.set_rng_state(s);
  CHECK(b.forward(x).to_vector() == m3);
  b.set_rng_state({11, 0});
  CHECK(b.forward(x).to_vector() == m1);
}

TEST_CASE("Resume with Dropout gives the same bits as an uninterrupted run", "[optim][dropout]") {
  const Toy tr = make_toy(48, 16, 1);
  optim::TrainOptions base;
  base.epochs = 2;
  base.optim.lr = 2e-3f;
  base.progress = 0;
  // straight: 2 epochs
  auto a = dropout_model(3);
  {
    optim::Trainer t(a, base);
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 16, 5);
    t.fit(s);
  }
  // 1 epoch with a checkpoint, then a fresh model (other seed: other init and dropout seed)
  const std::string ck = tmp_path("optim_dropout_resume.lai");
  {
    auto b = dropout_model(3);
    optim::TrainOptions o = base;
    o.epochs = 1;
    o.checkpoint = ck;
    optim::Trainer t(b, o);
    optim::TensorSource s(tr.images, tr.labels, Tensor(), 16, 5);
    t.fit(s);
  }
  auto c = dropout_model(77);
  optim::Trainer tc(c, base);
  tc.resume(ck);
  REQUIRE(tc.epochs_done() == 1);
  optim::TensorSource sc(tr.images, tr.labels, Tensor(), 16, 5);
  tc.fit(sc);
  const auto sa = a->net->state(), scs = c->net->state();
  REQUIRE(sa.size() == scs.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(sa[i].second.to_vector() == scs[i].second.to_vector());
  }
  // The check can fail: resuming with the dropout state rewound to the start of training (what
  // a checkpoint without it gives) ends elsewhere.
  nn::SavedModel saved = nn::load_model(ck, true);
  REQUIRE(saved.training.is_object());
  REQUIRE(saved.training.contains("dropout_rng"));
  auto d = dropout_model(3);
  optim::Trainer td(d, base);
  td.resume(ck);
  for (const auto& [name, m] : d->net->children())
    if (auto* drop = dynamic_cast<nn::Dropout*>(m.get())) drop->set_rng_state({drop->rng_state().seed, 0});
  optim::TensorSource sd(tr.images, tr.labels, Tensor(), 16, 5);
  td.fit(sd);
  CHECK(flat_state(*d) != flat_state(*a));
}

TEST_CASE("Early stopping restores the weights of the best validation epoch", "[optim][early]") {
  // A learning rate far too high: validation loss is best early, then gets worse.
  const Toy tr = make_toy(32, 8, 1, 0.8f), va = make_toy(32, 8, 2, 0.8f);
  auto run = [&](bool restore, std::vector<std::vector<float>>* per_epoch) {
    auto model = nn::build_model("small_cnn", 8, 2, 3);
    optim::TrainOptions o;
    o.epochs = 30;
    o.optim.lr = 3e-2f;
    o.progress = 0;
    o.early_stopping_patience = 2;
    o.restore_best_weights = restore;
    o.callback = [&](const optim::Progress& p) {
      if (p.phase == optim::Phase::epoch && per_epoch) per_epoch->push_back(flat_state(*model));
      return true;
    };
    optim::Trainer t(model, o);
    optim::TensorSource src(tr.images, tr.labels, Tensor(), 16, 5), vsrc(va.images, va.labels, Tensor(), 32, 0, false);
    optim::TrainResult r = t.fit(src, &vsrc);
    optim::EvalResult e = t.evaluate(vsrc);
    return std::make_tuple(r, e, flat_state(*model));
  };
  std::vector<std::vector<float>> epochs;
  auto [r, e, w] = run(true, &epochs);
  REQUIRE(r.early_stopped);
  REQUIRE(r.history.size() >= 3);
  // the best epoch is not the last one (the run really got worse before stopping)
  size_t best = 0;
  for (size_t i = 1; i < r.history.size(); ++i)
    if (r.history[i].val_loss < r.history[best].val_loss) best = i;
  REQUIRE(best + 1 < r.history.size());
  CHECK(r.best_epoch == static_cast<int64_t>(best) + 1);
  CHECK(r.best_val_loss == Approx(r.history[best].val_loss));
  // the weights are those at the end of the best epoch, and evaluate to its validation loss
  CHECK(w == epochs[best]);
  CHECK(e.loss == Approx(r.history[best].val_loss).epsilon(1e-5));
  // without restoring, the last epoch's weights stay
  auto [r2, e2, w2] = run(false, nullptr);
  CHECK(w2 == epochs.back());
  CHECK(e2.loss == Approx(r2.history.back().val_loss).epsilon(1e-5));
  CHECK(e2.loss > e.loss);
}

TEST_CASE("Best weights survive a checkpoint and resume", "[optim][early]") {
  const Toy tr = make_toy(32, 8, 1, 0.8f), va = make_toy(32, 8, 2, 0.8f);
  optim::TrainOptions o;
  o.epochs = 30;
  o.optim.lr = 3e-2f;
  o.progress = 0;
  o.early_stopping_patience = 2;
  // straight run
  auto a = nn::build_model("small_cnn", 8, 2, 3);
  optim::TrainResult ra;
  {
    optim::Trainer t(a, o);
    optim::TensorSource src(tr.images, tr.labels, Tensor(), 16, 5), vsrc(va.images, va.labels, Tensor(), 32, 0, false);
    ra = t.fit(src, &vsrc);
  }
  REQUIRE(ra.early_stopped);
  const int64_t stop = static_cast<int64_t>(ra.history.size());
  REQUIRE(ra.best_epoch < stop);
  // interrupted one epoch before it stops (after the best epoch), resumed from the checkpoint
  const std::string ck = tmp_path("optim_best_resume.lai");
  {
    auto b = nn::build_model("small_cnn", 8, 2, 3);
    optim::TrainOptions ob = o;
    ob.checkpoint = ck;
    ob.epochs = stop - 1;
    optim::Trainer t(b, ob);
    optim::TensorSource src(tr.images, tr.labels, Tensor(), 16, 5), vsrc(va.images, va.labels, Tensor(), 32, 0, false);
    optim::TrainResult rb = t.fit(src, &vsrc);
    REQUIRE(!rb.early_stopped);
  }
  auto c = nn::build_model("small_cnn", 8, 2, 9);
  optim::Trainer tc(c, o);
  tc.resume(ck);
  optim::TensorSource src(tr.images, tr.labels, Tensor(), 16, 5), vsrc(va.images, va.labels, Tensor(), 32, 0, false);
  optim::TrainResult rc = tc.fit(src, &vsrc);
  CHECK(rc.early_stopped);
  CHECK(rc.best_epoch == ra.best_epoch);
  CHECK(flat_state(*c) == flat_state(*a));
}
