#include "liteai/app/federated_tasks.hpp"

#include <cmath>
#include <map>
#include <set>

#include "liteai/app/model_tasks.hpp"
#include "liteai/app/trust_tasks.hpp"
#include "liteai/core/log.hpp"
#include "liteai/core/random.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/model_io.hpp"

namespace liteai::app {

namespace {

// The names of the BatchNorm tensors of a state: every "<p>.running_mean" makes <p> a BatchNorm,
// whose affine parameters and statistics are kept local under FedBN.
std::set<std::string> batchnorm_tensors(const nn::NamedTensors& state) {
  std::set<std::string> prefixes, out;
  const std::string tag = ".running_mean";
  for (const auto& [n, t] : state)
    if (n.size() > tag.size() && n.compare(n.size() - tag.size(), tag.size(), tag) == 0)
      prefixes.insert(n.substr(0, n.size() - tag.size() + 1));
  for (const auto& [n, t] : state)
    for (const std::string& p : prefixes)
      if (n.rfind(p, 0) == 0 && n.find('.', p.size()) == std::string::npos) out.insert(n);
  return out;
}

// The first difference between two model headers in what must agree for a merge ("" if none).
std::string difference(const io::Json& a, const io::Json& b) {
  for (const char* k : {"architecture", "class_names", "preprocessing"}) {
    const io::Json* x = a.find(k);
    const io::Json* y = b.find(k);
    const std::string xs = x ? x->dump() : "none", ys = y ? y->dump() : "none";
    if (xs != ys) return str_cat(k, " ", xs, " vs ", ys);
  }
  return "";
}

double sample_count(const io::Json& header, const std::string& path, const std::string& task) {
  const io::Json* p = header.find("provenance");
  const io::Json* d = p ? p->find("data") : nullptr;
  const io::Json* n = d ? d->find("train_samples") : nullptr;
  LAI_CHECK(n && n->is_number() && n->as_number() > 0, task, ": ", path,
            " records no training sample count (no provenance): give --weights N1,N2,...");
  return n->as_number();
}

}  // namespace

io::Json MergeOutcome::to_json() const {
  io::Json j = io::Json::object();
  j.set("weights", io::Json::array_of(weights));
  j.set("tensors", tensors);
  j.set("averaged", averaged);
  j.set("kept_local", kept_local);
  return j;
}

const OptionSet& merge_options() {
  static const OptionSet s = [] {
    OptionSet o("merge", "Federated averaging (FedAvg) of site models: the weighted mean of their weights, in "
                         "proportion to each site's training samples (from the files' provenance unless --weights "
                         "gives them). Architectures, class names and preprocessing must be identical.");
    o.group("merge")
        .path("out", "the merged model", "MERGED.lai")
        .list("weights", "one weight per site, e.g. sample counts 1200,800,400 (default: from each file's provenance)")
        .choice("bn", "average", {"average", "local"},
                "BatchNorm parameters and statistics: averaged, or kept local (FedBN: the first model's)")
        .path("base", "the previous round's merged model: site updates are measured against it (for --clip-update)",
              "PREV.lai")
        .number("clip-update", 0, 0, 1e12, "differential privacy: clip each site's update to this L2 norm (0: off)")
        .number("noise-multiplier", 0, 0, 1e6, "differential privacy: Gaussian noise std = multiplier x clip x "
                                                 "max weight share, added to the merged update")
        .integer("seed", 1, 0, std::numeric_limits<int64_t>::max(), "the noise's seed");
    o.include(common_options());
    return o;
  }();
  return s;
}

MergeOutcome merge_models(const std::vector<std::string>& paths, const Options& o, const Hooks& hooks) {
  apply_common(o);
  const std::string task = o.spec().task();
  LAI_CHECK(paths.size() >= 2, task, ": give at least two site models to merge");
  // Headers first: everything is checked before a weight is read.
  std::vector<io::Json> headers;
  for (const std::string& p : paths) headers.push_back(io::read_model_file_table(p).at("header"));
  for (size_t i = 1; i < paths.size(); ++i) {
    const std::string d = difference(headers[0], headers[i]);
    LAI_CHECK(d.empty(), task, ": ", paths[i], " differs from ", paths[0], ": ", d);
  }
  std::vector<double> w;
  if (o.has("weights")) {
    w = o.get_numbers("weights");
    LAI_CHECK(w.size() == paths.size(), task, ": --weights gives ", w.size(), " weights for ", paths.size(), " models");
    for (double x : w) LAI_CHECK(std::isfinite(x) && x > 0, task, ": --weights must be positive numbers");
  } else {
    for (size_t i = 0; i < paths.size(); ++i) w.push_back(sample_count(headers[i], paths[i], task));
  }
  double total = 0;
  for (double x : w) total += x;
  for (double& x : w) x /= total;
  const bool local_bn = o.get_text("bn") == "local";
  const double clip = o.get_number("clip-update"), z = o.get_number("noise-multiplier");
  LAI_CHECK(clip == 0 || o.has("base"), task, ": --clip-update needs --base (the previous round's merged model)");
  LAI_CHECK(z == 0 || clip > 0, task, ": --noise-multiplier needs --clip-update");

  MergeOutcome out;
  out.weights = w;
  std::shared_ptr<nn::Model> base;
  if (clip > 0) {
    base = load_model(o.get_text("base"));
    const std::string d = difference(nn::model_header(*base), headers[0]);
    LAI_CHECK(d.empty(), task, ": --base ", o.get_text("base"), " differs from the sites: ", d);
  }
  // The first model is the accumulator: its tensors become sum_i w_i * site_i in place.
  out.model = load_model(paths[0]);
  nn::NamedTensors acc = out.model->net->state();
  const std::set<std::string> bn = local_bn ? batchnorm_tensors(acc) : std::set<std::string>{};
  nn::NamedTensors base_state = base ? base->net->state() : nn::NamedTensors{};
  for (size_t i = 0; i < paths.size(); ++i) {
    io::ModelFile f;
    if (i > 0) f = io::load_model_file(paths[i]);
    // A site's tensor by name (the first site's are the accumulator itself, still unscaled at i = 0).
    auto site = [&](size_t k) -> const float* {
      if (i == 0) return acc[k].second.data();
      const Tensor& t = f.tensor(acc[k].first);
      LAI_CHECK(t.shape() == acc[k].second.shape(), task, ": ", paths[i], ": tensor '", acc[k].first, "' has shape ",
                liteai::to_string(t.shape()), ", ", paths[0], " has ", liteai::to_string(acc[k].second.shape()));
      return t.dtype() == DType::f32 ? t.data() : nullptr;
    };
    std::vector<Tensor> f32_copies(acc.size());  // bf16 tensors of a file, widened once
    // The clip factor of this site's update against the base model.
    double scale = 1;
    if (clip > 0) {
      double sq = 0;
      for (size_t k = 0; k < acc.size(); ++k) {
        if (bn.count(acc[k].first)) continue;
        const float* s = site(k);
        if (!s) s = (f32_copies[k] = f.tensor(acc[k].first).to(DType::f32)).data();
        const float* b = base_state[k].second.data();
        for (int64_t j = 0; j < acc[k].second.numel(); ++j) sq += double(s[j] - b[j]) * double(s[j] - b[j]);
      }
      const double norm = std::sqrt(sq);
      scale = norm > clip ? clip / norm : 1.0;
      if (progress_mode(o) != 0)
        log(LogLevel::info, str_cat(task, ": ", paths[i], " update norm ", norm, scale < 1 ? str_cat(", clipped to ", clip) : ""));
    }
    for (size_t k = 0; k < acc.size(); ++k) {
      float* a = acc[k].second.data();
      const int64_t n = acc[k].second.numel();
      if (bn.count(acc[k].first)) continue;  // FedBN: the first model's own
      const float* s = site(k);
      if (!s) s = (f32_copies[k].defined() ? f32_copies[k] : (f32_copies[k] = f.tensor(acc[k].first).to(DType::f32))).data();
      const float* b = base ? base_state[k].second.data() : nullptr;
      const float wi = float(w[i]);
      if (i == 0) {
        for (int64_t j = 0; j < n; ++j) a[j] = b ? wi * (b[j] + float(scale) * (s[j] - b[j])) : wi * s[j];
      } else {
        for (int64_t j = 0; j < n; ++j) a[j] += b ? wi * (b[j] + float(scale) * (s[j] - b[j])) : wi * s[j];
      }
    }
    if (hooks.progress) {
      optim::Progress p;
      p.step = p.global_step = int64_t(i + 1);
      p.steps_per_epoch = int64_t(paths.size());
      if (!hooks.progress(p)) throw Error(ErrorKind::cancelled, str_cat(task, ": cancelled by the progress callback"));
    }
  }
  for (const auto& [n, t] : acc) {
    ++out.tensors;
    if (bn.count(n)) ++out.kept_local;
    else ++out.averaged;
  }
  if (z > 0) {
    double wmax = 0;
    for (double x : w) wmax = std::max(wmax, x);
    const float sd = float(z * clip * wmax);
    Generator g(uint64_t(o.get_int("seed")));
    for (auto& [n, t] : acc) {
      if (bn.count(n)) continue;
      float* a = t.data();
      for (int64_t j = 0; j < t.numel(); ++j) a[j] += g.normal(0.f, sd);
    }
  }
  out.model->net->load_state(acc);  // the same tensors: refreshes what layers derive from them
  out.model->temperature.clear();   // a merged model is not calibrated by any site's calibration
  std::vector<Parent> parents;
  for (const std::string& p : paths) parents.push_back({"site", p});
  if (base) parents.push_back({"base", o.get_text("base")});
  io::Json metrics = io::Json::object();
  metrics.set("sites", int64_t(paths.size()));
  metrics.set("weights", io::Json::array_of(w));
  metrics.set("bn", local_bn ? "local" : "average");
  if (clip > 0) metrics.set("clip_update", clip), metrics.set("noise_multiplier", z);
  out.model->provenance = make_provenance(task, o, nullptr, parents, metrics);
  if (o.has("out")) save_model(*out.model, o.get_text("out"));
  return out;
}

}  // namespace liteai::app
