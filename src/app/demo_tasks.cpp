#include "liteai/app/demo_tasks.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/app/data_source.hpp"
#include "liteai/app/explain_tasks.hpp"
#include "liteai/app/federated_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/repack_tasks.hpp"
#include "liteai/app/report.hpp"
#include "liteai/core/log.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/distill/teacher.hpp"
#include "liteai/io/file.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/evaluate.hpp"
#include "liteai/core/version.hpp"

namespace liteai::app {

const OptionSet& demo_options() {
  static const OptionSet s = [] {
    OptionSet o("demo", "The main job end to end on SYNTHETIC chest-radiograph phantoms (rendered here, no patient "
                        "data): train compact_cxr, evaluate it (per-class metrics, ROC, confusion, calibration), "
                        "label-free anomaly maps (ProbMat -> WPM -> regions, Hough circles, SOM U-matrix, senafas), "
                        "distillation into a smaller student within a memory budget, three federated sites merged, "
                        "save / reload. Writes DIR/index.html (a self-contained report), DIR/metrics.json and CSVs.");
    o.group("demo")
        .path("out", "the report's folder (index.html, metrics.json, CSV, PNG, models)", "DIR")
        .flag("quick", "a tiny run in seconds (tests): smaller images, fewer images and epochs; figures meaningless")
        .integer("size", std::nullopt, 16, 512, "phantom size S x S (multiple of 8; default 64, --quick 32)")
        .integer("train", std::nullopt, 8, 1000000, "training phantoms (default 3000, --quick 60)")
        .integer("test", std::nullopt, 4, 1000000, "held-out test phantoms (default 500, --quick 20)")
        .integer("epochs", std::nullopt, 1, 1000, "training epochs of the main model (default 10, --quick 1)")
        .integer("batch", 32, 1, 4096, "images per step")
        .number("lr", 2e-3, 1e-6, 1, "Adam learning rate of the main model")
        .list("classes", "phantom classes to learn (default normal,foreign_body,opacity,effusion; also nodule)")
        .choice("model", "compact_cxr", {"compact_cxr", "compact_cxr_gap", "small_cnn"}, "the main model")
        .bytes("memory-budget", int64_t(256) << 20, int64_t(16) << 20, int64_t(1) << 40,
               "the student's training budget (the memory planner picks micro-batches, checkpointing, state)")
        .integer("seed", 1, 0, std::numeric_limits<int64_t>::max(), "phantoms, weights and shuffling");
    o.include(common_options());
    return o;
  }();
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Phantoms of a subset of the classes, labelled 0..k-1 in the subset's order.
class DemoPhantoms : public data::Dataset {
 public:
  DemoPhantoms(size_t n, uint64_t seed, int size, std::vector<int> classes)
      : classes_(std::move(classes)) {
    opt_.size = size;
    opt_.classes = classes_;
    ds_ = std::make_unique<data::PhantomDataset>(n, seed, opt_);
    for (int c : classes_) names_.push_back(data::phantom_class_names()[size_t(c)]);
  }
  size_t size() const override { return ds_->size(); }
  data::Sample get(size_t i) const override {
    data::Sample s = ds_->get(i);
    s.labels = {index_of(s.labels.at(0))};
    return s;
  }
  std::string path(size_t i) const override { return ds_->path(i); }
  std::vector<int> labels(size_t i) const override { return {index_of(ds_->labels(i).at(0))}; }
  const std::vector<std::string>& class_names() const override { return names_; }

 private:
  int index_of(int label) const {
    return int(std::find(classes_.begin(), classes_.end(), label) - classes_.begin());
  }
  std::vector<int> classes_;
  data::PhantomOptions opt_;
  std::unique_ptr<data::PhantomDataset> ds_;
  std::vector<std::string> names_;
};

struct Settings {
  std::string out;
  bool quick = false;
  int size = 64;
  int64_t n_train = 0, n_test = 0, n_val = 0, epochs = 0, batch = 32;
  double lr = 2e-3;
  std::string model = "compact_cxr";
  int64_t budget = 0;
  uint64_t seed = 1;
  int progress = -1;
  // Nodules are left out by default: at 64 px one is a faint blob of ~3 pixels (see README).
  std::vector<int> classes = {0, 1, 3, 4};
};

// Everything the stages share.
struct Ctx {
  Settings s;
  const Hooks* hooks = nullptr;
  io::Json metrics = io::Json::object();
  HtmlReport report{"liteai demo — SYNTHETIC chest-radiograph phantoms"};
  std::shared_ptr<const data::Dataset> train, val, test;
  std::shared_ptr<nn::Model> model;
  std::vector<float> test_scores;  // [n_test, C] probabilities of the main model
  std::vector<int64_t> test_labels;
  std::string file(const std::string& name) const { return s.out + "/" + name; }
  void say(const std::string& text) const {
    if (s.progress != 0) std::fprintf(stderr, "[demo] %s\n", text.c_str());
  }
};

void write_text(const std::string& path, const std::string& text) { io::atomic_write_file(path, text.data(), text.size()); }

std::string synthetic_header() { return "# SYNTHETIC phantoms (liteai demo): not clinical data\n"; }

// Scores of a model on a data set: probabilities [n, C] and labels.
void score(nn::Model& m, const std::shared_ptr<const data::Dataset>& ds, int64_t batch, std::vector<float>& scores,
           std::vector<int64_t>& labels) {
  optim::LoaderSource src(ds, optim::loader_options_for(m, int(batch), 0, false));
  scores.clear();
  labels.clear();
  m.net->train(false);
  src.reset(0);
  while (auto b = src.next()) {
    Tensor p = m.predict(b->images).contiguous();
    scores.insert(scores.end(), p.data(), p.data() + p.numel());
    for (float l : b->labels.to_vector()) labels.push_back(int64_t(l));
  }
}

nn::ClassificationReport report_of(const nn::Model& m, const std::vector<float>& scores,
                                   const std::vector<int64_t>& labels) {
  return nn::evaluate_single_label(scores.data(), int64_t(labels.size()), m.num_classes(), labels.data(),
                                   m.class_names);
}

int64_t parameter_count(const nn::Model& m) {
  int64_t n = 0;
  for (const auto& [name, t] : m.net->named_parameters()) n += t.numel();
  return n;
}

uint32_t palette(size_t i) {
  static const uint32_t c[] = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0x8c564b, 0x17becf};
  return c[i % (sizeof c / sizeof c[0])];
}

// ROC curve of one-vs-rest scores: (fpr, tpr) from the highest threshold down.
void roc_curve(const std::vector<float>& scores, int64_t c, int64_t k, const std::vector<int64_t>& labels,
               std::vector<double>& fpr, std::vector<double>& tpr, std::vector<double>& thr) {
  const size_t n = labels.size();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a * c + k] > scores[b * c + k]; });
  double pos = 0, neg = 0;
  for (int64_t l : labels) (l == k ? pos : neg) += 1;
  fpr = {0};
  tpr = {0};
  thr = {1};
  double tp = 0, fp = 0;
  for (size_t i = 0; i < n; ++i) {
    (labels[idx[i]] == k ? tp : fp) += 1;
    const bool last_of_tie = i + 1 == n || scores[idx[i + 1] * c + k] != scores[idx[i] * c + k];
    if (!last_of_tie) continue;
    fpr.push_back(neg > 0 ? fp / neg : 0);
    tpr.push_back(pos > 0 ? tp / pos : 0);
    thr.push_back(scores[idx[i] * c + k]);
  }
}

// The gray image as RGB with circles drawn in red.
void write_circles_png(const std::string& path, const data::Image& img, const std::vector<anomaly::Circle>& circles) {
  const int w = img.width, h = img.height;
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  float lo = 1e30f, hi = -1e30f;
  for (float v : img.pixels) lo = std::min(lo, v), hi = std::max(hi, v);
  const float scale = hi > lo ? 255.f / (hi - lo) : 0.f;
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    const uint8_t g = uint8_t(std::clamp((img.pixels[i] - lo) * scale, 0.f, 255.f));
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g;
  }
  for (const auto& c : circles) {
    const int steps = std::max(32, int(c.radius * 8));
    for (int s = 0; s < steps; ++s) {
      const double a = 2 * M_PI * s / steps;
      const int x = int(std::lround(c.x + c.radius * std::cos(a))), y = int(std::lround(c.y + c.radius * std::sin(a)));
      if (x < 0 || y < 0 || x >= w || y >= h) continue;
      uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
      p[0] = 255, p[1] = 32, p[2] = 32;
    }
  }
  data::write_png(path, rgb.data(), w, h, 3);
}

// Trains `model` on `train` with the demo's trainer settings; returns the result.
optim::TrainResult fit(Ctx& x, const std::shared_ptr<nn::Model>& model, optim::BatchSource& src,
                       optim::BatchSource* val, int64_t epochs, double lr, const std::string& csv,
                       int64_t budget = 0, optim::LossFn loss = {}, std::string* plan = nullptr,
                       int64_t* plan_peak = nullptr) {
  optim::TrainOptions to;
  to.epochs = epochs;
  to.optimizer = optim::OptimizerKind::adam;
  to.optim.lr = float(lr);
  to.schedule.kind = optim::ScheduleKind::cosine;
  to.schedule.total_steps = epochs * src.batches_per_epoch();
  to.progress = x.s.progress;
  to.metrics_csv = csv;
  to.max_memory = budget;
  to.loss = std::move(loss);
  if (x.hooks) to.callback = x.hooks->progress;
  optim::Trainer trainer(model, to);
  model->net->train(true);
  optim::TrainResult r = trainer.fit(src, val);
  if (plan) *plan = trainer.memory_plan();
  if (plan_peak) *plan_peak = trainer.plan() ? trainer.plan()->peak() : 0;
  if (r.cancelled) throw Error(ErrorKind::cancelled, "demo: cancelled by the progress callback");
  return r;
}

std::shared_ptr<nn::Model> make_model(const Ctx& x, const std::string& name, uint64_t seed, int size = 0) {
  nn::ArchSpec arch;
  arch.name = name;
  arch.set("size", size > 0 ? size : x.s.size).set("classes", double(x.s.classes.size()));
  if (name != "small_cnn") arch.set("l2", 1e-4);
  auto m = nn::build_model(arch, seed);
  m->class_names = x.train->class_names();
  return m;
}

// ------------------------------------------------------------------ stages

void stage_train(Ctx& x) {
  const Settings& s = x.s;
  x.model = make_model(x, s.model, s.seed);
  x.say(str_cat("training ", s.model, " (", parameter_count(*x.model), " parameters) on ", s.n_train, " phantoms of ",
                s.size, "x", s.size, ", ", s.epochs, " epochs"));
  optim::LoaderSource src(x.train, optim::loader_options_for(*x.model, int(s.batch), s.seed));
  optim::LoaderSource val(x.val, optim::loader_options_for(*x.model, 64, s.seed, false));
  const optim::TrainResult r = fit(x, x.model, src, &val, s.epochs, s.lr, x.file("train_metrics.csv"));
  io::Json j = io::Json::object();
  j.set("model", s.model);
  j.set("parameters", parameter_count(*x.model));
  j.set("train_samples", s.n_train);
  j.set("validation_samples", s.n_val);
  j.set("epochs", s.epochs);
  j.set("batch", s.batch);
  j.set("lr", s.lr);
  j.set("seconds", r.seconds);
  j.set("images_per_second", r.images_per_second);
  io::Json h = io::Json::array();
  data::Chart loss, acc;
  loss.title = "loss (SYNTHETIC phantoms)";
  loss.x_label = acc.x_label = "epoch";
  loss.y_label = "cross entropy";
  acc.title = "accuracy (SYNTHETIC phantoms)";
  acc.y_label = "accuracy";
  data::Series tl, vl, ta, va;
  tl.name = ta.name = "train";
  vl.name = va.name = "validation";
  vl.color = va.color = 0xd62728;
  double max_loss = 0;
  for (const auto& e : r.history) {
    io::Json row = io::Json::object();
    row.set("epoch", e.epoch);
    row.set("loss", e.loss);
    row.set("accuracy", e.metric);
    row.set("val_loss", e.val_loss);
    row.set("val_accuracy", e.val_metric);
    row.set("seconds", e.seconds);
    h.push_back(std::move(row));
    tl.x.push_back(double(e.epoch)), tl.y.push_back(e.loss);
    vl.x.push_back(double(e.epoch)), vl.y.push_back(e.val_loss);
    ta.x.push_back(double(e.epoch)), ta.y.push_back(e.metric);
    va.x.push_back(double(e.epoch)), va.y.push_back(e.val_metric);
    max_loss = std::max({max_loss, e.loss, e.val_loss});
  }
  j.set("history", std::move(h));
  if (!r.history.empty()) {
    j.set("final_train_accuracy", r.history.back().metric);
    j.set("final_validation_accuracy", r.history.back().val_metric);
  }
  x.metrics.set("train", std::move(j));
  for (data::Chart* c : {&loss, &acc}) {
    c->x_min = 1;
    c->x_max = std::max<double>(2, double(s.epochs));
  }
  loss.y_max = std::max(0.1, max_loss * 1.05);
  loss.series = {tl, vl};
  acc.series = {ta, va};
  for (auto* se : {&loss.series[0], &loss.series[1], &acc.series[0], &acc.series[1]})
    if (se->x.size() < 2) se->style = data::Series::Style::points;
  loss.write_png(x.file("loss.png"));
  acc.write_png(x.file("accuracy.png"));

  x.report.paragraph(str_cat(s.model, ", ", parameter_count(*x.model), " parameters, trained with Adam (lr ", s.lr,
                             ", cosine schedule) on ", s.n_train, " phantoms of ", s.size, "x", s.size, " rendered on the "
                             "fly by the data loader (no files); validation on ", s.n_val, " other phantoms."));
  x.report.figure("training images/s", "train.images_per_second", r.images_per_second, 1);
  x.report.figure("training seconds", "train.seconds", r.seconds, 1);
  if (!r.history.empty()) x.report.figure("final validation accuracy", "train.final_validation_accuracy",
                                          r.history.back().val_metric);
  x.report.chart(loss);
  x.report.chart(acc);
}

void stage_evaluate(Ctx& x) {
  score(*x.model, x.test, 64, x.test_scores, x.test_labels);
  const nn::ClassificationReport rep = report_of(*x.model, x.test_scores, x.test_labels);
  rep.write_json(x.file("eval.json"));
  rep.write_csv(x.file("per_class.csv"));
  rep.write_confusion_csv(x.file("confusion.csv"));
  write_text(x.file("reliability.csv"), rep.reliability_csv());
  const int64_t C = rep.num_classes();
  io::Json j = io::Json::object();
  j.set("samples", rep.samples);
  j.set("accuracy", rep.accuracy);
  j.set("macro_auroc", rep.macro_auroc);
  j.set("macro_f1", rep.macro_f1);
  j.set("ece", rep.calibration.ece);
  j.set("brier", rep.calibration.brier);
  io::Json classes = io::Json::array();
  std::string roc_csv = synthetic_header() + "class,threshold,fpr,tpr\n";
  data::Chart roc;
  roc.title = "ROC, one vs rest (SYNTHETIC)";
  roc.x_label = "false positive rate";
  roc.y_label = "true positive rate";
  for (int64_t k = 0; k < C; ++k) {
    const nn::ClassMetrics& m = rep.classes[size_t(k)];
    io::Json c = io::Json::object();
    c.set("name", m.name);
    c.set("support", m.support);
    c.set("precision", m.precision);
    c.set("recall", m.recall);
    c.set("f1", m.f1);
    c.set("auroc", std::isfinite(m.auroc) ? io::Json(m.auroc) : io::Json());
    classes.push_back(std::move(c));
    std::vector<double> fpr, tpr, thr;
    roc_curve(x.test_scores, C, k, x.test_labels, fpr, tpr, thr);
    for (size_t i = 0; i < fpr.size(); ++i) roc_csv += str_cat(m.name, ",", thr[i], ",", fpr[i], ",", tpr[i], "\n");
    data::Series se;
    se.name = str_cat(m.name, " (", format_figure(m.auroc, 3), ")");
    se.x = fpr;
    se.y = tpr;
    se.color = palette(size_t(k));
    roc.series.push_back(std::move(se));
  }
  data::Series diag;
  diag.x = diag.y = {0, 1};
  diag.style = data::Series::Style::dashed;
  diag.color = 0x999999;
  roc.series.push_back(diag);
  j.set("classes", std::move(classes));
  io::Json conf = io::Json::array();
  for (int64_t t = 0; t < C; ++t) {
    io::Json row = io::Json::array();
    for (int64_t p = 0; p < C; ++p) row.push_back(rep.confusion_at(t, p));
    conf.push_back(std::move(row));
  }
  j.set("confusion", std::move(conf));
  write_text(x.file("roc.csv"), roc_csv);
  roc.write_png(x.file("roc.png"));
  const data::Chart rel = reliability_chart(rep);
  rel.write_png(x.file("reliability.png"));
  x.metrics.set("evaluation", std::move(j));
  x.say(str_cat("held-out accuracy ", format_figure(rep.accuracy), ", macro AUROC ", format_figure(rep.macro_auroc),
                ", ECE ", format_figure(rep.calibration.ece)));

  x.report.paragraph(str_cat(rep.samples, " held-out phantoms (another seed than training and validation, drawn from "
                             "the same distribution)."));
  x.report.figure("accuracy", "evaluation.accuracy", rep.accuracy);
  x.report.figure("macro AUROC", "evaluation.macro_auroc", rep.macro_auroc);
  x.report.figure("macro F1", "evaluation.macro_f1", rep.macro_f1);
  x.report.figure("ECE (15 bins)", "evaluation.ece", rep.calibration.ece);
  x.report.figure("Brier score", "evaluation.brier", rep.calibration.brier);
  std::vector<std::vector<HtmlReport::Cell>> rows;
  for (int64_t k = 0; k < C; ++k) {
    const nn::ClassMetrics& m = rep.classes[size_t(k)];
    const std::string key = str_cat("evaluation.classes.", k, ".");
    HtmlReport::Cell sup{std::to_string(m.support), key + "support", 0};
    rows.push_back({{m.name}, sup, HtmlReport::Cell::of(m.precision, key + "precision"),
                    HtmlReport::Cell::of(m.recall, key + "recall"), HtmlReport::Cell::of(m.f1, key + "f1"),
                    HtmlReport::Cell::of(m.auroc, std::isfinite(m.auroc) ? key + "auroc" : "")});
  }
  x.report.table({"class", "support", "precision", "recall", "F1", "AUROC"}, rows, "per-class metrics");
  std::vector<std::string> head = {"truth \\ predicted"};
  for (const auto& m : rep.classes) head.push_back(m.name);
  rows.clear();
  for (int64_t t = 0; t < C; ++t) {
    std::vector<HtmlReport::Cell> row = {{rep.classes[size_t(t)].name}};
    const double support = std::max<double>(1, double(rep.classes[size_t(t)].support));
    for (int64_t p = 0; p < C; ++p) {
      const int64_t n = rep.confusion_at(t, p);
      HtmlReport::Cell c{std::to_string(n), str_cat("evaluation.confusion.", t, ".", p), 0};
      const int shade = int(255 - 155 * (double(n) / support));
      char col[48];
      std::snprintf(col, sizeof col, "background:rgb(%d,%d,255)", shade, shade);
      c.style = col;
      row.push_back(c);
    }
    rows.push_back(std::move(row));
  }
  x.report.table(head, rows, "confusion matrix (rows: truth)");
  x.report.chart(roc);
  x.report.chart(rel);
}

bool has_task(const std::string& name) {
  const std::vector<std::string> t = task_names();
  return std::find(t.begin(), t.end(), name) != t.end();
}

void stage_explain_missing(Ctx& x) {
  x.report.paragraph(has_task("explain")
                         ? "This build has the explain task (`liteai explain`), but the demo does not run it yet."
                         : "Grad-CAM heatmaps (image | heatmap | overlay) come with the clinical-trust explanations "
                           "(`liteai explain`), which this build does not have. Nothing is shown rather than "
                           "something made up.");
}

// Grad-CAM (app::explain_image) of the first test phantom of each finding class: image | heatmap |
// overlay, and whether the map's peak falls on the finding (the pointing game).
void stage_explain(Ctx& x) {
  const Settings& s = x.s;
  Options eo(explain_options());
  data::PhantomOptions po;
  po.size = s.size;
  po.classes = s.classes;
  io::Json examples = io::Json::array();
  std::vector<std::pair<std::string, std::string>> pictures;
  int hits = 0, shown = 0;
  x.model->net->train(false);
  for (size_t k = 1; k < s.classes.size(); ++k) {
    for (size_t i = 0; i < size_t(s.n_test); ++i) {
      if (data::phantom_label(i, po) != s.classes[k]) continue;
      const data::Phantom ph = data::make_phantom(s.seed + 1000, i, po);  // the test set's phantom i
      const Explanation e = explain_image(*x.model, ph.image, eo);
      int bx = 0, by = 0;
      float best = -1;
      for (int yy = 0; yy < e.map.height; ++yy)
        for (int xx = 0; xx < e.map.width; ++xx)
          if (e.map.at(xx, yy) > best) best = e.map.at(xx, yy), bx = xx, by = yy;
      // A hit: the peak inside a finding's bounding box widened by one cell of the explained layer
      // (conv3 runs at S/4: 4 px at 64 px), the map's own resolution.
      const int tol = std::max(1, s.size / 16);
      bool hit = false;
      for (const auto& f : ph.findings)
        hit = hit || (bx >= f.x0 - tol && bx < f.x1 + tol && by >= f.y0 - tol && by < f.y1 + tol);
      hits += hit;
      ++shown;
      const std::string truth = data::phantom_class_names()[size_t(s.classes[k])];
      const std::string stem = str_cat("explain_", truth);
      anomaly::write_gray_png(x.file(stem + ".png"), ph.image, 0.f, 255.f);
      anomaly::write_heatmap_png(x.file(stem + "_heatmap.png"), e.map, 0.f, 1.f);
      anomaly::write_overlay_png(x.file(stem + "_overlay.png"), ph.image, e.map, 0.5f);
      io::Json j = io::Json::object();
      j.set("test_index", int64_t(i));
      j.set("truth", truth);
      j.set("explained_class", e.class_name);
      j.set("probability", double(e.cam.probability));
      j.set("layer", e.cam.layer);
      j.set("peak_on_finding", hit);
      examples.push_back(std::move(j));
      pictures.push_back({stem + ".png", str_cat("test phantom ", i, ": ", truth, " (SYNTHETIC)")});
      pictures.push_back({stem + "_heatmap.png", str_cat("Grad-CAM of '", e.class_name, "' (p ",
                                                         format_figure(e.cam.probability, 3), ")")});
      pictures.push_back({stem + "_overlay.png", hit ? "overlay: the peak is on the finding" :
                                                       "overlay: the peak is off the finding"});
      break;
    }
  }
  io::Json j = io::Json::object();
  j.set("examples", std::move(examples));
  j.set("pointing_hits", hits);
  j.set("pointing_total", shown);
  x.metrics.set("explain", std::move(j));
  x.say(str_cat("Grad-CAM of ", shown, " test phantoms: the peak on the finding in ", hits));
  x.report.paragraph("Grad-CAM (liteai explain) of the model of section 1 on the first test phantom of each finding "
                     "class, for its top predicted class: image | heatmap | overlay (map above 0.5). A peak counts "
                     "as on the finding inside its bounding box widened by one cell of the explained layer.");
  x.report.figure("peaks on the finding", "explain.pointing_hits", hits, 0);
  x.report.figure("examples", "explain.pointing_total", shown, 0);
  for (size_t i = 0; i < pictures.size(); i += 3)
    x.report.images({pictures[i], pictures[i + 1], pictures[i + 2]}, 192);
}

void stage_anomaly(Ctx& x) {
  const Settings& s = x.s;
  anomaly::ProbMatConfig pc;
  pc.width = pc.height = s.size;
  pc.bins = 64;
  pc.count_bits = 16;
  anomaly::ProbMat pm(pc);
  data::PhantomOptions normal_only, fb_only;
  normal_only.size = fb_only.size = s.size;
  normal_only.classes = {0};
  fb_only.classes = {1};
  const int n_normal = s.quick ? 40 : 300, n_eval = s.quick ? 12 : 60, n_som = s.quick ? 12 : 60;
  const uint64_t seed = s.seed;
  for (int i = 0; i < n_normal; ++i) pm.add(data::make_phantom(seed + 7, uint64_t(i), normal_only).image);
  const anomaly::ProbTable table = pm.finalize();
  x.say(str_cat("ProbMat of ", n_normal, " normal phantoms: ", pc.describe()));
  // senafas: a SOM of the WPM patch profiles of normals (not those of the evaluation).
  std::vector<data::Image> som_maps;
  for (int i = 0; i < n_som; ++i)
    som_maps.push_back(anomaly::wpm(table, data::make_phantom(seed + 10, uint64_t(i), normal_only).image));
  anomaly::SenafasOptions so;
  so.patch = std::max(4, s.size / 16);
  anomaly::Senafas sen;
  sen.fit(som_maps, so);
  std::vector<double> wpm_scores, sen_scores;
  std::vector<int> img_labels;
  std::vector<data::Image> fb_maps, fb_masks;
  for (int i = 0; i < n_eval; ++i) {
    const auto normal = data::make_phantom(seed + 8, uint64_t(i), normal_only);
    const auto fb = data::make_phantom(seed + 9, uint64_t(i), fb_only);
    const data::Image mn = anomaly::wpm(table, normal.image), mf = anomaly::wpm(table, fb.image);
    wpm_scores.push_back(anomaly::image_score(mn));
    wpm_scores.push_back(anomaly::image_score(mf));
    sen_scores.push_back(anomaly::Senafas::image_score(sen.channel(mn)));
    sen_scores.push_back(anomaly::Senafas::image_score(sen.channel(mf)));
    img_labels.push_back(0);
    img_labels.push_back(1);
    fb_maps.push_back(mf);
    fb_masks.push_back(fb.mask);
  }
  const double wpm_auroc = anomaly::auroc(wpm_scores, img_labels), pix_auroc = anomaly::pixel_auroc(fb_maps, fb_masks);
  const double sen_auroc = anomaly::auroc(sen_scores, img_labels);
  {
    std::string csv = synthetic_header() + "image,label,wpm_score,senafas_score\n";
    for (size_t i = 0; i < img_labels.size(); ++i)
      csv += str_cat(i, ",", img_labels[i] ? "foreign_body" : "normal", ",", wpm_scores[i], ",", sen_scores[i], "\n");
    write_text(x.file("anomaly_scores.csv"), csv);
  }
  const auto example = data::make_phantom(seed + 9, 0, fb_only);
  const anomaly::WpmOptions raw;  // unsmoothed: a small electrode keeps its peak
  const data::Image map = anomaly::wpm(table, example.image, raw);
  std::vector<data::Image> normal_maps;
  for (int i = 0; i < 20; ++i)
    normal_maps.push_back(anomaly::wpm(table, data::make_phantom(seed + 8, uint64_t(i), normal_only).image, raw));
  const double fpr = 1e-3;
  const double thr = anomaly::pixel_threshold_for_fpr(normal_maps, fpr);
  const auto regions = anomaly::find_regions(map, float(thr), 4);
  // Circles on the WPM (as `liteai probmat score --score circles` finds them): a dense disc is a
  // ring of improbable pixels whatever the anatomy around it.
  anomaly::HoughOptions ho;
  ho.min_radius = float(std::max(1.0, 0.014 * s.size));
  ho.max_radius = float(std::max(double(ho.min_radius) + 1, 0.05 * s.size));
  ho.min_votes = 5;
  ho.min_support = 0.3f;
  ho.max_circles = 3;
  const auto circles = anomaly::hough_circles(map, ho);
  anomaly::write_gray_png(x.file("example.png"), example.image, 0.f, 255.f);
  anomaly::write_heatmap_png(x.file("example_wpm.png"), map);
  anomaly::write_overlay_png(x.file("example_overlay.png"), example.image, map, float(thr));
  write_circles_png(x.file("example_circles.png"), example.image, circles);
  const data::Image channel = sen.channel(anomaly::wpm(table, example.image));
  data::Image shown(s.size, s.size);  // the patch grid at the image's size (nearest neighbour)
  for (int yy = 0; yy < s.size; ++yy)
    for (int xx = 0; xx < s.size; ++xx)
      shown.at(xx, yy) = channel.at(std::min(channel.width - 1, xx * channel.width / s.size),
                                    std::min(channel.height - 1, yy * channel.height / s.size));
  anomaly::write_heatmap_png(x.file("example_senafas.png"), shown);
  sen.som().write_umatrix_png(x.file("umatrix.png"), 24);

  io::Json j = io::Json::object();
  j.set("probmat_normals", n_normal);
  j.set("probmat", pc.describe());
  j.set("eval_images_per_kind", n_eval);
  j.set("wpm_image_auroc", wpm_auroc);
  j.set("wpm_pixel_auroc", pix_auroc);
  j.set("senafas_image_auroc", sen_auroc);
  j.set("pixel_threshold", thr);
  j.set("pixel_fpr", fpr);
  j.set("som_rows", sen.som().config().rows);
  j.set("som_cols", sen.som().config().cols);
  io::Json truth = io::Json::array(), regs = io::Json::array(), circ = io::Json::array();
  for (const auto& f : example.findings) {
    io::Json t = io::Json::object();
    t.set("kind", f.kind), t.set("cx", f.cx), t.set("cy", f.cy), t.set("r", f.r);
    truth.push_back(std::move(t));
  }
  for (size_t i = 0; i < std::min<size_t>(regions.size(), 5); ++i) {
    io::Json r = io::Json::object();
    r.set("cx", regions[i].cx), r.set("cy", regions[i].cy), r.set("area", regions[i].area), r.set("peak", regions[i].peak);
    regs.push_back(std::move(r));
  }
  for (const auto& c : circles) {
    io::Json r = io::Json::object();
    r.set("x", c.x), r.set("y", c.y), r.set("radius", c.radius), r.set("votes", c.votes);
    circ.push_back(std::move(r));
  }
  j.set("example_truth", std::move(truth));
  j.set("example_regions", std::move(regs));
  j.set("example_circles", std::move(circ));
  x.metrics.set("anomaly", std::move(j));
  x.say(str_cat("WPM image AUROC ", format_figure(wpm_auroc, 3), ", pixel AUROC ", format_figure(pix_auroc, 3),
                ", senafas image AUROC ", format_figure(sen_auroc, 3)));

  x.report.paragraph(str_cat("No labels: a ProbMat (per-pixel intensity histograms) of ", n_normal,
                             " normal phantoms; the WPM of an image is how improbable each pixel is under it. "
                             "Foreign body vs normal on ", n_eval, " + ", n_eval, " other phantoms."));
  x.report.figure("WPM image AUROC", "anomaly.wpm_image_auroc", wpm_auroc, 3);
  x.report.figure("WPM pixel AUROC", "anomaly.wpm_pixel_auroc", pix_auroc, 3);
  x.report.figure("senafas image AUROC", "anomaly.senafas_image_auroc", sen_auroc, 3);
  x.report.images({{"example.png", "a foreign-body phantom (SYNTHETIC)"},
                   {"example_wpm.png", "its WPM (improbability per pixel)"},
                   {"example_overlay.png", str_cat("WPM above the ", fpr, " pixel-FPR threshold")},
                   {"example_circles.png", str_cat(circles.size(), " Hough circle(s) of the WPM, red")},
                   {"example_senafas.png", "senafas channel (SOM quantization error z-scores)"},
                   {"umatrix.png", str_cat("U-matrix of the senafas SOM (", sen.som().config().rows, "x",
                                           sen.som().config().cols, ")")}},
                  200);
  std::vector<std::vector<HtmlReport::Cell>> rows;
  for (const auto& f : example.findings)
    rows.push_back({{"truth: " + f.kind}, HtmlReport::Cell::of(f.cx, "", 1), HtmlReport::Cell::of(f.cy, "", 1),
                    HtmlReport::Cell::of(f.r, "", 1)});
  for (size_t i = 0; i < regions.size() && i < 5; ++i)
    rows.push_back({{"WPM region"}, HtmlReport::Cell::of(regions[i].cx, str_cat("anomaly.example_regions.", i, ".cx"), 1),
                    HtmlReport::Cell::of(regions[i].cy, str_cat("anomaly.example_regions.", i, ".cy"), 1),
                    {str_cat("area ", regions[i].area)}});
  for (size_t i = 0; i < circles.size(); ++i)
    rows.push_back({{"Hough circle"}, HtmlReport::Cell::of(circles[i].x, str_cat("anomaly.example_circles.", i, ".x"), 1),
                    HtmlReport::Cell::of(circles[i].y, str_cat("anomaly.example_circles.", i, ".y"), 1),
                    HtmlReport::Cell::of(circles[i].radius, str_cat("anomaly.example_circles.", i, ".radius"), 1)});
  x.report.table({"", "x", "y", "radius / size"}, rows, "the example: truth, WPM regions, circles");
}

void stage_distill(Ctx& x) {
  Settings& s = x.s;
  // The budget is for the whole process: one that already holds most of it (a sanitizer's shadow
  // memory, a host application) gets the budget on top of what it holds, and the report says so.
  const int64_t held = current_rss_bytes();
  if (held > s.budget / 2) {
    const int64_t raised = held + s.budget;
    x.say(str_cat("the process already holds ", format_bytes(held), " of the ", format_bytes(s.budget),
                  " budget: the student trains within ", format_bytes(raised), " instead"));
    s.budget = raised;
  }
  std::shared_ptr<nn::Model> teacher = x.model;
  teacher->net->train(false);
  // The student: compact_cxr_gap (a global average pool instead of the large flatten Dense: a
  // tenth of the parameters). A small_cnn student on half-size images with the teacher on its own
  // full-size copy of each batch stayed at chance (0.25 training accuracy after 3 epochs at lr 2e-3,
  // measured; small_cnn learnt slowly at that rate without distillation too; not investigated).
  const std::string student_name = "compact_cxr_gap";
  const int student_size = s.size;
  std::shared_ptr<nn::Model> student = make_model(x, student_name, s.seed + 5, student_size);
  const int64_t epochs = s.quick ? 1 : 8;
  x.say(str_cat("distilling into ", student_name, " at ", student_size, " px (", parameter_count(*student),
                " parameters), ", epochs,
                " epochs, budget ", format_bytes(s.budget)));
  std::string plan;
  int64_t plan_peak = 0;
  // The first half of the training phantoms (the same images the teacher learnt from).
  const int64_t n_distill = std::max<int64_t>(s.batch, s.n_train / 2);
  auto half = std::make_shared<DemoPhantoms>(size_t(n_distill), s.seed, s.size, s.classes);
  const float T = 4.f, alpha = 0.7f;
  auto base = std::make_unique<optim::LoaderSource>(half, optim::loader_options_for(*student, int(s.batch), s.seed));
  distill::TeacherSource src(std::move(base), teacher);
  const optim::TrainResult r = fit(x, student, src, nullptr, epochs, s.lr, x.file("distill_metrics.csv"), s.budget,
                                   distill::distillation_loss(student->head(), T, alpha), &plan, &plan_peak);
  std::vector<float> sc;
  std::vector<int64_t> lb;
  score(*student, x.test, 64, sc, lb);
  const nn::ClassificationReport sr = report_of(*student, sc, lb);
  const nn::ClassificationReport tr = report_of(*teacher, x.test_scores, x.test_labels);
  auto row = [](const nn::Model& m, const nn::ClassificationReport& rep, double seconds) {
    io::Json j = io::Json::object();
    j.set("model", m.arch.name);
    j.set("input_size", m.preprocessing.width);
    const int64_t n = parameter_count(m);
    j.set("parameters", n);
    j.set("parameter_bytes", m.net->memory().parameter_bytes);
    j.set("accuracy", rep.accuracy);
    j.set("macro_auroc", rep.macro_auroc);
    j.set("train_seconds", seconds);
    return j;
  };
  io::Json j = io::Json::object();
  j.set("teacher", row(*teacher, tr, x.metrics.at("train").get_number("seconds")));
  j.set("student", row(*student, sr, r.seconds));
  j.set("temperature", double(T));
  j.set("alpha", double(alpha));
  j.set("epochs", epochs);
  j.set("train_samples", n_distill);
  j.set("memory_budget_bytes", s.budget);
  j.set("memory_plan", plan);
  j.set("plan_peak_bytes", plan_peak);
  j.set("repack", std::string(has_task("repack") ? "ran" : "not in this build"));
  j.set("memory_budget_mib", double(s.budget) / (1 << 20));
  j.set("plan_peak_mib", double(plan_peak) / (1 << 20));
  if (has_task("repack")) {  // liteai repack: the teacher as a folded graph with bf16 weights
    const auto t_repack = Clock::now();
    const std::string in = x.file("teacher.lai"), out = x.file("teacher_repacked.lai");
    nn::save_model(in, *teacher);
    Options ro(repack_options());
    ro.set("in", in);
    ro.set("out", out);
    ro.set_bool("fold", true);
    ro.set_bool("bf16", true);
    ro.set_bool("quiet", true);
    ro.set_int("runs", 1);
    const RepackOutcome rp = repack(ro);
    auto repacked = nn::load_model(out, false).model;
    std::vector<float> rs;
    std::vector<int64_t> rl;
    score(*repacked, x.test, 64, rs, rl);
    const nn::ClassificationReport rr = report_of(*repacked, rs, rl);
    io::Json r = io::Json::object();
    r.set("parameters", rp.after.parameters);
    r.set("file_bytes", rp.after.file_bytes);
    r.set("file_mib", double(rp.after.file_bytes) / (1 << 20));
    r.set("teacher_file_bytes", rp.before.file_bytes);
    r.set("max_abs_logit_difference", rp.max_abs_diff);
    r.set("accuracy", rr.accuracy);
    r.set("macro_auroc", rr.macro_auroc);
    r.set("seconds", since(t_repack));
    j.set("repacked", std::move(r));
    x.say(str_cat("repacked teacher: ", rp.after.file_bytes, " bytes (was ", rp.before.file_bytes, "), accuracy ",
                  format_figure(rr.accuracy)));
  }
  x.metrics.set("distill", std::move(j));
  x.say(str_cat("student accuracy ", format_figure(sr.accuracy), " (teacher ", format_figure(tr.accuracy), ")"));

  x.report.paragraph(str_cat("Teacher: the model of section 1. Student: ", student_name, " on ", student_size, "x",
                             student_size, " images (the teacher sees the same phantoms at full size), trained ", epochs, " epochs on ", n_distill, " of the training phantoms with alpha "
                             "* T^2 * KL(teacher || student) + (1 - alpha) * cross entropy, T = ", T, ", alpha = ", alpha,
                             ". Its training ran within a memory budget of ", format_bytes(s.budget),
                             "; the planner's choice: ", plan, "."));
  std::vector<std::vector<HtmlReport::Cell>> rows;
  for (const char* who : {"teacher", "student"}) {
    const io::Json& m = x.metrics.at("distill").at(who);
    const std::string k = str_cat("distill.", who, ".");
    rows.push_back({{who}, {str_cat(m.get_string("model"), " @ ", m.get_int("input_size"), " px")}, {std::to_string(m.get_int("parameters")), k + "parameters", 0},
                    HtmlReport::Cell::of(double(m.get_int("parameter_bytes")) / (1 << 20), "", 2),
                    HtmlReport::Cell::of(m.get_number("accuracy"), k + "accuracy"),
                    HtmlReport::Cell::of(m.get_number("macro_auroc"), k + "macro_auroc"),
                    HtmlReport::Cell::of(m.get_number("train_seconds"), k + "train_seconds", 1)});
  }
  if (x.metrics.at("distill").find("repacked")) {
    const io::Json& m = x.metrics.at("distill").at("repacked");
    rows.push_back({{"repacked teacher"}, {"graph, bf16 weights"},
                    {std::to_string(m.get_int("parameters")), "distill.repacked.parameters", 0},
                    HtmlReport::Cell::of(m.get_number("file_mib"), "distill.repacked.file_mib", 2),
                    HtmlReport::Cell::of(m.get_number("accuracy"), "distill.repacked.accuracy"),
                    HtmlReport::Cell::of(m.get_number("macro_auroc"), "distill.repacked.macro_auroc"),
                    HtmlReport::Cell::of(m.get_number("seconds"), "distill.repacked.seconds", 1)});
  } else {
    rows.push_back({{"repacked"}, {"not in this build"}, {""}, {""}, {""}, {""}, {""}});
  }
  x.report.figure("memory budget MiB", "distill.memory_budget_mib", double(s.budget) / (1 << 20), 0);
  x.report.figure("planned peak MiB", "distill.plan_peak_mib", double(plan_peak) / (1 << 20), 1);
  x.report.table({"role", "model", "parameters", "weights MiB", "accuracy", "macro AUROC", "training s"}, rows,
                 "distillation (test phantoms of section 2)");
}

void stage_federated(Ctx& x) {
  const Settings& s = x.s;
  const int sites = 3;
  const int rounds = s.quick ? 1 : 2;
  const int64_t per_site = std::max<int64_t>(s.batch, s.n_train / sites);
  std::vector<std::shared_ptr<const data::Dataset>> site_data;
  for (int k = 0; k < sites; ++k)
    site_data.push_back(std::make_shared<DemoPhantoms>(size_t(per_site), s.seed + 100 + uint64_t(k), s.size, s.classes));
  // The shared starting model is the one of section 1 (sites fine-tune a common model; from scratch,
  // two rounds of one epoch on 1000 phantoms per site reach only 0.35-0.48 accuracy, measured).
  const std::string fed_model = s.model;
  const double fed_lr = s.lr / 4;
  std::shared_ptr<nn::Model> global = make_model(x, fed_model, s.seed + 50);
  global->net->load_state(x.model->net->state());
  std::vector<std::string> paths;
  std::vector<double> site_acc(sites, 0);
  const std::string fed_dir = x.file("federated");
  std::filesystem::create_directories(fed_dir);
  const int64_t local_epochs = 1;
  io::Json round_rows = io::Json::array();
  std::string csv = synthetic_header() + "round,model,accuracy,macro_auroc\n";
  double merged_acc = 0, merged_auroc = 0;
  std::vector<double> site_auroc(sites, 0);
  for (int round = 1; round <= rounds; ++round) {
    paths.clear();
    for (int k = 0; k < sites; ++k) {
      std::shared_ptr<nn::Model> m = make_model(x, fed_model, s.seed + 50);
      m->net->load_state(global->net->state());
      optim::LoaderSource src(site_data[size_t(k)], optim::loader_options_for(*m, int(s.batch), s.seed + uint64_t(k)));
      fit(x, m, src, nullptr, local_epochs, fed_lr, "");
      std::vector<float> sc;
      std::vector<int64_t> lb;
      score(*m, x.test, 64, sc, lb);
      const nn::ClassificationReport rep = report_of(*m, sc, lb);
      site_acc[size_t(k)] = rep.accuracy;
      site_auroc[size_t(k)] = rep.macro_auroc;
      csv += str_cat(round, ",site", k + 1, ",", rep.accuracy, ",", rep.macro_auroc, "\n");
      paths.push_back(str_cat(fed_dir, "/site", k + 1, ".lai"));
      nn::save_model(paths.back(), *m);
    }
    Options mo(merge_options());
    std::string w;
    for (int k = 0; k < sites; ++k) w += str_cat(k ? "," : "", per_site);
    mo.set("weights", w);
    mo.set("out", fed_dir + "/merged.lai");
    const MergeOutcome mg = merge_models(paths, mo);
    global = mg.model;
    std::vector<float> sc;
    std::vector<int64_t> lb;
    score(*global, x.test, 64, sc, lb);
    const nn::ClassificationReport rep = report_of(*global, sc, lb);
    merged_acc = rep.accuracy;
    merged_auroc = rep.macro_auroc;
    csv += str_cat(round, ",merged,", rep.accuracy, ",", rep.macro_auroc, "\n");
    io::Json rr = io::Json::object();
    rr.set("round", round);
    rr.set("site_accuracy", io::Json::array_of(site_acc));
    rr.set("merged_accuracy", merged_acc);
    rr.set("merged_macro_auroc", merged_auroc);
    round_rows.push_back(std::move(rr));
    x.say(str_cat("federated round ", round, ": sites ", format_figure(site_acc[0], 3), " ",
                  format_figure(site_acc[1], 3), " ", format_figure(site_acc[2], 3), ", merged ",
                  format_figure(merged_acc, 3)));
  }
  write_text(x.file("federated.csv"), csv);
  io::Json j = io::Json::object();
  j.set("sites", sites);
  j.set("model", fed_model);
  j.set("lr", fed_lr);
  j.set("start_accuracy", x.metrics.at("evaluation").get_number("accuracy"));
  j.set("rounds", rounds);
  j.set("local_epochs", local_epochs);
  j.set("samples_per_site", per_site);
  j.set("site_accuracy", io::Json::array_of(site_acc));
  j.set("site_macro_auroc", io::Json::array_of(site_auroc));
  j.set("merged_accuracy", merged_acc);
  j.set("merged_macro_auroc", merged_auroc);
  j.set("history", std::move(round_rows));
  x.metrics.set("federated", std::move(j));

  x.report.paragraph(str_cat("Starting from the model of section 1 (accuracy ",
                             format_figure(x.metrics.at("evaluation").get_number("accuracy")), "), ", fed_model,
                             " fine-tuned (Adam, lr ", fed_lr, ") at ", sites, " sites, ", per_site, " phantoms each (their own seeds; no image leaves a site), ",
                             rounds, " round(s) of FedAvg (", local_epochs, " local epoch(s) per round, weights in "
                             "proportion to the sample counts, liteai merge). Accuracy on the test phantoms of section 2 "
                             "after the last round."));
  std::vector<std::vector<HtmlReport::Cell>> rows;
  for (int k = 0; k < sites; ++k)
    rows.push_back({{str_cat("site ", k + 1)}, HtmlReport::Cell::of(site_acc[size_t(k)], str_cat("federated.site_accuracy.", k)),
                    HtmlReport::Cell::of(site_auroc[size_t(k)], str_cat("federated.site_macro_auroc.", k))});
  rows.push_back({{"merged"}, HtmlReport::Cell::of(merged_acc, "federated.merged_accuracy"),
                  HtmlReport::Cell::of(merged_auroc, "federated.merged_macro_auroc")});
  x.report.table({"model", "accuracy", "macro AUROC"}, rows, "federated: site models vs the merged model");
}

// The C example predictor (examples/c/predict.c): $LITEAI_C_PREDICT, else beside the running
// program (the build puts it next to the liteai command); empty when neither exists.
std::string c_predict_program() {
  if (const char* e = std::getenv("LITEAI_C_PREDICT"); e != nullptr && *e != 0) return e;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const std::filesystem::path p = self.parent_path() / "liteai_c_predict";
  return std::filesystem::is_regular_file(p, ec) ? p.string() : std::string();
}

// Runs argv[0] with stdout and stderr into files; its exit status (-1 if it could not start).
int run_program(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Step 7b: the saved model through the C API, in another process (liteai_c_predict), against
// the C++ predictions of the same PNG files.
void c_api_check(Ctx& x, const nn::Model& reloaded) {
  io::Json j = io::Json::object();
  const std::string prog = c_predict_program();
  if (prog.empty()) {
    j.set("status", std::string("not in this build"));
    x.metrics.set("c_api", std::move(j));
    x.report.paragraph("The C example (liteai_c_predict, examples/c) is not in this build: not run.");
    return;
  }
  data::PhantomOptions po;
  po.size = x.s.size;
  po.classes = x.s.classes;
  std::filesystem::create_directories(x.file("c_api"));
  std::vector<std::string> args = {prog, x.file("model.lai")};
  std::vector<data::Image> images;
  const int n = int(std::min<int64_t>(8, x.s.n_test));
  for (int i = 0; i < n; ++i) {
    args.push_back(x.file(str_cat("c_api/test_", i, ".png")));
    anomaly::write_gray_png(args.back(), data::make_phantom(x.s.seed + 1000, size_t(i), po).image, 0.f, 255.f);
    images.push_back(data::decode_image(args.back()));  // what the C program reads
  }
  const int rc = run_program(args, x.file("c_api/predictions.tsv"), x.file("c_api/stderr.txt"));
  LAI_CHECK(rc == 0, "demo: ", prog, " exited with status ", rc, " (its messages: ", x.file("c_api/stderr.txt"), ")");
  const Tensor want = predict(reloaded, images).contiguous();
  const int64_t per = want.numel() / n;
  std::ifstream in(x.file("c_api/predictions.tsv"));
  std::string line;
  int rows = 0;
  double max_diff = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string path, cls, v;
    std::getline(f, path, '\t');
    std::getline(f, cls, '\t');
    LAI_CHECK(rows < n && path == args[size_t(rows) + 2], "demo: ", prog, " printed an unexpected line: ", line);
    int64_t c = 0;
    for (; std::getline(f, v, '\t'); ++c) {
      LAI_CHECK(c < per, "demo: ", prog, " printed more than ", per, " probabilities: ", line);
      const float got = std::strtof(v.c_str(), nullptr);  // %.9g parsed as float gives the same float
      max_diff = std::max(max_diff, std::fabs(double(got) - double(want.data()[rows * per + c])));
    }
    LAI_CHECK(c == per, "demo: ", prog, " printed ", c, " probabilities, ", per, " expected: ", line);
    ++rows;
  }
  LAI_CHECK(rows == n, "demo: ", prog, " printed ", rows, " lines for ", n, " images");
  // Any difference is a different computation, not print rounding.
  LAI_CHECK(max_diff == 0, "demo: the C API predicts differently from C++ (max difference ", max_diff, ")");
  j.set("status", std::string("ran"));
  j.set("program", std::filesystem::path(prog).filename().string());
  j.set("images", int64_t(n));
  j.set("max_difference", max_diff);
  x.metrics.set("c_api", std::move(j));
  x.say(str_cat("the C example (", prog, ") on model.lai: ", n, " images, predictions identical to C++"));
  x.report.paragraph(str_cat("The C example <code>liteai_c_predict model.lai IMAGE...</code> (examples/c/predict.c, "
                             "plain C99 against liteai.h) ran in its own process on the saved model and ", n,
                             " test phantoms written as PNG (c_api/); its probabilities (c_api/predictions.tsv) "
                             "against the C++ library's on the same files:"));
  x.report.figure("C API max |difference|", "c_api.max_difference", max_diff, 6);
}

void stage_reload(Ctx& x) {
  const std::string path = x.file("model.lai");
  nn::save_model(path, *x.model);
  auto reloaded = nn::load_model(path, false).model;
  std::vector<float> sc;
  std::vector<int64_t> lb;
  score(*reloaded, x.test, 64, sc, lb);
  double max_diff = 0;
  for (size_t i = 0; i < sc.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(sc[i] - x.test_scores[i])));
  LAI_CHECK(sc.size() == x.test_scores.size() && max_diff == 0,
            "demo: the reloaded model predicts differently (max difference ", max_diff, ")");
  io::Json j = io::Json::object();
  j.set("file", std::string("model.lai"));
  j.set("file_bytes", int64_t(std::filesystem::file_size(path)));
  j.set("max_difference", max_diff);
  j.set("identical", max_diff == 0);
  x.metrics.set("reload", std::move(j));
  x.say(str_cat("saved ", path, ", reloaded: predictions identical"));
  x.report.paragraph(str_cat("The model was saved to model.lai (", std::filesystem::file_size(path),
                             " bytes), loaded back and run over the test phantoms again: the largest difference "
                             "between the two runs' probabilities is below."));
  x.report.figure("max |difference|", "reload.max_difference", max_diff, 6);
  x.report.html("<p>Use it: <code>liteai predict model.lai IMAGE.png</code>, or from C "
                "<code>lai_model_load(\"model.lai\", ...)</code> (capi/liteai.h).</p>");
  c_api_check(x, *reloaded);
}

struct Stage {
  const char* id;
  const char* title;
  std::function<bool()> available;  // false: "not in this build"
  void (*run)(Ctx&);
  void (*missing)(Ctx&);  // what the section says when unavailable
};

// The demo's stages in order. A feature that lands adds its function here (explanations: when
// the "explain" task is registered, `[] { return has_task("explain"); }, &stage_explain` in its row).
const std::vector<Stage>& stages() {
  static const std::vector<Stage> t = {
      {"train", "1. Train a classifier on phantoms (on-the-fly loader)", [] { return true; }, &stage_train, nullptr},
      {"evaluate", "2. Evaluation: per-class metrics, ROC, confusion, calibration", [] { return true; },
       &stage_evaluate, nullptr},
      {"explain", "3. Explanations (Grad-CAM)", [] { return has_task("explain"); }, &stage_explain,
       &stage_explain_missing},
      {"anomaly", "4. Anomalous regions without labels: ProbMat, WPM, Hough circles, SOM, senafas",
       [] { return true; }, &stage_anomaly, nullptr},
      {"distill", "5. Teacher -> student (distillation) within a memory budget", [] { return true; }, &stage_distill,
       nullptr},
      {"federated", "6. Three federated sites merged", [] { return true; }, &stage_federated, nullptr},
      {"reload", "7. Save, reload, identical predictions; the C example on the saved model", [] { return true; }, &stage_reload, nullptr},
  };
  return t;
}

Settings settings_of(const Options& o) {
  Settings s;
  s.quick = o.get_bool("quick");
  s.out = o.get_text_or("out", "demo-out");
  s.size = int(o.get_int_or("size", s.quick ? 32 : 64));
  LAI_CHECK(s.size % 8 == 0, "demo: --size must be a multiple of 8, got ", s.size);
  s.n_train = o.get_int_or("train", s.quick ? 60 : 3000);
  s.n_test = o.get_int_or("test", s.quick ? 20 : 500);
  s.n_val = s.quick ? 20 : std::max<int64_t>(50, s.n_test / 2);
  s.epochs = o.get_int_or("epochs", s.quick ? 1 : 10);
  s.batch = std::min<int64_t>(o.get_int("batch"), s.n_train);
  s.lr = o.get_number("lr");
  s.model = o.get_text("model");
  s.budget = o.get_int("memory-budget");
  s.seed = uint64_t(o.get_int("seed"));
  s.progress = progress_mode(o) == 0 ? 0 : 1;
  if (o.has("classes")) {
    s.classes.clear();
    const auto& names = data::phantom_class_names();
    for (const std::string& c : o.get_list("classes")) {
      const auto it = std::find(names.begin(), names.end(), c);
      LAI_CHECK(it != names.end(), "demo: --classes: '", c, "' is not a phantom class (normal, foreign_body, nodule, "
                                   "opacity, effusion)");
      LAI_CHECK(std::find(s.classes.begin(), s.classes.end(), int(it - names.begin())) == s.classes.end(),
                "demo: --classes names '", c, "' twice");
      s.classes.push_back(int(it - names.begin()));
    }
    LAI_CHECK(s.classes.size() >= 2, "demo: --classes needs at least two classes");
  }
  return s;
}

}  // namespace

DemoOutcome run_demo(const Options& o, const Hooks& hooks) {
  apply_common(o);
  const auto t0 = Clock::now();
  Ctx x;
  x.s = settings_of(o);
  x.hooks = &hooks;
  const Settings& s = x.s;
  std::filesystem::create_directories(s.out);
  x.train = std::make_shared<DemoPhantoms>(size_t(s.n_train), s.seed, s.size, s.classes);
  x.val = std::make_shared<DemoPhantoms>(size_t(s.n_val), s.seed + 500, s.size, s.classes);
  x.test = std::make_shared<DemoPhantoms>(size_t(s.n_test), s.seed + 1000, s.size, s.classes);
  const MachineInfo machine = machine_info();
  x.say("SYNTHETIC chest-radiograph phantoms (generated here; not patient data)");
  x.say("machine: " + machine.describe());

  x.report.banner("SYNTHETIC DATA: every image here is a phantom drawn by formula (liteai's chest-radiograph "
                  "phantoms), not a patient. These figures show that the method runs and learns; they are not "
                  "clinical results, and liteai is not a medical device.");
  std::string classes;
  for (const auto& c : x.train->class_names()) classes += (classes.empty() ? "" : ", ") + c;
  x.report.html(str_cat("<p>liteai ", html_escape(std::string(version())), (s.quick ? " — <b>--quick run</b> (tiny; figures "
                                                                               "meaningless)" : ""),
                        ". Classes: ", html_escape(classes), ". Phantoms ", s.size, "x", s.size,
                        ". Machine: ", html_escape(machine.describe()), ".</p>"));

  DemoOutcome out;
  std::vector<std::vector<HtmlReport::Cell>> stage_rows;
  size_t i = 0;
  for (const Stage& st : stages()) {
    DemoStageResult r;
    r.id = st.id;
    r.title = st.title;
    const bool avail = st.available();
    r.status = avail ? "ran" : "not in this build";
    x.report.section(st.id, st.title, avail ? "" : r.status);
    x.say(str_cat("== ", st.title, avail ? "" : " (not in this build)", " =="));
    reset_peak_rss();
    const auto ts = Clock::now();
    const double cpu0 = process_cpu_seconds();
    if (avail) st.run(x);
    else if (st.missing) st.missing(x);
    r.seconds = since(ts);
    r.cpu_seconds = process_cpu_seconds() - cpu0;
    r.peak_rss_bytes = peak_rss_bytes();
    if (avail) x.say(str_cat(st.id, ": ", format_figure(r.seconds, 1), " s, peak RSS ", format_bytes(r.peak_rss_bytes)));
    out.stages.push_back(r);
    ++i;
  }
  out.seconds = since(t0);
  out.cpu_seconds = process_cpu_seconds();

  io::Json st = io::Json::array();
  for (size_t k = 0; k < out.stages.size(); ++k) {
    const auto& r = out.stages[k];
    io::Json j = io::Json::object();
    j.set("id", r.id);
    j.set("title", r.title);
    j.set("status", r.status);
    j.set("seconds", r.seconds);
    j.set("cpu_seconds", r.cpu_seconds);
    j.set("peak_rss_bytes", r.peak_rss_bytes);
    j.set("peak_rss_mib", double(r.peak_rss_bytes) / (1 << 20));
    st.push_back(std::move(j));
    const std::string key = str_cat("stages.", k, ".");
    stage_rows.push_back({{r.title}, {r.status},
                          r.status == "ran" ? HtmlReport::Cell::of(r.seconds, key + "seconds", 1) : HtmlReport::Cell{"—"},
                          r.status == "ran" ? HtmlReport::Cell::of(r.cpu_seconds, key + "cpu_seconds", 1) : HtmlReport::Cell{"—"},
                          r.status == "ran" ? HtmlReport::Cell::of(double(r.peak_rss_bytes) / (1 << 20), key + "peak_rss_mib", 1)
                                            : HtmlReport::Cell{"—"}});
  }
  io::Json& m = x.metrics;
  m.set("synthetic", true);
  m.set("note", std::string("SYNTHETIC phantoms, not patient data; not a clinical result"));
  m.set("liteai_version", std::string(version()));
  m.set("quick", s.quick);
  m.set("size", s.size);
  m.set("classes", io::Json::array_of(x.train->class_names()));
  m.set("seed", int64_t(s.seed));
  m.set("machine", machine.to_json());
  m.set("stages", std::move(st));
  m.set("wall_seconds", out.seconds);
  m.set("cpu_seconds", out.cpu_seconds);
  {
    std::string csv = synthetic_header() + "stage,status,seconds,cpu_seconds,peak_rss_bytes\n";
    for (const auto& r : out.stages)
      csv += str_cat(r.id, ",", r.status, ",", r.seconds, ",", r.cpu_seconds, ",", r.peak_rss_bytes, "\n");
    write_text(x.file("stages.csv"), csv);
  }
  x.report.section("run", "Memory and speed per stage; the machine");
  x.report.figure("wall time, s", "wall_seconds", out.seconds, 1);
  x.report.figure("CPU time, s (all threads)", "cpu_seconds", out.cpu_seconds, 1);
  x.report.paragraph("Wall time depends on what else the machine runs; CPU time (user + system over all threads) "
                     "much less so.");
  x.report.table({"stage", "status", "wall s", "CPU s", "peak RSS MiB"}, stage_rows, "per stage");
  x.report.table({"machine", ""},
                 {{{"CPU"}, {machine.cpu_model}},
                  {{"logical cores"}, {std::to_string(machine.cores), "machine.cores", 0}},
                  {{"threads used"}, {std::to_string(machine.threads), "machine.threads", 0}},
                  {{"RAM GiB"}, HtmlReport::Cell::of(double(machine.ram_bytes) / (1 << 30), "machine.ram_gib", 1)},
                  {{"OS"}, {machine.os}},
                  {{"compiler"}, {machine.compiler}}});
  x.report.paragraph("Every figure on this page is also in metrics.json; the tables and curves in CSV files beside it "
                     "(train_metrics.csv, per_class.csv, confusion.csv, roc.csv, reliability.csv, anomaly_scores.csv, "
                     "distill_metrics.csv, federated.csv, stages.csv).");
  const std::string json = m.dump(2) + "\n";
  write_text(x.file("metrics.json"), json);
  out.report = x.file("index.html");
  x.report.write(out.report);
  out.metrics = std::move(m);
  return out;
}

}  // namespace liteai::app
