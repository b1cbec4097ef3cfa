// Model files: graphs in the header, files of format version 1 (written by liteai before graphs),
// and headers whose architecture disagrees with the tensors, refused before anything big is built.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/model_io.hpp"
#include "train_fixtures.hpp"

using namespace liteai;

namespace {
std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

// The fixed input the fixture's logits were recorded for: x[k] = sin(0.37 k) over [2, 1, 16, 16].
Tensor fixture_input() {
  Tensor x = Tensor::empty({2, 1, 16, 16});
  for (int64_t k = 0; k < x.numel(); ++k) x.data()[k] = std::sin(0.37f * float(k));
  return x;
}
}  // namespace

// tests/unit/nn/fixtures/teacher_cxr_v1.lai was written by liteai at commit c2a1543 (format
// version 1, before graphs): build_model(teacher_cxr, size 16, width 1, classes 3, seed 5), class
// names a, b, c, one training-mode forward pass on x[k] = 2 cos(0.11 k) + 0.5 over [4, 1, 16, 16]
// (so the batch-norm statistics are not 0 and 1), saved with save_model. Its logits for
// fixture_input() at that commit are below.
TEST_CASE("model file: a format version 1 file written by the previous release still loads", "[nn][model_file]") {
  const std::string path = std::string(LITEAI_TEST_FIXTURES) + "/teacher_cxr_v1.lai";
  CHECK(io::load_model_file(path).format_version == 1);
  nn::SavedModel s = nn::load_model(path);
  nn::Model& m = *s.model;
  CHECK(m.arch.name == "teacher_cxr");
  CHECK(m.arch.get_int("width", 0) == 1);
  CHECK(m.class_names == std::vector<std::string>{"a", "b", "c"});
  const std::vector<float> want = {-0.00133461971f, 0.00125747244f, -0.00024024515f,
                                   -0.00133949332f, 0.0012590104f,  -0.00024244799f};
  autograd::NoGrad ng;
  const std::vector<float> got = m.forward(fixture_input()).to_vector();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-5 * 0.0014);
  // And as a graph, saved and loaded in the current format: the same logits.
  auto gm = nn::to_graph_model(m);
  const std::string out = train_fixtures::tmp_path("teacher_cxr_graph.lai");
  nn::save_model(out, *gm);
  CHECK(io::load_model_file(out).format_version == io::kModelFormatVersion);
  nn::SavedModel g = nn::load_model(out);
  const std::vector<float> again = g.model->forward(fixture_input()).to_vector();
  for (size_t i = 0; i < got.size(); ++i) CHECK(again[i] == got[i]);
}

TEST_CASE("model file: a graph model stores its node list and round-trips", "[nn][model_file][graph]") {
  auto zoo = nn::build_model("small_cnn", 8, 4, 3);
  zoo->class_names = {"w", "x", "y", "z"};
  auto gm = nn::to_graph_model(*zoo);
  const std::string path = train_fixtures::tmp_path("small_cnn_graph.lai");
  nn::save_model(path, *gm);
  const io::Json table = io::read_model_file_table(path);
  const io::Json& arch = table.at("header").at("architecture");
  CHECK(arch.get_string("name") == "graph");
  CHECK(arch.get_string("source") == "small_cnn");
  CHECK(arch.get_string("head") == "softmax");
  CHECK(arch.at("graph").get_array("nodes").size() == dynamic_cast<nn::Graph&>(*gm->net).nodes().size());
  std::vector<std::string> names;
  for (const auto& e : table.get_array("tensors")) names.push_back(e.get_string("name"));
  CHECK(names.front() == "conv1.weight");
  CHECK(names.back() == "out.bias");

  nn::SavedModel s = nn::load_model(path);
  REQUIRE(dynamic_cast<nn::Graph*>(s.model->net.get()) != nullptr);
  CHECK(s.model->class_names == zoo->class_names);
  CHECK(s.model->preprocessing.width == 8);
  Tensor x = rand_uniform({3, 1, 8, 8}, 0.f, 1.f);
  CHECK(s.model->predict(x).to_vector() == zoo->predict(x).to_vector());
}

TEST_CASE("model file: an architecture that disagrees with the tensors is refused before it is built",
          "[nn][model_file][hostile]") {
  // compact_cxr at 32x32 (fc1: 16*128 x 256), the header edited to say 2048 (fc1 would be 8.6 GB),
  // written with valid checksums: refused naming the tensor, in well under a second, no memory.
  auto m = nn::build_model("compact_cxr", 32, 2, 1);
  io::Json h = nn::model_header(*m);
  h["architecture"].set("size", 2048);
  io::NamedTensors tensors;
  for (auto& [n, t] : m->net->state()) tensors.emplace_back(n, t);
  const std::vector<uint8_t> bytes = io::model_file_to_bytes(h, tensors);
  m.reset();
  tensors.clear();
  const size_t before = storage_bytes_in_use();
  storage_reset_peak();
  const auto t0 = std::chrono::steady_clock::now();
  ErrorKind kind{};
  const std::string e = error_of([&] { nn::load_model_from_bytes(bytes.data(), bytes.size(), "big.lai"); }, &kind);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(e == "big.lai: tensor 'fc1.weight' has shape [2048, 256], architecture 'compact_cxr' expects [8388608, 256]");
  CHECK(kind == ErrorKind::format);
  CHECK(seconds < 0.5);
  CHECK(storage_bytes_peak() - before < size_t(100) << 20);

  // A graph whose node list disagrees with the file, and one without its node list.
  auto g = nn::to_graph_model(*nn::build_model("small_cnn", 8, 2, 1));
  io::Json gh = nn::model_header(*g);
  io::NamedTensors gt;
  for (auto& [n, t] : g->net->state()) gt.emplace_back(n, t);
  auto load = [&](const io::Json& header) {
    const auto b = io::model_file_to_bytes(header, gt);
    return error_of([&] { nn::load_model_from_bytes(b.data(), b.size(), "g.lai"); }, &kind);
  };
  io::Json edited = gh;
  io::Json& out = edited["architecture"]["graph"]["nodes"][9];  // the last Dense
  REQUIRE(out.get_string("name") == "out");
  out["params"].set("weight", io::Json::array_of(std::vector<int64_t>{128, 3}));
  out["params"].set("bias", io::Json::array_of(std::vector<int64_t>{3}));
  CHECK(load(edited) == "g.lai: tensor 'out.weight' has shape [128, 2], architecture 'graph' expects [128, 3]");
  CHECK(kind == ErrorKind::format);
  edited = gh;
  edited["architecture"]["graph"]["nodes"][0]["params"].set("weight", io::Json::array_of(std::vector<int64_t>{32, 1, 5, 5}));
  CHECK(load(edited) ==
        "g.lai header: graph: node 'conv1' (Conv): attribute 'kernel_shape' does not match weight [32, 1, 5, 5]");
  CHECK(kind == ErrorKind::format);
  edited = gh;
  edited["architecture"].erase("graph");
  CHECK(load(edited) == "g.lai header: architecture 'graph' has no 'graph' member (the node list)");
}
