#pragma once
// Evaluation metrics for classifiers: accuracy, per-class precision / recall / F1, AUROC per class
// (exact, ties by average rank, one-vs-rest for multi-class), macro averages and the confusion
// matrix; written as JSON or CSV for plotting.
//
// Conventions (the same as scikit-learn's defaults):
// - scores are probabilities or any monotonic score ([N, C], row-major); single-label prediction
//   is the arg-max (first index on ties), multi-label prediction is score >= threshold;
// - precision is 0 when a class is never predicted, recall is 0 when it has no positives;
// - AUROC is undefined (NaN, written as null / an empty CSV cell) when a class has no positives
//   or no negatives; macro AUROC averages the classes where it is defined and says how many;
// - macro precision/recall/F1 average the classes that occur in the labels or the predictions.
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/core/tensor.hpp"
#include "liteai/io/json.hpp"

namespace liteai::nn {

struct ClassMetrics {
  std::string name;
  int64_t support = 0;    // samples whose label is this class (positives)
  int64_t predicted = 0;  // samples predicted as this class
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  double precision = 0, recall = 0, f1 = 0;
  double auroc = 0;  // NaN when undefined (see auroc_note)
  std::string auroc_note;  // "" or "no positives" / "no negatives"
};

// Calibration of probabilities (Guo et al. 2017): a reliability diagram over equal-width bins of
// confidence, the expected calibration error ECE = sum_b (n_b / N) |accuracy_b - confidence_b|
// and the Brier score. Single-label: the top class's probability against whether it is right,
// Brier = mean over samples of sum_c (p_c - y_c)^2. Multi-label: every (sample, finding) pair
// is a binary prediction, its probability against the finding being present; Brier = mean
// (p - y)^2. NaN (valid = false) when the scores are not probabilities.
struct ReliabilityBin {
  double lo = 0, hi = 0;     // confidence range [lo, hi)
  int64_t count = 0;
  double confidence = 0;     // mean predicted probability in the bin
  double accuracy = 0;       // fraction right (single-label) or positive (multi-label)
};
struct Calibration {
  bool valid = false;
  double ece = 0, brier = 0;
  std::vector<ReliabilityBin> bins;  // 15 by default
};
Calibration calibration_single_label(const float* probs, int64_t n, int64_t c, const int64_t* labels, int bins = 15);
Calibration calibration_multi_label(const float* probs, int64_t n, int64_t c, const float* targets, int bins = 15);

struct ClassificationReport {
  bool multi_label = false;
  double threshold = 0.5;  // multi-label decision threshold
  int64_t samples = 0;
  // Single-label: top-1 accuracy. Multi-label: fraction of correct (sample, label) decisions.
  double accuracy = 0;
  // Multi-label: fraction of samples with every label right (equals accuracy for single-label).
  double exact_match = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double macro_auroc = 0;     // NaN when no class has a defined AUROC
  int64_t auroc_classes = 0;  // classes averaged into macro_auroc
  std::vector<ClassMetrics> classes;
  // Single-label only: C x C counts, row = true class, column = predicted class.
  std::vector<int64_t> confusion;
  Calibration calibration;  // of the scores as probabilities

  int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }
  int64_t confusion_at(int64_t truth, int64_t predicted) const;

  io::Json to_json() const;
  std::string per_class_csv() const;   // class,support,predicted,tp,fp,fn,tn,precision,recall,f1,auroc + macro row
  std::string confusion_csv() const;   // header row of predicted names, one row per true class
  std::string summary() const;         // a readable table for the terminal
  std::string reliability_csv() const;  // bin,lo,hi,count,confidence,accuracy
  // Files are written atomically. write_csv writes the per-class table.
  void write_json(const std::string& path) const;
  void write_csv(const std::string& path) const;
  void write_confusion_csv(const std::string& path) const;
};

// scores: [N, C] row-major; labels: N class indices in [0, C). names: empty or C names.
ClassificationReport evaluate_single_label(const float* scores, int64_t n, int64_t c, const int64_t* labels,
                                           const std::vector<std::string>& names = {});
ClassificationReport evaluate_single_label(const Tensor& scores, const std::vector<int64_t>& labels,
                                           const std::vector<std::string>& names = {});
// targets: [N, C] multi-hot, each 0 or 1.
ClassificationReport evaluate_multi_label(const float* scores, int64_t n, int64_t c, const float* targets,
                                          double threshold = 0.5, const std::vector<std::string>& names = {});
ClassificationReport evaluate_multi_label(const Tensor& scores, const Tensor& targets, double threshold = 0.5,
                                          const std::vector<std::string>& names = {});

// Exact AUROC of one binary problem (Mann-Whitney U with average ranks for ties): the chance that
// a random positive scores above a random negative, ties counting one half. NaN when there are
// no positives or no negatives. `positive[i]` is 0 or non-zero.
double auroc(const float* scores, const uint8_t* positive, int64_t n);
double auroc(const std::vector<float>& scores, const std::vector<uint8_t>& positive);

// Collects batches during an evaluation loop, then reports once.
class MetricsAccumulator {
 public:
  MetricsAccumulator(int64_t num_classes, bool multi_label);
  // scores [B, C] (f32 or bf16, any strides); single-label: labels has B entries.
  void add(const Tensor& scores, const std::vector<int64_t>& labels);
  // Multi-label: targets [B, C] multi-hot.
  void add(const Tensor& scores, const Tensor& targets);
  int64_t samples() const { return samples_; }
  ClassificationReport report(const std::vector<std::string>& names = {}, double threshold = 0.5) const;
  void clear();

 private:
  int64_t classes_;
  bool multi_label_;
  int64_t samples_ = 0;
  std::vector<float> scores_;
  std::vector<int64_t> labels_;
  std::vector<float> targets_;
};

}  // namespace liteai::nn
