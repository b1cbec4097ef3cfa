// nn::Graph: running a DAG, shape inference that names the node, gradients against finite
// differences, the zoo's nets as graphs, the transform API, reports and the JSON form.
#include <catch2/catch.hpp>

#include "graph_fixtures.hpp"

#include <cmath>

#include "liteai/autograd/gradcheck.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/ops/ops.hpp"

using namespace liteai;
using namespace graph_fixtures;
using nn::Graph;
using nn::GraphNode;

namespace {
Generator gen(5);
Tensor rnd(const Shape& s, float lo = -1.f, float hi = 1.f) { return rand_uniform(s, lo, hi, gen); }

// A DAG with two branches, a concatenation, a residual addition and two outputs.
struct Dag {
  Tensor w1 = rnd({4, 2, 3, 3}), b1 = rnd({4}), g1 = rnd({4}, 0.5f, 1.5f), be1 = rnd({4});
  Tensor m1 = rnd({4}, -0.2f, 0.2f), v1 = rnd({4}, 0.5f, 2.f);
  Tensor w2 = rnd({6, 6, 1, 1}), fw = rnd({6, 3}), fb = rnd({3});

  std::shared_ptr<Graph> graph() const {
    auto g = std::make_shared<Graph>();
    g->add_input("x", {-1, 2, 8, 8});
    g->add_node({"conv", "Conv", {"x"}, {"c"}, attrs({{"pads", ints({1, 1, 1, 1})}})}, {{"weight", w1}, {"bias", b1}});
    g->add_node({"bn", "BatchNormalization", {"c"}, {"n"}}, {{"scale", g1}, {"bias", be1}}, {{"mean", m1}, {"var", v1}});
    g->add_node({"relu", "Relu", {"n"}, {"r"}});
    g->add_node({"pool", "MaxPool", {"x"}, {"p"},
                 attrs({{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}})});
    g->add_node({"cat", "Concat", {"r", "p"}, {"cat"}, attrs({{"axis", 1}})});
    g->add_node({"mix", "Conv", {"cat"}, {"mix"}}, {{"weight", w2}});
    g->add_node({"res", "Add", {"mix", "cat"}, {"sum"}});
    g->add_node({"gap", "GlobalAveragePool", {"sum"}, {"gap"}});
    g->add_node({"flat", "Flatten", {"gap"}, {"flat"}});
    g->add_node({"fc", "Dense", {"flat"}, {"y"}}, {{"weight", fw}, {"bias", fb}});
    g->add_output("y");
    g->add_output("cat");
    g->eval();
    g->check();
    return g;
  }
  // The same computation written with the ops.
  std::vector<Tensor> direct(const Tensor& x) const {
    ops::ConvGeometry pad1;
    pad1.pad_top = pad1.pad_left = pad1.pad_bottom = pad1.pad_right = 1;
    Tensor r = ops::batch_norm(ops::conv2d(x, w1, b1, pad1), g1, be1, m1, v1, false, 0.1f, 1e-5f, true);
    ops::Pool2dGeometry pg;
    pg.kernel_h = pg.kernel_w = 3;
    pg.pad_top = pg.pad_left = pg.pad_bottom = pg.pad_right = 1;
    Tensor cat = ops::concat({r, ops::max_pool2d(x, pg)}, 1);
    Tensor sum = ops::add(ops::conv2d(cat, w2, Tensor(), ops::ConvGeometry{}), cat);
    Tensor y = ops::linear(ops::mean(sum, {2, 3}, false), fw, fb);
    return {y, cat};
  }
};
}  // namespace

TEST_CASE("graph: a DAG with branches, concat and a residual runs like the ops it names", "[nn][graph]") {
  Dag d;
  auto g = d.graph();
  Tensor x = rnd({3, 2, 8, 8});
  const auto got = g->run({x});
  const auto want = d.direct(x);
  REQUIRE(got.size() == 2);
  CHECK(max_rel_diff(got[0], want[0]) < 1e-6);
  CHECK(max_rel_diff(got[1], want[1]) < 1e-6);
  CHECK(g->forward(x).to_vector() == got[0].to_vector());
  // The graph is a Module: its tensors are named "<node>.<slot>", parameters then buffers.
  std::vector<std::string> names;
  for (const auto& [n, t] : g->state()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"conv.weight", "conv.bias", "bn.scale", "bn.bias", "mix.weight", "fc.weight",
                                          "fc.bias", "bn.mean", "bn.var"});
  CHECK(g->parameter_count() == d.w1.numel() + 4 + 8 + d.w2.numel() + d.fw.numel() + 3);
  // An input of the wrong shape is refused naming the input.
  CHECK(error_of([&] { g->forward(rnd({1, 3, 8, 8})); }) ==
        "graph: input 'x' must be [-1, 2, 8, 8] (-1: any), got [1, 3, 8, 8]");
}

TEST_CASE("graph: shape inference names the node whose shapes disagree", "[nn][graph]") {
  Dag d;
  auto g = d.graph();
  CHECK(g->infer_shapes(5).at("cat") == Shape{5, 6, 8, 8});
  g->set_tensor("fc", "weight", rnd({5, 3}));
  CHECK(error_of([&] { g->check(); }) == "graph: node 'fc' (Dense): input has 6 features, weight [5, 3] expects 5");
  d.w2 = rnd({6, 4, 1, 1});
  CHECK(error_of([&] { d.graph(); }) ==
        "graph: node 'mix' (Conv): input has 6 channels, weight [6, 4, 1, 1] expects 4");

  Graph h;
  h.add_input("x", {-1, 3, 4, 4});
  h.add_node({"a", "Relu", {"x"}, {"a"}});
  h.add_node({"b", "Concat", {"a", "x"}, {"b"}, attrs({{"axis", 2}})});
  h.add_node({"c", "Add", {"b", "x"}, {"c"}});
  h.add_output("c");
  CHECK(error_of([&] { h.check(); }) ==
        "graph: node 'c' (Add): Add: shapes [1, 3, 8, 4] and [1, 3, 4, 4] cannot be broadcast together");
  CHECK(error_of([&] { h.add_node({"d", "Frobnicate", {"c"}, {"d"}}); }).find("graph: node 'd' (Frobnicate): unknown operator (known: Conv,") == 0);
  h.add_node({"e", "Relu", {"later"}, {"e"}});
  CHECK(error_of([&] { h.check(); }) ==
        "graph: node 'e' (Relu): input 'later' is neither a graph input nor the output of an earlier node");
  CHECK(error_of([&] { h.add_node({"f.g", "Relu", {"c"}, {"f"}}); }) ==
        "graph: node name 'f.g' must be non-empty and contain no '.'");
  CHECK(error_of([&] { h.add_node({"conv", "Conv", {"c"}, {"k"}}, {{"kernel", rnd({1})}}); })
            .find("no tensor slot 'kernel' (Conv has weight, bias)") != std::string::npos);
}

TEST_CASE("graph: gradients of a graph match finite differences", "[nn][graph][gradcheck]") {
  // Depthwise conv, training-mode batch norm, hard swish, a padded max pool, a dense layer and a
  // residual: every input and tensor gets its gradient through the graph.
  auto f = [](const std::vector<Tensor>& v) {
    Graph g;
    g.add_input("x", {-1, 3, 6, 6});
    g.add_node({"dw", "Conv", {"x"}, {"dw"}, attrs({{"group", 3}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}})},
               {{"weight", v[1]}, {"bias", v[2]}});
    g.add_node({"bn", "BatchNormalization", {"dw"}, {"bn"}}, {{"scale", v[3]}, {"bias", v[4]}},
               {{"mean", Tensor::zeros({3})}, {"var", Tensor::ones({3})}});
    g.add_node({"hs", "HardSwish", {"bn"}, {"hs"}});
    g.add_node({"res", "Add", {"hs", "dw"}, {"res"}});
    g.add_node({"pool", "MaxPool", {"res"}, {"p"},
                attrs({{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"pads", ints({0, 0, 1, 1})}})});
    g.add_node({"flat", "Flatten", {"p"}, {"flat"}});
    g.add_node({"fc", "Dense", {"flat"}, {"y"}}, {{"weight", v[5]}, {"bias", v[6]}});
    g.add_output("y");
    g.train();
    g.check();
    return g.forward(v[0]);
  };
  autograd::GradcheckOptions o;
  o.eps = 5e-3;
  auto r = autograd::gradcheck(f, {rnd({2, 3, 6, 6}), rnd({3, 1, 3, 3}), rnd({3}), rnd({3}, 0.5f, 1.5f), rnd({3}),
                                   rnd({12, 4}), rnd({4})},
                               o);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("graph: the zoo's nets as graphs give the same outputs and gradients", "[nn][graph][zoo]") {
  struct C {
    const char* name;
    int64_t size;
    std::map<std::string, double> extra;
  };
  for (const C& c : {C{"compact_cxr", 16, {}}, C{"small_cnn", 8, {}}, C{"small_cnn_gmp", 8, {}},
                     C{"teacher_cxr", 16, {{"width", 2}}},
                     C{"autoencoder", 8, {{"width", 2}}}}) {
    INFO(c.name);
    nn::ArchSpec a;
    a.name = c.name;
    a.set("size", double(c.size));
    if (std::string(c.name) != "autoencoder") a.set("classes", 3.0);
    for (const auto& [k, v] : c.extra) a.set(k, v);
    auto zoo = nn::build_model(a, 9);
    if (std::string(c.name) == "teacher_cxr") {  // running statistics that are not 0 / 1
      autograd::NoGrad ng;
      zoo->net->train();
      zoo->net->forward(rnd({4, 1, 16, 16}, -1.f, 2.f));
    }
    zoo->net->eval();
    auto gm = nn::to_graph_model(*zoo);
    CHECK(gm->arch.name == "graph");
    CHECK(gm->arch.get("source", "") == c.name);
    CHECK(gm->net->parameter_count() == zoo->net->parameter_count());
    Tensor x = rnd({2, 1, c.size, c.size});
    {
      autograd::NoGrad ng;
      CHECK(max_rel_diff(gm->net->forward(x), zoo->net->forward(x)) <= 1e-6);
    }
    // Gradients (recorded path: no inference fusion) of every parameter, in the same order.
    Tensor r = rnd(zoo->net->forward(x).shape());
    zoo->net->zero_grad();
    gm->net->zero_grad();
    zoo->net->forward(x).backward(r);
    gm->net->forward(x).backward(r);
    const auto pz = zoo->net->named_parameters(), pg = gm->net->named_parameters();
    REQUIRE(pz.size() == pg.size());
    for (size_t i = 0; i < pz.size(); ++i) {
      INFO(pz[i].first << " / " << pg[i].first);
      CHECK(max_rel_diff(pg[i].second.grad(), pz[i].second.grad()) <= 1e-6);
    }
  }
}

TEST_CASE("graph: walk, replace and remove nodes (folding a batch norm into its conv)", "[nn][graph][transform]") {
  Dag d;
  auto g = d.graph();
  Tensor x = rnd({2, 2, 8, 8});
  const Tensor before = g->forward(x);
  CHECK(g->producer("n")->name == "bn");
  CHECK(g->consumers("cat") == std::vector<std::string>{"mix", "res"});
  CHECK(g->is_output("cat"));
  // Fold: w' = w * gamma / sqrt(var + eps) per output channel, b' = (b - mean) * that + beta.
  const GraphNode& bn = *g->find("bn");
  const GraphNode& conv = *g->producer(bn.inputs[0]);
  REQUIRE(conv.op == "Conv");
  REQUIRE(g->consumers(conv.outputs[0]).size() == 1);
  Tensor w = g->tensor(conv.name, "weight").clone(), b = g->tensor(conv.name, "bias").clone();
  const auto gamma = g->tensor("bn", "scale").to_vector(), beta = g->tensor("bn", "bias").to_vector();
  const auto mean = g->tensor("bn", "mean").to_vector(), var = g->tensor("bn", "var").to_vector();
  for (int64_t k = 0; k < 4; ++k) {
    const float s = gamma[size_t(k)] / std::sqrt(var[size_t(k)] + 1e-5f);
    for (int64_t i = 0; i < 18; ++i) w.data()[k * 18 + i] *= s;
    b.data()[k] = (b.data()[k] - mean[size_t(k)]) * s + beta[size_t(k)];
  }
  const std::string conv_name = conv.name;
  g->set_tensor(conv_name, "weight", w);
  g->set_tensor(conv_name, "bias", b);
  g->remove_node("bn");
  g->check();
  CHECK(g->find("bn") == nullptr);
  CHECK(g->consumers("c") == std::vector<std::string>{"relu"});
  CHECK(max_rel_diff(g->forward(x), before) < 1e-5);
  CHECK(g->parameter_count() == d.w1.numel() + 4 + d.w2.numel() + d.fw.numel() + 3);
  // Insert an Identity, then remove it again; replace a node; drop what no output needs.
  g->insert_node(3, {"id", "Identity", {"r"}, {"r2"}});
  g->replace_uses("r", "r2");
  g->node("id").inputs = {"r"};  // replace_uses rewired the Identity's own input too
  g->check();
  CHECK(g->forward(x).to_vector() == g->forward(x).to_vector());
  g->remove_node("id");
  g->replace_node("relu", {"relu", "LeakyRelu", {"c"}, {"r"}, attrs({{"alpha", 0.0}})});
  CHECK(max_rel_diff(g->forward(x), before) < 1e-5);
  g->add_node({"unused", "Sigmoid", {"sum"}, {"unused"}});
  CHECK(g->remove_unused() == 1);
  g->check();
}

TEST_CASE("graph: per-node parameters and MACs; the table", "[nn][graph]") {
  Dag d;
  auto g = d.graph();
  const auto rows = g->report(2);
  int64_t params = 0;
  for (const auto& r : rows) params += r.parameters;
  CHECK(params == g->parameter_count());
  CHECK(rows[0].name == "conv");
  CHECK(rows[0].output_shapes == std::vector<Shape>{{2, 4, 8, 8}});
  CHECK(rows[0].macs == 2 * 4 * 8 * 8 * 2 * 9);
  CHECK(rows[1].buffers == 8);
  CHECK(rows.back().macs == 2 * 6 * 3);
  const std::string t = g->table();
  CHECK(t.find("conv") != std::string::npos);
  CHECK(t.find(str_cat("10 nodes, ", g->parameter_count(), " parameters")) != std::string::npos);
}

TEST_CASE("graph: the JSON form round-trips; malformed descriptions are refused as format errors", "[nn][graph]") {
  Dag d;
  auto g = d.graph();
  const io::Json j = g->to_json();
  auto h = Graph::from_json(j);
  CHECK(h->to_json() == j);
  CHECK(h->infer_shapes() == g->infer_shapes());
  // The description alone holds no tensor data: placeholders of the right shapes.
  CHECK(h->tensor("fc", "weight").shape() == Shape{6, 3});
  auto refuse = [&](const std::function<void(io::Json&)>& edit, const std::string& want) {
    io::Json bad = j;
    edit(bad);
    try {
      Graph::from_json(bad, "m.lai graph");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::format);
      CHECK(std::string(e.what()).find(want) != std::string::npos);
    }
  };
  refuse([](io::Json& b) { b.as_object().erase(b.as_object().begin()); }, "field 'inputs'");
  refuse([](io::Json& b) { b["nodes"][0].set("op", "Conv3D"); }, "m.lai graph node 'conv': unknown operator 'Conv3D'");
  refuse([](io::Json& b) { b["nodes"][9]["params"].set("weight", ints({7, 3})); },
         "graph: node 'fc' (Dense): input has 6 features, weight [7, 3] expects 7");
  refuse([](io::Json& b) { b["nodes"][0]["params"].set("weight", ints({1 << 20, 1 << 20, 1 << 20})); }, "too many elements");
  refuse([](io::Json& b) { b["inputs"][0].set("shape", ints({-1, 2, 100000, 100000})); }, "exceeds");
  refuse([](io::Json& b) { b["nodes"][0].set("inputs", io::Json::array_of(std::vector<std::string>{"nowhere"})); },
         "input 'nowhere' is neither a graph input");
}

TEST_CASE("graph: DenseNet layers (concat -> batch norm -> relu -> conv) fused, same outputs and gradients", "[nn][graph]") {
  // Two dense layers and a transition, built twice: once as the graph fuses them, once with a
  // second reader of every concat (which keeps each node a step of its own).
  auto build = [](bool fusable, const std::vector<Tensor>& t) {
    auto g = std::make_shared<Graph>();
    g->add_input("x", {-1, 4, 6, 6});
    auto layer = [&](const std::string& n, std::vector<std::string> parts, const Tensor& gam, const Tensor& bet,
                     const Tensor& w) {
      g->add_node({n + "_cat", "Concat", parts, {n + "_c"}, attrs({{"axis", 1}})});
      g->add_node({n + "_bn", "BatchNormalization", {n + "_c"}, {n + "_b"}}, {{"scale", gam}, {"bias", bet}},
                  {{"mean", Tensor::zeros(gam.shape())}, {"var", Tensor::ones(gam.shape())}});
      g->add_node({n + "_relu", "Relu", {n + "_b"}, {n + "_r"}});
      g->add_node({n + "_conv", "Conv", {n + "_r"}, {n}, attrs({{"pads", ints({1, 1, 1, 1})}})}, {{"weight", w}});
      if (!fusable) g->add_node({n + "_peek", "Identity", {n + "_c"}, {n + "_peek"}});
    };
    layer("l1", {"x"}, t[0], t[1], t[2]);
    layer("l2", {"x", "l1"}, t[3], t[4], t[5]);
    layer("t", {"x", "l1", "l2"}, t[6], t[7], t[8]);
    g->add_output("t");
    g->train();
    g->check();
    return g;
  };
  const std::vector<Tensor> t = {rnd({4}, 0.5f, 1.5f), rnd({4}), rnd({2, 4, 3, 3}), rnd({6}, 0.5f, 1.5f), rnd({6}),
                                 rnd({2, 6, 3, 3}), rnd({8}, 0.5f, 1.5f), rnd({8}), rnd({3, 8, 3, 3})};
  Tensor x = rnd({2, 4, 6, 6}, -1.f, 2.f), r = rnd({2, 3, 6, 6});
  std::vector<std::vector<float>> outs, grads;
  for (bool fusable : {true, false}) {
    std::vector<Tensor> copies;
    for (const Tensor& v : t) copies.push_back(v.clone());
    auto g = build(fusable, copies);
    Tensor y = g->forward(x);
    outs.push_back(y.to_vector());
    y.backward(r);
    std::vector<float> all;
    for (const auto& [n, p] : g->named_parameters())
      for (float v : p.grad().to_vector()) all.push_back(v);
    grads.push_back(all);
  }
  REQUIRE(outs[0].size() == outs[1].size());
  for (size_t i = 0; i < outs[0].size(); ++i) REQUIRE(std::fabs(outs[0][i] - outs[1][i]) < 1e-5);
  REQUIRE(grads[0].size() == grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) REQUIRE(std::fabs(grads[0][i] - grads[1][i]) < 1e-4);
}
