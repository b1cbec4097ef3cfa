#include "passes.hpp"

#include "liteai/optim/evaluate.hpp"

#include <algorithm>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/storage.hpp"
#include "liteai/nn/layers.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::optim::detail {

TrainBatch piece_of(const TrainBatch& t, int64_t b, int64_t e) {
  TrainBatch p;
  p.images = t.images.slice(0, b, e);
  if (t.labels.defined()) p.labels = t.labels.slice(0, b, e);
  if (t.targets.defined()) p.targets = t.targets.slice(0, b, e);
  return p;
}

namespace {
bool holds(const nn::Module& m, const std::vector<const TensorImpl*>& huge) {
  for (const auto& [name, p] : m.named_parameters())
    if (std::find(huge.begin(), huge.end(), p.impl()) != huge.end()) return true;
  return false;
}

void collect_dropouts(nn::Module& m, std::vector<nn::Dropout*>* out) {
  if (auto* d = dynamic_cast<nn::Dropout*>(&m)) out->push_back(d);
  for (const auto& [name, c] : m.children()) collect_dropouts(*c, out);
}

// The loss of a batch (or piece) and its prediction counts.
Tensor loss_of(nn::Model& model, const TrainOptions& o, const Tensor& out, const TrainBatch& b, PassResult* r,
               double weight) {
  const nn::Head head = model.head();
  Tensor targets = head == nn::Head::none && !b.targets.defined() ? b.images : b.targets;
  Tensor loss = o.loss ? o.loss(out, b) : nn::head_loss(head, out, b.labels, targets);
  LAI_CHECK(loss.defined() && loss.numel() == 1, "train: the loss must be a scalar");
  r->loss += weight * double(loss.item());
  autograd::NoGrad ng;
  count_correct(head, out, b, &r->correct, &r->counted);
  return loss;
}

// Peaks above a fixed start, phase by phase.
struct Meter {
  bool on;
  int64_t start = 0;
  explicit Meter(bool on) : on(on) {
    if (!on) return;
    memory_reset_peaks();
    start = static_cast<int64_t>(memory_stats().total_live);
  }
  int64_t phase() {  // the peak of the phase that ends now; a new one starts
    if (!on) return 0;
    const int64_t p = static_cast<int64_t>(memory_stats().total_peak) - start;
    memory_reset_peaks();
    return p;
  }
};
}  // namespace

size_t prefix_split(nn::Module& net, const std::vector<const TensorImpl*>& huge) {
  if (huge.empty() || !dynamic_cast<nn::Sequential*>(&net)) return 0;
  const auto& kids = net.children();
  for (size_t i = 0; i < kids.size(); ++i)
    if (holds(*kids[i].second, huge)) return i;
  return 0;
}

PassResult run_passes(nn::Model& model, const TrainOptions& o, const TrainBatch& batch, const Passes& p) {
  nn::Module& net = *model.net;
  net.train(true);
  const int64_t n = batch.images.size(0), piece = p.piece > 0 ? std::min(p.piece, n) : n;
  PassResult r;
  Meter meter(p.measure);
  MemoryScope scope(MemoryCategory::activations);
  auto* seq = dynamic_cast<nn::Sequential*>(&net);
  if (piece == n || p.split == 0 || !seq) {
    for (int64_t b = 0; b < n; b += piece) {
      const int64_t e = std::min(n, b + piece);
      const TrainBatch part = piece < n ? piece_of(batch, b, e) : batch;
      Tensor out = model.forward(part.images);
      // Each piece's mean loss weighs by its share of the batch: the gradients add up to the batch's.
      const double share = double(e - b) / double(n);
      Tensor loss = loss_of(model, o, out, part, &r, piece < n ? share : 1.0);
      out = Tensor();
      if (piece < n) loss = ops::mul_scalar(loss, static_cast<float>(share));
      if (p.on_rows) p.on_rows(b, e - b, n);
      loss.backward();
    }
    r.peak = meter.phase();
    return r;
  }

  // Prefix pieces: the layers before the split, without autograd, piece by piece.
  const size_t split = p.split, end = seq->size();
  std::vector<nn::Dropout*> dropouts;
  for (size_t i = 0; i < split; ++i) collect_dropouts(*seq->children()[i].second, &dropouts);
  auto rng_now = [&] {
    std::vector<nn::Dropout::RngState> s;
    for (nn::Dropout* d : dropouts) s.push_back(d->rng_state());
    return s;
  };
  auto set_rng = [&](const std::vector<nn::Dropout::RngState>& s) {
    for (size_t i = 0; i < dropouts.size(); ++i) dropouts[i]->set_rng_state(s[i]);
  };
  std::vector<std::vector<nn::Dropout::RngState>> rng;  // before each piece: replayed in its recomputation
  Tensor joined;
  {
    autograd::NoGrad ng;
    std::vector<Tensor> outs;
    for (int64_t b = 0; b < n; b += piece) {
      rng.push_back(rng_now());
      outs.push_back(seq->forward_range(batch.images.slice(0, b, std::min(n, b + piece)), 0, split));
    }
    joined = ops::concat(outs, 0);
  }
  r.joined_bytes = joined.numel() * 4;
  const auto rng_after = rng_now();
  std::vector<std::pair<Tensor, Tensor>> buffers;  // BatchNorm statistics as the pieces left them
  for (size_t i = 0; i < split; ++i)
    for (const auto& [name, b] : seq->children()[i].second->named_buffers()) buffers.emplace_back(b, b.clone());
  joined.set_requires_grad(true);
  // The tail: the whole batch, forward and backward.
  {
    Tensor out = seq->forward_range(joined, split, end);
    Tensor loss = loss_of(model, o, out, batch, &r, 1.0);
    out = Tensor();
    if (p.on_rows) p.on_rows(0, n, n);
    loss.backward();
  }
  Tensor grad = joined.grad();
  joined = Tensor();
  r.tail_peak = meter.phase();
  // The prefix again, piece by piece, recorded, and backward from the joined gradient.
  if (grad.defined()) {
    size_t k = 0;
    for (int64_t b = 0; b < n; b += piece, ++k) {
      const int64_t e = std::min(n, b + piece);
      set_rng(rng[k]);
      Tensor h = seq->forward_range(batch.images.slice(0, b, e), 0, split);
      if (h.requires_grad()) h.backward(grad.slice(0, b, e).contiguous());
    }
  }
  set_rng(rng_after);
  for (auto& [b, saved] : buffers) Tensor(b).copy_from(saved);
  r.prefix_peak = meter.phase();
  r.peak = std::max(r.tail_peak, r.prefix_peak);
  return r;
}

}  // namespace liteai::optim::detail
