#include "liteai/app/trust_tasks.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>

#include "liteai/app/data_source.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/log.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/version.hpp"
#include "liteai/io/hash.hpp"
#include "liteai/nn/calibration.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::app {
namespace fs = std::filesystem;

namespace {

io::Json calibration_json(const nn::Calibration& c) {
  io::Json j = io::Json::object();
  j.set("ece", c.ece);
  j.set("brier", c.brier);
  return j;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

}  // namespace

// ---------------------------------------------------------------- calibration

io::Json CalibrationOutcome::to_json() const {
  io::Json j = io::Json::object();
  j.set("method", "temperature");
  j.set("temperature", io::Json::array_of(temperature));
  j.set("samples", samples);
  j.set("nll_before", nll_before);
  j.set("nll_after", nll_after);
  j.set("before", calibration_json(before));
  j.set("after", calibration_json(after));
  return j;
}

const OptionSet& calibrate_options() {
  static const OptionSet s = [] {
    OptionSet o("calibrate", "Fits temperature scaling (Guo et al. 2017; one temperature, or one per finding for "
                             "sigmoid heads) on validation data so the model's probabilities mean what they say, and "
                             "stores it in the model file: predictions use it from then on. Accuracy and AUROC are "
                             "unchanged (the logits are only divided).");
    o.include(data_options());
    o.group("calibration").integer("batch", 256, 1, 65536, "images per batch");
    o.include(common_options());
    return o;
  }();
  return s;
}

CalibrationOutcome calibrate(nn::Model& model, const Options& o, const Hooks& hooks) {
  apply_common(o);
  const std::string task = o.spec().task();
  LAI_CHECK(model.head() != nn::Head::none, task, ": the model has no classes (head none): nothing to calibrate");
  DataRequest req;
  req.task = task;
  req.default_split = "test";
  req.subset_ok = true;
  bool named = false;
  for (size_t i = 0; i < model.class_names.size(); ++i) named = named || model.class_names[i] != str_cat("class", i);
  if (named) req.class_names = model.class_names;
  const DataSource d = open_data(o, req);
  data::LoaderOptions lo = optim::loader_options_for(model, int(o.get_int("batch")), 0, false);
  lo.skip_bad = d.skip_bad;
  optim::LoaderSource src(d.all, lo);
  // The raw logits of the whole set (N x C floats: small next to the images), then a 1-D search.
  std::vector<float> logits, labels, targets;
  const int64_t C = model.num_classes();
  int64_t n = 0, step = 0;
  {
    autograd::NoGrad ng;
    model.net->eval();
    src.reset(0);
    while (auto b = src.next()) {
      const Tensor y = model.forward(b->images).contiguous();
      LAI_CHECK(y.dim() == 2 && y.size(1) == C, task, ": the network returned ", y.describe());
      logits.insert(logits.end(), y.data(), y.data() + y.numel());
      const std::vector<float> l = b->labels.to_vector();
      labels.insert(labels.end(), l.begin(), l.end());
      if (b->targets.defined()) {
        const std::vector<float> t = b->targets.to_vector();
        targets.insert(targets.end(), t.begin(), t.end());
      }
      n += y.size(0);
      if (hooks.progress) {
        optim::Progress p;
        p.phase = optim::Phase::evaluate;
        p.step = ++step;
        p.steps_per_epoch = src.batches_per_epoch();
        if (!hooks.progress(p)) throw Error(ErrorKind::cancelled, str_cat(task, ": cancelled by the progress callback"));
      }
    }
  }
  LAI_CHECK(n > 0, task, ": no samples could be read from '", d.spec, "'");
  const Tensor z = Tensor::from_vector(logits, {n, C});
  const Tensor lab = Tensor::from_vector(labels, {n});
  const Tensor tgt = targets.empty() ? Tensor() : Tensor::from_vector(targets, {n, C});
  CalibrationOutcome r;
  r.samples = n;
  r.nll_before = nn::temperature_nll(model.head(), z, lab, tgt, {});
  r.temperature = nn::fit_temperature(model.head(), z, lab, tgt);
  r.nll_after = nn::temperature_nll(model.head(), z, lab, tgt, r.temperature);
  auto probs = [&](const std::vector<float>& t) {
    nn::Model m;
    m.temperature = t;
    const Tensor s = m.calibrated_logits(z);
    return (model.head() == nn::Head::softmax ? ops::softmax(s, -1) : ops::sigmoid(s)).to_vector();
  };
  std::vector<int64_t> li(labels.begin(), labels.end());
  if (model.head() == nn::Head::softmax) {
    r.before = nn::calibration_single_label(probs({}).data(), n, C, li.data());
    r.after = nn::calibration_single_label(probs(r.temperature).data(), n, C, li.data());
  } else {
    r.before = nn::calibration_multi_label(probs({}).data(), n, C, targets.data());
    r.after = nn::calibration_multi_label(probs(r.temperature).data(), n, C, targets.data());
  }
  model.temperature = r.temperature;
  if (!model.provenance.is_object()) model.provenance = io::Json::object();
  io::Json c = r.to_json();
  c.set("data", data_fingerprint(d));
  c.set("created", utc_now());
  model.provenance.set("calibration", c);
  if (progress_mode(o) != 0)
    log(LogLevel::info, str_cat(task, ": T = ", r.temperature.size() == 1 ? str_cat(r.temperature[0]) : "per finding",
                                ", NLL ", r.nll_before, " -> ", r.nll_after, ", ECE ", r.before.ece, " -> ", r.after.ece,
                                " on ", n, " images"));
  return r;
}

// ---------------------------------------------------------------- provenance

io::Json data_fingerprint(const DataSource& d) {
  io::Json j = io::Json::object();
  j.set("spec", d.spec);
  j.set("format", d.format);
  std::error_code ec;
  if (d.format == "csv" || (fs::is_regular_file(d.spec, ec) && fs::path(d.spec).extension() == ".csv")) {
    j.set("sha256", io::sha256_file(d.spec));
    j.set("hash_of", "manifest file");
  } else if (d.all) {
    io::Sha256 h;  // the listing: every image's path and size, in data-set order
    for (size_t i = 0; i < d.all->size(); ++i) {
      const std::string p = d.all->path(i);
      struct stat st;
      const long long size = ::stat(p.c_str(), &st) == 0 ? (long long)st.st_size : -1;
      h.update(str_cat(p, "\t", size, "\n"));
    }
    j.set("sha256", h.hex());
    j.set("hash_of", "image paths and sizes");
  }
  auto counts = [](const data::DatasetPtr& ds) {
    io::Json c = io::Json::object();
    if (!ds) return c;
    std::vector<int64_t> n(ds->num_classes(), 0);
    for (size_t i = 0; i < ds->size(); ++i)
      for (int l : ds->labels(i))
        if (l >= 0 && size_t(l) < n.size()) ++n[size_t(l)];
    for (size_t k = 0; k < n.size(); ++k) c.set(ds->class_names()[k], n[k]);
    return c;
  };
  j.set("samples", int64_t(d.all ? d.all->size() : 0));
  j.set("train_samples", int64_t(d.train ? d.train->size() : 0));
  j.set("validation_samples", int64_t(d.validation ? d.validation->size() : 0));
  j.set("per_class", counts(d.train));
  if (d.validation) j.set("validation_per_class", counts(d.validation));
  return j;
}

io::Json make_provenance(const std::string& task, const Options& o, const DataSource* data,
                         const std::vector<Parent>& parents, const io::Json& metrics) {
  io::Json p = io::Json::object();
  p.set("liteai", version());
  p.set("source_revision", source_revision());
  p.set("task", task);
  p.set("options", o.to_json());
  if (data) p.set("data", data_fingerprint(*data));
  io::Json par = io::Json::array();
  for (const Parent& x : parents) {
    io::Json e = io::Json::object();
    e.set("role", x.role);
    e.set("path", x.path);
    std::error_code ec;
    e.set("sha256", fs::is_regular_file(x.path, ec) ? io::Json(io::sha256_file(x.path)) : io::Json("unknown"));
    par.push_back(std::move(e));
  }
  p.set("parents", std::move(par));
  p.set("created", utc_now());
  if (o.spec().find("seed")) p.set("seed", o.get_int("seed"));
  p.set("threads", num_threads());
  p.set("metrics", metrics);
  return p;
}

// ---------------------------------------------------------------- model card

namespace {
std::string text_of(const io::Json* v) {
  if (!v || v->is_null()) return "unknown";
  if (v->is_string()) return v->as_string();
  return v->dump();
}
}  // namespace

std::string model_card(const io::Json& h, const std::string& file_name) {
  const io::Json* arch = h.find("architecture");
  const io::Json* pre = h.find("preprocessing");
  const io::Json* prov = h.find("provenance");
  const io::Json* cal = h.find("calibration");
  auto field = [](const io::Json* o, const char* k) { return text_of(o ? o->find(k) : nullptr); };
  std::string s = "# Model card: " + file_name + "\n\n";
  s += "> liteai is not a medical device. This model's outputs support, never replace, a clinician's reading; "
       "validate it on local data before any use.\n\n";
  s += "## Model\n\n";
  s += "- Architecture: " + field(arch, "name") + " (`" + (arch ? arch->dump() : "unknown") + "`)\n";
  s += "- Parameters: " + text_of(h.find("parameters")) + "\n";
  s += "- Input: " + field(pre, "width") + " x " + field(pre, "height") + " pixels, " + field(pre, "channels") +
       " channel(s), per-image standardization: " + field(pre, "standardize") + "\n";
  std::string classes;
  if (const io::Json* c = h.find("class_names"); c && c->is_array())
    for (size_t i = 0; i < c->size(); ++i) classes += (classes.empty() ? "" : ", ") + (*c)[i].as_string();
  s += "- Outputs: " + field(arch, "head") + " over " + (classes.empty() ? "unknown classes" : classes) + "\n";
  s += "- Calibration: " + (cal ? "temperature scaling, T = " + field(cal, "temperature") : std::string("none")) + "\n";
  s += "- Written by: " + text_of(h.find("library")) + " (source " + text_of(h.find("source_revision")) + ")\n\n";
  s += "## Training\n\n";
  if (!prov || !prov->is_object()) {
    s += "No provenance recorded: where this model came from is unknown.\n\n";
  } else {
    s += "- Task: " + field(prov, "task") + ", created " + field(prov, "created") + ", seed " + field(prov, "seed") +
         ", " + field(prov, "threads") + " thread(s)\n";
    const io::Json* d = prov->find("data");
    s += "- Data: " + field(d, "spec") + " (" + field(d, "format") + "), " + field(d, "train_samples") +
         " training / " + field(d, "validation_samples") + " validation samples; SHA-256 of the " +
         field(d, "hash_of") + ": `" + field(d, "sha256") + "`\n";
    if (d && d->find("per_class")) s += "- Samples per class (training): `" + d->find("per_class")->dump() + "`\n";
    s += "- Options: `" + field(prov, "options") + "`\n";
    if (const io::Json* parents = prov->find("parents"); parents && parents->is_array() && parents->size() > 0) {
      s += "- Parents:\n";
      for (size_t i = 0; i < parents->size(); ++i) {
        const io::Json& p = (*parents)[i];
        s += "  - " + field(&p, "role") + ": " + field(&p, "path") + " (SHA-256 `" + field(&p, "sha256") + "`)\n";
      }
    }
    s += "\n## Metrics\n\n```json\n" + text_of(prov->find("metrics")) + "\n```\n";
    if (const io::Json* c = prov->find("calibration"))
      s += "\nCalibration on " + field(c, "samples") + " images: ECE " + field(c->find("before"), "ece") + " -> " +
           field(c->find("after"), "ece") + ", NLL " + field(c, "nll_before") + " -> " + field(c, "nll_after") + "\n";
  }
  return s;
}

}  // namespace liteai::app
