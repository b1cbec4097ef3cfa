#pragma once
// nn::Module: a layer or a network of layers with named parameters (trained) and buffers (state
// that is saved but not trained, e.g. BatchNorm running statistics). Names are hierarchical
// ("conv1.weight", "block.fc2.bias"), built from the names children are registered under.
//
//   auto net = std::make_shared<nn::Sequential>();
//   net->add("conv1", std::make_shared<nn::Conv2d>(1, 32, 3, nn::Conv2dOptions{.same = true}));
//   Tensor y = net->forward(x);          // recorded by autograd when parameters require grad
//   net->eval();                         // BatchNorm/Dropout switch to inference behaviour
//
// Parameters are leaf tensors with requires_grad; a layer keeps handles to them, so replacing a
// parameter's values (loading weights) is done in place with Tensor::copy_from.
// Thread-safety: forward() in eval mode under NoGrad may run concurrently on one module (layers
// hold no per-call state); training (train mode, backward) is single-threaded per module.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "liteai/core/tensor.hpp"

namespace liteai::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// One parameter with its regularization and how it is updated.
struct ParameterInfo {
  std::string name;  // full hierarchical name
  Tensor tensor;
  bool is_kernel = false;  // a weight matrix / filter bank (L2 regularization applies to kernels only)
  float l2 = 0.f;          // Keras kernel_regularizer: loss += l2 * sum(w^2)
};

struct MemoryReport {
  int64_t parameters = 0;       // trainable scalars
  int64_t parameter_bytes = 0;  // fp32 storage of the parameters
  int64_t buffer_bytes = 0;     // buffers (running statistics)
  std::string to_string() const;  // "1,234,567 parameters, 4.7 MB (+0.0 MB buffers)"
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // Short layer description for summaries: "Conv2d(1->32, 3x3, same, swish)".
  virtual std::string describe() const = 0;

  // ---- parameters, buffers, children (recursive, registration order) ----
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  std::vector<ParameterInfo> parameter_infos() const;  // with regularization settings
  // Parameters then buffers: everything a model file must store to restore this module.
  NamedTensors state() const;
  // Copies values into this module's tensors by name; every name must exist with the same shape
  // (errors name the tensor). `strict`: every parameter/buffer must be present in `values`.
  void load_state(const NamedTensors& values, bool strict = true);
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  int64_t parameter_count() const;
  MemoryReport memory() const;
  // A table: one line per layer with its output name, description and parameter count.
  std::string summary() const;

  // ---- mode ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- inference precision ----
  // DType::bf16: dense layers keep a bf16 copy of their weights for eval-mode forward passes
  // without autograd, halving the memory traffic of weight-bound layers (compact_cxr's first Dense
  // reads 537 MB per image in fp32); products and sums stay fp32, the outputs differ from fp32 by
  // the weight rounding (relative 2^-9 per weight). Training always uses the fp32 master weights;
  // the copy costs half the fp32 weights in memory and is rebuilt on eval() and load_state().
  // Changing weights in place in eval mode any other way needs a new eval() call. Recursive.
  void set_inference_dtype(DType t);
  DType inference_dtype() const { return inference_dtype_; }

  // ---- training activations (mixed precision) ----
  // DType::bf16: layers keep what backward needs in bf16 where that saves time and memory (a swish
  // conv keeps its pre-activation instead of recomputing it, at half the size of the map); the
  // gradients then see those activations rounded to bf16 (relative 2^-9). DType::f32 (the
  // default): exact, recomputing where that saves memory. Recursive.
  void set_activation_dtype(DType t);
  DType activation_dtype() const { return activation_dtype_; }

  // ---- activation checkpointing (training memory) ----
  // On: a recorded forward pass through this module keeps only the module's input, and backward
  // runs the module's forward again (recorded) to go through it (nn/checkpoint.hpp): less memory
  // for one more forward pass. Containers call their children through run(). Not recursive.
  void set_checkpointing(bool on) { checkpointing_ = on; }
  bool checkpointing() const { return checkpointing_; }
  Tensor run(const Tensor& x);  // forward(x), checkpointed when set

  // ---- regularization and gradients ----
  // Sum over all kernels of l2 * sum(w^2), recorded by autograd (Keras semantics). Undefined
  // tensor when no layer has an L2 coefficient.
  Tensor regularization_loss() const;
  // Sets the L2 coefficient of every kernel in this module tree.
  void set_kernel_l2(float l2);
  void zero_grad();
  void set_requires_grad(bool on);  // freeze / unfreeze every parameter

 protected:
  // Registers a leaf parameter (requires_grad is set) and returns its handle.
  Tensor register_parameter(const std::string& name, Tensor t, bool is_kernel = false, float l2 = 0.f);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void clear_children();  // for networks that rebuild their structure (nn::Graph after an edit)
  // Called (recursively, by the public calls above) after the mode, the weights or the inference
  // dtype change: layers rebuild what they derive from their parameters. Default: nothing.
  virtual void refresh_derived() {}
  void refresh_derived_all();

 private:
  void collect(const std::string& prefix, std::vector<ParameterInfo>* params, NamedTensors* buffers) const;
  std::vector<ParameterInfo> params_;  // names local to this module
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  DType inference_dtype_ = DType::f32;
  DType activation_dtype_ = DType::f32;
  bool checkpointing_ = false;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace liteai::nn
