// nn::Graph: structure, execution plan, shape inference, transforms, serialization.
#include "liteai/nn/graph.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "liteai/autograd/autograd.hpp"
#include "liteai/nn/tap.hpp"
#include "nn/graph_ops.hpp"
#include "nn/placeholder.hpp"

namespace liteai::nn {

namespace {
// Limits on a graph read from a file (the model loader also checks every tensor against the file).
constexpr size_t kMaxNodes = 1 << 20;
constexpr size_t kMaxRank = 8;
constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr int64_t kMaxSampleElements = int64_t(1) << 28;  // one input sample: 1 GB of f32

std::string known_ops() {
  std::string s;
  for (const auto& n : graph_ops::op_names()) s += s.empty() ? n : ", " + n;
  return s;
}

std::string node_label(const GraphNode& n) { return str_cat("graph: node '", n.name, "' (", n.op, ")"); }

// Runs fn; an Error from it comes back prefixed with the node it concerns, same kind.
template <class F>
auto about(const GraphNode& n, F&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(e.kind(), str_cat(node_label(n), ": ", e.what()));
  }
}

bool valid_name(const std::string& s) { return !s.empty() && s.find('.') == std::string::npos; }

std::string with_commas(int64_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}
}  // namespace

// ---------------- building ----------------
void Graph::add_input(const std::string& name, const Shape& shape) {
  LAI_CHECK(!name.empty(), "graph: an input needs a name");
  for (const auto& i : inputs_) LAI_CHECK(i.name != name, "graph: input '", name, "' added twice");
  inputs_.push_back({name, shape});
  rebuild();
}

void Graph::add_output(const std::string& value) {
  LAI_CHECK(!value.empty(), "graph: an output needs a name");
  outputs_.push_back(value);
  rebuild();
}

GraphNode& Graph::add_node(GraphNode node, const NamedTensors& params, const NamedTensors& buffers) {
  return insert_node(nodes_.size(), std::move(node), params, buffers);
}

GraphNode& Graph::insert_node(size_t position, GraphNode node, const NamedTensors& params, const NamedTensors& buffers) {
  LAI_CHECK(valid_name(node.name), "graph: node name '", node.name, "' must be non-empty and contain no '.'");
  LAI_CHECK(find(node.name) == nullptr, "graph: node '", node.name, "' added twice");
  LAI_CHECK(graph_ops::find_op(node.op), node_label(node), ": unknown operator (known: ", known_ops(), ")");
  LAI_CHECK(node.attrs.is_object(), node_label(node), ": attrs must be a JSON object");
  position = std::min(position, nodes_.size());
  nodes_.insert(nodes_.begin() + static_cast<std::ptrdiff_t>(position), std::move(node));
  states_.insert(states_.begin() + static_cast<std::ptrdiff_t>(position), nullptr);
  try {
    attach(position, params, buffers);
  } catch (...) {
    nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(position));
    states_.erase(states_.begin() + static_cast<std::ptrdiff_t>(position));
    throw;
  }
  rebuild();
  return nodes_[position];
}

void Graph::attach(size_t i, const NamedTensors& params, const NamedTensors& buffers) {
  const GraphNode& n = nodes_[i];
  const graph_ops::OpDef& op = *graph_ops::find_op(n.op);
  std::set<std::string> names;
  for (const auto* list : {&params, &buffers})
    for (const auto& entry : *list) {
      const std::string& slot = entry.first;
      const Tensor& t = entry.second;
      LAI_CHECK(t.defined(), node_label(n), ": tensor '", slot, "' is undefined");
      LAI_CHECK(t.dtype() == DType::f32, node_label(n), ": tensor '", slot, "' must be f32");
      LAI_CHECK(names.insert(slot).second, node_label(n), ": tensor '", slot, "' given twice");
      const bool known = std::any_of(op.slots.begin(), op.slots.end(), [&](const auto& s) { return slot == s.name; });
      LAI_CHECK(known, node_label(n), ": no tensor slot '", slot, "' (", n.op, " has ",
                [&] {
                  std::string s;
                  for (const auto& sl : op.slots) s += s.empty() ? std::string(sl.name) : ", " + std::string(sl.name);
                  return s.empty() ? std::string("none") : s;
                }(),
                ")");
    }
  states_[i] = about(n, [&] { return graph_ops::make_state(op, n, params, buffers); });
  if (states_[i]) states_[i]->train(is_training());
}

void Graph::rebuild() {
  // Children: the node states in node order, so state() lists "<node>.<slot>" in that order.
  clear_children();
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (states_[i]) add_child(nodes_[i].name, states_[i]);
  // Plan: fuse a consumer into its producer when it is the value's only reader and the value is
  // no graph output; release each value after the last step that reads it.
  plan_.clear();
  std::unordered_map<std::string, int> readers;
  std::unordered_map<std::string, size_t> first_reader;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const auto& v : nodes_[i].inputs)
      if (!v.empty() && readers[v]++ == 0) first_reader[v] = i;
  std::vector<bool> taken(nodes_.size(), false);
  std::unordered_map<std::string, size_t> last_step;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (taken[i]) continue;
    Step step;
    step.chain.push_back(i);
    std::vector<const GraphNode*> chain{&nodes_[i]};
    while (true) {
      const GraphNode& tail = nodes_[step.chain.back()];
      if (tail.outputs.size() != 1) break;
      const std::string& v = tail.outputs[0];
      if (readers[v] != 1 || is_output(v)) break;
      const size_t j = first_reader[v];
      // The consumer reads only this value (its first input; a Conv's weights are its own).
      if (j <= step.chain.back() || taken[j] || nodes_[j].inputs.size() != 1) break;
      bool ok = false;
      try {
        ok = graph_ops::can_extend(chain, nodes_[j]);
      } catch (const Error&) {
        ok = false;  // malformed attributes: check() reports them; run them unfused
      }
      if (!ok) break;
      taken[j] = true;
      step.chain.push_back(j);
      chain.push_back(&nodes_[j]);
    }
    for (size_t k : step.chain)
      for (const auto& v : nodes_[k].inputs)
        if (!v.empty()) last_step[v] = plan_.size();
    plan_.push_back(std::move(step));
  }
  for (const auto& [v, s] : last_step)
    if (!is_output(v)) plan_[s].release.push_back(v);
  for (auto& s : plan_) std::sort(s.release.begin(), s.release.end());
}

// ---------------- running ----------------
Tensor Graph::forward(const Tensor& x) {
  LAI_CHECK(inputs_.size() == 1, "graph: forward(x) needs a graph with one input, this one has ", inputs_.size(),
            " (use run)");
  LAI_CHECK(!outputs_.empty(), "graph: no outputs");
  return run({x})[0];
}

std::vector<Tensor> Graph::run(const std::vector<Tensor>& inputs) {
  LAI_CHECK(inputs.size() == inputs_.size(), "graph: ", inputs.size(), " inputs given, the graph has ", inputs_.size());
  std::unordered_map<std::string, Tensor> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const GraphInput& in = inputs_[i];
    const Shape& s = inputs[i].shape();
    bool ok = inputs[i].defined() && s.size() == in.shape.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = in.shape[d] == -1 || in.shape[d] == s[d];
    LAI_CHECK(ok, "graph: input '", in.name, "' must be ", to_string(in.shape), " (-1: any), got ",
              inputs[i].defined() ? to_string(s) : std::string("undefined"));
    values[in.name] = inputs[i];
  }
  const bool training = is_training();
  static graph_ops::NodeState no_tensors("none", {}, {}, "", 0.f);  // for nodes without any
  for (const Step& step : plan_) {
    const GraphNode& head = nodes_[step.chain[0]];
    std::vector<Tensor> in;
    for (const auto& v : head.inputs) {
      if (v.empty()) {
        in.emplace_back();
        continue;
      }
      auto it = values.find(v);
      LAI_CHECK(it != values.end(), node_label(head), ": input '", v, "' is not computed before it");
      in.push_back(it->second);
    }
    Module& state = states_[step.chain[0]] ? *states_[step.chain[0]] : no_tensors;
    std::vector<Tensor> out;
    if (const ForwardTap* tap = active_tap(); tap && tap->value) {
      // Tapped (nn/tap.hpp): node by node, every value through the tap.
      for (size_t k : step.chain) {
        const GraphNode& n = nodes_[k];
        std::vector<Tensor> nin;
        for (const auto& v : n.inputs) {
          if (v.empty()) {
            nin.emplace_back();
            continue;
          }
          auto it = values.find(v);
          LAI_CHECK(it != values.end(), node_label(n), ": input '", v, "' is not computed before it");
          nin.push_back(it->second);
        }
        Module& st = states_[k] ? *states_[k] : no_tensors;
        std::vector<Tensor> nout = about(n, [&] { return graph_ops::find_op(n.op)->run(n, st, nin, training); });
        LAI_CHECK(nout.size() == n.outputs.size(), node_label(n), ": internal: ", nout.size(), " outputs for ",
                  n.outputs.size());
        for (size_t o = 0; o < nout.size(); ++o) values[n.outputs[o]] = tap->value(*this, n.outputs[o], nout[o]);
      }
      for (const auto& v : step.release) values.erase(v);
      continue;
    }
    if (step.chain.size() == 1) {
      out = about(head, [&] { return graph_ops::find_op(head.op)->run(head, state, in, training); });
    } else {
      std::vector<const GraphNode*> chain;
      std::vector<Module*> states;
      for (size_t k : step.chain) chain.push_back(&nodes_[k]), states.push_back(states_[k] ? states_[k].get() : &no_tensors);
      out = about(head, [&] { return graph_ops::run_fused(chain, states, in, training); });
    }
    const GraphNode& tail = nodes_[step.chain.back()];
    LAI_CHECK(out.size() == tail.outputs.size(), node_label(tail), ": internal: ", out.size(), " outputs for ",
              tail.outputs.size());
    for (size_t k = 0; k < out.size(); ++k) values[tail.outputs[k]] = out[k];
    for (const auto& v : step.release) values.erase(v);
  }
  std::vector<Tensor> result;
  for (const auto& o : outputs_) {
    auto it = values.find(o);
    LAI_CHECK(it != values.end(), "graph: output '", o, "' is not computed");
    result.push_back(it->second);
  }
  return result;
}

std::string Graph::describe() const { return str_cat("Graph(", nodes_.size(), " nodes)"); }

// ---------------- walking ----------------
size_t Graph::index_of(const std::string& node) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == node) return i;
  throw_error(str_cat("graph: no node '", node, "'"));
}

const GraphNode* Graph::find(const std::string& node) const {
  for (const auto& n : nodes_)
    if (n.name == node) return &n;
  return nullptr;
}

GraphNode& Graph::node(const std::string& node) { return nodes_[index_of(node)]; }

const GraphNode* Graph::producer(const std::string& value) const {
  for (const auto& n : nodes_)
    if (std::find(n.outputs.begin(), n.outputs.end(), value) != n.outputs.end()) return &n;
  return nullptr;
}

std::vector<std::string> Graph::consumers(const std::string& value) const {
  std::vector<std::string> out;
  for (const auto& n : nodes_)
    if (std::find(n.inputs.begin(), n.inputs.end(), value) != n.inputs.end()) out.push_back(n.name);
  return out;
}

bool Graph::is_output(const std::string& value) const {
  return std::find(outputs_.begin(), outputs_.end(), value) != outputs_.end();
}

// ---------------- tensors ----------------
bool Graph::has_tensor(const std::string& node, const std::string& slot) const {
  const size_t i = index_of(node);
  return states_[i] && graph_ops::slot_of(*states_[i], slot).defined();
}

Tensor Graph::tensor(const std::string& node, const std::string& slot) const {
  const size_t i = index_of(node);
  Tensor t = states_[i] ? graph_ops::slot_of(*states_[i], slot) : Tensor();
  LAI_CHECK(t.defined(), node_label(nodes_[i]), ": no tensor '", slot, "'");
  return t;
}

NamedTensors Graph::params(const std::string& node) const {
  const size_t i = index_of(node);
  return states_[i] ? states_[i]->named_parameters() : NamedTensors{};
}

NamedTensors Graph::buffers(const std::string& node) const {
  const size_t i = index_of(node);
  return states_[i] ? states_[i]->named_buffers() : NamedTensors{};
}

void Graph::set_tensor(const std::string& node, const std::string& slot, const Tensor& value, bool buffer) {
  const size_t i = index_of(node);
  NamedTensors p = params(node), b = buffers(node);
  auto replace = [&](NamedTensors& list) {
    for (auto& [n, t] : list)
      if (n == slot) {
        t = value;
        return true;
      }
    return false;
  };
  if (!replace(p) && !replace(b)) (buffer ? b : p).emplace_back(slot, value);
  ModulePtr old = states_[i];
  try {
    attach(i, p, b);
  } catch (...) {
    states_[i] = old;
    throw;
  }
  rebuild();
}

// ---------------- transforming ----------------
void Graph::replace_node(const std::string& node, GraphNode replacement, const NamedTensors& params,
                         const NamedTensors& buffers) {
  const size_t i = index_of(node);
  LAI_CHECK(graph_ops::find_op(replacement.op), node_label(replacement), ": unknown operator");
  LAI_CHECK(valid_name(replacement.name), "graph: node name '", replacement.name, "' must be non-empty and contain no '.'");
  const GraphNode* clash = find(replacement.name);
  LAI_CHECK(!clash || clash == &nodes_[i], "graph: node '", replacement.name, "' exists already");
  GraphNode old_node = nodes_[i];
  ModulePtr old_state = states_[i];
  nodes_[i] = std::move(replacement);
  try {
    attach(i, params, buffers);
  } catch (...) {
    nodes_[i] = old_node;
    states_[i] = old_state;
    throw;
  }
  rebuild();
}

void Graph::remove_node(const std::string& node) {
  const size_t i = index_of(node);
  const GraphNode n = nodes_[i];
  LAI_CHECK(n.outputs.size() == 1 && !n.inputs.empty() && !n.inputs[0].empty(), node_label(n),
            ": only a node with a first input and one output can be removed");
  nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(i));
  states_.erase(states_.begin() + static_cast<std::ptrdiff_t>(i));
  replace_uses(n.outputs[0], n.inputs[0]);  // rebuilds
}

void Graph::replace_uses(const std::string& value, const std::string& by) {
  for (auto& n : nodes_)
    for (auto& v : n.inputs)
      if (v == value) v = by;
  for (auto& o : outputs_)
    if (o == value) o = by;
  rebuild();
}

void Graph::set_input_shape(const std::string& input, const Shape& shape) {
  for (auto& i : inputs_)
    if (i.name == input) {
      i.shape = shape;
      return;
    }
  throw_error(str_cat("graph: no input '", input, "'"));
}

int64_t Graph::remove_unused() {
  std::set<std::string> needed(outputs_.begin(), outputs_.end());
  std::vector<bool> keep(nodes_.size(), false);
  for (size_t k = nodes_.size(); k-- > 0;) {
    for (const auto& o : nodes_[k].outputs)
      if (needed.count(o)) keep[k] = true;
    if (keep[k])
      for (const auto& v : nodes_[k].inputs) needed.insert(v);
  }
  int64_t removed = 0;
  for (size_t k = nodes_.size(); k-- > 0;)
    if (!keep[k]) {
      nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(k));
      states_.erase(states_.begin() + static_cast<std::ptrdiff_t>(k));
      ++removed;
    }
  rebuild();
  return removed;
}

// ---------------- checking ----------------
namespace {
graph_ops::SlotShapes slot_shapes(const Module* state) {
  graph_ops::SlotShapes s;
  if (state)
    for (const auto& [n, t] : state->state()) s[n] = t.shape();
  return s;
}
}  // namespace

std::map<std::string, Shape> Graph::infer_shapes(int64_t batch) const {
  LAI_CHECK(batch >= 1, "graph: batch must be >= 1, got ", batch);
  std::map<std::string, Shape> shapes;
  for (const auto& in : inputs_) {
    Shape s = in.shape;
    for (auto& d : s)
      if (d == -1) d = batch;
    shapes[in.name] = s;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const GraphNode& n = nodes_[i];
    const graph_ops::OpDef& op = *graph_ops::find_op(n.op);
    graph_ops::Shapes in;
    for (const auto& v : n.inputs) {
      LAI_CHECK(!v.empty(), node_label(n), ": an omitted input is not supported here");
      auto it = shapes.find(v);
      LAI_CHECK(it != shapes.end(), node_label(n), ": input '", v, "' is not computed before it");
      in.push_back(it->second);
    }
    const graph_ops::Shapes out = about(n, [&] { return op.infer(n, in, slot_shapes(states_[i].get())); });
    for (size_t k = 0; k < n.outputs.size() && k < out.size(); ++k) shapes[n.outputs[k]] = out[k];
  }
  return shapes;
}

void Graph::check(int64_t batch) const {
  LAI_CHECK(!inputs_.empty(), "graph: no inputs");
  LAI_CHECK(!outputs_.empty(), "graph: no outputs");
  std::set<std::string> defined;
  for (const auto& in : inputs_) {
    LAI_CHECK(!in.shape.empty() && in.shape.size() <= kMaxRank, "graph: input '", in.name, "' has rank ",
              in.shape.size(), " (1..", kMaxRank, ")");
    int64_t elements = 1;
    for (size_t d = 0; d < in.shape.size(); ++d) {
      const int64_t v = in.shape[d];
      LAI_CHECK((v >= 1 && v <= kMaxDim) || (d == 0 && v == -1), "graph: input '", in.name, "' has shape ",
                to_string(in.shape), " (dimensions >= 1; the first may be -1)");
      if (d > 0) {
        elements *= v;
        LAI_CHECK(elements <= kMaxSampleElements, "graph: input '", in.name, "' of shape ", to_string(in.shape),
                  " exceeds ", kMaxSampleElements, " elements per sample");
      }
    }
    LAI_CHECK(defined.insert(in.name).second, "graph: value '", in.name, "' defined twice");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const GraphNode& n = nodes_[i];
    const graph_ops::OpDef& op = *graph_ops::find_op(n.op);
    LAI_CHECK(names.insert(n.name).second, "graph: node '", n.name, "' appears twice");
    const int count = static_cast<int>(n.inputs.size());
    LAI_CHECK(count >= op.min_inputs && (op.max_inputs < 0 || count <= op.max_inputs), node_label(n), ": ", count,
              " inputs (", n.op, " takes ", op.min_inputs,
              op.max_inputs < 0 ? std::string(" or more") : op.max_inputs == op.min_inputs ? "" : str_cat("..", op.max_inputs),
              ")");
    LAI_CHECK(static_cast<int>(n.outputs.size()) == op.outputs, node_label(n), ": ", n.outputs.size(),
              " outputs (", n.op, " has ", op.outputs, ")");
    for (const auto& v : n.inputs)
      LAI_CHECK(v.empty() || defined.count(v), node_label(n), ": input '", v,
                "' is neither a graph input nor the output of an earlier node");
    for (const auto& v : n.outputs)
      LAI_CHECK(!v.empty() && defined.insert(v).second, node_label(n), ": output '", v,
                v.empty() ? "' has no name" : "' is defined twice");
    for (const auto& sl : op.slots)
      if (sl.required)
        LAI_CHECK(states_[i] && graph_ops::slot_of(*states_[i], sl.name).defined(), node_label(n), ": tensor '",
                  sl.name, "' is missing");
  }
  for (const auto& o : outputs_) LAI_CHECK(defined.count(o), "graph: output '", o, "' is not computed");
  infer_shapes(batch);
}

std::vector<NodeReport> Graph::report(int64_t batch) const {
  const std::map<std::string, Shape> shapes = infer_shapes(batch);
  std::vector<NodeReport> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const GraphNode& n = nodes_[i];
    const graph_ops::OpDef& op = *graph_ops::find_op(n.op);
    NodeReport r{n.name, n.op, {}, 0, 0, 0};
    graph_ops::Shapes in;
    for (const auto& v : n.inputs) in.push_back(shapes.at(v));
    for (const auto& v : n.outputs) r.output_shapes.push_back(shapes.at(v));
    if (states_[i]) {
      for (const auto& [s, t] : states_[i]->named_parameters()) r.parameters += t.numel();
      for (const auto& [s, t] : states_[i]->named_buffers()) r.buffers += t.numel();
    }
    if (op.macs) r.macs = about(n, [&] { return op.macs(n, in, r.output_shapes, slot_shapes(states_[i].get())); });
    out.push_back(std::move(r));
  }
  return out;
}

std::string Graph::table(int64_t batch) const {
  const auto rows = report(batch);
  size_t wname = 4, wop = 2;
  for (const auto& r : rows) wname = std::max(wname, r.name.size()), wop = std::max(wop, r.op.size());
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf, "  %-*s  %-*s  %-26s %14s %16s\n", int(wname), "node", int(wop), "op", "output",
                "parameters", "MACs");
  s += buf;
  int64_t params = 0, macs = 0;
  for (const auto& r : rows) {
    std::string shape;
    for (const auto& o : r.output_shapes) {
      if (!shape.empty()) shape += ' ';
      shape += to_string(o);
    }
    std::snprintf(buf, sizeof buf, "  %-*s  %-*s  %-26s %14s %16s\n", int(wname), r.name.c_str(), int(wop),
                  r.op.c_str(), shape.c_str(), with_commas(r.parameters).c_str(), with_commas(r.macs).c_str());
    s += buf;
    params += r.parameters, macs += r.macs;
  }
  std::snprintf(buf, sizeof buf, "  %zu nodes, %s parameters, %s MACs per %s\n", rows.size(), with_commas(params).c_str(),
                with_commas(macs).c_str(), batch == 1 ? "sample" : str_cat("batch of ", batch).c_str());
  s += buf;
  return s;
}

std::vector<std::string> Graph::operators() { return graph_ops::op_names(); }

// ---------------- serialization ----------------
namespace {
io::Json shape_json(const Shape& s) { return io::Json::array_of(s); }

io::Json slots_json(const NamedTensors& list) {
  io::Json o = io::Json::object();
  for (const auto& [n, t] : list) o.set(n, shape_json(t.shape()));
  return o;
}

Shape read_shape(const io::Json& j, const std::string& what) {
  LAI_CHECK_FORMAT(j.is_array() && j.size() <= kMaxRank, what, ": a shape must be an array of at most ", kMaxRank,
                   " integers");
  Shape s;
  for (size_t i = 0; i < j.size(); ++i) {
    const int64_t d = j[i].as_int(what);
    LAI_CHECK_FORMAT(d >= -1 && d <= kMaxDim, what, ": dimension ", d, " is out of range");
    s.push_back(d);
  }
  return s;
}

// The graph's own messages ("graph: node ...") prefixed with where the description came from.
template <class F>
void in_context(const std::string& what, F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    throw Error(e.kind(), str_cat(what, ": ", e.what()));
  }
}

NamedTensors read_slots(const io::Json* j, const std::string& what) {
  NamedTensors out;
  if (!j) return out;
  for (const auto& [slot, shape] : j->as_object(what)) {
    const Shape s = read_shape(shape, str_cat(what, " '", slot, "'"));
    int64_t n = 1;
    for (int64_t d : s) {
      LAI_CHECK_FORMAT(d >= 0, what, " '", slot, "': negative dimension in ", to_string(s));
      n = d == 0 ? 0 : (n > kMaxDim / d ? kMaxDim + 1 : n * d);
    }
    LAI_CHECK_FORMAT(n <= kMaxDim, what, " '", slot, "': ", to_string(s), " has too many elements");
    out.emplace_back(slot, detail::placeholder(s));
  }
  return out;
}
}  // namespace

io::Json Graph::to_json() const {
  io::Json j = io::Json::object();
  io::Json ins = io::Json::array();
  for (const auto& i : inputs_) {
    io::Json o = io::Json::object();
    o.set("name", i.name);
    o.set("shape", shape_json(i.shape));
    ins.push_back(o);
  }
  j.set("inputs", ins);
  j.set("outputs", io::Json::array_of(outputs_));
  io::Json nodes = io::Json::array();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const GraphNode& n = nodes_[i];
    io::Json o = io::Json::object();
    o.set("name", n.name);
    o.set("op", n.op);
    o.set("inputs", io::Json::array_of(n.inputs));
    o.set("outputs", io::Json::array_of(n.outputs));
    io::Json attrs = n.attrs;
    if (states_[i])  // the kernel's L2 coefficient may have been changed on the module (set_kernel_l2)
      for (const auto& p : states_[i]->parameter_infos())
        if (p.is_kernel) {
          if (p.l2 != 0.f) attrs.set("l2", p.l2);
          else attrs.erase("l2");
        }
    if (attrs.size() > 0) o.set("attrs", attrs);
    if (states_[i]) {
      const NamedTensors p = states_[i]->named_parameters(), b = states_[i]->named_buffers();
      if (!p.empty()) o.set("params", slots_json(p));
      if (!b.empty()) o.set("buffers", slots_json(b));
    }
    nodes.push_back(o);
  }
  j.set("nodes", nodes);
  return j;
}

std::shared_ptr<Graph> Graph::from_json(const io::Json& j, const std::string& what) {
  return reclassify(ErrorKind::format, [&] {
    LAI_CHECK(j.is_object(), what, ": must be a JSON object (found ", j.type_name(), ")");
    auto g = std::make_shared<Graph>();
    for (const io::Json& in : j.get_array("inputs", what)) {
      LAI_CHECK(in.is_object(), what, ": an input must be an object");
      g->add_input(in.get_string("name", what), read_shape(in.at("shape", what), what + " input"));
    }
    for (const auto& o : j.get_string_array("outputs", what)) g->add_output(o);
    const auto& nodes = j.get_array("nodes", what);
    LAI_CHECK(nodes.size() <= kMaxNodes, what, ": ", nodes.size(), " nodes (at most ", kMaxNodes, ")");
    // Nodes are attached without a rebuild each (quadratic on large graphs); one rebuild at the end.
    for (const io::Json& n : nodes) {
      LAI_CHECK(n.is_object(), what, ": a node must be an object");
      GraphNode node;
      node.name = n.get_string("name", what);
      node.op = n.get_string("op", what);
      node.inputs = n.get_string_array("inputs", what);
      node.outputs = n.get_string_array("outputs", what);
      if (const io::Json* a = n.find("attrs")) node.attrs = *a;
      const std::string nw = str_cat(what, " node '", node.name, "'");
      LAI_CHECK(valid_name(node.name), nw, ": node names must be non-empty and contain no '.'");
      LAI_CHECK(graph_ops::find_op(node.op), nw, ": unknown operator '", node.op, "' (known: ", known_ops(), ")");
      LAI_CHECK(node.attrs.is_object(), nw, ": attrs must be an object");
      const NamedTensors params = read_slots(n.find("params"), nw + " params");
      const NamedTensors buffers = read_slots(n.find("buffers"), nw + " buffers");
      g->nodes_.push_back(std::move(node));
      g->states_.push_back(nullptr);
      in_context(what, [&] { g->attach(g->nodes_.size() - 1, params, buffers); });
    }
    std::set<std::string> seen;
    for (const auto& n : g->nodes_) LAI_CHECK(seen.insert(n.name).second, what, ": node '", n.name, "' appears twice");
    g->rebuild();
    in_context(what, [&] { g->check(); });
    return g;
  });
}

}  // namespace liteai::nn
