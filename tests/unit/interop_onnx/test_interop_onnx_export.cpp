// ONNX export: zoo and graph models pass the ONNX checker and re-import to the same outputs;
// initializers stored as external data; files that are refused.
#include <catch2/catch.hpp>

#include <onnx/checker.h>

#include <cmath>
#include <fstream>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/interop/onnx.hpp"
#include "liteai/nn/graph.hpp"
#include "onnx_builder.hpp"
#include "train_fixtures.hpp"

using namespace liteai;
namespace lo = liteai::interop::onnx;
using train_fixtures::tmp_path;

namespace {
Generator gen(23);
Tensor rnd(const Shape& s, float lo = -1.f, float hi = 1.f) { return rand_uniform(s, lo, hi, gen); }

double max_rel_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector(), y = b.to_vector();
  double m = 0, scale = 1e-30;
  for (size_t i = 0; i < x.size(); ++i) {
    m = std::max(m, std::fabs(double(x[i]) - y[i]));
    scale = std::max(scale, std::fabs(double(y[i])));
  }
  return m / scale;
}

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("onnx export: zoo models pass the checker and re-import to the same outputs", "[onnx][export]") {
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
    if (std::string(c.name) != "autoencoder") a.set("classes", 3.0).set("head", "sigmoid");
    for (const auto& [k, v] : c.extra) a.set(k, v);
    auto zoo = nn::build_model(a, 2);
    if (std::string(c.name) == "teacher_cxr") {  // running statistics that are not 0 / 1
      autograd::NoGrad ng;
      zoo->net->train();
      zoo->net->forward(rnd({4, 1, 16, 16}, -1.f, 2.f));
    }
    zoo->net->eval();
    zoo->class_names = std::vector<std::string>(size_t(zoo->num_classes()), "");
    for (int64_t k = 0; k < zoo->num_classes(); ++k) zoo->class_names[size_t(k)] = str_cat("finding ", k);
    const std::string path = tmp_path(str_cat(c.name, ".onnx"));
    lo::export_model(*zoo, path);
    onnx::checker::check_model(path);  // the ONNX library's own verdict on the file
    auto back = lo::import_model(path);  // head, classes and preprocessing from the file's metadata
    CHECK(back->head() == zoo->head());
    CHECK(back->class_names == zoo->class_names);
    CHECK(back->preprocessing.width == c.size);
    CHECK(back->preprocessing.channels == 1);
    CHECK(back->preprocessing.standardize == zoo->preprocessing.standardize);
    CHECK(back->net->parameter_count() == zoo->net->parameter_count());
    Tensor x = rnd({2, 1, c.size, c.size}, 0.f, 1.f);
    autograd::NoGrad ng;
    CHECK(max_rel_diff(back->forward(x), zoo->forward(x)) <= 1e-6);
  }
}

TEST_CASE("onnx export: a graph with every exportable operator re-imports to the same outputs", "[onnx][export]") {
  // Import a model that uses many operators, export it, import the export.
  onnx_test::Builder m(14);
  m.input("x", {0, 2, 8, 8}).output("y", 2).output("side", 4);
  m.init("w", rnd({4, 2, 3, 3})), m.init("b", rnd({4})), m.init("dw", rnd({4, 1, 3, 3}));
  m.init("sc", rnd({4}, 0.5f, 1.5f)), m.init("bi", rnd({4})), m.init("mu", rnd({4}, -0.1f, 0.1f));
  m.init("va", rnd({4}, 0.5f, 1.5f)), m.init("tw", rnd({4, 2, 2, 2})), m.init("fw", rnd({8, 5})), m.init("fb", rnd({5}));
  m.init("lo", Tensor::scalar(-0.5f)), m.init("hi", Tensor::scalar(3.f)), m.init("half", Tensor::scalar(0.5f));
  m.init_ints("pads", {0, 0, 0, 0, 0, 0, 1, 1}), m.init_ints("ax", {2, 3}), m.init_ints("shape", {0, 8});
  m.node("Conv", {"x", "w", "b"}, {"c"}).ints("pads", {1, 1, 1, 1});
  m.node("BatchNormalization", {"c", "sc", "bi", "mu", "va"}, {"bn"});
  m.node("Relu", {"bn"}, {"r"});
  m.node("Conv", {"r", "dw"}, {"d"}).i("group", 4).ints("strides", {2, 2}).ints("pads", {0, 0, 1, 1});
  m.node("HardSwish", {"d"}, {"hs"});
  m.node("Clip", {"hs", "lo", "hi"}, {"cl"});
  m.node("Sigmoid", {"cl"}, {"sg"});
  m.node("Mul", {"cl", "sg"}, {"sw"});  // -> Swish
  m.node("Pad", {"sw", "pads"}, {"pd"});
  m.node("AveragePool", {"pd"}, {"ap"}).ints("kernel_shape", {2, 2}).ints("strides", {2, 2});
  m.node("ConvTranspose", {"ap", "tw"}, {"side"}).ints("strides", {2, 2});
  m.node("MaxPool", {"pd"}, {"mp"}).ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1}).i("ceil_mode", 1).ints(
      "strides", {2, 2});
  m.node("GlobalAveragePool", {"mp"}, {"gap"});
  m.node("Squeeze", {"gap", "ax"}, {"sq"});
  m.node("Concat", {"sq", "sq"}, {"cat"}).i("axis", 1);
  m.node("Reshape", {"cat", "shape"}, {"rs"});
  m.node("Dropout", {"rs", "half"}, {"dr"});
  m.node("Gemm", {"dr", "fw", "fb"}, {"gm"});
  m.node("LeakyRelu", {"gm"}, {"lr"}).f("alpha", 0.3f);
  m.node("Transpose", {"lr"}, {"t1"}).ints("perm", {1, 0});
  m.node("Transpose", {"t1"}, {"y"}).ints("perm", {1, 0});
  lo::ImportOptions raw;
  raw.gray = false, raw.preprocess = lo::Preprocess::unit, raw.head = nn::Head::none;
  const std::string bytes = m.bytes();
  auto first = lo::import_model_from_bytes(bytes.data(), bytes.size(), raw, "many.onnx");
  const std::vector<uint8_t> exported = lo::export_model_to_bytes(*first);
  auto second = lo::import_model_from_bytes(exported.data(), exported.size(), raw, "exported.onnx");
  auto& g2 = dynamic_cast<nn::Graph&>(*second->net);
  CHECK(g2.outputs().size() == 2);
  Tensor x = rnd({3, 2, 8, 8});
  autograd::NoGrad ng;
  const auto a = dynamic_cast<nn::Graph&>(*first->net).run({x}), b = g2.run({x});
  for (size_t k = 0; k < 2; ++k) CHECK(max_rel_diff(b[k], a[k]) <= 1e-6);
}

TEST_CASE("onnx import: initializers stored as external data load from beside the model", "[onnx]") {
  Tensor w = rnd({3, 2, 3, 3});
  const std::string dir = tmp_path("");
  {  // the weights in "weights.bin" at offset 16
    std::ofstream f(dir + "/weights.bin", std::ios::binary);
    const char pad[16] = {};
    f.write(pad, 16);
    f.write(reinterpret_cast<const char*>(w.data()), std::streamsize(w.numel() * 4));
  }
  auto model_with = [&](const std::string& location, int64_t offset, int64_t length) {
    onnx_test::Builder m;
    m.input("x", {0, 2, 5, 5}).output("y", 4);
    onnx::TensorProto* t = m.model().mutable_graph()->add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (int64_t d : w.shape()) t->add_dims(d);
    t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    for (auto [k, v] : {std::pair<std::string, std::string>{"location", location}, {"offset", std::to_string(offset)},
                        {"length", std::to_string(length)}}) {
      auto* e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    m.node("Conv", {"x", "w"}, {"y"});
    const std::string path = dir + "/ext.onnx";
    std::ofstream(path, std::ios::binary) << m.bytes();
    return path;
  };
  lo::ImportOptions raw;
  raw.gray = false, raw.preprocess = lo::Preprocess::unit, raw.head = nn::Head::none;
  auto model = lo::import_model(model_with("weights.bin", 16, w.numel() * 4), raw);
  CHECK(dynamic_cast<nn::Graph&>(*model->net).tensor(dynamic_cast<nn::Graph&>(*model->net).nodes()[0].name, "weight").to_vector() ==
        w.to_vector());
  ErrorKind k{};
  CHECK(error_of([&] { lo::import_model(model_with("weights.bin", 17, w.numel() * 4), raw); }, &k)
            .find("run past the end of the file") != std::string::npos);
  CHECK(k == ErrorKind::format);
  CHECK(error_of([&] { lo::import_model(model_with("../weights.bin", 16, w.numel() * 4), raw); })
            .find("must be a relative path inside the model's folder") != std::string::npos);
  CHECK(error_of([&] { lo::import_model(model_with("/etc/passwd", 0, 16), raw); })
            .find("must be a relative path inside the model's folder") != std::string::npos);
  CHECK(error_of([&] { lo::import_model(model_with("missing.bin", 0, w.numel() * 4), raw); }, &k).find("missing.bin") !=
        std::string::npos);
  CHECK(k == ErrorKind::format);
  CHECK(error_of([&] { lo::import_model(dir + "/nothing_here.onnx", raw); }, &k).find("cannot open") != std::string::npos);
  CHECK(k == ErrorKind::io);
}
