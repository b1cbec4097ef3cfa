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
// State memory (OptimizerOptions::state, ::factored): Adam keeps two moments per weight, SGD with
// momentum one. StatePrecision::q8 stores them blockwise-quantized to 8 bits (optim/quantize.hpp,
// Dettmers et al. 2021): 1 byte per element instead of 4, the update itself in f32. `factored`
// keeps Adam's second moment of a matrix as row and column statistics (Adafactor, Shazeer & Stern
// 2018): v[i][j] ~ r[i] c[j] / mean(r), rows + columns floats instead of rows * columns. Tensors
// smaller than min_compact_elements (biases, small kernels) keep full f32 state either way. For
// compact_cxr at 512x512 (134M weights): Adam f32 state 1,025 MB, q8 257 MB, q8 + factored 129 MB,
// SGD momentum f32 512 MB, q8 128 MB, plain SGD nothing.
//
// Streaming updates (memory): `stream_updates(name)` installs a gradient hook on that parameter
// (TensorImpl::grad_hook): during backward the optimizer applies its update the moment the
// gradient arrives, and the gradient is never stored. compact_cxr's first Dense at 512x512 has
// 134M weights: streaming saves its 537 MB gradient. Valid only when the parameter is used once
// per forward pass (one gradient per step). Such a parameter is excluded from global-norm
// gradient clipping (its gradient is gone before the norm could be known) and step() skips it.
// A Dense weight's gradient x^T g can also be handed over as its two factors (update_outer, what
// nn::Dense::stream_weight_gradient delivers): the optimizer computes it in row blocks, so not even
// a transient full-size gradient exists.
// Per-parameter extra L2 (`ParamGroup::l2_grad`) lets a trainer add Keras kernel regularization
// to the gradient (g += 2 * l2 * w) for streamed and normal parameters alike.
//
// State: step counts and moment tensors are exported by state() and restored by load_state()
// (names "<param>.m", "<param>.v", "<param>.momentum": f32, or u8 codes with "<slot>.absmax" for
// q8; "<param>.v.row" and "<param>.v.col" when factored; scalars in state_meta()), for resuming.
// Resuming with the same options continues bit for bit; a state saved at another precision is
// converted on load (q8 <-> f32, full <-> factored), which is not bit-exact but keeps training.
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

// How optimizer moments are stored (names as in files and options: "f32", "8bit").
enum class StatePrecision : uint8_t { f32, q8 };
using liteai::to_string;  // keep Shape printing visible beside the overloads of this namespace
const char* to_string(StatePrecision p);
StatePrecision state_precision_from_string(const std::string& name);  // throws listing the names

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
  // state memory (see above)
  StatePrecision state = StatePrecision::f32;
  bool factored = false;                // Adam/AdamW: second moment of matrices as row/column statistics
  int64_t min_compact_elements = 4096;  // smaller tensors keep full f32 state (bitsandbytes: min_8bit_size)
};

// The optimizers by name (the names are what files and options say: "sgd", "adam", "adamw").
enum class OptimizerKind : uint8_t { sgd, adam, adamw };
const char* to_string(OptimizerKind k);
OptimizerKind optimizer_from_string(const std::string& name);  // throws listing the names

// y = bf16(x) with stochastic rounding (Gupta et al. 2015): up with probability equal to x's
// distance from the bf16 value below, so an update smaller than half a bf16 step still moves a
// bf16 weight on average (round-to-nearest would drop it). The random bits are a hash of `key`
// and each element's index (index0 + k): the same result on every thread count, rank and resume.
// Infinities and NaNs are kept. What an optimizer writes into bf16 parameters.
void round_bf16_stochastic(int64_t n, const float* x, uint16_t* y, uint64_t key, int64_t index0);

// Rows per block of update_outer for a [rows, cols] parameter (block_rows 0: about 1M elements),
// rounded up to whole quantization blocks when the state is quantized.
int64_t update_block_rows(int64_t rows, int64_t cols, int64_t block_rows, bool quantized);
// Bytes of optimizer state `kind` with options `o` will hold for parameters of these shapes.
int64_t optimizer_state_bytes(OptimizerKind kind, const OptimizerOptions& o, const std::vector<Shape>& params);

class Optimizer {
 public:
  Optimizer(const NamedTensors& params, const OptimizerOptions& o);
  virtual ~Optimizer();
  virtual std::string name() const = 0;
  virtual OptimizerKind kind() const = 0;

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
  // FedProx (Li et al. 2020): a proximal term (mu/2) ||w - anchor||^2 on one parameter, whose
  // gradient mu * (w - anchor) is added inside the update like the L2 term, for streamed and
  // stored gradients alike. `anchor` (same shape, f32, contiguous) is kept by reference: the
  // caller holds the copy (one set of weights). mu = 0 removes it.
  void set_prox(const std::string& param, const Tensor& anchor, float mu);

  // Streams the update of `param` from its gradient hook (see above). Throws if the name is unknown.
  // install_hook = false only marks it streamed (the caller feeds update_rows itself, as the
  // Trainer does through nn::Dense::stream_weight_gradient).
  void stream_updates(const std::string& param, bool install_hook = true);
  void stop_streaming();  // removes every hook this optimizer installed
  bool is_streamed(const std::string& param) const;

  // Updates one parameter with gradient `grad` (what step() and the hooks call).
  void update(size_t index, const Tensor& grad);
  // Updates a 2-D parameter w[in, out] from the gradient x^T g (x [N, in], g [N, out]: the factors
  // nn::Dense::stream_weight_gradient hands over), computed here in blocks of `block_rows` rows
  // (update_block_rows: 0 is about 1M elements), so the full gradient never
  // exists. A factored second moment reads the blocks twice (statistics, then the update).
  void update_outer(size_t index, const Tensor& x, const Tensor& g, int64_t block_rows = 0);
  // Updates rows [row0, row0 + rows.size(0)) of a 2-D parameter from the gradient of those rows.
  // The block starting at row 0 opens a new update (Adam's step count); every row must be covered
  // once per step. With q8 state a block must cover whole quantization blocks; a factored second
  // moment needs the whole gradient first and refuses row blocks (use update_outer).
  void update_rows(size_t index, int64_t row0, const Tensor& rows);
  size_t index_of(const std::string& name) const;

  // Global L2 norm of the stored gradients of the non-streamed parameters.
  double grad_norm() const;

  // Resuming: named state tensors and scalars.
  NamedTensors state() const;
  int64_t state_bytes() const;  // what state() holds now
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
    float prox_mu = 0.f;  // FedProx: + prox_mu * (w - prox_anchor) on the gradient
    Tensor prox_anchor;
    bool streamed = false;
    int64_t t = 0;  // this parameter's update count (Adam bias correction)
    // Optimizer state: "<moment>" (f32, or u8 codes), "<moment>.absmax", "<moment>.row"/".col".
    std::map<std::string, Tensor> slots;
    int64_t rows() const { return tensor.dim() >= 2 ? tensor.size(0) : 1; }
    int64_t cols() const { return tensor.numel() / std::max<int64_t>(1, rows()); }
  };
  // A moment of one parameter as the update sees it: loaded into f32 per quantization block.
  struct Moment;
  enum class Form : uint8_t { f32, q8, factored };
  // Gradient rows [r0, r1) of a parameter viewed as [rows, cols], contiguous f32 (the pointer
  // stays valid until the next call).
  using GradientRows = std::function<const float*(int64_t r0, int64_t r1)>;

  // The rule: updates elements [offset, offset + n) of p.tensor (and its slots) in place from
  // gradient g[0..n) + extra * w (extra holds the coupled weight decay and 2 * l2_grad). offset
  // and n cover whole quantization blocks (n may end at the tensor's end).
  // w holds the weights of those elements in f32 (the tensor's own, or decoded from bf16).
  virtual void apply(Param& p, const float* g, float* w, float extra, int64_t offset, int64_t n) = 0;
  // A rule with factored moments sees the whole gradient first: rows [r0, r1) at a time, then once done.
  virtual bool needs_statistics(const Param&) const { return false; }
  virtual void accumulate_statistics(Param&, const float* g, const float* w, float extra, int64_t r0, int64_t r1) {}
  virtual void finish_statistics(Param&) {}

  Form form(const Param& p, const std::string& moment) const;
  Moment moment(Param& p, const std::string& name);  // allocates the state on first use
  // Runs one update of p (count, statistics pass if needed, rule) over row blocks of `block_rows`.
  void run_update(Param& p, const GradientRows& grad, int64_t block_rows);
  float extra_of(const Param& p) const;
  // Weights [offset, offset + n) of p in f32: the tensor's own (f32) or decoded into *scratch
  // (bf16); store_weights writes decoded ones back, stochastically rounded.
  float* weights_f32(Param& p, int64_t offset, int64_t n, Tensor* scratch);
  void store_weights(Param& p, int64_t offset, int64_t n, const float* w);
  OptimizerOptions opt_;
  std::vector<Param> params_;
  int64_t steps_ = 0;
};

class SGD : public Optimizer {
 public:
  SGD(const NamedTensors& params, const OptimizerOptions& o);
  std::string name() const override { return "sgd"; }

 protected:
  void apply(Param& p, const float* g, float* w, float extra, int64_t offset, int64_t n) override;
  OptimizerKind kind() const override { return OptimizerKind::sgd; }
};

class Adam : public Optimizer {
 public:
  Adam(const NamedTensors& params, const OptimizerOptions& o);
  std::string name() const override { return opt_.decoupled ? "adamw" : "adam"; }

 protected:
  void apply(Param& p, const float* g, float* w, float extra, int64_t offset, int64_t n) override;
  OptimizerKind kind() const override { return opt_.decoupled ? OptimizerKind::adamw : OptimizerKind::adam; }
  bool needs_statistics(const Param& p) const override;
  void accumulate_statistics(Param& p, const float* g, const float* w, float extra, int64_t r0, int64_t r1) override;
  void finish_statistics(Param& p) override;

 private:
  std::vector<double> row_sum_, col_sum_;  // the statistics pass of the parameter being updated
  float inv_mean_row_ = 0.f;
};

// Adam with decoupled weight decay (default 0.01 when the options give none).
class AdamW : public Adam {
 public:
  AdamW(const NamedTensors& params, OptimizerOptions o);
};

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
