// C API 0.2: evaluation reports (per-class precision, recall, F1, AUROC, confusion matrix),
// checked against a naive reference computed here from the same scores.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {

struct Report {
  lai_eval_report* r = nullptr;
  ~Report() { lai_eval_report_free(r); }
};

struct NaiveClass {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  double precision = 0, recall = 0, f1 = 0, auroc = NAN;
};

// AUROC by counting all (positive, negative) pairs, ties one half.
double pair_auroc(const std::vector<float>& s, const std::vector<int>& pos) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (pos[i] && !pos[j]) {
        pairs += 1;
        wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
      }
  return pairs > 0 ? wins / pairs : NAN;
}

// Per-class metrics of n x c scores; truth[i * c + k] is 1 when sample i is of class k;
// predicted the same for the decisions.
std::vector<NaiveClass> naive(const std::vector<float>& scores, const std::vector<int>& truth,
                              const std::vector<int>& predicted, int64_t n, int c) {
  std::vector<NaiveClass> out(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) {
    NaiveClass& m = out[size_t(k)];
    std::vector<float> s;
    std::vector<int> pos;
    for (int64_t i = 0; i < n; ++i) {
      const int t = truth[size_t(i * c + k)], p = predicted[size_t(i * c + k)];
      m.tp += t && p;
      m.fp += !t && p;
      m.fn += t && !p;
      m.tn += !t && !p;
      s.push_back(scores[size_t(i * c + k)]);
      pos.push_back(t);
    }
    m.precision = m.tp + m.fp ? double(m.tp) / double(m.tp + m.fp) : 0;
    m.recall = m.tp + m.fn ? double(m.tp) / double(m.tp + m.fn) : 0;
    m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
    m.auroc = pair_auroc(s, pos);
  }
  return out;
}

void check_against(lai_eval_report* r, const std::vector<NaiveClass>& ref) {
  lai_eval_summary sum;
  lai_eval_summary_init(&sum);
  REQUIRE(lai_eval_report_get_summary(r, &sum) == LAI_OK);
  REQUIRE(sum.classes == int32_t(ref.size()));
  double macro_auroc = 0;
  int defined = 0;
  for (int k = 0; k < sum.classes; ++k) {
    lai_class_metrics m;
    lai_class_metrics_init(&m);
    REQUIRE(lai_eval_report_get_class(r, k, &m) == LAI_OK);
    const NaiveClass& e = ref[size_t(k)];
    INFO("class " << k);
    CHECK(m.tp == e.tp);
    CHECK(m.fp == e.fp);
    CHECK(m.fn == e.fn);
    CHECK(m.tn == e.tn);
    CHECK(m.support == e.tp + e.fn);
    CHECK(m.predicted == e.tp + e.fp);
    CHECK(m.precision == Approx(e.precision).margin(1e-12));
    CHECK(m.recall == Approx(e.recall).margin(1e-12));
    CHECK(m.f1 == Approx(e.f1).margin(1e-12));
    if (std::isnan(e.auroc)) {
      CHECK(std::isnan(m.auroc));
    } else {
      CHECK(m.auroc == Approx(e.auroc).margin(1e-9));
      macro_auroc += e.auroc;
      ++defined;
    }
  }
  CHECK(sum.auroc_classes == defined);
  if (defined) CHECK(sum.macro_auroc == Approx(macro_auroc / defined).margin(1e-9));
}

}  // namespace

TEST_CASE("capi: report from single-label scores equals the naive reference") {
  const int64_t n = 60;
  const int c = 4;
  std::vector<float> scores(size_t(n * c));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / float(1 << 24);
  };
  for (int64_t i = 0; i < n; ++i) {
    labels[size_t(i)] = int32_t(i % 3);  // class 3 never occurs: AUROC undefined, recall 0
    for (int k = 0; k < c; ++k)
      scores[size_t(i * c + k)] = std::round(next() * 8.f) / 8.f + (k == labels[size_t(i)] ? 0.3f : 0.f);  // ties
  }
  std::vector<int> truth(size_t(n * c), 0), pred(size_t(n * c), 0);
  std::vector<int64_t> confusion(size_t(c * c), 0);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    int best = 0;
    for (int k = 1; k < c; ++k)
      if (scores[size_t(i * c + k)] > scores[size_t(i * c + best)]) best = k;
    truth[size_t(i * c + labels[size_t(i)])] = 1;
    pred[size_t(i * c + best)] = 1;
    confusion[size_t(labels[size_t(i)] * c + best)]++;
    correct += best == labels[size_t(i)];
  }
  Report r;
  REQUIRE(lai_eval_report_from_scores(scores.data(), n, c, labels.data(), nullptr, 0.5, &r.r) == LAI_OK);
  check_against(r.r, naive(scores, truth, pred, n, c));
  lai_eval_summary sum;
  lai_eval_summary_init(&sum);
  REQUIRE(lai_eval_report_get_summary(r.r, &sum) == LAI_OK);
  CHECK(sum.multi_label == 0);
  CHECK(sum.samples == n);
  CHECK(sum.accuracy == Approx(double(correct) / double(n)).margin(1e-12));
  std::vector<int64_t> got(size_t(c * c), -1);
  REQUIRE(lai_eval_report_confusion(r.r, got.data(), got.size()) == LAI_OK);
  CHECK(got == confusion);
  CHECK(lai_eval_report_confusion(r.r, got.data(), got.size() - 1) == LAI_ERR_INVALID_ARGUMENT);
  char name[16];
  size_t needed = 0;
  REQUIRE(lai_eval_report_class_name(r.r, 2, name, sizeof name, &needed) == LAI_OK);
  CHECK(std::string(name) == "class2");
  CHECK(needed == 7);
  REQUIRE(lai_eval_report_json(r.r, nullptr, 0, &needed) == LAI_OK);  // size query
  std::string json(needed, '\0');
  REQUIRE(lai_eval_report_json(r.r, json.data(), json.size(), &needed) == LAI_OK);
  CHECK(json.find("\"class2\"") != std::string::npos);
  CHECK(json.find("precision") != std::string::npos);
  // An older caller's smaller struct gets only the fields it covers.
  lai_class_metrics old;
  std::memset(&old, 0x7f, sizeof old);
  old.struct_size = offsetof(lai_class_metrics, precision);
  REQUIRE(lai_eval_report_get_class(r.r, 0, &old) == LAI_OK);
  CHECK(old.struct_size == offsetof(lai_class_metrics, precision));
  unsigned char tail[sizeof(double)];
  std::memset(tail, 0x7f, sizeof tail);
  CHECK(std::memcmp(&old.precision, tail, sizeof tail) == 0);
}

TEST_CASE("capi: report from multi-label scores equals the naive reference") {
  const int64_t n = 40;
  const int c = 3;
  std::vector<float> scores(size_t(n * c)), targets(size_t(n * c));
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < c; ++k) {
      targets[size_t(i * c + k)] = float((i * (k + 2)) % 3 == 0);
      scores[size_t(i * c + k)] = float((i * 7 + k * 3) % 10) / 10.f + 0.25f * targets[size_t(i * c + k)];
    }
  const double threshold = 0.6;
  std::vector<int> truth(size_t(n * c)), pred(size_t(n * c));
  for (size_t i = 0; i < truth.size(); ++i) {
    truth[i] = targets[i] > 0.5f;
    pred[i] = scores[i] >= threshold;
  }
  Report r;
  REQUIRE(lai_eval_report_from_scores(scores.data(), n, c, nullptr, targets.data(), threshold, &r.r) == LAI_OK);
  check_against(r.r, naive(scores, truth, pred, n, c));
  lai_eval_summary sum;
  lai_eval_summary_init(&sum);
  REQUIRE(lai_eval_report_get_summary(r.r, &sum) == LAI_OK);
  CHECK(sum.multi_label == 1);
  CHECK(sum.threshold == threshold);
  int64_t confusion = 0;
  CHECK(lai_eval_report_confusion(r.r, &confusion, 1) == LAI_ERR_NOT_SUPPORTED);
}

TEST_CASE("capi: evaluation report of a trained model equals the naive reference on its predictions") {
  const std::string dir = temp_dir("report");
  const int S = 32, count = 25;
  REQUIRE(lai_phantom_write_set(dir.c_str(), count, 11, S) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv";
  Model m;
  REQUIRE(lai_model_create("small_cnn", S, 5, 3, &m.m) == LAI_OK);
  lai_train_options o;
  lai_train_options_init(&o);
  o.batch_size = 8;
  o.epochs = 1;
  {
    const lai_status s = lai_model_train(m.m, manifest.c_str(), &o, nullptr);
    INFO(lai_last_error());
    REQUIRE(s == LAI_OK);
  }
  int batches = 0;
  o.progress = [](const lai_progress* p, void* user) {
    CHECK(p->phase == LAI_PHASE_EVALUATE);
    ++*static_cast<int*>(user);
    return 0;
  };
  o.user_data = &batches;
  lai_eval_result res, plain;
  lai_eval_result_init(&res);
  lai_eval_result_init(&plain);
  Report r;
  {
    const lai_status s = lai_model_evaluate_report(m.m, manifest.c_str(), &o, 0.5, &res, &r.r);
    INFO(lai_last_error());
    REQUIRE(s == LAI_OK);
  }
  CHECK(batches == 4);
  CHECK(res.samples == count);
  // The same loss as lai_model_evaluate.
  REQUIRE(lai_model_evaluate(m.m, manifest.c_str(), &o, &plain) == LAI_OK);
  CHECK(res.loss == Approx(plain.loss).epsilon(1e-6));
  CHECK(res.metric == Approx(plain.metric).margin(1e-12));

  // Reference: predict every image of the manifest one by one.
  std::ifstream f(manifest);
  std::string line;
  std::getline(f, line);
  std::vector<std::string> names;
  for (int k = 0; k < 5; ++k) {
    char buf[64];
    REQUIRE(lai_model_class_name(m.m, k, buf, sizeof buf, nullptr) == LAI_OK);
    names.push_back(buf);
  }
  std::vector<float> scores;
  std::vector<int> truth, pred;
  while (std::getline(f, line)) {
    std::stringstream ss(line);
    std::string path, label;
    std::getline(ss, path, ',');
    std::getline(ss, label, ',');
    float p[5];
    REQUIRE(lai_model_predict_file(m.m, (dir + "/" + path).c_str(), p, 5) == LAI_OK);
    int best = 0;
    for (int k = 0; k < 5; ++k) {
      scores.push_back(p[k]);
      truth.push_back(names[size_t(k)] == label);
      if (p[k] > p[best]) best = k;
    }
    for (int k = 0; k < 5; ++k) pred.push_back(k == best);
  }
  REQUIRE(scores.size() == size_t(count) * 5);
  check_against(r.r, naive(scores, truth, pred, count, 5));
  char name[32];
  REQUIRE(lai_eval_report_class_name(r.r, 0, name, sizeof name, nullptr) == LAI_OK);
  CHECK(std::string(name) == names[0]);

  // Cancelled after the first batch: no report.
  o.progress = [](const lai_progress*, void*) { return 1; };
  lai_eval_report* none = reinterpret_cast<lai_eval_report*>(0x1);
  CHECK(lai_model_evaluate_report(m.m, manifest.c_str(), &o, 0.5, nullptr, &none) == LAI_ERR_CANCELLED);
  CHECK(none == nullptr);
  // A multi-label (sigmoid) model on the same single-label data: each sample is positive for one
  // class; decisions at the threshold; no confusion matrix.
  Model ml;
  REQUIRE(lai_model_create("{\"name\": \"compact_cxr\", \"head\": \"sigmoid\"}", S, 5, 3, &ml.m) == LAI_OK);
  lai_model_info mi;
  lai_model_info_init(&mi);
  REQUIRE(lai_model_get_info(ml.m, &mi) == LAI_OK);
  REQUIRE(mi.multi_label == 1);
  o.progress = nullptr;
  Report mr;
  {
    const lai_status s = lai_model_evaluate_report(ml.m, manifest.c_str(), &o, 0.3, nullptr, &mr.r);
    INFO(lai_last_error());
    REQUIRE(s == LAI_OK);
  }
  lai_eval_summary ms;
  lai_eval_summary_init(&ms);
  REQUIRE(lai_eval_report_get_summary(mr.r, &ms) == LAI_OK);
  CHECK(ms.multi_label == 1);
  CHECK(ms.threshold == 0.3);
  CHECK(ms.samples == count);
  int64_t supports = 0;
  for (int k = 0; k < 5; ++k) {
    lai_class_metrics cm;
    lai_class_metrics_init(&cm);
    REQUIRE(lai_eval_report_get_class(mr.r, k, &cm) == LAI_OK);
    CHECK(cm.tp + cm.fn == cm.support);
    CHECK(cm.tp + cm.fp + cm.fn + cm.tn == count);
    supports += cm.support;
  }
  CHECK(supports == count);
  int64_t conf = 0;
  CHECK(lai_eval_report_confusion(mr.r, &conf, 1) == LAI_ERR_NOT_SUPPORTED);

  // An autoencoder has no classes.
  Model ae;
  REQUIRE(lai_model_create("autoencoder", 16, 0, 1, &ae.m) == LAI_OK);
  CHECK(lai_model_evaluate_report(ae.m, manifest.c_str(), nullptr, 0.5, nullptr, &none) == LAI_ERR_NOT_SUPPORTED);
}
