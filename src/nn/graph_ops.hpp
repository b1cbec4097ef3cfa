#pragma once
// The graph's operator set (graph_ops.cpp): per operator, its inputs, tensor slots, shape
// inference, forward (on the ops, so autograd records it) and MAC count.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "liteai/nn/graph.hpp"

namespace liteai::nn::graph_ops {

// A node's tensors when they are neither a Dense nor a Dropout layer: slot -> tensor.
class NodeState : public Module {
 public:
  // kernel_slot: the slot that is a kernel (L2 regularization applies), "" for none.
  NodeState(std::string op, const NamedTensors& params, const NamedTensors& buffers, const std::string& kernel_slot,
            float l2);
  Tensor forward(const Tensor& x) override;  // throws: a node's tensors are not a layer
  std::string describe() const override { return op_; }
  Tensor get(const std::string& slot) const;  // undefined when absent

 private:
  std::string op_;
  std::map<std::string, Tensor> slots_;
};

// Reads a node's attributes with errors naming the attribute.
struct Attrs {
  const GraphNode& node;
  bool has(const char* key) const { return node.attrs.contains(key); }
  int64_t i(const char* key, int64_t def) const;
  float f(const char* key, float def) const;
  std::string s(const char* key, const std::string& def) const;
  std::vector<int64_t> ints(const char* key, const std::vector<int64_t>& def) const;
  // A list of exactly n integers (a missing key gives n copies of def).
  std::vector<int64_t> ints_n(const char* key, size_t n, int64_t def) const;
};

using Shapes = std::vector<Shape>;
using SlotShapes = std::map<std::string, Shape>;

struct Slot {
  const char* name;
  bool required;
};

struct OpDef {
  std::string name;
  int min_inputs = 1, max_inputs = 1;  // data inputs; max -1: any number
  int outputs = 1;
  std::vector<Slot> slots;             // tensors the node may own
  const char* kernel_slot = "";        // the slot L2 regularization applies to
  // Output shapes from the inputs' and the slots' shapes; throws plain messages (the graph adds
  // the node).
  std::function<Shapes(const GraphNode&, const Shapes& in, const SlotShapes& slots)> infer;
  // Forward on the ops. `state` holds the node's tensors (NodeState, nn::Dense or nn::Dropout).
  std::function<std::vector<Tensor>(const GraphNode&, Module& state, const std::vector<Tensor>& in, bool training)> run;
  // Multiply-accumulates (0 when empty).
  std::function<int64_t(const GraphNode&, const Shapes& in, const Shapes& out, const SlotShapes& slots)> macs;
};

const OpDef* find_op(const std::string& name);
std::vector<std::string> op_names();

// The module that holds a node's tensors (nullptr when it has none and needs none).
ModulePtr make_state(const OpDef& op, const GraphNode& node, const NamedTensors& params, const NamedTensors& buffers);
// A slot of a node's state, undefined when absent.
Tensor slot_of(const Module& state, const std::string& slot);

// ---- fused steps (graph.cpp plans them; graph_ops.cpp runs them) ----
// A chain of nodes each reading the previous one's output (its only reader) run as one step:
//   Conv -> Relu | Swish [-> 2x2 AveragePool]   (the pool fused at inference)
//   [Concat (channels) ->] BatchNormalization -> Relu [-> Conv]   (ops::bn_relu_conv2d: backward
//                                                      recomputes the activation, DenseNet's memory)
// Whether `next` may join `chain`.
bool can_extend(const std::vector<const GraphNode*>& chain, const GraphNode& next);
// `states`: each chain node's state (may be null); `in`: the first node's inputs.
std::vector<Tensor> run_fused(const std::vector<const GraphNode*>& chain, const std::vector<Module*>& states,
                              const std::vector<Tensor>& in, bool training);

}  // namespace liteai::nn::graph_ops
