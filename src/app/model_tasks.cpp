#include "liteai/app/model_tasks.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "liteai/app/data_source.hpp"
#include "liteai/app/roi_input.hpp"
#include "liteai/app/trust_tasks.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/log.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/ops/ops.hpp"
#ifdef LITEAI_HAVE_MPI
#include "liteai/interop/mpi.hpp"
#endif

namespace liteai::app {
namespace {

bool has_real_class_names(const nn::Model& m) {
  if (m.class_names.empty()) return false;
  for (size_t i = 0; i < m.class_names.size(); ++i)
    if (m.class_names[i] != str_cat("class", i)) return true;
  return false;
}

bool quiet(const Options& o) { return o.spec().find("quiet") && o.get_bool("quiet"); }
bool option_given(const Options& o, const char* name) { return o.spec().find(name) && o.has(name); }

// The trainer's settings from the options. steps_per_epoch sizes the cosine schedule.
optim::TrainOptions trainer_settings(const Options& o, int64_t steps_per_epoch) {
  optim::TrainOptions t;
  t.epochs = o.get_int("epochs");
  t.optimizer = optim::optimizer_from_string(o.get_text("optimizer"));
  const bool sgd = t.optimizer == optim::OptimizerKind::sgd;
  t.optim.lr = float(o.get_number_or("lr", sgd ? 0.01 : 1e-3));
  t.optim.momentum = float(o.get_number_or("momentum", sgd ? 0.9 : 0.0));
  t.optim.weight_decay = float(o.get_number("weight-decay"));
  if (t.optimizer == optim::OptimizerKind::adamw) t.optim.decoupled = true;
  t.schedule.kind = optim::schedule_from_string(o.get_text("schedule"));
  t.schedule.warmup_steps = o.get_int("warmup");
  t.max_steps_per_epoch = o.get_int("max-steps");
  const int64_t per = t.max_steps_per_epoch > 0 ? std::min(t.max_steps_per_epoch, steps_per_epoch) : steps_per_epoch;
  t.schedule.total_steps = t.epochs * per;
  t.schedule.step_size = std::max<int64_t>(1, steps_per_epoch);
  t.clip_norm = o.get_number("clip");
  t.prox_mu = o.get_number("prox-mu");
  t.stream_min_elements = o.get_int("stream-min");
  t.max_memory = o.get_int("max-memory");
  t.micro_batch = o.get_int("micro-batch");
  t.optim.state = optim::state_precision_from_string(o.get_text("optimizer-state"));
  t.optim.factored = o.get_bool("factored");
  t.master_weights = o.get_text("master-weights") == "bf16" ? DType::bf16 : DType::f32;
  t.checkpointing = o.get_bool("checkpointing") ? optim::Checkpointing::children : optim::Checkpointing::off;
  t.checkpoint = o.get_text_or("checkpoint", "");
  t.metrics_csv = o.get_text_or("log", "");
  t.early_stopping_patience = o.get_int("patience");
  t.restore_best_weights = o.get_bool("restore-best");
  t.precision = o.get_bool("fp32-activations") ? nn::Precision::f32 : nn::precision_from_string(o.get_text("precision"));
  t.progress = progress_mode(o);
  return t;
}

}  // namespace

// ---------------------------------------------------------------- options

const OptionSet& model_options() {
  static const OptionSet s = [] {
    OptionSet o("model", "the network to make");
    std::string names_text;
    for (const std::string& n : nn::zoo_names()) names_text += (names_text.empty() ? "" : ", ") + n;
    o.group("model")
        .text("model", std::nullopt, "architecture: " + names_text +
                                         " (default: small_cnn for Fashion-MNIST, compact_cxr otherwise)")
        .integer("size", std::nullopt, 8, 8192,
                 "input S x S (default: 28 for Fashion-MNIST, 256 for compact_cxr(_gap), 128 for roi_cxr, else 64)")
        .integer("channels", 1, 1, 4, "input channels (gray images are replicated over them)")
        .choice("head", std::nullopt, {"softmax", "sigmoid", "none"},
                "softmax (one label per image) or sigmoid (multi-label; the default for multi-label data)")
        .number("l2", std::nullopt, 0, 10, "L2 on every kernel, Keras style (compact_cxr default 0.01)")
        .boolean("standardize", std::nullopt,
                 "per-image standardization (default yes; no for Fashion-MNIST: pixels scaled to [0, 1])");
    return o;
  }();
  return s;
}

bool has_model_options(const Options& o) {
  for (const char* k : {"model", "size", "channels", "head", "l2", "standardize"})
    if (o.spec().find(k) && o.has(k)) return true;
  return false;
}

const OptionSet& train_options() {
  static const OptionSet s = [] {
    OptionSet o("train", "Trains a model on a data set read on the fly (decoded, resized and standardized batch by "
                         "batch) and writes it (architecture, weights, class names, preprocessing) to --out.");
    o.include(training_data_options());
    o.include(model_options());
    o.group("training")
        .integer("epochs", 2, 0, 100000, "passes over the training data")
        .integer("batch", 64, 1, 65536, "images per step")
        .choice("optimizer", "adam", {"adam", "adamw", "sgd"}, "")
        .number("lr", std::nullopt, 1e-9, 10, "learning rate (default 1e-3; sgd 0.01)")
        .number("momentum", std::nullopt, 0, 0.9999, "sgd momentum (default 0.9)")
        .number("weight-decay", 0, 0, 1, "weight decay (adamw: decoupled)")
        .choice("schedule", "constant", {"constant", "step", "cosine"}, "learning-rate schedule")
        .integer("warmup", 0, 0, std::numeric_limits<int64_t>::max(), "linear warm-up steps")
        .number("clip", 0, 0, 1e9, "clip the global gradient norm to this (0: off)")
        .integer("seed", 1, 0, std::numeric_limits<int64_t>::max(), "weights, shuffling and the validation split")
        .integer("patience", 0, 0, 100000, "early stopping after this many epochs without validation improvement "
                                           "(needs --val-split; 0: off)")
        .flag("restore-best", "with early stopping, keep the weights of the best validation epoch", true)
        .path("checkpoint", "model + optimizer state saved after every epoch", "FILE")
        .path("resume", "continue from a checkpoint (its architecture unless model options are given)", "FILE")
        .path("init", "start from a model file's weights with a fresh optimizer (e.g. a federated round's merged "
                      "model; its architecture unless model options are given)", "MODEL.lai")
        .number("prox-mu", 0, 0, 1e6, "FedProx: adds (mu/2) ||w - w_init||^2 to the loss, keeping a site's round near "
                                      "the --init model (needs --init, or --resume of such a run; 0: off)")
        .path("log", "metrics CSV, one row per epoch", "METRICS.csv")
        .integer("max-steps", 0, 0, std::numeric_limits<int64_t>::max(), "steps per epoch at most (0: all)")
        .integer("stream-min", 4000000, 0, std::numeric_limits<int64_t>::max(),
                 "parameters with at least this many weights are updated inside backward, their gradient never stored")
        .choice("precision", "bf16", {"f32", "bf16", "bf16-compute"},
                "f32: exact fp32; bf16: fp32 products, swish convs keep their pre-activation in bf16 for backward "
                "instead of recomputing it; bf16-compute: bf16 conv products as well (fp32 weights and optimizer "
                "state, gradients checked finite)")
        .flag("fp32-activations", "the same as --precision f32 (0.3)")
        .flag("hflip", "augment: random horizontal flips")
        .number("shift", 0, 0, 0.49, "augment: random translation up to this fraction of the size")
        .path("out", "where the trained model is written", "MODEL.lai")
        .flag("distributed", "data-parallel training over MPI, under `mpirun -np N`: rank r reads every N-th sample "
                             "of each epoch's order, --batch is per rank (global batch N x --batch), gradients are "
                             "summed every step, rank 0 writes --out, --checkpoint and --log")
        .group("memory")
        .bytes("max-memory", 0, 0, std::numeric_limits<int64_t>::max(),
               "budget for the whole training process, e.g. 1G (0: none): before the first step the planner picks "
               "micro-batches, activation checkpointing, 8-bit or factored optimizer state and bf16 master weights so "
               "the estimated peak "
               "fits (the plan is printed with --progress), or refuses naming the smallest estimate")
        .integer("micro-batch", 0, 0, 65536,
                 "run each batch in pieces of this many samples, gradients accumulated (0: whole batches; "
                 "--max-memory chooses it)")
        .choice("optimizer-state", "f32", {"f32", "8bit"},
                "Adam/SGD moments in f32, or blockwise-quantized to 8 bits (a quarter of the memory)")
        .flag("factored", "Adam's second moment of matrices as row and column statistics (Adafactor-style)")
        .choice("master-weights", "f32", {"f32", "bf16"},
                "the streamed Dense layers' weights (--stream-min) in f32, or in bf16 (half the memory) updated "
                "with stochastic rounding; --max-memory may choose bf16 itself")
        .flag("checkpointing", "recompute each top-level layer's activations in backward instead of keeping them")
        .group("regions of interest")
        .path("roi", "ROI-guided training (model roi_cxr, the default with it): each image is read as itself "
                     "downscaled to --size plus its --roi-k most anomalous regions at full resolution, chosen on its "
                     "WPM against this ProbMat (with the file's calibration settings); the model records the file's "
                     "path and SHA-256 and predict cuts the same regions", "PM.lpm")
        .integer("roi-k", 2, 1, 64, "regions per image (--roi)")
        .integer("roi-size", std::nullopt, 8, 16384,
                 "side of a region in image pixels, resized to --size (default: --size, i.e. full resolution)");
    o.hide("fp32-activations");
    o.include(common_options());
    return o;
  }();
  return s;
}

const OptionSet& evaluate_options() {
  static const OptionSet s = [] {
    OptionSet o("eval", "Runs a model over a data set: accuracy, mean loss, per-class precision, recall, F1 and "
                        "AUROC (one-vs-rest), the confusion matrix, wall time and images/s. The data's classes are "
                        "matched to the model's by name (a test set may lack some of them).");
    o.include(data_options());
    o.group("evaluation")
        .integer("batch", 256, 1, 65536, "images per batch")
        .number("threshold", 0.5, 1e-6, 1 - 1e-6, "multi-label decision threshold")
        .path("json", "the whole report as JSON")
        .path("csv", "per-class metrics as CSV")
        .path("confusion", "the confusion matrix as CSV (single-label models)")
        .path("reliability", "the reliability diagram (calibration: 15 bins of confidence) as PNG", "FILE.png")
        .path("reliability-csv", "the reliability diagram's bins as CSV", "FILE.csv")
        .path("roi", "the ProbMat of an ROI model (trained with --roi) when it is no longer where the model records "
                     "it; its SHA-256 must be the recorded one", "PM.lpm");
    o.include(common_options());
    return o;
  }();
  return s;
}

const OptionSet& predict_options() {
  static const OptionSet s = [] {
    OptionSet o("predict", "Class probabilities for image files (a folder stands for its image files, sorted). "
                           "Images are decoded, converted to gray, resized and standardized exactly as in "
                           "training (the model file stores the preprocessing).");
    o.group("prediction")
        .integer("top", 3, 0, std::numeric_limits<int64_t>::max(), "classes shown per image, most probable first "
                                                                   "(0: all)")
        .choice("precision", "f32", {"f32", "bf16", "bf16-compute"},
                "bf16: dense-layer weights read as bf16 (products and sums in fp32; half the memory traffic); "
                "bf16-compute: bf16 conv products too (sums in fp32) and every weight read as bf16")
        .path("logits", "also write the raw logits as a teacher-logits CSV (image_id,<class>,...) for "
                        "`liteai distill --teacher-logits`", "FILE")
        .path("roi", "the ProbMat of an ROI model (trained with --roi) when it is no longer where the model records "
                     "it; its SHA-256 must be the recorded one", "PM.lpm");
    o.include(threads_option());
    return o;
  }();
  return s;
}

// ---------------------------------------------------------------- models

std::shared_ptr<nn::Model> create_model(const Options& o, const DataSource* data) {
  const bool mnist = data && data->format == "mnist";
  nn::ArchSpec spec;
  const bool roi = option_given(o, "roi");
  spec.name = o.get_text_or("model", mnist ? "small_cnn" : roi ? "roi_cxr" : "compact_cxr");
  const bool autoencoder = spec.name == "autoencoder";
  if (!autoencoder && data) spec.set("classes", double(data->all->num_classes()));
  const int64_t default_size = mnist ? 28 : spec.name.rfind("compact_cxr", 0) == 0 ? 256 : spec.name == "roi_cxr" ? 128 : 64;
  spec.set("size", double(o.get_int_or("size", default_size)));
  if (spec.name == "roi_cxr" && o.spec().find("roi-k")) spec.set("crops", double(o.get_int("roi-k")));
  if (o.has("channels")) spec.set("channels", double(o.get_int("channels")));
  if (o.has("head")) spec.set("head", o.get_text("head"));
  else if (!autoencoder && data && data->all->multi_label()) spec.set("head", "sigmoid");
  if (o.has("l2")) spec.set("l2", o.get_number("l2"));
  const uint64_t seed = o.spec().find("seed") ? uint64_t(o.get_int("seed")) : 42;
  std::shared_ptr<nn::Model> m = nn::build_model(spec, seed);
  m->preprocessing.standardize = o.has("standardize") ? o.get_bool("standardize") : !mnist;
  if (data && !autoencoder) m->class_names = data->all->class_names();
  return m;
}

io::Json describe_model(const nn::Model& m) {
  io::Json j = nn::model_header(m);
  j.set("head", nn::to_string(m.head()));
  j.set("output_size", output_size(m));
  const nn::MemoryReport r = m.net->memory();
  int64_t copy = 0;
  if (m.net->inference_precision() != nn::Precision::f32)
    for (const auto& [name, t] : m.net->named_parameters())
      if (t.dim() == 2 && t.dtype() == DType::f32) copy += t.numel() * 2;  // dense weights get a bf16 copy
  io::Json mem = io::Json::object();
  mem.set("parameter_bytes", r.parameter_bytes);
  mem.set("buffer_bytes", r.buffer_bytes);
  mem.set("inference_copy_bytes", copy);
  j.set("memory", std::move(mem));
  j.set("inference_precision", inference_precision_name(m.net->inference_precision()));
  return j;
}

std::shared_ptr<nn::Model> load_model(const std::string& path) { return nn::load_model(path, false).model; }
std::shared_ptr<nn::Model> load_model_for_predict(const std::string& path, const Options& o) {
  return nn::load_model_for_inference(path, nn::precision_from_string(o.get_text("precision"))).model;
}
const char* inference_precision_name(nn::Precision p) {
  return p == nn::Precision::bf16_storage ? "bf16" : nn::to_string(p);  // the option's names
}
void save_model(const nn::Model& model, const std::string& path) { nn::save_model(path, model); }

// ---------------------------------------------------------------- training

io::Json TrainOutcome::to_json() const {
  io::Json j = io::Json::object();
  j.set("epochs_done", epochs_done);
  j.set("epochs_run", int64_t(result.history.size()));
  j.set("steps", result.steps);
  j.set("cancelled", result.cancelled);
  j.set("early_stopped", result.early_stopped);
  j.set("restored_best", result.restored_best);
  j.set("best_epoch", result.best_epoch);
  j.set("best_val_loss", result.best_val_loss);
  j.set("skipped", result.skipped);  // bad files skipped while training (--skip-bad)
  j.set("seconds", result.seconds);
  j.set("images_per_second", result.images_per_second);
  io::Json h = io::Json::array();
  for (const auto& e : result.history) {
    io::Json r = io::Json::object();
    r.set("epoch", e.epoch);
    r.set("loss", e.loss);
    r.set("metric", e.metric);
    r.set("val_loss", e.val_loss);
    r.set("val_metric", e.val_metric);
    r.set("lr", e.lr);
    r.set("seconds", e.seconds);
    r.set("images_per_second", e.images_per_second);
    r.set("skipped", e.skipped);
    h.push_back(std::move(r));
  }
  j.set("history", std::move(h));
  if (data.train) j.set("train_samples", int64_t(data.train->size()));
  if (data.validation) j.set("validation_samples", int64_t(data.validation->size()));
  j.set("scan", data.scan.to_json());
  j.set("memory_plan", memory_plan);
  if (!saved.empty()) j.set("saved", saved);
  if (ranks > 1) j.set("rank", int64_t(rank)), j.set("ranks", int64_t(ranks));
  return j;
}

namespace {
TrainOutcome train_run(const Options& o, const Hooks& hooks, std::shared_ptr<nn::Model> model, const TrainRecipe* recipe,
                       const std::shared_ptr<optim::Collective>& world);
}  // namespace

TrainOutcome train(const Options& o, const Hooks& hooks, std::shared_ptr<nn::Model> model, const TrainRecipe* recipe) {
  const std::string task = o.spec().task();
  if (!o.spec().find("distributed") || !o.get_bool("distributed")) return train_run(o, hooks, std::move(model), recipe, nullptr);
#ifdef LITEAI_HAVE_MPI
  const std::shared_ptr<optim::Collective> world = interop::mpi_world();
  if (!interop::mpi_launched() && world->rank() == 0)
    log(LogLevel::warning, task + ": --distributed outside mpirun: training as a single rank");
  try {
    return train_run(o, hooks, std::move(model), recipe, world);
  } catch (const std::exception& e) {
    // One rank's failure (a bad file, a full disk...) must not leave the others waiting in a collective.
    world->abort(str_cat(task, ": ", e.what()));
    throw;  // abort ends the job; should it return, the error still reaches the caller
  }
#else
  throw Error(ErrorKind::not_supported,
              str_cat(task, ": --distributed needs MPI, and this build has none (install openmpi-bin and "
                            "libopenmpi-dev, e.g. scripts/setup-deps, and rebuild: LITEAI_WITH_MPI)"));
#endif
}

namespace {
TrainOutcome train_run(const Options& o, const Hooks& hooks, std::shared_ptr<nn::Model> model, const TrainRecipe* recipe,
                       const std::shared_ptr<optim::Collective>& world) {
  apply_common(o);
  const std::string task = o.spec().task();
  const bool lead = !world || world->rank() == 0;  // rank 0 writes the outputs and talks
  const int ranks = world ? world->size() : 1;
  const bool talk = lead && !quiet(o);
  const bool given = model != nullptr;
  LAI_CHECK(!given || !has_model_options(o), task,
            ": model options (--model, --size, --channels, --head, --l2, --standardize) make a new model; this call "
            "trains the one it is given");
  const std::optional<io::OutputLock> out_lock =
      lead ? claim_output(o) : std::nullopt;  // before hours of training, not after
  const std::string resume = o.get_text_or("resume", ""), init = o.get_text_or("init", "");
  LAI_CHECK(resume.empty() || init.empty(), task, ": --resume continues a run, --init starts one: give one of them");
  LAI_CHECK(o.get_number("prox-mu") == 0 || !init.empty() || !resume.empty(), task,
            ": --prox-mu keeps the weights near the round's starting model: give it with --init MODEL.lai (or "
            "--resume a checkpoint of such a run)");
  // Without model options, the checkpoint or the initial model says what the model is.
  if (!given && !resume.empty() && !has_model_options(o)) model = load_model(resume);
  std::shared_ptr<nn::Model> init_model;
  if (!init.empty()) {
    init_model = load_model(init);
    if (!given && !has_model_options(o)) model = init_model;
  }
  DataRequest req;
  req.task = task;
  req.seed = uint64_t(o.get_int("seed"));
  if (!resume.empty()) {
    // Class indices come from the data: resuming on data with other classes would relabel outputs.
    const io::Json table = io::read_model_file_table(resume);
    if (const io::Json* names = table.at("header").find("class_names"))
      for (size_t k = 0; k < names->size(); ++k) req.class_names.push_back((*names)[k].as_string());
    req.owner = "checkpoint";
  } else if (model && has_real_class_names(*model)) {
    req.class_names = model->class_names;
    req.subset_ok = true;  // fine-tuning on data that lacks some of the model's classes (a site's)
  } else if (init_model && has_real_class_names(*init_model)) {
    req.class_names = init_model->class_names;
    req.subset_ok = true;
  }
  if (model && model->head() == nn::Head::none) req.class_names.clear();
  TrainOutcome out;
  out.rank = world ? world->rank() : 0;
  out.ranks = ranks;
  out.data = open_data(o, req);
  const DataSource& d = out.data;
  if (!model) model = create_model(o, &d);
  model->temperature.clear();  // a calibration fitted to other weights would no longer hold
  LAI_CHECK(option_given(o, "roi") || !(option_given(o, "roi-k") || option_given(o, "roi-size")), task,
            ": --roi-k and --roi-size describe the regions of --roi PM.lpm: give it too");
  if (option_given(o, "roi")) {
    LAI_CHECK(!o.get_bool("hflip") && o.get_number("shift") == 0, task,
              ": --hflip and --shift are not supported with --roi (the regions are chosen on the image as it is)");
    attach_roi(*model, o.get_text("roi"), o.get_int("roi-k"), o.get_int_or("roi-size", model->preprocessing.width));
  }
  if (init_model && init_model != model) {  // the architecture from the options, the weights from --init
    try {
      model->net->load_state(init_model->net->state());
    } catch (const Error& e) {
      throw Error(e.kind(), str_cat(task, ": --init ", init, " does not fit the model: ", e.what()));
    }
  }
  if (model->head() != nn::Head::none) {
    LAI_CHECK(int64_t(d.all->num_classes()) == model->num_classes(), task, ": the data set '", d.spec, "' has ",
              d.all->num_classes(), " classes, the model ", model->num_classes());
    if (!has_real_class_names(*model) || model->class_names != d.all->class_names()) model->class_names = d.all->class_names();
  }
  LAI_CHECK(o.get_int("patience") == 0 || d.validation, task, ": --patience needs a validation set (--val-split 0.1)");
  const int64_t batch = o.get_int("batch");
  const int64_t steps_per_epoch = (int64_t(d.train->size()) + batch * ranks - 1) / (batch * ranks);
  optim::TrainOptions t = trainer_settings(o, steps_per_epoch);
  t.callback = hooks.progress;
  t.collective = world;
  if (recipe && recipe->loss) t.loss = recipe->loss;
  if (talk) {
    log(LogLevel::info, "data: " + d.describe());
    log(LogLevel::info, str_cat("model: ", model->arch.name, " ", model->arch.to_json()));
    log(LogLevel::info, model->net->summary());
    log(LogLevel::info, str_cat("threads: ", num_threads()));
  }
  optim::Trainer trainer(model, t);
  if (!resume.empty()) {
    trainer.resume(resume);
    if (talk) log(LogLevel::info, str_cat("resumed from ", resume, " after epoch ", trainer.epochs_done()));
  }
  out.memory_plan = trainer.memory_plan();
  if (talk) log(LogLevel::info, "memory: " + out.memory_plan);
  if (trainer.epochs_done() >= t.epochs && !resume.empty())
    log(LogLevel::warning, str_cat(task, ": the checkpoint already holds ", trainer.epochs_done(), " epochs (--epochs ",
                                   t.epochs, "): nothing to train, saving it as is"));
  data::LoaderOptions lo = optim::loader_options_for(*model, int(batch), req.seed, true);
  lo.skip_bad = d.skip_bad;
  lo.augment.hflip = o.get_bool("hflip");
  lo.augment.max_shift = float(o.get_number("shift"));
  if (world) lo.shard = world->rank(), lo.shards = ranks;
  if (talk && world) log(LogLevel::info, str_cat("distributed: ", ranks, " ranks, global batch ", batch * ranks));
  std::unique_ptr<optim::BatchSource> src = std::make_unique<optim::LoaderSource>(d.train, lo);
  if (recipe && recipe->source) src = recipe->source(std::move(src), *model, d, lo);
  std::unique_ptr<optim::LoaderSource> vsrc;
  if (d.validation) {
    data::LoaderOptions vo = optim::loader_options_for(*model, 256, req.seed, false);
    vo.skip_bad = d.skip_bad;
    vsrc = std::make_unique<optim::LoaderSource>(d.validation, vo);
  }
  model->net->train(true);
  out.result = trainer.fit(*src, vsrc.get());
  out.epochs_done = trainer.epochs_done();
  out.model = model;
  {
    io::Json metrics = io::Json::object();
    metrics.set("epochs", out.epochs_done);
    if (!out.result.history.empty()) {
      const auto& e = out.result.history.back();
      metrics.set("loss", e.loss);
      metrics.set("accuracy", e.metric);
      if (e.val_loss >= 0) metrics.set("val_loss", e.val_loss), metrics.set("val_accuracy", e.val_metric);
    }
    if (out.result.best_epoch > 0) metrics.set("best_epoch", out.result.best_epoch);
    if (world) metrics.set("ranks", int64_t(ranks));
    std::vector<Parent> parents;
    if (!resume.empty()) parents.push_back({"resume", resume});
    if (!init.empty()) parents.push_back({"init", init});
    if (option_given(o, "roi")) parents.push_back({"roi", o.get_text("roi")});
    if (recipe)
      for (const auto& [role, path] : recipe->parents) parents.push_back({role, path});
    model->provenance = make_provenance(task, o, &d, parents, metrics);
  }
  if (lead && o.has("out") && !out.result.cancelled) {
    save_model(*model, o.get_text("out"));
    out.saved = o.get_text("out");
  }
  return out;
}
}  // namespace

// ---------------------------------------------------------------- evaluation

io::Json EvalOutcome::to_json() const {
  io::Json j = evaluation.has_report ? evaluation.report.to_json() : io::Json::object();
  j.set("loss", evaluation.loss);
  j.set("samples", evaluation.samples);
  j.set("seconds", evaluation.seconds);
  j.set("images_per_second", evaluation.images_per_second);
  return j;
}

EvalOutcome evaluate(nn::Model& model, const Options& o, const Hooks& hooks) {
  apply_common(o);
  const std::string task = o.spec().task();
  DataRequest req;
  req.task = task;
  req.default_split = "test";
  req.subset_ok = true;
  if (model.head() != nn::Head::none && has_real_class_names(model) &&
      int64_t(model.class_names.size()) == model.num_classes())
    req.class_names = model.class_names;
  if (option_given(o, "roi")) relocate_roi(model, o.get_text("roi"));
  EvalOutcome out;
  out.data = open_data(o, req);
  const DataSource& d = out.data;
  if (model.head() != nn::Head::none && req.class_names.empty())
    LAI_CHECK(int64_t(d.all->num_classes()) == model.num_classes(), task, ": the data has ", d.all->num_classes(),
              " classes, the model ", model.num_classes());
  LAI_CHECK(!o.has("confusion") || model.head() == nn::Head::softmax, task,
            ": --confusion needs a single-label model");
  data::LoaderOptions lo = optim::loader_options_for(model, int(o.get_int("batch")), 0, false);
  lo.skip_bad = d.skip_bad;
  optim::LoaderSource src(d.all, lo);
  optim::EvaluateOptions eo;
  eo.threshold = o.get_number("threshold");
  eo.callback = hooks.progress;
  out.evaluation = optim::evaluate(model, src, eo);
  if (out.evaluation.cancelled) throw Error(ErrorKind::cancelled, str_cat(task, ": cancelled by the progress callback"));
  LAI_CHECK(out.evaluation.samples > 0, task, ": no samples could be read from '", d.spec, "'");
  if (out.evaluation.has_report) {
    const nn::ClassificationReport& rep = out.evaluation.report;
    if (o.has("json")) rep.write_json(o.get_text("json"));
    if (o.has("csv")) rep.write_csv(o.get_text("csv"));
    if (o.has("confusion")) rep.write_confusion_csv(o.get_text("confusion"));
    if (o.has("reliability") || o.has("reliability-csv"))
      LAI_CHECK(rep.calibration.valid, task, ": the model's outputs are not probabilities: no reliability diagram");
    if (o.has("reliability")) reliability_chart(rep).write_png(o.get_text("reliability"));
    if (o.has("reliability-csv")) {
      const std::string csv = rep.reliability_csv();
      io::atomic_write_file(o.get_text("reliability-csv"), csv.data(), csv.size());
    }
  }
  return out;
}

// ---------------------------------------------------------------- inference

data::Chart reliability_chart(const nn::ClassificationReport& r) {
  data::Chart c;
  c.title = str_cat("Reliability (ECE ", r.calibration.ece, ")");
  c.x_label = r.multi_label ? "predicted probability" : "confidence (top class)";
  c.y_label = r.multi_label ? "fraction positive" : "accuracy";
  data::Series diag{"perfect calibration", {0, 1}, {0, 1}, data::Series::Style::dashed, 0x888888};
  data::Series bars{"observed", {}, {}, data::Series::Style::bars, 0x1f77b4};
  for (const auto& b : r.calibration.bins) {
    if (b.count == 0) continue;
    bars.x.push_back(0.5 * (b.lo + b.hi));
    bars.y.push_back(b.accuracy);
    bars.bar_width = (b.hi - b.lo) * 0.9;
  }
  data::Series conf{"mean confidence", {}, {}, data::Series::Style::points, 0xd62728};
  for (const auto& b : r.calibration.bins)
    if (b.count) conf.x.push_back(0.5 * (b.lo + b.hi)), conf.y.push_back(b.confidence);
  c.series = {bars, diag, conf};
  return c;
}

int64_t output_size(const nn::Model& m) {
  if (m.head() == nn::Head::none) return m.preprocessing.channels * m.preprocessing.width * m.preprocessing.height;
  return m.num_classes();
}

Tensor model_input(const nn::Model& m, const std::vector<data::Image>& images) {
  const auto& pp = m.preprocessing;
  LAI_CHECK(pp.width > 0 && pp.height > 0 && pp.channels > 0, "model: preprocessing has no input size");
  const int64_t n = int64_t(images.size()), hw = pp.width * pp.height;
  const data::RoiInput roi = roi_input(m);
  if (roi.active()) {  // the whole image and its regions, as the loader made them in training
    Tensor x = Tensor::empty({n, roi.planes(), pp.height, pp.width});
    parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        data::roi_planes_into(images[size_t(i)], roi, int(pp.width), int(pp.height), pp.standardize,
                              x.data() + i * roi.planes() * hw);
    });
    return x;
  }
  Tensor x = Tensor::empty({n, pp.channels, pp.height, pp.width});
  float* d = x.data();
  data::Preprocess p;
  p.width = int(pp.width);
  p.height = int(pp.height);
  p.standardize = pp.standardize;
  parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* dst = d + i * pp.channels * hw;
      data::preprocess_into(images[size_t(i)], p, nullptr, dst);
      for (int64_t c = 1; c < pp.channels; ++c) std::memcpy(dst + c * hw, dst, size_t(hw) * sizeof(float));
    }
  });
  return x;
}

Tensor predict(const nn::Model& m, const std::vector<data::Image>& images, bool raw) {
  LAI_CHECK(!images.empty(), "predict: no images");
  autograd::NoGrad ng;
  const int64_t per = output_size(m), n = int64_t(images.size());
  Tensor out = Tensor::empty({n, per});
  const size_t chunk = 16;  // bounds the preprocessed input whatever the caller's batch size
  for (size_t b = 0; b < images.size(); b += chunk) {
    const size_t e = std::min(images.size(), b + chunk);
    std::vector<data::Image> part(images.begin() + long(b), images.begin() + long(e));
    Tensor y = m.net->forward(model_input(m, part));
    if (!raw && m.head() == nn::Head::softmax) y = ops::softmax(m.calibrated_logits(y), -1);
    else if (!raw && m.head() == nn::Head::sigmoid) y = ops::sigmoid(m.calibrated_logits(y));
    y = y.contiguous();
    LAI_CHECK(y.numel() == per * int64_t(e - b), "predict: the network returned ", y.describe(), ", expected ", per,
              " values per image");
    std::memcpy(out.data() + int64_t(b) * per, y.data(), size_t(y.numel()) * sizeof(float));
  }
  return out;
}

std::vector<Prediction> predict_files(nn::Model& model, const std::vector<std::string>& args, const Options& o) {
  apply_common(o);
  const std::string task = o.spec().task();
  LAI_CHECK(model.head() != nn::Head::none, task, ": the model is not a classifier (head none); use the anomaly tasks");
  LAI_CHECK(!args.empty(), task, ": give one or more image files");
  model.net->eval();
  model.net->set_inference_precision(nn::precision_from_string(o.get_text("precision")));
  if (option_given(o, "roi")) relocate_roi(model, o.get_text("roi"));
  const std::vector<std::string> paths = expand_image_paths(args, task);
  const bool want_logits = o.has("logits");
  std::string csv;
  if (want_logits) {
    csv = "image_id";
    for (const std::string& c : model.class_names) csv += "," + c;
    csv += "\n";
  }
  std::vector<Prediction> out;
  for (const std::string& p : paths) {
    std::vector<data::Image> one;
    one.push_back(data::decode_image(p));
    Prediction r;
    r.path = p;
    const Tensor logits = predict(model, one, true);
    if (want_logits) {
      csv += p;
      char buf[32];
      for (float v : logits.to_vector()) {
        std::snprintf(buf, sizeof buf, ",%.9g", v);
        csv += buf;
      }
      csv += "\n";
    }
    const Tensor cal = model.calibrated_logits(logits);
    const Tensor probs = model.head() == nn::Head::softmax ? ops::softmax(cal, -1) : ops::sigmoid(cal);
    r.probabilities = probs.to_vector();
    r.ranked.resize(r.probabilities.size());
    std::iota(r.ranked.begin(), r.ranked.end(), size_t(0));
    std::stable_sort(r.ranked.begin(), r.ranked.end(),
                     [&](size_t a, size_t b) { return r.probabilities[a] > r.probabilities[b]; });
    out.push_back(std::move(r));
  }
  if (want_logits) io::atomic_write_file(o.get_text("logits"), csv.data(), csv.size());
  return out;
}

}  // namespace liteai::app
