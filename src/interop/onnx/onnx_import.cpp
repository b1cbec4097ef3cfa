// ONNX -> nn::Graph. The file is parsed by the ONNX library's protobuf classes and checked by its
// checker; then every node becomes graph nodes (or a constant, when it computes on constants only:
// shape arithmetic is evaluated here). Shapes come from the graph being built (nn::Graph's own,
// checked inference), never from ONNX's shape inference: that one trusts the file and crashes on
// hostile ones (a scalar Conv weight, a Gemm input of the wrong rank).
#include <onnx/defs/schema.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "interop/onnx/onnx_common.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/graph.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::interop::onnx {

const char* to_string(Preprocess p) {
  switch (p) {
    case Preprocess::imagenet: return "imagenet";
    case Preprocess::standardize: return "standardize";
    case Preprocess::unit: return "unit";
  }
  return "?";
}

Preprocess preprocess_from_string(const std::string& s) {
  for (Preprocess p : {Preprocess::imagenet, Preprocess::standardize, Preprocess::unit})
    if (s == to_string(p)) return p;
  throw_error(str_cat("preprocess: unknown name '", s, "' (imagenet, standardize or unit)"));
}

namespace {

// Limits on what a file may ask for (the model's whole tensor data is also bounded by them).
constexpr uint64_t kMaxFileBytes = uint64_t(2) << 30;  // protobuf's own message limit
constexpr int64_t kMaxTensorElements = int64_t(1) << 31;
constexpr uint64_t kMaxTotalBytes = uint64_t(16) << 30;

// A dimension that is the batch size (symbolic in the file, known only at run time).
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min() / 2;
constexpr int64_t kUnknown = -2;  // a dimension that is neither a number nor the batch size

std::string dims_text(const Shape& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i)
    o += (i ? ", " : "") + (s[i] == kBatch ? std::string("N") : s[i] == kUnknown ? std::string("?") : std::to_string(s[i]));
  return o + "]";
}

// A value known at import time: an initializer, a Constant node, or computed from them.
struct Const {
  Shape dims;
  bool is_int = false;
  std::vector<int64_t> ints;  // is_int (kBatch may appear: a dimension copied from the batch size)
  Tensor floats;              // !is_int, f32 with `dims`
  bool trainable = false;     // an initializer: a parameter of the model
  int64_t numel() const { return liteai::numel(dims); }
  std::vector<double> values() const {
    std::vector<double> v;
    if (is_int) {
      for (int64_t x : ints) v.push_back(double(x));
    } else {
      for (float x : floats.to_vector()) v.push_back(x);
    }
    return v;
  }
};

Const int_const(Shape dims, std::vector<int64_t> v) {
  Const c;
  c.dims = std::move(dims);
  c.is_int = true;
  c.ints = std::move(v);
  return c;
}
Const float_const(Tensor t) {
  Const c;
  c.dims = t.shape();
  c.floats = t;
  return c;
}

// A node name for the graph: PyTorch's scoped names repeat each module's path in the next
// component ("/features/features.0/features.0.0/Conv"): only the last of such a chain is kept
// ("features_0_0_Conv").
std::string sanitize(const std::string& s);
std::string node_base_name(const std::string& onnx_name) {
  std::vector<std::string> parts;
  size_t b = 0;
  for (size_t e; (e = onnx_name.find('/', b)) != std::string::npos || b < onnx_name.size(); b = e + 1) {
    if (e == std::string::npos) e = onnx_name.size();
    if (e > b) parts.push_back(onnx_name.substr(b, e - b));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool repeated = i + 1 < parts.size() && parts[i + 1].rfind(parts[i] + ".", 0) == 0;
    if (!repeated) out += out.empty() ? parts[i] : "/" + parts[i];
  }
  return sanitize(out);
}

// Strips what graph node names may not hold; ONNX names are free text ("/features/conv0/Conv").
std::string sanitize(const std::string& s) {
  std::string o;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    o += ok ? c : '_';
  }
  const size_t b = o.find_first_not_of('_');
  return b == std::string::npos ? std::string() : o.substr(b);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (m & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

class Importer {
 public:
  Importer(const std::string& name, std::string dir, const ImportOptions& o) : name_(name), dir_(std::move(dir)), o_(o) {}

  std::shared_ptr<nn::Model> run(ox::ModelProto& m) {
    read_opset(m);
    // External data: only files below the model's folder; then the checker, which reads them.
    bool external = false;
    for (const auto& t : m.graph().initializer())
      if (t.data_location() == ox::TensorProto_DataLocation_EXTERNAL) external = true, external_location(t);
    check_onnx(m, name_, external && !dir_.empty() ? name_ : "");
    inputs_ = graph_inputs(m.graph());
    LAI_CHECK_SUPPORTED(!inputs_.empty(), name_, ": the graph has no inputs");
    LAI_CHECK_FORMAT(m.graph().output_size() > 0, name_, ": the graph has no outputs");
    fix_input_sizes(m);
    for (const auto& t : m.graph().initializer()) {
      Const c = tensor_const(t, str_cat("initializer '", t.name(), "'"));
      c.trainable = true;
      consts_[t.name()] = std::move(c);
    }
    g_ = std::make_shared<nn::Graph>();
    add_inputs();
    for (const auto& n : m.graph().node()) convert(n);
    for (const auto& out : m.graph().output()) {
      const std::string v = value(out.name());
      LAI_CHECK_SUPPORTED(!consts_.count(out.name()), name_, ": output '", out.name(), "' is a constant");
      LAI_CHECK_SUPPORTED(!extra_outputs_.count(out.name()), name_, ": output '", out.name(), "' is an extra output of ",
                          extra_outputs_[out.name()], " (not supported)");
      outputs_.push_back(v);
      g_->add_output(v);
    }
    fuse_swish();
    return finish(m);
  }

 private:
  // ---------------- the file ----------------
  void read_opset(const ox::ModelProto& m) {
    for (const auto& op : m.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") opset_ = op.version();
    LAI_CHECK_FORMAT(opset_ > 0, name_, ": no opset for the default ONNX domain");
    LAI_CHECK_SUPPORTED(opset_ >= 7 && opset_ <= 17, name_, ": opset ", opset_, " is not supported (7 to 17)");
    for (const auto& meta : m.metadata_props()) meta_[meta.key()] = meta.value();
  }

  struct Input {
    std::string name;
    Shape dims;  // kBatch / kUnknown where the file has no number
  };
  static std::vector<Input> graph_inputs(const ox::GraphProto& g) {
    std::set<std::string> init;
    for (const auto& t : g.initializer()) init.insert(t.name());
    std::vector<Input> out;
    for (const auto& in : g.input()) {
      if (init.count(in.name())) continue;  // old IR versions list initializers as inputs
      out.push_back({in.name(), type_dims(in.type(), true)});
    }
    return out;
  }
  static Shape type_dims(const ox::TypeProto& t, bool batch_first) {
    Shape s;
    if (!t.has_tensor_type() || !t.tensor_type().has_shape()) return s;
    const auto& dims = t.tensor_type().shape().dim();
    for (int i = 0; i < dims.size(); ++i) {
      const auto& d = dims[i];
      if (i == 0 && batch_first) s.push_back(kBatch);
      else s.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : kUnknown);
    }
    return s;
  }

  // The input's height and width from the options (or the file), the batch symbolic: every other
  // dimension of the graph is then a number.
  void fix_input_sizes(const ox::ModelProto& m) {
    for (const auto& in : m.graph().input()) {
      auto it = std::find_if(inputs_.begin(), inputs_.end(), [&](const Input& i) { return i.name == in.name(); });
      if (it == inputs_.end()) continue;
      const auto* tt = &in.type().tensor_type();
      LAI_CHECK_SUPPORTED(tt->elem_type() == ox::TensorProto_DataType_FLOAT, name_, ": input '", in.name(),
                          "' must be float (found element type ", tt->elem_type(), ")");
      LAI_CHECK_SUPPORTED(tt->has_shape() && tt->shape().dim_size() >= 1, name_, ": input '", in.name(),
                          "' has no shape");
      if (o_.size > 0 && it->dims.size() == 4) it->dims[2] = it->dims[3] = o_.size;
      for (size_t d = 1; d < it->dims.size(); ++d)
        LAI_CHECK_SUPPORTED(it->dims[d] > 0, name_, ": input '", in.name(), "' has a symbolic dimension ", d,
                            " (give the input size)");
    }
  }

  // ---------------- tensors ----------------
  // Only files beside the model (or below its folder): never an absolute path or '..'.
  std::string external_location(const ox::TensorProto& t) const {
    const std::string what = str_cat("initializer '", t.name(), "'");
    std::string location;
    for (const auto& kv : t.external_data())
      if (kv.key() == "location") location = kv.value();
    LAI_CHECK_FORMAT(!location.empty(), name_, ": ", what, ": external data without a location");
    LAI_CHECK_FORMAT(location[0] != '/' && location.find("..") == std::string::npos &&
                         location.find('\0') == std::string::npos,
                     name_, ": ", what, ": external data location '", location,
                     "' must be a relative path inside the model's folder");
    LAI_CHECK_SUPPORTED(!dir_.empty(), name_, ": ", what, ": external data needs the model as a file (its folder)");
    return location;
  }

  std::vector<uint8_t> external_bytes(const ox::TensorProto& t, const std::string& what) {
    int64_t offset = 0, length = -1;
    for (const auto& kv : t.external_data()) {
      if (kv.key() == "offset") offset = parse_count(kv.value(), what + " external offset");
      else if (kv.key() == "length") length = parse_count(kv.value(), what + " external length");
    }
    const std::string path = dir_ + "/" + external_location(t);
    return read_file_range(path, uint64_t(offset), length, kMaxFileBytes, str_cat(path, " (", what, ")"));
  }
  int64_t parse_count(const std::string& s, const std::string& what) const {
    LAI_CHECK_FORMAT(!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos, name_,
                     ": ", what, " '", s, "' is not a count");
    return std::stoll(s);
  }

  Const tensor_const(const ox::TensorProto& t, const std::string& what) {
    Shape dims;
    int64_t n = 1;
    for (int64_t d : t.dims()) {
      LAI_CHECK_FORMAT(d >= 0, name_, ": ", what, " has a negative dimension ", d);
      dims.push_back(d);
      n = d == 0 ? 0 : (n > kMaxTensorElements / d ? kMaxTensorElements + 1 : n * d);
    }
    LAI_CHECK_FORMAT(n <= kMaxTensorElements, name_, ": ", what, " has too many elements (", dims_text(dims), ")");
    const int type = t.data_type();
    size_t elem = 0;
    bool is_int = false;
    switch (type) {
      case ox::TensorProto_DataType_FLOAT: elem = 4; break;
      case ox::TensorProto_DataType_DOUBLE: elem = 8; break;
      case ox::TensorProto_DataType_FLOAT16: elem = 2; break;
      case ox::TensorProto_DataType_INT64: elem = 8, is_int = true; break;
      case ox::TensorProto_DataType_INT32: elem = 4, is_int = true; break;
      case ox::TensorProto_DataType_INT16:
      case ox::TensorProto_DataType_UINT16: elem = 2, is_int = true; break;
      case ox::TensorProto_DataType_INT8:
      case ox::TensorProto_DataType_UINT8:
      case ox::TensorProto_DataType_BOOL: elem = 1, is_int = true; break;
      default:
        throw_error(ErrorKind::not_supported, str_cat(name_, ": ", what, ": element type ",
                                                      ox::TensorProto_DataType_Name(ox::TensorProto_DataType(type)),
                                                      " is not supported"));
    }
    total_bytes_ += uint64_t(n) * elem;
    LAI_CHECK_FORMAT(total_bytes_ <= kMaxTotalBytes, name_, ": the constants exceed ", kMaxTotalBytes >> 30, " GB");
    // The raw little-endian bytes, from wherever they are stored.
    std::vector<uint8_t> raw;
    const std::string* raw_ref = nullptr;
    if (t.data_location() == ox::TensorProto_DataLocation_EXTERNAL) {
      raw = external_bytes(t, what);
    } else if (t.has_raw_data()) {
      raw_ref = &t.raw_data();
    }
    const uint8_t* bytes = raw_ref ? reinterpret_cast<const uint8_t*>(raw_ref->data()) : raw.data();
    const size_t nbytes = raw_ref ? raw_ref->size() : raw.size();
    const bool from_raw = raw_ref || t.data_location() == ox::TensorProto_DataLocation_EXTERNAL;
    if (from_raw)
      LAI_CHECK_FORMAT(nbytes == size_t(n) * elem, name_, ": ", what, ": ", nbytes, " data bytes for ", n,
                       " elements of ", elem, " bytes");
    auto raw_value = [&](int64_t i) -> double {
      const uint8_t* p = bytes + size_t(i) * elem;
      switch (type) {
        case ox::TensorProto_DataType_FLOAT: { float v; std::memcpy(&v, p, 4); return v; }
        case ox::TensorProto_DataType_DOUBLE: { double v; std::memcpy(&v, p, 8); return v; }
        case ox::TensorProto_DataType_FLOAT16: { uint16_t v; std::memcpy(&v, p, 2); return half_to_float(v); }
        case ox::TensorProto_DataType_INT64: { int64_t v; std::memcpy(&v, p, 8); return double(v); }
        case ox::TensorProto_DataType_INT32: { int32_t v; std::memcpy(&v, p, 4); return v; }
        case ox::TensorProto_DataType_INT16: { int16_t v; std::memcpy(&v, p, 2); return v; }
        case ox::TensorProto_DataType_UINT16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
        case ox::TensorProto_DataType_INT8: return double(int8_t(*p));
        default: return double(*p);
      }
    };
    // The typed fields: float_data (float), double_data, int64_data, int32_data (the small ints
    // and float16 bits).
    auto field_count = [&]() -> int64_t {
      switch (type) {
        case ox::TensorProto_DataType_FLOAT: return t.float_data_size();
        case ox::TensorProto_DataType_DOUBLE: return t.double_data_size();
        case ox::TensorProto_DataType_INT64: return t.int64_data_size();
        default: return t.int32_data_size();
      }
    };
    if (!from_raw)
      LAI_CHECK_FORMAT(field_count() == n, name_, ": ", what, ": ", field_count(), " values for ", n, " elements");
    auto field_value = [&](int64_t i) -> double {
      switch (type) {
        case ox::TensorProto_DataType_FLOAT: return t.float_data(int(i));
        case ox::TensorProto_DataType_DOUBLE: return t.double_data(int(i));
        case ox::TensorProto_DataType_INT64: return double(t.int64_data(int(i)));
        case ox::TensorProto_DataType_FLOAT16: return half_to_float(uint16_t(t.int32_data(int(i))));
        default: return t.int32_data(int(i));
      }
    };
    if (is_int) {
      std::vector<int64_t> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        if (type == ox::TensorProto_DataType_INT64) {
          if (from_raw) std::memcpy(&v[size_t(i)], bytes + size_t(i) * 8, 8);
          else v[size_t(i)] = t.int64_data(int(i));
        } else {
          v[size_t(i)] = int64_t(from_raw ? raw_value(i) : field_value(i));
        }
      }
      return int_const(dims, std::move(v));
    }
    Tensor f = Tensor::empty(dims);
    if (type == ox::TensorProto_DataType_FLOAT && from_raw) {
      if (n) std::memcpy(f.data(), bytes, size_t(n) * 4);
    } else {
      for (int64_t i = 0; i < n; ++i) f.data()[i] = static_cast<float>(from_raw ? raw_value(i) : field_value(i));
    }
    return float_const(f);
  }

  // ---------------- values ----------------
  // Identity outputs are aliases of their inputs.
  std::string value(const std::string& v) const {
    auto it = alias_.find(v);
    return it == alias_.end() ? v : it->second;
  }
  bool is_const(const std::string& v) const { return !v.empty() && consts_.count(value(v)); }
  const Const& constant(const std::string& v) const { return consts_.at(value(v)); }

  // A graph value for an input: a constant becomes a Constant node the first time it is read.
  std::string runtime(const std::string& v) {
    const std::string name = value(v);
    auto it = consts_.find(name);
    if (it == consts_.end()) {
      LAI_CHECK_FORMAT(produced_.count(name), name_, ": value '", name, "' is used before it is computed");
      return name;
    }
    if (materialized_.insert(name).second) {
      const Const& c = it->second;
      LAI_CHECK_SUPPORTED(!c.is_int, name_, ": integer constant '", name, "' used as data (only shapes may be integers)");
      nn::GraphNode n{unique_name("const_" + sanitize(name)), "Constant", {}, {name}};
      if (c.trainable) g_->add_node(n, {{"value", c.floats}});
      else g_->add_node(n, {}, {{"value", c.floats}});
      produced_.insert(name);
      shapes_[name] = c.dims;
    }
    return name;
  }

  // The graph's own errors (a shape conflict naming the node) are the file's: format, named.
  template <class F>
  decltype(auto) about_file(F&& fn) const {
    try {
      return fn();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::invalid_argument) throw;
      throw Error(ErrorKind::format, str_cat(name_, ": ", e.what()));
    }
  }
  // A value's shape ({} when it has none yet). Graph values are inferred by the graph built so far,
  // at batch sizes 2 and 3: a dimension that follows them is the batch (kBatch), one that changes
  // otherwise is kUnknown.
  Shape shape_of(const std::string& v) {
    const std::string name = value(v);
    if (auto c = consts_.find(name); c != consts_.end()) return c->second.dims;
    auto it = shapes_.find(name);
    if (it == shapes_.end() && produced_.count(name)) {
      const auto two = about_file([&] { return g_->infer_shapes(2); });
      const auto three = about_file([&] { return g_->infer_shapes(3); });
      for (const auto& [k, a] : two) {
        const Shape& b = three.at(k);
        Shape s = a;
        for (size_t d = 0; d < s.size(); ++d)
          if (a[d] != b[d]) s[d] = a[d] == 2 && b[d] == 3 ? kBatch : kUnknown;
        shapes_[k] = s;
      }
      it = shapes_.find(name);
    }
    return it == shapes_.end() ? Shape{} : it->second;
  }

  std::string unique_name(std::string base) {
    if (base.empty()) base = "node";
    std::string n = base;
    for (int k = 2; !node_names_.insert(n).second; ++k) n = str_cat(base, "_", k);
    return n;
  }

  // ---------------- nodes ----------------
  struct Node {
    const ox::NodeProto& p;
    std::string label;  // "model.onnx: node '/features/conv0/Conv' (Conv)"
    std::string who;    // "node '/features/conv0/Conv' (Conv)"
    const ox::AttributeProto* attr(const char* name) const {
      for (const auto& a : p.attribute())
        if (a.name() == name) return &a;
      return nullptr;
    }
    int64_t i(const char* name, int64_t def) const {
      const auto* a = attr(name);
      return a ? a->i() : def;
    }
    float f(const char* name, float def) const {
      const auto* a = attr(name);
      return a ? a->f() : def;
    }
    std::string s(const char* name, const std::string& def) const {
      const auto* a = attr(name);
      return a ? a->s() : def;
    }
    std::vector<int64_t> ints(const char* name, std::vector<int64_t> def) const {
      const auto* a = attr(name);
      return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
    }
    const std::string& in(int k) const {
      static const std::string none;
      return k < p.input_size() ? p.input(k) : none;
    }
    bool has_in(int k) const { return k < p.input_size() && !p.input(k).empty(); }
    [[noreturn]] void unsupported(const std::string& what) const {
      throw_error(ErrorKind::not_supported, str_cat(label, ": ", what));
    }
    void need(bool ok, const std::string& what) const {
      if (!ok) unsupported(what);
    }
  };

  // Outputs past the first must not be read by anyone (MaxPool's indices, Dropout's mask, ...).
  void only_first_output(const Node& n) {
    for (int k = 1; k < n.p.output_size(); ++k)
      if (!n.p.output(k).empty()) extra_outputs_[n.p.output(k)] = n.who;
  }

  void add(const Node& n, const std::string& op, std::vector<std::string> inputs, io::Json attrs = io::Json::object(),
           const nn::NamedTensors& params = {}, const nn::NamedTensors& buffers = {}, std::string output = "") {
    if (output.empty()) output = n.p.output(0);
    for (auto& in : inputs) in = runtime(in);
    std::string base = node_base_name(n.p.name());
    if (base.empty()) base = str_cat(n.p.op_type(), "_", node_index_);
    g_->add_node({unique_name(base), op, std::move(inputs), {output}, std::move(attrs)}, params, buffers);
    produced_.insert(output);
  }

  // A constant input the operator needs as data it owns (weights).
  const Const& const_input(const Node& n, int k, const char* role) {
    n.need(n.has_in(k) && is_const(n.in(k)), str_cat("input ", k, " ('", role, "') must be a constant (an initializer)"));
    const Const& c = constant(n.in(k));
    n.need(!c.is_int, str_cat("input ", k, " ('", role, "') must be floating point"));
    return c;
  }
  std::vector<int64_t> const_ints(const Node& n, int k, const char* role) {
    n.need(n.has_in(k) && is_const(n.in(k)), str_cat("input ", k, " ('", role, "') must be a constant"));
    const Const& c = constant(n.in(k));
    if (c.is_int) return c.ints;
    std::vector<int64_t> v;
    for (double d : c.values()) v.push_back(int64_t(d));
    return v;
  }
  float const_scalar(const Node& n, int k, float def) {
    if (!n.has_in(k)) return def;
    n.need(is_const(n.in(k)) && constant(n.in(k)).numel() == 1, str_cat("input ", k, " must be a constant scalar"));
    return float(constant(n.in(k)).values()[0]);
  }

  static io::Json ints_json(const std::vector<int64_t>& v) { return io::Json::array_of(v); }

  // Pads for auto_pad SAME_UPPER / SAME_LOWER / VALID (ONNX's rules), from the static input size.
  std::vector<int64_t> resolve_pads(const Node& n, const std::vector<int64_t>& k,
                                    const std::vector<int64_t>& st, const std::vector<int64_t>& dl) {
    const std::string ap = n.s("auto_pad", "NOTSET");
    if (ap == "NOTSET") {
      auto pads = n.ints("pads", {0, 0, 0, 0});
      n.need(pads.size() == 4, "attribute 'pads' must have 4 values (2-D only)");
      return pads;
    }
    if (ap == "VALID") return {0, 0, 0, 0};
    n.need(ap == "SAME_UPPER" || ap == "SAME_LOWER", str_cat("attribute 'auto_pad' value '", ap, "' is not supported"));
    const Shape x = shape_of(n.in(0));
    n.need(x.size() == 4 && x[2] > 0 && x[3] > 0, "attribute 'auto_pad': the input's size must be known");
    std::vector<int64_t> p(4);
    for (int d = 0; d < 2; ++d) {
      const int64_t in = x[size_t(2 + d)], out = (in + st[size_t(d)] - 1) / st[size_t(d)];
      const int64_t total = std::max<int64_t>(0, (out - 1) * st[size_t(d)] + (k[size_t(d)] - 1) * dl[size_t(d)] + 1 - in);
      const int64_t small = total / 2, big = total - small;
      p[size_t(d)] = ap == "SAME_UPPER" ? small : big;
      p[size_t(d + 2)] = ap == "SAME_UPPER" ? big : small;
    }
    return p;
  }
  std::vector<int64_t> two(const Node& n, const char* name, int64_t def) {
    auto v = n.ints(name, {def, def});
    n.need(v.size() == 2, str_cat("attribute '", name, "' must have 2 values (2-D only)"));
    return v;
  }

  void convert(const ox::NodeProto& p) {
    ++node_index_;
    const std::string& op = p.op_type();
    const std::string who = str_cat("node '", p.name().empty() ? str_cat("#", node_index_) : p.name(), "' (", op, ")");
    Node n{p, str_cat(name_, ": ", who), who};
    if (!p.domain().empty() && p.domain() != "ai.onnx") n.unsupported(str_cat("operator domain '", p.domain(), "' is not supported"));
    for (const auto& in : p.input())
      if (extra_outputs_.count(in)) n.unsupported(str_cat("reads '", in, "', an extra output of ", extra_outputs_[in], " (not supported)"));
    if (fold(n)) return;
    if (op == "Conv") return conv(n);
    if (op == "ConvTranspose") return conv_transpose(n);
    if (op == "BatchNormalization") return batch_norm(n);
    if (op == "Gemm") return gemm(n);
    if (op == "MaxPool" || op == "AveragePool") return pool(n);
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish" || op == "GlobalAveragePool" ||
        op == "GlobalMaxPool") {
      only_first_output(n);
      return add(n, op, {n.in(0)});
    }
    if (op == "LeakyRelu") return unary_attrs(n, {{"alpha", n.f("alpha", 0.01f)}});
    if (op == "HardSigmoid") return unary_attrs(n, {{"alpha", n.f("alpha", 0.2f)}, {"beta", n.f("beta", 0.5f)}});
    if (op == "Clip") return clip(n);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "MatMul") {
      n.need(p.input_size() == 2, "needs 2 inputs");
      return add(n, op, {n.in(0), n.in(1)});
    }
    if (op == "Concat") {
      n.need(n.attr("axis") != nullptr, "attribute 'axis' is missing");
      std::vector<std::string> ins(p.input().begin(), p.input().end());
      io::Json a = io::Json::object();
      a.set("axis", n.i("axis", 0));
      return add(n, op, ins, a);
    }
    if (op == "Flatten") return unary_attrs(n, {{"axis", n.i("axis", 1)}});
    if (op == "Transpose") {
      io::Json a = io::Json::object();
      if (n.attr("perm")) a.set("perm", ints_json(n.ints("perm", {})));
      return add(n, op, {n.in(0)}, a);
    }
    if (op == "Reshape") return reshape(n);
    if (op == "Squeeze" || op == "Unsqueeze") return squeeze(n);
    if (op == "Pad") return pad(n);
    if (op == "ReduceMean") return reduce_mean(n);
    if (op == "Softmax") return softmax(n);
    if (op == "Dropout") return dropout(n);
    n.unsupported(
        "operator not supported (liteai imports Conv, ConvTranspose, BatchNormalization, Relu, LeakyRelu, Sigmoid, "
        "Tanh, HardSigmoid, HardSwish, Clip, Add, Sub, Mul, Div, MatMul, Gemm, Concat, MaxPool, AveragePool, "
        "GlobalAveragePool, GlobalMaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Pad, ReduceMean, Softmax, "
        "Dropout, Identity, Constant, and Shape/Gather/Cast/Slice/ConstantOfShape on constants)");
  }

  void unary_attrs(const Node& n, std::initializer_list<std::pair<const char*, io::Json>> kv) {
    io::Json a = io::Json::object();
    for (const auto& [k, v] : kv) a.set(k, v);
    add(n, n.p.op_type(), {n.in(0)}, a);
  }

  void conv(const Node& n) {
    const Const& w = const_input(n, 1, "W");
    n.need(w.dims.size() == 4, str_cat("weight ", dims_text(w.dims), ": only 2-D convolution is supported"));
    if (n.attr("kernel_shape"))
      n.need(n.ints("kernel_shape", {}) == std::vector<int64_t>{w.dims[2], w.dims[3]},
             "attribute 'kernel_shape' does not match the weight");
    const auto st = two(n, "strides", 1), dl = two(n, "dilations", 1);
    const auto pads = resolve_pads(n, {w.dims[2], w.dims[3]}, st, dl);
    io::Json a = io::Json::object();
    a.set("kernel_shape", ints_json({w.dims[2], w.dims[3]}));
    a.set("strides", ints_json(st));
    a.set("pads", ints_json(pads));
    a.set("dilations", ints_json(dl));
    a.set("group", n.i("group", 1));
    nn::NamedTensors params{{"weight", w.floats}};
    if (n.has_in(2)) params.emplace_back("bias", const_input(n, 2, "B").floats);
    add(n, "Conv", {n.in(0)}, a, params);
  }

  void conv_transpose(const Node& n) {
    const Const& w = const_input(n, 1, "W");
    n.need(w.dims.size() == 4, str_cat("weight ", dims_text(w.dims), ": only 2-D transposed convolution is supported"));
    n.need(n.i("group", 1) == 1, str_cat("attribute 'group' = ", n.i("group", 1), " is not supported (1 only)"));
    const auto st = two(n, "strides", 1), dl = two(n, "dilations", 1);
    auto op = two(n, "output_padding", 0);
    std::vector<int64_t> pads = n.ints("pads", {0, 0, 0, 0});
    const std::string ap = n.s("auto_pad", "NOTSET");
    const Shape x = shape_of(n.in(0));
    if (n.attr("output_shape") || ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      // ONNX: total padding from the wanted output size, split by auto_pad.
      n.need(x.size() == 4 && x[2] > 0 && x[3] > 0, "attribute 'output_shape'/'auto_pad': the input's size must be known");
      std::vector<int64_t> out = n.ints("output_shape", {x[2] * st[0], x[3] * st[1]});
      if (out.size() == 4) out = {out[2], out[3]};
      n.need(out.size() == 2, "attribute 'output_shape' must have 2 values");
      for (int d = 0; d < 2; ++d) {
        const int64_t total = st[size_t(d)] * (x[size_t(2 + d)] - 1) + op[size_t(d)] +
                              ((w.dims[size_t(2 + d)] - 1) * dl[size_t(d)] + 1) - out[size_t(d)];
        n.need(total >= 0, "attribute 'output_shape' is larger than the convolution can give");
        const int64_t half = total / 2;
        pads[size_t(d)] = ap == "SAME_UPPER" ? half : total - half;
        pads[size_t(d + 2)] = ap == "SAME_UPPER" ? total - half : half;
      }
    } else if (ap == "VALID") {
      pads = {0, 0, 0, 0};
    } else {
      n.need(ap == "NOTSET", str_cat("attribute 'auto_pad' value '", ap, "' is not supported"));
    }
    n.need(pads.size() == 4, "attribute 'pads' must have 4 values");
    io::Json a = io::Json::object();
    a.set("kernel_shape", ints_json({w.dims[2], w.dims[3]}));
    a.set("strides", ints_json(st));
    a.set("pads", ints_json(pads));
    a.set("dilations", ints_json(dl));
    a.set("output_padding", ints_json(op));
    nn::NamedTensors params{{"weight", w.floats}};
    if (n.has_in(2)) params.emplace_back("bias", const_input(n, 2, "B").floats);
    add(n, "ConvTranspose", {n.in(0)}, a, params);
  }

  void batch_norm(const Node& n) {
    n.need(n.i("training_mode", 0) == 0, "attribute 'training_mode' = 1 is not supported (inference form only)");
    n.need(n.i("spatial", 1) == 1, "attribute 'spatial' = 0 is not supported");
    only_first_output(n);  // the running-statistics outputs (training form) may not be read
    io::Json a = io::Json::object();
    a.set("epsilon", n.f("epsilon", 1e-5f));
    a.set("momentum", n.f("momentum", 0.9f));
    auto copy = [](const Const& c) { return c.floats; };
    add(n, "BatchNormalization", {n.in(0)}, a,
        {{"scale", copy(const_input(n, 1, "scale"))}, {"bias", copy(const_input(n, 2, "B"))}},
        {{"mean", copy(const_input(n, 3, "mean"))}, {"var", copy(const_input(n, 4, "var"))}});
  }

  void gemm(const Node& n) {
    const float alpha = n.f("alpha", 1.f), beta = n.f("beta", 1.f);
    const bool ta = n.i("transA", 0) != 0, tb = n.i("transB", 0) != 0;
    const Const& b = const_input(n, 1, "B");
    n.need(b.dims.size() == 2, "input 1 ('B') must be 2-D");
    // Dense keeps w[in, out] (B, or B^T with transB), alpha folded in.
    autograd::NoGrad ng;
    Tensor w = (tb ? b.floats.transpose(0, 1) : b.floats).contiguous().clone();
    if (alpha != 1.f) w = w * alpha;
    const int64_t out = w.size(1);
    nn::NamedTensors params{{"weight", w}};
    if (n.has_in(2) && beta != 0.f) {
      const Const& c = const_input(n, 2, "C");
      n.need(c.numel() == out || c.numel() == 1, str_cat("input 2 ('C') ", dims_text(c.dims), ": only a bias of ", out,
                                                         " values (or one) is supported"));
      Tensor bias = c.numel() == 1 ? Tensor::full({out}, c.floats.to_vector()[0]) : c.floats.reshape({out}).clone();
      if (beta != 1.f) bias = bias * beta;
      params.emplace_back("bias", bias);
    }
    std::string x = n.in(0);
    if (ta) {
      const std::string t = n.p.output(0) + "/transposed_A";
      io::Json a = io::Json::object();
      a.set("perm", ints_json({1, 0}));
      add(n, "Transpose", {x}, a, {}, {}, t);
      x = t;
    }
    add(n, "Dense", {x}, io::Json::object(), params);
  }

  void pool(const Node& n) {
    const std::string& op = n.p.op_type();
    only_first_output(n);
    const auto k = n.ints("kernel_shape", {});
    n.need(k.size() == 2, "attribute 'kernel_shape' must have 2 values (2-D only)");
    const auto st = two(n, "strides", 1), dl = two(n, "dilations", 1);
    n.need(dl[0] == 1 && dl[1] == 1, "attribute 'dilations' other than 1 is not supported");
    n.need(n.i("storage_order", 0) == 0, "attribute 'storage_order' = 1 is not supported");
    io::Json a = io::Json::object();
    a.set("kernel_shape", ints_json(k));
    a.set("strides", ints_json(st));
    a.set("pads", ints_json(resolve_pads(n, k, st, dl)));
    a.set("ceil_mode", n.i("ceil_mode", 0));
    if (op == "AveragePool") a.set("count_include_pad", n.i("count_include_pad", 0));
    add(n, op, {n.in(0)}, a);
  }

  void clip(const Node& n) {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (opset_ < 11) {
      lo = n.f("min", lo), hi = n.f("max", hi);
    } else {
      lo = const_scalar(n, 1, lo), hi = const_scalar(n, 2, hi);
    }
    io::Json a = io::Json::object();
    if (std::isfinite(lo)) a.set("min", lo);
    if (std::isfinite(hi)) a.set("max", hi);
    add(n, "Clip", {n.in(0)}, a);
  }

  // A shape from a constant, with a batch-size dimension kept as 0 ("copy dimension 0").
  std::vector<int64_t> target_shape(const Node& n, std::vector<int64_t> s, bool allowzero) {
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == kBatch) {
        n.need(i == 0 && !allowzero && !shape_of(n.in(0)).empty() && shape_of(n.in(0))[0] == kBatch,
               "input 1 ('shape') uses the batch size other than as the first dimension");
        s[i] = 0;
      }
    return s;
  }

  void reshape(const Node& n) {
    std::vector<int64_t> s;
    if (opset_ < 5) s = n.ints("shape", {});
    else s = const_ints(n, 1, "shape");
    const bool allowzero = n.i("allowzero", 0) != 0;
    io::Json a = io::Json::object();
    a.set("shape", ints_json(target_shape(n, s, allowzero)));
    if (allowzero) a.set("allowzero", 1);
    add(n, "Reshape", {n.in(0)}, a);
  }

  std::vector<int64_t> axes_of(const Node& n, int input, int since) {
    if (opset_ >= since) return n.has_in(input) ? const_ints(n, input, "axes") : std::vector<int64_t>{};
    return n.ints("axes", {});
  }

  void squeeze(const Node& n) {
    const auto axes = axes_of(n, 1, 13);
    io::Json a = io::Json::object();
    if (!axes.empty()) a.set("axes", ints_json(axes));
    add(n, n.p.op_type(), {n.in(0)}, a);
  }

  void pad(const Node& n) {
    const std::string mode = n.s("mode", "constant");
    n.need(mode == "constant", str_cat("attribute 'mode' = '", mode, "' is not supported (constant only)"));
    std::vector<int64_t> pads;
    float v = 0.f;
    if (opset_ < 11) {
      pads = n.ints("pads", {}), v = n.f("value", 0.f);
    } else {
      pads = const_ints(n, 1, "pads");
      v = const_scalar(n, 2, 0.f);
      if (n.has_in(3)) {  // opset 18: pads for some axes only
        const auto axes = const_ints(n, 3, "axes");
        const int64_t r = int64_t(shape_of(n.in(0)).size());
        std::vector<int64_t> full(size_t(2 * r), 0);
        for (size_t i = 0; i < axes.size(); ++i) {
          const int64_t ax = axes[i] < 0 ? axes[i] + r : axes[i];
          n.need(ax >= 0 && ax < r && pads.size() == 2 * axes.size(), "input 3 ('axes') does not match the pads");
          full[size_t(ax)] = pads[i], full[size_t(ax + r)] = pads[i + axes.size()];
        }
        pads = full;
      }
    }
    io::Json a = io::Json::object();
    a.set("pads", ints_json(pads));
    a.set("value", v);
    add(n, "Pad", {n.in(0)}, a);
  }

  void reduce_mean(const Node& n) {
    const auto axes = axes_of(n, 1, 18);
    if (axes.empty() && n.i("noop_with_empty_axes", 0) != 0) {
      alias_[n.p.output(0)] = value(n.in(0));
      return;
    }
    io::Json a = io::Json::object();
    if (!axes.empty()) a.set("axes", ints_json(axes));
    a.set("keepdims", n.i("keepdims", 1));
    add(n, "ReduceMean", {n.in(0)}, a);
  }

  void softmax(const Node& n) {
    const Shape x = shape_of(n.in(0));
    const int64_t r = int64_t(x.size());
    int64_t axis = n.i("axis", opset_ < 13 ? 1 : -1);
    n.need(r > 0 && axis >= -r && axis < r, "attribute 'axis' is out of range for the input");
    if (axis < 0) axis += r;
    io::Json a = io::Json::object();
    if (opset_ >= 13 || axis == r - 1) {
      a.set("axis", axis);
      return add(n, "Softmax", {n.in(0)}, a);
    }
    // Before opset 13: softmax over all dimensions from `axis` on, as one (flatten, softmax, back).
    const std::string flat = n.p.output(0) + "/flat", soft = n.p.output(0) + "/soft";
    a.set("axis", axis);
    add(n, "Flatten", {n.in(0)}, a, {}, {}, flat);
    io::Json s = io::Json::object();
    s.set("axis", 1);
    add(n, "Softmax", {flat}, s, {}, {}, soft);
    Shape back = x;
    for (auto& d : back) n.need(d > 0 || d == kBatch, "the input's shape must be known");
    back[0] = 0;
    io::Json rs = io::Json::object();
    rs.set("shape", ints_json(back));
    add(n, "Reshape", {soft}, rs);
  }

  void dropout(const Node& n) {
    only_first_output(n);
    float ratio = n.f("ratio", 0.5f);
    if (opset_ >= 12) {
      ratio = const_scalar(n, 1, 0.5f);
      if (n.has_in(2))
        n.need(is_const(n.in(2)) && constant(n.in(2)).values().at(0) == 0.0,
               "input 2 ('training_mode') must be a constant false");
    }
    n.need(ratio >= 0.f && ratio < 1.f, str_cat("ratio ", ratio, " is not in [0, 1)"));
    unary_attrs(n, {{"ratio", ratio}});
  }

  // ---------------- constant evaluation ----------------
  // Nodes whose inputs are all known (and Shape of a value of known shape) are computed here.
  bool fold(const Node& n) {
    const std::string& op = n.p.op_type();
    const std::string& out = n.p.output_size() > 0 ? n.p.output(0) : std::string();
    if (op == "Identity") {
      alias_[out] = value(n.in(0));
      return true;
    }
    if (op == "Constant") {
      consts_[out] = constant_attr(n);
      return true;
    }
    if (op == "Shape") {
      Shape s = shape_of(n.in(0));
      n.need(!s.empty(), "the input's shape is unknown");
      for (int64_t d : s) n.need(d != kUnknown, str_cat("the input's shape ", dims_text(s), " is not static"));
      const int64_t r = int64_t(s.size());
      int64_t b = n.i("start", 0), e = n.i("end", r);
      b = std::clamp<int64_t>(b < 0 ? b + r : b, 0, r), e = std::clamp<int64_t>(e < 0 ? e + r : e, 0, r);
      std::vector<int64_t> v(s.begin() + b, s.begin() + std::max(b, e));
      consts_[out] = int_const({int64_t(v.size())}, v);
      return true;
    }
    for (const auto& in : n.p.input())
      if (!in.empty() && !is_const(in)) return false;
    if (op == "Cast") {
      const Const& c = constant(n.in(0));
      const int64_t to = n.i("to", ox::TensorProto_DataType_FLOAT);
      const bool to_float = to == ox::TensorProto_DataType_FLOAT || to == ox::TensorProto_DataType_DOUBLE ||
                            to == ox::TensorProto_DataType_FLOAT16;
      if (to_float == !c.is_int) {
        consts_[out] = c;
      } else if (to_float) {
        n.need(std::find(c.ints.begin(), c.ints.end(), kBatch) == c.ints.end(), "the batch size cast to float");
        std::vector<float> f;
        for (int64_t v : c.ints) f.push_back(float(v));
        consts_[out] = float_const(Tensor::from_vector(f, c.dims));
      } else {
        std::vector<int64_t> v;
        for (double d : c.values()) v.push_back(int64_t(d));
        consts_[out] = int_const(c.dims, v);
      }
      consts_[out].trainable = false;
      return true;
    }
    if (op == "Gather") return fold_gather(n);
    if (op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" || op == "Flatten") return fold_reshape(n);
    if (op == "Concat") return fold_concat(n);
    if (op == "Slice") return fold_slice(n);
    if (op == "ConstantOfShape") {
      const auto dims = const_ints(n, 0, "shape");
      for (int64_t d : dims) n.need(d >= 0 && d != kBatch && d <= kMaxTensorElements, "a shape of the batch size or out of range");
      Const v = int_const({1}, {0});
      if (const auto* a = n.attr("value")) v = tensor_const(a->t(), "attribute 'value'");
      n.need(v.numel() == 1, "attribute 'value' must hold one value");
      const int64_t count = numel(dims);
      n.need(count <= kMaxTensorElements, "too many elements");
      if (v.is_int) consts_[out] = int_const(dims, std::vector<int64_t>(size_t(count), v.ints[0]));
      else consts_[out] = float_const(Tensor::full(dims, v.floats.to_vector()[0]));
      return true;
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return fold_arith(n);
    return false;
  }

  Const constant_attr(const Node& n) {
    if (const auto* a = n.attr("value")) return tensor_const(a->t(), "attribute 'value'");
    if (const auto* a = n.attr("value_float")) return float_const(Tensor::from_vector({a->f()}, {}));
    if (const auto* a = n.attr("value_floats"))
      return float_const(Tensor::from_vector(std::vector<float>(a->floats().begin(), a->floats().end()), {a->floats_size()}));
    if (const auto* a = n.attr("value_int")) return int_const({}, {a->i()});
    if (const auto* a = n.attr("value_ints"))
      return int_const({a->ints_size()}, std::vector<int64_t>(a->ints().begin(), a->ints().end()));
    n.unsupported("only tensor, float(s) and int(s) constants are supported");
  }

  // Integer constants (shape arithmetic) or small float ones, as doubles in row-major order.
  static Const from_values(const Const& like, Shape dims, const std::vector<double>& v) {
    if (like.is_int) {
      std::vector<int64_t> iv;
      for (double d : v) iv.push_back(int64_t(d));
      return int_const(std::move(dims), iv);
    }
    std::vector<float> f(v.begin(), v.end());
    return float_const(Tensor::from_vector(f, dims));
  }
  // Row-major values of a constant, keeping kBatch exact for integer ones.
  static std::vector<int64_t> raw_ints(const Const& c) {
    if (c.is_int) return c.ints;
    std::vector<int64_t> v;
    for (double d : c.values()) v.push_back(int64_t(d));
    return v;
  }

  bool fold_gather(const Node& n) {
    const Const& data = constant(n.in(0));
    const Const& idx = constant(n.in(1));
    const int64_t r = int64_t(data.dims.size());
    int64_t axis = n.i("axis", 0);
    n.need(r >= 1 && axis >= -r && axis < r, "attribute 'axis' out of range");
    if (axis < 0) axis += r;
    const int64_t outer = numel(Shape(data.dims.begin(), data.dims.begin() + axis));
    const int64_t inner = numel(Shape(data.dims.begin() + axis + 1, data.dims.end())), len = data.dims[size_t(axis)];
    Shape dims(data.dims.begin(), data.dims.begin() + axis);
    for (int64_t d : idx.dims) dims.push_back(d);
    dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
    const std::vector<int64_t> iv = raw_ints(idx);
    if (data.is_int) {
      std::vector<int64_t> out;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i : iv) {
          n.need(i >= -len && i < len, "an index out of range");
          const int64_t j = i < 0 ? i + len : i;
          for (int64_t k = 0; k < inner; ++k) out.push_back(data.ints[size_t((o * len + j) * inner + k)]);
        }
      consts_[n.p.output(0)] = int_const(dims, out);
    } else {
      const std::vector<double> v = data.values();
      std::vector<double> out;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i : iv) {
          n.need(i >= -len && i < len, "an index out of range");
          const int64_t j = i < 0 ? i + len : i;
          for (int64_t k = 0; k < inner; ++k) out.push_back(v[size_t((o * len + j) * inner + k)]);
        }
      consts_[n.p.output(0)] = from_values(data, dims, out);
    }
    return true;
  }

  bool fold_reshape(const Node& n) {
    const std::string& op = n.p.op_type();
    Const c = constant(n.in(0));
    c.trainable = false;
    const int64_t r = int64_t(c.dims.size());
    Shape dims;
    if (op == "Flatten") {
      int64_t axis = n.i("axis", 1);
      if (axis < 0) axis += r;
      n.need(axis >= 0 && axis <= r, "attribute 'axis' out of range");
      dims = {numel(Shape(c.dims.begin(), c.dims.begin() + axis)), numel(Shape(c.dims.begin() + axis, c.dims.end()))};
    } else if (op == "Reshape") {
      std::vector<int64_t> s = opset_ < 5 ? n.ints("shape", {}) : const_ints(n, 1, "shape");
      int64_t infer = -1, known = 1;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == 0 && n.i("allowzero", 0) == 0) {
          n.need(int64_t(i) < r, "shape entry 0 past the input's rank");
          s[i] = c.dims[i];
        }
        if (s[i] == -1) infer = int64_t(i);
        else known *= s[i];
      }
      if (infer >= 0) s[size_t(infer)] = known > 0 ? c.numel() / known : 0;
      dims = s;
    } else {
      const auto axes = axes_of(n, 1, 13);
      std::vector<int64_t> ax = axes;
      if (op == "Squeeze") {
        for (int64_t i = 0; i < r; ++i) {
          const bool listed = ax.empty() ? c.dims[size_t(i)] == 1
                                         : std::find(ax.begin(), ax.end(), i) != ax.end() ||
                                               std::find(ax.begin(), ax.end(), i - r) != ax.end();
          if (!listed) dims.push_back(c.dims[size_t(i)]);
        }
      } else {
        const int64_t out_r = r + int64_t(ax.size());
        for (auto& a : ax) a = a < 0 ? a + out_r : a;
        size_t k = 0;
        for (int64_t i = 0; i < out_r; ++i) {
          if (std::find(ax.begin(), ax.end(), i) != ax.end()) dims.push_back(1);
          else {
            n.need(k < c.dims.size(), "attribute 'axes' out of range");
            dims.push_back(c.dims[k++]);
          }
        }
      }
    }
    n.need(numel(dims) == c.numel(), str_cat("cannot reshape ", dims_text(c.dims), " to ", dims_text(dims)));
    c.dims = dims;
    if (!c.is_int) c.floats = c.floats.reshape(dims);
    consts_[n.p.output(0)] = c;
    return true;
  }

  bool fold_concat(const Node& n) {
    const Const& first = constant(n.in(0));
    const int64_t r = int64_t(first.dims.size());
    int64_t axis = n.i("axis", 0);
    if (axis < 0) axis += r;
    n.need(axis >= 0 && axis < r, "attribute 'axis' out of range");
    if (!first.is_int) {  // floats: concatenate as tensors
      std::vector<Tensor> parts;
      for (const auto& in : n.p.input()) parts.push_back(constant(in).floats);
      consts_[n.p.output(0)] = float_const(ops::concat(parts, axis));
      return true;
    }
    n.need(axis == 0 && r == 1, "only 1-D integer constants are concatenated");
    std::vector<int64_t> v;
    for (const auto& in : n.p.input()) {
      const Const& c = constant(in);
      n.need(c.is_int && c.dims.size() <= 1, "mixed constant types");
      v.insert(v.end(), c.ints.begin(), c.ints.end());
    }
    consts_[n.p.output(0)] = int_const({int64_t(v.size())}, v);
    return true;
  }

  bool fold_slice(const Node& n) {
    const Const& c = constant(n.in(0));
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = n.ints("starts", {}), ends = n.ints("ends", {}), axes = n.ints("axes", {});
    } else {
      starts = const_ints(n, 1, "starts"), ends = const_ints(n, 2, "ends");
      if (n.has_in(3)) axes = const_ints(n, 3, "axes");
      if (n.has_in(4)) steps = const_ints(n, 4, "steps");
    }
    n.need(c.dims.size() == 1, "only 1-D constants are sliced");
    n.need(starts.size() == 1 && ends.size() == 1, "one axis only");
    n.need(axes.empty() || axes[0] == 0 || axes[0] == -1, "attribute 'axes' out of range");
    const int64_t step = steps.empty() ? 1 : steps[0], len = c.dims[0];
    n.need(step != 0, "step 0");
    auto clampi = [&](int64_t v, int64_t lo, int64_t hi) { return std::clamp<int64_t>(v < 0 ? v + len : v, lo, hi); };
    const int64_t b = step > 0 ? clampi(starts[0], 0, len) : clampi(starts[0], -1, len - 1);
    const int64_t e = step > 0 ? clampi(ends[0], 0, len) : clampi(ends[0], -1, len - 1);
    const std::vector<int64_t> iv = raw_ints(c);
    const std::vector<double> dv = c.values();
    std::vector<int64_t> oi;
    std::vector<double> od;
    for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
      oi.push_back(iv[size_t(i)]);
      od.push_back(dv[size_t(i)]);
    }
    consts_[n.p.output(0)] = c.is_int ? int_const({int64_t(oi.size())}, oi) : from_values(c, {int64_t(od.size())}, od);
    return true;
  }

  bool fold_arith(const Node& n) {
    const Const& a = constant(n.in(0));
    const Const& b = constant(n.in(1));
    const std::string& op = n.p.op_type();
    if (!a.is_int || !b.is_int) {  // floats: with the ops (broadcasting)
      n.need(!a.is_int && !b.is_int, "mixed integer and float constants");
      Tensor r = op == "Add" ? ops::add(a.floats, b.floats)
                 : op == "Sub" ? ops::sub(a.floats, b.floats)
                 : op == "Mul" ? ops::mul(a.floats, b.floats)
                               : ops::div(a.floats, b.floats);
      consts_[n.p.output(0)] = float_const(r);
      return true;
    }
    n.need(a.numel() == b.numel() || a.numel() == 1 || b.numel() == 1, "integer constants of different sizes");
    const Shape dims = a.numel() >= b.numel() ? a.dims : b.dims;
    std::vector<int64_t> v;
    for (int64_t i = 0; i < std::max(a.numel(), b.numel()); ++i) {
      const int64_t x = a.ints[size_t(a.numel() == 1 ? 0 : i)], y = b.ints[size_t(b.numel() == 1 ? 0 : i)];
      n.need(x != kBatch && y != kBatch, "shape arithmetic on the batch size is not supported");
      n.need(op != "Div" || y != 0, "integer division by zero");
      v.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
    }
    consts_[n.p.output(0)] = int_const(dims, v);
    return true;
  }

  // ---------------- after the nodes ----------------
  // x * Sigmoid(x) (how SiLU is exported) as one Swish node.
  void fuse_swish() {
    std::unordered_map<std::string, const nn::GraphNode*> sigmoid_of;  // output -> the Sigmoid making it
    std::unordered_map<std::string, int> readers;
    for (const nn::GraphNode& n : g_->nodes()) {
      if (n.op == "Sigmoid") sigmoid_of[n.outputs[0]] = &n;
      for (const auto& v : n.inputs) ++readers[v];
    }
    std::vector<nn::GraphNode> swish;  // the Mul nodes to replace, as Swish nodes
    for (const nn::GraphNode& mul : g_->nodes()) {
      if (mul.op != "Mul") continue;
      for (int k = 0; k < 2; ++k) {
        auto it = sigmoid_of.find(mul.inputs[size_t(k)]);
        if (it == sigmoid_of.end() || it->second->inputs[0] != mul.inputs[size_t(1 - k)]) continue;
        if (readers[it->first] != 1 || g_->is_output(it->first)) continue;
        swish.push_back({mul.name, "Swish", {it->second->inputs[0]}, mul.outputs});
        break;
      }
    }
    for (auto& n : swish) g_->replace_node(n.name, n);
    if (!swish.empty()) g_->remove_unused();  // the Sigmoids nobody reads now
  }

  // The graph input for images, and the preprocessing nodes in front of the model's own input:
  // gray replicated over the model's channels, ImageNet's normalization.
  void add_inputs() {
    const bool single = inputs_.size() == 1 && inputs_[0].dims.size() == 4;
    const bool imagenet = preprocess() == Preprocess::imagenet;
    for (const Input& in : inputs_) {
      Shape s = in.dims;
      s[0] = -1;
      const int64_t C = s[1];
      const bool replicate = single && o_.gray && C > 1;
      if (!single || (!replicate && !imagenet)) {  // the model's input is the graph's
        g_->add_input(in.name, s);
        produced_.insert(in.name);
        continue;
      }
      if (o_.gray) s[1] = 1;
      const std::string image = in.name == "image" ? "gray_image" : "image";
      g_->add_input(image, s);
      std::string x = image;
      auto step = [&](const std::string& op, std::vector<std::string> ins, io::Json attrs, const std::string& out) {
        g_->add_node({unique_name("pre_" + sanitize(op)), op, std::move(ins), {out}, std::move(attrs)});
        x = out;
      };
      if (replicate) {
        io::Json a = io::Json::object();
        a.set("axis", 1);
        step("Concat", std::vector<std::string>(size_t(C), x), a, imagenet ? "pre/replicated" : in.name);
      }
      if (imagenet) {
        std::vector<float> mean{0.485f, 0.456f, 0.406f}, stdev{0.229f, 0.224f, 0.225f};
        if (C != 3) mean.assign(size_t(C), 0.449f), stdev.assign(size_t(C), 0.226f);
        for (auto [name, v] : {std::pair{"mean", mean}, std::pair{"std", stdev}})
          g_->add_node({unique_name(str_cat("pre_", name)), "Constant", {}, {str_cat("pre/", name)}}, {},
                       {{"value", Tensor::from_vector(v, {1, C, 1, 1})}});
        step("Sub", {x, "pre/mean"}, io::Json::object(), "pre/centered");
        step("Div", {x, "pre/std"}, io::Json::object(), in.name);
      }
      produced_.insert(in.name);
      produced_.insert(image);
    }
  }

  Preprocess preprocess() const {
    if (o_.preprocess) return *o_.preprocess;
    if (auto it = meta_.find(kMetaPreprocessing); it != meta_.end()) {
      // A liteai export: its preprocessing (standardize or not) and no prefix nodes needed again.
      const io::Json p = io::Json::parse(it->second, str_cat(name_, " metadata"));
      return p.get_bool_or("standardize", false, name_) ? Preprocess::standardize : Preprocess::unit;
    }
    return Preprocess::imagenet;
  }

  std::shared_ptr<nn::Model> finish(const ox::ModelProto&) {
    nn::Head head = nn::Head::softmax;
    if (o_.head) head = *o_.head;
    else if (auto it = meta_.find(kMetaHead); it != meta_.end()) head = nn::head_from_string(it->second);
    // A last Softmax / Sigmoid that the head applies anyway.
    if (const nn::GraphNode* last = g_->producer(outputs_[0])) {
      if ((head == nn::Head::softmax && last->op == "Softmax") || (head == nn::Head::sigmoid && last->op == "Sigmoid")) {
        const std::string name = last->name;
        g_->remove_node(name);
      }
    }
    about_file([&] { g_->check(); });
    g_->eval();
    auto m = std::make_shared<nn::Model>();
    m->net = g_;
    m->arch.name = "graph";
    m->arch.set("head", nn::to_string(head));
    const Shape out = g_->infer_shapes().at(g_->outputs()[0]);
    const int64_t classes = out.size() == 2 ? out[1] : 0;
    LAI_CHECK_SUPPORTED(head == nn::Head::none || classes > 0, name_, ": output ", liteai::to_string(out),
                        " is not [N, classes]; import with head none");
    if (classes > 0) m->arch.set("classes", double(classes));
    m->arch.set("source", "onnx");
    std::vector<std::string> names = o_.classes;
    if (names.empty())
      if (auto it = meta_.find(kMetaClasses); it != meta_.end()) {
        io::Json meta = io::Json::object();
        meta.set("classes", io::Json::parse(it->second, str_cat(name_, " metadata")));
        names = meta.get_string_array("classes", str_cat(name_, " metadata"));
      }
    if (names.empty())
      for (int64_t c = 0; c < classes; ++c) names.push_back(str_cat("class", c));
    LAI_CHECK(classes == 0 || int64_t(names.size()) == classes, name_, ": ", names.size(), " class names for ", classes,
              " outputs");
    m->class_names = names;
    const Shape in = g_->inputs()[0].shape;
    m->preprocessing.channels = in.size() == 4 ? in[1] : 1;
    m->preprocessing.height = in.size() == 4 ? in[2] : 0;
    m->preprocessing.width = in.size() == 4 ? in[3] : 0;
    m->preprocessing.standardize = preprocess() == Preprocess::standardize;
    return m;
  }

  std::string name_, dir_;
  ImportOptions o_;
  int64_t opset_ = 0;
  int node_index_ = 0;
  uint64_t total_bytes_ = 0;
  std::vector<Input> inputs_;
  std::vector<std::string> outputs_;
  std::map<std::string, std::string> meta_;
  std::unordered_map<std::string, Const> consts_;
  std::unordered_map<std::string, Shape> shapes_;
  std::unordered_map<std::string, std::string> alias_;
  std::unordered_map<std::string, std::string> extra_outputs_;  // value -> the node that makes it
  std::set<std::string> produced_, materialized_, node_names_;
  std::shared_ptr<nn::Graph> g_;
};

std::shared_ptr<nn::Model> import_parsed(ox::ModelProto& m, const std::string& name, const std::string& dir,
                                         const ImportOptions& o) {
  return Importer(name, dir, o).run(m);
}

ox::ModelProto parse(const void* data, size_t size, const std::string& name) {
  LAI_CHECK_FORMAT(size <= kMaxFileBytes, name, ": ", size, " bytes, more than an ONNX file can hold");
  ox::ModelProto m;
  LAI_CHECK_FORMAT(m.ParseFromArray(data, static_cast<int>(size)), name, ": not an ONNX model (protobuf parse failed)");
  LAI_CHECK_FORMAT(m.has_graph(), name, ": not an ONNX model (no graph)");
  return m;
}

}  // namespace

std::shared_ptr<nn::Model> import_model(const std::string& path, const ImportOptions& o) {
  const std::vector<uint8_t> bytes = read_regular_file(path, kMaxFileBytes, path);
  ox::ModelProto m = parse(bytes.data(), bytes.size(), path);
  const size_t slash = path.find_last_of('/');
  return import_parsed(m, path, slash == std::string::npos ? "." : path.substr(0, slash), o);
}

std::shared_ptr<nn::Model> import_model_from_bytes(const void* data, size_t size, const ImportOptions& o,
                                                   const std::string& name) {
  ox::ModelProto m = parse(data, size, name);
  return import_parsed(m, name, "", o);
}

}  // namespace liteai::interop::onnx
