#pragma once
// Define-by-run reverse mode. Each differentiable op that sees an input requiring grad creates a
// Node holding its inputs and a closure that maps the output gradient to input gradients.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/core/tensor.hpp"

namespace liteai::autograd {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;            // op name, for error messages and graph dumps
  std::vector<Tensor> inputs;  // one gradient per input comes back from backward
  BackwardFn backward;         // returns undefined tensors for inputs that need no gradient
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
