#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "liteai/core/random.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/metrics.hpp"

using liteai::Error;
using liteai::Tensor;
using liteai::io::Json;
using namespace liteai::nn;

namespace {

// Brute-force AUROC over all positive/negative pairs (ties count one half): the definition.
double auroc_pairs(const std::vector<float>& s, const std::vector<uint8_t>& pos) {
  double wins = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!pos[i]) continue;
    for (size_t j = 0; j < s.size(); ++j) {
      if (pos[j]) continue;
      wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
      ++pairs;
    }
  }
  return wins / double(pairs);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Six samples, three classes; hand-computed figures in the test below.
const std::vector<float> kScores = {0.7f, 0.2f, 0.1f,   // label 0, predicted 0
                                    0.3f, 0.6f, 0.1f,   // label 0, predicted 1
                                    0.1f, 0.8f, 0.1f,   // label 1, predicted 1
                                    0.2f, 0.5f, 0.3f,   // label 1, predicted 1
                                    0.1f, 0.2f, 0.7f,   // label 2, predicted 2
                                    0.5f, 0.1f, 0.4f};  // label 2, predicted 0
const std::vector<int64_t> kLabels = {0, 0, 1, 1, 2, 2};

}  // namespace

TEST_CASE("metrics: AUROC is exact, with ties by average rank", "[nn][metrics]") {
  CHECK(auroc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}) == Approx(0.75));
  CHECK(auroc({0.5f, 0.5f, 0.5f, 0.9f}, {1, 0, 0, 1}) == Approx(0.75));
  CHECK(auroc({0.2f, 0.2f, 0.6f, 0.6f, 0.6f, 0.9f}, {0, 1, 0, 1, 1, 0}) == Approx(3.5 / 9.0));
  CHECK(auroc({0.3f, 0.3f, 0.3f}, {1, 0, 1}) == Approx(0.5));  // all tied
  CHECK(auroc({1.0f, 2.0f}, {0, 1}) == 1.0);
  CHECK(auroc({1.0f, 2.0f}, {1, 0}) == 0.0);
  CHECK(std::isnan(auroc({0.1f, 0.2f}, {0, 0})));  // no positives
  CHECK(std::isnan(auroc({0.1f, 0.2f}, {1, 1})));  // no negatives
  CHECK(std::isnan(auroc(std::vector<float>{}, std::vector<uint8_t>{})));
  CHECK_THROWS_AS(auroc({0.1f}, {0, 1}), Error);

  // Against the pairwise definition on random data with many ties.
  liteai::Generator gen(7);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = 50 + size_t(trial) * 13;
    std::vector<float> s(n);
    std::vector<uint8_t> p(n);
    for (size_t i = 0; i < n; ++i) {
      s[i] = std::floor(gen.uniform() * 8.0f) / 8.0f;  // 8 distinct values: plenty of ties
      p[i] = gen.uniform() < 0.3f;
    }
    p[0] = 1;
    p[1] = 0;
    CHECK(auroc(s, p) == Approx(auroc_pairs(s, p)).epsilon(1e-12));
  }
}

TEST_CASE("metrics: single-label figures match hand computation", "[nn][metrics]") {
  const ClassificationReport r = evaluate_single_label(kScores.data(), 6, 3, kLabels.data(), {"normal", "nodule", "effusion"});
  CHECK_FALSE(r.multi_label);
  CHECK(r.samples == 6);
  CHECK(r.accuracy == Approx(4.0 / 6.0));
  const int64_t expect_cm[3][3] = {{1, 1, 0}, {0, 2, 0}, {1, 0, 1}};
  for (int t = 0; t < 3; ++t)
    for (int p = 0; p < 3; ++p) CHECK(r.confusion_at(t, p) == expect_cm[t][p]);
  const auto& c0 = r.classes[0];
  const auto& c1 = r.classes[1];
  const auto& c2 = r.classes[2];
  CHECK((c0.tp == 1 && c0.fp == 1 && c0.fn == 1 && c0.tn == 3 && c0.support == 2 && c0.predicted == 2));
  CHECK((c1.tp == 2 && c1.fp == 1 && c1.fn == 0 && c1.tn == 3));
  CHECK((c2.tp == 1 && c2.fp == 0 && c2.fn == 1 && c2.tn == 4));
  CHECK(c0.precision == Approx(0.5));
  CHECK(c0.recall == Approx(0.5));
  CHECK(c0.f1 == Approx(0.5));
  CHECK(c1.precision == Approx(2.0 / 3.0));
  CHECK(c1.recall == Approx(1.0));
  CHECK(c1.f1 == Approx(0.8));
  CHECK(c2.precision == Approx(1.0));
  CHECK(c2.recall == Approx(0.5));
  CHECK(c2.f1 == Approx(2.0 / 3.0));
  CHECK(c0.auroc == Approx(7.0 / 8.0));
  CHECK(c1.auroc == Approx(7.0 / 8.0));
  CHECK(c2.auroc == Approx(1.0));
  CHECK(r.macro_precision == Approx((0.5 + 2.0 / 3.0 + 1.0) / 3.0));
  CHECK(r.macro_recall == Approx(2.0 / 3.0));
  CHECK(r.macro_f1 == Approx((0.5 + 0.8 + 2.0 / 3.0) / 3.0));
  CHECK(r.macro_auroc == Approx((0.875 + 0.875 + 1.0) / 3.0));
  CHECK(r.auroc_classes == 3);

  // Tensor entry point, bf16 scores (these values survive bf16 rounding in order).
  Tensor t = Tensor::from_vector(kScores, {6, 3});
  const ClassificationReport rt = evaluate_single_label(t.to(liteai::DType::bf16), kLabels);
  CHECK(rt.accuracy == Approx(r.accuracy));
  CHECK(rt.classes[1].name == "1");
  CHECK(rt.confusion == r.confusion);

  // Batched accumulation gives the same report.
  MetricsAccumulator acc(3, false);
  acc.add(t.slice(0, 0, 4), std::vector<int64_t>(kLabels.begin(), kLabels.begin() + 4));
  acc.add(t.slice(0, 4, 6), std::vector<int64_t>(kLabels.begin() + 4, kLabels.end()));
  CHECK(acc.samples() == 6);
  const ClassificationReport ra = acc.report({"normal", "nodule", "effusion"});
  CHECK(ra.to_json() == r.to_json());
}

TEST_CASE("metrics: a class without positives is reported clearly", "[nn][metrics]") {
  // Labels never 2 and nothing predicted as 2.
  const std::vector<float> s = {0.8f, 0.1f, 0.1f, 0.3f, 0.6f, 0.1f, 0.6f, 0.3f, 0.1f, 0.2f, 0.7f, 0.1f};
  const std::vector<int64_t> y = {0, 1, 1, 1};
  const ClassificationReport r = evaluate_single_label(s.data(), 4, 3, y.data());
  CHECK(std::isnan(r.classes[2].auroc));
  CHECK(r.classes[2].auroc_note == "no positives");
  CHECK(r.auroc_classes == 2);
  CHECK(r.classes[2].precision == 0.0);
  CHECK(r.classes[2].recall == 0.0);
  // Classes 0 and 1 only: class 0 P=1/2 R=1, class 1 P=1 R=2/3.
  CHECK(r.macro_precision == Approx(0.75));
  CHECK(r.macro_recall == Approx((1.0 + 2.0 / 3.0) / 2.0));
  CHECK(r.macro_auroc == Approx((r.classes[0].auroc + r.classes[1].auroc) / 2.0));

  const Json j = r.to_json();
  const Json& c2 = j.get_array("per_class")[2];
  CHECK(c2.at("auroc").is_null());
  CHECK(c2.get_string("auroc_note") == "no positives");
  CHECK(j.get_object("macro").get_int("auroc_classes") == 2);
  const std::string csv = r.per_class_csv();
  CHECK(csv.find("\n2,0,0,0,0,0,4,0.000000,0.000000,0.000000,\n") != std::string::npos);

  // All labels of one class: every AUROC is undefined, macro is NaN/null.
  const std::vector<int64_t> same = {1, 1, 1, 1};
  const ClassificationReport u = evaluate_single_label(s.data(), 4, 3, same.data());
  CHECK(u.auroc_classes == 0);
  CHECK(std::isnan(u.macro_auroc));
  CHECK(u.classes[1].auroc_note == "no negatives");
  CHECK(u.to_json().get_object("macro").at("auroc").is_null());
}

TEST_CASE("metrics: multi-label figures match hand computation", "[nn][metrics]") {
  const std::vector<float> s = {0.9f, 0.2f, 0.4f, 0.6f, 0.6f, 0.7f, 0.1f, 0.3f};
  const std::vector<float> y = {1, 0, 1, 1, 0, 1, 0, 0};
  const ClassificationReport r = evaluate_multi_label(s.data(), 4, 2, y.data(), 0.5, {"effusion", "mass"});
  CHECK(r.multi_label);
  CHECK(r.accuracy == Approx(0.75));
  CHECK(r.exact_match == Approx(0.5));
  CHECK((r.classes[0].tp == 1 && r.classes[0].fp == 1 && r.classes[0].fn == 1 && r.classes[0].tn == 1));
  CHECK((r.classes[1].tp == 2 && r.classes[1].fp == 0 && r.classes[1].fn == 0 && r.classes[1].tn == 2));
  CHECK(r.classes[0].precision == Approx(0.5));
  CHECK(r.classes[1].f1 == Approx(1.0));
  CHECK(r.classes[0].auroc == Approx(0.75));
  CHECK(r.classes[1].auroc == Approx(1.0));
  CHECK(r.macro_auroc == Approx(0.875));
  CHECK(r.confusion.empty());
  CHECK_THROWS_AS(r.confusion_at(0, 0), Error);
  CHECK_THROWS_AS(r.confusion_csv(), Error);
  // A higher threshold changes the decisions, not the AUROC.
  const ClassificationReport r2 = evaluate_multi_label(Tensor::from_vector(s, {4, 2}), Tensor::from_vector(y, {4, 2}), 0.65);
  CHECK(r2.classes[1].tp == 1);
  CHECK(r2.classes[1].auroc == Approx(1.0));
  const Json j = r.to_json();
  CHECK(j.get_string("task") == "multi_label");
  CHECK(j.get_number("threshold") == 0.5);
  CHECK_FALSE(j.contains("confusion_matrix"));

  MetricsAccumulator acc(2, true);
  acc.add(Tensor::from_vector({0.9f, 0.2f, 0.4f, 0.6f}, {2, 2}), Tensor::from_vector({1, 0, 1, 1}, {2, 2}));
  acc.add(Tensor::from_vector({0.6f, 0.7f, 0.1f, 0.3f}, {2, 2}), Tensor::from_vector({0, 1, 0, 0}, {2, 2}));
  CHECK(acc.report({"effusion", "mass"}).to_json() == j);
  CHECK_THROWS_AS(acc.add(Tensor::from_vector({0.1f, 0.2f}, {1, 2}), std::vector<int64_t>{0}), Error);
}

TEST_CASE("metrics: CSV and JSON files", "[nn][metrics]") {
  const ClassificationReport r = evaluate_single_label(kScores.data(), 6, 3, kLabels.data(), {"normal", "a,b", "c\"d"});
  const std::string csv = r.per_class_csv();
  CHECK(csv.rfind("class,support,predicted,tp,fp,fn,tn,precision,recall,f1,auroc\n", 0) == 0);
  CHECK(csv.find("\nnormal,2,2,1,1,1,3,0.500000,0.500000,0.500000,0.875000\n") != std::string::npos);
  CHECK(csv.find("\n\"a,b\",2,3,2,1,0,3,0.666667,1.000000,0.800000,0.875000\n") != std::string::npos);
  CHECK(csv.find("\n\"c\"\"d\",") != std::string::npos);
  CHECK(csv.find("\nmacro,6,,,,,,0.722222,0.666667,0.655556,0.916667\n") != std::string::npos);
  CHECK(r.confusion_csv() == "true\\predicted,normal,\"a,b\",\"c\"\"d\"\nnormal,1,1,0\n\"a,b\",0,2,0\n\"c\"\"d\",1,0,1\n");

  const char* env = std::getenv("LITEAI_TEST_TMP");
  const std::string dir = std::string(env ? env : "/tmp");
  const std::string base = dir + "/metrics_" + std::to_string(::getpid());
  r.write_json(base + ".json");
  r.write_csv(base + ".csv");
  r.write_confusion_csv(base + "_cm.csv");
  const Json j = liteai::io::read_json_file(base + ".json");
  CHECK(j == r.to_json());
  CHECK(j.get_number("accuracy") == Approx(4.0 / 6.0));
  const Json& cm = j.get_object("confusion_matrix");
  CHECK(cm.get_string_array("labels") == std::vector<std::string>{"normal", "a,b", "c\"d"});
  CHECK(cm.get_array("rows")[2].as_array()[0].as_int() == 1);
  CHECK(read_text(base + ".csv") == csv);
  CHECK(read_text(base + "_cm.csv") == r.confusion_csv());
  CHECK(r.summary().find("accuracy: 0.6667") != std::string::npos);
  std::remove((base + ".json").c_str());
  std::remove((base + ".csv").c_str());
  std::remove((base + "_cm.csv").c_str());
}

TEST_CASE("metrics: bad inputs are named", "[nn][metrics]") {
  auto msg = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::vector<int64_t> bad = kLabels;
  bad[3] = 3;
  CHECK(msg([&] { evaluate_single_label(kScores.data(), 6, 3, bad.data()); }) ==
        "evaluate_single_label: label of sample 3 is 3, outside [0, 3)");
  std::vector<float> nan = kScores;
  nan[4] = std::nanf("");
  CHECK(msg([&] { evaluate_single_label(nan.data(), 6, 3, kLabels.data()); }).find("score of sample 1, class 1 is nan") !=
        std::string::npos);
  CHECK(msg([&] { evaluate_single_label(kScores.data(), 6, 3, kLabels.data(), {"a"}); }) ==
        "evaluate_single_label: 1 class names for 3 classes");
  CHECK(msg([&] { evaluate_single_label(Tensor::from_vector(kScores, {6, 3}), {0, 1}); }) ==
        "evaluate_single_label: 6 rows of scores but 2 labels");
  const std::vector<float> s = {0.1f, 0.2f};
  const std::vector<float> y = {1.0f, 0.5f};
  CHECK(msg([&] { evaluate_multi_label(s.data(), 1, 2, y.data()); }).find("target of sample 0, class 1 is 0.5") !=
        std::string::npos);
  CHECK(msg([&] { evaluate_multi_label(Tensor::from_vector(s, {1, 2}), Tensor::from_vector(s, {2, 1})); })
            .find("differ in shape") != std::string::npos);
  // Zero samples: defined, empty figures, no crash.
  const ClassificationReport e = evaluate_single_label(nullptr, 0, 2, nullptr);
  CHECK(e.accuracy == 0.0);
  CHECK(e.auroc_classes == 0);
}
