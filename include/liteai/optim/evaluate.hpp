#pragma once
// The one evaluation loop: a model over a BatchSource in inference mode, giving the mean loss,
// the accuracy as training counts it and, on request, the per-class report (nn/metrics.hpp).
// Used by Trainer validation, `liteai eval`, lai_model_evaluate* and every task that scores a
// model on data, so they all give the same figures.
#include <cstdint>

#include "liteai/nn/metrics.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::optim {

struct EvaluateOptions {
  bool report = true;         // collect the scores for per-class metrics (classifiers only)
  double threshold = 0.5;     // multi-label decisions in the report
  ProgressCallback callback;  // after every batch (phase evaluate); false cancels
};

struct Evaluation {
  double loss = 0;          // mean head loss per sample (without regularization)
  double metric = 0;        // accuracy as training counts it (softmax: arg-max; sigmoid: per label
                            // at 0.5); NaN for heads without classes
  int64_t samples = 0;
  double seconds = 0, images_per_second = 0;
  bool cancelled = false;
  bool has_report = false;
  nn::ClassificationReport report;  // when has_report
};

// The model runs in eval mode without autograd; a model in training mode is switched for the
// call and back (a model already in eval mode is not touched, so concurrent readers stay safe).
// Labels must be expressed in the model's class order (app::open_data does it). A calibrated model
// (nn::Model::temperature) is scored on its calibrated probabilities (loss and report alike).
Evaluation evaluate(nn::Model& model, BatchSource& source, const EvaluateOptions& o = {});

// Correct decisions in a batch of outputs (logits), as training and evaluation count them.
void count_correct(nn::Head head, const Tensor& out, const TrainBatch& b, int64_t* correct, int64_t* counted);

}  // namespace liteai::optim
