#pragma once
// Training within a memory budget: a plan says how a training step fits, and what it is
// estimated to hold at its peak.
//
//   optim::TrainOptions o;  o.max_memory = optim::parse_memory_size("1G");
//   optim::Trainer trainer(model, o);  // plans before the first step (or: trainer.plan_memory(8, {1, 512, 512}))
//
// The knobs: the optimizer's state precision (f32, 8-bit, 8-bit with a factored second moment:
// optimizer.hpp), then bf16 master weights for the streamed Dense layers (TrainOptions::
// master_weights: half their memory, every update stochastically rounded) and, for each, the largest micro-batch that fits (gradient accumulation: the
// activations of fewer samples at a time), with activation checkpointing only when that allows a
// larger micro-batch and is estimated faster. Micro-batches and checkpointing change no result
// (without BatchNorm), a leaner state does: the plan keeps the most precise state whose plan is
// estimated to run at least 7/10 as fast as the whole batch at once, or 3/4 as fast as the fastest
// plan (never a more precise state than asked for). The estimate adds what is known exactly
// (weights, optimizer state, the row-block workspace and micro-batch factors of a streamed Dense
// layer, the loader's batches, the process's memory outside tensors) to what a step's activations
// and stored gradients measure: one forward and backward pass at micro-batches of 1 and 2 samples
// (with and without checkpointing), extrapolated linearly, with nothing updated. The measured
// peak of a run can be checked against it per category (liteai::memory_stats).
#include <cstdint>
#include <string>

#include "liteai/core/shape.hpp"
#include "liteai/optim/optimizer.hpp"

namespace liteai::nn {
class Model;
}

namespace liteai::optim {

struct TrainOptions;

// Activation checkpointing (nn/checkpoint.hpp): none; every direct child of the network (the
// stages or layers of a Sequential; what the planner chooses); or the modules named in
// TrainOptions::checkpoint_modules. Names as in files and options: "off", "children", "named".
enum class Checkpointing : uint8_t { off, children, named };
const char* to_string(Checkpointing c);
Checkpointing checkpointing_from_string(const std::string& name);  // throws listing the names

struct MemoryPlan {
  // the choice
  int64_t batch = 0, micro_batch = 0;  // micro_batch == batch: no accumulation
  bool prefix = false;                 // pieces run only up to the huge layer (TrainOptions::micro_batch_prefix)
  Checkpointing checkpointing = Checkpointing::off;
  StatePrecision state = StatePrecision::f32;
  bool factored = false;
  DType master_weights = DType::f32;  // of the streamed Dense layers (TrainOptions::master_weights)
  // the estimate, in bytes
  int64_t budget = 0;
  int64_t weights = 0;      // parameters and buffers
  int64_t optimizer = 0;    // optimizer state
  int64_t activations = 0;  // measured: activations, their gradients and the stored gradients of one micro-batch
  int64_t workspace = 0;    // streamed Dense: a row block of its gradient and the micro-batch factors
  int64_t loader = 0;       // the data loader's batches
  int64_t runtime = 0;      // the process outside tensors (code, threads, heap), measured now
  double speed = 1;         // estimated images/s relative to the whole batch at once with no checkpointing
  int64_t peak() const { return weights + optimizer + activations + workspace + loader + runtime; }
  // "micro-batch 2 (x4), no checkpointing, adam state 8bit: estimated peak 951 MiB of 1024 MiB (weights 512,
  //  optimizer 257, activations 131, workspace 20, loader 32, runtime 29), speed ~0.86x"
  std::string to_string() const;
};

// Plans a training step of `batch` samples of shape `sample` ([C, H, W]) for `model` trained with
// `options` (optimizer kind and settings, head loss or custom loss, streaming threshold) within
// `budget` bytes. Runs the measuring passes on the model (its weights and buffers, Dropout states
// and gradients are left as they were; the memory statistics' peaks are reset). Throws
// ErrorKind::out_of_memory naming the smallest estimate when no plan fits.
MemoryPlan plan_memory(nn::Model& model, const TrainOptions& options, int64_t batch, const Shape& sample,
                       int64_t budget);
// Writes the plan's choice into `options` (micro_batch, checkpointing, optim.state, optim.factored,
// master_weights).
void apply_plan(const MemoryPlan& plan, TrainOptions* options);

// "1G", "768M", "1.5GiB", "800MB", "1073741824" -> bytes (K, M, G, T are powers of 1024, with or
// without a trailing "B" or "iB"). Throws naming the text when it is not a size.
int64_t parse_memory_size(const std::string& text);

}  // namespace liteai::optim
