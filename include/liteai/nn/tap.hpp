#pragma once
// Forward taps: how a caller reaches an activation inside a network it does not own (Grad-CAM,
// nn/explain.hpp). While a TapScope lives on a thread, forward passes on that thread hand
//   - each module's output as Module::run returns it (containers run their children through
//     run(): Sequential, Residual; a network's top module is called with forward() and is not
//     tapped) to tap.module, and
//   - each value an nn::Graph computes to tap.value (the graph then runs node by node, unfused,
//     so every value exists),
// and continue with what the tap returns (the same tensor, or e.g. a leaf that records the
// gradient). Other threads are unaffected; scopes nest (the inner one is active).
#include <functional>
#include <string>

#include "liteai/core/tensor.hpp"

namespace liteai::nn {

class Module;
class Graph;

struct ForwardTap {
  std::function<Tensor(const Module& module, const Tensor& output)> module;
  std::function<Tensor(const Graph& graph, const std::string& value, const Tensor& output)> value;
};

class TapScope {
 public:
  explicit TapScope(const ForwardTap& tap);
  ~TapScope();
  TapScope(const TapScope&) = delete;
  TapScope& operator=(const TapScope&) = delete;

 private:
  const ForwardTap* prev_;
};

// The calling thread's innermost tap, nullptr when none.
const ForwardTap* active_tap();

}  // namespace liteai::nn
