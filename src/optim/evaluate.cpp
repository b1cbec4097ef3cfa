#include "liteai/optim/evaluate.hpp"

#include <chrono>
#include <cmath>

#include "liteai/autograd/autograd.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/ops/ops.hpp"

namespace liteai::optim {

void count_correct(nn::Head head, const Tensor& out, const TrainBatch& b, int64_t* correct, int64_t* counted) {
  if (head == nn::Head::softmax && b.labels.defined()) {
    const int64_t N = out.size(0), C = out.size(1);
    const Tensor oc = out.contiguous();
    const float* o = oc.data();
    std::vector<float> lab = b.labels.to_vector();
    for (int64_t i = 0; i < N; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < C; ++c)
        if (o[i * C + c] > o[i * C + best]) best = c;
      *correct += best == static_cast<int64_t>(lab[static_cast<size_t>(i)]);
      ++*counted;
    }
  } else if (head == nn::Head::sigmoid && b.targets.defined()) {
    const Tensor oc = out.contiguous();
    const float* o = oc.data();
    std::vector<float> t = b.targets.to_vector();
    for (int64_t i = 0; i < out.numel(); ++i) {
      *correct += (o[i] > 0.f) == (t[static_cast<size_t>(i)] > 0.5f);
      ++*counted;
    }
  }
}

Evaluation evaluate(nn::Model& model, BatchSource& source, const EvaluateOptions& o) {
  autograd::NoGrad ng;
  struct ModeGuard {  // back to training mode only if it was in it
    nn::Module& net;
    bool was;
    ~ModeGuard() {
      if (was) net.train(true);
    }
  } guard{*model.net, model.net->is_training()};
  if (guard.was) model.net->eval();
  const nn::Head head = model.head();
  const bool report = o.report && head != nn::Head::none;
  nn::MetricsAccumulator acc(std::max<int64_t>(1, model.num_classes()), head == nn::Head::sigmoid);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t steps = source.batches_per_epoch();
  double loss_sum = 0;
  int64_t correct = 0, counted = 0, step = 0;
  Evaluation r;
  source.reset(0);
  while (auto b = source.next()) {
    Tensor out = model.calibrated_logits(model.forward(b->images));  // the probabilities the model gives
    Tensor targets = head == nn::Head::none && !b->targets.defined() ? b->images : b->targets;
    const int64_t n = b->images.size(0);
    loss_sum += double(nn::head_loss(head, out, b->labels, targets).item()) * double(n);
    count_correct(head, out, *b, &correct, &counted);
    r.samples += n;
    ++step;
    if (report) {
      if (head == nn::Head::sigmoid) {
        acc.add(ops::sigmoid(out), b->targets);
      } else {
        std::vector<int64_t> labels;
        for (float v : b->labels.to_vector()) labels.push_back(static_cast<int64_t>(v));
        acc.add(ops::softmax(out, -1), labels);
      }
    }
    if (o.callback) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      Progress p;
      p.phase = Phase::evaluate;
      p.epoch = p.epochs = 1;
      p.step = p.global_step = step;
      p.steps_per_epoch = steps;
      p.loss = loss_sum / double(r.samples);
      p.metric = counted ? double(correct) / double(counted) : std::nan("");
      p.images_per_second = secs > 0 ? double(r.samples) / secs : 0;
      p.eta_seconds = steps > 0 && secs > 0 ? secs / double(step) * double(std::max<int64_t>(0, steps - step)) : -1;
      if (!o.callback(p)) {
        r.cancelled = true;
        break;
      }
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.images_per_second = double(r.samples) / std::max(1e-9, r.seconds);
  r.loss = r.samples ? loss_sum / double(r.samples) : 0;
  r.metric = counted ? double(correct) / double(counted) : std::nan("");
  if (report && r.samples > 0) {
    r.report = acc.report(model.class_names, o.threshold);
    r.has_report = true;
  }
  return r;
}

}  // namespace liteai::optim
