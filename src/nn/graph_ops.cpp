// The graph's operators. Each one: its data inputs, its tensor slots, how its output shapes
// follow from its inputs' (the checks that name what disagrees), its forward on the ops (autograd
// records it), and its MAC count. Names, inputs and attributes follow ONNX (opset 13 forms) where
// ONNX has the operator; Dense and Swish are liteai's.
#include "nn/graph_ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "liteai/autograd/autograd.hpp"
#include "liteai/nn/layers.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::nn::graph_ops {

// ---------------- NodeState, Attrs ----------------
NodeState::NodeState(std::string op, const NamedTensors& params, const NamedTensors& buffers,
                     const std::string& kernel_slot, float l2)
    : op_(std::move(op)) {
  for (const auto& [slot, t] : params) {
    const bool kernel = slot == kernel_slot;
    slots_[slot] = register_parameter(slot, t, kernel, kernel ? l2 : 0.f);
  }
  for (const auto& [slot, t] : buffers) slots_[slot] = register_buffer(slot, t);
}

Tensor NodeState::forward(const Tensor&) { throw_error(str_cat("graph: the tensors of a ", op_, " node are not a layer")); }

Tensor NodeState::get(const std::string& slot) const {
  auto it = slots_.find(slot);
  return it == slots_.end() ? Tensor() : it->second;
}

int64_t Attrs::i(const char* key, int64_t def) const {
  const io::Json* v = node.attrs.find(key);
  return v ? v->as_int(str_cat("attribute '", key, "'")) : def;
}
float Attrs::f(const char* key, float def) const {
  const io::Json* v = node.attrs.find(key);
  if (!v) return def;
  // JSON has no infinities: Clip's open bounds are written as null.
  if (v->is_null()) return def;
  return static_cast<float>(v->as_number(str_cat("attribute '", key, "'")));
}
std::string Attrs::s(const char* key, const std::string& def) const {
  const io::Json* v = node.attrs.find(key);
  return v ? v->as_string(str_cat("attribute '", key, "'")) : def;
}
std::vector<int64_t> Attrs::ints(const char* key, const std::vector<int64_t>& def) const {
  return node.attrs.contains(key) ? node.attrs.get_int_array(key, "attributes") : def;
}
std::vector<int64_t> Attrs::ints_n(const char* key, size_t n, int64_t def) const {
  std::vector<int64_t> v = ints(key, std::vector<int64_t>(n, def));
  LAI_CHECK(v.size() == n, "attribute '", key, "' needs ", n, " values, got ", v.size());
  return v;
}

namespace {

const Shape& slot_shape(const SlotShapes& s, const char* slot) {
  auto it = s.find(slot);
  LAI_CHECK(it != s.end(), "tensor '", slot, "' is missing");
  return it->second;
}
bool has_slot(const SlotShapes& s, const char* slot) { return s.count(slot) > 0; }

void need_rank(const Shape& s, int64_t rank, const char* what) {
  LAI_CHECK(static_cast<int64_t>(s.size()) == rank, what, " must have ", rank, " dimensions, got ", to_string(s));
}

int64_t prod(const Shape& s, size_t b, size_t e) {
  int64_t p = 1;
  for (size_t i = b; i < e; ++i) p *= s[i];
  return p;
}

Tensor get(const Module& state, const char* slot) { return slot_of(state, slot); }

// ---- convolution ----
ops::ConvGeometry conv_geometry(const GraphNode& n) {
  Attrs a{n};
  LAI_CHECK(a.s("auto_pad", "NOTSET") == "NOTSET", "attribute 'auto_pad' must be resolved into pads");
  const auto st = a.ints_n("strides", 2, 1), dl = a.ints_n("dilations", 2, 1), pd = a.ints_n("pads", 4, 0);
  ops::ConvGeometry g;
  g.stride_h = st[0], g.stride_w = st[1], g.dilation_h = dl[0], g.dilation_w = dl[1];
  g.pad_top = pd[0], g.pad_left = pd[1], g.pad_bottom = pd[2], g.pad_right = pd[3];
  g.groups = a.i("group", 1);
  LAI_CHECK(g.stride_h >= 1 && g.stride_w >= 1 && g.dilation_h >= 1 && g.dilation_w >= 1,
            "strides and dilations must be >= 1");
  LAI_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, "pads must be >= 0");
  LAI_CHECK(g.groups >= 1, "attribute 'group' must be >= 1, got ", g.groups);
  return g;
}

void check_kernel_shape(const GraphNode& n, const Shape& w) {
  Attrs a{n};
  if (!a.has("kernel_shape")) return;
  const auto k = a.ints("kernel_shape", {});
  LAI_CHECK(k.size() == 2 && k[0] == w[2] && k[1] == w[3], "attribute 'kernel_shape' does not match weight ",
            to_string(w));
}

Shapes conv_infer(const GraphNode& n, const Shapes& in, const SlotShapes& s) {
  const Shape& x = in[0];
  const Shape& w = slot_shape(s, "weight");
  need_rank(x, 4, "input");
  need_rank(w, 4, "weight");
  check_kernel_shape(n, w);
  const ops::ConvGeometry g = conv_geometry(n);
  LAI_CHECK(x[1] % g.groups == 0 && w[0] % g.groups == 0, "group ", g.groups, " must divide the input channels ", x[1],
            " and the output channels ", w[0]);
  LAI_CHECK(x[1] == w[1] * g.groups, "input has ", x[1], " channels, weight ", to_string(w), " expects ", w[1] * g.groups,
            g.groups > 1 ? str_cat(" (group ", g.groups, ")") : "");
  if (has_slot(s, "bias"))
    LAI_CHECK(slot_shape(s, "bias") == Shape{w[0]}, "bias ", to_string(slot_shape(s, "bias")), " does not match ",
              w[0], " output channels");
  const int64_t eh = x[2] + g.pad_top + g.pad_bottom - g.dilation_h * (w[2] - 1) - 1;
  const int64_t ew = x[3] + g.pad_left + g.pad_right - g.dilation_w * (w[3] - 1) - 1;
  LAI_CHECK(eh >= 0 && ew >= 0, "kernel ", w[2], "x", w[3], " does not fit input ", to_string(x), " with its padding");
  return {{x[0], w[0], eh / g.stride_h + 1, ew / g.stride_w + 1}};
}

ops::ConvTransposeGeometry convt_geometry(const GraphNode& n) {
  Attrs a{n};
  LAI_CHECK(a.s("auto_pad", "NOTSET") == "NOTSET", "attribute 'auto_pad' must be resolved into pads");
  LAI_CHECK(a.i("group", 1) == 1, "group ", a.i("group", 1), " is not supported (group 1 only)");
  LAI_CHECK(!a.has("output_shape"), "attribute 'output_shape' must be resolved into pads");
  const auto st = a.ints_n("strides", 2, 1), dl = a.ints_n("dilations", 2, 1), pd = a.ints_n("pads", 4, 0);
  const auto op = a.ints_n("output_padding", 2, 0);
  ops::ConvTransposeGeometry g;
  g.stride_h = st[0], g.stride_w = st[1], g.dilation_h = dl[0], g.dilation_w = dl[1];
  g.pad_top = pd[0], g.pad_left = pd[1], g.pad_bottom = pd[2], g.pad_right = pd[3];
  g.output_padding_h = op[0], g.output_padding_w = op[1];
  LAI_CHECK(g.stride_h >= 1 && g.stride_w >= 1 && g.dilation_h >= 1 && g.dilation_w >= 1,
            "strides and dilations must be >= 1");
  LAI_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, "pads must be >= 0");
  LAI_CHECK(g.output_padding_h >= 0 && g.output_padding_h < g.stride_h && g.output_padding_w >= 0 &&
                g.output_padding_w < g.stride_w,
            "output_padding must be in [0, stride)");
  return g;
}

Shapes convt_infer(const GraphNode& n, const Shapes& in, const SlotShapes& s) {
  const Shape& x = in[0];
  const Shape& w = slot_shape(s, "weight");
  need_rank(x, 4, "input");
  need_rank(w, 4, "weight");
  check_kernel_shape(n, w);
  const ops::ConvTransposeGeometry g = convt_geometry(n);
  LAI_CHECK(x[1] == w[0], "input has ", x[1], " channels, weight ", to_string(w), " expects ", w[0]);
  if (has_slot(s, "bias"))
    LAI_CHECK(slot_shape(s, "bias") == Shape{w[1]}, "bias ", to_string(slot_shape(s, "bias")), " does not match ",
              w[1], " output channels");
  const int64_t oh = (x[2] - 1) * g.stride_h - g.pad_top - g.pad_bottom + g.dilation_h * (w[2] - 1) + 1 + g.output_padding_h;
  const int64_t ow = (x[3] - 1) * g.stride_w - g.pad_left - g.pad_right + g.dilation_w * (w[3] - 1) + 1 + g.output_padding_w;
  LAI_CHECK(oh > 0 && ow > 0, "output would be empty for input ", to_string(x));
  return {{x[0], w[1], oh, ow}};
}

// ---- pooling ----
ops::Pool2dGeometry pool_geometry(const GraphNode& n) {
  Attrs a{n};
  LAI_CHECK(a.s("auto_pad", "NOTSET") == "NOTSET", "attribute 'auto_pad' must be resolved into pads");
  LAI_CHECK(a.has("kernel_shape"), "attribute 'kernel_shape' is required");
  const auto k = a.ints_n("kernel_shape", 2, 1), st = a.ints_n("strides", 2, 1), pd = a.ints_n("pads", 4, 0);
  const auto dl = a.ints_n("dilations", 2, 1);
  LAI_CHECK(dl[0] == 1 && dl[1] == 1, "dilations other than 1 are not supported");
  LAI_CHECK(a.i("storage_order", 0) == 0, "storage_order 1 (column major) is not supported");
  ops::Pool2dGeometry g;
  g.kernel_h = k[0], g.kernel_w = k[1], g.stride_h = st[0], g.stride_w = st[1];
  g.pad_top = pd[0], g.pad_left = pd[1], g.pad_bottom = pd[2], g.pad_right = pd[3];
  g.ceil_mode = a.i("ceil_mode", 0) != 0;
  LAI_CHECK(g.kernel_h >= 1 && g.kernel_w >= 1 && g.stride_h >= 1 && g.stride_w >= 1,
            "kernel_shape and strides must be >= 1");
  LAI_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, "pads must be >= 0");
  LAI_CHECK(std::max(g.pad_top, g.pad_bottom) < g.kernel_h && std::max(g.pad_left, g.pad_right) < g.kernel_w,
            "pads must be smaller than the window");
  return g;
}

Shapes pool_infer(const GraphNode& n, const Shapes& in, const SlotShapes&) {
  const Shape& x = in[0];
  need_rank(x, 4, "input");
  const ops::Pool2dGeometry g = pool_geometry(n);
  const int64_t oh = g.out_h(x[2]), ow = g.out_w(x[3]);
  LAI_CHECK(oh > 0 && ow > 0, "window ", g.kernel_h, "x", g.kernel_w, " larger than input ", to_string(x),
            " with its padding");
  return {{x[0], x[1], oh, ow}};
}

// ---- shape operators: one function computes the output shape for inference and for the run ----
int64_t axis_of(int64_t axis, int64_t rank, const char* what) {
  LAI_CHECK(axis >= -rank && axis < rank, what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

Shape flatten_shape(const GraphNode& n, const Shape& x) {
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = Attrs{n}.i("axis", 1);
  LAI_CHECK(axis >= -r && axis <= r, "axis ", axis, " is out of range for rank ", r);
  if (axis < 0) axis += r;
  return {prod(x, 0, size_t(axis)), prod(x, size_t(axis), x.size())};
}

Shape reshape_shape(const GraphNode& n, const Shape& x) {
  Attrs a{n};
  LAI_CHECK(a.has("shape"), "attribute 'shape' is required");
  Shape out = a.ints("shape", {});
  const bool allowzero = a.i("allowzero", 0) != 0;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      LAI_CHECK(i < x.size(), "shape entry 0 at index ", i, " copies a dimension input ", to_string(x), " lacks");
      out[i] = x[i];
    }
    if (out[i] == -1) {
      LAI_CHECK(infer < 0, "shape ", to_string(a.ints("shape", {})), " has more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      LAI_CHECK(out[i] >= 0, "shape entry ", out[i], " is negative");
      known *= out[i];
    }
  }
  const int64_t total = numel(x);
  if (infer >= 0) {
    LAI_CHECK(known > 0 && total % known == 0, "cannot reshape ", to_string(x), " to ", to_string(a.ints("shape", {})));
    out[size_t(infer)] = total / known;
  }
  LAI_CHECK(numel(out) == total, "cannot reshape ", to_string(x), " (", total, " elements) to ", to_string(out));
  return out;
}

std::vector<int64_t> transpose_perm(const GraphNode& n, size_t rank) {
  std::vector<int64_t> perm(rank);
  std::iota(perm.rbegin(), perm.rend(), 0);
  perm = Attrs{n}.ints("perm", perm);
  LAI_CHECK(perm.size() == rank, "perm has ", perm.size(), " entries for rank ", rank);
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    LAI_CHECK(p >= 0 && p < int64_t(rank) && !seen[size_t(p)], "perm is not a permutation of 0..", rank - 1);
    seen[size_t(p)] = true;
  }
  return perm;
}

Shape squeeze_shape(const GraphNode& n, const Shape& x) {
  const auto axes = Attrs{n}.ints("axes", {});
  std::vector<bool> drop(x.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
  } else {
    for (int64_t a : axes) {
      const int64_t i = axis_of(a, int64_t(x.size()), "axis");
      LAI_CHECK(x[size_t(i)] == 1, "cannot squeeze axis ", a, " of size ", x[size_t(i)], " in ", to_string(x));
      drop[size_t(i)] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < x.size(); ++i)
    if (!drop[i]) out.push_back(x[i]);
  return out;
}

Shape unsqueeze_shape(const GraphNode& n, const Shape& x) {
  const auto axes = Attrs{n}.ints("axes", {});
  LAI_CHECK(!axes.empty(), "attribute 'axes' is required");
  const int64_t r = int64_t(x.size() + axes.size());
  std::vector<bool> added(size_t(r), false);
  for (int64_t a : axes) {
    const int64_t i = axis_of(a, r, "axis");
    LAI_CHECK(!added[size_t(i)], "axis ", a, " is given twice");
    added[size_t(i)] = true;
  }
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(added[size_t(i)] ? 1 : x[k++]);
  return out;
}

std::vector<int64_t> pad_list(const GraphNode& n, size_t rank) {
  Attrs a{n};
  LAI_CHECK(a.s("mode", "constant") == "constant", "mode '", a.s("mode", ""), "' is not supported (constant only)");
  const auto pads = a.ints("pads", {});
  LAI_CHECK(pads.size() == 2 * rank, "pads has ", pads.size(), " entries for rank ", rank, " (need ", 2 * rank, ")");
  return pads;
}

std::vector<int64_t> reduce_axes(const GraphNode& n, size_t rank) {
  std::vector<int64_t> axes = Attrs{n}.ints("axes", {});
  if (axes.empty())
    for (size_t i = 0; i < rank; ++i) axes.push_back(int64_t(i));
  for (int64_t& a : axes) a = axis_of(a, int64_t(rank), "axis");
  return axes;
}

Shape matmul_shape(const Shape& a, const Shape& b) {
  LAI_CHECK(!a.empty() && !b.empty(), "MatMul needs inputs of rank >= 1, got ", to_string(a), " and ", to_string(b));
  Shape A = a.size() == 1 ? Shape{1, a[0]} : a, B = b.size() == 1 ? Shape{b[0], 1} : b;
  LAI_CHECK(A.back() == B[B.size() - 2], "shapes ", to_string(a), " and ", to_string(b), " are not aligned");
  Shape batch = broadcast_shapes(Shape(A.begin(), A.end() - 2), Shape(B.begin(), B.end() - 2), "MatMul");
  if (a.size() > 1) batch.push_back(A[A.size() - 2]);
  if (b.size() > 1) batch.push_back(B.back());
  return batch;
}

Shapes same_shape(const GraphNode&, const Shapes& in, const SlotShapes&) { return {in[0]}; }

Shapes broadcast_infer(const GraphNode& n, const Shapes& in, const SlotShapes&) {
  return {broadcast_shapes(in[0], in[1], n.op.c_str())};
}

OpDef unary(const char* name, std::function<Tensor(const GraphNode&, const Tensor&)> f) {
  OpDef d;
  d.name = name;
  d.infer = same_shape;
  d.run = [f](const GraphNode& n, Module&, const std::vector<Tensor>& in, bool) { return std::vector<Tensor>{f(n, in[0])}; };
  return d;
}

OpDef binary(const char* name, Tensor (*f)(const Tensor&, const Tensor&)) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = broadcast_infer;
  d.run = [f](const GraphNode&, Module&, const std::vector<Tensor>& in, bool) { return std::vector<Tensor>{f(in[0], in[1])}; };
  return d;
}

std::vector<OpDef> make_ops() {
  std::vector<OpDef> v;
  using In = std::vector<Tensor>;

  {  // Conv: x[N, C, H, W], weight [K, C/group, R, S], bias [K]
    OpDef d;
    d.name = "Conv";
    d.slots = {{"weight", true}, {"bias", false}};
    d.kernel_slot = "weight";
    d.infer = conv_infer;
    d.run = [](const GraphNode& n, Module& s, const In& in, bool) {
      return In{ops::conv2d(in[0], get(s, "weight"), get(s, "bias"), conv_geometry(n))};
    };
    d.macs = [](const GraphNode&, const Shapes&, const Shapes& out, const SlotShapes& s) {
      const Shape& w = slot_shape(s, "weight");
      return numel(out[0]) * w[1] * w[2] * w[3];
    };
    v.push_back(d);
  }
  {  // ConvTranspose: weight [C, K, R, S]
    OpDef d;
    d.name = "ConvTranspose";
    d.slots = {{"weight", true}, {"bias", false}};
    d.kernel_slot = "weight";
    d.infer = convt_infer;
    d.run = [](const GraphNode& n, Module& s, const In& in, bool) {
      return In{ops::conv_transpose2d(in[0], get(s, "weight"), get(s, "bias"), convt_geometry(n))};
    };
    d.macs = [](const GraphNode&, const Shapes& in, const Shapes&, const SlotShapes& s) {
      const Shape& w = slot_shape(s, "weight");
      return numel(in[0]) * w[1] * w[2] * w[3];
    };
    v.push_back(d);
  }
  {  // Dense: x[N, in] weight [in, out] + bias [out] (an nn::Dense)
    OpDef d;
    d.name = "Dense";
    d.slots = {{"weight", true}, {"bias", false}};
    d.kernel_slot = "weight";
    d.infer = [](const GraphNode&, const Shapes& in, const SlotShapes& s) {
      const Shape& w = slot_shape(s, "weight");
      need_rank(in[0], 2, "input");
      need_rank(w, 2, "weight");
      LAI_CHECK(in[0][1] == w[0], "input has ", in[0][1], " features, weight ", to_string(w), " expects ", w[0]);
      if (has_slot(s, "bias"))
        LAI_CHECK(slot_shape(s, "bias") == Shape{w[1]}, "bias ", to_string(slot_shape(s, "bias")), " does not match ",
                  w[1], " outputs");
      return Shapes{{in[0][0], w[1]}};
    };
    d.run = [](const GraphNode&, Module& s, const In& in, bool) { return In{s.forward(in[0])}; };
    d.macs = [](const GraphNode&, const Shapes& in, const Shapes&, const SlotShapes& s) {
      return numel(in[0]) * slot_shape(s, "weight")[1];
    };
    v.push_back(d);
  }
  {  // BatchNormalization: scale, bias (trained), mean, var (statistics); ONNX momentum
    OpDef d;
    d.name = "BatchNormalization";
    d.slots = {{"scale", true}, {"bias", true}, {"mean", true}, {"var", true}};
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes& s) {
      LAI_CHECK(in[0].size() >= 2, "input must be [N, C, ...], got ", to_string(in[0]));
      for (const char* slot : {"scale", "bias", "mean", "var"})
        LAI_CHECK(slot_shape(s, slot) == Shape{in[0][1]}, "tensor '", slot, "' ", to_string(slot_shape(s, slot)),
                  " does not match ", in[0][1], " channels");
      LAI_CHECK(Attrs{n}.f("epsilon", 1e-5f) > 0.f, "attribute 'epsilon' must be positive");
      return Shapes{in[0]};
    };
    d.run = [](const GraphNode& n, Module& s, const In& in, bool training) {
      Attrs a{n};
      return In{ops::batch_norm(in[0], get(s, "scale"), get(s, "bias"), get(s, "mean"), get(s, "var"), training,
                                1.f - a.f("momentum", 0.9f), a.f("epsilon", 1e-5f))};
    };
    v.push_back(d);
  }
  v.push_back(unary("Relu", [](const GraphNode&, const Tensor& x) { return ops::relu(x); }));
  v.push_back(unary("Sigmoid", [](const GraphNode&, const Tensor& x) { return ops::sigmoid(x); }));
  v.push_back(unary("Tanh", [](const GraphNode&, const Tensor& x) { return ops::tanh(x); }));
  v.push_back(unary("Swish", [](const GraphNode&, const Tensor& x) { return ops::swish(x); }));
  v.push_back(unary("HardSwish", [](const GraphNode&, const Tensor& x) { return ops::hard_swish(x); }));
  v.push_back(unary("HardSigmoid", [](const GraphNode& n, const Tensor& x) {
    Attrs a{n};
    return ops::hard_sigmoid(x, a.f("alpha", 0.2f), a.f("beta", 0.5f));
  }));
  v.push_back(unary("LeakyRelu", [](const GraphNode& n, const Tensor& x) { return ops::leaky_relu(x, Attrs{n}.f("alpha", 0.01f)); }));
  {
    OpDef d = unary("Clip", [](const GraphNode& n, const Tensor& x) {
      Attrs a{n};
      const float inf = std::numeric_limits<float>::infinity();
      return ops::clamp(x, a.f("min", -inf), a.f("max", inf));
    });
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      Attrs a{n};
      const float inf = std::numeric_limits<float>::infinity();
      LAI_CHECK(a.f("min", -inf) <= a.f("max", inf), "min ", a.f("min", -inf), " > max ", a.f("max", inf));
      return Shapes{in[0]};
    };
    v.push_back(d);
  }
  v.push_back(unary("Identity", [](const GraphNode&, const Tensor& x) { return x; }));
  {  // Dropout: an nn::Dropout (identity in eval mode)
    OpDef d;
    d.name = "Dropout";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      const float r = Attrs{n}.f("ratio", 0.5f);
      LAI_CHECK(r >= 0.f && r < 1.f, "ratio must be in [0, 1), got ", r);
      return Shapes{in[0]};
    };
    d.run = [](const GraphNode&, Module& s, const In& in, bool) { return In{s.forward(in[0])}; };
    v.push_back(d);
  }
  v.push_back(binary("Add", ops::add));
  v.push_back(binary("Sub", ops::sub));
  v.push_back(binary("Mul", ops::mul));
  v.push_back(binary("Div", ops::div));
  {
    OpDef d;
    d.name = "MatMul";
    d.min_inputs = d.max_inputs = 2;
    d.infer = [](const GraphNode&, const Shapes& in, const SlotShapes&) { return Shapes{matmul_shape(in[0], in[1])}; };
    d.run = [](const GraphNode&, Module&, const In& in, bool) { return In{ops::matmul(in[0], in[1])}; };
    d.macs = [](const GraphNode&, const Shapes& in, const Shapes& out, const SlotShapes&) {
      return numel(out[0]) * in[0].back();
    };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Concat";
    d.max_inputs = -1;
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      const int64_t r = int64_t(in[0].size());
      LAI_CHECK(Attrs{n}.has("axis"), "attribute 'axis' is required");
      const int64_t axis = axis_of(Attrs{n}.i("axis", 0), r, "axis");
      Shape out = in[0];
      for (size_t k = 1; k < in.size(); ++k) {
        LAI_CHECK(int64_t(in[k].size()) == r, "inputs ", to_string(in[0]), " and ", to_string(in[k]), " differ in rank");
        for (int64_t d2 = 0; d2 < r; ++d2)
          LAI_CHECK(d2 == axis || in[k][size_t(d2)] == in[0][size_t(d2)], "inputs ", to_string(in[0]), " and ",
                    to_string(in[k]), " differ outside axis ", axis);
        out[size_t(axis)] += in[k][size_t(axis)];
      }
      return Shapes{out};
    };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{ops::concat(in, Attrs{n}.i("axis", 0))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "MaxPool";
    d.infer = pool_infer;
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{ops::max_pool2d(in[0], pool_geometry(n))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "AveragePool";
    d.infer = pool_infer;
    d.run = [](const GraphNode& n, Module&, const In& in, bool) {
      return In{ops::avg_pool2d(in[0], pool_geometry(n), Attrs{n}.i("count_include_pad", 0) != 0)};
    };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "GlobalAveragePool";
    d.infer = [](const GraphNode&, const Shapes& in, const SlotShapes&) {
      need_rank(in[0], 4, "input");
      return Shapes{{in[0][0], in[0][1], 1, 1}};
    };
    d.run = [](const GraphNode&, Module&, const In& in, bool) { return In{ops::mean(in[0], {2, 3}, true)}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "GlobalMaxPool";
    d.infer = [](const GraphNode&, const Shapes& in, const SlotShapes&) {
      need_rank(in[0], 4, "input");
      return Shapes{{in[0][0], in[0][1], 1, 1}};
    };
    d.run = [](const GraphNode&, Module&, const In& in, bool) {
      const Tensor& x = in[0];
      const Tensor flat = ops::reshape(ops::contiguous(x), {x.size(0), x.size(1), x.size(2) * x.size(3)});
      return In{ops::reshape(ops::max(flat, 2), {x.size(0), x.size(1), 1, 1})};
    };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Flatten";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) { return Shapes{flatten_shape(n, in[0])}; };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{in[0].reshape(flatten_shape(n, in[0].shape()))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Reshape";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) { return Shapes{reshape_shape(n, in[0])}; };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{in[0].reshape(reshape_shape(n, in[0].shape()))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Transpose";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      const auto perm = transpose_perm(n, in[0].size());
      Shape out;
      for (int64_t p : perm) out.push_back(in[0][size_t(p)]);
      return Shapes{out};
    };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{in[0].permute(transpose_perm(n, size_t(in[0].dim())))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Squeeze";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) { return Shapes{squeeze_shape(n, in[0])}; };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{in[0].reshape(squeeze_shape(n, in[0].shape()))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Unsqueeze";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) { return Shapes{unsqueeze_shape(n, in[0])}; };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{in[0].reshape(unsqueeze_shape(n, in[0].shape()))}; };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Pad";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      const auto pads = pad_list(n, in[0].size());
      Shape out = in[0];
      for (size_t i = 0; i < out.size(); ++i) {
        out[i] += pads[i] + pads[i + out.size()];
        LAI_CHECK(out[i] >= 1, "pads ", to_string(pads), " leave dimension ", i, " of ", to_string(in[0]), " empty");
      }
      return Shapes{out};
    };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) {
      return In{ops::pad(in[0], pad_list(n, size_t(in[0].dim())), Attrs{n}.f("value", 0.f))};
    };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "ReduceMean";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      const auto axes = reduce_axes(n, in[0].size());
      const bool keep = Attrs{n}.i("keepdims", 1) != 0;
      Shape out;
      for (size_t i = 0; i < in[0].size(); ++i) {
        const bool reduced = std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
        if (!reduced) out.push_back(in[0][i]);
        else if (keep) out.push_back(1);
      }
      return Shapes{out};
    };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) {
      return In{ops::mean(in[0], reduce_axes(n, size_t(in[0].dim())), Attrs{n}.i("keepdims", 1) != 0)};
    };
    v.push_back(d);
  }
  {
    OpDef d;
    d.name = "Softmax";
    d.infer = [](const GraphNode& n, const Shapes& in, const SlotShapes&) {
      LAI_CHECK(!in[0].empty(), "input must have at least one dimension");
      axis_of(Attrs{n}.i("axis", -1), int64_t(in[0].size()), "axis");
      return Shapes{in[0]};
    };
    d.run = [](const GraphNode& n, Module&, const In& in, bool) { return In{ops::softmax(in[0], Attrs{n}.i("axis", -1))}; };
    v.push_back(d);
  }
  {  // Constant: its tensor ("value"), trained when it is a parameter
    OpDef d;
    d.name = "Constant";
    d.min_inputs = d.max_inputs = 0;
    d.slots = {{"value", true}};
    d.infer = [](const GraphNode&, const Shapes&, const SlotShapes& s) { return Shapes{slot_shape(s, "value")}; };
    d.run = [](const GraphNode&, Module& s, const In&, bool) { return In{get(s, "value")}; };
    v.push_back(d);
  }
  return v;
}

const std::vector<OpDef>& all_ops() {
  static const std::vector<OpDef> ops = make_ops();
  return ops;
}

// A stable seed per Dropout node (its name), so a graph rebuilt from a file draws the same masks.
uint64_t name_seed(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

Tensor find_named(const NamedTensors& list, const std::string& slot) {
  for (const auto& [n, t] : list)
    if (n == slot) return t;
  return Tensor();
}

}  // namespace

const OpDef* find_op(const std::string& name) {
  for (const OpDef& d : all_ops())
    if (d.name == name) return &d;
  return nullptr;
}

std::vector<std::string> op_names() {
  std::vector<std::string> out;
  for (const OpDef& d : all_ops()) out.push_back(d.name);
  return out;
}

ModulePtr make_state(const OpDef& op, const GraphNode& node, const NamedTensors& params, const NamedTensors& buffers) {
  const float l2 = Attrs{node}.f("l2", 0.f);
  if (op.name == "Dense") {
    const Tensor w = find_named(params, "weight"), b = find_named(params, "bias");
    LAI_CHECK(w.defined() && w.dim() == 2, "graph: node '", node.name, "' (Dense) needs a weight [in, out]");
    LAI_CHECK(params.size() == (b.defined() ? 2u : 1u) && buffers.empty(), "graph: node '", node.name,
              "' (Dense) has tensors other than weight and bias");
    DenseOptions o;
    o.l2 = l2;
    return std::make_shared<Dense>(w, b, o);
  }
  if (op.name == "Dropout") {
    LAI_CHECK(params.empty() && buffers.empty(), "graph: node '", node.name, "' (Dropout) has no tensors");
    return std::make_shared<Dropout>(Attrs{node}.f("ratio", 0.5f), name_seed(node.name));
  }
  if (params.empty() && buffers.empty()) return nullptr;
  return std::make_shared<NodeState>(op.name, params, buffers, op.kernel_slot, l2);
}

Tensor slot_of(const Module& state, const std::string& slot) {
  if (auto* s = dynamic_cast<const NodeState*>(&state)) return s->get(slot);
  for (const auto& [n, t] : state.state())
    if (n == slot) return t;
  return Tensor();
}

// ---------------- fused steps ----------------
namespace {
// The Conv's geometry in the zoo layers' form (for the fused inference conv + pool), if it has one.
bool simple_conv(const GraphNode& conv, ops::Conv2dOptions* o) {
  const ops::ConvGeometry g = conv_geometry(conv);
  if (g.groups != 1 || g.stride_h != g.stride_w || g.dilation_h != g.dilation_w || g.pad_top != g.pad_bottom ||
      g.pad_left != g.pad_right || g.pad_top != g.pad_left)
    return false;
  if (o) o->stride = g.stride_h, o->dilation = g.dilation_h, o->padding = g.pad_top;
  return true;
}
bool pool_2x2(const GraphNode& pool) {
  const ops::Pool2dGeometry g = pool_geometry(pool);
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 &&
         g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0 && !g.ceil_mode;
}
}  // namespace

bool can_extend(const std::vector<const GraphNode*>& chain, const GraphNode& next) {
  std::string seq;  // the chain's operators, comma separated
  for (const GraphNode* n : chain) seq += seq.empty() ? n->op : "," + n->op;
  const std::string& op = next.op;
  if (seq == "Conv") return op == "Relu" || op == "Swish" || (op == "AveragePool" && pool_2x2(next) && simple_conv(*chain[0], nullptr));
  if (seq == "Conv,Relu" || seq == "Conv,Swish") return op == "AveragePool" && pool_2x2(next) && simple_conv(*chain[0], nullptr);
  if (seq == "Concat") {
    const int64_t axis = Attrs{*chain[0]}.i("axis", 0);
    return op == "BatchNormalization" && (axis == 1 || axis == -3);
  }
  if (seq == "BatchNormalization" || seq == "Concat,BatchNormalization") return op == "Relu";
  if (seq == "BatchNormalization,Relu" || seq == "Concat,BatchNormalization,Relu") {
    if (op != "Conv") return false;
    const ops::ConvGeometry g = conv_geometry(next);
    return g.groups == 1 && g.pad_top == g.pad_bottom && g.pad_left == g.pad_right;
  }
  return false;
}

std::vector<Tensor> run_fused(const std::vector<const GraphNode*>& chain, const std::vector<Module*>& states,
                              const std::vector<Tensor>& in_all, bool training) {
  size_t k = 0;  // the chain position the remaining nodes start at
  std::vector<Tensor> in = in_all;
  if (chain[0]->op == "Concat" && chain.size() > 1 && chain.back()->op != "Conv") {
    in = {ops::concat(in, Attrs{*chain[0]}.i("axis", 1))};  // a concat with nothing to fuse it into
    k = 1;
  } else if (chain[0]->op == "Concat") {
    k = 1;  // the parts go to the fused op as they are
  }
  const GraphNode& head = *chain[k];
  Module* state = states[k];
  if (head.op == "BatchNormalization") {
    Attrs a{head};
    const float momentum = 1.f - a.f("momentum", 0.9f), eps = a.f("epsilon", 1e-5f);
    if (chain.back()->op != "Conv") {  // BN -> Relu
      if (in.size() > 1) in = {ops::concat(in, 1)};
      return {ops::batch_norm(in[0], get(*state, "scale"), get(*state, "bias"), get(*state, "mean"), get(*state, "var"),
                              training, momentum, eps, true)};
    }
    const GraphNode& conv = *chain.back();
    Module& cs = *states.back();
    ops::BatchNormParams bn{get(*state, "scale"), get(*state, "bias"), get(*state, "mean"), get(*state, "var"),
                            training, momentum, eps};
    return {ops::bn_relu_conv2d(in, bn, get(cs, "weight"), get(cs, "bias"), conv_geometry(conv))};
  }
  // Conv -> activation [-> pool]
  ops::ConvAct act = ops::ConvAct::none;
  const GraphNode* pool = nullptr;
  for (size_t i = 1; i < chain.size(); ++i) {
    if (chain[i]->op == "Relu") act = ops::ConvAct::relu;
    else if (chain[i]->op == "Swish") act = ops::ConvAct::swish;
    else pool = chain[i];
  }
  const Tensor w = get(*state, "weight"), b = get(*state, "bias");
  ops::Conv2dOptions o;
  if (pool && !autograd::grad_enabled() && simple_conv(head, &o) && in[0].dim() == 4) {
    // Inference: the pool of the activation in one pass (the full-size map is never written).
    return {ops::conv2d_avgpool2(in[0], w, b, o, act)};
  }
  Tensor y = ops::conv2d(in[0], w, b, conv_geometry(head), act);
  if (pool) y = ops::avg_pool2d(y, pool_geometry(*pool), Attrs{*pool}.i("count_include_pad", 0) != 0);
  return {y};
}

}  // namespace liteai::nn::graph_ops
