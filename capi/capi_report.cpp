// C API (since 0.2): evaluation reports (per-class precision, recall, F1, AUROC, confusion).
// lai_model_evaluate_report (in capi_model.cpp) and lai_eval_report_from_scores make them.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/nn/metrics.hpp"

using namespace liteai;
using namespace liteai::capi;

namespace {

const nn::ClassificationReport& report_of(const lai_eval_report* r, const char* fn) {
  require_ptr(r, fn, "report");
  return r->report;
}

const nn::ClassMetrics& class_of(const nn::ClassificationReport& r, int32_t index, const char* fn) {
  require(index >= 0 && index < r.num_classes(), fn, ": index ", index, " is outside 0..", r.num_classes() - 1);
  return r.classes[size_t(index)];
}

}  // namespace

extern "C" {

LAI_API lai_status lai_eval_report_from_scores(const float* scores, int64_t n, int32_t classes, const int32_t* labels,
                                               const float* targets, double threshold, lai_eval_report** out) {
  const char* fn = "lai_eval_report_from_scores";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(scores, fn, "scores");
    require(n > 0 && n <= (int64_t(1) << 32), fn, ": n must be positive, got ", n);
    require(classes >= 1 && classes <= 100000, fn, ": classes must be in 1..100000, got ", classes);
    require(n <= (int64_t(1) << 36) / classes, fn, ": n x classes is too large");
    require((labels != nullptr) != (targets != nullptr), fn,
            ": give labels (single-label) or targets (multi-label), exactly one of them");
    const size_t total = size_t(n) * size_t(classes);
    for (size_t i = 0; i < total; ++i) require(std::isfinite(scores[i]), fn, ": scores[", i, "] is not a finite number");
    std::vector<std::string> names;  // as a new model's default names
    for (int32_t k = 0; k < classes; ++k) names.push_back(str_cat("class", k));
    auto rep = std::make_unique<lai_eval_report>();
    if (labels) {
      std::vector<int64_t> l(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        require(labels[i] >= 0 && labels[i] < classes, fn, ": labels[", i, "] = ", labels[i], " is outside 0..",
                classes - 1);
        l[size_t(i)] = labels[i];
      }
      rep->report = nn::evaluate_single_label(scores, n, classes, l.data(), names);
    } else {
      require(std::isfinite(threshold) && threshold > 0 && threshold < 1, fn, ": threshold must be in (0, 1), got ",
              threshold);
      for (size_t i = 0; i < total; ++i)
        require(targets[i] == 0.f || targets[i] == 1.f, fn, ": targets[", i, "] must be 0 or 1");
      rep->report = nn::evaluate_multi_label(scores, n, classes, targets, threshold, names);
    }
    *out = rep.release();
  });
}

LAI_API void lai_eval_summary_init(lai_eval_summary* s) {
  if (!s) return;
  std::memset(s, 0, sizeof *s);
  s->struct_size = sizeof *s;
}

LAI_API lai_status lai_eval_report_get_summary(const lai_eval_report* report, lai_eval_summary* summary) {
  const char* fn = "lai_eval_report_get_summary";
  return guarded(fn, [&] {
    const nn::ClassificationReport& r = report_of(report, fn);
    require_ptr(summary, fn, "summary");
    lai_eval_summary s;
    lai_eval_summary_init(&s);
    s.classes = int32_t(r.num_classes());
    s.multi_label = r.multi_label ? 1 : 0;
    s.samples = r.samples;
    s.threshold = r.threshold;
    s.accuracy = r.accuracy;
    s.exact_match = r.exact_match;
    s.macro_precision = r.macro_precision;
    s.macro_recall = r.macro_recall;
    s.macro_f1 = r.macro_f1;
    s.macro_auroc = r.macro_auroc;
    s.auroc_classes = int32_t(r.auroc_classes);
    write_result(summary, s, fn, "summary");
  });
}

LAI_API void lai_class_metrics_init(lai_class_metrics* m) {
  if (!m) return;
  std::memset(m, 0, sizeof *m);
  m->struct_size = sizeof *m;
}

LAI_API lai_status lai_eval_report_get_class(const lai_eval_report* report, int32_t index, lai_class_metrics* metrics) {
  const char* fn = "lai_eval_report_get_class";
  return guarded(fn, [&] {
    const nn::ClassificationReport& r = report_of(report, fn);
    require_ptr(metrics, fn, "metrics");
    const nn::ClassMetrics& c = class_of(r, index, fn);
    lai_class_metrics m;
    lai_class_metrics_init(&m);
    m.support = c.support;
    m.predicted = c.predicted;
    m.tp = c.tp;
    m.fp = c.fp;
    m.fn = c.fn;
    m.tn = c.tn;
    m.precision = c.precision;
    m.recall = c.recall;
    m.f1 = c.f1;
    m.auroc = c.auroc;
    write_result(metrics, m, fn, "metrics");
  });
}

LAI_API lai_status lai_eval_report_class_name(const lai_eval_report* report, int32_t index, char* buf, size_t size,
                                              size_t* needed) {
  const char* fn = "lai_eval_report_class_name";
  return guarded(fn, [&] {
    const nn::ClassificationReport& r = report_of(report, fn);
    copy_text(fn, class_of(r, index, fn).name, buf, size, needed);
  });
}

LAI_API lai_status lai_eval_report_confusion(const lai_eval_report* report, int64_t* out, size_t out_count) {
  const char* fn = "lai_eval_report_confusion";
  return guarded(fn, [&] {
    const nn::ClassificationReport& r = report_of(report, fn);
    if (r.multi_label) fail(LAI_ERR_NOT_SUPPORTED, fn, ": a multi-label report has no confusion matrix");
    require_ptr(out, fn, "out");
    const size_t need = size_t(r.num_classes()) * size_t(r.num_classes());
    require(out_count >= need, fn, ": out has room for ", out_count, " values, ", need, " needed (", r.num_classes(),
            " x ", r.num_classes(), ")");
    LAI_CHECK(r.confusion.size() == need, fn, ": the report's confusion matrix has ", r.confusion.size(), " entries");
    std::memcpy(out, r.confusion.data(), need * sizeof(int64_t));
  });
}

LAI_API lai_status lai_eval_report_json(const lai_eval_report* report, char* buf, size_t size, size_t* needed) {
  const char* fn = "lai_eval_report_json";
  return guarded(fn, [&] {
    const nn::ClassificationReport& r = report_of(report, fn);
    copy_text(fn, r.to_json().dump(), buf, size, needed);
  });
}

LAI_API void lai_eval_report_free(lai_eval_report* report) { delete report; }

}  // extern "C"
