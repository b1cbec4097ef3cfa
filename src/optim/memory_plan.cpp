#include "liteai/optim/memory_plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <tuple>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/nn/layers.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/optim/trainer.hpp"
#include "passes.hpp"

namespace liteai::optim {

const char* to_string(Checkpointing c) {
  switch (c) {
    case Checkpointing::off: return "off";
    case Checkpointing::children: return "children";
    case Checkpointing::named: return "named";
  }
  return "?";
}

Checkpointing checkpointing_from_string(const std::string& name) {
  for (Checkpointing c : {Checkpointing::off, Checkpointing::children, Checkpointing::named})
    if (name == to_string(c)) return c;
  throw_error(str_cat("checkpointing: unknown mode '", name, "' (use off, children or named)"));
}

int64_t parse_memory_size(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K") scale = 1024.0;
  else if (unit == "M") scale = 1048576.0;
  else if (unit == "G") scale = 1073741824.0;
  else if (unit == "T") scale = 1099511627776.0;
  LAI_CHECK(used > 0 && scale > 0 && std::isfinite(v) && v >= 0 && v * scale < 9.2e18, "memory size '", text,
            "' is not a size (e.g. 1G, 768M, 1.5GiB, 800000000)");
  return static_cast<int64_t>(v * scale);
}

namespace {
double mib(int64_t bytes) { return double(bytes) / 1048576.0; }

// Resident bytes of this process now (Linux), 0 when unknown.
int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void collect_dropouts(nn::Module& m, std::vector<nn::Dropout*>* out) {
  if (auto* d = dynamic_cast<nn::Dropout*>(&m)) out->push_back(d);
  for (const auto& [name, c] : m.children()) collect_dropouts(*c, out);
}
nn::Dense* dense_of(nn::Module& m, const Tensor& w) {
  if (auto* d = dynamic_cast<nn::Dense*>(&m); d && d->weight.impl() == w.impl()) return d;
  for (const auto& [name, c] : m.children())
    if (nn::Dense* d = dense_of(*c, w)) return d;
  return nullptr;
}

// How the pieces of a batch run (passes.hpp): through the whole network, the same with every child
// of the network checkpointed, or prefix pieces.
enum class Way : uint8_t { network, checkpointed, prefix };

// Runs forward and backward passes of training on the model and measures their peak memory and
// time; nothing is updated, and the model is left as it was found.
class Probe {
 public:
  Probe(nn::Model& model, const TrainOptions& o, const Shape& sample) : model_(model), o_(o), sample_(sample) {
    nn::Module& net = *model.net;
    was_training_ = net.is_training();
    precision_ = net.training_precision();
    net.set_training_precision(o.precision);
    for (const auto& [name, c] : net.children()) children_.push_back(c.get());
    collect_dropouts(net, &dropouts_);
    for (nn::Dropout* d : dropouts_) rng_.push_back(d->rng_state());
    for (const auto& [name, b] : net.named_buffers()) buffers_.emplace_back(b, b.clone());
    // Large gradients go nowhere, as the trainer's streaming would take them.
    std::vector<const TensorImpl*> huge;
    for (const auto& [name, p] : net.named_parameters()) {
      if (o.stream_min_elements <= 0 || p.numel() < o.stream_min_elements) continue;
      if (nn::Dense* d = dense_of(net, p)) {
        d->stream_weight_gradient([](const Tensor&, const Tensor&) {});
        sinks_.push_back(d);
        huge.push_back(p.impl());
      } else {
        p.impl()->grad_hook = [](const Tensor&) {};
        hooks_.push_back(p);
      }
    }
    if (o.micro_batch_prefix) split_ = detail::prefix_split(net, huge);
  }
  ~Probe() {
    nn::Module& net = *model_.net;
    for (nn::Dense* d : sinks_) d->stream_weight_gradient(nullptr);
    for (Tensor& p : hooks_) p.impl()->grad_hook = nullptr;
    for (nn::Module* c : children_) c->set_checkpointing(false);
    net.train(was_training_);
    net.set_training_precision(precision_);
  }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  bool can_checkpoint() const { return !children_.empty(); }
  size_t split() const { return split_; }

  // One training step's passes over a batch of `n` zero samples in pieces of `piece`.
  detail::PassResult run(int64_t n, int64_t piece, Way way) {
    const auto key = std::make_tuple(n, piece, way);
    if (auto it = done_.find(key); it != done_.end()) return it->second;
    for (nn::Module* c : children_) c->set_checkpointing(way == Way::checkpointed);
    TrainBatch b;
    Shape shape{n};
    shape.insert(shape.end(), sample_.begin(), sample_.end());
    b.images = Tensor::zeros(shape);
    b.labels = Tensor::zeros({n});
    const int64_t classes = model_.num_classes();
    if (model_.head() == nn::Head::sigmoid && classes > 0) b.targets = Tensor::zeros({n, classes});
    // A distillation loss reads the teacher's logits: zeros measure the same passes.
    if (classes > 0) b.teacher = Tensor::zeros({n, classes});
    detail::Passes p;
    p.piece = piece;
    p.split = way == Way::prefix ? split_ : 0;
    p.measure = true;
    const double t0 = now_seconds();
    detail::PassResult r = detail::run_passes(model_, o_, b, p);
    seconds_[key] = now_seconds() - t0;
    model_.net->zero_grad();
    for (size_t i = 0; i < dropouts_.size(); ++i) dropouts_[i]->set_rng_state(rng_[i]);
    for (auto& [t, saved] : buffers_) Tensor(t).copy_from(saved);
    done_[key] = r;
    return r;
  }
  double seconds(int64_t n, int64_t piece, Way way) {
    run(n, piece, way);
    return seconds_[std::make_tuple(n, piece, way)];
  }

 private:
  nn::Model& model_;
  const TrainOptions& o_;
  Shape sample_;
  bool was_training_ = true;
  nn::Precision precision_ = nn::Precision::f32;
  std::vector<nn::Module*> children_;
  std::vector<nn::Dropout*> dropouts_;
  std::vector<nn::Dropout::RngState> rng_;
  std::vector<std::pair<Tensor, Tensor>> buffers_;  // live buffer, copy
  std::vector<nn::Dense*> sinks_;
  std::vector<Tensor> hooks_;
  size_t split_ = 0;
  std::map<std::tuple<int64_t, int64_t, Way>, detail::PassResult> done_;
  std::map<std::tuple<int64_t, int64_t, Way>, double> seconds_;
};

struct StateChoice {
  StatePrecision state;
  bool factored;
  DType weights;  // of the streamed Dense layers
};
}  // namespace

std::string MemoryPlan::to_string() const {
  char buf[512];
  const std::string pieces = micro_batch < batch ? str_cat(" (x", (batch + micro_batch - 1) / micro_batch, ")") : "";
  std::snprintf(buf, sizeof buf,
                "micro-batch %lld%s of %lld%s, checkpointing %s, optimizer state %s%s%s: estimated peak %.0f MiB of %.0f MiB "
                "(weights %.0f, optimizer %.0f, activations %.0f, workspace %.0f, loader %.0f, runtime %.0f), "
                "speed ~%.2fx",
                (long long)micro_batch, pieces.c_str(), (long long)batch, prefix ? " (up to the huge layer)" : "",
                optim::to_string(checkpointing),
                optim::to_string(state), factored ? " factored" : "",
                master_weights == DType::bf16 ? ", streamed weights bf16" : "", mib(peak()), mib(budget), mib(weights),
                mib(optimizer), mib(activations), mib(workspace), mib(loader), mib(runtime), speed);
  return buf;
}

void apply_plan(const MemoryPlan& plan, TrainOptions* o) {
  o->micro_batch = plan.micro_batch < plan.batch ? plan.micro_batch : 0;
  o->micro_batch_prefix = plan.prefix;
  o->checkpointing = plan.checkpointing;
  o->optim.state = plan.state;
  o->optim.factored = plan.factored;
  o->master_weights = plan.master_weights;
}

MemoryPlan plan_memory(nn::Model& model, const TrainOptions& o, int64_t batch, const Shape& sample, int64_t budget) {
  LAI_CHECK(model.net, "plan_memory: no model");
  LAI_CHECK(batch > 0, "plan_memory: batch must be > 0, got ", batch);
  LAI_CHECK(budget > 0, "plan_memory: budget must be > 0, got ", budget);
  LAI_CHECK(!sample.empty() && numel(sample) > 0, "plan_memory: sample shape ", to_string(sample),
            " must be non-empty ([C, H, W])");
  nn::Module& net = *model.net;
  MemoryPlan base;
  base.batch = batch;
  base.budget = budget;
  std::vector<Shape> shapes;
  int64_t stored_gradients = 0, block = 0, factors = 0, huge = 0;  // huge: elements of streamed Dense weights
  // Weights: buffers as they are, parameters in f32 (training's type), the streamed Dense weights
  // by each choice of master weights below.
  for (const auto& [name, t] : net.state()) base.weights += t.numel() * int64_t(dtype_size(t.dtype()));
  for (const auto& [name, p] : net.named_parameters()) {
    base.weights -= p.numel() * int64_t(dtype_size(p.dtype()));
    if (o.prox_mu > 0) base.weights += 4 * p.numel();  // FedProx: the anchor copy
    shapes.push_back(p.shape());
    const bool streamed = o.stream_min_elements > 0 && p.numel() >= o.stream_min_elements;
    if (!streamed) stored_gradients += 4 * p.numel();
    if (nn::Dense* d = streamed ? dense_of(net, p) : nullptr) {
      // a row block of the gradient, and the sums of a factored statistics pass
      const int64_t rows = update_block_rows(d->in_features, d->out_features, o.stream_block_rows, true);
      block = std::max(block, 4 * rows * d->out_features + 8 * (d->in_features + d->out_features));
      factors += 4 * batch * (d->in_features + d->out_features);
      huge += p.numel();
    } else {
      base.weights += 4 * p.numel();
    }
  }
  base.loader = o.loader_bytes >= 0 ? o.loader_bytes : 4 * batch * numel(sample) * 4;
  if (o.runtime_bytes >= 0) {
    base.runtime = o.runtime_bytes;
  } else {
    const MemoryStats now = memory_stats();
    base.runtime = std::max<int64_t>(0, resident_bytes() - static_cast<int64_t>(now.total_live + storage_cached_bytes()));
  }

  // The states to try, from the most faithful on (never more precise than asked for).
  std::vector<StateChoice> states;
  const bool has_moments = o.optimizer != OptimizerKind::sgd || o.optim.momentum > 0.f;
  // bf16 master weights come last: they round every weight, where 8-bit state rounds moments.
  const DType f32 = DType::f32, bf16 = DType::bf16;
  for (StateChoice c : {StateChoice{StatePrecision::f32, false, f32}, StateChoice{StatePrecision::q8, false, f32},
                        StateChoice{StatePrecision::q8, true, f32}, StateChoice{StatePrecision::f32, false, bf16},
                        StateChoice{StatePrecision::q8, false, bf16}, StateChoice{StatePrecision::q8, true, bf16}}) {
    if (c.weights == bf16 && huge == 0) continue;
    if (c.weights == f32 && o.master_weights == bf16) continue;
    if (c.weights == bf16 && c.state == StatePrecision::f32 && has_moments) continue;  // 8-bit state first
    if (c.factored && o.optimizer == OptimizerKind::sgd) continue;
    if (c.state == StatePrecision::f32 && o.optim.state == StatePrecision::q8) continue;
    if (!c.factored && o.optim.factored) continue;
    if (!has_moments && c.state != StatePrecision::f32) continue;
    states.push_back(c);
  }

  Probe probe(model, o, sample);
  std::vector<Way> ways{Way::network};
  if (probe.split() > 0 && batch > 1) ways.push_back(Way::prefix);
  if (probe.can_checkpoint()) ways.push_back(Way::checkpointed);
  // Activations, their gradients and the stored gradients at micro-batches of n: linear in the
  // samples, from passes over 1 and 2 (prefix pieces: batches of 2 and 4 in pieces of 1 and 2, the
  // pieces and the whole-batch tail extrapolated apart).
  auto activations = [&](int64_t n, Way way) -> int64_t {
    if (way == Way::prefix) {
      const detail::PassResult a = probe.run(2, 1, way), b = probe.run(4, 2, way);
      const int64_t h = a.joined_bytes / 2;  // the joined outputs and their gradient, per sample
      const int64_t p1 = a.prefix_peak - 2 * h, p2 = b.prefix_peak - 4 * h;
      const int64_t pieces = p1 + std::max<int64_t>(0, p2 - p1) * (n - 1) + batch * h;
      const int64_t tail = a.tail_peak + std::max<int64_t>(0, b.tail_peak - a.tail_peak) * (batch - 2) / 2;
      return std::max(pieces, tail);
    }
    const int64_t one = probe.run(1, 1, way).peak;
    if (n == 1 || batch == 1) return one;
    return one + std::max<int64_t>(0, probe.run(2, 2, way).peak - one) * (n - 1);
  };
  auto seconds = [&](int64_t n, Way way) {  // per batch, from the same passes
    if (way == Way::prefix) {  // about linear in the batch, hardly in the pieces
      const double a = probe.seconds(2, 1, way), b = probe.seconds(4, 2, way), per_sample = std::max(1e-9, (b - a) / 2);
      return std::max(0.0, a - 2 * per_sample) + double(batch) * per_sample;
    }
    const double one = probe.seconds(1, 1, way);
    if (batch == 1) return one;
    const double per_sample = std::max(1e-9, probe.seconds(2, 2, way) - one), fixed = std::max(0.0, one - per_sample);
    return double((batch + n - 1) / n) * fixed + double(batch) * per_sample;
  };

  std::optional<MemoryPlan> smallest;
  std::vector<MemoryPlan> fitting;  // the best plan of each state that has one
  for (const StateChoice& c : states) {
    OptimizerOptions oo = o.optim;
    oo.state = c.state;
    oo.factored = c.factored;
    // For each way, the largest micro-batch that fits. The whole batch at once if it fits; else
    // prefix pieces where the network has them (that is what they are for); else the larger
    // micro-batch of plain and checkpointed pieces (checkpointing only if estimated faster).
    std::optional<MemoryPlan> best;
    auto better = [&](const MemoryPlan& p) {
      if (!best) return true;
      if (best->micro_batch == batch) return false;  // the whole batch at once: nothing beats it
      if (p.prefix != best->prefix) return p.prefix;
      return p.micro_batch > best->micro_batch && p.speed > best->speed;
    };
    for (Way way : ways) {
      for (int64_t k = way == Way::prefix ? 2 : 1, last = 0; k <= batch; ++k) {  // pieces of ceil(batch / k)
        const int64_t n = (batch + k - 1) / k;
        if (n == last) continue;
        last = n;
        MemoryPlan p = base;
        p.micro_batch = n;
        p.prefix = way == Way::prefix;
        p.checkpointing = way == Way::checkpointed ? Checkpointing::children : Checkpointing::off;
        p.state = c.state;
        p.factored = c.factored;
        p.master_weights = c.weights;
        p.weights += huge * int64_t(dtype_size(c.weights));
        p.optimizer = optimizer_state_bytes(o.optimizer, oo, shapes);
        p.activations = activations(n, way) + (n < batch ? stored_gradients : 0);
        p.workspace = block + (n < batch && way != Way::prefix ? factors : 0);
        if (c.weights == bf16) p.workspace += block;  // a row block of the weights decoded to f32
        if (!smallest || p.peak() < smallest->peak()) smallest = p;
        if (p.peak() > budget) continue;
        p.speed = seconds(batch, Way::network) / seconds(n, way);
        if (better(p)) best = p;
        break;
      }
    }
    if (best) fitting.push_back(*best);
  }
  // The most precise state whose plan runs at least 7/10 as fast as the whole batch at once, or 3/4
  // as fast as the fastest plan (micro-batches and checkpointing change no result, a leaner state
  // does; but not at any price in speed).
  double fastest = 0;
  for (const MemoryPlan& p : fitting) fastest = std::max(fastest, p.speed);
  for (const MemoryPlan& p : fitting)
    if (p.speed >= std::min(0.7, 0.75 * fastest)) return p;
  LAI_FAIL(out_of_memory, "plan_memory: no plan fits ", mib(budget), " MiB; the smallest, ", smallest->to_string(),
           "; lower the batch or the input size, or raise the budget");
}

}  // namespace liteai::optim
