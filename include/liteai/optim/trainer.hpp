#pragma once
// The training loop: epochs over a BatchSource, loss for the model's head (softmax -> cross
// entropy, sigmoid -> binary cross entropy, none -> MSE against the targets), Keras-style kernel
// L2, optimizer + LR schedule + optional gradient clipping, validation, early stopping,
// per-epoch checkpoints with optimizer state, resume, a metrics CSV, progress on stderr and a
// progress callback that can cancel.
//
//   optim::TrainOptions o;
//   o.epochs = 2; o.optimizer = optim::OptimizerKind::adam; o.optim.lr = 1e-3f;
//   optim::Trainer trainer(model, o);
//   optim::TensorSource train(images, labels, {}, /*batch=*/64, /*seed=*/1);
//   optim::TrainResult r = trainer.fit(train);
//
// Determinism: for a fixed seed (model init, shuffling, dropout) and thread count the weights
// after fit() are the same bits on every run.
//
// Memory (optim/memory_plan.hpp): micro-batches with gradient accumulation, activation
// checkpointing and the optimizer's state precision trade speed for memory; with `max_memory` set
// the Trainer picks them itself before the first step so the estimated peak fits the budget.
// Thread-safety: a Trainer is used from one thread; the callback runs on that thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "liteai/io/json.hpp"
#include "liteai/optim/collective.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/memory_plan.hpp"
#include "liteai/optim/optimizer.hpp"

namespace liteai::optim {

struct TrainBatch {
  Tensor images;   // [N, C, H, W]
  Tensor labels;   // [N] class indices as f32 (softmax heads)
  Tensor targets;  // [N, K] multi-hot (sigmoid heads) or regression targets; may be undefined
  Tensor teacher;  // [N, K] a teacher's logits for these images (distillation); may be undefined
  std::vector<std::string> paths;  // where each image came from (file sources); may be empty
};

// Where batches come from (an in-memory tensor set, the data layer's Loader, a C callback...).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void reset(int64_t epoch) = 0;  // starts epoch `epoch` (reshuffles)
  virtual std::optional<TrainBatch> next() = 0;
  virtual int64_t batches_per_epoch() const = 0;  // -1 when unknown
  virtual size_t skipped() const { return 0; }     // bad samples skipped so far (all epochs)
};

// Batches from tensors already in memory, shuffled per epoch with (seed, epoch).
class TensorSource : public BatchSource {
 public:
  // images [N, ...]; labels [N] or undefined; targets [N, ...] or undefined.
  TensorSource(Tensor images, Tensor labels, Tensor targets, int64_t batch_size, uint64_t seed, bool shuffle = true);
  void reset(int64_t epoch) override;
  std::optional<TrainBatch> next() override;
  int64_t batches_per_epoch() const override;
  int64_t size() const { return n_; }

 private:
  Tensor images_, labels_, targets_;
  int64_t n_, batch_;
  uint64_t seed_;
  bool shuffle_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0;
};

// train: a step of an epoch ended; validate: a validation batch ended; epoch: an epoch ended;
// evaluate: a batch of an evaluation ended.
enum class Phase : uint8_t { train, validate, epoch, evaluate };
const char* to_string(Phase p);

struct Progress {
  Phase phase = Phase::train;
  int64_t epoch = 0, epochs = 0;            // 1-based epoch
  int64_t step = 0, steps_per_epoch = 0;    // step within the epoch (1-based), -1 when unknown
  int64_t global_step = 0;
  double loss = 0, metric = 0;              // running means over the epoch so far
  double val_loss = -1, val_metric = -1;    // at "epoch" when a validation source was given
  double images_per_second = 0, eta_seconds = -1, lr = 0;
};
// Return false to stop training (after the current step); fit() then reports cancelled = true.
using ProgressCallback = std::function<bool(const Progress&)>;
// A custom training loss from the network output and the batch (e.g. knowledge distillation:
// run a teacher on batch.images under NoGrad and return nn::distillation_loss(...)). Must
// return a scalar recorded by autograd.
using LossFn = std::function<Tensor(const Tensor& output, const TrainBatch& batch)>;

struct TrainOptions {
  int64_t epochs = 1;
  OptimizerKind optimizer = OptimizerKind::adam;
  OptimizerOptions optim;
  ScheduleOptions schedule;        // kind constant | step | cosine (+ warm-up); cosine needs total_steps
  double clip_norm = 0;            // > 0: clip the global gradient norm (streamed parameters excluded)
  // FedProx (Li et al. 2020): > 0 adds (prox_mu / 2) ||w - w0||^2 over every parameter to the
  // loss, w0 being the weights when the Trainer is made (a federated round's merged model). Its
  // gradient prox_mu * (w - w0) goes into the optimizer's update like the kernel L2 (streamed
  // parameters included). Memory: one more set of weights (the copy w0), and checkpoints carry it
  // ("prox/<name>") so a resumed run keeps the same anchor.
  double prox_mu = 0;
  // Parameters with at least this many elements get their update streamed from the gradient
  // hook (the gradient is never stored; see optimizer.hpp). 0 = never.
  // A streamed Dense weight gets its gradient in row blocks (nn::Dense::stream_weight_gradient):
  // not even a transient full gradient. Rows per block; 0 = about 4M elements per block.
  int64_t stream_min_elements = 0;
  int64_t stream_block_rows = 0;
  // Master weights of the streamed Dense layers: f32, or bf16 (half the memory: compact_cxr's fc1
  // at 512x512 in 256 MB instead of 512). bf16 weights are updated in f32 and written back with
  // stochastic rounding (optim::round_bf16_stochastic), so small updates are kept on average; the
  // forward and backward products read them exactly (bf16 -> f32) and sum in f32. Every other
  // parameter stays f32. Checkpoints and the trained model file keep the bf16 weights as they are
  // (resuming is exact); a planner (max_memory) may choose bf16 when f32 does not fit or is slow.
  DType master_weights = DType::f32;
  // Mixed precision (SPEC 5, nn::Precision, set on the model with set_training_precision).
  // bf16_storage (the default): layers keep what backward needs in bf16 where that saves time and
  // memory; every product stays fp32. compact_cxr 512x512: no recomputed conv pre-activations
  // (about a quarter of a step's FLOPs) for 100 MB more before the peak, which comes later in
  // backward and does not grow. bf16_compute: also bf16 products in the convolutions, with bf16
  // copies of their inputs kept for backward; weights and optimizer state stay fp32, and every gradient is
  // checked to be finite before it updates a weight (an Error names the parameter otherwise).
  // f32: exact fp32 activations, recomputed where that saves memory.
  nn::Precision precision = nn::Precision::bf16_storage;
  // Output paths, checked writable when the Trainer is made and locked (io::OutputLock) while
  // fit() runs.
  std::string checkpoint;          // path: model + optimizer state saved after every epoch
  std::string metrics_csv;         // path: one row per epoch (..., images_per_second, skipped)
  int64_t early_stopping_patience = 0;  // epochs without validation-loss improvement; 0 = off
  double early_stopping_min_delta = 0;
  // With early stopping on (patience > 0 and a validation source), fit() ends with the weights
  // and buffers of the epoch with the lowest validation loss, whether it stopped early or ran
  // out of epochs (Keras EarlyStopping(restore_best_weights=True) as of Keras 3). The copy is
  // kept in memory (one more set of weights: 512 MB for compact_cxr at 512x512) and, while the
  // last epoch is not the best one, in the checkpoint too, so a resumed run restores the same.
  // false: fit() ends with the last epoch's weights.
  bool restore_best_weights = true;
  int progress = -1;               // stderr progress: -1 auto (only on a terminal), 0 off, 1 on
  double progress_interval = 1.0;  // seconds between progress updates
  ProgressCallback callback;
  LossFn loss;                     // empty: the head's loss (cross entropy / BCE / MSE)
  int64_t max_steps_per_epoch = 0;  // 0 = the whole source (benchmarks and smoke tests use fewer)

  // ---- memory (optim/memory_plan.hpp) ----
  // Micro-batches: each batch is split into pieces of at most this many samples, run one after
  // the other, their gradients summed (each piece's loss weighted by its share of the batch): the
  // same optimizer step with the activations of one piece. 0 = the whole batch at once. Exact for
  // nets without BatchNorm up to float rounding (sums in another order); BatchNorm normalizes
  // each piece by the piece's statistics and updates its running statistics once per piece (as
  // gradient accumulation does in PyTorch and Keras), and Dropout draws masks per piece. A
  // streamed Dense weight gets one update from the factors of all pieces; other streamed
  // parameters (gradient hooks) are not streamed with micro-batches (their gradients are stored).
  int64_t micro_batch = 0;
  // With micro-batches, a Sequential network whose streamed Dense layer comes after other layers
  // (compact_cxr: the convolutions, then fc1) runs the pieces only through those layers; the rest
  // runs on the whole batch at once, and the layers before it are run once more, piece by piece,
  // in backward. The huge layer's weights are then read twice per step, not twice per piece, for
  // one more forward pass of the convolutions; layers after it see the whole batch.
  bool micro_batch_prefix = true;
  Checkpointing checkpointing = Checkpointing::off;
  std::vector<std::string> checkpoint_modules;  // for Checkpointing::named: "conv2", "stage1", "res.body"
  // A budget in bytes for the whole training process (0 = none). Before the first step the
  // Trainer plans (plan_memory): it picks micro_batch, checkpointing and the optimizer state
  // (optim.state, optim.factored) so that the estimated peak fits, prints the plan when progress
  // is on, and refuses with ErrorKind::out_of_memory naming the smallest estimate when none fits.
  // The plan replaces those settings; Trainer::plan_memory runs it earlier (e.g. to print it).
  int64_t max_memory = 0;
  int64_t loader_bytes = -1;  // memory of the data loader for the plan; -1: four batches of input
  // The process's memory outside tensors (code, threads, heap) for the plan; -1: measured when
  // planning (resident bytes minus live and cached tensors), which moves with what the process did
  // before: a fixed figure makes plans reproducible (tests).
  int64_t runtime_bytes = -1;

  // ---- data-parallel training (optim/collective.hpp; over MPI: liteai/interop/mpi.hpp) ----
  // Set: every rank runs its own Trainer on its own shard of the batches; the Trainer broadcasts
  // rank 0's weights when it is made, and every step sums the ranks' gradients, each weighted by
  // its share of the global batch (n_r / sum n), so the step is that of one Trainer on the union of
  // the ranks' batches (up to float reassociation) and every rank holds the same weights. A
  // streamed Dense weight's gradient is exchanged as its factors (the ranks' input and output
  // gradient rows, gathered; every rank then makes the same update_outer): (in + out) floats per
  // sample instead of in x out. Gradient-hook streaming of other parameters is off (their
  // gradients are stored and summed). Float buffers (BatchNorm running statistics) are averaged
  // after every step; BatchNorm normalizes with each rank's own batch statistics, and Dropout
  // draws the same masks on every rank (as without SyncBatchNorm in PyTorch DDP). The epoch ends
  // when any rank's source does (a last global batch with fewer samples than ranks is dropped).
  // Only rank 0 writes the checkpoint and the metrics log and shows progress; validation runs
  // on every rank (the same weights: the same result). Loss, accuracy and images/s are global.
  std::shared_ptr<Collective> collective;
};

struct EpochStats {
  int64_t epoch = 0;
  double loss = 0, metric = 0;     // training, running means (metric: accuracy; NaN for "none" heads)
  double val_loss = -1, val_metric = -1;
  double seconds = 0, images_per_second = 0, lr = 0;
  int64_t skipped = 0;             // bad files the sources skipped in this epoch (LoaderOptions::skip_bad)
};

struct TrainResult {
  std::vector<EpochStats> history;
  int64_t steps = 0;
  bool cancelled = false, early_stopped = false;
  double seconds = 0, images_per_second = 0;
  double best_val_loss = -1;
  int64_t skipped = 0;           // bad files skipped, all epochs of this run
  int64_t best_epoch = 0;        // 1-based epoch of best_val_loss (0: no validation)
  bool restored_best = false;    // the weights were reset to best_epoch's
};

struct EvalResult {
  double loss = 0, metric = 0;  // mean loss (without regularization), accuracy
  int64_t samples = 0;
};

class Trainer {
 public:
  // Checks every option (invalid_argument naming it) and the output paths (io) before any work.
  Trainer(std::shared_ptr<nn::Model> model, TrainOptions options);
  ~Trainer();

  TrainResult fit(BatchSource& train, BatchSource* validation = nullptr);

  struct StepResult {
    double loss = 0;      // data loss + regularization
    int64_t correct = 0;  // for accuracy (softmax: argmax == label; sigmoid: per label at 0.5)
    int64_t counted = 0;
  };
  // One optimization step (forward, backward, clipping, update).
  StepResult train_step(const TrainBatch& batch);
  EvalResult evaluate(BatchSource& source);

  // Loads weights, optimizer state, the epoch counter, the Dropout layers' random state and the
  // early-stopping state (best loss, best weights) from a checkpoint written by fit(); the next
  // fit() continues after that epoch and gives the same bits as an uninterrupted run.
  void resume(const std::string& checkpoint_path);
  // Saves model + optimizer state (+ training progress) to `path`.
  void save_checkpoint(const std::string& path) const;

  // What training will hold besides activations: "weights 512 MB, adam state 1025 MB,
  // stored gradients 1 MB (streamed: fc1.weight, 512 MB never stored)".
  std::string memory_plan() const;
  // Plans for batches of `batch` samples of shape `sample` ([C, H, W]) within `budget` bytes
  // (TrainOptions::max_memory when 0) and adopts the plan (micro-batch, checkpointing, optimizer
  // state; state already held is converted). Throws ErrorKind::out_of_memory when nothing fits.
  // fit() and train_step() call it with the first batch when max_memory is set and no plan is.
  const MemoryPlan& plan_memory(int64_t batch, const Shape& sample, int64_t budget = 0);
  const std::optional<MemoryPlan>& plan() const { return plan_; }
  const TrainOptions& options() const { return o_; }

  Optimizer& optimizer() { return *opt_; }
  nn::Model& model() { return *model_; }
  int64_t epochs_done() const { return epochs_done_; }

 private:
  // A Dense layer whose weight gradient goes to the optimizer as factors; with micro-batches, the
  // factors of the whole batch, filled piece by piece (N * (in + out) floats).
  struct StreamedDense {
    nn::Dense* layer = nullptr;
    size_t index = 0;  // in the optimizer
    std::string name;  // the parameter's
    Tensor x, g;
  };
  void configure();    // optimizer, streaming and checkpointing from o_ (keeps any optimizer state)
  void unconfigure();  // removes the sinks and hooks configure() installed
  void take_factors(StreamedDense& s, const Tensor& x, const Tensor& g);
  void update_streamed(StreamedDense& s, const Tensor& x, const Tensor& g);  // gathers the ranks' factors
  void exchange_gradients();  // data-parallel: the weighted sum of the ranks' stored gradients
  bool lead() const { return !o_.collective || o_.collective->rank() == 0; }  // writes files, shows progress
  double regularization_value() const;
  io::Json training_json() const;
  std::shared_ptr<nn::Model> model_;
  TrainOptions o_;
  std::unique_ptr<Optimizer> opt_;
  std::unique_ptr<LRSchedule> schedule_;
  std::vector<std::pair<Tensor, float>> l2_kernels_;  // for the reported loss
  std::vector<StreamedDense> streamed_dense_;
  int64_t piece_begin_ = 0, batch_rows_ = 0;  // the micro-batch being run: its first row, the batch's rows
  size_t split_ = 0;  // micro_batch_prefix: the first child of the network that runs on the whole batch
  std::optional<MemoryPlan> plan_;
  int64_t epochs_done_ = 0;
  int64_t global_step_ = 0;
  double best_val_loss_ = -1;
  int64_t best_epoch_ = 0;
  int64_t bad_epochs_ = 0;
  bool early_stopping_on_ = false;  // set by fit(): a validation source and patience > 0
  nn::NamedTensors best_state_;     // copy of state() at best_epoch_ (restore_best_weights)
  nn::NamedTensors prox_anchor_;    // FedProx: the parameters' values when the Trainer was made
  double share_ = 1;                // data-parallel: this rank's part of the step's global batch
  int64_t global_rows_ = 0;         // data-parallel: the step's global batch
  std::vector<Tensor> buffers_;     // data-parallel: float buffers averaged after each step
};

}  // namespace liteai::optim
