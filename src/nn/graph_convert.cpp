// Zoo networks (trees of Sequential, Residual and layers) as graphs.
#include <functional>

#include "liteai/autograd/autograd.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::nn {

namespace {
io::Json ints(std::initializer_list<int64_t> v) { return io::Json::array_of(std::vector<int64_t>(v)); }

class Converter {
 public:
  Converter(Graph& g, std::string input) : g_(g), value_(std::move(input)) {}

  void module(const Module& m, const std::string& path) {
    if (auto* s = dynamic_cast<const Sequential*>(&m)) {
      for (const auto& [name, child] : s->children()) module(*child, join(path, name));
    } else if (auto* r = dynamic_cast<const Residual*>(&m)) {
      const std::string skip = value_;
      module(*r->body, join(path, "body"));
      node(join(path, "add"), "Add", {skip, value_});
    } else if (auto* c = dynamic_cast<const Conv2d*>(&m)) {
      const int64_t pad = c->options.same ? (c->kernel - 1) / 2 : c->options.padding, st = c->options.stride;
      io::Json a = io::Json::object();
      a.set("kernel_shape", ints({c->kernel, c->kernel}));
      a.set("strides", ints({st, st}));
      a.set("pads", ints({pad, pad, pad, pad}));
      if (c->options.l2 != 0.f) a.set("l2", c->options.l2);
      node(path, "Conv", {value_}, a, weights(c->weight, c->bias));
      activation(c->options.activation, path);
    } else if (auto* d = dynamic_cast<const Dense*>(&m)) {
      if (rank() != 2) node(join(path, "flatten"), "Flatten", {value_}, axis1());
      io::Json a = io::Json::object();
      if (d->options.l2 != 0.f) a.set("l2", d->options.l2);
      node(path, "Dense", {value_}, a, weights(d->weight, d->bias));
      activation(d->options.activation, path);
    } else if (auto* t = dynamic_cast<const ConvTranspose2d*>(&m)) {
      const int64_t p = t->options.padding, st = t->options.stride;
      io::Json a = io::Json::object();
      a.set("kernel_shape", ints({t->kernel, t->kernel}));
      a.set("strides", ints({st, st}));
      a.set("pads", ints({p, p, p, p}));
      if (t->options.l2 != 0.f) a.set("l2", t->options.l2);
      node(path, "ConvTranspose", {value_}, a, weights(t->weight, t->bias));
      activation(t->options.activation, path);
    } else if (auto* b = dynamic_cast<const BatchNorm2d*>(&m)) {
      io::Json a = io::Json::object();
      a.set("epsilon", b->eps);
      a.set("momentum", 1.f - b->momentum);  // ONNX: the weight of the running value
      node(path, "BatchNormalization", {value_}, a, {{"scale", copy(b->gamma)}, {"bias", copy(b->beta)}},
           {{"mean", copy(b->running_mean)}, {"var", copy(b->running_var)}});
    } else if (auto* p = dynamic_cast<const AvgPool2d*>(&m)) {
      node(path, "AveragePool", {value_}, pool_attrs(p->kernel, p->stride));
    } else if (auto* p2 = dynamic_cast<const MaxPool2d*>(&m)) {
      node(path, "MaxPool", {value_}, pool_attrs(p2->kernel, p2->stride));
    } else if (dynamic_cast<const Flatten*>(&m)) {
      node(path, "Flatten", {value_}, axis1());
    } else if (dynamic_cast<const GlobalAvgPool2d*>(&m)) {
      node(path, "GlobalAveragePool", {value_});
      node(join(path, "flatten"), "Flatten", {value_}, axis1());
    } else if (dynamic_cast<const GlobalMaxPool2d*>(&m)) {
      node(path, "GlobalMaxPool", {value_});
      node(join(path, "flatten"), "Flatten", {value_}, axis1());
    } else if (auto* act = dynamic_cast<const ActivationLayer*>(&m)) {
      activation(act->act, path, /*suffix=*/false);
    } else if (auto* dr = dynamic_cast<const Dropout*>(&m)) {
      io::Json a = io::Json::object();
      a.set("ratio", dr->p);
      node(path, "Dropout", {value_}, a);
    } else {
      LAI_CHECK_SUPPORTED(false, "to_graph: layer '", path, "' (", m.describe(), ") has no graph form");
    }
  }

  const std::string& value() const { return value_; }

 private:
  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "_" + b; }
  static io::Json axis1() {
    io::Json a = io::Json::object();
    a.set("axis", 1);
    return a;
  }
  static io::Json pool_attrs(int64_t k, int64_t s) {
    io::Json a = io::Json::object();
    a.set("kernel_shape", ints({k, k}));
    a.set("strides", ints({s, s}));
    return a;
  }
  static Tensor copy(const Tensor& t) {
    autograd::NoGrad ng;
    return t.detach().clone();
  }
  static NamedTensors weights(const Tensor& w, const Tensor& b) {
    NamedTensors p{{"weight", copy(w)}};
    if (b.defined()) p.emplace_back("bias", copy(b));
    return p;
  }
  int64_t rank() const { return static_cast<int64_t>(g_.infer_shapes().at(value_).size()); }

  void activation(Activation a, const std::string& path, bool suffix = true) {
    const std::string name = suffix ? join(path, "act") : path;
    switch (a) {
      case Activation::none:
        if (!suffix) node(name, "Identity", {value_});
        return;
      case Activation::relu: node(name, "Relu", {value_}); return;
      case Activation::sigmoid: node(name, "Sigmoid", {value_}); return;
      case Activation::swish: node(name, "Swish", {value_}); return;
      case Activation::softmax: {
        io::Json at = io::Json::object();
        at.set("axis", -1);
        node(name, "Softmax", {value_}, at);
        return;
      }
    }
  }

  void node(const std::string& name, const std::string& op, std::vector<std::string> inputs,
            io::Json attrs = io::Json::object(), const NamedTensors& params = {}, const NamedTensors& buffers = {}) {
    g_.add_node({name, op, std::move(inputs), {name}, std::move(attrs)}, params, buffers);
    value_ = name;
  }

  Graph& g_;
  std::string value_;
};
}  // namespace

GraphPtr to_graph(const Module& net, const Shape& input_shape) {
  auto g = std::make_shared<Graph>();
  g->add_input("input", input_shape);
  Converter c(*g, "input");
  c.module(net, "");
  // The last node's output becomes "logits" (an Identity when that name is taken by a node).
  LAI_CHECK_SUPPORTED(c.value() != "input", "to_graph: the network has no layers");
  if (g->find("logits")) {
    g->add_node({"logits_out", "Identity", {c.value()}, {"logits"}});
  } else {
    GraphNode last = *g->producer(c.value());
    const NamedTensors p = g->params(last.name), b = g->buffers(last.name);
    last.outputs = {"logits"};
    g->replace_node(last.name, last, p, b);
  }
  g->add_output("logits");
  g->train(net.is_training());
  g->check();
  return g;
}

std::shared_ptr<Model> to_graph_model(const Model& model) {
  LAI_CHECK(model.net != nullptr, "to_graph_model: the model has no network");
  auto m = std::make_shared<Model>();
  const Preprocessing& p = model.preprocessing;
  m->net = to_graph(*model.net, {-1, p.channels, p.height, p.width});
  m->arch = model.arch;
  if (model.arch.name != "graph") m->arch.set("source", model.arch.name);
  m->arch.name = "graph";
  m->class_names = model.class_names;
  m->preprocessing = model.preprocessing;
  return m;
}

}  // namespace liteai::nn
