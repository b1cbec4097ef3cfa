#include "liteai/nn/explain.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "liteai/autograd/autograd.hpp"
#include "liteai/autograd/only_leaf.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/tap.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::nn {

namespace {

// A model in training mode is explained in eval mode (as Model::predict does).
class EvalFor {
 public:
  explicit EvalFor(Module& m) : m_(m), was_(m.is_training()) {
    if (was_) m_.eval();
  }
  ~EvalFor() {
    if (was_) m_.train();
  }
  EvalFor(const EvalFor&) = delete;
  EvalFor& operator=(const EvalFor&) = delete;

 private:
  Module& m_;
  bool was_;
};

void module_paths(const Module& m, const std::string& prefix, std::map<const Module*, std::string>* out) {
  for (const auto& [name, child] : m.children()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    out->emplace(child.get(), path);
    module_paths(*child, path, out);
  }
}

bool is_elementwise_op(const std::string& op) {
  static const std::set<std::string> ops = {"Relu",     "Swish",     "Sigmoid", "LeakyRelu", "HardSwish",
                                            "HardSigmoid", "Clip",   "Elu",     "Selu",      "Tanh",
                                            "BatchNormalization", "Dropout", "Identity", "Mish", "Softplus"};
  return ops.count(op) > 0;
}

// One output of a forward pass, in the order it was computed.
struct TraceEntry {
  std::string name, kind;
  Shape shape;
  bool conv = false, elementwise = false;
  std::string input;  // graphs: the value the producing node reads first
};

struct Trace {
  const Graph* graph = nullptr;  // the network when it is a graph
  std::map<const Module*, std::string> paths;
  std::vector<TraceEntry> entries;
};

Trace trace_forward(const Model& model, const Tensor& x) {
  Trace t;
  t.graph = dynamic_cast<const Graph*>(model.net.get());
  if (!t.graph) module_paths(*model.net, "", &t.paths);
  ForwardTap tap;
  if (t.graph) {
    tap.value = [&](const Graph& g, const std::string& v, const Tensor& y) {
      if (&g != t.graph) return y;
      TraceEntry e;
      e.name = v;
      e.shape = y.shape();
      if (const GraphNode* n = g.producer(v)) {
        e.kind = n->op;
        e.conv = n->op == "Conv";
        e.elementwise = is_elementwise_op(n->op);
        if (!n->inputs.empty()) e.input = n->inputs[0];
      }
      t.entries.push_back(std::move(e));
      return y;
    };
  } else {
    tap.module = [&](const Module& m, const Tensor& y) {
      auto it = t.paths.find(&m);
      if (it == t.paths.end()) return y;
      TraceEntry e;
      e.name = it->second;
      e.kind = m.describe();
      e.shape = y.shape();
      e.conv = dynamic_cast<const Conv2d*>(&m) != nullptr;
      e.elementwise = dynamic_cast<const BatchNorm2d*>(&m) || dynamic_cast<const ActivationLayer*>(&m) ||
                      dynamic_cast<const Dropout*>(&m);
      t.entries.push_back(std::move(e));
      return y;
    };
  }
  // Recording on (so no inference-only fusion skips an activation) but nothing requires grad.
  autograd::EnableGrad eg;
  autograd::OnlyLeaf only;
  TapScope scope(tap);
  model.net->forward(x);
  return t;
}

bool spatial(const Shape& s) { return s.size() == 4 && s[2] * s[3] > 1; }

std::string default_layer(const Trace& t) {
  const auto& e = t.entries;
  int last_conv = -1, last_4d = -1;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i].shape.size() != 4) continue;
    if (e[i].conv) last_conv = int(i);
    if (spatial(e[i].shape)) last_4d = int(i);
  }
  if (last_conv < 0) {
    LAI_CHECK(last_4d >= 0, "explain: the network has no 4-D activation to explain (no convolutional layer)");
    return e[size_t(last_4d)].name;
  }
  size_t j = size_t(last_conv);
  while (j + 1 < e.size() && e[j + 1].elementwise && e[j + 1].shape == e[j].shape &&
         (!t.graph || e[j + 1].input == e[j].name))
    ++j;
  return e[j].name;
}

std::string layer_list(const Trace& t) {
  std::string s;
  for (const auto& e : t.entries)
    if (e.shape.size() == 4) s += (s.empty() ? "" : ", ") + e.name;
  return s.empty() ? std::string("none") : s;
}

struct Target {
  const Module* module = nullptr;
  const Graph* graph = nullptr;
  std::string value;
};

Target resolve(const Model& model, const std::string& layer, const Tensor& x) {
  Target t;
  if (const Graph* g = dynamic_cast<const Graph*>(model.net.get())) {
    t.graph = g;
    if (g->producer(layer)) {
      t.value = layer;
      return t;
    }
    if (const GraphNode* n = g->find(layer); n && !n->outputs.empty()) {
      t.value = n->outputs[0];
      return t;
    }
  } else {
    std::map<const Module*, std::string> paths;
    module_paths(*model.net, "", &paths);
    for (const auto& [m, path] : paths)
      if (path == layer) {
        t.module = m;
        return t;
      }
  }
  throw_error(str_cat("explain: no layer '", layer, "' in the network (layers with a 4-D output: ",
                      layer_list(trace_forward(model, x)), ")"));
}

void upsample_bilinear(const float* src, int64_t h, int64_t w, float* dst, int64_t H, int64_t W) {
  for (int64_t y = 0; y < H; ++y) {
    const double sy = std::clamp((double(y) + 0.5) * double(h) / double(H) - 0.5, 0.0, double(h - 1));
    const int64_t y0 = int64_t(sy), y1 = std::min(y0 + 1, h - 1);
    const double fy = sy - double(y0);
    for (int64_t x = 0; x < W; ++x) {
      const double sx = std::clamp((double(x) + 0.5) * double(w) / double(W) - 0.5, 0.0, double(w - 1));
      const int64_t x0 = int64_t(sx), x1 = std::min(x0 + 1, w - 1);
      const double fx = sx - double(x0);
      const double top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const double bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      dst[y * W + x] = float(top * (1 - fy) + bot * fy);
    }
  }
}

}  // namespace

std::vector<ExplainableLayer> explainable_layers(const Model& model, const Shape& input_shape) {
  LAI_CHECK(model.net, "explain: the model has no network");
  EvalFor ev(*model.net);
  const Trace t = trace_forward(model, Tensor::zeros(input_shape));
  std::vector<ExplainableLayer> out;
  for (const auto& e : t.entries)
    if (e.shape.size() == 4) out.push_back({e.name, e.kind, e.shape});
  return out;
}

std::string default_gradcam_layer(const Model& model, const Shape& input_shape) {
  LAI_CHECK(model.net, "explain: the model has no network");
  EvalFor ev(*model.net);
  return default_layer(trace_forward(model, Tensor::zeros(input_shape)));
}

std::vector<float> gradcam_map(const GradCam& cam, int64_t width, int64_t height) {
  LAI_CHECK(width > 0 && height > 0, "explain: map size ", width, "x", height, " must be positive");
  LAI_CHECK(cam.cam_height > 0 && cam.cam_width > 0 && int64_t(cam.cam.size()) == cam.cam_height * cam.cam_width,
            "explain: no Grad-CAM to resize");
  std::vector<float> out(size_t(width * height));
  upsample_bilinear(cam.cam.data(), cam.cam_height, cam.cam_width, out.data(), height, width);
  const float hi = *std::max_element(out.begin(), out.end());
  for (float& v : out) v = hi > 0 ? std::clamp(v / hi, 0.f, 1.f) : 0.f;
  return out;
}

GradCam grad_cam(const Model& model, const Tensor& x, const GradCamOptions& o) {
  LAI_CHECK(model.net, "explain: the model has no network");
  LAI_CHECK(model.head() != Head::none, "explain: the model is not a classifier (head none): nothing to explain");
  LAI_CHECK(x.defined() && x.dim() == 4 && x.size(0) == 1, "explain: the input must be one image [1, C, H, W], got ",
            x.defined() ? to_string(x.shape()) : std::string("undefined"));
  EvalFor ev(*model.net);
  GradCam r;
  r.layer = o.layer.empty() ? default_layer(trace_forward(model, x)) : o.layer;
  const Target target = resolve(model, r.layer, x);

  autograd::EnableGrad eg;
  autograd::OnlyLeaf only;
  Tensor leaf, act;
  int hits = 0;
  auto capture = [&](const Tensor& y) -> Tensor {
    LAI_CHECK(++hits == 1, "explain: layer '", r.layer, "' runs more than once in a forward pass; name another");
    LAI_CHECK(y.dim() == 4 && y.size(0) == 1, "explain: layer '", r.layer, "' gives ", to_string(y.shape()),
              ", not a 4-D activation [1, K, h, w] (layers with a 4-D output: ",
              layer_list(trace_forward(model, x)), ")");
    act = y.detach().contiguous().clone();
    leaf = y.detach();
    leaf.set_requires_grad(true);
    only.allow(leaf);
    return leaf;
  };
  ForwardTap tap;
  if (target.module)
    tap.module = [&](const Module& m, const Tensor& y) { return &m == target.module ? capture(y) : y; };
  else
    tap.value = [&](const Graph& g, const std::string& v, const Tensor& y) {
      return &g == target.graph && v == target.value ? capture(y) : y;
    };
  Tensor logits;
  {
    TapScope scope(tap);
    logits = model.net->forward(x);
  }
  LAI_CHECK(hits == 1, "explain: layer '", r.layer, "' is not run by the network's forward pass");
  LAI_CHECK(logits.dim() == 2 && logits.size(0) == 1, "explain: the network returned ", to_string(logits.shape()),
            ", expected [1, classes]");
  const int64_t classes = logits.size(1);
  const std::vector<float> lv = logits.detach().contiguous().to_vector();
  {
    autograd::NoGrad ng;
    const Tensor cal = model.calibrated_logits(logits.detach());
    const Tensor p = model.head() == Head::softmax ? ops::softmax(cal, -1) : ops::sigmoid(cal);
    r.probabilities = p.contiguous().to_vector();
  }
  // Default: the most probable class (per-finding temperatures may reorder a sigmoid head's logits).
  r.class_index = o.class_index;
  if (r.class_index < 0)
    r.class_index = int64_t(std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin());
  LAI_CHECK(r.class_index < classes && size_t(classes) == r.probabilities.size(), "explain: class index ",
            r.class_index, " is out of range (the model has ", classes, " classes)");
  r.logit = lv[size_t(r.class_index)];
  r.probability = r.probabilities[size_t(r.class_index)];
  LAI_CHECK(logits.requires_grad(), "explain: the class scores do not depend on layer '", r.layer,
            "' through differentiable operations");
  Tensor seed = Tensor::zeros({1, classes});
  seed.data()[r.class_index] = 1.f;
  logits.backward(seed);
  Tensor g = leaf.grad();
  LAI_CHECK(g.defined(), "explain: the score of class ", r.class_index, " does not depend on layer '", r.layer, "'");
  g = g.contiguous();

  const int64_t K = act.size(1), h = act.size(2), w = act.size(3), hw = h * w;
  r.channels = K, r.cam_height = h, r.cam_width = w;
  const float* a = act.data();
  const float* gd = g.data();
  r.weights.assign(size_t(K), 0.0);
  for (int64_t k = 0; k < K; ++k) {
    double s = 0;
    for (int64_t i = 0; i < hw; ++i) s += gd[k * hw + i];
    r.weights[size_t(k)] = s / double(hw);
  }
  r.cam.assign(size_t(hw), 0.f);
  for (int64_t i = 0; i < hw; ++i) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += r.weights[size_t(k)] * a[k * hw + i];
    r.cam[size_t(i)] = float(std::max(0.0, s));
  }
  r.height = x.size(2), r.width = x.size(3);
  r.map = gradcam_map(r, r.width, r.height);
  return r;
}

}  // namespace liteai::nn
