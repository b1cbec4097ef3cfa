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

// What a module's layers compute and store in bf16 (SPEC 5, mixed precision); set separately
// for eval-mode inference and for training (Module::set_*_precision).
//   f32           fp32 everywhere.
//   bf16_storage  bf16 only where it stores: in eval mode the dense weights (half the memory
//                 traffic of weight-bound layers), in training what backward keeps (swish conv
//                 pre-activations, instead of recomputing them). Every product stays fp32. This
//                 is what 0.3 called "bf16" (and the C API's LAI_PRECISION_BF16 still means).
//   bf16_compute  bf16 products with fp32 sums: convolutions round their inputs and weights to
//                 bf16 (AVX512_BF16 dot products where the CPU runs them at full rate, else the
//                 same products widened to fp32, kernels.hpp) and backward keeps bf16 copies of
//                 them; plus everything of bf16_storage. Dense layers, bound by reading their
//                 weights, keep fp32 products. Training keeps fp32 master weights and optimizer
//                 state. Results differ from fp32 by the bf16 rounding of the operands (8
//                 significant bits: each product within 2^-7).
enum class Precision : uint8_t { f32 = 0, bf16_storage = 1, bf16_compute = 2 };
const char* to_string(Precision p);  // "f32", "bf16-storage", "bf16-compute"
using liteai::to_string;             // keep Shape printing visible next to the overload above
// The names above, and "bf16" for bf16-storage (its 0.3 name); throws liteai::Error otherwise.
Precision precision_from_string(const std::string& s);

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

  // ---- precision (see Precision) ----
  // Eval-mode forward passes: bf16_storage and bf16 keep bf16 copies of the dense weights (built on
  // eval() and load_state(); half the fp32 weights in memory; changing weights in place in eval
  // mode any other way needs a new eval() call). Weights that are bf16 tensors themselves (a model
  // loaded for bf16 inference only) are used as they are. Recursive.
  void set_inference_precision(Precision p);
  Precision inference_precision() const { return inference_precision_; }
  // Train-mode forward and backward passes. Recursive.
  void set_training_precision(Precision p);
  Precision training_precision() const { return training_precision_; }
  // The precision of the current mode.
  Precision precision() const { return is_training() ? training_precision_ : inference_precision_; }
  // The 0.3 names: bf16 is bf16_storage.
  void set_inference_dtype(DType t) { set_inference_precision(t == DType::bf16 ? Precision::bf16_storage : Precision::f32); }
  DType inference_dtype() const { return inference_precision_ == Precision::f32 ? DType::f32 : DType::bf16; }
  void set_activation_dtype(DType t) { set_training_precision(t == DType::bf16 ? Precision::bf16_storage : Precision::f32); }
  DType activation_dtype() const { return training_precision_ == Precision::f32 ? DType::f32 : DType::bf16; }

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
  // precision change: layers rebuild what they derive from their parameters. Default: nothing.
  virtual void refresh_derived() {}
  void refresh_derived_all();

 private:
  void collect(const std::string& prefix, std::vector<ParameterInfo>* params, NamedTensors* buffers) const;
  std::vector<ParameterInfo> params_;  // names local to this module
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  Precision inference_precision_ = Precision::f32;
  Precision training_precision_ = Precision::f32;
  bool checkpointing_ = false;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace liteai::nn
