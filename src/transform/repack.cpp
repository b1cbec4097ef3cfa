// Repacking passes on nn::Graph (see transform/repack.hpp for what each one does and why it is exact).
#include "liteai/transform/repack.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "liteai/autograd/autograd.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::transform {

namespace {

using nn::Graph;
using nn::GraphNode;
using nn::NamedTensors;

// A contiguous fp32 copy that shares nothing with the source (the source may be mapped or bf16).
Tensor own(const Tensor& t) {
  autograd::NoGrad ng;
  Tensor d = t.detach();
  return d.dtype() == DType::f32 ? d.contiguous().clone() : d.to(DType::f32).contiguous();
}

NamedTensors own_all(const NamedTensors& list) {
  NamedTensors out;
  for (const auto& [slot, t] : list) out.emplace_back(slot, own(t));
  return out;
}

std::string label(const GraphNode& n) { return str_cat(n.op, " '", n.name, "'"); }

// The value a Constant node produces, or undefined when `value` comes from anything else.
Tensor constant_of(const Graph& g, const std::string& value) {
  const GraphNode* p = value.empty() ? nullptr : g.producer(value);
  if (!p || p->op != "Constant") return Tensor();
  return g.tensor(p->name, "value");
}

// `value` is read by exactly one node input and is no graph output.
bool single_use(const Graph& g, const std::string& value, const GraphNode& reader) {
  if (g.is_output(value)) return false;
  const auto c = g.consumers(value);
  if (c.size() != 1 || c[0] != reader.name) return false;
  return std::count(reader.inputs.begin(), reader.inputs.end(), value) == 1;
}

// A fresh node name from `base` (no '.'; unique in g).
std::string fresh(const Graph& g, const std::string& base) {
  std::string n = base;
  for (int k = 2; g.find(n); ++k) n = str_cat(base, "_", k);
  return n;
}

// Removes a one-input, one-output node, keeping the graph's output names: when the node wrote a
// graph output, the node before it writes that name instead (callers, ONNX export and reports
// see the same outputs as before).
void remove_keeping_outputs(Graph& g, const std::string& name) {
  const GraphNode n = *g.find(name);
  const std::string out = n.outputs[0], in = n.inputs[0];
  const bool was_output = g.is_output(out);
  g.remove_node(name);
  if (!was_output) return;
  // The graph output reads `in` now; its producer may take the old name when nothing else uses `in`.
  const GraphNode* p = g.producer(in);
  if (!p || !g.consumers(in).empty() || std::count(g.outputs().begin(), g.outputs().end(), in) != 1) return;
  GraphNode r = *p;
  for (auto& o : r.outputs)
    if (o == in) o = out;
  const NamedTensors pa = g.params(r.name), bu = g.buffers(r.name);
  g.replace_node(r.name, r, pa, bu);
  g.replace_uses(in, out);
}

int64_t position_of(const Graph& g, const std::string& node) {
  for (size_t i = 0; i < g.nodes().size(); ++i)
    if (g.nodes()[i].name == node) return int64_t(i);
  throw_error(str_cat("graph: no node '", node, "'"));
}

std::vector<int64_t> ints_attr(const GraphNode& n, const char* key, size_t count, int64_t def) {
  if (!n.attrs.contains(key)) return std::vector<int64_t>(count, def);
  std::vector<int64_t> v = n.attrs.get_int_array(key, str_cat("node '", n.name, "' attributes"));
  LAI_CHECK(v.size() == count, "graph: node '", n.name, "' (", n.op, "): attribute '", key, "' needs ", count,
            " values");
  return v;
}

// Runs one node on constant inputs (the Constant nodes producing them are copied into a small
// graph with it): constant folding.
Tensor run_on_constants(const Graph& g, const GraphNode& node) {
  Graph m;
  std::set<std::string> added;
  for (const auto& v : node.inputs) {
    if (v.empty() || added.count(v)) continue;
    const GraphNode* p = g.producer(v);
    LAI_CHECK(p && p->op == "Constant", "repack: internal: input '", v, "' of node '", node.name, "' is not constant");
    m.add_node(*p, g.params(p->name), g.buffers(p->name));
    added.insert(v);
  }
  m.add_node(node, g.params(node.name), g.buffers(node.name));
  m.add_output(node.outputs[0]);
  m.eval();
  autograd::NoGrad ng;
  return own(m.run({})[0]);
}

// ---------------------------------------------------------------- gray

// y = a[c] * x + d[c] per channel, from the normalization nodes before the first conv.
struct Affine {
  std::vector<double> a, d;
};

// The per-channel values of a constant that broadcasts along dimension 1 of [N, C, H, W]: one
// value, or C values laid out as [C, 1, 1] / [1, C, 1, 1]. Empty when it is anything else.
std::vector<double> channel_values(const Tensor& t, int64_t C) {
  const std::vector<float> v = t.to_vector();
  if (v.size() == 1) return std::vector<double>(size_t(C), double(v[0]));
  if (int64_t(v.size()) != C) return {};
  Shape s = t.shape();
  while (!s.empty() && s.front() == 1 && int64_t(s.size()) > 3) s.erase(s.begin());
  if (s != Shape{C, 1, 1}) return {};
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

int64_t to_gray(nn::Model& model, std::vector<std::string>& changes) {
  auto* gp = dynamic_cast<Graph*>(model.net.get());
  LAI_CHECK(gp, "--gray: the model is not a graph (convert it with nn::to_graph_model)");
  Graph& g = *gp;
  LAI_CHECK(g.inputs().size() == 1 && g.inputs()[0].shape.size() == 4, "--gray: the graph needs one image input [N, C, H, W]");
  const std::string input = g.inputs()[0].name;
  const Shape in_shape = g.inputs()[0].shape;
  const auto shapes = g.infer_shapes();
  // Walk from the input to the first Conv through the nodes that only replicate and normalize.
  std::string v = input;
  int64_t C = in_shape[1];
  Affine f{std::vector<double>(size_t(C), 1.0), std::vector<double>(size_t(C), 0.0)};
  bool replicated = false;
  std::vector<std::string> folded;  // the nodes in front of the conv that go away
  const GraphNode* conv = nullptr;
  while (true) {
    LAI_CHECK(!g.is_output(v), "--gray: the input reaches a graph output before any Conv");
    const auto readers = g.consumers(v);
    LAI_CHECK(readers.size() == 1, "--gray: value '", v, "' before the first Conv is read by ", readers.size(),
              " nodes; only a chain (replication, per-channel normalization) in front of one Conv can be folded");
    const GraphNode& n = *g.find(readers[0]);
    if (n.op == "Conv") {
      conv = &n;
      break;
    }
    if (n.op == "Concat") {
      const bool same = std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& x) { return x == v; });
      const int64_t axis = n.attrs.contains("axis") ? n.attrs.at("axis").as_int() : 0;
      LAI_CHECK(same && C == 1 && !replicated && (axis == 1 || axis == -3), "--gray: node ", label(n),
                " is not a replication of the gray input over channels");
      C = int64_t(n.inputs.size());
      f = Affine{std::vector<double>(size_t(C), 1.0), std::vector<double>(size_t(C), 0.0)};
      replicated = true;
    } else if (n.op == "Sub" || n.op == "Add" || n.op == "Mul" || n.op == "Div") {
      LAI_CHECK(n.inputs.size() == 2 && (n.inputs[0] == v) != (n.inputs[1] == v), "--gray: node ", label(n),
                " must combine the image with a constant");
      const bool first = n.inputs[0] == v;
      const Tensor k = constant_of(g, n.inputs[first ? 1 : 0]);
      LAI_CHECK(k.defined(), "--gray: node ", label(n), ": its other input '", n.inputs[first ? 1 : 0],
                "' is not a Constant");
      const std::vector<double> kv = channel_values(k, C);
      LAI_CHECK(!kv.empty(), "--gray: node ", label(n), ": constant ", to_string(k.shape()),
                " is not one value per channel");
      LAI_CHECK(first || n.op != "Div", "--gray: node ", label(n), " divides by the image (not a normalization)");
      for (size_t c = 0; c < size_t(C); ++c) {
        if (n.op == "Add") f.d[c] += kv[c];
        else if (n.op == "Sub" && first) f.d[c] -= kv[c];
        else if (n.op == "Sub") f.a[c] = -f.a[c], f.d[c] = kv[c] - f.d[c];
        else if (n.op == "Mul") f.a[c] *= kv[c], f.d[c] *= kv[c];
        else f.a[c] /= kv[c], f.d[c] /= kv[c];
      }
    } else if (n.op == "Identity" || n.op == "Dropout") {
      // passes the image through
    } else {
      throw_error(str_cat("--gray: node ", label(n), " stands between the input and the first Conv; only a "
                          "replication (Concat) and per-channel normalization (Sub, Add, Mul, Div by constants) "
                          "can be folded into it"));
    }
    folded.push_back(n.name);
    v = n.outputs[0];
  }
  const Tensor w = g.tensor(conv->name, "weight");
  const Shape ws = w.shape();
  LAI_CHECK(!conv->attrs.contains("group") || conv->attrs.at("group").as_int() == 1, "--gray: the first Conv '", conv->name, "' is grouped; only a full convolution can take one channel");
  LAI_CHECK(C > 1 && ws[1] == C, "--gray: the model already takes 1 channel (its first Conv '", conv->name, "' reads ",
            ws[1], " input channel", ws[1] == 1 ? "" : "s", "): nothing to convert");
  for (size_t c = 0; c < size_t(C); ++c)
    LAI_CHECK(f.a[c] != 0 && std::isfinite(f.a[c]) && std::isfinite(f.d[c]), "--gray: the normalization in front of '",
              conv->name, "' zeroes or overflows channel ", c);

  // W'[k, 0] = sum_c a[c] W[k, c]: on a gray image replicated over the channels the scaled
  // channels' products add up to exactly that.
  const int64_t K = ws[0], RS = ws[2] * ws[3];
  const std::vector<float> wv = own(w).to_vector();
  std::vector<float> w1(size_t(K * RS));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < RS; ++j) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += f.a[size_t(c)] * double(wv[size_t((k * C + c) * RS + j)]);
      w1[size_t(k * RS + j)] = float(s);
    }
  std::vector<float> bias(size_t(K), 0.f);
  const bool had_bias = g.has_tensor(conv->name, "bias");
  if (had_bias) bias = g.tensor(conv->name, "bias").to_vector();

  const auto pads = ints_attr(*conv, "pads", 4, 0);
  const bool padded = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p > 0; });
  const bool offsets = std::any_of(f.d.begin(), f.d.end(), [](double d) { return d != 0; });
  // The means in the image's units: y_c = a_c (x - m_c).
  std::vector<double> m(static_cast<size_t>(C), 0.0);
  for (size_t c = 0; c < size_t(C); ++c) m[c] = -f.d[c] / f.a[c];
  const bool equal_means = std::all_of(m.begin(), m.end(), [&](double x) { return float(x) == float(m[0]); });

  GraphNode nc = *conv;  // the new conv
  const std::string conv_name = conv->name, conv_out = conv->outputs[0];
  std::string how;
  Tensor border_ones, border_kernel;  // when the offsets meet zero padding
  std::string conv_in = input;
  if (!offsets) {
    how = "no offset";
  } else if (!padded) {
    // No padding: every tap sees the offset, so it is a bias: b'_k = b_k + sum_{c,r,s} W d_c.
    for (int64_t k = 0; k < K; ++k) {
      double s = bias[size_t(k)];
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < RS; ++j) s += double(wv[size_t((k * C + c) * RS + j)]) * f.d[size_t(c)];
      bias[size_t(k)] = float(s);
    }
    how = "offsets folded into the bias (no padding)";
  } else if (equal_means) {
    // One mean for all channels: subtracting it from the gray image before the zero padding is
    // exactly what each channel saw.
    const std::string cname = fresh(g, conv_name + "_gray_mean"), sname = fresh(g, conv_name + "_gray_sub");
    const int64_t at = position_of(g, conv_name);
    g.insert_node(size_t(at), {cname, "Constant", {}, {cname}}, {}, {{"value", Tensor::full({1, 1, 1, 1}, float(m[0]))}});
    g.insert_node(size_t(at + 1), {sname, "Sub", {input, cname}, {sname}});
    conv_in = sname;
    how = str_cat("mean ", float(m[0]), " subtracted in front (padding)");
  } else {
    // Different offsets and zero padding: at the border some taps see the padding's 0 instead of
    // the offset, so the exact correction depends on the position. It is the conv of the offset
    // image, i.e. of a 1-channel image of ones (zero padded like the input) with the kernel
    // E[k, 0] = sum_c d_c W[k, c]: computed by a second 1-channel conv and added after the conv
    // (neither the [1, K, OH, OW] map nor the ones image is stored).
    std::vector<float> e(size_t(K * RS));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < RS; ++j) {
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += f.d[size_t(c)] * double(wv[size_t((k * C + c) * RS + j)]);
        e[size_t(k * RS + j)] = float(sum);
      }
    const Shape xs = shapes.at(v);
    border_ones = Tensor::ones({1, 1, xs[2], xs[3]});
    border_kernel = Tensor::from_vector(e, {K, 1, ws[2], ws[3]});
    how = "border correction by a 1-channel conv of ones added after it (padding, unequal means)";
  }
  nc.inputs = {conv_in};
  NamedTensors params{{"weight", Tensor::from_vector(w1, {K, 1, ws[2], ws[3]})}};
  if (had_bias || offsets) params.emplace_back("bias", Tensor::from_vector(bias, {K}));
  const bool border = border_ones.defined();
  if (border) nc.outputs = {fresh(g, conv_out + "_gray")};
  g.replace_node(conv_name, nc, params, {});
  if (border) {
    const int64_t at = position_of(g, conv_name);
    const std::string ones = fresh(g, conv_name + "_gray_ones"), corr = fresh(g, conv_name + "_gray_border");
    GraphNode bc = nc;  // the same geometry (strides, pads, dilations) on the ones image
    bc.name = corr;
    bc.inputs = {ones};
    bc.outputs = {corr};
    bc.attrs.erase("l2");
    // The ones image is one stored 1 padded out with 1s (a Pad node) rather than H x W stored values.
    const std::string one = fresh(g, conv_name + "_gray_one");
    const Shape os = border_ones.shape();
    io::Json pa = io::Json::object();
    pa.set("pads", io::Json::array_of(std::vector<int64_t>{0, 0, 0, 0, 0, 0, os[2] - 1, os[3] - 1}));
    pa.set("value", 1.0);
    g.insert_node(size_t(at), {one, "Constant", {}, {one}}, {}, {{"value", Tensor::ones({1, 1, 1, 1})}});
    g.insert_node(size_t(at + 1), {ones, "Pad", {one}, {ones}, pa});
    g.insert_node(size_t(at + 2), bc, {{"weight", border_kernel}}, {});
    g.insert_node(size_t(at + 4), {fresh(g, conv_name + "_gray_add"), "Add", {nc.outputs[0], corr}, {conv_out}});
  }
  g.remove_unused();
  g.set_input_shape(input, {in_shape[0], 1, in_shape[2], in_shape[3]});
  g.check();
  model.preprocessing.channels = 1;
  if (model.arch.params.count("channels")) model.arch.set("channels", 1.0);
  std::string removed;
  for (const auto& n : folded) removed += (removed.empty() ? "" : ", ") + n;
  changes.push_back(str_cat("gray: Conv '", conv_name, "' takes 1 channel (weights summed over ", C, ", ", how, ")",
                            removed.empty() ? "" : str_cat("; folded ", removed)));
  return 1;
}

// ---------------------------------------------------------------- fold

int64_t remove_passthrough(Graph& g, std::vector<std::string>& changes) {
  int64_t n = 0;
  std::vector<GraphNode> todo;
  for (const auto& node : g.nodes())
    if ((node.op == "Identity" || node.op == "Dropout") && node.inputs.size() == 1 && node.outputs.size() == 1)
      todo.push_back(node);
  for (const auto& node : todo) {
    // An Identity from a graph input straight to a graph output is the graph's whole job there.
    if (g.is_output(node.outputs[0]) && !g.producer(node.inputs[0])) continue;
    remove_keeping_outputs(g, node.name);
    changes.push_back(str_cat("removed ", label(node)));
    ++n;
  }
  return n;
}

int64_t fold_constants(Graph& g, std::vector<std::string>& changes) {
  int64_t n = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const GraphNode node = g.nodes()[i];
    if (node.op == "Constant" || node.op == "Dropout" || node.outputs.size() != 1 || node.inputs.empty()) continue;
    const bool all_constant = std::all_of(node.inputs.begin(), node.inputs.end(), [&](const std::string& v) {
      return v.empty() || constant_of(g, v).defined();
    });
    if (!all_constant) continue;
    // Only when the result is no bigger than what it is computed from: a constant conv of a small
    // image (the gray pass's border correction) stays a conv instead of becoming a large map.
    int64_t from = 0;
    for (const auto& v : node.inputs)
      if (!v.empty()) from += constant_of(g, v).numel();
    for (const auto& [slot, t] : g.params(node.name)) from += t.numel();
    for (const auto& [slot, t] : g.buffers(node.name)) from += t.numel();
    if (numel(g.infer_shapes().at(node.outputs[0])) > from) continue;
    const Tensor value = run_on_constants(g, node);
    g.replace_node(node.name, {node.name, "Constant", {}, node.outputs}, {}, {{"value", value}});
    changes.push_back(str_cat("evaluated ", label(node), " on constants"));
    ++n;
  }
  if (n) g.remove_unused();
  return n;
}

int64_t fold_batch_norms(Graph& g, std::vector<std::string>& changes) {
  int64_t n = 0;
  std::vector<GraphNode> bns;
  for (const auto& node : g.nodes())
    if (node.op == "BatchNormalization") bns.push_back(node);
  for (const auto& bn : bns) {
    const GraphNode* p = g.producer(bn.inputs[0]);
    if (!p || (p->op != "Conv" && p->op != "ConvTranspose" && p->op != "Dense")) continue;
    if (!single_use(g, bn.inputs[0], bn) || p->outputs.size() != 1) continue;
    // BN(y) = s * y + t per channel (dimension 1), s = scale / sqrt(var + eps), t = bias - mean * s.
    const double eps = bn.attrs.contains("epsilon") ? bn.attrs.at("epsilon").as_number() : 1e-5;
    const auto sc = g.tensor(bn.name, "scale").to_vector(), be = g.tensor(bn.name, "bias").to_vector();
    const auto mu = g.tensor(bn.name, "mean").to_vector(), va = g.tensor(bn.name, "var").to_vector();
    const size_t K = sc.size();
    std::vector<double> s(K), t(K);
    for (size_t k = 0; k < K; ++k) {
      s[k] = double(sc[k]) / std::sqrt(double(va[k]) + eps);
      t[k] = double(be[k]) - double(mu[k]) * s[k];
    }
    Tensor w = own(g.tensor(p->name, "weight"));
    const Shape ws = w.shape();
    float* wd = w.data();
    // Where output channel k lives in the weight: Conv [K, C, R, S], ConvTranspose [C, K, R, S], Dense [in, K].
    if (p->op == "Conv") {
      const int64_t per = numel(ws) / ws[0];
      for (int64_t k = 0; k < ws[0]; ++k)
        for (int64_t j = 0; j < per; ++j) wd[k * per + j] = float(double(wd[k * per + j]) * s[size_t(k)]);
    } else if (p->op == "ConvTranspose") {
      const int64_t rs = ws[2] * ws[3];
      for (int64_t c = 0; c < ws[0]; ++c)
        for (int64_t k = 0; k < ws[1]; ++k)
          for (int64_t j = 0; j < rs; ++j) {
            float& x = wd[(c * ws[1] + k) * rs + j];
            x = float(double(x) * s[size_t(k)]);
          }
    } else {
      for (int64_t i = 0; i < ws[0]; ++i)
        for (int64_t k = 0; k < ws[1]; ++k) wd[i * ws[1] + k] = float(double(wd[i * ws[1] + k]) * s[size_t(k)]);
    }
    std::vector<float> b(K, 0.f);
    if (g.has_tensor(p->name, "bias")) b = g.tensor(p->name, "bias").to_vector();
    LAI_CHECK(b.size() == K, "repack: node '", bn.name, "' has ", K, " channels, '", p->name, "' ", b.size());
    for (size_t k = 0; k < K; ++k) b[k] = float(double(b[k]) * s[k] + t[k]);
    const GraphNode prod = *p;
    g.replace_node(prod.name, prod, {{"weight", w}, {"bias", Tensor::from_vector(b, {int64_t(K)})}}, {});
    remove_keeping_outputs(g, bn.name);
    changes.push_back(str_cat("folded BatchNormalization '", bn.name, "' into ", label(prod)));
    ++n;
  }
  return n;
}

namespace {
// Replaces `at` (keeping its position and outputs) by a Dense on `input`, and drops what no
// longer reaches an output.
void make_dense(Graph& g, const GraphNode& at, const std::string& input, const Tensor& w, const Tensor& b,
                const io::Json& attrs = io::Json::object()) {
  NamedTensors p{{"weight", w}};
  if (b.defined()) p.emplace_back("bias", b);
  g.replace_node(at.name, {at.name, "Dense", {input}, at.outputs, attrs}, p, {});
  g.remove_unused();
}

bool rank2(const std::map<std::string, Shape>& shapes, const std::string& v) {
  auto it = shapes.find(v);
  return it != shapes.end() && it->second.size() == 2;
}
}  // namespace

int64_t merge_linear(Graph& g, std::vector<std::string>& changes) {
  int64_t n = 0;
  bool again = true;
  while (again) {
    again = false;
    const auto shapes = g.infer_shapes();
    for (const GraphNode& node : g.nodes()) {
      // MatMul(x, W constant) [+ Add(b constant)] -> Dense
      if (node.op == "MatMul" && node.inputs.size() == 2 && rank2(shapes, node.inputs[0])) {
        const Tensor w = constant_of(g, node.inputs[1]);
        if (!w.defined() || w.dim() != 2) continue;
        const int64_t out = w.size(1);
        const auto readers = g.consumers(node.outputs[0]);
        if (readers.size() == 1 && !g.is_output(node.outputs[0])) {
          const GraphNode add = *g.find(readers[0]);
          if (add.op == "Add" && add.inputs.size() == 2 && single_use(g, node.outputs[0], add)) {
            const Tensor b = constant_of(g, add.inputs[add.inputs[0] == node.outputs[0] ? 1 : 0]);
            if (b.defined() && b.numel() == out && (b.dim() == 1 || (b.dim() == 2 && b.size(0) == 1))) {
              const std::string mm = node.name, x = node.inputs[0];
              make_dense(g, add, x, own(w), own(b).reshape({out}));
              changes.push_back(str_cat("merged MatMul '", mm, "' and Add '", add.name, "' into Dense '", add.name, "'"));
              ++n, again = true;
              break;
            }
          }
        }
        const GraphNode mm = node;
        make_dense(g, mm, mm.inputs[0], own(w), Tensor());
        changes.push_back(str_cat("MatMul '", mm.name, "' by a constant became a Dense"));
        ++n, again = true;
        break;
      }
      if (node.op != "Dense" && node.op != "Add") continue;
      // Dense -> Dense with nothing between: W = W1 W2, b = b1 W2 + b2 (when it adds no parameters).
      if (node.op == "Dense") {
        const GraphNode* p = g.producer(node.inputs[0]);
        if (!p || p->op != "Dense" || !single_use(g, node.inputs[0], node)) continue;
        const Tensor w1 = g.tensor(p->name, "weight"), w2 = g.tensor(node.name, "weight");
        const int64_t in = w1.size(0), mid = w1.size(1), out = w2.size(1);
        if (in * out > in * mid + mid * out + mid) continue;  // a bottleneck: merging would grow it
        autograd::NoGrad ng;
        Tensor w = own(ops::matmul(own(w1), own(w2)));
        Tensor b = g.has_tensor(p->name, "bias") ? ops::matmul(own(g.tensor(p->name, "bias")).reshape({1, mid}), own(w2)).reshape({out})
                                                 : Tensor::zeros({out});
        if (g.has_tensor(node.name, "bias")) b = ops::add(b, g.tensor(node.name, "bias"));
        const std::string first = p->name, x = p->inputs[0];
        const GraphNode second = node;
        make_dense(g, second, x, w, own(b), second.attrs);
        changes.push_back(str_cat("merged Dense '", first, "' into Dense '", second.name, "' (no nonlinearity between)"));
        ++n, again = true;
        break;
      }
      // x + L(x), L a Dense [n, n] or a stride-1 "same" Conv [C, C, R, S]: one layer with W + I.
      if (node.inputs.size() != 2 || node.inputs[0] == node.inputs[1]) continue;
      for (int side = 0; side < 2; ++side) {
        const std::string& x = node.inputs[size_t(1 - side)];
        const GraphNode* l = g.producer(node.inputs[size_t(side)]);
        if (!l || l->inputs.empty() || l->inputs[0] != x || !single_use(g, node.inputs[size_t(side)], node)) continue;
        if ((l->op != "Dense" && l->op != "Conv") || shapes.at(x) != shapes.at(node.outputs[0])) continue;
        Tensor w = own(g.tensor(l->name, "weight"));
        if (l->op == "Dense") {
          if (w.size(0) != w.size(1)) continue;
          for (int64_t i = 0; i < w.size(0); ++i) w.data()[i * w.size(1) + i] += 1.f;
        } else if (l->op == "Conv") {
          const auto st = ints_attr(*l, "strides", 2, 1), dl = ints_attr(*l, "dilations", 2, 1), pd = ints_attr(*l, "pads", 4, 0);
          const int64_t grp = l->attrs.contains("group") ? l->attrs.at("group").as_int() : 1;
          const Shape ws = w.shape();
          if (grp != 1 || st != std::vector<int64_t>{1, 1} || dl != std::vector<int64_t>{1, 1} || ws[0] != ws[1] ||
              ws[2] % 2 == 0 || ws[3] % 2 == 0 || pd[0] != ws[2] / 2 || pd[2] != ws[2] / 2 || pd[1] != ws[3] / 2 ||
              pd[3] != ws[3] / 2)
            continue;
          // The centre tap of channel k onto output k always sees the pixel itself, never padding.
          for (int64_t k = 0; k < ws[0]; ++k) w.data()[((k * ws[1] + k) * ws[2] + ws[2] / 2) * ws[3] + ws[3] / 2] += 1.f;
        } else {
          continue;
        }
        const GraphNode lin = *l, add = node;
        NamedTensors p{{"weight", w}};
        if (g.has_tensor(lin.name, "bias")) p.emplace_back("bias", own(g.tensor(lin.name, "bias")));
        GraphNode r = lin;
        r.name = add.name;
        r.inputs = {x};
        r.outputs = add.outputs;
        g.replace_node(add.name, r, p, {});
        g.remove_unused();
        changes.push_back(str_cat("merged the linear residual ", label(lin), " into one layer '", add.name, "' (W + I)"));
        ++n, again = true;
        break;
      }
      if (again) break;
    }
  }
  return n;
}

int64_t fold(Graph& g, std::vector<std::string>& changes) {
  int64_t total = 0;
  for (int round = 0; round < 16; ++round) {
    int64_t n = remove_passthrough(g, changes);
    n += fold_constants(g, changes);
    n += fold_batch_norms(g, changes);
    n += merge_linear(g, changes);
    total += n;
    if (n == 0) break;
  }
  g.check();
  return total;
}

nn::GraphPtr copy_graph(const Graph& g) {
  auto c = std::make_shared<Graph>();
  for (const auto& in : g.inputs()) c->add_input(in.name, in.shape);
  for (const auto& n : g.nodes()) c->add_node(n, own_all(g.params(n.name)), own_all(g.buffers(n.name)));
  for (const auto& o : g.outputs()) c->add_output(o);
  c->train(g.is_training());
  return c;
}

RepackResult repack(const nn::Model& model, const RepackOptions& o) {
  RepackResult r;
  if (model.arch.name == "graph") {
    const auto* g = dynamic_cast<const Graph*>(model.net.get());
    LAI_CHECK(g, "repack: architecture 'graph' but the network is not an nn::Graph");
    r.model = std::make_shared<nn::Model>(model);  // header fields copied; the network below
    r.model->net = copy_graph(*g);
  } else {
    r.model = nn::to_graph_model(model);
    r.model->temperature = model.temperature;
    r.model->provenance = model.provenance;
    r.changes.push_back(str_cat("converted zoo model '", model.arch.name, "' to a graph"));
  }
  r.model->net->eval();
  Graph& g = dynamic_cast<Graph&>(*r.model->net);
  if (o.fold) fold(g, r.changes);
  if (o.gray) {
    to_gray(*r.model, r.changes);
    if (o.fold) fold(g, r.changes);  // what the gray pass left (its constants) folds too
  }
  r.model->net->eval();
  return r;
}

void save_bf16(const nn::Model& model, const std::string& path) {
  LAI_CHECK(model.net != nullptr, "save_bf16: the model has no network");
  std::set<std::string> kernels;
  for (const nn::ParameterInfo& p : model.net->parameter_infos())
    if (p.is_kernel) kernels.insert(p.name);
  io::NamedTensors tensors;
  for (const auto& [name, t] : model.net->state()) {
    const Tensor c = t.is_contiguous() ? t : t.contiguous();
    tensors.emplace_back(name, kernels.count(name) && c.dtype() == DType::f32 ? c.to(DType::bf16) : c);
  }
  io::save_model_file(path, nn::model_header(model), tensors);
}

}  // namespace liteai::transform
