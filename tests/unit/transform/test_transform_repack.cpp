// Repacking passes (transform/repack.hpp): each exact transform against the network it came from
// (the untouched original is the reference), on zoo nets and on graphs shaped like an ONNX
// import (replicating Concat, ImageNet Sub/Div, Gemm as Dense, Dropout, Identity), plus the
// errors and the bf16 file.
#include <catch2/catch.hpp>

#include "graph_fixtures.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/transform/repack.hpp"

using namespace liteai;
using namespace graph_fixtures;
using nn::Graph;
using nn::GraphNode;

namespace {
Generator gen(11);
Tensor rnd(const Shape& s, float lo = -1.f, float hi = 1.f) { return rand_uniform(s, lo, hi, gen); }

Tensor run(nn::Module& net, const Tensor& x) {
  autograd::NoGrad ng;
  net.eval();
  return net.forward(x).contiguous();
}

// [n, C, h, w] with every channel a copy of the gray image `g` [n, 1, h, w].
Tensor replicate(const Tensor& g, int64_t C) {
  const Shape s = g.shape();
  Tensor x = Tensor::empty({s[0], C, s[2], s[3]});
  const auto v = g.to_vector();
  const int64_t hw = s[2] * s[3];
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < hw; ++j) x.data()[(n * C + c) * hw + j] = v[size_t(n * hw + j)];
  return x;
}

int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node.op == op;
  return n;
}

Graph& graph_of(nn::Model& m) { return dynamic_cast<Graph&>(*m.net); }

std::shared_ptr<nn::Model> graph_model(std::shared_ptr<Graph> g, int64_t channels, int64_t size) {
  auto m = std::make_shared<nn::Model>();
  m->net = g;
  m->arch.name = "graph";
  m->arch.set("head", "softmax");
  m->arch.set("classes", 3.0);
  m->class_names = {"a", "b", "c"};
  m->preprocessing.width = m->preprocessing.height = size;
  m->preprocessing.channels = channels;
  m->preprocessing.standardize = false;
  g->eval();
  return m;
}

// What an ONNX import of a 3-channel torchvision-style net looks like: a 1-channel image
// replicated by a Concat, ImageNet's Sub/Div, Conv (padding `pad`) -> BN -> Relu -> global pool ->
// Flatten -> Dropout -> Gemm (Dense) -> Identity.
std::shared_ptr<Graph> imported_like(int64_t pad, const std::vector<float>& mean, const std::vector<float>& stdev,
                                     bool gray_input = true) {
  auto g = std::make_shared<Graph>();
  std::string x = "image";
  if (gray_input) {
    g->add_input("image", {-1, 1, 9, 9});
    g->add_node({"pre_Concat", "Concat", {"image", "image", "image"}, {"pre/replicated"}, attrs({{"axis", 1}})});
    x = "pre/replicated";
  } else {
    g->add_input("image", {-1, 3, 9, 9});
  }
  g->add_node({"pre_mean", "Constant", {}, {"pre/mean"}}, {}, {{"value", Tensor::from_vector(mean, {1, 3, 1, 1})}});
  g->add_node({"pre_std", "Constant", {}, {"pre/std"}}, {}, {{"value", Tensor::from_vector(stdev, {1, 3, 1, 1})}});
  g->add_node({"pre_Sub", "Sub", {x, "pre/mean"}, {"pre/centered"}});
  g->add_node({"pre_Div", "Div", {"pre/centered", "pre/std"}, {"input"}});
  g->add_node({"conv1", "Conv", {"input"}, {"c1"}, attrs({{"pads", ints({pad, pad, pad, pad})}, {"strides", ints({2, 2})}})},
              {{"weight", rnd({5, 3, 3, 3})}, {"bias", rnd({5})}});
  g->add_node({"bn1", "BatchNormalization", {"c1"}, {"n1"}, attrs({{"epsilon", 1e-3}})},
              {{"scale", rnd({5}, 0.5f, 2.f)}, {"bias", rnd({5})}}, {{"mean", rnd({5})}, {"var", rnd({5}, 0.2f, 3.f)}});
  g->add_node({"relu1", "Relu", {"n1"}, {"r1"}});
  g->add_node({"gap", "GlobalAveragePool", {"r1"}, {"p"}});
  g->add_node({"flat", "Flatten", {"p"}, {"f"}, attrs({{"axis", 1}})});
  g->add_node({"drop", "Dropout", {"f"}, {"d"}, attrs({{"ratio", 0.3}})});
  g->add_node({"fc", "Dense", {"d"}, {"z"}}, {{"weight", rnd({5, 3})}, {"bias", rnd({3})}});
  g->add_node({"out", "Identity", {"z"}, {"logits"}});
  g->add_output("logits");
  g->check();
  return g;
}

const std::vector<float> kMean{0.485f, 0.456f, 0.406f}, kStd{0.229f, 0.224f, 0.225f};
}  // namespace

TEST_CASE("gray: an imported net's replication and ImageNet normalization fold into a 1-channel conv, with padding",
          "[transform][gray]") {
  for (int64_t pad : {0, 1}) {
    auto m = graph_model(imported_like(pad, kMean, kStd), 1, 9);
    const Tensor gray = rnd({3, 1, 9, 9}, 0.f, 1.f);
    const Tensor ref = run(*m->net, gray);
    transform::RepackResult r = transform::repack(*m, {.gray = true, .fold = false});
    Graph& g = graph_of(*r.model);
    CHECK(g.tensor("conv1", "weight").shape() == Shape{5, 1, 3, 3});
    CHECK(count_op(g, "Concat") == 0);
    CHECK(count_op(g, "Div") == 0);
    CHECK(r.model->preprocessing.channels == 1);
    // Unequal means with padding: a 1-channel conv of ones corrects the border; without padding
    // the offsets are only a bias.
    CHECK(count_op(g, "Add") == (pad ? 1 : 0));
    CHECK(count_op(g, "Conv") == (pad ? 2 : 1));
    CHECK(max_rel_diff(run(*r.model->net, gray), ref) < 1e-5);
    // The original is untouched.
    CHECK(graph_of(*m).tensor("conv1", "weight").shape() == Shape{5, 3, 3, 3});
    CHECK(max_rel_diff(run(*m->net, gray), ref) == 0);
  }
}

TEST_CASE("gray: equal means with padding stay one subtraction; a 3-channel input becomes 1 channel", "[transform][gray]") {
  auto m = graph_model(imported_like(1, {0.449f, 0.449f, 0.449f}, {0.226f, 0.2f, 0.3f}, /*gray_input=*/false), 3, 9);
  const Tensor gray = rnd({2, 1, 9, 9}, 0.f, 1.f);
  const Tensor ref = run(*m->net, replicate(gray, 3));
  transform::RepackResult r = transform::repack(*m, {.gray = true, .fold = true});
  Graph& g = graph_of(*r.model);
  CHECK(g.inputs()[0].shape == Shape{-1, 1, 9, 9});
  CHECK(count_op(g, "Sub") == 1);
  CHECK(count_op(g, "Add") == 0);
  CHECK(count_op(g, "BatchNormalization") == 0);
  CHECK(r.model->preprocessing.channels == 1);
  CHECK(max_rel_diff(run(*r.model->net, gray), ref) < 1e-5);
}

TEST_CASE("gray: a zoo net trained on 3 channels gives the same outputs on the gray image", "[transform][gray]") {
  nn::ArchSpec spec;
  spec.name = "small_cnn";
  spec.set("size", 16.0).set("channels", 3.0).set("classes", 4.0);
  auto m = nn::build_model(spec, 3);
  const Tensor gray = rnd({2, 1, 16, 16}, -1.f, 1.f);
  const Tensor ref = run(*m->net, replicate(gray, 3));
  transform::RepackResult r = transform::repack(*m, {.gray = true, .fold = true});
  CHECK(r.model->preprocessing.channels == 1);
  CHECK(r.model->arch.get_int("channels", 0) == 1);
  CHECK(max_rel_diff(run(*r.model->net, gray), ref) < 1e-5);
  // Saved and loaded again: a graph model file that gives the same outputs.
  const std::string path = (std::filesystem::temp_directory_path() / "repack_gray_zoo.lai").string();
  nn::save_model(path, *r.model);
  auto back = nn::load_model(path).model;
  CHECK(max_rel_diff(run(*back->net, gray), ref) < 1e-5);
  std::filesystem::remove(path);
}

TEST_CASE("gray: a 1-channel model and unsupported fronts are clear errors", "[transform][gray]") {
  auto m = nn::build_model("small_cnn", 16, 4);
  const std::string e = error_of([&] { transform::repack(*m, {.gray = true}); });
  CHECK_THAT(e, Catch::Contains("already takes 1 channel") && Catch::Contains("conv1"));
  // A Relu before the first conv cannot be folded: the error names it.
  auto g = std::make_shared<Graph>();
  g->add_input("x", {-1, 3, 5, 5});
  g->add_node({"act", "Relu", {"x"}, {"r"}});
  g->add_node({"conv", "Conv", {"r"}, {"logits"}}, {{"weight", rnd({2, 3, 1, 1})}});
  g->add_output("logits");
  auto gm = graph_model(g, 3, 5);
  CHECK_THAT(error_of([&] { transform::repack(*gm, {.gray = true}); }), Catch::Contains("Relu 'act'"));
}

TEST_CASE("fold: BatchNormalization with nontrivial statistics folds into the convs of a zoo net", "[transform][fold]") {
  nn::ArchSpec spec;
  spec.name = "teacher_cxr";
  spec.set("size", 32.0).set("classes", 3.0).set("width", 4.0);
  auto m = nn::build_model(spec, 5);
  // Statistics and affine parameters far from the identity, as a trained net has them.
  for (auto& [name, t] : m->net->state()) {
    float* d = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (name.find("running_var") != std::string::npos) d[i] = gen.uniform(0.3f, 3.f);
      else if (name.find("running_mean") != std::string::npos) d[i] = gen.uniform(-0.5f, 0.5f);
      else if (name.find("gamma") != std::string::npos) d[i] = gen.uniform(0.5f, 2.f);
      else if (name.find("beta") != std::string::npos) d[i] = gen.uniform(-0.5f, 0.5f);
    }
  }
  const Tensor x = rnd({2, 1, 32, 32});
  const Tensor ref = run(*m->net, x);
  transform::RepackResult r = transform::repack(*m, {.fold = true});
  Graph& g = graph_of(*r.model);
  CHECK(count_op(g, "BatchNormalization") == 0);
  CHECK(count_op(g, "Dropout") == 0);
  CHECK(g.outputs() == std::vector<std::string>{"logits"});
  CHECK(r.model->net->parameter_count() < m->net->parameter_count());
  CHECK(max_rel_diff(run(*r.model->net, x), ref) < 1e-5);
}

TEST_CASE("fold: an imported graph loses Dropout, Identity and BN, keeps its output name and outputs", "[transform][fold]") {
  auto m = graph_model(imported_like(1, kMean, kStd), 1, 9);
  const Tensor gray = rnd({3, 1, 9, 9}, 0.f, 1.f);
  const Tensor ref = run(*m->net, gray);
  transform::RepackResult r = transform::repack(*m, {.fold = true});
  Graph& g = graph_of(*r.model);
  CHECK(count_op(g, "Dropout") == 0);
  CHECK(count_op(g, "Identity") == 0);
  CHECK(count_op(g, "BatchNormalization") == 0);
  CHECK(g.outputs() == std::vector<std::string>{"logits"});
  CHECK(max_rel_diff(run(*r.model->net, gray), ref) < 1e-5);
  // Folding and gray together.
  transform::RepackResult both = transform::repack(*m, {.gray = true, .fold = true});
  CHECK(max_rel_diff(run(*both.model->net, gray), ref) < 1e-5);
  CHECK(count_op(graph_of(*both.model), "Concat") == 0);
}

TEST_CASE("fold: Gemm -> Gemm, MatMul + Add, constants and linear residuals merge into single layers", "[transform][fold]") {
  auto g = std::make_shared<Graph>();
  g->add_input("x", {-1, 6});
  g->add_node({"fc1", "Dense", {"x"}, {"h1"}}, {{"weight", rnd({6, 8})}, {"bias", rnd({8})}});
  g->add_node({"fc2", "Dense", {"h1"}, {"h2"}}, {{"weight", rnd({8, 4})}, {"bias", rnd({4})}});
  // a constant subgraph: W = A * B, then MatMul + Add of a constant
  g->add_node({"ca", "Constant", {}, {"A"}}, {}, {{"value", rnd({4, 4})}});
  g->add_node({"cb", "Constant", {}, {"B"}}, {}, {{"value", rnd({4, 4})}});
  g->add_node({"cw", "Mul", {"A", "B"}, {"W"}});
  g->add_node({"cbias", "Constant", {}, {"b"}}, {}, {{"value", rnd({4})}});
  g->add_node({"mm", "MatMul", {"h2", "W"}, {"m"}});
  g->add_node({"mmb", "Add", {"m", "b"}, {"y"}});
  g->add_node({"act", "Relu", {"y"}, {"r"}});
  // x + Dense(x): one Dense with W + I
  g->add_node({"res", "Dense", {"r"}, {"rd"}}, {{"weight", rnd({4, 4})}, {"bias", rnd({4})}});
  g->add_node({"radd", "Add", {"r", "rd"}, {"s"}});
  // a bottleneck stays two layers (merging would add parameters)
  g->add_node({"down", "Dense", {"s"}, {"d"}}, {{"weight", rnd({4, 1})}});
  g->add_node({"up", "Dense", {"d"}, {"logits"}}, {{"weight", rnd({1, 4})}});
  g->add_output("logits");
  g->check();
  g->eval();
  const Tensor x = rnd({5, 6});
  const Tensor ref = run(*g, x);
  std::vector<std::string> changes;
  auto fp = transform::copy_graph(*g);
  Graph& f = *fp;
  transform::fold(f, changes);
  CHECK(count_op(f, "MatMul") == 0);
  CHECK(count_op(f, "Mul") == 0);
  CHECK(count_op(f, "Constant") == 0);
  CHECK(count_op(f, "Add") == 0);
  CHECK(count_op(f, "Dense") == 3);  // fc1+fc2+mm+add, res+radd+down, up (the bottleneck)
  CHECK(f.find("up") != nullptr);
  CHECK(f.find("down") != nullptr);
  CHECK(max_rel_diff(run(f, x), ref) < 1e-5);
}

TEST_CASE("fold: x + Conv(x) with stride 1 and same padding becomes one conv", "[transform][fold]") {
  auto g = std::make_shared<Graph>();
  g->add_input("x", {-1, 3, 6, 6});
  g->add_node({"conv", "Conv", {"x"}, {"c"}, attrs({{"pads", ints({1, 1, 1, 1})}})}, {{"weight", rnd({3, 3, 3, 3})}, {"bias", rnd({3})}});
  g->add_node({"add", "Add", {"c", "x"}, {"logits"}});
  g->add_output("logits");
  g->eval();
  const Tensor x = rnd({2, 3, 6, 6});
  const Tensor ref = run(*g, x);
  std::vector<std::string> changes;
  auto fp = transform::copy_graph(*g);
  Graph& f = *fp;
  transform::fold(f, changes);
  CHECK(f.nodes().size() == 1);
  CHECK(max_rel_diff(run(f, x), ref) < 1e-5);
}

TEST_CASE("bf16: kernels stored as bf16 halve the file; loading gives the rounded weights", "[transform][bf16]") {
  auto m = nn::build_model("compact_cxr", 32, 2);
  const auto dir = std::filesystem::temp_directory_path();
  const std::string f32 = (dir / "repack_f32.lai").string(), b16 = (dir / "repack_bf16.lai").string();
  nn::save_model(f32, *m);
  transform::save_bf16(*m, b16);
  const double ratio = double(std::filesystem::file_size(b16)) / double(std::filesystem::file_size(f32));
  CHECK(ratio < 0.55);
  CHECK(ratio > 0.45);
  // load_model: fp32 weights equal to the bf16 rounding of the originals.
  auto back = nn::load_model(b16).model;
  const auto orig = m->net->state(), got = back->net->state();
  REQUIRE(orig.size() == got.size());
  for (size_t i = 0; i < orig.size(); ++i) {
    CHECK(got[i].second.dtype() == DType::f32);
    const auto a = orig[i].second.to_vector(), b = got[i].second.to_vector(),
               r = orig[i].second.to(DType::bf16).to(DType::f32).to_vector();
    const bool kernel = orig[i].first.find("weight") != std::string::npos;
    CHECK((kernel ? r : a) == b);
  }
  // For inference the kernels stay bf16; the outputs are close to the fp32 model's.
  auto inf = nn::load_model_for_inference(b16, nn::Precision::f32).model;
  bool any_bf16 = false;
  for (const auto& [n, t] : inf->net->state()) any_bf16 |= t.dtype() == DType::bf16;
  CHECK(any_bf16);
  const Tensor x = rnd({2, 1, 32, 32});
  CHECK(max_rel_diff(run(*inf->net, x), run(*m->net, x)) < 0.05);
  std::filesystem::remove(f32);
  std::filesystem::remove(b16);
}

TEST_CASE("bf16: a DenseNet-style Concat -> BN -> Relu -> Conv step runs on bf16 kernels loaded for inference",
          "[transform][bf16]") {
  auto g = std::make_shared<Graph>();
  g->add_input("image", {-1, 1, 8, 8});
  g->add_node({"c0", "Conv", {"image"}, {"a"}, attrs({{"pads", ints({1, 1, 1, 1})}})}, {{"weight", rnd({4, 1, 3, 3})}});
  g->add_node({"cat", "Concat", {"a", "image"}, {"cat"}, attrs({{"axis", 1}})});
  g->add_node({"bn", "BatchNormalization", {"cat"}, {"n"}}, {{"scale", rnd({5}, 0.5f, 2.f)}, {"bias", rnd({5})}},
              {{"mean", rnd({5})}, {"var", rnd({5}, 0.5f, 2.f)}});
  g->add_node({"relu", "Relu", {"n"}, {"r"}});
  g->add_node({"c1", "Conv", {"r"}, {"c1"}}, {{"weight", rnd({3, 5, 1, 1})}, {"bias", rnd({3})}});
  g->add_node({"gap", "GlobalAveragePool", {"c1"}, {"p"}});
  g->add_node({"flat", "Flatten", {"p"}, {"logits"}, attrs({{"axis", 1}})});
  g->add_output("logits");
  auto m = graph_model(g, 1, 8);
  const std::string path = (std::filesystem::temp_directory_path() / "repack_bf16_dense.lai").string();
  transform::save_bf16(*m, path);
  auto inf = nn::load_model_for_inference(path, nn::Precision::f32).model;
  CHECK(graph_of(*inf).tensor("c1", "weight").dtype() == DType::bf16);
  const Tensor x = rnd({2, 1, 8, 8});
  CHECK(max_rel_diff(run(*inf->net, x), run(*m->net, x)) < 0.03);
  std::filesystem::remove(path);
}

TEST_CASE("bf16: depthwise, grouped and transposed convs run on bf16 kernels loaded for inference", "[transform][bf16]") {
  auto g = std::make_shared<Graph>();
  g->add_input("image", {-1, 1, 8, 8});
  g->add_node({"c0", "Conv", {"image"}, {"a"}, attrs({{"pads", ints({1, 1, 1, 1})}})}, {{"weight", rnd({4, 1, 3, 3})}});
  g->add_node({"dw", "Conv", {"a"}, {"b"}, attrs({{"pads", ints({1, 1, 1, 1})}, {"group", 4}})}, {{"weight", rnd({4, 1, 3, 3})}});
  g->add_node({"gc", "Conv", {"b"}, {"c"}, attrs({{"group", 2}})}, {{"weight", rnd({4, 2, 1, 1})}});
  g->add_node({"up", "ConvTranspose", {"c"}, {"d"}, attrs({{"strides", ints({2, 2})}})}, {{"weight", rnd({4, 3, 2, 2})}});
  g->add_node({"gap", "GlobalAveragePool", {"d"}, {"p"}});
  g->add_node({"flat", "Flatten", {"p"}, {"logits"}, attrs({{"axis", 1}})});
  g->add_output("logits");
  auto m = graph_model(g, 1, 8);
  const std::string path = (std::filesystem::temp_directory_path() / "repack_bf16_dw.lai").string();
  transform::save_bf16(*m, path);
  auto inf = nn::load_model_for_inference(path, nn::Precision::f32).model;
  CHECK(graph_of(*inf).tensor("dw", "weight").dtype() == DType::bf16);
  const Tensor x = rnd({2, 1, 8, 8});
  CHECK(max_rel_diff(run(*inf->net, x), run(*m->net, x)) < 0.03);
  std::filesystem::remove(path);
}
