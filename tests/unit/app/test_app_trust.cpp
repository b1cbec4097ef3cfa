// Clinical trust: calibration metrics against a naive count, temperature scaling on an
// overconfident model, provenance in trained files, the model card, and bit-identical retraining.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "liteai/app/distill_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/trust_tasks.hpp"
#include "liteai/core/random.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/calibration.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/ops/ops.hpp"

using namespace liteai;

namespace {
std::string tmp(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  const std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") / "app_trust";
  std::filesystem::create_directories(p);
  return (p / name).string();
}

const std::string& phantoms() {
  static const std::string dir = [] {
    const std::string d = tmp("phantoms");
    data::PhantomOptions o;
    o.size = 32;
    data::write_phantom_set(d, 30, 4, o);
    return d;
  }();
  return dir;
}

app::Options train_opts(const std::string& out, uint64_t seed) {
  app::Options o(app::train_options());
  o.set("data", phantoms() + "/manifest.csv");
  o.set("model", "compact_cxr");
  o.set("size", "16");
  o.set("epochs", "2");
  o.set("batch", "5");
  o.set("l2", "0");
  o.set("val-split", "0.2");
  o.set("seed", std::to_string(seed));
  o.set("quiet", "yes");
  o.set("out", out);
  return o;
}
}  // namespace

TEST_CASE("Calibration metrics: ECE and Brier against a direct count", "[app][trust]") {
  // 4 samples, 2 classes: top confidences 0.92 (right), 0.83 (wrong), 0.64 (right), 0.96 (right).
  const float p[8] = {0.92f, 0.08f, 0.17f, 0.83f, 0.64f, 0.36f, 0.04f, 0.96f};
  const int64_t y[4] = {0, 0, 0, 1};
  const nn::Calibration c = nn::calibration_single_label(p, 4, 2, y, 10);
  REQUIRE(c.valid);
  // bins: [0.6,0.7): 0.64 right; [0.8,0.9): 0.83 wrong; [0.9,1.0]: 0.92 and 0.96 right
  const double ece = (1 * std::fabs(1 - 0.64) + 1 * std::fabs(0 - 0.83) + 2 * std::fabs(1 - 0.94)) / 4;
  CHECK(c.ece == Approx(ece).epsilon(1e-5));
  const double brier = (2 * 0.08 * 0.08 + 2 * 0.83 * 0.83 + 2 * 0.36 * 0.36 + 2 * 0.04 * 0.04) / 4;
  CHECK(c.brier == Approx(brier).epsilon(1e-5));
  CHECK(c.bins[9].count == 2);
  const float scores[2] = {3.f, -1.f};  // not probabilities
  CHECK_FALSE(nn::calibration_single_label(scores, 1, 2, y, 10).valid);
}

TEST_CASE("Temperature scaling: an overconfident classifier's NLL and ECE drop, its ranking stays", "[app][trust]") {
  // Logits 4x too confident for labels drawn from softmax(logits / 4): the fitted T is near 4.
  Generator g(5);
  const int64_t n = 4000, c = 3;
  std::vector<float> z(static_cast<size_t>(n * c)), y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double w[3], sum = 0;
    for (int64_t k = 0; k < c; ++k) z[size_t(i * c + k)] = g.normal(0.f, 8.f), sum += (w[k] = std::exp(z[size_t(i * c + k)] / 4.0));
    double u = g.uniform(0.f, 1.f) * sum, acc = 0;
    int64_t label = c - 1;
    for (int64_t k = 0; k < c; ++k)
      if ((acc += w[k]) >= u) {
        label = k;
        break;
      }
    y[size_t(i)] = float(label);
  }
  const Tensor logits = Tensor::from_vector(z, {n, c}), labels = Tensor::from_vector(y, {n});
  const std::vector<float> t = nn::fit_temperature(nn::Head::softmax, logits, labels, Tensor());
  REQUIRE(t.size() == 1);
  CHECK(t[0] == Approx(4.0).epsilon(0.1));
  const double before = nn::temperature_nll(nn::Head::softmax, logits, labels, Tensor(), {});
  const double after = nn::temperature_nll(nn::Head::softmax, logits, labels, Tensor(), t);
  CHECK(after < before * 0.8);
  // ECE before/after through the model's calibrated probabilities.
  nn::Model m;
  std::vector<int64_t> li(y.begin(), y.end());
  const std::vector<float> p0 = ops::softmax(logits, -1).to_vector();
  m.temperature = t;
  const std::vector<float> p1 = ops::softmax(m.calibrated_logits(logits), -1).to_vector();
  const double e0 = nn::calibration_single_label(p0.data(), n, c, li.data()).ece;
  const double e1 = nn::calibration_single_label(p1.data(), n, c, li.data()).ece;
  CHECK(e1 < 0.5 * e0);
  for (int64_t i = 0; i < n; ++i) {  // the arg-max never changes
    const auto a = std::max_element(p0.begin() + i * c, p0.begin() + (i + 1) * c) - (p0.begin() + i * c);
    const auto b = std::max_element(p1.begin() + i * c, p1.begin() + (i + 1) * c) - (p1.begin() + i * c);
    CHECK(a == b);
  }
}

TEST_CASE("Provenance, calibration and the model card in trained files", "[app][trust]") {
  const std::string path = tmp("prov.lai");
  app::TrainOutcome t = app::train(train_opts(path, 3));
  const io::Json h = io::read_model_file_table(path).at("header");
  const io::Json& p = h.at("provenance");
  CHECK(p.get_string("task") == "train");
  CHECK(p.get_int("seed") == 3);
  CHECK(p.at("options").get_string("model") == "compact_cxr");
  CHECK(p.at("data").get_string("sha256").size() == 64);
  CHECK(p.at("data").get_int("train_samples") == 24);
  CHECK(p.at("data").at("per_class").size() == 5);
  CHECK(p.at("metrics").get_int("epochs") == 2);
  CHECK(p.get_string("created").size() == 20);

  app::Options c(app::calibrate_options());
  c.set("data", phantoms() + "/manifest.csv");
  c.set("quiet", "yes");
  const app::CalibrationOutcome r = app::calibrate(*t.model, c);
  CHECK(r.samples == 30);
  CHECK(r.nll_after <= r.nll_before + 1e-9);
  app::save_model(*t.model, path);
  std::shared_ptr<nn::Model> back = app::load_model(path);
  CHECK(back->temperature == t.model->temperature);
  const std::string card = app::model_card(io::read_model_file_table(path).at("header"), "prov.lai");
  CHECK(card.find("not a medical device") != std::string::npos);
  CHECK(card.find("compact_cxr") != std::string::npos);
  CHECK(card.find("temperature scaling") != std::string::npos);
  CHECK(card.find(p.at("data").get_string("sha256")) != std::string::npos);
}

TEST_CASE("Reproducibility: the same seed, threads and data give the same model bit for bit", "[app][trust]") {
  auto tensors = [](const std::string& path) {
    std::vector<std::pair<std::string, std::vector<float>>> out;
    for (auto& [n, t] : io::load_model_file(path).tensors) out.emplace_back(n, t.to_vector());
    return out;
  };
  auto metrics = [](const std::string& path) {
    return io::read_model_file_table(path).at("header").at("provenance").at("metrics").dump();
  };
  app::train(train_opts(tmp("r1.lai"), 11));
  app::train(train_opts(tmp("r2.lai"), 11));
  CHECK(tensors(tmp("r1.lai")) == tensors(tmp("r2.lai")));
  CHECK(metrics(tmp("r1.lai")) == metrics(tmp("r2.lai")));
  app::train(train_opts(tmp("r3.lai"), 12));
  CHECK(tensors(tmp("r1.lai")) != tensors(tmp("r3.lai")));  // the comparison can fail

  // Distillation too (the teacher runs beside the student).
  auto distill_opts = [&](const std::string& out) {
    app::Options o(app::distill_options());
    o.set("data", phantoms() + "/manifest.csv");
    o.set("teacher", tmp("r1.lai"));
    o.set("student", "compact_cxr_gap");
    o.set("size", "16");
    o.set("epochs", "1");
    o.set("batch", "6");
    o.set("seed", "2");
    o.set("quiet", "yes");
    o.set("out", out);
    return o;
  };
  app::distill(distill_opts(tmp("d1.lai")));
  app::distill(distill_opts(tmp("d2.lai")));
  CHECK(tensors(tmp("d1.lai")) == tensors(tmp("d2.lai")));
  const io::Json dp = io::read_model_file_table(tmp("d1.lai")).at("header").at("provenance");
  CHECK(dp.at("parents")[0].get_string("role") == "teacher");
  CHECK(dp.at("parents")[0].get_string("sha256") == io::read_model_file_table(tmp("d1.lai")).at("header").at("provenance").at("parents")[0].get_string("sha256"));
}
