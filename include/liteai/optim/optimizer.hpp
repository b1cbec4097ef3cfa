#pragma once
// Optimizers, learning-rate schedules and gradient clipping.
//
//   optim::Adam opt(model.net->named_parameters(), {.lr = 1e-3f});
//   loss.backward(); opt.step(); opt.zero_grad();
//
// Weight decay: `decoupled = false` adds wd * w to the gradient (classic L2, what SGD/Adam with
// weight_decay do in PyTorch); `decoupled = true` shrinks the weight directly, w -= lr * wd * w
// (AdamW, Loshchilov & Hutter). AdamW is Adam with decoupled = true.
//
// Streaming updates (memory): `stream_updates(name)` installs a gradient hook on that parameter
// (TensorImpl::grad_hook): during backward the optimizer applies its update the moment the
// gradient arrives, and the gradient is never stored. compact_cxr's first Dense at 512x512 has
// 134M weights: streaming saves its 537 MB gradient. Valid only when the parameter is used once
// per forward pass (one gradient per step). Such a parameter is excluded from global-norm
// gradient clipping (its gradient is gone before the norm could be known) and step() skips it.
// Per-parameter extra L2 (`ParamGroup::l2_grad`) lets a trainer add Keras kernel regularization
// to the gradient (g += 2 * l2 * w) for streamed and normal parameters alike.
//
// State: step counts and moment tensors are exported by state() and restored by load_state()
// (names "<param>.m", "<param>.v", "<param>.momentum", scalars in state_meta()), for resuming.
// Thread-safety: one optimizer per training loop; not shared between threads.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "liteai/core/tensor.hpp"

namespace liteai::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct OptimizerOptions {
  float lr = 1e-3f;
  // SGD
  float momentum = 0.f;
  bool nesterov = false;
  // Adam
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-7f;  // eps as Keras (PyTorch uses 1e-8)
  // both
  float weight_decay = 0.f;
  bool decoupled = false;  // true: w -= lr * wd * w (AdamW); false: g += wd * w
};

class Optimizer {
 public:
  Optimizer(const NamedTensors& params, const OptimizerOptions& o);
  virtual ~Optimizer();
  virtual std::string name() const = 0;

  // Updates every (non-streamed) parameter that has a gradient, then counts the step.
  void step();
  void zero_grad();  // drops the stored gradients
  float lr() const { return opt_.lr; }
  void set_lr(float lr) { opt_.lr = lr; }
  const OptimizerOptions& options() const { return opt_; }
  int64_t steps() const { return steps_; }

  // Extra L2 on the gradient of one parameter: g += 2 * l2 * w before the update (Keras kernel
  // regularization applied in the optimizer; see Trainer).
  void set_l2_grad(const std::string& param, float l2);

  // Streams the update of `param` from its gradient hook (see above). Throws if the name is unknown.
  // install_hook = false only marks it streamed (the caller feeds update_rows itself, as the
  // Trainer does through nn::Dense::stream_weight_gradient).
  void stream_updates(const std::string& param, bool install_hook = true);
  void stop_streaming();  // removes every hook this optimizer installed
  bool is_streamed(const std::string& param) const;

  // Updates one parameter with gradient `grad` (what step() and the hooks call).
  void update(size_t index, const Tensor& grad);
  // Updates rows [row0, row0 + rows.size(0)) of a 2-D parameter from the gradient of those rows
  // (nn::Dense::stream_weight_gradient feeds its weight gradient in row blocks, so not even a
  // transient full-size gradient exists). The block starting at row 0 opens a new update
  // (Adam's step count); every row must be covered once per step.
  void update_rows(size_t index, int64_t row0, const Tensor& rows);
  size_t index_of(const std::string& name) const;

  // Global L2 norm of the stored gradients of the non-streamed parameters.
  double grad_norm() const;

  // Resuming: named state tensors and scalars.
  NamedTensors state() const;
  std::map<std::string, double> state_meta() const;
  // adopt = true shares the given tensors' storage instead of copying (no second copy of a
  // 1 GB Adam state when resuming from a freshly loaded file; the caller must not reuse them).
  void load_state(const NamedTensors& tensors, const std::map<std::string, double>& meta, bool adopt = false);

  size_t size() const { return params_.size(); }
  const std::string& param_name(size_t i) const { return params_[i].name; }

 protected:
  struct Param {
    std::string name;
    Tensor tensor;
    float l2_grad = 0.f;
    bool streamed = false;
    int64_t t = 0;  // this parameter's update count (Adam bias correction)
    std::map<std::string, Tensor> slots;  // optimizer state ("m", "v", "momentum")
  };
  // The rule: updates elements [offset, offset + n) of p.tensor (and its slots) in place from
  // gradient g[0..n) + extra * w (extra holds the coupled weight decay and 2 * l2_grad).
  virtual void apply(Param& p, const float* g, float extra, int64_t offset, int64_t n) = 0;
  virtual std::vector<std::string> slot_names() const = 0;
  Tensor& slot(Param& p, const std::string& s);
  OptimizerOptions opt_;
  std::vector<Param> params_;
  int64_t steps_ = 0;

};

class SGD : public Optimizer {
 public:
  SGD(const NamedTensors& params, const OptimizerOptions& o);
  std::string name() const override { return "sgd"; }

 protected:
  void apply(Param& p, const float* g, float extra, int64_t offset, int64_t n) override;
  std::vector<std::string> slot_names() const override { return {"momentum"}; }
};

class Adam : public Optimizer {
 public:
  Adam(const NamedTensors& params, const OptimizerOptions& o);
  std::string name() const override { return opt_.decoupled ? "adamw" : "adam"; }

 protected:
  void apply(Param& p, const float* g, float extra, int64_t offset, int64_t n) override;
  std::vector<std::string> slot_names() const override { return {"m", "v"}; }
};

// Adam with decoupled weight decay (default 0.01 when the options give none).
class AdamW : public Adam {
 public:
  AdamW(const NamedTensors& params, OptimizerOptions o);
};

// The optimizers by name (the names are what files and options say: "sgd", "adam", "adamw").
enum class OptimizerKind : uint8_t { sgd, adam, adamw };
using liteai::to_string;  // keep Shape printing visible beside the overloads of this namespace
const char* to_string(OptimizerKind k);
OptimizerKind optimizer_from_string(const std::string& name);  // throws listing the names
std::unique_ptr<Optimizer> make_optimizer(OptimizerKind kind, const NamedTensors& params, const OptimizerOptions& o);

// ---- learning-rate schedules ----
enum class ScheduleKind : uint8_t { constant, step, cosine };
const char* to_string(ScheduleKind k);
ScheduleKind schedule_from_string(const std::string& name);  // throws listing the names

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  int64_t warmup_steps = 0;       // linear ramp from lr/warmup to lr over these steps
  int64_t step_size = 1000;       // step: multiply by gamma every step_size steps (after warm-up)
  float gamma = 0.1f;
  int64_t total_steps = 0;        // cosine: decay to min_lr at this step (required for cosine)
  float min_lr = 0.f;
};

class LRSchedule {
 public:
  LRSchedule(float base_lr, const ScheduleOptions& o);
  // Learning rate for step `step` (0-based, counted in optimizer steps).
  float at(int64_t step) const;
  const ScheduleOptions& options() const { return o_; }

 private:
  float base_;
  ScheduleOptions o_;
};

// Scales the stored gradients so their global L2 norm is at most max_norm; returns the norm
// before clipping. Tensors without a gradient are skipped.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace liteai::optim
