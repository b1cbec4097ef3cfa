// The Trainer on graph networks: the same steps as the zoo net a graph came from, checkpoint and
// resume (dropout state included), the streamed gradient of a huge Dense node.
#include <catch2/catch.hpp>

#include "liteai/nn/graph.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;
using train_fixtures::make_toy;
using train_fixtures::tmp_path;

namespace {
optim::TrainOptions options(int64_t epochs) {
  optim::TrainOptions o;
  o.epochs = epochs;
  o.optim.lr = 3e-3f;
  o.progress = 0;
  return o;
}
std::vector<float> all_values(const nn::Model& m) {
  std::vector<float> v;
  for (const auto& [n, t] : m.net->state())
    for (float x : t.to_vector()) v.push_back(x);
  return v;
}
}  // namespace

TEST_CASE("a graph trains step for step like the zoo net it came from", "[train][graph]") {
  auto toy = make_toy(96, 8, 1);
  auto zoo = nn::build_model("small_cnn", 8, 2, 3);
  auto graph = nn::to_graph_model(*zoo);
  zoo->net->train();
  graph->net->train();
  std::vector<double> losses[2];
  int k = 0;
  for (auto m : {zoo, graph}) {
    optim::Trainer t(m, options(2));
    optim::TensorSource src(toy.images, toy.labels, Tensor(), 16, 5);
    for (const auto& e : t.fit(src).history) losses[k].push_back(e.loss);
    ++k;
  }
  REQUIRE(losses[0].size() == 2);
  CHECK(losses[0][1] < losses[0][0]);
  for (size_t i = 0; i < 2; ++i) CHECK(losses[1][i] == Approx(losses[0][i]).epsilon(1e-5));
  const auto a = all_values(*zoo), b = all_values(*graph);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(b[i] == Approx(a[i]).margin(1e-5));
}

TEST_CASE("a graph with dropout and batch norm resumes from a checkpoint exactly", "[train][graph]") {
  auto toy = make_toy(64, 16, 2);
  nn::ArchSpec spec;
  spec.name = "teacher_cxr";
  spec.set("size", 16.0).set("classes", 2.0).set("width", 2.0);
  auto straight = nn::to_graph_model(*nn::build_model(spec, 4));
  optim::Trainer ts(straight, options(2));
  optim::TensorSource s1(toy.images, toy.labels, Tensor(), 16, 7);
  ts.fit(s1);

  const std::string ck = tmp_path("graph_resume.lai");
  auto first = nn::to_graph_model(*nn::build_model(spec, 4));
  optim::TrainOptions o = options(1);
  o.checkpoint = ck;
  optim::Trainer t1(first, o);
  optim::TensorSource s2(toy.images, toy.labels, Tensor(), 16, 7);
  t1.fit(s2);
  auto resumed = nn::load_model(ck).model;
  optim::Trainer t2(resumed, options(2));
  t2.resume(ck);
  optim::TensorSource s3(toy.images, toy.labels, Tensor(), 16, 7);
  t2.fit(s3);
  CHECK(all_values(*resumed) == all_values(*straight));
}

TEST_CASE("the Trainer streams the weight gradient of a huge Dense node", "[train][graph]") {
  auto m = nn::to_graph_model(*nn::build_model("compact_cxr", 16, 2, 1));
  optim::TrainOptions o = options(1);
  o.stream_min_elements = 1000;
  optim::Trainer t(m, o);
  CHECK(t.memory_plan().find("fc1.weight") != std::string::npos);
  auto toy = make_toy(32, 16, 3);
  optim::TensorSource src(toy.images, toy.labels, Tensor(), 16, 1);
  const auto before = m->net->named_parameters()[6].second.to_vector();  // fc1.weight
  REQUIRE(m->net->named_parameters()[6].first == "fc1.weight");
  t.fit(src);
  CHECK(m->net->named_parameters()[6].second.to_vector() != before);
  CHECK(!m->net->named_parameters()[6].second.grad().defined());
}
