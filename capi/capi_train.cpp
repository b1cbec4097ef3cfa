// C API: training and evaluation of model handles (translated into app::train / app::evaluate),
// and the step-by-step trainer on caller buffers.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/app/distill_tasks.hpp"
#include "liteai/app/federated_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/trust_tasks.hpp"

using namespace liteai;
using namespace liteai::capi;

namespace {

const char* optimizer_name(int v) {
  return v == LAI_OPTIMIZER_SGD ? "sgd" : v == LAI_OPTIMIZER_ADAMW ? "adamw" : "adam";
}

// The 0.1 options struct in the task layer's terms (same meaning, the struct's own defaults).
app::Options from_struct(const lai_train_options& o, const app::OptionSet& set, const char* data, bool training) {
  app::Options r(set);
  r.set("data", data);
  r.set_int("batch", o.batch_size);
  r.set_int("limit", o.limit);
  r.set_bool("skip-bad", o.skip_bad_files != 0);
  r.set_bool(o.verbose ? "progress" : "quiet", true);
  if (!training) return r;
  r.set_int("epochs", o.epochs);
  r.set_number("lr", o.learning_rate);
  r.set("optimizer", optimizer_name(ev(o.optimizer)));
  r.set_number("weight-decay", o.weight_decay);
  if (ev(o.optimizer) == LAI_OPTIMIZER_SGD) r.set_number("momentum", o.momentum);
  r.set_int("seed", int64_t(o.seed & 0x7fffffffffffffffull));
  r.set_number("val-split", o.validation_fraction);
  r.set_int("max-steps", o.max_steps_per_epoch);
  r.set_bool("hflip", o.augment_hflip != 0);
  r.set_number("shift", o.augment_shift);
  if (o.checkpoint_path) r.set("checkpoint", o.checkpoint_path);
  if (o.metrics_csv) r.set("log", o.metrics_csv);
  return r;
}

// The struct's fields checked with the struct's names (the old contract's messages).
void check_train_struct(const lai_train_options& o, const char* fn) {
  require(o.epochs >= 1 && o.epochs <= 100000, fn, ": epochs must be in 1..100000, got ", o.epochs);
  require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
  require(std::isfinite(o.learning_rate) && o.learning_rate > 0, fn, ": learning_rate must be > 0, got ", o.learning_rate);
  require(ev(o.optimizer) >= LAI_OPTIMIZER_ADAM && ev(o.optimizer) <= LAI_OPTIMIZER_ADAMW, fn, ": unknown optimizer ",
          int(ev(o.optimizer)));
  require(o.validation_fraction >= 0 && o.validation_fraction < 1, fn, ": validation_fraction must be in [0, 1), got ",
          o.validation_fraction);
  require(o.max_steps_per_epoch >= 0 && o.limit >= 0, fn, ": max_steps_per_epoch and limit must be >= 0");
  require(o.augment_shift >= 0 && o.augment_shift < 0.5f, fn, ": augment_shift must be in [0, 0.5), got ",
          o.augment_shift);
}

app::Hooks hooks_for(lai_progress_fn fn, void* user) {
  app::Hooks h;
  if (fn)
    h.progress = [fn, user](const optim::Progress& p) {
      lai_progress c;
      fill_progress(p, c);
      return fn(&c, user) == 0;
    };
  return h;
}

// Trains a handle (exclusive; back to inference with its precision whatever happens) with a task
// of the train family (app::train, app::distill).
template <class Task>
app::TrainOutcome train_handle(lai_model* model, const app::Options& o, const app::Hooks& h, Task task) {
  std::shared_ptr<nn::Model> m = model->model;
  Fp32WhileTraining precision(*m->net);
  app::Options opts = o;
  if (!opts.has("precision") && !opts.has("fp32-activations"))
    opts.set("precision", app::inference_precision_name(precision_of(model->training_precision.load())));
  app::TrainOutcome t = task(opts, h, m);
  precision.finish();
  return t;
}
app::TrainOutcome train_handle(lai_model* model, const app::Options& o, const app::Hooks& h) {
  return train_handle(model, o, h, [](const app::Options& a, const app::Hooks& b, std::shared_ptr<nn::Model> c) {
    return app::train(a, b, std::move(c));
  });
}

void fill_train_result(const app::TrainOutcome& t, lai_train_result& r) {
  lai_train_result_init(&r);
  r.epochs_done = int32_t(t.result.history.size());
  r.steps = t.result.steps;
  if (!t.result.history.empty()) {
    const auto& h = t.result.history.back();
    r.loss = h.loss;
    r.metric = h.metric;
    r.val_loss = h.val_loss;
    r.val_metric = h.val_metric;
  }
  r.seconds = t.result.seconds;
  r.images_per_second = t.result.images_per_second;
  r.cancelled = t.result.cancelled;
}

void fail_if_cancelled(const app::TrainOutcome& t, const char* fn) {
  if (t.result.cancelled)
    fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback after ", t.result.steps,
         " step(s); the model keeps the weights of the steps done");
}

}  // namespace

namespace liteai::capi {
void fill_progress(const optim::Progress& p, lai_progress& c) {
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.phase = p.phase == optim::Phase::epoch   ? LAI_PHASE_EPOCH
            : p.phase == optim::Phase::train ? LAI_PHASE_TRAIN
                                             : LAI_PHASE_EVALUATE;
  c.epoch = int32_t(p.epoch);
  c.epochs = int32_t(p.epochs);
  c.step = p.step;
  c.steps_per_epoch = p.steps_per_epoch;
  c.global_step = p.global_step;
  c.loss = p.loss;
  c.metric = p.metric;
  c.images_per_second = p.images_per_second;
  c.val_loss = p.val_loss;
  c.val_metric = p.val_metric;
  c.eta_seconds = p.eta_seconds;
}
}  // namespace liteai::capi

extern "C" {

LAI_API void lai_train_options_init(lai_train_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->epochs = 1;
  o->batch_size = 16;
  o->learning_rate = 1e-3f;
  o->optimizer = LAI_OPTIMIZER_ADAM;
  o->momentum = 0.9f;
  o->seed = 1;
}

LAI_API void lai_train_result_init(lai_train_result* r) {
  if (!r) return;
  std::memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  r->val_loss = r->val_metric = -1;
}

LAI_API void lai_eval_result_init(lai_eval_result* r) {
  if (!r) return;
  std::memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
}

LAI_API lai_status lai_model_train(lai_model* model, const char* data, const lai_train_options* options,
                                   lai_train_result* result) {
  const char* fn = "lai_model_train";
  return guarded(fn, [&] {
    model_of(model, fn);
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    check_train_struct(o, fn);
    const std::string spec = require_path(data, fn, "data");
    if (result) {  // fail early on a bad result struct, before hours of training
      lai_train_result probe;
      lai_train_result_init(&probe);
      write_result(result, probe, fn, "result");
    }
    ExclusiveAccess access(model, fn);
    const app::TrainOutcome t =
        train_handle(model, from_struct(o, app::train_options(), spec.c_str(), true), hooks_for(o.progress, o.user_data));
    lai_train_result r;
    fill_train_result(t, r);
    write_result(result, r, fn, "result");
    fail_if_cancelled(t, fn);
  });
}

LAI_API lai_status lai_model_evaluate(lai_model* model, const char* data, const lai_train_options* options,
                                      lai_eval_result* result) {
  const char* fn = "lai_model_evaluate";
  return guarded(fn, [&] {
    model_of(model, fn);
    require_ptr(result, fn, "result");
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
    require(o.limit >= 0, fn, ": limit must be >= 0");
    const std::string spec = require_path(data, fn, "data");
    {
      lai_eval_result probe;
      lai_eval_result_init(&probe);
      write_result(result, probe, fn, "result");
    }
    ExclusiveAccess access(model, fn);
    const app::EvalOutcome e =
        app::evaluate(*model->model, from_struct(o, app::evaluate_options(), spec.c_str(), false), {});
    lai_eval_result r;
    lai_eval_result_init(&r);
    r.loss = e.evaluation.loss;
    r.metric = e.evaluation.metric;
    r.samples = e.evaluation.samples;
    write_result(result, r, fn, "result");
  });
}

LAI_API lai_status lai_model_evaluate_report(lai_model* model, const char* data, const lai_train_options* options,
                                             double threshold, lai_eval_result* result, lai_eval_report** out) {
  const char* fn = "lai_model_evaluate_report";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    model_of(model, fn);
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
    require(o.limit >= 0, fn, ": limit must be >= 0");
    require(std::isfinite(threshold) && threshold > 0 && threshold < 1, fn, ": threshold must be in (0, 1), got ",
            threshold);
    const std::string spec = require_path(data, fn, "data");
    if (result) {
      lai_eval_result probe;
      lai_eval_result_init(&probe);
      write_result(result, probe, fn, "result");
    }
    ExclusiveAccess access(model, fn);
    if (model->model->head() == nn::Head::none)
      fail(LAI_ERR_NOT_SUPPORTED, fn, ": the model's head is 'none': per-class metrics need a classifier "
                                      "(lai_model_evaluate gives the loss)");
    app::Options eo = from_struct(o, app::evaluate_options(), spec.c_str(), false);
    eo.set_number("threshold", threshold);
    const app::EvalOutcome e = app::evaluate(*model->model, eo, hooks_for(o.progress, o.user_data));
    auto rep = std::make_unique<lai_eval_report>();
    rep->report = e.evaluation.report;
    lai_eval_result r;
    lai_eval_result_init(&r);
    r.loss = e.evaluation.loss;
    r.metric = rep->report.accuracy;
    r.samples = e.evaluation.samples;
    write_result(result, r, fn, "result");
    *out = rep.release();
  });
}

LAI_API lai_status lai_train(const lai_options* options, lai_model** out, char** report) {
  const char* fn = "lai_train";
  return guarded(fn, [&] {
    if (out) *out = nullptr;
    if (report) *report = nullptr;
    const app::Options o = options_of(options, "train", fn);
    require(out || o.has("out"), fn, ": out is NULL and the option 'out' is not set: the model would be lost");
    const app::TrainOutcome t = app::train(o, hooks_of(options));
    give_string(t.to_json().dump(), report);
    if (out) *out = wrap_model(t.model);
    fail_if_cancelled(t, fn);
  });
}

LAI_API lai_status lai_model_train_with(lai_model* model, const lai_options* options, char** report) {
  const char* fn = "lai_model_train_with";
  return guarded(fn, [&] {
    if (report) *report = nullptr;
    model_of(model, fn);
    const app::Options o = options_of(options, "train", fn);
    ExclusiveAccess access(model, fn);
    const app::TrainOutcome t = train_handle(model, o, hooks_of(options));
    give_string(t.to_json().dump(), report);
    fail_if_cancelled(t, fn);
  });
}

LAI_API lai_status lai_distill(const lai_options* options, lai_model** out, char** report) {
  const char* fn = "lai_distill";
  return guarded(fn, [&] {
    if (out) *out = nullptr;
    if (report) *report = nullptr;
    const app::Options o = options_of(options, "distill", fn);
    require(out || o.has("out"), fn, ": out is NULL and the option 'out' is not set: the student would be lost");
    const app::TrainOutcome t = app::distill(o, hooks_of(options));
    give_string(t.to_json().dump(), report);
    if (out) *out = wrap_model(t.model);
    fail_if_cancelled(t, fn);
  });
}

LAI_API lai_status lai_model_distill(lai_model* student, const lai_options* options, char** report) {
  const char* fn = "lai_model_distill";
  return guarded(fn, [&] {
    if (report) *report = nullptr;
    model_of(student, fn);
    const app::Options o = options_of(options, "distill", fn);
    ExclusiveAccess access(student, fn);
    const app::TrainOutcome t = train_handle(student, o, hooks_of(options), [](const app::Options& a, const app::Hooks& b,
                                                                                std::shared_ptr<nn::Model> c) {
      return app::distill(a, b, std::move(c));
    });
    give_string(t.to_json().dump(), report);
    fail_if_cancelled(t, fn);
  });
}

LAI_API lai_status lai_model_calibrate(lai_model* model, const lai_options* options, char** report) {
  const char* fn = "lai_model_calibrate";
  return guarded(fn, [&] {
    if (report) *report = nullptr;
    model_of(model, fn);
    const app::Options o = options_of(options, "calibrate", fn);
    ExclusiveAccess access(model, fn);
    const app::CalibrationOutcome r = app::calibrate(*model->model, o, hooks_of(options));
    give_string(r.to_json().dump(), report);
  });
}

LAI_API lai_status lai_models_merge(const char* const* paths, size_t count, const lai_options* options,
                                    lai_model** out, char** report) {
  const char* fn = "lai_models_merge";
  return guarded(fn, [&] {
    if (out) *out = nullptr;
    if (report) *report = nullptr;
    require_ptr(paths, fn, "paths");
    require(count >= 2 && count <= 100000, fn, ": count must be in 2..100000, got ", count);
    std::vector<std::string> p;
    for (size_t i = 0; i < count; ++i) p.push_back(require_path(paths[i], fn, "paths[i]"));
    const app::Options o = options_of(options, "merge", fn);
    require(out || o.has("out"), fn, ": out is NULL and the option 'out' is not set: the merged model would be lost");
    const app::MergeOutcome m = app::merge_models(p, o, hooks_of(options));
    give_string(m.to_json().dump(), report);
    if (out) *out = wrap_model(m.model);
  });
}

LAI_API lai_status lai_model_evaluate_with(lai_model* model, const lai_options* options, lai_eval_report** out,
                                           char** report_json) {
  const char* fn = "lai_model_evaluate_with";
  return guarded(fn, [&] {
    if (out) *out = nullptr;
    if (report_json) *report_json = nullptr;
    model_of(model, fn);
    const app::Options o = options_of(options, "evaluate", fn);
    ExclusiveAccess access(model, fn);
    const app::EvalOutcome e = app::evaluate(*model->model, o, hooks_of(options));
    give_string(e.to_json().dump(), report_json);
    if (out && e.evaluation.has_report) {
      auto rep = std::make_unique<lai_eval_report>();
      rep->report = e.evaluation.report;
      *out = rep.release();
    }
  });
}

}  // extern "C"

// ---------------------------------------------------------------- step-by-step trainer

struct lai_trainer {
  lai_model* model = nullptr;
  std::unique_ptr<Fp32WhileTraining> precision;  // restored by lai_trainer_free
  std::unique_ptr<optim::Trainer> trainer;
};

extern "C" {

LAI_API lai_status lai_trainer_create(lai_model* model, const lai_train_options* options, lai_trainer** out) {
  const char* fn = "lai_trainer_create";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    model_of(model, fn);
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(std::isfinite(o.learning_rate) && o.learning_rate > 0, fn, ": learning_rate must be > 0, got ",
            o.learning_rate);
    require(ev(o.optimizer) >= LAI_OPTIMIZER_ADAM && ev(o.optimizer) <= LAI_OPTIMIZER_ADAMW, fn, ": unknown optimizer ",
            int(ev(o.optimizer)));
    optim::TrainOptions t;
    t.optimizer = optim::optimizer_from_string(optimizer_name(ev(o.optimizer)));
    t.optim.lr = o.learning_rate;
    t.optim.weight_decay = o.weight_decay;
    if (ev(o.optimizer) == LAI_OPTIMIZER_SGD) t.optim.momentum = o.momentum;
    if (ev(o.optimizer) == LAI_OPTIMIZER_ADAMW) t.optim.decoupled = true;
    t.precision = precision_of(model->training_precision.load());
    t.progress = 0;
    auto h = std::make_unique<lai_trainer>();
    // Taken here and released by lai_trainer_free: the model stays exclusive in between.
    if (model->exclusive.exchange(true)) fail(LAI_ERR_BUSY, fn, ": the model is already being trained or modified");
    if (const int64_t r = model->readers.load(); r > 0) {
      model->exclusive.store(false);
      fail(LAI_ERR_BUSY, fn, ": the model is in use by ", r, " concurrent call(s); it needs exclusive access");
    }
    try {
      h->precision = std::make_unique<Fp32WhileTraining>(*model->model->net);
      h->trainer = std::make_unique<optim::Trainer>(model->model, t);
    } catch (...) {
      h->trainer.reset();
      h->precision.reset();
      model->exclusive.store(false);
      throw;
    }
    h->model = model;
    *out = h.release();
  });
}

LAI_API lai_status lai_trainer_step(lai_trainer* trainer, const lai_image* images, size_t count, const int32_t* labels,
                                    const float* targets, size_t targets_count, double* loss) {
  const char* fn = "lai_trainer_step";
  return guarded(fn, [&] {
    require_ptr(trainer, fn, "trainer");
    require_ptr(images, fn, "images");
    require(count > 0 && count <= 65536, fn, ": count must be in 1..65536, got ", count);
    nn::Model& m = *trainer->model->model;
    const nn::Head head = m.head();
    const int64_t classes = m.num_classes();
    optim::TrainBatch b;
    if (head == nn::Head::softmax) {
      require_ptr(labels, fn, "labels");
      std::vector<float> l(count);
      for (size_t i = 0; i < count; ++i) {
        require(labels[i] >= 0 && labels[i] < classes, fn, ": labels[", i, "] = ", labels[i], " is outside 0..",
                classes - 1);
        l[i] = float(labels[i]);
      }
      b.labels = Tensor::from_vector(l, {int64_t(count)});
    } else if (head == nn::Head::sigmoid) {
      require_ptr(targets, fn, "targets");
      const size_t need = count * size_t(classes);
      require(targets_count >= need, fn, ": targets has ", targets_count, " values, ", need, " needed (", count,
              " x ", classes, ")");
      std::vector<float> t(targets, targets + need);
      for (size_t i = 0; i < need; ++i)
        require(std::isfinite(t[i]) && t[i] >= 0 && t[i] <= 1, fn, ": targets[", i, "] must be in [0, 1]");
      b.targets = Tensor::from_vector(t, {int64_t(count), classes});
      b.labels = Tensor::full({int64_t(count)}, -1.f);
    }
    std::vector<data::Image> imgs;
    for (size_t i = 0; i < count; ++i) {
      try {
        imgs.push_back(image_from_view(fn, images[i]));
      } catch (const CapiError& err) {
        fail(err.status, err.what(), " (images[", i, "])");
      }
    }
    b.images = app::model_input(m, imgs);
    struct EvalMode {
      nn::Model& m;
      ~EvalMode() { m.net->eval(); }
    } restore{m};
    const optim::Trainer::StepResult r = trainer->trainer->train_step(b);
    LAI_CHECK(std::isfinite(r.loss), fn, ": the loss became ", r.loss, " (lower the learning rate or check the data)");
    if (loss) *loss = r.loss;
  });
}

LAI_API void lai_trainer_free(lai_trainer* trainer) {
  if (!trainer) return;
  try {
    trainer->trainer.reset();
    trainer->precision.reset();  // the caller's inference precision again
    if (trainer->model) {
      trainer->model->model->net->eval();
      trainer->model->exclusive.store(false);
    }
  } catch (...) {
  }
  delete trainer;
}

}  // extern "C"
