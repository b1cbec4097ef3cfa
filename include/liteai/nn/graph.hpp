#pragma once
// nn::Graph: a network as a directed acyclic graph of named nodes over named values, so a model
// trained elsewhere (ONNX import) or a zoo net (to_graph) can be run, fine-tuned, used as a
// teacher and transformed (repacking) in one representation.
//
//   auto g = std::make_shared<nn::Graph>();
//   g->add_input("x", {-1, 1, 28, 28});                        // -1: any batch size
//   g->add_node({"conv1", "Conv", {"x"}, {"c1"}, attrs},       // attrs: io::Json object
//               {{"weight", w}, {"bias", b}});                  // trained tensors, by slot
//   g->add_node({"act1", "Relu", {"c1"}, {"y"}});
//   g->add_output("y");
//   g->check();                                                 // structure and shapes
//   Tensor y = g->forward(x);                                   // autograd records as usual
//
// Nodes: `op` names the operator; where ONNX has it, the name, the inputs and the attributes mean
// what ONNX says (opset 13 forms: axes, pads, shapes as attributes, not inputs), see
// graph_ops.cpp for the list; liteai adds Dense (x[N, in] w[in, out] + b, Keras layout) and Swish
// (x * sigmoid(x)). "" stands for an omitted optional input. The nodes are kept in a topological
// order (every input is produced earlier, or is a graph input).
//
// Tensors: a node's weights, statistics and constants belong to the node, by slot ("weight",
// "bias", "scale", "mean", "var", "value"); as a Module the graph names them "<node>.<slot>", so
// optimizers, the Trainer and model files work on a Graph as on any network. Parameters are
// trained, buffers are not. A Dense node is an nn::Dense and a Dropout node an nn::Dropout (the
// Trainer streams the weight gradient of a huge Dense and keeps the dropout random state).
//
// Shapes: infer_shapes() propagates the inputs' shapes node by node; a disagreement is an Error
// that names the node, its operator and the shapes ("graph: node 'fc1' (Dense): input has 2048
// features, weight expects 1024").
//
// Transforms (for repacking): walk nodes(), find a node, its producer and consumers, read and
// replace its tensors, insert, replace or remove nodes, rewire values, then check() again.
//
// Thread-safety: as Module (concurrent eval-mode forward passes under NoGrad are safe; editing a
// graph is not concurrent with anything).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "liteai/io/json.hpp"
#include "liteai/nn/module.hpp"

namespace liteai::nn {

struct GraphNode {
  std::string name;  // unique within the graph; no '.'
  std::string op;
  std::vector<std::string> inputs, outputs;
  io::Json attrs = io::Json::object();
};

struct GraphInput {
  std::string name;
  Shape shape;  // dimension 0 may be -1: the batch size, any
};

// What one node computes, for reports (`liteai info`) and repacking.
struct NodeReport {
  std::string name, op;
  std::vector<Shape> output_shapes;
  int64_t parameters = 0;  // elements of the node's trained tensors
  int64_t buffers = 0;     // elements of its other tensors
  int64_t macs = 0;        // multiply-accumulates of Conv, ConvTranspose, Dense, MatMul (per batch)
};

class Graph : public Module {
 public:
  Graph() = default;

  // ---- building ----
  void add_input(const std::string& name, const Shape& shape);
  void add_output(const std::string& value);
  // Appends a node (at `position` in the node list when given). Its tensors are taken as they are
  // (shared, not copied); a slot's shape is checked by check().
  GraphNode& add_node(GraphNode node, const NamedTensors& params = {}, const NamedTensors& buffers = {});
  GraphNode& insert_node(size_t position, GraphNode node, const NamedTensors& params = {},
                         const NamedTensors& buffers = {});

  // ---- running ----
  // One input, the first output.
  Tensor forward(const Tensor& x) override;
  // Every input in add_input order, every output in add_output order.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  std::string describe() const override;

  // ---- walking ----
  const std::vector<GraphInput>& inputs() const { return inputs_; }
  const std::vector<std::string>& outputs() const { return outputs_; }
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  const GraphNode* find(const std::string& node) const;  // nullptr when absent
  GraphNode& node(const std::string& node);              // throws when absent (edit attrs, then check())
  const GraphNode* producer(const std::string& value) const;     // nullptr for inputs / unknown values
  std::vector<std::string> consumers(const std::string& value) const;  // node names, in order
  bool is_output(const std::string& value) const;

  // ---- a node's tensors ----
  bool has_tensor(const std::string& node, const std::string& slot) const;
  Tensor tensor(const std::string& node, const std::string& slot) const;  // throws when absent
  NamedTensors params(const std::string& node) const;   // by slot
  NamedTensors buffers(const std::string& node) const;
  // Replaces (or adds) one tensor of a node, keeping whether the slot is trained (a new slot: a
  // parameter unless `buffer`).
  void set_tensor(const std::string& node, const std::string& slot, const Tensor& value, bool buffer = false);

  // ---- transforming ----
  // Replaces a node (same position) by another with the given tensors.
  void replace_node(const std::string& node, GraphNode replacement, const NamedTensors& params = {},
                    const NamedTensors& buffers = {});
  // Removes a node with one output, reading its first input where its output was read
  // (consumers and graph outputs): Identity, Dropout, a folded BatchNormalization.
  void remove_node(const std::string& node);
  // Every node input and graph output named `value` reads `by` instead.
  void replace_uses(const std::string& value, const std::string& by);
  void set_input_shape(const std::string& input, const Shape& shape);
  // Drops nodes whose outputs reach no graph output.
  int64_t remove_unused();

  // ---- checking ----
  // Shapes of every value for a batch of `batch` (inputs' -1 dimension); throws naming the node.
  std::map<std::string, Shape> infer_shapes(int64_t batch = 1) const;
  // Structure (unique names, known operators, order, every input defined, the outputs exist,
  // each node's slots present) and shapes.
  void check(int64_t batch = 1) const;
  std::vector<NodeReport> report(int64_t batch = 1) const;
  // One line per node: name, operator, output shapes, parameters, MACs; then the totals.
  std::string table(int64_t batch = 1) const;

  // ---- serialization (the model file's "graph" member) ----
  // {"inputs": [{"name", "shape"}], "outputs": [...], "nodes": [{"name", "op", "inputs",
  //  "outputs", "attrs", "params": {slot: shape}, "buffers": {slot: shape}}]}
  io::Json to_json() const;
  // The graph with tensors of the stated shapes that hold no memory (placeholders): a loader checks
  // them against a file, then adopts the file's tensors. Throws (format) on a malformed
  // description or one beyond the limits (graph.cpp: nodes, dimensions, elements).
  static std::shared_ptr<Graph> from_json(const io::Json& j, const std::string& what = "graph");

  // The names operators are known by.
  static std::vector<std::string> operators();

 private:
  // One step of a run: a node, or a node with the one that consumes its output fused into it.
  struct Step {
    std::vector<size_t> chain;          // node indices: the first, then consumers fused into it
    std::vector<std::string> release;   // values no later step reads
  };
  size_t index_of(const std::string& node) const;
  void attach(size_t i, const NamedTensors& params, const NamedTensors& buffers);
  void rebuild();  // children (node states) in node order, and the execution plan
  std::vector<GraphInput> inputs_;
  std::vector<std::string> outputs_;
  std::vector<GraphNode> nodes_;
  std::vector<ModulePtr> states_;  // per node: its tensors (empty NodeState when it has none)
  std::vector<Step> plan_;
};

using GraphPtr = std::shared_ptr<Graph>;

class Model;
// The same network as a graph, with copies of the weights: the zoo's nets (Sequential of Conv2d,
// Dense, pools, BatchNorm2d, activations, Residual, Dropout, Flatten, global pooling,
// ConvTranspose2d) give the same outputs. Throws not_supported naming a layer it cannot express.
GraphPtr to_graph(const Module& net, const Shape& input_shape);
// A model whose network is `model`'s as a graph (architecture "graph", same head, classes,
// preprocessing; the graph's input is "input" [-1, C, H, W], its output "logits").
std::shared_ptr<Model> to_graph_model(const Model& model);

}  // namespace liteai::nn
