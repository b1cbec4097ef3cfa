#include "liteai/nn/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "liteai/io/model_file.hpp"

namespace liteai::nn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }

std::vector<std::string> class_names(const std::vector<std::string>& names, int64_t c, const char* op) {
  if (names.empty()) {
    std::vector<std::string> out;
    for (int64_t k = 0; k < c; ++k) out.push_back(std::to_string(k));
    return out;
  }
  LAI_CHECK(static_cast<int64_t>(names.size()) == c, op, ": ", names.size(), " class names for ", c, " classes");
  return names;
}

void check_scores(const float* scores, int64_t n, int64_t c, const char* op) {
  LAI_CHECK(n >= 0 && c >= 1, op, ": need at least one class (got ", n, " samples x ", c, " classes)");
  LAI_CHECK(scores != nullptr || n == 0, op, ": null scores");
  for (int64_t i = 0; i < n * c; ++i)
    LAI_CHECK(std::isfinite(scores[i]), op, ": score of sample ", i / c, ", class ", i % c, " is ", scores[i]);
}

// Fills precision/recall/F1 from the counts and the one-vs-rest AUROC from the column of scores.
void finish_class(ClassMetrics& m, const float* scores, int64_t n, int64_t c, int64_t k,
                  const std::vector<uint8_t>& positive) {
  m.precision = ratio(m.tp, m.tp + m.fp);
  m.recall = ratio(m.tp, m.tp + m.fn);
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
  std::vector<float> column(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) column[size_t(i)] = scores[i * c + k];
  m.auroc = auroc(column.data(), positive.data(), n);
  if (m.support == 0) m.auroc_note = "no positives";
  else if (m.support == n) m.auroc_note = "no negatives";
}

void finish_macro(ClassificationReport& r) {
  double p = 0, rc = 0, f = 0, a = 0;
  int64_t counted = 0;
  r.auroc_classes = 0;
  for (const auto& m : r.classes) {
    if (m.support > 0 || m.predicted > 0) {
      p += m.precision;
      rc += m.recall;
      f += m.f1;
      ++counted;
    }
    if (!std::isnan(m.auroc)) {
      a += m.auroc;
      ++r.auroc_classes;
    }
  }
  r.macro_precision = counted ? p / double(counted) : 0.0;
  r.macro_recall = counted ? rc / double(counted) : 0.0;
  r.macro_f1 = counted ? f / double(counted) : 0.0;
  r.macro_auroc = r.auroc_classes ? a / double(r.auroc_classes) : kNaN;
}

// Numbers for the files: NaN becomes null (JSON) or an empty cell (CSV).
io::Json num(double v) { return std::isnan(v) ? io::Json() : io::Json(v); }

std::string cell(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// Tensor [N, C] (or [N] for one class) -> row-major floats.
std::vector<float> rows_of(const Tensor& t, int64_t& n, int64_t& c, const char* op, const char* what) {
  LAI_CHECK(t.defined(), op, ": ", what, " tensor is undefined");
  LAI_CHECK(t.dim() == 2 || t.dim() == 1, op, ": ", what, " must be [N, C] (got ", t.describe(), ")");
  n = t.size(0);
  c = t.dim() == 2 ? t.size(1) : 1;
  return t.to_vector();
}

}  // namespace

double auroc(const float* scores, const uint8_t* positive, int64_t n) {
  LAI_CHECK(n >= 0, "auroc: negative sample count ", n);
  int64_t pos = 0;
  for (int64_t i = 0; i < n; ++i) pos += positive[i] ? 1 : 0;
  const int64_t neg = n - pos;
  if (pos == 0 || neg == 0) return kNaN;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  // Sum of the (1-based, tie-averaged) ranks of the positives.
  double rank_sum = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    int64_t pos_in_group = 0;
    while (j < n && scores[order[size_t(j)]] == scores[order[size_t(i)]]) {
      pos_in_group += positive[order[size_t(j)]] ? 1 : 0;
      ++j;
    }
    const double avg_rank = 0.5 * double(i + 1 + j);  // mean of ranks i+1 .. j
    rank_sum += avg_rank * double(pos_in_group);
    i = j;
  }
  const double u = rank_sum - 0.5 * double(pos) * double(pos + 1);
  return u / (double(pos) * double(neg));
}

double auroc(const std::vector<float>& scores, const std::vector<uint8_t>& positive) {
  LAI_CHECK(scores.size() == positive.size(), "auroc: ", scores.size(), " scores but ", positive.size(), " labels");
  return auroc(scores.data(), positive.data(), static_cast<int64_t>(scores.size()));
}

namespace {
// Bins of (confidence, outcome) pairs into a Calibration; brier is supplied by the caller.
Calibration binned(const std::vector<std::pair<float, bool>>& pairs, double brier, int bins) {
  Calibration c;
  c.valid = true;
  c.brier = brier;
  c.bins.resize(size_t(std::max(1, bins)));
  const int nb = int(c.bins.size());
  std::vector<double> conf(c.bins.size(), 0.0), hit(c.bins.size(), 0.0);
  for (int b = 0; b < nb; ++b) c.bins[size_t(b)].lo = double(b) / nb, c.bins[size_t(b)].hi = double(b + 1) / nb;
  for (const auto& [p, ok] : pairs) {
    const int b = std::min(nb - 1, int(double(p) * nb));
    ++c.bins[size_t(b)].count;
    conf[size_t(b)] += p;
    hit[size_t(b)] += ok ? 1.0 : 0.0;
  }
  const double total = double(pairs.size());
  for (int b = 0; b < nb; ++b) {
    ReliabilityBin& r = c.bins[size_t(b)];
    if (r.count == 0) continue;
    r.confidence = conf[size_t(b)] / double(r.count);
    r.accuracy = hit[size_t(b)] / double(r.count);
    c.ece += double(r.count) / total * std::fabs(r.accuracy - r.confidence);
  }
  return c;
}
bool are_probabilities(const float* p, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (!(p[i] >= 0.f && p[i] <= 1.f)) return false;
  return true;
}
}  // namespace

Calibration calibration_single_label(const float* probs, int64_t n, int64_t c, const int64_t* labels, int bins) {
  if (n <= 0 || !are_probabilities(probs, n * c)) return {};
  std::vector<std::pair<float, bool>> pairs;
  double brier = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = probs + i * c;
    double sum = 0;
    for (int64_t k = 0; k < c; ++k) sum += row[k];
    if (std::fabs(sum - 1.0) > 1e-3) return {};  // not a distribution over the classes
    const int64_t pred = std::max_element(row, row + c) - row;
    pairs.emplace_back(row[pred], pred == labels[i]);
    for (int64_t k = 0; k < c; ++k) {
      const double d = double(row[k]) - (k == labels[i] ? 1.0 : 0.0);
      brier += d * d;
    }
  }
  return binned(pairs, brier / double(n), bins);
}

Calibration calibration_multi_label(const float* probs, int64_t n, int64_t c, const float* targets, int bins) {
  if (n <= 0 || !are_probabilities(probs, n * c)) return {};
  std::vector<std::pair<float, bool>> pairs;
  double brier = 0;
  for (int64_t i = 0; i < n * c; ++i) {
    pairs.emplace_back(probs[i], targets[i] != 0.f);
    const double d = double(probs[i]) - double(targets[i]);
    brier += d * d;
  }
  return binned(pairs, brier / double(n * c), bins);
}

ClassificationReport evaluate_single_label(const float* scores, int64_t n, int64_t c, const int64_t* labels,
                                           const std::vector<std::string>& names) {
  const char* op = "evaluate_single_label";
  check_scores(scores, n, c, op);
  for (int64_t i = 0; i < n; ++i)
    LAI_CHECK(labels[i] >= 0 && labels[i] < c, op, ": label of sample ", i, " is ", labels[i], ", outside [0, ", c, ")");
  ClassificationReport r;
  r.multi_label = false;
  r.samples = n;
  r.classes.resize(size_t(c));
  const auto nm = class_names(names, c, op);
  for (int64_t k = 0; k < c; ++k) r.classes[size_t(k)].name = nm[size_t(k)];
  r.confusion.assign(size_t(c * c), 0);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = scores + i * c;
    const int64_t pred = std::max_element(row, row + c) - row;  // first maximum
    ++r.confusion[size_t(labels[i] * c + pred)];
    correct += pred == labels[i];
  }
  r.accuracy = ratio(correct, n);
  r.exact_match = r.accuracy;
  r.calibration = calibration_single_label(scores, n, c, labels);
  std::vector<uint8_t> positive(static_cast<size_t>(n));
  for (int64_t k = 0; k < c; ++k) {
    ClassMetrics& m = r.classes[size_t(k)];
    for (int64_t j = 0; j < c; ++j) {
      m.support += r.confusion[size_t(k * c + j)];
      m.predicted += r.confusion[size_t(j * c + k)];
    }
    m.tp = r.confusion[size_t(k * c + k)];
    m.fn = m.support - m.tp;
    m.fp = m.predicted - m.tp;
    m.tn = n - m.tp - m.fn - m.fp;
    for (int64_t i = 0; i < n; ++i) positive[size_t(i)] = labels[i] == k;
    finish_class(m, scores, n, c, k, positive);
  }
  finish_macro(r);
  return r;
}

ClassificationReport evaluate_single_label(const Tensor& scores, const std::vector<int64_t>& labels,
                                           const std::vector<std::string>& names) {
  int64_t n = 0, c = 0;
  const std::vector<float> s = rows_of(scores, n, c, "evaluate_single_label", "scores");
  LAI_CHECK(static_cast<int64_t>(labels.size()) == n, "evaluate_single_label: ", n, " rows of scores but ",
            labels.size(), " labels");
  return evaluate_single_label(s.data(), n, c, labels.data(), names);
}

ClassificationReport evaluate_multi_label(const float* scores, int64_t n, int64_t c, const float* targets,
                                          double threshold, const std::vector<std::string>& names) {
  const char* op = "evaluate_multi_label";
  check_scores(scores, n, c, op);
  LAI_CHECK(std::isfinite(threshold), op, ": threshold is ", threshold);
  for (int64_t i = 0; i < n * c; ++i)
    LAI_CHECK(targets[i] == 0.0f || targets[i] == 1.0f, op, ": target of sample ", i / c, ", class ", i % c, " is ",
              targets[i], " (must be 0 or 1)");
  ClassificationReport r;
  r.multi_label = true;
  r.threshold = threshold;
  r.samples = n;
  r.classes.resize(size_t(c));
  const auto nm = class_names(names, c, op);
  int64_t right = 0, exact = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool all = true;
    for (int64_t k = 0; k < c; ++k) {
      const bool pred = scores[i * c + k] >= threshold;
      const bool truth = targets[i * c + k] != 0.0f;
      ClassMetrics& m = r.classes[size_t(k)];
      m.tp += pred && truth;
      m.fp += pred && !truth;
      m.fn += !pred && truth;
      m.tn += !pred && !truth;
      right += pred == truth;
      all = all && pred == truth;
    }
    exact += all;
  }
  r.accuracy = ratio(right, n * c);
  r.exact_match = ratio(exact, n);
  r.calibration = calibration_multi_label(scores, n, c, targets);
  std::vector<uint8_t> positive(static_cast<size_t>(n));
  for (int64_t k = 0; k < c; ++k) {
    ClassMetrics& m = r.classes[size_t(k)];
    m.name = nm[size_t(k)];
    m.support = m.tp + m.fn;
    m.predicted = m.tp + m.fp;
    for (int64_t i = 0; i < n; ++i) positive[size_t(i)] = targets[i * c + k] != 0.0f;
    finish_class(m, scores, n, c, k, positive);
  }
  finish_macro(r);
  return r;
}

ClassificationReport evaluate_multi_label(const Tensor& scores, const Tensor& targets, double threshold,
                                          const std::vector<std::string>& names) {
  int64_t n = 0, c = 0, tn = 0, tc = 0;
  const std::vector<float> s = rows_of(scores, n, c, "evaluate_multi_label", "scores");
  const std::vector<float> t = rows_of(targets, tn, tc, "evaluate_multi_label", "targets");
  LAI_CHECK(n == tn && c == tc, "evaluate_multi_label: scores ", scores.describe(), " and targets ",
            targets.describe(), " differ in shape");
  return evaluate_multi_label(s.data(), n, c, t.data(), threshold, names);
}

// ---- report output ----

int64_t ClassificationReport::confusion_at(int64_t truth, int64_t predicted) const {
  const int64_t c = num_classes();
  LAI_CHECK(!multi_label, "confusion_at: a multi-label report has no confusion matrix (see per-class tp/fp/fn/tn)");
  LAI_CHECK(truth >= 0 && truth < c && predicted >= 0 && predicted < c, "confusion_at: (", truth, ", ", predicted,
            ") outside ", c, " classes");
  return confusion[size_t(truth * c + predicted)];
}

io::Json ClassificationReport::to_json() const {
  using io::Json;
  Json j = Json::object();
  j.set("task", multi_label ? "multi_label" : "single_label");
  j.set("samples", samples);
  j.set("classes", num_classes());
  if (multi_label) j.set("threshold", threshold);
  j.set("accuracy", accuracy);
  if (multi_label) j.set("exact_match", exact_match);
  Json macro = Json::object();
  macro.set("precision", macro_precision);
  macro.set("recall", macro_recall);
  macro.set("f1", macro_f1);
  macro.set("auroc", num(macro_auroc));
  macro.set("auroc_classes", auroc_classes);
  j.set("macro", std::move(macro));
  Json per = Json::array();
  for (const auto& m : classes) {
    Json e = Json::object();
    e.set("name", m.name);
    e.set("support", m.support);
    e.set("predicted", m.predicted);
    e.set("tp", m.tp);
    e.set("fp", m.fp);
    e.set("fn", m.fn);
    e.set("tn", m.tn);
    e.set("precision", m.precision);
    e.set("recall", m.recall);
    e.set("f1", m.f1);
    e.set("auroc", num(m.auroc));
    if (!m.auroc_note.empty()) e.set("auroc_note", m.auroc_note);
    per.push_back(std::move(e));
  }
  j.set("per_class", std::move(per));
  if (!multi_label) {
    Json cm = Json::object();
    Json labels = Json::array();
    for (const auto& m : classes) labels.push_back(m.name);
    cm.set("labels", std::move(labels));
    cm.set("layout", "rows are true classes, columns are predicted classes");
    Json rows = Json::array();
    const int64_t c = num_classes();
    for (int64_t t = 0; t < c; ++t)
      rows.push_back(Json::array_of(std::vector<int64_t>(confusion.begin() + t * c, confusion.begin() + (t + 1) * c)));
    cm.set("rows", std::move(rows));
    j.set("confusion_matrix", std::move(cm));
  }
  if (calibration.valid) {
    Json c = Json::object();
    c.set("ece", calibration.ece);
    c.set("brier", calibration.brier);
    c.set("bins", int64_t(calibration.bins.size()));
    Json bins = Json::array();
    for (const auto& b : calibration.bins) {
      Json e = Json::object();
      e.set("lo", b.lo);
      e.set("hi", b.hi);
      e.set("count", b.count);
      e.set("confidence", b.confidence);
      e.set("accuracy", b.accuracy);
      bins.push_back(std::move(e));
    }
    c.set("reliability", std::move(bins));
    j.set("calibration", std::move(c));
  }
  return j;
}

std::string ClassificationReport::reliability_csv() const {
  std::string out = "bin,lo,hi,count,confidence,accuracy\n";
  for (size_t b = 0; b < calibration.bins.size(); ++b) {
    const ReliabilityBin& r = calibration.bins[b];
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zu,%.6g,%.6g,%lld,%.6g,%.6g\n", b, r.lo, r.hi, static_cast<long long>(r.count),
                  r.confidence, r.accuracy);
    out += buf;
  }
  return out;
}

std::string ClassificationReport::per_class_csv() const {
  std::string out = "class,support,predicted,tp,fp,fn,tn,precision,recall,f1,auroc\n";
  for (const auto& m : classes) {
    out += str_cat(csv_field(m.name), ",", m.support, ",", m.predicted, ",", m.tp, ",", m.fp, ",", m.fn, ",", m.tn,
                   ",", cell(m.precision), ",", cell(m.recall), ",", cell(m.f1), ",", cell(m.auroc), "\n");
  }
  out += str_cat("macro,", samples, ",,,,,,", cell(macro_precision), ",", cell(macro_recall), ",", cell(macro_f1), ",",
                 cell(macro_auroc), "\n");
  return out;
}

std::string ClassificationReport::confusion_csv() const {
  LAI_CHECK(!multi_label, "confusion_csv: a multi-label report has no confusion matrix");
  std::string out = "true\\predicted";
  for (const auto& m : classes) {
    out += ',';
    out += csv_field(m.name);
  }
  out += "\n";
  const int64_t c = num_classes();
  for (int64_t t = 0; t < c; ++t) {
    out += csv_field(classes[size_t(t)].name);
    for (int64_t p = 0; p < c; ++p) {
      out += ',';
      out += std::to_string(confusion[size_t(t * c + p)]);
    }
    out += "\n";
  }
  return out;
}

std::string ClassificationReport::summary() const {
  auto f = [](double v) {
    if (std::isnan(v)) return std::string("   n/a");
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%6.4f", v);
    return std::string(buf);
  };
  size_t width = 5;
  for (const auto& m : classes) width = std::max(width, std::min<size_t>(m.name.size(), 24));
  std::string out = str_cat("samples: ", samples, "\naccuracy: ", f(accuracy), "\n");
  if (multi_label) out += str_cat("exact match: ", f(exact_match), " (threshold ", threshold, ")\n");
  out += str_cat("macro precision ", f(macro_precision), "  recall ", f(macro_recall), "  f1 ", f(macro_f1),
                 "  auroc ", f(macro_auroc), " (", auroc_classes, " classes)\n");
  if (calibration.valid)
    out += str_cat("calibration: ECE ", f(calibration.ece), " (", calibration.bins.size(), " bins)  Brier ",
                   f(calibration.brier), "\n");
  auto pad = [&](std::string s) {
    if (s.size() > width) s = s.substr(0, width);
    return s + std::string(width - s.size(), ' ');
  };
  out += pad("class") + "  support  precision  recall      f1   auroc\n";
  for (const auto& m : classes) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "  %7lld     %s  %s  %s  %s", static_cast<long long>(m.support),
                  f(m.precision).c_str(), f(m.recall).c_str(), f(m.f1).c_str(), f(m.auroc).c_str());
    out += pad(m.name) + buf + "\n";
  }
  return out;
}

void ClassificationReport::write_json(const std::string& path) const { io::write_json_file(path, to_json(), 2); }

void ClassificationReport::write_csv(const std::string& path) const {
  const std::string text = per_class_csv();
  io::atomic_write_file(path, text.data(), text.size());
}

void ClassificationReport::write_confusion_csv(const std::string& path) const {
  const std::string text = confusion_csv();
  io::atomic_write_file(path, text.data(), text.size());
}

// ---- accumulator ----

MetricsAccumulator::MetricsAccumulator(int64_t num_classes, bool multi_label)
    : classes_(num_classes), multi_label_(multi_label) {
  LAI_CHECK(num_classes >= 1, "MetricsAccumulator: need at least one class (got ", num_classes, ")");
}

void MetricsAccumulator::add(const Tensor& scores, const std::vector<int64_t>& labels) {
  LAI_CHECK(!multi_label_, "MetricsAccumulator: multi-label metrics need a targets tensor, not class indices");
  int64_t n = 0, c = 0;
  const std::vector<float> s = rows_of(scores, n, c, "MetricsAccumulator::add", "scores");
  LAI_CHECK(c == classes_, "MetricsAccumulator::add: scores have ", c, " classes, expected ", classes_);
  LAI_CHECK(static_cast<int64_t>(labels.size()) == n, "MetricsAccumulator::add: ", n, " rows of scores but ",
            labels.size(), " labels");
  for (size_t i = 0; i < labels.size(); ++i)
    LAI_CHECK(labels[i] >= 0 && labels[i] < classes_, "MetricsAccumulator::add: label ", labels[i], " of row ", i,
              " outside [0, ", classes_, ")");
  scores_.insert(scores_.end(), s.begin(), s.end());
  labels_.insert(labels_.end(), labels.begin(), labels.end());
  samples_ += n;
}

void MetricsAccumulator::add(const Tensor& scores, const Tensor& targets) {
  LAI_CHECK(multi_label_, "MetricsAccumulator: single-label metrics take class indices, not a targets tensor");
  int64_t n = 0, c = 0, tn = 0, tc = 0;
  const std::vector<float> s = rows_of(scores, n, c, "MetricsAccumulator::add", "scores");
  const std::vector<float> t = rows_of(targets, tn, tc, "MetricsAccumulator::add", "targets");
  LAI_CHECK(c == classes_ && tc == classes_ && tn == n, "MetricsAccumulator::add: scores ", scores.describe(),
            " and targets ", targets.describe(), " must both be [N, ", classes_, "]");
  scores_.insert(scores_.end(), s.begin(), s.end());
  targets_.insert(targets_.end(), t.begin(), t.end());
  samples_ += n;
}

ClassificationReport MetricsAccumulator::report(const std::vector<std::string>& names, double threshold) const {
  if (multi_label_) return evaluate_multi_label(scores_.data(), samples_, classes_, targets_.data(), threshold, names);
  return evaluate_single_label(scores_.data(), samples_, classes_, labels_.data(), names);
}

void MetricsAccumulator::clear() {
  samples_ = 0;
  scores_.clear();
  labels_.clear();
  targets_.clear();
}

}  // namespace liteai::nn
