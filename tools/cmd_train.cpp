// liteai train: trains a zoo model on Fashion-MNIST (IDX), a class-folder data set or a CSV manifest.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "command.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/app/data_source.hpp"
#include "nn_common.hpp"

namespace {
const char* kHelp =
    "usage: liteai train --data DIR [--format auto|mnist|folder|csv] [--model NAME] --out MODEL.lai [options]\n"
    "\n"
    "Trains a model and writes it (architecture, weights, class names, preprocessing) to --out.\n"
    "Data: --format mnist reads Fashion-MNIST IDX files (gzip'ed as Debian ships them in\n"
    "  /usr/share/datasets/fashion-mnist); folder = one sub-folder per class; csv = a manifest\n"
    "  (path,label; several labels separated by '|' make a multi-label, sigmoid-head model).\n"
    "Model: --model small_cnn (28x28, default for mnist) | compact_cxr (default otherwise) |\n"
    "  teacher_cxr | autoencoder;  --size S (input S x S; compact_cxr default 256)\n"
    "  --head softmax|sigmoid (compact_cxr, teacher_cxr; default sigmoid for multi-label data)\n"
    "Training: --epochs 2  --batch 64  --optimizer adam|adamw|sgd  --lr 1e-3  --momentum 0.9 (sgd)\n"
    "  --weight-decay 0  --schedule constant|step|cosine  --warmup STEPS  --clip MAXNORM\n"
    "  --l2 X (compact_cxr kernel L2, default 0.01)  --seed 1  --threads T  --limit N (first N samples)\n"
    "  --standardize yes|no (per-image standardization; default no for mnist: pixels in [0, 1])\n"
    "  --val-split F (hold out a fraction for validation)  --patience E (early stopping, needs --val-split;\n"
    "  the saved model gets the weights of the best validation epoch unless --no-restore-best)\n"
    "  --checkpoint FILE (saved every epoch)  --resume FILE (continue a checkpoint; its architecture is\n"
    "  used unless --model/--size/--head/--l2/--standardize are given)  --log METRICS.csv\n"
    "  --max-steps N (per epoch)\n"
    "  --stream-min N (parameters with >= N weights are updated inside backward, their gradient never\n"
    "  stored; default 4000000)  --fp32-activations (exact activations for backward; default: swish\n"
    "  convs keep their pre-activation in bf16 instead of recomputing it)  --progress  --quiet\n"
    "Example: liteai train --data /usr/share/datasets/fashion-mnist --format mnist --model small_cnn \\\n"
    "           --epochs 2 --batch 64 --out fm.lai\n";
}

LAI_COMMAND(train, "train a model (small_cnn, compact_cxr, ...) on Fashion-MNIST, a folder or a CSV manifest") {
  using namespace liteai;
  cli::Options o(args,
                 {"data", "format", "model", "size", "out", "epochs", "batch", "optimizer", "lr", "momentum",
                  "weight-decay", "schedule", "warmup", "clip", "l2", "seed", "threads", "limit", "val-split",
                  "patience", "checkpoint", "resume", "log", "max-steps", "stream-min", "head", "standardize",
                  "path-column", "label-column", "no-finding", "image-root"},
                 {"progress", "quiet", "no-restore-best", "fp32-activations"});
  if (o.has("help")) {
    std::printf("%s%s", kHelp, cli::kCsvHelp);
    return 0;
  }
  LAI_CHECK(o.has("data"), "train: --data DIR is required (liteai train --help)");
  LAI_CHECK(o.has("out"), "train: --out MODEL.lai is required (where the trained model is written)");
  LAI_CHECK(o.positional().empty(), "train: unexpected argument '", o.positional().empty() ? "" : o.positional()[0],
            "' (options start with --)");
  if (o.has("threads")) set_num_threads(static_cast<int>(o.get_int("threads", 0)));
  const std::string dir = o.get("data");
  const std::string format = cli::resolve_format(dir, o.get("format", "auto"));
  const size_t limit = static_cast<size_t>(o.get_int("limit", 0));
  const uint64_t seed = static_cast<uint64_t>(o.get_int("seed", 1));
  data::DatasetPtr ds = cli::open_data(dir, format, "train", limit, cli::csv_options(o));
  LAI_CHECK(ds->size() > 0, "train: the data set '", dir, "' has no samples");
  data::DatasetPtr val;
  const double val_split = o.get_double("val-split", 0.0);
  LAI_CHECK(val_split >= 0 && val_split < 1, "train: --val-split must be in [0, 1), got ", val_split);
  if (val_split > 0) {
    auto sp = data::split_random(ds, val_split, seed);
    ds = sp.train;
    val = sp.validation;
  }

  nn::ArchSpec spec;
  spec.name = o.get("model", format == "mnist" ? "small_cnn" : "compact_cxr");
  const int64_t classes = static_cast<int64_t>(ds->num_classes());
  if (spec.name != "autoencoder") spec.set("classes", static_cast<double>(classes));
  spec.set("size", static_cast<double>(o.get_int("size", format == "mnist" ? 28 : spec.name == "compact_cxr" ? 256 : 64)));
  if (spec.name == "compact_cxr" || spec.name == "teacher_cxr")
    spec.set("head", o.get("head", ds->multi_label() ? "sigmoid" : "softmax"));
  if (o.has("l2")) spec.set("l2", o.get_double("l2", 0.01));
  std::shared_ptr<nn::Model> model;
  const bool arch_flags = o.has("model") || o.has("size") || o.has("head") || o.has("l2") || o.has("standardize");
  if (o.has("resume") && !arch_flags) {
    // Resuming without architecture options: the checkpoint says what the model is.
    model = nn::load_model(o.get("resume"), false).model;
    spec = model->arch;
  } else {
    model = nn::build_model(spec, seed);
    // Fashion-MNIST: pixels scaled to [0, 1] like the usual recipe; else per-image standardization.
    model->preprocessing.standardize = o.get("standardize", format == "mnist" ? "no" : "yes") == "yes";
  }
  if (o.has("resume") && model->head() != nn::Head::none) {
    // Class indices come from the data: resuming on data with other classes would relabel outputs.
    std::vector<std::string> saved;
    const io::Json table = io::read_model_file_table(o.get("resume"));
    if (const io::Json* names = table.at("header").find("class_names"))
      for (size_t k = 0; k < names->size(); ++k) saved.push_back((*names)[k].as_string());
    if (!saved.empty() && saved != ds->class_names()) {
      std::string have, want;
      for (const auto& n : ds->class_names()) have += (have.empty() ? "" : ", ") + n;
      for (const auto& n : saved) want += (want.empty() ? "" : ", ") + n;
      throw_error(str_cat("train: the data's classes (", have, ") differ from the checkpoint's (", want, ")"));
    }
  }
  model->class_names = ds->class_names();

  optim::TrainOptions t;
  t.epochs = o.get_int("epochs", 2);
  t.optimizer = optim::optimizer_from_string(o.get("optimizer", "adam"));
  const bool sgd = t.optimizer == optim::OptimizerKind::sgd;
  t.optim.lr = static_cast<float>(o.get_double("lr", sgd ? 0.01 : 1e-3));
  t.optim.momentum = static_cast<float>(o.get_double("momentum", sgd ? 0.9 : 0.0));
  t.optim.weight_decay = static_cast<float>(o.get_double("weight-decay", 0.0));
  const int batch = static_cast<int>(o.get_int("batch", 64));
  LAI_CHECK(batch > 0 && batch <= 65536, "train: --batch must be in 1..65536, got ", batch);
  t.schedule.kind = optim::schedule_from_string(o.get("schedule", "constant"));
  t.schedule.warmup_steps = o.get_int("warmup", 0);
  const int64_t steps_per_epoch = (static_cast<int64_t>(ds->size()) + batch - 1) / batch;
  t.max_steps_per_epoch = o.get_int("max-steps", 0);
  t.schedule.total_steps =
      t.epochs * (t.max_steps_per_epoch > 0 ? std::min(t.max_steps_per_epoch, steps_per_epoch) : steps_per_epoch);
  t.schedule.step_size = std::max<int64_t>(1, steps_per_epoch);
  t.clip_norm = o.get_double("clip", 0.0);
  t.stream_min_elements = o.get_int("stream-min", 4000000);
  t.checkpoint = o.get("checkpoint", "");
  t.metrics_csv = o.get("log", "");
  t.early_stopping_patience = o.get_int("patience", 0);
  LAI_CHECK(t.early_stopping_patience >= 0, "train: --patience must be >= 0, got ", t.early_stopping_patience);
  t.restore_best_weights = !o.has("no-restore-best");
  t.precision = o.has("fp32-activations") ? nn::Precision::f32 : nn::Precision::bf16_storage;
  LAI_CHECK(t.early_stopping_patience == 0 || val, "train: --patience needs a validation set (--val-split 0.1)");
  t.progress = o.has("quiet") ? 0 : o.has("progress") ? 1 : -1;

  const bool quiet = o.has("quiet");
  if (!quiet) {
    std::fprintf(stderr, "data: %s (%s), %zu training samples, %zu classes%s\n", dir.c_str(), format.c_str(),
                 ds->size(), ds->num_classes(), val ? liteai::str_cat(", ", val->size(), " validation").c_str() : "");
    std::fprintf(stderr, "model: %s %s\n%s", spec.name.c_str(), model->arch.to_json().c_str(),
                 model->net->summary().c_str());
    std::fprintf(stderr, "threads: %d\n", num_threads());
  }
  optim::Trainer trainer(model, t);
  if (o.has("resume")) {
    trainer.resume(o.get("resume"));
    if (!quiet) std::fprintf(stderr, "resumed from %s after epoch %lld\n", o.get("resume").c_str(), (long long)trainer.epochs_done());
  }
  if (!quiet) std::fprintf(stderr, "memory: %s\n", trainer.memory_plan().c_str());
  if (trainer.epochs_done() >= t.epochs)
    std::fprintf(stderr, "train: the checkpoint already holds %lld epochs (--epochs %lld): nothing to train, saving it as is\n",
                 (long long)trainer.epochs_done(), (long long)t.epochs);
  optim::LoaderSource src(ds, optim::loader_options_for(*model, batch, seed, true));
  std::unique_ptr<optim::LoaderSource> vsrc;
  if (val) vsrc = std::make_unique<optim::LoaderSource>(val, optim::loader_options_for(*model, 256, seed, false));
  optim::TrainResult r = trainer.fit(src, vsrc.get());
  if (r.cancelled) std::fprintf(stderr, "training cancelled\n");
  if (r.early_stopped) std::fprintf(stderr, "early stopping after %zu epochs\n", r.history.size());
  if (r.restored_best)
    std::printf("restored the weights of epoch %lld (best val loss: %.4f)\n", (long long)r.best_epoch, r.best_val_loss);
  nn::save_model(o.get("out"), *model);
  int64_t seen = 0;
  for (auto& e : r.history) seen += static_cast<int64_t>(e.images_per_second * e.seconds + 0.5);
  if (!r.history.empty()) {
    const auto& last = r.history.back();
    std::printf("epochs: %lld", (long long)trainer.epochs_done());
    if (static_cast<int64_t>(r.history.size()) != trainer.epochs_done()) std::printf(" (%zu in this run)", r.history.size());
    std::printf(", final train loss: %.4f, train accuracy: %.4f", last.loss, last.metric);
    if (last.val_loss >= 0) std::printf(", val loss: %.4f, val accuracy: %.4f", last.val_loss, last.val_metric);
    std::printf("\n");
  }
  std::printf("wall time: %.1f s, %lld images trained, %.3g images/s (%d threads)\n", r.seconds, (long long)seen,
              r.images_per_second, num_threads());
  std::printf("saved %s\n", o.get("out").c_str());
  return 0;
}
