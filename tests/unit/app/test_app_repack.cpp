// The repack task (app/repack_tasks.hpp): a 3-channel net brought in through ONNX the way the
// importer builds it (gray input replicated by a Concat, ImageNet's Sub/Div in the graph) repacked
// with gray + fold gives the same logits on gray images; the task's report, provenance and bf16 file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "liteai/app/model_tasks.hpp"
#include "liteai/app/repack_tasks.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/io/hash.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/transform/repack.hpp"

#ifdef LITEAI_HAVE_ONNX
#include "liteai/interop/onnx.hpp"
#endif

using namespace liteai;

namespace {
std::string tmp(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  const std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") / "app_repack";
  std::filesystem::create_directories(p);
  return (p / name).string();
}

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

Tensor logits(nn::Model& m, const Tensor& x) {
  autograd::NoGrad ng;
  m.net->eval();
  return m.net->forward(x).contiguous();
}

int count_op(const nn::Model& m, const std::string& op) {
  int n = 0;
  for (const auto& node : dynamic_cast<const nn::Graph&>(*m.net).nodes()) n += node.op == op;
  return n;
}

// A 3-channel zoo net with BatchNorm (teacher_cxr), statistics away from the identity.
std::shared_ptr<nn::Model> rgb_teacher() {
  nn::ArchSpec spec;
  spec.name = "teacher_cxr";
  spec.set("size", 32.0).set("channels", 3.0).set("classes", 3.0).set("width", 4.0);
  auto m = nn::build_model(spec, 9);
  Generator g(3);
  for (auto& [name, t] : m->net->state())
    if (name.find("running_var") != std::string::npos || name.find("gamma") != std::string::npos)
      for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = g.uniform(0.5f, 2.f);
  m->class_names = {"a", "b", "c"};
  m->preprocessing.standardize = false;
  return m;
}
}  // namespace

TEST_CASE("repack: an ONNX import (replicated gray input, ImageNet normalization) folds to 1 channel exactly",
          "[app][repack][onnx]") {
#ifndef LITEAI_HAVE_ONNX
  WARN("skipped: this build has no ONNX support");
#else
  auto rgb = rgb_teacher();
  const std::vector<uint8_t> bytes = interop::onnx::export_model_to_bytes(*rgb);
  for (bool gray_input : {true, false}) {
    interop::onnx::ImportOptions io;
    io.preprocess = interop::onnx::Preprocess::imagenet;
    io.gray = gray_input;
    auto imported = interop::onnx::import_model_from_bytes(bytes.data(), bytes.size(), io);
    REQUIRE(count_op(*imported, "Div") == 1);
    REQUIRE(count_op(*imported, "Concat") == (gray_input ? 1 : 0));
    Generator g(4);
    const Tensor gray = rand_uniform({2, 1, 32, 32}, 0.f, 1.f, g);
    Tensor in = gray;
    if (!gray_input) in = Tensor::ones({1, 3, 1, 1}) * gray;  // the loader's replication
    const Tensor ref = logits(*imported, in.contiguous());
    transform::RepackResult r = transform::repack(*imported, {.gray = true, .fold = true});
    CHECK(count_op(*r.model, "Div") == 0);
    CHECK(count_op(*r.model, "Concat") == 0);
    CHECK(count_op(*r.model, "BatchNormalization") == 0);
    CHECK(r.model->preprocessing.channels == 1);
    CHECK(max_rel_diff(logits(*r.model, gray), ref) < 1e-5);
  }
#endif
}

TEST_CASE("repack task: report, provenance with the parent's SHA-256, bf16 file", "[app][repack]") {
  auto rgb = rgb_teacher();
  const std::string in = tmp("rgb.lai"), out = tmp("gray.lai"), half = tmp("half.lai");
  nn::save_model(in, *rgb);
  app::Options o(app::repack_options());
  o.set("in", in);
  o.set("out", out);
  o.set_bool("gray", true);
  o.set_bool("fold", true);
  o.set_int("runs", 2);
  const app::RepackOutcome r = app::repack(o);
  CHECK(r.exact);
  CHECK(r.check_source == "SYNTHETIC phantoms");
  CHECK(r.check_images == 4);
  CHECK(r.max_rel_diff < 1e-5);
  CHECK(r.after.parameters < r.before.parameters);
  CHECK(r.after.buffers == 0);
  CHECK(r.before.file_bytes == int64_t(std::filesystem::file_size(in)));
  CHECK(r.before.latency_ms > 0);
  CHECK(r.after.peak_rss_mb > 0);
  const io::Json j = r.to_json();
  CHECK(j.at("check").at("max_rel_diff").as_number() == r.max_rel_diff);
  // The written file: 1 channel, provenance naming the task, its options and the source's hash.
  const nn::SavedModel back = nn::load_model(out);
  CHECK(back.model->preprocessing.channels == 1);
  const io::Json& p = back.model->provenance;
  CHECK(p.at("task").as_string() == "repack");
  CHECK(p.at("options").at("gray").dump() == "true");
  CHECK(p.at("parents").as_array()[0].at("sha256").as_string() == io::sha256_file(in));
  // The same probabilities on an image, through each model's own preprocessing.
  data::Image img(32, 32);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = float((i * 37) % 256);
  rgb->net->eval();  // predict() keeps the mode: BatchNorm must use its statistics
  const Tensor a = app::predict(*rgb, {img}), b = app::predict(*back.model, {img});
  CHECK(max_rel_diff(b, a) < 1e-5);
  // bf16: half the file, the difference reported (not exact), the outputs close.
  o.set("out", half);
  o.set_bool("bf16", true);
  const app::RepackOutcome h = app::repack(o);
  CHECK_FALSE(h.exact);
  CHECK(double(h.after.file_bytes) < 0.6 * double(r.after.file_bytes));
  CHECK(h.max_rel_diff < 0.05);
  CHECK(h.max_rel_diff > 0);
  // --out == --in is refused before anything is written.
  o.set("out", in);
  CHECK_THROWS_WITH(app::repack(o), Catch::Contains("another file than --in"));
}
