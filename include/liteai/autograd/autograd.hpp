#pragma once
// Define-by-run reverse mode. Each differentiable op that sees an input requiring grad creates a
// Node: a closure mapping the output gradient to input gradients, and one Edge per input telling
// where each input gradient goes (the producer's Node, or a leaf tensor). Nodes do not hold their
// inputs' data: only what a closure captures stays alive, so activations are freed as soon as
// nothing needs them (training memory is the scarce resource on a clinic's machine).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/core/tensor.hpp"

namespace liteai::autograd {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node;

struct Edge {
  std::shared_ptr<Node> node;        // producer of the input (non-leaf), or
  std::shared_ptr<TensorImpl> leaf;  // the input itself when it is a leaf that requires grad
  Shape shape;                       // the input's shape (checked against its gradient)
  bool active() const { return node || leaf; }
};

struct Node {
  std::string name;         // op name, for error messages
  std::vector<Edge> next;   // one per input; inactive when that input needs no gradient
  BackwardFn backward;      // returns one gradient per input (undefined = none)
};

// True unless a NoGrad guard is active on this thread.
bool grad_enabled();

class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

// Turns recording back on inside a NoGrad region (activation checkpointing recomputes a forward
// pass with autograd from inside backward).
class EnableGrad {
 public:
  EnableGrad();
  ~EnableGrad();
  EnableGrad(const EnableGrad&) = delete;
  EnableGrad& operator=(const EnableGrad&) = delete;

 private:
  bool prev_;
};

// Does any input require grad (and is grad mode on)?
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `out` when any input requires grad; returns out.
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward);

// Runs the backward pass from `root` (see Tensor::backward).
void run_backward(const Tensor& root, const Tensor& grad_output, bool keep_graph);

// Sums `grad` over broadcast dimensions so it has `shape` (the reverse of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace liteai::autograd
