#include "liteai/nn/zoo.hpp"

#include <algorithm>
#include <unordered_map>
#include <cctype>
#include <map>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "liteai/autograd/autograd.hpp"
#include "liteai/io/json.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::nn {

// ---------------- ArchSpec ----------------
namespace {
bool parse_number(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  if (out) *out = v;
  return true;
}

}  // namespace

int64_t ArchSpec::get_int(const std::string& key, int64_t def) const {
  auto it = params.find(key);
  if (it == params.end()) return def;
  double v = 0;
  LAI_CHECK(parse_number(it->second, &v) && v == std::floor(v) && std::fabs(v) < 1e15, "architecture '", name,
            "': '", key, "' must be an integer, got '", it->second, "'");
  return static_cast<int64_t>(v);
}

double ArchSpec::get_double(const std::string& key, double def) const {
  auto it = params.find(key);
  if (it == params.end()) return def;
  double v = 0;
  LAI_CHECK(parse_number(it->second, &v), "architecture '", name, "': '", key, "' must be a number, got '",
            it->second, "'");
  return v;
}

std::string ArchSpec::get(const std::string& key, const std::string& def) const {
  auto it = params.find(key);
  return it == params.end() ? def : it->second;
}

ArchSpec& ArchSpec::set(const std::string& key, const std::string& value) {
  params[key] = value;
  return *this;
}

ArchSpec& ArchSpec::set(const std::string& key, double value) {
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
  else
    std::snprintf(buf, sizeof buf, "%.9g", value);
  params[key] = buf;
  return *this;
}

std::string ArchSpec::to_json() const {
  io::Json o = io::Json::object();
  o.set("name", name);
  for (const auto& [k, v] : params) {
    double x = 0;
    if (parse_number(v, &x)) o.set(k, io::Json::parse(v, "architecture value"));  // exact as written
    else if (v == "true" || v == "false") o.set(k, v == "true");
    else o.set(k, v);
  }
  return o.dump();
}

ArchSpec ArchSpec::from_json(const std::string& json) {
  const io::Json j = io::Json::parse(json, "architecture JSON");
  ArchSpec spec;
  for (const auto& [k, v] : j.as_object("architecture JSON")) {
    std::string text;
    switch (v.type()) {
      case io::Json::Type::string: text = v.as_string(); break;
      case io::Json::Type::boolean: text = v.as_bool() ? "true" : "false"; break;
      case io::Json::Type::number: text = v.dump(); break;
      default:
        throw_error(ErrorKind::format, str_cat("architecture JSON: '", k, "' must be a string, number or boolean (found ",
                                               v.type_name(), ")"));
    }
    if (k == "name") spec.name = text;
    else spec.params[k] = text;
  }
  LAI_CHECK_FORMAT(!spec.name.empty(), "architecture JSON: no \"name\" in '", json.substr(0, 200), "'");
  return spec;
}

void check_class_names(const std::vector<std::string>& names, const std::string& what) {
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto [at, fresh] = first.emplace(names[i], i);
    LAI_CHECK(fresh, what, ": class name '", names[i], "' appears at ", at->second, " and ", i,
              " (class names must be unique)");
  }
}

// ---------------- Model ----------------
Tensor Model::predict(const Tensor& x) {
  autograd::NoGrad ng;
  Tensor y;
  if (net->is_training()) {  // switch to inference behaviour for this call only
    net->eval();
    try {
      y = net->forward(x);
    } catch (...) {
      net->train(true);
      throw;
    }
    net->train(true);
  } else {
    y = net->forward(x);  // no mode change: concurrent calls are safe
  }
  switch (head()) {
    case Head::softmax: return ops::softmax(calibrated_logits(y), -1);
    case Head::sigmoid: return ops::sigmoid(calibrated_logits(y));
    case Head::none: break;
  }
  return y;
}

Tensor Model::calibrated_logits(const Tensor& logits) const {
  if (temperature.empty()) return logits;
  const int64_t C = logits.size(-1);
  LAI_CHECK(temperature.size() == 1 || int64_t(temperature.size()) == C, "model: ", temperature.size(),
            " calibration temperatures for ", C, " outputs");
  Tensor inv = Tensor::empty({C});
  for (int64_t c = 0; c < C; ++c) inv.data()[c] = 1.f / temperature[temperature.size() == 1 ? 0 : size_t(c)];
  return ops::mul(logits, inv);
}

const char* to_string(Head h) {
  switch (h) {
    case Head::softmax: return "softmax";
    case Head::sigmoid: return "sigmoid";
    case Head::none: return "none";
  }
  return "?";
}

Head head_from_string(const std::string& s) {
  if (s == "softmax") return Head::softmax;
  if (s == "sigmoid") return Head::sigmoid;
  if (s == "none") return Head::none;
  throw_error(str_cat("head: unknown name '", s, "' (softmax, sigmoid or none)"));
}

// ---------------- zoo ----------------
namespace {
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, Activation act, float l2, Generator& g, bool bias = true,
                             Init init = Init::glorot_uniform) {
  Conv2dOptions o;
  o.init = init;
  o.same = true;
  o.activation = act;
  o.l2 = l2;
  o.bias = bias;
  return std::make_shared<Conv2d>(in, out, 3, o, g);
}
std::shared_ptr<Dense> dense(int64_t in, int64_t out, Activation act, float l2, Generator& g,
                             Init init = Init::glorot_uniform) {
  DenseOptions o;
  o.init = init;
  o.activation = act;
  o.l2 = l2;
  return std::make_shared<Dense>(in, out, o, g);
}
void check_size(const char* model, int64_t size, int64_t multiple, int64_t channels, int64_t classes) {
  LAI_CHECK(size >= multiple && size % multiple == 0, model, ": size ", size, " must be a positive multiple of ",
            multiple);
  LAI_CHECK(channels >= 1 && channels <= 16, model, ": channels must be in 1..16, got ", channels);
  LAI_CHECK(classes >= 1 && classes <= 100000, model, ": classes must be >= 1, got ", classes);
}
}  // namespace

namespace {
// compact_cxr and compact_cxr_gap: the same three conv stages and bottleneck head; they differ in
// how the 128 feature maps become the 256-vector (a 134M-weight Dense at 512x512, or a global
// average pool and a 128 x 256 Dense). The swish layers start He-uniform: with Glorot (Keras'
// default) the signal shrinks by ~100x before the logits (1e-3 at init, measured) and training
// stalls for epochs (64 px phantoms, 6 epochs: 0.50 -> 0.57 test accuracy, the GAP form 0.20 ->
// 0.41); the output layer keeps Glorot.
ModulePtr compact_family(int64_t size, int64_t channels, int64_t classes, float l2, bool gap, Generator& g) {
  check_size(gap ? "compact_cxr_gap" : "compact_cxr", size, 8, channels, classes);
  auto net = std::make_shared<Sequential>();
  net->add("conv1", conv(channels, 32, Activation::swish, l2, g, true, Init::kaiming_uniform)).add("pool1", std::make_shared<AvgPool2d>(2));
  net->add("conv2", conv(32, 64, Activation::swish, l2, g, true, Init::kaiming_uniform)).add("pool2", std::make_shared<AvgPool2d>(2));
  net->add("conv3", conv(64, 128, Activation::swish, l2, g, true, Init::kaiming_uniform)).add("pool3", std::make_shared<AvgPool2d>(2));
  const int64_t s8 = size / 8;
  if (gap) {
    net->add("gap", std::make_shared<GlobalAvgPool2d>());
    net->add("fc1", dense(128, 256, Activation::swish, l2, g, Init::kaiming_uniform));
  } else {
    net->add("flatten", std::make_shared<Flatten>());
    net->add("fc1", dense(s8 * s8 * 128, 256, Activation::swish, l2, g, Init::kaiming_uniform));
  }
  auto bottleneck = std::make_shared<Sequential>();
  bottleneck->add("fc2", dense(256, 128, Activation::swish, l2, g, Init::kaiming_uniform)).add("fc3", dense(128, 256, Activation::none, l2, g));
  net->add("res", std::make_shared<Residual>(bottleneck));
  net->add("act", std::make_shared<ActivationLayer>(Activation::swish));
  net->add("out", dense(256, classes, Activation::none, l2, g));
  return net;
}
}  // namespace

ModulePtr compact_cxr(int64_t size, int64_t channels, int64_t classes, float l2, Generator& g) {
  return compact_family(size, channels, classes, l2, false, g);
}

ModulePtr compact_cxr_gap(int64_t size, int64_t channels, int64_t classes, float l2, Generator& g) {
  return compact_family(size, channels, classes, l2, true, g);
}

int64_t compact_cxr_parameter_count(int64_t size, int64_t channels, int64_t classes) {
  const int64_t s8 = size / 8;
  return (channels * 32 * 9 + 32) + (32 * 64 * 9 + 64) + (64 * 128 * 9 + 128) + (s8 * s8 * 128 * 256 + 256) +
         (256 * 128 + 128) + (128 * 256 + 256) + (256 * classes + classes);
}

ModulePtr teacher_cxr(int64_t size, int64_t channels, int64_t classes, int64_t width, float l2, Generator& g) {
  check_size("teacher_cxr", size, 16, channels, classes);
  LAI_CHECK(width >= 1 && width <= 512, "teacher_cxr: width must be in 1..512, got ", width);
  auto net = std::make_shared<Sequential>();
  int64_t in = channels;
  for (int stage = 1; stage <= 4; ++stage) {
    const int64_t out = width << (stage - 1);
    auto block = std::make_shared<Sequential>();
    block->add("conv1", conv(in, out, Activation::none, l2, g, false))
        .add("bn1", std::make_shared<BatchNorm2d>(out))
        .add("act1", std::make_shared<ActivationLayer>(Activation::swish))
        .add("conv2", conv(out, out, Activation::none, l2, g, false))
        .add("bn2", std::make_shared<BatchNorm2d>(out))
        .add("act2", std::make_shared<ActivationLayer>(Activation::swish))
        .add("pool", std::make_shared<AvgPool2d>(2));
    net->add(str_cat("stage", stage), block);
    in = out;
  }
  net->add("gap", std::make_shared<GlobalAvgPool2d>());
  net->add("fc1", dense(in, 256, Activation::swish, l2, g));
  net->add("drop", std::make_shared<Dropout>(0.2f, g.next_u64()));
  net->add("out", dense(256, classes, Activation::none, l2, g));
  return net;
}

ModulePtr small_cnn(int64_t size, int64_t channels, int64_t classes, Generator& g) {
  check_size("small_cnn", size, 4, channels, classes);
  // He (Kaiming) initialization for the ReLU layers, Glorot for the linear output.
  const Init he = Init::kaiming_uniform;
  auto net = std::make_shared<Sequential>();
  net->add("conv1", conv(channels, 32, Activation::relu, 0.f, g, true, he)).add("pool1", std::make_shared<MaxPool2d>(2));
  net->add("conv2", conv(32, 64, Activation::relu, 0.f, g, true, he)).add("pool2", std::make_shared<MaxPool2d>(2));
  net->add("flatten", std::make_shared<Flatten>());
  const int64_t s4 = size / 4;
  net->add("fc1", dense(s4 * s4 * 64, 128, Activation::relu, 0.f, g, he));
  net->add("out", dense(128, classes, Activation::none, 0.f, g));
  return net;
}

ModulePtr small_cnn_gmp(int64_t size, int64_t channels, int64_t classes, Generator& g) {
  check_size("small_cnn_gmp", size, 2, channels, classes);
  const Init he = Init::kaiming_uniform;
  auto net = std::make_shared<Sequential>();
  net->add("conv1", conv(channels, 32, Activation::relu, 0.f, g, true, he)).add("pool1", std::make_shared<MaxPool2d>(2));
  net->add("conv2", conv(32, 64, Activation::relu, 0.f, g, true, he)).add("gmp", std::make_shared<GlobalMaxPool2d>());
  net->add("fc1", dense(64, 128, Activation::relu, 0.f, g, he));
  net->add("out", dense(128, classes, Activation::none, 0.f, g));
  return net;
}

namespace {
// roi_cxr: the whole image and the crops through two towers, the crops' features max-pooled.
class RoiNet : public Module {
 public:
  RoiNet(int64_t crops, ModulePtr whole, ModulePtr crop, ModulePtr head)
      : crops_(crops), whole_(std::move(whole)), crop_(std::move(crop)), head_(std::move(head)) {
    add_child("whole", whole_);
    add_child("crop", crop_);
    add_child("head", head_);
  }
  Tensor forward(const Tensor& x) override {
    LAI_CHECK(x.dim() == 4 && x.size(1) == 1 + crops_, "roi_cxr: expects [N, ", 1 + crops_,
              ", H, W] (the whole image and ", crops_, " regions; a model trained with --roi makes them), got ",
              to_string(x.shape()));
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    const Tensor whole = whole_->run(ops::slice(x, 1, 0, 1));  // [n, F]
    const Tensor crops = ops::reshape(ops::contiguous(ops::slice(x, 1, 1, 1 + crops_)), {n * crops_, 1, h, w});
    Tensor f = crop_->run(crops);                              // [n k, F]
    f = ops::max(ops::reshape(f, {n, crops_, f.size(1)}), 1);  // [n, F]: the strongest region per feature
    return head_->run(ops::concat({whole, f}, 1));
  }
  std::string describe() const override { return str_cat("RoiNet(whole image + ", crops_, " regions)"); }

 private:
  int64_t crops_;
  ModulePtr whole_, crop_, head_;
};

ModulePtr roi_tower(int64_t width, float l2, Generator& g, bool max_pool = false) {
  auto t = std::make_shared<Sequential>();
  int64_t in = 1;
  for (int stage = 1; stage <= 3; ++stage) {
    const int64_t out = width << (stage - 1);
    t->add(str_cat("conv", stage), conv(in, out, Activation::swish, l2, g, true, Init::kaiming_uniform));
    t->add(str_cat("pool", stage), std::make_shared<AvgPool2d>(2));
    in = out;
  }
  if (max_pool) t->add("gmp", std::make_shared<GlobalMaxPool2d>());
  else t->add("gap", std::make_shared<GlobalAvgPool2d>());
  return t;
}
}  // namespace

ModulePtr roi_cxr(int64_t size, int64_t crops, int64_t classes, int64_t width, float l2, Generator& g) {
  check_size("roi_cxr", size, 8, 1, classes);
  LAI_CHECK(crops >= 1 && crops <= 64, "roi_cxr: crops must be in 1..64, got ", crops);
  LAI_CHECK(width >= 1 && width <= 256, "roi_cxr: width must be in 1..256, got ", width);
  ModulePtr whole = roi_tower(width, l2, g, false), crop = roi_tower(width, l2, g, true);
  auto head = std::make_shared<Sequential>();
  head->add("fc1", dense(8 * width, 4 * width, Activation::swish, l2, g, Init::kaiming_uniform));
  head->add("out", dense(4 * width, classes, Activation::none, l2, g));
  return std::make_shared<RoiNet>(crops, whole, crop, head);
}

ModulePtr autoencoder(int64_t size, int64_t channels, int64_t width, Generator& g) {
  check_size("autoencoder", size, 4, channels, 1);
  LAI_CHECK(width >= 1 && width <= 256, "autoencoder: width must be in 1..256, got ", width);
  auto net = std::make_shared<Sequential>();
  net->add("enc1", conv(channels, width, Activation::relu, 0.f, g)).add("pool1", std::make_shared<MaxPool2d>(2));
  net->add("enc2", conv(width, 2 * width, Activation::relu, 0.f, g)).add("pool2", std::make_shared<MaxPool2d>(2));
  net->add("enc3", conv(2 * width, 4 * width, Activation::relu, 0.f, g));
  ConvTranspose2dOptions up;
  up.stride = 2;
  up.activation = Activation::relu;
  net->add("dec1", std::make_shared<ConvTranspose2d>(4 * width, 2 * width, 2, up, g));
  net->add("dec2", std::make_shared<ConvTranspose2d>(2 * width, width, 2, up, g));
  net->add("dec3", conv(width, channels, Activation::none, 0.f, g));
  return net;
}

std::vector<std::string> zoo_names() {
  return {"compact_cxr", "compact_cxr_gap", "teacher_cxr", "small_cnn", "small_cnn_gmp", "roi_cxr", "autoencoder"};
}

namespace {
// The hyper-parameters each zoo entry takes ("standardize" is the preprocessing of every entry).
const std::vector<std::string>* accepted_keys(const std::string& name) {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"compact_cxr", {"size", "channels", "classes", "head", "l2", "standardize"}},
      {"compact_cxr_gap", {"size", "channels", "classes", "head", "l2", "standardize"}},
      {"teacher_cxr", {"size", "channels", "classes", "head", "width", "l2", "standardize"}},
      {"small_cnn", {"size", "channels", "classes", "head", "standardize"}},
      {"small_cnn_gmp", {"size", "channels", "classes", "head", "standardize"}},
      {"roi_cxr", {"size", "channels", "crops", "classes", "head", "width", "l2", "standardize"}},
      {"autoencoder", {"size", "channels", "width", "head", "standardize"}},
  };
  auto it = keys.find(name);
  return it == keys.end() ? nullptr : &it->second;
}
}  // namespace

std::shared_ptr<Model> build_model(const ArchSpec& spec_in, uint64_t seed) {
  ArchSpec spec = spec_in;
  Generator g(seed);
  auto m = std::make_shared<Model>();
  const std::string& n = spec.name;
  if (const std::vector<std::string>* keys = accepted_keys(n))
    for (const auto& [k, v] : spec.params)
      if (std::find(keys->begin(), keys->end(), k) == keys->end()) {
        std::string known;
        for (const auto& x : *keys) known += (known.empty() ? "" : ", ") + x;
        throw_error(str_cat("build_model: architecture '", n, "' has no parameter '", k, "' (it takes: ", known, ")"));
      }
  const int64_t channels = spec.get_int("channels", 1);
  const std::string head = spec.get("head", n == "autoencoder" ? "none" : "softmax");
  if (n == "autoencoder")
    LAI_CHECK(head == to_string(Head::none), n, ": head must be \"none\" (a reconstruction), got '", head, "'");
  else
    LAI_CHECK(head == to_string(Head::softmax) || head == to_string(Head::sigmoid), n,
              ": head must be \"softmax\" or \"sigmoid\", got '", head, "'");
  if (n == "compact_cxr" || n == "compact_cxr_gap" || n == "teacher_cxr") {
    const int64_t size = spec.get_int("size", 512), classes = spec.get_int("classes", 2);
    if (n != "teacher_cxr") {
      const double l2 = spec.get_double("l2", 0.01);
      m->net = n == "compact_cxr" ? compact_cxr(size, channels, classes, static_cast<float>(l2), g)
                                  : compact_cxr_gap(size, channels, classes, static_cast<float>(l2), g);
      spec.set("l2", l2);
    } else {
      const double l2 = spec.get_double("l2", 0.0);
      const int64_t width = spec.get_int("width", 32);
      m->net = teacher_cxr(size, channels, classes, width, static_cast<float>(l2), g);
      spec.set("width", static_cast<double>(width)).set("l2", l2);
    }
    spec.set("size", static_cast<double>(size)).set("classes", static_cast<double>(classes)).set("head", head);
    m->preprocessing = {size, size, channels, true, {}};
  } else if (n == "small_cnn" || n == "small_cnn_gmp") {
    const int64_t size = spec.get_int("size", 28), classes = spec.get_int("classes", 10);
    m->net = n == "small_cnn" ? small_cnn(size, channels, classes, g) : small_cnn_gmp(size, channels, classes, g);
    spec.set("size", static_cast<double>(size)).set("classes", static_cast<double>(classes)).set("head", head);
    m->preprocessing = {size, size, channels, false, {}};
  } else if (n == "roi_cxr") {
    LAI_CHECK(channels == 1, n, ": channels must be 1 (each plane is a gray image), got ", channels);
    const int64_t size = spec.get_int("size", 128), classes = spec.get_int("classes", 2);
    const int64_t crops = spec.get_int("crops", 2), width = spec.get_int("width", 16);
    const double l2 = spec.get_double("l2", 0.0);
    m->net = roi_cxr(size, crops, classes, width, static_cast<float>(l2), g);
    spec.set("size", static_cast<double>(size)).set("classes", static_cast<double>(classes)).set("head", head);
    spec.set("crops", static_cast<double>(crops)).set("width", static_cast<double>(width)).set("l2", l2);
    m->preprocessing = {size, size, channels, true, {}};
  } else if (n == "autoencoder") {
    const int64_t size = spec.get_int("size", 64), width = spec.get_int("width", 16);
    m->net = autoencoder(size, channels, width, g);
    spec.set("size", static_cast<double>(size)).set("width", static_cast<double>(width)).set("head", "none");
    m->preprocessing = {size, size, channels, true, {}};
  } else {
    throw_error(str_cat("build_model: unknown architecture '", n,
                        "' (known: compact_cxr, compact_cxr_gap, teacher_cxr, small_cnn, small_cnn_gmp, roi_cxr, autoencoder; a 'graph' "
                        "is read from a model file or made by nn::to_graph_model or an import)"));
  }
  spec.set("channels", static_cast<double>(channels));
  if (spec.params.count("standardize")) {
    const std::string v = spec.get("standardize", "");
    LAI_CHECK(v == "true" || v == "false", n, ": standardize must be true or false, got '", v, "'");
    m->preprocessing.standardize = v == "true";
  }
  m->arch = spec;
  const int64_t classes = spec.get_int("classes", 0);
  for (int64_t c = 0; c < classes; ++c) m->class_names.push_back(str_cat("class", c));
  return m;
}

std::shared_ptr<Model> build_model(const std::string& name, int64_t size, int64_t classes, uint64_t seed) {
  ArchSpec s;
  s.name = name;
  s.set("size", static_cast<double>(size));
  if (classes > 0) s.set("classes", static_cast<double>(classes));
  return build_model(s, seed);
}

}  // namespace liteai::nn
