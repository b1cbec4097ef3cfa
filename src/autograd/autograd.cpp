#include "liteai/autograd/autograd.hpp"

#include <unordered_map>
#include <unordered_set>

#include "liteai/core/strided.hpp"

namespace liteai::autograd {

namespace {
thread_local bool t_grad_enabled = true;

// a + b for two same-shape gradients; reuses a's buffer when nobody else can see it.
Tensor accumulate(Tensor a, const Tensor& b) {
  LAI_CHECK(a.shape() == b.shape(), "backward: gradient shapes differ: ", to_string(a.shape()), " vs ",
            to_string(b.shape()));
  const bool exclusive = a.is_contiguous() && a.impl_ptr().use_count() == 1 && a.storage().use_count() == 1;
  Tensor dst = exclusive ? a : a.clone();
  float* d = dst.data();
  const float* s = b.data();
  int64_t pos = 0;
  for_each_run<1>(b.shape(), {&b.strides()}, [&](int64_t n, auto off, auto inner) {
    for (int64_t i = 0; i < n; ++i) d[pos + i] += s[off[0] + i * inner[0]];
    pos += n;
  });
  return dst;
}

// A gradient that is safe to keep as a leaf's .grad (and to modify in place later).
Tensor own(const Tensor& g) {
  if (g.is_contiguous() && g.offset() == 0 && g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 &&
      g.storage()->bytes() == size_t(g.numel()) * 4)
    return g;
  return g.clone();
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGrad::NoGrad() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = prev_; }
EnableGrad::EnableGrad() : prev_(t_grad_enabled) { t_grad_enabled = true; }
EnableGrad::~EnableGrad() { t_grad_enabled = prev_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->next.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    Edge& e = node->next[i];
    e.shape = in.shape();
    if (!in.requires_grad()) continue;
    if (in.grad_fn())
      e.node = in.grad_fn();
    else
      e.leaf = in.impl_ptr();
  }
  node->backward = std::move(backward);
  out.set_grad_fn(std::move(node));
  return out;
}

namespace {
void deliver_to_leaf(TensorImpl* impl, const Tensor& g) {
  if (impl->grad_hook) {
    impl->grad_hook(g);
    return;
  }
  impl->grad = (impl->grad ? accumulate(Tensor(impl->grad), g) : own(g)).impl_ptr();
  memory_retag(impl->grad->storage, MemoryCategory::gradients);  // kept beyond the backward pass
}
}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output, bool keep_graph) {
  LAI_CHECK(root.defined(), "backward: tensor is undefined");
  LAI_CHECK(root.requires_grad(), "backward: the tensor does not require grad (no parameter or input with "
            "requires_grad was used to compute it)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    LAI_CHECK(root.numel() == 1, "backward: implicit gradient only for scalars; tensor has shape ",
              to_string(root.shape()), ", pass grad_output");
    seed = Tensor::ones(root.shape());
  }
  LAI_CHECK(seed.shape() == root.shape(), "backward: grad_output shape ", to_string(seed.shape()),
            " does not match tensor shape ", to_string(root.shape()));
  NoGrad no_grad;
  if (!root.grad_fn()) {  // backward on a leaf itself
    deliver_to_leaf(root.impl(), seed);
    return;
  }

  // Topological order of the nodes (iterative DFS, post-order).
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen{root.grad_fn().get()};
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root.grad_fn(), 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->next.size()) {
      const Edge& e = node->next[next++];
      if (e.node && seen.insert(e.node.get()).second) stack.push_back({e.node, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }

  std::unordered_map<Node*, Tensor> grads{{root.grad_fn().get(), seed}};
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& node = **it;
    auto found = grads.find(&node);
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    LAI_CHECK(node.backward, "backward: trying to go through the graph of '", node.name,
              "' a second time; its buffers were freed (use backward(grad, /*keep_graph=*/true))");
    std::vector<Tensor> in_grads = node.backward(g);
    g = Tensor();
    LAI_CHECK(in_grads.size() == node.next.size(), "backward of '", node.name, "' returned ", in_grads.size(),
              " gradients for ", node.next.size(), " inputs");
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Edge& e = node.next[i];
      Tensor gi = std::move(in_grads[i]);
      if (!gi.defined() || !e.active()) continue;
      LAI_CHECK(gi.shape() == e.shape, "backward of '", node.name, "': gradient shape ", to_string(gi.shape()),
                " does not match input ", i, " shape ", to_string(e.shape));
      if (e.leaf) {
        deliver_to_leaf(e.leaf.get(), gi);
      } else {
        auto slot = grads.find(e.node.get());
        if (slot == grads.end())
          grads.emplace(e.node.get(), std::move(gi));
        else
          slot->second = accumulate(std::move(slot->second), gi);
      }
    }
    if (!keep_graph) {  // free what the closure saved now: memory is the scarce resource here
      node.backward = nullptr;
      node.next.clear();
    }
  }
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  LAI_CHECK(shape.size() <= grad.shape().size(), "sum_to: cannot reduce ", to_string(grad.shape()), " to ",
            to_string(shape));
  Tensor out = Tensor::zeros(shape);
  const Shape out_strides = broadcast_strides(shape, contiguous_strides(shape), grad.shape());
  float* o = out.data();
  const float* g = grad.data();
  for_each_run<2>(grad.shape(), {&grad.strides(), &out_strides}, [&](int64_t n, auto off, auto inner) {
    const float* gp = g + off[0];
    float* op = o + off[1];
    if (inner[1] == 0) {
      double acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += gp[i * inner[0]];
      *op += static_cast<float>(acc);
    } else {
      for (int64_t i = 0; i < n; ++i) op[i * inner[1]] += gp[i * inner[0]];
    }
  });
  return out;
}

}  // namespace liteai::autograd
