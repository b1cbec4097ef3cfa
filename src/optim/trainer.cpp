#include "kernels/kernels.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/optim/trainer.hpp"
#include "liteai/optim/evaluate.hpp"
#include "liteai/core/log.hpp"
#include "liteai/io/file.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/ops/ops.hpp"
#include "passes.hpp"

namespace liteai::optim {

const char* to_string(Phase p) {
  switch (p) {
    case Phase::train: return "train";
    case Phase::validate: return "validate";
    case Phase::epoch: return "epoch";
    case Phase::evaluate: return "evaluate";
  }
  return "?";
}

namespace {
// printf-style formatting into a std::string (progress and log lines).
template <class... A>
std::string format(const char* fmt, A... a) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, a...);
  return buf;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string fmt_duration(double s) {
  if (s < 0) return "?";
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

// Rows `idx` of t (first dimension) gathered into a new contiguous tensor.
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& idx, size_t b, size_t e) {
  Shape s = t.shape();
  const int64_t row = t.numel() / s[0];
  s[0] = static_cast<int64_t>(e - b);
  Tensor out = Tensor::empty(s);
  const float* src = t.data();
  for (size_t i = b; i < e; ++i)
    std::copy(src + idx[i] * row, src + (idx[i] + 1) * row, out.data() + static_cast<int64_t>(i - b) * row);
  return out;
}

// The Dense layer whose weight is `w`, if any.
nn::Dense* find_dense(nn::Module& m, const Tensor& w) {
  if (auto* d = dynamic_cast<nn::Dense*>(&m); d && d->weight.impl() == w.impl()) return d;
  for (const auto& [name, c] : m.children())
    if (nn::Dense* d = find_dense(*c, w)) return d;
  return nullptr;
}

// Every Dropout layer under `m` with its hierarchical name ("drop", "block.drop").
void collect_dropouts(nn::Module& m, const std::string& prefix, std::vector<std::pair<std::string, nn::Dropout*>>* out) {
  if (auto* d = dynamic_cast<nn::Dropout*>(&m)) out->emplace_back(prefix, d);
  for (const auto& [name, c] : m.children()) collect_dropouts(*c, prefix.empty() ? name : prefix + "." + name, out);
}
std::vector<std::pair<std::string, nn::Dropout*>> dropouts_of(nn::Module& m) {
  std::vector<std::pair<std::string, nn::Dropout*>> out;
  collect_dropouts(m, "", &out);
  return out;
}

// A copy of a module's state (not recorded by autograd, not sharing storage).
nn::NamedTensors copy_state(const nn::Module& m) {
  nn::NamedTensors out;
  for (const auto& [name, t] : m.state()) {
    Tensor c = Tensor::empty(t.shape(), t.dtype());
    c.copy_from(t);
    out.emplace_back(name, c);
  }
  return out;
}

// bf16 training: a NaN or infinite gradient must not reach the weights (bf16 has fp32's exponent
// range, so it means a diverging step rather than a rounding artifact: stop with its name).
void check_finite_gradient(const std::string& name, const Tensor& g) {
  const Tensor c = g.contiguous();
  LAI_CHECK(kernels::all_finite(c.numel(), c.data()), "train: the gradient of '", name,
            "' is not finite (NaN or infinity) with bf16 products; lower the learning rate, or train with f32");
}

// Gives tensor t the element type `dtype` (f32 or bf16) in place: every handle to it sees the
// change. The values are converted a block at a time into new storage and, when t alone uses its
// old storage, the old pages are given back as they are read, so both copies are never resident
// whole (512 MB of fp32 weights become 256 MB of bf16 without a 768 MB moment).
void set_dtype_in_place(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return;
  LAI_CHECK(t.is_contiguous() && (dtype == DType::f32 || dtype == DType::bf16) &&
                (t.dtype() == DType::f32 || t.dtype() == DType::bf16),
            "train: cannot store ", t.describe(), " as ", dtype_name(dtype));
  MemoryScope scope(t.storage()->category());
  Tensor c = Tensor::empty(t.shape(), dtype);
  Storage& old = *t.storage();
  const bool discard = t.storage().use_count() == 1;
  const int64_t n = t.numel(), block = int64_t(1) << 20, esize = int64_t(dtype_size(t.dtype()));
  for (int64_t k = 0; k < n; k += block) {
    const int64_t len = std::min(block, n - k);
    if (dtype == DType::bf16)
      kernels::f32_to_bf16(len, t.data() + k, c.data_bf16() + k);
    else
      kernels::bf16_to_f32(len, t.data_bf16() + k, c.data() + k);
    if (discard) old.discard_pages(size_t((t.offset() + k) * esize), size_t(len * esize));
  }
  TensorImpl* dst = t.impl();
  dst->storage = c.storage();
  dst->offset = 0;
  dst->strides = c.strides();
  dst->dtype = dtype;
}

// The elements [k, k + len) of an f32 or bf16 tensor (contiguous) in f32: in place, or in buf.
const float* f32_span(const Tensor& t, int64_t k, int64_t len, std::vector<float>* buf) {
  if (t.dtype() == DType::f32) return t.data() + k;
  buf->resize(size_t(len));
  kernels::bf16_to_f32(len, t.data_bf16() + k, buf->data());
  return buf->data();
}

const char* kBestPrefix = "best/";  // checkpoint extra tensors: the best epoch's weights
const char* kProxPrefix = "prox/";  // checkpoint extra tensors: the FedProx anchor

}  // namespace

// ---------------- TensorSource ----------------
TensorSource::TensorSource(Tensor images, Tensor labels, Tensor targets, int64_t batch_size, uint64_t seed,
                           bool shuffle)
    : images_(images.contiguous()),
      labels_(labels.defined() ? labels.contiguous() : labels),
      targets_(targets.defined() ? targets.contiguous() : targets),
      n_(images.defined() ? images.size(0) : 0),
      batch_(batch_size),
      seed_(seed),
      shuffle_(shuffle) {
  LAI_CHECK(images.defined() && images.dim() >= 2 && n_ > 0, "TensorSource: images must be [N, ...] with N > 0");
  LAI_CHECK(batch_size > 0, "TensorSource: batch size must be > 0, got ", batch_size);
  LAI_CHECK(!labels.defined() || (labels.dim() == 1 && labels.size(0) == n_), "TensorSource: labels must be [", n_,
            "], got ", to_string(labels.shape()));
  LAI_CHECK(!targets.defined() || targets.size(0) == n_, "TensorSource: targets must have ", n_, " rows");
  reset(0);
}

void TensorSource::reset(int64_t epoch) {
  order_.resize(static_cast<size_t>(n_));
  for (int64_t i = 0; i < n_; ++i) order_[static_cast<size_t>(i)] = i;
  if (shuffle_) {
    Generator g(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    for (int64_t i = n_ - 1; i > 0; --i)
      std::swap(order_[static_cast<size_t>(i)], order_[g.below(static_cast<uint64_t>(i + 1))]);
  }
  pos_ = 0;
}

std::optional<TrainBatch> TensorSource::next() {
  if (pos_ >= n_) return std::nullopt;
  const size_t b = static_cast<size_t>(pos_), e = static_cast<size_t>(std::min(n_, pos_ + batch_));
  pos_ = static_cast<int64_t>(e);
  TrainBatch out;
  out.images = gather_rows(images_, order_, b, e);
  if (labels_.defined()) out.labels = gather_rows(labels_.reshape({n_, 1}), order_, b, e).reshape({int64_t(e - b)});
  if (targets_.defined()) out.targets = gather_rows(targets_, order_, b, e);
  return out;
}

int64_t TensorSource::batches_per_epoch() const { return (n_ + batch_ - 1) / batch_; }

// ---------------- Trainer ----------------
namespace {
// The module at a dotted path below `root` ("res.body"), or null.
nn::Module* find_module(nn::Module& root, const std::string& path) {
  nn::Module* m = &root;
  size_t at = 0;
  while (m && at <= path.size()) {
    const size_t dot = std::min(path.find('.', at), path.size());
    const std::string part = path.substr(at, dot - at);
    nn::Module* next = nullptr;
    for (const auto& [name, c] : m->children())
      if (name == part) next = c.get();
    m = next;
    at = dot + 1;
  }
  return m;
}
void set_checkpointing_all(nn::Module& m, bool on) {
  m.set_checkpointing(on);
  for (const auto& [name, c] : m.children()) set_checkpointing_all(*c, on);
}
}  // namespace

Trainer::Trainer(std::shared_ptr<nn::Model> model, TrainOptions options) : model_(std::move(model)), o_(std::move(options)) {
  LAI_CHECK(model_ && model_->net, "Trainer: no model");
  LAI_CHECK(o_.epochs >= 0, "Trainer: epochs must be >= 0, got ", o_.epochs);
  LAI_CHECK(std::isfinite(o_.clip_norm) && o_.clip_norm >= 0, "Trainer: clip_norm must be >= 0 (0: off), got ",
            o_.clip_norm);
  LAI_CHECK(o_.stream_min_elements >= 0 && o_.stream_block_rows >= 0,
            "Trainer: stream_min_elements and stream_block_rows must be >= 0, got ", o_.stream_min_elements, " and ",
            o_.stream_block_rows);
  LAI_CHECK(o_.early_stopping_patience >= 0, "Trainer: early_stopping_patience must be >= 0 (0: off), got ",
            o_.early_stopping_patience);
  LAI_CHECK(std::isfinite(o_.early_stopping_min_delta) && o_.early_stopping_min_delta >= 0,
            "Trainer: early_stopping_min_delta must be >= 0, got ", o_.early_stopping_min_delta);
  LAI_CHECK(o_.progress >= -1 && o_.progress <= 1, "Trainer: progress must be -1 (auto), 0 or 1, got ", o_.progress);
  LAI_CHECK(std::isfinite(o_.progress_interval) && o_.progress_interval >= 0,
            "Trainer: progress_interval must be >= 0 seconds, got ", o_.progress_interval);
  LAI_CHECK(o_.max_steps_per_epoch >= 0, "Trainer: max_steps_per_epoch must be >= 0 (0: all), got ",
            o_.max_steps_per_epoch);
  // Output paths are checked now, not when the first epoch ends (rank 0 alone writes them).
  if (!lead()) o_.checkpoint.clear(), o_.metrics_csv.clear(), o_.progress = 0;
  if (!o_.checkpoint.empty()) io::check_writable(o_.checkpoint, "checkpoint");
  if (!o_.metrics_csv.empty()) io::check_writable(o_.metrics_csv, "metrics log");
  LAI_CHECK(o_.micro_batch >= 0, "Trainer: micro_batch must be >= 0, got ", o_.micro_batch);
  LAI_CHECK(o_.max_memory >= 0, "Trainer: max_memory must be >= 0, got ", o_.max_memory);
  LAI_CHECK(std::isfinite(o_.prox_mu) && o_.prox_mu >= 0, "Trainer: prox_mu must be >= 0 (0: off), got ", o_.prox_mu);
  model_->net->set_training_precision(o_.precision);
  schedule_ = std::make_unique<LRSchedule>(o_.optim.lr, o_.schedule);
  for (const auto& [name, t] : model_->net->state()) {
    if (t.storage()->read_only()) {  // weights mapped from a file: training needs its own copy
      MemoryScope scope(MemoryCategory::weights);
      Tensor c = t.detach().clone();
      TensorImpl* dst = t.impl();
      dst->storage = c.storage();
      dst->offset = 0;
      dst->strides = c.strides();
    }
    memory_retag(t.storage(), MemoryCategory::weights);
    // Training holds f32 weights (a bf16 file's become exact f32 copies); configure() then gives
    // the streamed Dense weights the master-weight type.
    if (t.dtype() == DType::bf16) set_dtype_in_place(t, DType::f32);
  }
  if (o_.collective) {  // every rank starts from rank 0's weights and buffers
    std::set<const TensorImpl*> params;
    for (const auto& [name, t] : model_->net->named_parameters()) params.insert(t.impl());
    for (const auto& [name, t] : model_->net->state()) {
      LAI_CHECK(t.dtype() == DType::f32 && t.is_contiguous(), "Trainer: data-parallel training needs contiguous f32 "
                "state; '", name, "' is not");
      o_.collective->broadcast(const_cast<float*>(t.data()), t.numel(), 0);
      if (!params.count(t.impl())) buffers_.push_back(t);
    }
  }
  if (o_.prox_mu > 0) {
    MemoryScope scope(MemoryCategory::weights);
    for (const auto& [name, t] : model_->net->named_parameters()) {
      Tensor c = Tensor::empty(t.shape(), DType::f32);
      c.copy_from(t);
      prox_anchor_.emplace_back(name, c);
    }
  }
  configure();
}

void Trainer::configure() {
  NamedTensors state;
  std::map<std::string, double> meta;
  if (opt_) {
    state = opt_->state();
    meta = opt_->state_meta();
    unconfigure();
  }
  // Master weights (TrainOptions::master_weights): the streamed Dense weights in that type, the
  // rest f32. Before the optimizer is made: it updates whatever type a parameter has.
  bool converted = false;
  for (const auto& [name, t] : model_->net->named_parameters()) {
    const bool huge = o_.stream_min_elements > 0 && t.numel() >= o_.stream_min_elements && find_dense(*model_->net, t);
    const DType want = huge ? o_.master_weights : DType::f32;
    converted |= t.dtype() != want;
    set_dtype_in_place(t, want);
  }
  // The old blocks (their pages already given back) leave the cache too: a plan's measure of
  // the process outside tensors subtracts what the cache holds.
  if (converted) storage_release_cache();
  opt_ = make_optimizer(o_.optimizer, model_->net->named_parameters(), o_.optim);
  if (!meta.empty()) opt_->load_state(state, meta, true);  // converted if the state's form changed
  state.clear();
  l2_kernels_.clear();
  // Keras kernel L2 goes into the gradient inside the optimizer (g += 2 l2 w): one pass fused with
  // the update instead of a graph branch, and it works for streamed parameters too.
  for (const auto& [name, a] : prox_anchor_) opt_->set_prox(name, a, float(o_.prox_mu));
  for (const auto& p : model_->net->parameter_infos()) {
    if (p.is_kernel && p.l2 > 0.f) {
      opt_->set_l2_grad(p.name, p.l2);
      l2_kernels_.emplace_back(p.tensor, p.l2);
    }
    if (o_.stream_min_elements > 0 && p.tensor.numel() >= o_.stream_min_elements) {
      nn::Dense* owner = find_dense(*model_->net, p.tensor);
      if (owner) {
        StreamedDense s;
        s.layer = owner;
        s.index = opt_->index_of(p.name);
        s.name = p.name;
        opt_->stream_updates(p.name, false);
        streamed_dense_.push_back(std::move(s));
      } else if (o_.micro_batch == 0 && !o_.collective) {  // a hook takes one gradient per step: not with
                                                          // micro-batches, nor summed over ranks
        opt_->stream_updates(p.name);
      }
    }
  }
  std::vector<const TensorImpl*> huge;
  for (const StreamedDense& s : streamed_dense_) huge.push_back(s.layer->weight.impl());
  split_ = detail::prefix_split(*model_->net, huge);
  for (size_t k = 0; k < streamed_dense_.size(); ++k)
    streamed_dense_[k].layer->stream_weight_gradient(
        [this, k](const Tensor& x, const Tensor& g) { take_factors(streamed_dense_[k], x, g); });
  set_checkpointing_all(*model_->net, false);
  if (o_.checkpointing == Checkpointing::children) {
    for (const auto& [name, c] : model_->net->children()) c->set_checkpointing(true);
  } else if (o_.checkpointing == Checkpointing::named) {
    LAI_CHECK(!o_.checkpoint_modules.empty(), "Trainer: checkpointing 'named' needs checkpoint_modules");
    for (const std::string& name : o_.checkpoint_modules) {
      nn::Module* m = find_module(*model_->net, name);
      LAI_CHECK(m, "Trainer: checkpoint module '", name, "' is not a module of the network");
      m->set_checkpointing(true);
    }
  }
}

void Trainer::unconfigure() {
  for (StreamedDense& s : streamed_dense_) s.layer->stream_weight_gradient(nullptr);
  streamed_dense_.clear();
  if (opt_) opt_->stop_streaming();
}

void Trainer::take_factors(StreamedDense& s, const Tensor& x, const Tensor& g) {
  if (o_.precision == nn::Precision::bf16_compute) check_finite_gradient(s.name, g);  // its weight gradient's factor
  const int64_t n = x.size(0);
  if (piece_begin_ == 0 && n == batch_rows_) {  // the whole batch at once
    update_streamed(s, x, g);
    return;
  }
  // Micro-batches: the weight gradient of the batch is x^T g over the rows of all pieces.
  if (piece_begin_ == 0) {
    MemoryScope scope(MemoryCategory::workspace);
    s.x = Tensor::empty({batch_rows_, x.size(1)});
    s.g = Tensor::empty({batch_rows_, g.size(1)});
  }
  LAI_CHECK(s.x.defined() && piece_begin_ + n <= batch_rows_, "train: the streamed Dense layer got ", n,
            " rows at row ", piece_begin_, " of a ", batch_rows_, "-row batch (used more than once per forward?)");
  s.x.slice(0, piece_begin_, piece_begin_ + n).copy_from(x);
  s.g.slice(0, piece_begin_, piece_begin_ + n).copy_from(g);
  if (piece_begin_ + n < batch_rows_) return;
  update_streamed(s, s.x, s.g);
  s.x = s.g = Tensor();
}

void Trainer::update_streamed(StreamedDense& s, const Tensor& x, const Tensor& g) {
  if (!o_.collective) return opt_->update_outer(s.index, x, g, o_.stream_block_rows);
  // The batch's gradient is sum_r share_r x_r^T g_r = X^T G with the ranks' rows stacked and each
  // rank's g rows scaled by its share: gather the factors, every rank makes the same update.
  Tensor scaled = Tensor::empty(g.shape());
  {
    const Tensor c = g.contiguous();
    const float* src = c.data();
    float* dst = scaled.data();
    const float f = float(share_);
    for (int64_t k = 0; k < c.numel(); ++k) dst[k] = src[k] * f;
  }
  const Tensor X = o_.collective->all_gather_rows(x.contiguous());
  const Tensor G = o_.collective->all_gather_rows(scaled);
  opt_->update_outer(s.index, X, G, o_.stream_block_rows);
}

void Trainer::exchange_gradients() {
  // One buffer for every stored gradient (the same parameters, in the same order, on every rank),
  // each rank's scaled by its share of the global batch, summed.
  std::vector<std::pair<Tensor, int64_t>> parts;
  int64_t total = 0;
  for (const auto& [name, t] : model_->net->named_parameters()) {
    if (opt_->is_streamed(name)) continue;
    parts.emplace_back(t, t.numel());
    total += t.numel();
  }
  if (total == 0) return;
  MemoryScope scope(MemoryCategory::workspace);
  Tensor buf = Tensor::empty({total});
  float* b = buf.data();
  const float f = float(share_);
  int64_t at = 0;
  for (auto& [t, n] : parts) {
    const Tensor g = t.grad();
    if (g.defined()) {
      const Tensor c = g.contiguous();
      const float* src = c.data();
      for (int64_t k = 0; k < n; ++k) b[at + k] = src[k] * f;
    } else {
      std::fill(b + at, b + at + n, 0.f);
    }
    at += n;
  }
  o_.collective->all_reduce_sum(b, total);
  at = 0;
  for (auto& [t, n] : parts) {
    Tensor g = t.grad();
    if (!g.defined() || !g.is_contiguous()) {  // else overwritten in place (no second gradient set)
      g = Tensor::empty(t.shape());
      Tensor(t).set_grad(g);
    }
    std::copy(b + at, b + at + n, g.data());
    at += n;
  }
}

Trainer::~Trainer() {
  unconfigure();
  set_checkpointing_all(*model_->net, false);
  // Activations and gradients the step cache kept for reuse go back to the system with the trainer.
  storage_release_cache();
}

const MemoryPlan& Trainer::plan_memory(int64_t batch, const Shape& sample, int64_t budget) {
  const int64_t b = budget > 0 ? budget : o_.max_memory;
  LAI_CHECK(b > 0, "Trainer::plan_memory: no budget (set TrainOptions::max_memory or pass one)");
  unconfigure();  // the measuring passes must not reach the optimizer
  try {
    plan_ = optim::plan_memory(*model_, o_, batch, sample, b);
  } catch (...) {
    configure();
    throw;
  }
  apply_plan(*plan_, &o_);
  configure();
  return *plan_;
}

double Trainer::regularization_value() const {
  double total = 0;
  for (const auto& kernel : l2_kernels_) {
    const Tensor& t = kernel.first;  // not a structured binding: lambdas capture it (C++17)
    const float l2 = kernel.second;
    const int64_t n = t.numel();
    const int64_t chunk = 1 << 18, chunks = (n + chunk - 1) / chunk;
    std::vector<double> part(static_cast<size_t>(chunks), 0.0);
    parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      std::vector<float> buf;
      for (int64_t c = b; c < e; ++c) {
        const int64_t k0 = c * chunk, len = std::min(n, k0 + chunk) - k0;
        const float* w = f32_span(t, k0, len, &buf);
        part[static_cast<size_t>(c)] = kernels::vdot(len, w, w);  // SIMD, double across blocks
      }
    });
    double s = 0;
    for (double v : part) s += v;  // fixed order: deterministic
    total += l2 * s;
  }
  if (!prox_anchor_.empty()) {  // FedProx: (mu / 2) ||w - w0||^2
    const nn::NamedTensors params = model_->net->named_parameters();
    double s = 0;
    for (size_t i = 0; i < params.size() && i < prox_anchor_.size(); ++i) {
      const Tensor& t = params[i].second;
      const float* a = prox_anchor_[i].second.data();
      const int64_t n = t.numel();
      const int64_t chunk = 1 << 18, chunks = (n + chunk - 1) / chunk;
      std::vector<double> part(static_cast<size_t>(chunks), 0.0);
      parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
        std::vector<float> buf;
        for (int64_t c = b; c < e; ++c) {
          double acc = 0;
          const int64_t k0 = c * chunk, k1 = std::min(n, k0 + chunk);
          const float* w = f32_span(t, k0, k1 - k0, &buf) - k0;
          for (int64_t k = k0; k < k1; ++k) {
            const double d = double(w[k]) - double(a[k]);
            acc += d * d;
          }
          part[static_cast<size_t>(c)] = acc;
        }
      });
      for (double v : part) s += v;  // fixed order: deterministic
    }
    total += 0.5 * o_.prox_mu * s;
  }
  return total;
}


Trainer::StepResult Trainer::train_step(const TrainBatch& batch) {
  LAI_CHECK(batch.images.defined() && batch.images.dim() >= 2, "train_step: batch has no images");
  const int64_t n = batch.images.size(0);
  if (o_.max_memory > 0 && !plan_) {
    const Shape& s = batch.images.shape();
    const MemoryPlan& plan = plan_memory(n, Shape(s.begin() + 1, s.end()));
    if (o_.progress == 1 || (o_.progress < 0 && isatty(2))) std::fprintf(stderr, "memory plan: %s\n", plan.to_string().c_str());
  }
  opt_->set_lr(schedule_->at(global_step_));
  StepResult r;
  // The regularization term at the weights this forward pass used (streamed parameters change
  // during the last backward pass).
  r.loss = regularization_value();
  opt_->zero_grad();
  detail::Passes passes;
  passes.piece = o_.micro_batch;
  passes.split = o_.micro_batch_prefix ? split_ : 0;
  passes.on_rows = [this](int64_t begin, int64_t, int64_t batch_rows) {
    piece_begin_ = begin;
    batch_rows_ = batch_rows;
  };
  // streamed parameters are updated inside the backward pass that covers the batch's last rows
  if (o_.collective) {  // this rank's share of the global batch weighs its gradients
    double rows = double(n);
    o_.collective->all_reduce_sum(&rows, 1);
    global_rows_ = int64_t(rows);
    share_ = double(n) / rows;
  } else {
    global_rows_ = n;
  }
  const detail::PassResult pr = detail::run_passes(*model_, o_, batch, passes);
  r.loss += pr.loss;
  r.correct = pr.correct;
  r.counted = pr.counted;
  if (o_.collective) {
    exchange_gradients();
    double stats[3] = {pr.loss * share_, double(pr.correct), double(pr.counted)};
    o_.collective->all_reduce_sum(stats, 3);
    r.loss = r.loss - pr.loss + stats[0];
    r.correct = int64_t(stats[1]);
    r.counted = int64_t(stats[2]);
  }
  if (o_.precision == nn::Precision::bf16_compute)  // streamed gradients were checked as they arrived
    for (const auto& [name, t] : model_->net->named_parameters())
      if (Tensor g = t.grad(); g.defined()) check_finite_gradient(name, g);
  if (o_.clip_norm > 0) {
    std::vector<Tensor> ps;
    const nn::NamedTensors named = model_->net->named_parameters();
    for (const auto& [name, t] : named)
      if (!opt_->is_streamed(name)) ps.push_back(t);
    clip_grad_norm(ps, o_.clip_norm);
  }
  opt_->step();
  opt_->zero_grad();
  if (o_.collective && !buffers_.empty()) {  // BatchNorm running statistics: the ranks' mean
    int64_t total = 0;
    for (const Tensor& t : buffers_) total += t.numel();
    std::vector<float> buf(static_cast<size_t>(total));
    int64_t at = 0;
    for (const Tensor& t : buffers_) std::copy(t.data(), t.data() + t.numel(), buf.data() + at), at += t.numel();
    o_.collective->all_reduce_sum(buf.data(), total);
    const float inv = 1.f / float(o_.collective->size());
    at = 0;
    for (const Tensor& t : buffers_) {
      float* d = const_cast<float*>(t.data());
      for (int64_t k = 0; k < t.numel(); ++k) d[k] = buf[size_t(at + k)] * inv;
      at += t.numel();
    }
  }
  ++global_step_;
  return r;
}

EvalResult Trainer::evaluate(BatchSource& source) {
  EvaluateOptions eo;
  eo.report = false;
  eo.micro_batch = o_.micro_batch;  // evaluation stays within the memory training was planned for
  const Evaluation e = optim::evaluate(*model_, source, eo);
  EvalResult r;
  r.samples = e.samples;
  r.loss = e.loss;
  r.metric = e.metric;
  return r;
}

std::string Trainer::memory_plan() const {
  double weights = 0, stored = 0, streamed = 0;
  std::string names;
  std::vector<Shape> shapes;
  for (const auto& [name, t] : model_->net->named_parameters()) {
    const double mb = t.numel() * double(dtype_size(t.dtype())) / 1048576.0;
    weights += mb;
    shapes.push_back(t.shape());
    if (opt_->is_streamed(name)) {
      streamed += mb;
      names += (names.empty() ? "" : ", ") + name;
    } else {
      stored += mb;
    }
  }
  const double state = optimizer_state_bytes(o_.optimizer, o_.optim, shapes) / 1048576.0;
  std::string kind = opt_->name();
  if (o_.optim.state != StatePrecision::f32 || o_.optim.factored)
    kind += str_cat(" (", to_string(o_.optim.state), o_.optim.factored ? ", factored" : "", ")");
  char buf[256];
  std::snprintf(buf, sizeof buf, "weights %.0f MB, %s state %.0f MB, stored gradients %.0f MB", weights, kind.c_str(),
                state, stored);
  std::string out = buf;
  if (!names.empty()) {
    std::snprintf(buf, sizeof buf, " (streamed: %s, %.0f MB%s, its gradient never stored)", names.c_str(), streamed,
                  o_.master_weights == DType::bf16 ? " in bf16" : "");
    out += buf;
  }
  if (!prox_anchor_.empty()) out += str_cat(", FedProx anchor ", int64_t(weights + 0.5), " MB");
  if (o_.micro_batch > 0) out += str_cat(", micro-batches of ", o_.micro_batch);
  if (o_.checkpointing != Checkpointing::off) out += str_cat(", checkpointing ", to_string(o_.checkpointing));
  return out + ", plus activations";
}

io::Json Trainer::training_json() const {
  io::Json t = io::Json::object();
  t.set("epochs_done", epochs_done_);
  t.set("global_step", global_step_);
  t.set("best_val_loss", best_val_loss_);
  t.set("best_epoch", best_epoch_);
  t.set("bad_epochs", bad_epochs_);
  t.set("optimizer_name", opt_->name());
  // The Dropout masks of the next epochs depend on these (seed as hex: JSON integers stop at 2^63).
  io::Json rng = io::Json::object();
  for (const auto& [name, d] : dropouts_of(*model_->net)) {
    const nn::Dropout::RngState s = d->rng_state();
    char hex[24];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(s.seed));
    io::Json e = io::Json::object();
    e.set("seed", std::string(hex));
    e.set("calls", static_cast<unsigned long long>(s.calls));
    rng.set(name, e);
  }
  if (rng.size()) t.set("dropout_rng", rng);
  return t;
}

void Trainer::save_checkpoint(const std::string& path) const {
  nn::OptimizerState st;
  st.name = opt_->name();
  st.tensors = opt_->state();
  st.meta = opt_->state_meta();
  // While the current weights are not the best epoch's, the best ones travel along so that a
  // resumed run can still restore them.
  nn::NamedTensors extra;
  if (!best_state_.empty() && best_epoch_ != epochs_done_)
    for (const auto& [name, t] : best_state_) extra.emplace_back(kBestPrefix + name, t);
  for (const auto& [name, t] : prox_anchor_) extra.emplace_back(kProxPrefix + name, t);
  nn::save_model(path, *model_, &st, training_json(), extra.empty() ? nullptr : &extra);
}

namespace {
// Copies `src` into `dst` (same shape) a block at a time, giving a mapped source's pages back after
// each block: resuming holds the weights once (the model's), not twice.
void copy_paged(Tensor dst, const Tensor& src) {
  if (!src.storage()->read_only() || !src.is_contiguous() || !dst.is_contiguous()) return dst.copy_from(src);
  const int64_t n = src.numel(), block = int64_t(4) << 20, esize = int64_t(dtype_size(src.dtype()));
  Tensor d = dst.reshape({n}), s = src.reshape({n});
  for (int64_t at = 0; at < n; at += block) {
    const int64_t len = std::min(block, n - at);
    d.slice(0, at, at + len).copy_from(s.slice(0, at, at + len));
    src.storage()->release_pages(size_t((src.offset() + at) * esize), size_t(len * esize));
  }
}
}  // namespace

void Trainer::resume(const std::string& path) {
  // Mapped: the checkpoint's tensors are read from the file as they are copied (no second copy).
  nn::SavedModel saved = nn::load_model_mapped(path, true, true);
  // The blocks the load's throwaway weights took (never touched) and idle ones go back: what the
  // state below needs is then new pages, not pages on top of idle cached ones.
  storage_release_cache();
  LAI_CHECK(saved.model->arch.to_json() == model_->arch.to_json(), path, ": checkpoint architecture ",
            saved.model->arch.to_json(), " differs from the model being trained ", model_->arch.to_json());
  {
    const nn::NamedTensors from = saved.model->net->state(), to = model_->net->state();
    LAI_CHECK(from.size() == to.size(), path, ": checkpoint holds ", from.size(), " tensors, the model ", to.size());
    for (size_t i = 0; i < to.size(); ++i) copy_paged(to[i].second, from[i].second);
  }
  LAI_CHECK(saved.optimizer.name.empty() || saved.optimizer.name == opt_->name(), path, ": checkpoint optimizer '",
            saved.optimizer.name, "' differs from '", opt_->name(), "'");
  if (!saved.optimizer.name.empty()) opt_->load_state(saved.optimizer.tensors, saved.optimizer.meta, false);
  const std::string what = path + " training";
  if (saved.training.is_object()) {
    epochs_done_ = saved.training.get_int_or("epochs_done", 0, what);
    global_step_ = saved.training.get_int_or("global_step", 0, what);
    best_val_loss_ = saved.training.get_number_or("best_val_loss", -1, what);
    best_epoch_ = saved.training.get_int_or("best_epoch", 0, what);
    bad_epochs_ = saved.training.get_int_or("bad_epochs", 0, what);
    if (const io::Json* rng = saved.training.find("dropout_rng")) {
      for (const auto& [name, d] : dropouts_of(*model_->net)) {
        const io::Json* e = rng->find(name);
        LAI_CHECK(e, path, ": checkpoint has no random state for Dropout layer '", name, "'");
        const std::string& hex = e->get_string("seed", what);
        char* end = nullptr;
        const unsigned long long seed = std::strtoull(hex.c_str(), &end, 16);
        LAI_CHECK(!hex.empty() && end && *end == '\0', path, ": Dropout '", name, "' seed '", hex, "' is not hexadecimal");
        const int64_t calls = e->get_int_or("calls", 0, what);
        LAI_CHECK(calls >= 0, path, ": Dropout '", name, "' calls must be >= 0, got ", calls);
        d->set_rng_state({static_cast<uint64_t>(seed), static_cast<uint64_t>(calls)});
      }
    }
  }
  // FedProx: the anchor travels in the checkpoint (the weights the first run started from).
  if (!prox_anchor_.empty()) {
    size_t found = 0;
    for (auto& [name, a] : prox_anchor_)
      for (const auto& [ename, t] : saved.extra)
        if (ename == kProxPrefix + name) {
          LAI_CHECK(t.shape() == a.shape(), path, ": the FedProx anchor of '", name, "' has shape ",
                    to_string(t.shape()), ", the parameter ", to_string(a.shape()));
          copy_paged(a, t);
          ++found;
        }
    LAI_CHECK(found == prox_anchor_.size(), path, ": the checkpoint holds no FedProx anchor (prox/...) for ",
              prox_anchor_.size() - found, " parameter(s): it was not written with prox_mu > 0; resume it with "
              "prox_mu 0, or start the round again from its --init model");
  }
  // Best weights: stored beside the model when they differ from it, else they are the model's.
  best_state_.clear();
  const std::string prefix = kBestPrefix;
  for (const auto& [name, t] : saved.extra)  // copies: they are updated in place later
    if (name.rfind(prefix, 0) == 0) {
      Tensor c = Tensor::empty(t.shape(), DType::f32);
      copy_paged(c, t);
      best_state_.emplace_back(name.substr(prefix.size()), c);
    }
  if (!best_state_.empty()) {
    const nn::NamedTensors current = model_->net->state();
    LAI_CHECK(best_state_.size() == current.size(), path, ": checkpoint holds ", best_state_.size(),
              " best-epoch tensors, the model has ", current.size());
    for (size_t i = 0; i < current.size(); ++i)
      LAI_CHECK(best_state_[i].first == current[i].first && best_state_[i].second.shape() == current[i].second.shape(),
                path, ": best-epoch tensor '", best_state_[i].first, "' does not match the model's '", current[i].first, "'");
  } else if (best_epoch_ > 0 && best_epoch_ == epochs_done_) {
    best_state_ = copy_state(*model_->net);
  }
}

TrainResult Trainer::fit(BatchSource& train, BatchSource* validation) {
  TrainResult result;
  const bool show = o_.progress == 1 || (o_.progress < 0 && isatty(2));
  // A live bar (\r) only on a terminal that no host log sink has replaced; else one log line each.
  const bool tty = isatty(2) && !has_log_sink();
  // Held while training: another process writing the same checkpoint or log fails at once.
  std::optional<io::OutputLock> checkpoint_lock, csv_lock;
  if (!o_.checkpoint.empty()) checkpoint_lock.emplace(o_.checkpoint);
  std::ofstream csv;
  if (!o_.metrics_csv.empty()) {
    csv_lock.emplace(o_.metrics_csv);
    const bool append = epochs_done_ > 0;
    csv.open(o_.metrics_csv, append ? std::ios::app : std::ios::trunc);
    LAI_CHECK_IO(csv.good(), "train: cannot write the metrics log '", o_.metrics_csv, "' (check the folder exists)");
    if (!append) csv << "epoch,loss,metric,val_loss,val_metric,lr,seconds,images_per_second,skipped\n";
  }
  early_stopping_on_ = validation && o_.early_stopping_patience > 0;
  const bool keep_best = early_stopping_on_ && o_.restore_best_weights;
  if (!keep_best) best_state_.clear();
  const double t_start = now();
  int64_t images_total = 0;
  double train_seconds = 0;
  auto skipped_so_far = [&] { return int64_t(train.skipped() + (validation ? validation->skipped() : 0)); };
  for (int64_t epoch = epochs_done_; epoch < o_.epochs; ++epoch) {
    const int64_t skipped_before = skipped_so_far();
    train.reset(epoch);
    int64_t steps = train.batches_per_epoch();
    if (o_.max_steps_per_epoch > 0 && (steps < 0 || steps > o_.max_steps_per_epoch)) steps = o_.max_steps_per_epoch;
    Progress p;
    p.phase = Phase::train;
    p.epoch = epoch + 1;
    p.epochs = o_.epochs;
    p.steps_per_epoch = steps;
    double loss_sum = 0;
    int64_t correct = 0, counted = 0, images = 0, step = 0;
    const double t_epoch = now();
    double last_report = t_epoch;
    bool stop = false;
    while (!stop && (o_.max_steps_per_epoch <= 0 || step < o_.max_steps_per_epoch)) {
      std::optional<TrainBatch> b = train.next();
      if (o_.collective) {  // the epoch ends for all when one rank's shard does
        double have = b ? 1 : 0;
        o_.collective->all_reduce_sum(&have, 1);
        if (have < o_.collective->size()) {
          if (have > 0 && lead())
            log(LogLevel::warning, format("epoch %lld: the last global batch is dropped (%d of %d ranks have samples left)",
                                          (long long)(epoch + 1), int(have), o_.collective->size()));
          break;
        }
      }
      if (!b) break;
      StepResult r = train_step(*b);
      const int64_t n = global_rows_;
      LAI_CHECK(std::isfinite(r.loss), "train: the loss became ", r.loss, " at epoch ", epoch + 1, " step ", step + 1,
                " (lower the learning rate or check the data)");
      ++step;
      loss_sum += r.loss;
      correct += r.correct;
      counted += r.counted;
      images += n;
      const double t = now();
      p.step = step;
      p.global_step = global_step_;
      p.loss = loss_sum / step;
      p.metric = counted ? double(correct) / counted : std::nan("");
      p.images_per_second = images / std::max(1e-9, t - t_epoch);
      p.lr = opt_->lr();
      p.eta_seconds = steps > 0 ? (t - t_epoch) / step * (steps - step + (o_.epochs - epoch - 1) * steps) : -1;
      if (o_.callback && !o_.callback(p)) {
        stop = true;
        result.cancelled = true;
      }
      if (o_.collective) {  // a rank that stops stops them all
        double s = stop ? 1 : 0;
        o_.collective->all_reduce_sum(&s, 1);
        if (s > 0) stop = result.cancelled = true;
      }
      if (show && (t - last_report >= o_.progress_interval || step == steps)) {
        last_report = t;
        const std::string line = format("epoch %lld/%lld step %lld/%s loss %.4f acc %.4f %.1f img/s ETA %s",
                                        (long long)p.epoch, (long long)p.epochs, (long long)step,
                                        steps > 0 ? std::to_string(steps).c_str() : "?", p.loss, p.metric,
                                        p.images_per_second, fmt_duration(p.eta_seconds).c_str());
        if (tty) {
          std::fprintf(stderr, "\r%s   ", line.c_str());
          std::fflush(stderr);
        } else {
          log(LogLevel::info, line);
        }
      }
    }
    const double epoch_seconds = now() - t_epoch;
    train_seconds += epoch_seconds;
    images_total += images;
    result.steps += step;
    if (show && tty) std::fprintf(stderr, "\n");
    if (result.cancelled) break;
    EpochStats es;
    es.epoch = epoch + 1;
    es.loss = step ? loss_sum / step : 0;
    es.metric = counted ? double(correct) / counted : std::nan("");
    es.seconds = epoch_seconds;
    es.images_per_second = images / std::max(1e-9, epoch_seconds);
    es.lr = opt_->lr();
    if (validation) {
      EvalResult v = evaluate(*validation);
      es.val_loss = v.loss;
      es.val_metric = v.metric;
      if (best_val_loss_ < 0 || v.loss < best_val_loss_ - o_.early_stopping_min_delta) {
        best_val_loss_ = v.loss;
        best_epoch_ = epoch + 1;
        bad_epochs_ = 0;
        if (keep_best) {
          if (best_state_.empty()) {
            best_state_ = copy_state(*model_->net);
          } else {
            const nn::NamedTensors cur = model_->net->state();
            for (size_t i = 0; i < cur.size(); ++i) best_state_[i].second.copy_from(cur[i].second);
          }
        }
      } else {
        ++bad_epochs_;
      }
      if (show) log(LogLevel::info, format("epoch %lld: val_loss %.4f val_acc %.4f", (long long)es.epoch, v.loss, v.metric));
    }
    es.skipped = skipped_so_far() - skipped_before;
    result.skipped += es.skipped;
    if (es.skipped > 0)
      log(LogLevel::warning, format("epoch %lld: %lld bad file(s) skipped", (long long)es.epoch, (long long)es.skipped));
    epochs_done_ = epoch + 1;
    result.history.push_back(es);
    if (csv.is_open()) {
      csv << es.epoch << ',' << es.loss << ',' << es.metric << ',' << es.val_loss << ',' << es.val_metric << ','
          << es.lr << ',' << es.seconds << ',' << es.images_per_second << ',' << es.skipped << '\n';
      csv.flush();
    }
    if (!o_.checkpoint.empty()) save_checkpoint(o_.checkpoint);
    if (o_.callback) {
      Progress e = p;
      e.phase = Phase::epoch;
      e.loss = es.loss;
      e.metric = es.metric;
      e.val_loss = es.val_loss;
      e.val_metric = es.val_metric;
      if (!o_.callback(e)) {
        result.cancelled = true;
        break;
      }
    }
    if (validation && o_.early_stopping_patience > 0 && bad_epochs_ >= o_.early_stopping_patience) {
      result.early_stopped = true;
      if (show) log(LogLevel::info, format("early stopping: no validation improvement for %lld epochs", (long long)bad_epochs_));
      break;
    }
  }
  // Keras restore_best_weights: training that ends (early or after the last epoch) keeps the
  // best epoch's weights; a cancelled run keeps the weights of the steps done.
  if (keep_best && !result.cancelled && !best_state_.empty() && best_epoch_ != epochs_done_) {
    model_->net->load_state(best_state_);
    result.restored_best = true;
    if (show)
      log(LogLevel::info, format("restored the weights of epoch %lld (best validation loss %.4f)", (long long)best_epoch_,
                                 best_val_loss_));
  }
  result.seconds = now() - t_start;
  result.images_per_second = images_total / std::max(1e-9, train_seconds);
  result.best_val_loss = best_val_loss_;
  result.best_epoch = best_epoch_;
  model_->net->eval();
  return result;
}

}  // namespace liteai::optim
