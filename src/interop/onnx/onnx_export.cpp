// nn::Model -> ONNX (opset 13): every graph node as the ONNX node(s) of the same meaning, every
// node tensor an initializer named "<node>.<slot>"; a zoo net is written through its graph form.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "interop/onnx/onnx_common.hpp"
#include "liteai/io/json.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/graph.hpp"

namespace liteai::interop::onnx {

namespace {

class Exporter {
 public:
  explicit Exporter(ox::GraphProto& g) : g_(g) {}

  void initializer(const std::string& name, const Tensor& t) {
    ox::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    p->set_data_type(ox::TensorProto_DataType_FLOAT);
    for (int64_t d : t.shape()) p->add_dims(d);
    const Tensor c = t.contiguous();
    p->set_raw_data(std::string(reinterpret_cast<const char*>(c.data()), size_t(c.numel()) * 4));
  }
  std::string ints_initializer(const std::string& name, const std::vector<int64_t>& v) {
    ox::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    p->set_data_type(ox::TensorProto_DataType_INT64);
    p->add_dims(int64_t(v.size()));
    for (int64_t x : v) p->add_int64_data(x);
    return name;
  }
  std::string scalar_initializer(const std::string& name, float v) {
    initializer(name, Tensor::scalar(v));
    return name;
  }

  ox::NodeProto* node(const std::string& name, const std::string& op, const std::vector<std::string>& in,
                      const std::vector<std::string>& out) {
    ox::NodeProto* n = g_.add_node();
    n->set_name(name);
    n->set_op_type(op);
    for (const auto& v : in) n->add_input(v);
    for (const auto& v : out) n->add_output(v);
    return n;
  }
  static void attr(ox::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(ox::AttributeProto_AttributeType_INT);
    a->set_i(v);
  }
  static void attr(ox::NodeProto* n, const char* name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(ox::AttributeProto_AttributeType_FLOAT);
    a->set_f(v);
  }
  static void attr(ox::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(ox::AttributeProto_AttributeType_INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr(ox::NodeProto* n, const char* name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(ox::AttributeProto_AttributeType_STRING);
    a->set_s(v);
  }

  void value_info(google::protobuf::RepeatedPtrField<ox::ValueInfoProto>* list, const std::string& name,
                  const Shape& s) {
    ox::ValueInfoProto* v = list->Add();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(ox::TensorProto_DataType_FLOAT);
    auto* shape = tt->mutable_shape();
    for (size_t i = 0; i < s.size(); ++i) {
      auto* d = shape->add_dim();
      if (i == 0) d->set_dim_param("N");
      else d->set_dim_value(s[i]);
    }
  }

  void convert(const nn::Graph& graph, const nn::GraphNode& n) {
    const io::Json& a = n.attrs;
    auto ints = [&](const char* key, std::vector<int64_t> def) {
      return a.contains(key) ? a.get_int_array(key, "attrs") : def;
    };
    auto num = [&](const char* key, double def) { return a.contains(key) ? a.get_number(key, "attrs") : def; };
    auto slot = [&](const char* s) { return str_cat(n.name, ".", s); };
    auto tensors = [&](std::initializer_list<const char*> slots) {
      std::vector<std::string> names;
      for (const char* s : slots)
        if (graph.has_tensor(n.name, s)) {
          initializer(slot(s), graph.tensor(n.name, s));
          names.push_back(slot(s));
        }
      return names;
    };
    std::vector<std::string> in = n.inputs;
    const std::string& op = n.op;
    if (op == "Conv" || op == "ConvTranspose") {
      for (const auto& t : tensors({"weight", "bias"})) in.push_back(t);
      ox::NodeProto* p = node(n.name, op, in, n.outputs);
      const Shape w = graph.tensor(n.name, "weight").shape();
      attr(p, "kernel_shape", std::vector<int64_t>{w[2], w[3]});
      attr(p, "strides", ints("strides", {1, 1}));
      attr(p, "pads", ints("pads", {0, 0, 0, 0}));
      attr(p, "dilations", ints("dilations", {1, 1}));
      if (op == "Conv") attr(p, "group", int64_t(num("group", 1)));
      else attr(p, "output_padding", ints("output_padding", {0, 0}));
    } else if (op == "Dense") {
      for (const auto& t : tensors({"weight", "bias"})) in.push_back(t);
      node(n.name, "Gemm", in, n.outputs);  // w[in, out]: transB 0
    } else if (op == "BatchNormalization") {
      for (const auto& t : tensors({"scale", "bias", "mean", "var"})) in.push_back(t);
      ox::NodeProto* p = node(n.name, op, in, n.outputs);
      attr(p, "epsilon", float(num("epsilon", 1e-5)));
      attr(p, "momentum", float(num("momentum", 0.9)));
    } else if (op == "Swish") {
      const std::string s = n.outputs[0] + "/sigmoid";
      node(n.name + "_sigmoid", "Sigmoid", in, {s});
      node(n.name, "Mul", {in[0], s}, n.outputs);
    } else if (op == "LeakyRelu" || op == "HardSigmoid") {
      ox::NodeProto* p = node(n.name, op, in, n.outputs);
      attr(p, "alpha", float(num("alpha", op == "LeakyRelu" ? 0.01 : 0.2)));
      if (op == "HardSigmoid") attr(p, "beta", float(num("beta", 0.5)));
    } else if (op == "Clip") {
      in.push_back(a.contains("min") && !a.at("min").is_null() ? scalar_initializer(slot("min"), float(num("min", 0))) : "");
      in.push_back(a.contains("max") && !a.at("max").is_null() ? scalar_initializer(slot("max"), float(num("max", 0))) : "");
      while (!in.empty() && in.back().empty()) in.pop_back();
      node(n.name, op, in, n.outputs);
    } else if (op == "Dropout") {
      in.push_back(scalar_initializer(slot("ratio"), float(num("ratio", 0.5))));
      node(n.name, op, in, n.outputs);
    } else if (op == "Concat" || op == "Flatten" || op == "Softmax") {
      attr(node(n.name, op, in, n.outputs), "axis", a.get_int_or("axis", op == "Flatten" ? 1 : -1, "attrs"));
    } else if (op == "MaxPool" || op == "AveragePool") {
      ox::NodeProto* p = node(n.name, op, in, n.outputs);
      attr(p, "kernel_shape", ints("kernel_shape", {}));
      attr(p, "strides", ints("strides", {1, 1}));
      attr(p, "pads", ints("pads", {0, 0, 0, 0}));
      attr(p, "ceil_mode", a.get_int_or("ceil_mode", 0, "attrs"));
      if (op == "AveragePool") attr(p, "count_include_pad", a.get_int_or("count_include_pad", 0, "attrs"));
    } else if (op == "Transpose") {
      ox::NodeProto* p = node(n.name, op, in, n.outputs);
      if (a.contains("perm")) attr(p, "perm", ints("perm", {}));
    } else if (op == "Reshape") {
      LAI_CHECK_SUPPORTED(a.get_int_or("allowzero", 0, "attrs") == 0, "export: node '", n.name,
                          "' (Reshape): allowzero 1 needs opset 14 (export writes 13)");
      in.push_back(ints_initializer(slot("shape"), ints("shape", {})));
      node(n.name, op, in, n.outputs);
    } else if (op == "Squeeze" || op == "Unsqueeze") {
      if (a.contains("axes")) in.push_back(ints_initializer(slot("axes"), ints("axes", {})));
      node(n.name, op, in, n.outputs);
    } else if (op == "Pad") {
      in.push_back(ints_initializer(slot("pads"), ints("pads", {})));
      in.push_back(scalar_initializer(slot("value"), float(num("value", 0))));
      attr(node(n.name, op, in, n.outputs), "mode", std::string("constant"));
    } else if (op == "ReduceMean") {
      ox::NodeProto* p = node(n.name, op, in, n.outputs);
      if (a.contains("axes")) attr(p, "axes", ints("axes", {}));
      attr(p, "keepdims", a.get_int_or("keepdims", 1, "attrs"));
    } else if (op == "Constant") {
      initializer(n.outputs[0], graph.tensor(n.name, "value"));
    } else {
      // Relu, Sigmoid, Tanh, HardSwish, Identity, GlobalAveragePool, GlobalMaxPool, Add, Sub, Mul,
      // Div, MatMul: the same inputs, no attributes.
      static const char* const plain[] = {"Relu", "Sigmoid", "Tanh", "HardSwish", "Identity", "GlobalAveragePool",
                                          "GlobalMaxPool", "Add", "Sub", "Mul", "Div", "MatMul"};
      const bool known = std::any_of(std::begin(plain), std::end(plain), [&](const char* p) { return op == p; });
      LAI_CHECK_SUPPORTED(known, "export: node '", n.name, "' (", op, ") has no ONNX form");
      node(n.name, op, in, n.outputs);
    }
  }

 private:
  ox::GraphProto& g_;
};

ox::ModelProto to_onnx(const nn::Model& model) {
  LAI_CHECK(model.net != nullptr, "export: the model has no network");
  nn::GraphPtr holder;
  const auto* graph = dynamic_cast<const nn::Graph*>(model.net.get());
  if (!graph) {
    const nn::Preprocessing& p = model.preprocessing;
    holder = nn::to_graph(*model.net, {-1, p.channels, p.height, p.width});
    graph = holder.get();
  }
  graph->check();
  ox::ModelProto m;
  m.set_ir_version(kExportIrVersion);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(kExportOpset);
  m.set_producer_name("liteai");
  m.set_producer_version("0.1");
  auto meta = [&](const char* key, const std::string& value) {
    auto* e = m.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  };
  meta(kMetaClasses, io::Json::array_of(model.class_names).dump());
  meta(kMetaHead, nn::to_string(model.head()));
  io::Json pre = io::Json::object();
  pre.set("width", model.preprocessing.width);
  pre.set("height", model.preprocessing.height);
  pre.set("channels", model.preprocessing.channels);
  pre.set("standardize", model.preprocessing.standardize);
  meta(kMetaPreprocessing, pre.dump());

  ox::GraphProto& g = *m.mutable_graph();
  g.set_name(model.arch.name == "graph" ? model.arch.get("source", "liteai") : model.arch.name);
  Exporter e(g);
  const auto shapes = graph->infer_shapes(1);
  for (const auto& in : graph->inputs()) e.value_info(g.mutable_input(), in.name, in.shape);
  for (const auto& out : graph->outputs()) e.value_info(g.mutable_output(), out, shapes.at(out));
  for (const auto& n : graph->nodes()) e.convert(*graph, n);
  return m;
}

}  // namespace

std::vector<uint8_t> export_model_to_bytes(const nn::Model& model) {
  const ox::ModelProto m = to_onnx(model);
  check_onnx(m, "export");
  std::string bytes;
  LAI_CHECK_KIND(ErrorKind::internal, m.SerializeToString(&bytes), "export: protobuf serialization failed");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

void export_model(const nn::Model& model, const std::string& path) {
  const std::vector<uint8_t> bytes = export_model_to_bytes(model);  // checked before anything is written
  io::atomic_write_file(path, bytes.data(), bytes.size());
}

}  // namespace liteai::interop::onnx
