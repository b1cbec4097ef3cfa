// Training within a memory budget: micro-batches with gradient accumulation (exact without
// BatchNorm; what BatchNorm does), activation checkpointing (the same gradient bits), exact resume
// with 8-bit state, the planner (a plan that fits, a clear refusal) and the memory categories.
#include <catch2/catch.hpp>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/nn/checkpoint.hpp"
#include "liteai/nn/layers.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;
using train_fixtures::make_toy;
using train_fixtures::tmp_path;
using train_fixtures::Toy;

namespace {
optim::TrainOptions quiet() {
  optim::TrainOptions o;
  o.progress = 0;
  o.optim.lr = 2e-3f;
  return o;
}

// compact_cxr at 16x16: fc1 is a 2*2*128 x 256 Dense (131,072 weights) that a threshold streams.
std::shared_ptr<nn::Model> compact(uint64_t seed) { return nn::build_model("compact_cxr", 16, 2, seed); }

optim::TrainBatch batch_of(const Toy& t, int64_t n) {
  optim::TrainBatch b;
  b.images = t.images.slice(0, 0, n).contiguous();
  b.labels = t.labels.slice(0, 0, n).contiguous();
  return b;
}

std::vector<float> flat_state(const nn::Module& m) {
  std::vector<float> out;
  for (const auto& [name, t] : m.state()) {
    const std::vector<float> v = t.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]) / (1e-3 + std::fabs(double(b[i]))));
  return d;
}

// Gradients of every parameter after one forward/backward pass of the batch.
std::vector<std::vector<float>> gradients(nn::Model& m, const optim::TrainBatch& b) {
  m.net->train(true);
  m.net->zero_grad();
  nn::head_loss(m.head(), m.forward(b.images), b.labels, Tensor()).backward();
  std::vector<std::vector<float>> out;
  for (const auto& [name, p] : m.net->named_parameters()) out.push_back(p.grad().to_vector());
  return out;
}
}  // namespace

TEST_CASE("Micro-batches accumulate the batch's gradient: the same training without BatchNorm", "[train][budget]") {
  Toy t = make_toy(10, 16, 3);
  const optim::TrainBatch b = batch_of(t, 10);
  // streamed fc1: its gradient as factors over all pieces; prefix: pieces only up to fc1 (passes.hpp)
  for (int variant = 0; variant < 3; ++variant) {
    const bool streamed = variant > 0, prefix = variant == 2;
    INFO("streamed fc1 " << streamed << ", prefix pieces " << prefix);
    auto a = compact(4), c = compact(4);
    optim::TrainOptions o = quiet();
    o.optimizer = optim::OptimizerKind::sgd;  // linear in the gradient: only rounding can differ
    o.optim.lr = 0.05f;
    o.stream_min_elements = streamed ? 100000 : 0;
    o.micro_batch_prefix = prefix;
    optim::Trainer ta(a, o);
    o.micro_batch = 4;  // pieces of 4, 4 and 2
    optim::Trainer tc(c, o);
    CHECK(tc.optimizer().is_streamed("fc1.weight") == streamed);
    double la = 0, lc = 0;
    for (int step = 0; step < 3; ++step) {
      la = ta.train_step(b).loss;
      lc = tc.train_step(b).loss;
    }
    CHECK(lc == Approx(la).epsilon(1e-5));
    const double d = max_rel_diff(flat_state(*c->net), flat_state(*a->net));
    CHECK(d < 1e-4);  // float rounding: sums in another order
    CHECK(flat_state(*c->net) != flat_state(*compact(4)->net));  // both trained
  }
}

TEST_CASE("Micro-batches with BatchNorm: each piece is normalized by its own statistics", "[train][budget]") {
  // teacher_cxr has BatchNorm (and Dropout, off here by p's default in eval; training draws masks per piece).
  Toy t = make_toy(8, 16, 5);
  const optim::TrainBatch b = batch_of(t, 8);
  auto a = nn::build_model("teacher_cxr", 16, 2, 6), c = nn::build_model("teacher_cxr", 16, 2, 6);
  optim::TrainOptions o = quiet();
  optim::Trainer ta(a, o);
  o.micro_batch = 4;
  optim::Trainer tc(c, o);
  ta.train_step(b);
  tc.train_step(b);
  // Not the whole batch's step (the statistics differ)...
  CHECK(max_rel_diff(flat_state(*c->net), flat_state(*a->net)) > 1e-3);
  // ...but the running statistics got one update per piece, as two forward passes give them.
  auto d = nn::build_model("teacher_cxr", 16, 2, 6);
  d->net->train(true);
  {
    autograd::NoGrad ng;
    d->forward(b.images.slice(0, 0, 4));
    d->forward(b.images.slice(0, 4, 8));
  }
  const auto got = c->net->named_buffers(), want = d->net->named_buffers();
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(got[i].first);
    CHECK(got[i].second.to_vector() == want[i].second.to_vector());
  }
}

TEST_CASE("Prefix pieces with BatchNorm and Dropout: statistics once per piece, masks replayed, the tail whole", "[train][budget]") {
  // teacher_cxr: four conv-BN stages, then fc1 (256 x 256, streamed here), Dropout, out.
  Toy t = make_toy(8, 16, 16);
  const optim::TrainBatch b = batch_of(t, 8);
  auto c = nn::build_model("teacher_cxr", 16, 2, 6);
  optim::TrainOptions o = quiet();
  o.stream_min_elements = 60000;
  o.micro_batch = 3;
  optim::Trainer tc(c, o);
  tc.train_step(b);
  auto d = nn::build_model("teacher_cxr", 16, 2, 6);
  d->net->train(true);
  {
    autograd::NoGrad ng;
    for (int64_t s = 0; s < 8; s += 3) d->forward(b.images.slice(0, s, std::min<int64_t>(8, s + 3)));
  }
  const auto got = c->net->named_buffers(), want = d->net->named_buffers();
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(got[i].first);
    CHECK(got[i].second.to_vector() == want[i].second.to_vector());
  }
  // Dropout (in the tail) drew one mask per step, for the whole batch: a model stepped once
  // without micro-batches has drawn as many.
  auto* drop = dynamic_cast<nn::Dropout*>(c->net->children()[6].second.get());
  REQUIRE(drop);
  CHECK(drop->rng_state().calls == 1);
}

TEST_CASE("Activation checkpointing: the same gradient bits, Dropout masks and BatchNorm statistics", "[train][budget]") {
  Toy t = make_toy(6, 16, 7);
  const optim::TrainBatch b = batch_of(t, 6);
  for (const char* name : {"teacher_cxr", "compact_cxr"}) {
    INFO(name);
    auto plain = nn::build_model(name, 16, 2, 8), ck = nn::build_model(name, 16, 2, 8);
    for (const auto& [n, c] : ck->net->children()) c->set_checkpointing(true);
    const auto g0 = gradients(*plain, b), g1 = gradients(*ck, b);
    REQUIRE(g0.size() == g1.size());
    for (size_t i = 0; i < g0.size(); ++i) {
      INFO("parameter " << i);
      CHECK(g0[i] == g1[i]);
    }
    CHECK(flat_state(*plain->net) == flat_state(*ck->net));  // running statistics updated once
    // the next pass draws the same Dropout masks too
    CHECK(gradients(*plain, b) == gradients(*ck, b));
  }
  // Recorded as one node that keeps only its input: the inner graph is gone after forward.
  auto m = compact(9);
  m->net->train(true);
  nn::Module& conv = *m->net->children()[0].second;
  Tensor x = t.images.slice(0, 0, 2).contiguous();
  Tensor y = nn::checkpoint(conv, x);
  REQUIRE(y.grad_fn());
  CHECK(y.grad_fn()->name == "checkpoint");
  {
    autograd::NoGrad ng;
    CHECK_FALSE(nn::checkpoint(conv, x).grad_fn());  // nothing to record: the plain call
  }
}

TEST_CASE("A Trainer with micro-batches, checkpointing and 8-bit state resumes bit for bit", "[train][budget]") {
  Toy tr = make_toy(48, 16, 10);
  for (int variant = 0; variant < 2; ++variant) {
    INFO("variant " << variant);
    optim::TrainOptions o = quiet();
    o.epochs = 2;
    o.micro_batch = 5;
    o.checkpointing = optim::Checkpointing::children;
    o.optim.state = optim::StatePrecision::q8;
    o.optim.factored = variant == 1;
    o.stream_min_elements = 100000;
    o.optim.min_compact_elements = 2048;  // conv2 and conv3 kernels are 8-bit too
    auto a = compact(11);
    optim::Trainer ta(a, o);
    optim::TensorSource sa(tr.images, tr.labels, Tensor(), 12, 5);
    ta.fit(sa);
    const train_fixtures::Resumed c =
        train_fixtures::train_resumed(compact, 11, 77, tr, o, 12, 5, tmp_path("budget_resume.lai"));
    CHECK(flat_state(*c.model->net) == flat_state(*a->net));
    bool codes = false;
    for (const auto& [name, t] : c.trainer->optimizer().state()) codes |= t.dtype() == DType::u8;
    CHECK(codes);
  }
}

TEST_CASE("The planner: a plan that fits, leaner choices for smaller budgets, a clear refusal", "[train][budget]") {
  Toy t = make_toy(8, 128, 12);
  const optim::TrainBatch b = batch_of(t, 8);
  auto model = nn::build_model("compact_cxr", 128, 2, 13);  // fc1: 16*16*128 x 256 = 8.4M weights, 32 MiB
  optim::TrainOptions o = quiet();
  o.stream_min_elements = 100000;
  o.loader_bytes = 0;
  // The budgets below are derived from the first plan: the same process figure in every plan (the
  // measured one moves with the allocator's state between calls).
  o.runtime_bytes = 64 << 20;
  const Shape sample{1, 128, 128};
  // A large budget keeps everything as asked.
  const optim::MemoryPlan roomy = optim::plan_memory(*model, o, 8, sample, int64_t(1) << 34);
  CHECK(roomy.micro_batch == 8);
  CHECK(roomy.state == optim::StatePrecision::f32);
  CHECK(roomy.checkpointing == optim::Checkpointing::off);
  CHECK(roomy.speed == Approx(1.0));
  CHECK(roomy.optimizer == 2 * roomy.weights);  // Adam f32: m and v
  CHECK(roomy.to_string().find("micro-batch 8 of 8") != std::string::npos);
  // A bit less: a smaller micro-batch (or a leaner state), within the budget.
  const int64_t less = roomy.peak() - roomy.activations / 2;
  const optim::MemoryPlan smaller = optim::plan_memory(*model, o, 8, sample, less);
  CHECK(smaller.peak() <= less);
  CHECK((smaller.micro_batch < 8 || smaller.state == optim::StatePrecision::q8));
  // No room for the f32 state at all: 8-bit, which saves 3/4 of it (the rest pays for activations
  // and the process's memory outside tensors).
  const int64_t tight = roomy.weights + roomy.runtime + roomy.optimizer * 9 / 10;
  const optim::MemoryPlan lean = optim::plan_memory(*model, o, 8, sample, tight);
  CHECK(lean.peak() <= tight);
  CHECK(lean.state == optim::StatePrecision::q8);
  // The plan adopted by a trainer holds in a real step: what the tensors measure stays within it.
  optim::TrainOptions ob = o;
  ob.max_memory = tight;
  optim::Trainer trainer(model, ob);
  memory_reset_peaks();
  trainer.train_step(b);
  trainer.train_step(b);
  REQUIRE(trainer.plan());
  CHECK(trainer.options().optim.state == optim::StatePrecision::q8);
  const MemoryStats m = memory_stats();
  const int64_t tensors = static_cast<int64_t>(m.total_peak);
  const optim::MemoryPlan& p = *trainer.plan();
  INFO(p.to_string() << "\nmeasured " << m.to_string());
  CHECK(tensors <= p.weights + p.optimizer + p.activations + p.workspace);
  CHECK(m.at_peak[int(MemoryCategory::weights)] >= static_cast<size_t>(p.weights) - 4096);
  CHECK(m.live[int(MemoryCategory::optimizer)] >= static_cast<size_t>(trainer.optimizer().state_bytes()));
  CHECK(trainer.optimizer().state_bytes() == p.optimizer);
  // Too small for anything: refused, naming the smallest estimate.
  try {
    optim::plan_memory(*model, o, 8, sample, roomy.weights + roomy.optimizer / 16);
    FAIL("no plan should fit");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::out_of_memory);
    CHECK_THAT(e.what(), Catch::Contains("no plan fits") && Catch::Contains("micro-batch 1"));
  }
  // The measuring passes left the model as they found it.
  auto fresh = nn::build_model("teacher_cxr", 16, 2, 13);  // BatchNorm and Dropout
  auto again = nn::build_model("teacher_cxr", 16, 2, 13);
  optim::plan_memory(*again, o, 8, {1, 16, 16}, int64_t(1) << 34);
  CHECK(flat_state(*again->net) == flat_state(*fresh->net));
  for (const auto& [name, p] : again->net->named_parameters()) CHECK_FALSE(p.grad().defined());
  CHECK(optim::parse_memory_size("1G") == int64_t(1) << 30);
  CHECK(optim::parse_memory_size("768MiB") == int64_t(768) << 20);
  CHECK(optim::parse_memory_size("1.5gb") == int64_t(3) << 29);
  CHECK(optim::parse_memory_size("4096") == 4096);
  CHECK_THROWS_WITH(optim::parse_memory_size("lots"), Catch::Contains("not a size"));
  CHECK_THROWS_WITH(optim::parse_memory_size("5X"), Catch::Contains("not a size"));
}

TEST_CASE("Memory categories: scopes tag blocks, workers inherit the tag, retagging moves bytes", "[core][memory]") {
  memory_reset_peaks();
  const MemoryStats before = memory_stats();
  const int a = int(MemoryCategory::activations), w = int(MemoryCategory::weights);
  Tensor x;
  {
    MemoryScope scope(MemoryCategory::activations);
    x = Tensor::zeros({1000});
  }
  CHECK(x.storage()->category() == MemoryCategory::activations);
  MemoryStats m = memory_stats();
  CHECK(m.live[a] - before.live[a] == 4032);  // 4000 bytes in 64-byte units
  memory_retag(x.storage(), MemoryCategory::weights);
  m = memory_stats();
  CHECK(m.live[a] == before.live[a]);
  CHECK(m.live[w] - before.live[w] == 4032);
  x = Tensor();
  CHECK(memory_stats().live[w] == before.live[w]);
  CHECK(memory_stats().peak[a] >= before.live[a] + 4032);
  // parallel_for's workers count what they allocate in the caller's category
  std::vector<MemoryCategory> seen(8, MemoryCategory::other);
  {
    MemoryScope scope(MemoryCategory::loader);
    parallel_for(0, 8, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) seen[size_t(i)] = Tensor::empty({10}).storage()->category();
    });
  }
  CHECK(seen == std::vector<MemoryCategory>(8, MemoryCategory::loader));
  CHECK(current_memory_category() == MemoryCategory::other);
  CHECK(std::string(to_string(MemoryCategory::optimizer)) == "optimizer");
  CHECK(memory_stats().to_string().find("total") == 0);
}

TEST_CASE("A model loaded with mapped weights predicts as a loaded one and trains on its own copy", "[train][mmap]") {
  // compact_cxr at 72x72: fc1 holds 9*9*128 x 256 weights (10.6 MB), read in two blocks when mapped.
  auto model = nn::build_model("compact_cxr", 72, 2, 14);
  const std::string path = tmp_path("budget_mapped.lai");
  nn::save_model(path, *model);
  nn::SavedModel copied = nn::load_model(path, false), mapped = nn::load_model_mapped(path);
  Tensor fc1 = mapped.model->net->named_parameters()[6].second;
  REQUIRE(mapped.model->net->named_parameters()[6].first == "fc1.weight");
  CHECK(fc1.storage()->read_only());
  Toy t = make_toy(3, 72, 15);
  const std::vector<float> a = copied.model->predict(t.images).to_vector(), b = mapped.model->predict(t.images).to_vector();
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-6));  // block sums: rounding only
  CHECK_THROWS_WITH(mapped.model->net->load_state(copied.model->net->state()), Catch::Contains("read-only mapping"));
  // A Trainer copies the weights it changes: the file's stay as they were.
  optim::Trainer trainer(mapped.model, quiet());
  CHECK_FALSE(mapped.model->net->named_parameters()[6].second.storage()->read_only());
  trainer.train_step(batch_of(t, 3));
  CHECK(flat_state(*nn::load_model(path, false).model->net) == flat_state(*copied.model->net));
  CHECK(flat_state(*mapped.model->net) != flat_state(*copied.model->net));
}
