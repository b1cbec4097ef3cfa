#include "liteai/nn/model_io.hpp"
#include "liteai/core/version.hpp"

#include <cmath>
#include <set>

#include "liteai/core/random.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/graph.hpp"
#include "nn/placeholder.hpp"

namespace liteai::nn {

namespace {
const char* kOptPrefix = "optimizer/";
const char* kExtraPrefix = "extra/";  // tensors a caller keeps beside the model (e.g. calibration maps)

const char* kGraphArch = "graph";

// The flat description, plus the node list for a graph.
io::Json arch_json(const Model& m) {
  io::Json a = io::Json::parse(m.arch.to_json(), "architecture");
  if (m.arch.name == kGraphArch) {
    const auto* g = dynamic_cast<const Graph*>(m.net.get());
    LAI_CHECK(g, "save_model: architecture 'graph' but the network is not an nn::Graph");
    a.set("graph", g->to_json());
  }
  return a;
}

ArchSpec arch_from_json(const io::Json& j, const std::string& what) {
  LAI_CHECK(j.is_object(), what, ": 'architecture' must be an object (found ", j.type_name(), ")");
  // ArchSpec is flat: nested values are refused by its parser with a clear message.
  io::Json flat = j;
  flat.erase("graph");
  return ArchSpec::from_json(flat.dump());
}

// The network the header describes, as shapes: placeholders, no memory, nothing initialized
// (placeholder.hpp). Zoo architectures check their hyper-parameters as they build.
std::shared_ptr<Model> skeleton(const io::Json& arch_j, const std::string& what) {
  const ArchSpec arch = arch_from_json(arch_j, what);
  detail::ShapeOnly shapes;
  if (arch.name != kGraphArch) return build_model(arch, 0);
  const io::Json* gj = arch_j.find("graph");
  LAI_CHECK(gj, what, ": architecture 'graph' has no 'graph' member (the node list)");
  auto m = std::make_shared<Model>();
  m->arch = arch;
  head_from_string(arch.get("head", "softmax"));
  m->net = Graph::from_json(*gj, what);
  return m;
}

io::NamedTensors all_tensors(const Model& model, const OptimizerState* opt, const NamedTensors* extra) {
  io::NamedTensors t;
  for (auto& [n, v] : model.net->state()) t.emplace_back(n, v.is_contiguous() ? v : v.contiguous());
  if (opt && !opt->name.empty())
    for (auto& [n, v] : opt->tensors) t.emplace_back(kOptPrefix + n, v);
  if (extra)
    for (auto& [n, v] : *extra) t.emplace_back(kExtraPrefix + n, v.is_contiguous() ? v : v.contiguous());
  return t;
}

io::Json full_header(const Model& model, const OptimizerState* opt, const io::Json& training) {
  io::Json h = model_header(model);
  if (opt && !opt->name.empty()) {
    io::Json o = io::Json::object();
    o.set("name", opt->name);
    io::Json meta = io::Json::object();
    for (auto& [k, v] : opt->meta) meta.set(k, v);
    o.set("meta", meta);
    h.set("optimizer", o);
  }
  if (!training.is_null()) h.set("training", training);
  return h;
}

SavedModel from_file(io::ModelFile f, bool with_optimizer, bool keep_bf16 = false) {
  const std::string what = f.source + " header";
  const io::Json& h = f.header;
  LAI_CHECK(h.is_object(), what, ": must be a JSON object");
  LAI_CHECK(h.get_string_or("kind", "", what) == "liteai-model", what, ": not a liteai model (kind '",
            h.get_string_or("kind", "", what), "'); was it written by another tool?");
  SavedModel out;
  out.header = h;
  out.model = skeleton(h.at("architecture", what), what);  // shapes only: nothing allocated yet
  Model& m = *out.model;
  const ArchSpec& arch = m.arch;
  if (h.contains("class_names")) {
    auto names = h.get_string_array("class_names", what);
    check_class_names(names, what);
    const int64_t classes = m.num_classes();
    LAI_CHECK(classes == 0 || static_cast<int64_t>(names.size()) == classes, what, ": ", names.size(),
              " class names for ", classes, " classes");
    m.class_names = names;
  }
  if (const io::Json* p = h.find("preprocessing")) {
    m.preprocessing.width = p->get_int_or("width", m.preprocessing.width, what);
    m.preprocessing.height = p->get_int_or("height", m.preprocessing.height, what);
    m.preprocessing.channels = p->get_int_or("channels", m.preprocessing.channels, what);
    m.preprocessing.standardize = p->get_bool_or("standardize", m.preprocessing.standardize, what);
    if (const io::Json* r = p->find("roi")) {
      RoiPreprocessing& roi = m.preprocessing.roi;
      roi.k = r->get_int("k", what);
      roi.size = r->get_int("size", what);
      roi.probmat = r->get_string("probmat", what);
      roi.probmat_sha256 = r->get_string("probmat_sha256", what);
      LAI_CHECK_FORMAT(roi.k >= 1 && roi.k <= 64 && roi.size >= 1 && roi.size <= 16384, what,
                       ": preprocessing.roi: k ", roi.k, " or size ", roi.size, " out of range");
      LAI_CHECK_FORMAT(roi.probmat_sha256.size() == 64 &&
                           roi.probmat_sha256.find_first_not_of("0123456789abcdef") == std::string::npos,
                       what, ": preprocessing.roi.probmat_sha256 is not a SHA-256");
      LAI_CHECK_FORMAT(arch.get_int("crops", roi.k) == roi.k, what, ": preprocessing.roi has ", roi.k,
                       " regions, the architecture ", arch.get_int("crops", 0));
    }
  }
  // Every tensor of the file and of the architecture, checked against each other before anything
  // is built for real; then the file's tensors become the parameters' storage (no second copy of
  // a 537 MB layer, nothing initialized only to be overwritten).
  const NamedTensors state = m.net->state();
  std::set<std::string> needed;
  for (auto& [name, t] : state) {
    const Tensor* src = f.find(name);
    LAI_CHECK(src, f.source, ": tensor '", name, "' of architecture '", arch.name, "' is missing");
    LAI_CHECK(src->shape() == t.shape(), f.source, ": tensor '", name, "' has shape ", to_string(src->shape()),
              ", architecture '", arch.name, "' expects ", to_string(t.shape()));
    needed.insert(name);
  }
  for (auto& [name, t] : f.tensors) {
    if (name.rfind(kOptPrefix, 0) == 0) {
      if (with_optimizer) out.optimizer.tensors.emplace_back(name.substr(std::string(kOptPrefix).size()), t);
      continue;
    }
    if (name.rfind(kExtraPrefix, 0) == 0) {
      out.extra.emplace_back(name.substr(std::string(kExtraPrefix).size()), t);
      continue;
    }
    LAI_CHECK(needed.count(name), f.source, ": tensor '", name, "' does not belong to architecture '", arch.name,
              "'");
  }
  for (auto& [name, t] : state) detail::adopt(t, *f.find(name), keep_bf16);
  if (const io::Json* o = h.find("optimizer"); o && with_optimizer) {
    out.optimizer.name = o->get_string("name", what);
    if (const io::Json* meta = o->find("meta"))
      for (auto& [k, v] : meta->as_object(what)) out.optimizer.meta[k] = v.as_number(what);
  } else {
    out.optimizer.tensors.clear();
  }
  if (const io::Json* t = h.find("training")) out.training = *t;
  if (const io::Json* c = h.find("calibration")) {
    LAI_CHECK(c->get_string("method", what) == "temperature", what, ": unknown calibration method '",
              c->get_string("method", what), "'");
    for (double t : c->get_number_array("temperature", what)) {
      LAI_CHECK(std::isfinite(t) && t > 0, what, ": calibration temperature ", t, " must be a positive number");
      m.temperature.push_back(float(t));
    }
    LAI_CHECK(m.temperature.size() == 1 || int64_t(m.temperature.size()) == m.num_classes(), what, ": ",
              m.temperature.size(), " calibration temperatures for ", m.num_classes(), " classes");
  }
  if (const io::Json* p = h.find("provenance")) {
    LAI_CHECK(p->is_object(), what, ": 'provenance' must be an object");
    m.provenance = *p;
  }
  m.net->eval();
  return out;
}
}  // namespace

io::Json model_header(const Model& model) {
  check_class_names(model.class_names, "save model");
  io::Json h = io::Json::object();
  h.set("kind", "liteai-model");
  h.set("architecture", arch_json(model));
  h.set("class_names", io::Json::array_of(model.class_names));
  io::Json p = io::Json::object();
  p.set("width", model.preprocessing.width);
  p.set("height", model.preprocessing.height);
  p.set("channels", model.preprocessing.channels);
  p.set("standardize", model.preprocessing.standardize);
  if (const RoiPreprocessing& roi = model.preprocessing.roi; roi.active()) {
    io::Json r = io::Json::object();
    r.set("k", roi.k);
    r.set("size", roi.size);
    r.set("probmat", roi.probmat);
    r.set("probmat_sha256", roi.probmat_sha256);
    p.set("roi", r);
  }
  h.set("preprocessing", p);
  h.set("parameters", model.net->parameter_count());
  h.set("library", str_cat("liteai ", version()));
  h.set("source_revision", source_revision());
  if (!model.temperature.empty()) {
    io::Json c = io::Json::object();
    c.set("method", "temperature");
    c.set("temperature", io::Json::array_of(model.temperature));
    h.set("calibration", c);
  }
  if (model.provenance.is_object()) h.set("provenance", model.provenance);
  return h;
}

void save_model(const std::string& path, const Model& model, const OptimizerState* optimizer,
                const io::Json& training, const NamedTensors* extra) {
  LAI_CHECK(model.net != nullptr, "save_model: the model has no network");
  io::save_model_file(path, full_header(model, optimizer, training), all_tensors(model, optimizer, extra));
}

std::vector<uint8_t> save_model_to_bytes(const Model& model, const OptimizerState* optimizer,
                                         const io::Json& training) {
  LAI_CHECK(model.net != nullptr, "save_model: the model has no network");
  return io::model_file_to_bytes(full_header(model, optimizer, training), all_tensors(model, optimizer, nullptr));
}

// Whatever the header or the tensors fail to satisfy is a damaged file (format), not a bad argument.
SavedModel load_model(const std::string& path, bool with_optimizer) {
  return reclassify(ErrorKind::format, [&] { return from_file(io::load_model_file(path), with_optimizer); });
}

SavedModel load_model_mapped(const std::string& path, bool with_optimizer, bool keep_bf16) {
  return reclassify(ErrorKind::format, [&] { return from_file(io::map_model_file(path), with_optimizer, keep_bf16); });
}

SavedModel load_model_for_inference(const std::string& path, Precision precision) {
  return reclassify(ErrorKind::format, [&] {
    io::LoadOptions o;
    if (precision != Precision::f32) {
      // The kernels of the architecture, from its network built as shapes.
      const io::Json table = io::read_model_file_table(path);
      const std::string what = path + " header";
      const io::Json& h = table.at("header", what);
      LAI_CHECK(h.is_object() && h.find("architecture"), what, ": no architecture");
      const std::shared_ptr<Model> probe = skeleton(h.at("architecture", what), what);
      auto kernels = std::make_shared<std::set<std::string>>();
      for (const ParameterInfo& p : probe->net->parameter_infos())
        if (p.is_kernel && (precision == Precision::bf16_compute || p.tensor.dim() == 2)) kernels->insert(p.name);
      o.as_bf16 = [kernels](const std::string& name) { return kernels->count(name) > 0; };
    }
    SavedModel out = from_file(io::load_model_file(path, o), false, true);
    Module& net = *out.model->net;
    net.set_requires_grad(false);
    net.eval();
    net.set_inference_precision(precision);
    return out;
  });
}

SavedModel load_model_from_bytes(const void* data, size_t size, const std::string& name, bool with_optimizer) {
  return reclassify(ErrorKind::format,
                    [&] { return from_file(io::model_file_from_bytes(data, size, name), with_optimizer); });
}

}  // namespace liteai::nn
