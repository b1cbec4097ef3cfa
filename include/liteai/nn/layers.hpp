#pragma once
// Layers (NCHW float32). Kernels are initialized Glorot-uniform (Keras default) unless
// `init` says otherwise; biases start at zero. Every layer takes a Generator so a seed fixes
// the initial weights. Dense uses the Keras kernel layout w[in, out] (y = x w + b, ops::linear).
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/core/random.hpp"
#include "liteai/nn/module.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::nn {

enum class Activation { none, relu, sigmoid, swish, softmax };
Activation activation_from_string(const std::string& s);  // "none", "relu", "sigmoid", "swish", "softmax"
const char* to_string(Activation a);
using liteai::to_string;  // keep Shape printing visible next to the overload above
Tensor apply_activation(Activation a, const Tensor& x);  // softmax along the last axis

enum class Init { glorot_uniform, kaiming_uniform, kaiming_normal };

struct Conv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  bool same = false;        // 'same' padding (stride 1, odd kernel)
  bool bias = true;
  Activation activation = Activation::none;  // swish is fused into the conv (ops::conv2d_swish)
  float l2 = 0.f;           // kernel regularization coefficient
  Init init = Init::glorot_uniform;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, const Conv2dOptions& o = {},
         Generator& g = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  // Inference (no autograd): this layer followed by a 2x2 stride-2 average pool in one pass, the
  // same bits (Sequential uses it when grad is off). Empty when the activation cannot be fused.
  std::optional<Tensor> forward_avgpool2(const Tensor& x);
  Tensor weight, bias;  // weight [out, in, k, k]; bias [out] (undefined without bias)
  int64_t in_channels, out_channels, kernel;
  Conv2dOptions options;

 private:
  ops::Conv2dOptions op_options() const;  // geometry and the current precision's products
};

struct DenseOptions {
  bool bias = true;
  Activation activation = Activation::none;
  float l2 = 0.f;
  Init init = Init::glorot_uniform;
};

class Dense : public Module {
 public:
  Dense(int64_t in_features, int64_t out_features, const DenseOptions& o = {}, Generator& g = default_generator());
  // Over existing tensors (shared, not copied): weight [in, out], bias [out] or undefined
  // (o.bias and o.init are ignored).
  Dense(Tensor weight, Tensor bias, const DenseOptions& o = {});
  Tensor forward(const Tensor& x) override;  // x [N, in] (or [N, ...] flattened)
  std::string describe() const override;
  Tensor weight, bias;  // weight [in, out]; bias [out]
  int64_t in_features, out_features;
  DenseOptions options;

  // Memory for huge layers (compact_cxr's first Dense: 134M weights at 512x512): while a sink is
  // set and autograd is on, backward computes the input gradient (with the weights as they were
  // in forward) and then hands the weight gradient over as its two factors, sink(x, g) with
  // dW = x^T g (x [N, in] the layer's input, g [N, out] the gradient at its pre-activation output).
  // An optimizer updates the weight from them in row blocks (optim::Optimizer::update_outer), so
  // the full weight gradient never exists; a trainer that accumulates micro-batches keeps the
  // factors (N * (in + out) floats) instead of a gradient. The weight then gets no .grad. The layer
  // must be used once per forward pass. An empty sink restores the ordinary path.
  using GradientSink = std::function<void(const Tensor& x, const Tensor& g)>;
  void stream_weight_gradient(GradientSink sink);
  bool streams_weight_gradient() const { return static_cast<bool>(sink_); }

  // Weights mapped read-only from a model file (nn::load_model_mapped) and larger than one block:
  // a forward pass without autograd reads them kPagedBlockBytes of rows at a time and gives each
  // block's pages back after use, so they never become resident as a whole (the page cache keeps
  // them for the next pass). The sums then run block by block: the outputs differ from an
  // unmapped layer's by float rounding.
  static constexpr int64_t kPagedBlockBytes = int64_t(8) << 20;

 protected:
  void refresh_derived() override;

 private:
  Tensor forward_paged(const Tensor& x);
  GradientSink sink_;
  Tensor weight_bf16_;  // eval-mode copy when the inference precision stores dense weights in bf16
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0) : kernel(kernel), stride(stride ? stride : kernel) {}
  Tensor forward(const Tensor& x) override { return ops::avg_pool2d(x, kernel, stride); }
  std::string describe() const override;
  int64_t kernel, stride;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0) : kernel(kernel), stride(stride ? stride : kernel) {}
  Tensor forward(const Tensor& x) override { return ops::max_pool2d(x, kernel, stride); }
  std::string describe() const override;
  int64_t kernel, stride;
};

// [N, ...] -> [N, prod(...)]
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Flatten"; }
};

// Global average pooling: [N, C, H, W] -> [N, C].
class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "GlobalAvgPool2d"; }
};

// Global max pooling: [N, C, H, W] -> [N, C]. For a small finding anywhere in the image: each
// channel's evidence is where it is strongest (the gradient reaches that position only).
class GlobalMaxPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "GlobalMaxPool2d"; }
};

class ActivationLayer : public Module {
 public:
  explicit ActivationLayer(Activation a) : act(a) {}
  Tensor forward(const Tensor& x) override { return apply_activation(act, x); }
  std::string describe() const override { return std::string("Activation(") + to_string(act) + ")"; }
  Activation act;
};

// Inverted dropout: in training, zeroes each element with probability p and scales the rest
// by 1/(1-p); identity in eval mode. The mask of the k-th training forward pass comes from a
// generator seeded with (seed, k), so the whole random state is two integers: a checkpoint
// stores them (optim::Trainer does) and a resumed run draws the same masks as an
// uninterrupted one.
class Dropout : public Module {
 public:
  explicit Dropout(float p, uint64_t seed = 0x0d20);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  float p;

  struct RngState {
    uint64_t seed = 0;
    uint64_t calls = 0;  // training forward passes drawn so far
  };
  RngState rng_state() const { return {seed_, calls_}; }
  void set_rng_state(const RngState& s) { seed_ = s.seed, calls_ = s.calls; }

 private:
  uint64_t seed_;
  uint64_t calls_ = 0;
};

// BatchNorm over the channels of NCHW. Training: batch statistics, running statistics updated
// with `momentum` (PyTorch convention: running = (1-m) running + m batch, unbiased variance).
// Eval: running statistics. Buffers: running_mean, running_var.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor gamma, beta, running_mean, running_var;
  int64_t channels;
  float momentum, eps;
};

struct ConvTranspose2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
  Activation activation = Activation::none;
  float l2 = 0.f;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, const ConvTranspose2dOptions& o = {},
                  Generator& g = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;  // weight [in, out, k, k]
  int64_t in_channels, out_channels, kernel;
  ConvTranspose2dOptions options;
};

class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale) : scale(scale) {}
  Tensor forward(const Tensor& x) override { return ops::upsample_nearest2d(x, scale); }
  std::string describe() const override;
  int64_t scale;
};

// Runs children in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  // Appends a child under `name` (names must be unique); returns this for chaining.
  Sequential& add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  // Children [begin, end) only (a trainer runs the layers before a huge one piece by piece).
  Tensor forward_range(const Tensor& x, size_t begin, size_t end);
  std::string describe() const override { return "Sequential"; }
  size_t size() const { return children().size(); }
};

// Residual connection: y = x + body(x) (the shapes must match).
class Residual : public Module {
 public:
  explicit Residual(ModulePtr body);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Residual(x + body(x))"; }
  ModulePtr body;
};

}  // namespace liteai::nn
