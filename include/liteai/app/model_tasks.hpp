#pragma once
// The classifier tasks both front ends share: make a model, train it on a data spec, evaluate
// it, predict on files or images with the model's own preprocessing, save and load it.
//
//   Options o(task_options("train"));
//   o.set("data", "cxr/train"); o.set("model", "compact_cxr"); o.set("size", "256"); o.set("out", "m.lai");
//   TrainOutcome t = train(o);                        // creates, trains and saves the model
//   Options e(task_options("evaluate")); e.set("data", "cxr/test");
//   EvalOutcome r = evaluate(*t.model, e);            // r.evaluation.report: per-class metrics
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/app/data.hpp"
#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/data/image.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/data/plot.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/evaluate.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::app {

// ---- creating a model ----
// Options: model, size, channels, classes, head, l2, standardize, seed (group "model").
const OptionSet& model_options();
// A fresh model from those options. `data` (may be null) supplies what the options leave open:
// the class count and names, a multi-label data set's sigmoid head, Fashion-MNIST's size 28.
std::shared_ptr<nn::Model> create_model(const Options& o, const DataSource* data = nullptr);
// Any of the model options given (training a given model refuses them: the model is made).
bool has_model_options(const Options& o);

// ---- training ----
struct TrainOutcome {
  std::shared_ptr<nn::Model> model;
  optim::TrainResult result;
  DataSource data;
  int64_t epochs_done = 0;  // including the epochs of a resumed checkpoint
  std::string memory_plan;
  std::string saved;  // the --out path when the model was saved
  int rank = 0, ranks = 1;  // --distributed: this process's rank and the job's rank count
  io::Json to_json() const;  // the figures of the run (epochs, losses, images/s, ...)
};
const OptionSet& train_options();
// What a training recipe (distillation, ...) changes in a run of train().
struct TrainRecipe {
  optim::LossFn loss;  // empty: the head's loss
  // Wraps the training batches (e.g. adds a teacher's logits to each); empty: as they are.
  // `lo` are the loader options the training batches were made with.
  std::function<std::unique_ptr<optim::BatchSource>(std::unique_ptr<optim::BatchSource> train, const nn::Model& model,
                                                    const DataSource& data, const data::LoaderOptions& lo)>
      source;
  std::vector<std::pair<std::string, std::string>> parents;  // (role, path) recorded in the provenance
};
// Trains `model`, or when it is null creates one from the options (or the --resume checkpoint),
// on the options' data; saves it to --out when given. Class names: a model with real names (given,
// or from --init) reads the data in its class order (the data may lack some of its classes, as a
// federated site's does; a --resume checkpoint's data must have exactly its classes); a new model
// takes the data's.
TrainOutcome train(const Options& o, const Hooks& hooks = {}, std::shared_ptr<nn::Model> model = nullptr,
                   const TrainRecipe* recipe = nullptr);

// ---- evaluation ----
struct EvalOutcome {
  optim::Evaluation evaluation;
  DataSource data;
  io::Json to_json() const;  // the report (classifiers) or the loss
};
const OptionSet& evaluate_options();
// Scores the model on the options' data (labels matched to the model's classes by name; a test
// set may lack some) and writes the --json/--csv/--confusion files named by the options.
EvalOutcome evaluate(nn::Model& model, const Options& o, const Hooks& hooks = {});

// The reliability diagram of a report (bars: accuracy per confidence bin; the diagonal).
data::Chart reliability_chart(const nn::ClassificationReport& report);

// ---- inference ----
// The network's input for images (resize + the model's standardization, gray replicated over its
// channels): [n, C, H, W].
Tensor model_input(const nn::Model& model, const std::vector<data::Image>& images);
// Probabilities (softmax / sigmoid; raw outputs for head none; the logits with raw) [n, outputs],
// in chunks of 16 images. Never changes the model's mode: thread-safe on a model in eval mode.
Tensor predict(const nn::Model& model, const std::vector<data::Image>& images, bool raw = false);
int64_t output_size(const nn::Model& model);  // floats per image

struct Prediction {
  std::string path;
  std::vector<float> probabilities;
  std::vector<size_t> ranked;  // class indices, most probable first
};
const OptionSet& predict_options();
// Decodes each file (a folder stands for its image files) and predicts; --precision and --top.
std::vector<Prediction> predict_files(nn::Model& model, const std::vector<std::string>& paths, const Options& o);

// What a server needs to know of a model, as JSON: architecture, head, class names,
// preprocessing, parameters and "memory" (parameter, buffer and bf16 inference-copy bytes).
io::Json describe_model(const nn::Model& model);

// ---- files ----
std::shared_ptr<nn::Model> load_model(const std::string& path);
// For predict_files only: --precision bf16 / bf16-compute read the dense / all weights straight
// into bf16 (nn::load_model_for_inference: about half the memory; the model cannot train).
std::shared_ptr<nn::Model> load_model_for_predict(const std::string& path, const Options& predict);
// "f32", "bf16" (bf16 storage) or "bf16-compute": the --precision names.
const char* inference_precision_name(nn::Precision p);
void save_model(const nn::Model& model, const std::string& path);

}  // namespace liteai::app
