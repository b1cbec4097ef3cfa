#pragma once
// Differentiating with respect to one tensor only (explanations: the gradient of a class score
// with respect to an activation, without touching the model).
//
//   autograd::OnlyLeaf only;          // from here on this thread's leaves need no gradient ...
//   Tensor a = activation.detach().set_requires_grad(true);
//   only.allow(a);                    // ... but this one
//   Tensor y = rest_of_network(a);    // records only what depends on a: no weight gradients
//   y.backward(seed);                 // a.grad() is set; no parameter's .grad is touched
//
// While the guard lives, Tensor::requires_grad() is false for every leaf (a tensor without a
// grad_fn: parameters, inputs) but the allowed one, on the calling thread only, so concurrent
// passes on other threads (predictions, another explanation) are unaffected. Nestable.
#include "liteai/core/tensor.hpp"

namespace liteai::autograd {

class OnlyLeaf {
 public:
  OnlyLeaf();
  ~OnlyLeaf();
  OnlyLeaf(const OnlyLeaf&) = delete;
  OnlyLeaf& operator=(const OnlyLeaf&) = delete;
  // The one leaf that keeps its requires_grad (replaces an earlier one).
  void allow(const Tensor& leaf);

 private:
  const void* prev_allowed_;
  bool prev_active_;
};

}  // namespace liteai::autograd
