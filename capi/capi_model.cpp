// C API: models (create, load, save, info, predict, train, evaluate).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/nn/losses.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/ops/ops.hpp"
#include "liteai/app/data_source.hpp"
#include "liteai/optim/trainer.hpp"

using namespace liteai;
using namespace liteai::capi;

namespace {

lai_model* wrap(std::shared_ptr<nn::Model> m) {
  LAI_CHECK(m && m->net, "model: no network");
  // Inference never switches modes (that would be a write shared by all threads): a model
  // handle is always in eval mode except inside lai_model_train.
  m->net->eval();
  auto* h = new lai_model;
  h->model = std::move(m);
  return h;
}

const nn::Model& model_of(const lai_model* m, const char* fn) {
  require_ptr(m, fn, "model");
  return *m->model;
}

// lai_precision values and the library's: F32, BF16 (bf16 storage, 0.3), BF16_COMPUTE (0.4).
int checked_precision(lai_precision precision, const char* fn) {
  const int p = ev(precision);
  require(p == LAI_PRECISION_F32 || p == LAI_PRECISION_BF16 || p == LAI_PRECISION_BF16_COMPUTE, fn,
          ": unknown precision ", p, " (LAI_PRECISION_F32 = 0, LAI_PRECISION_BF16 = 1, LAI_PRECISION_BF16_COMPUTE = 2)");
  return p;
}
nn::Precision precision_of(int p) {
  return p == LAI_PRECISION_BF16_COMPUTE ? nn::Precision::bf16_compute
         : p == LAI_PRECISION_BF16       ? nn::Precision::bf16_storage
                                         : nn::Precision::f32;
}
lai_precision to_lai(nn::Precision p) {
  return p == nn::Precision::bf16_compute ? LAI_PRECISION_BF16_COMPUTE
         : p == nn::Precision::bf16_storage ? LAI_PRECISION_BF16
                                            : LAI_PRECISION_F32;
}


int64_t output_size(const nn::Model& m) {
  if (m.head() == nn::Head::none)
    return m.preprocessing.channels * m.preprocessing.width * m.preprocessing.height;
  return m.num_classes();
}

// Training keeps no bf16 inference copy (lai_model_set_inference_precision): validation inside a
// training is fp32, and the copy is not rebuilt after every step. The handle's precision comes
// back (one rebuild) when the training or trainer ends; nothing can predict in between (the model
// is exclusive), so nobody sees the temporary fp32.
class Fp32WhileTraining {
 public:
  explicit Fp32WhileTraining(nn::Module& net) : net_(net), saved_(net.inference_precision()) {
    net_.set_inference_precision(nn::Precision::f32);
  }
  // Back to inference mode with the caller's precision; may throw (no memory for the copy).
  void finish() {
    net_.eval();
    net_.set_inference_precision(saved_);
    done_ = true;
  }
  ~Fp32WhileTraining() {
    if (done_) return;
    try {
      finish();
    } catch (...) {  // out of memory for the copy: fp32 inference still works
      try {
        net_.set_inference_precision(nn::Precision::f32);
        net_.eval();
      } catch (...) {
      }
    }
  }
  Fp32WhileTraining(const Fp32WhileTraining&) = delete;
  Fp32WhileTraining& operator=(const Fp32WhileTraining&) = delete;

 private:
  nn::Module& net_;
  nn::Precision saved_;
  bool done_ = false;
};

// Preprocessed input [n, C, H, W] for images (resize + standardization as the data loader does;
// gray replicated over the channels).
Tensor make_input(const nn::Model& m, const std::vector<data::Image>& images) {
  const auto& pp = m.preprocessing;
  require(pp.width > 0 && pp.height > 0 && pp.channels > 0, "model: preprocessing has no input size");
  const int64_t n = int64_t(images.size()), hw = pp.width * pp.height;
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

// Forward in inference mode without touching the module's mode flags (thread-safe).
void run_predict(const nn::Model& m, const std::vector<data::Image>& images, float* out) {
  autograd::NoGrad ng;
  Tensor x = make_input(m, images);
  Tensor y = m.net->forward(x);
  const nn::Head head = m.head();
  if (head == nn::Head::softmax) y = ops::softmax(y, -1);
  else if (head == nn::Head::sigmoid) y = ops::sigmoid(y);
  y = y.contiguous();
  const int64_t per = output_size(m);
  LAI_CHECK(y.numel() == per * int64_t(images.size()), "predict: the network returned ", y.describe(),
            ", expected ", per, " values per image");
  std::memcpy(out, y.data(), size_t(y.numel()) * sizeof(float));
}

void check_out(const char* fn, const nn::Model& m, size_t images, const float* out, size_t out_count) {
  require_ptr(out, fn, "out");
  const size_t need = size_t(output_size(m)) * images;
  require(out_count >= need, fn, ": out has room for ", out_count, " floats, ", need, " needed (", images,
          " image(s) x ", output_size(m), ")");
}

bool default_class_names(const nn::Model& m) {
  for (size_t i = 0; i < m.class_names.size(); ++i)
    if (m.class_names[i] != str_cat("class", i)) return false;
  return true;
}

// Opens the data set of train/evaluate with the model's class order when it has real names.
data::DatasetPtr open_data(const char* fn, const nn::Model& m, const char* spec, int64_t limit) {
  const std::string path = require_path(spec, fn, "data");
  data::CsvOptions csv;
  data::FolderOptions folder;
  if (!default_class_names(m)) {
    csv.class_names = m.class_names;
    folder.class_names = m.class_names;
  }
  data::DatasetPtr ds = data::open_dataset(path, csv, folder);
  require(ds->size() > 0, fn, ": data set '", path, "' holds no images");
  if (m.head() != nn::Head::none)
    require(int64_t(ds->num_classes()) == m.num_classes(), fn, ": data set '", path, "' has ", ds->num_classes(),
            " classes, the model ", m.num_classes());
  if (limit > 0 && size_t(limit) < ds->size()) {
    std::vector<size_t> idx(static_cast<size_t>(limit));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    ds = data::subset(ds, idx);
  }
  return ds;
}


}  // namespace

namespace liteai::capi {
void fill_progress(const optim::Progress& p, lai_progress& c) {
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.phase = p.phase == optim::Phase::epoch ? LAI_PHASE_EPOCH : p.phase == optim::Phase::train ? LAI_PHASE_TRAIN : LAI_PHASE_EVALUATE;
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

LAI_API lai_status lai_model_create(const char* architecture, int32_t input_size, int32_t classes, uint64_t seed,
                                    lai_model** out) {
  const char* fn = "lai_model_create";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string a = require_path(architecture, fn, "architecture");
    require(input_size >= 0 && input_size <= 8192, fn, ": input_size must be in 0..8192, got ", input_size);
    require(classes >= 0 && classes <= 100000, fn, ": classes must be in 0..100000, got ", classes);
    nn::ArchSpec spec;
    if (!a.empty() && a[0] == '{') spec = nn::ArchSpec::from_json(a);
    else spec.name = a;
    if (input_size > 0) spec.set("size", double(input_size));
    if (classes > 0) spec.set("classes", double(classes));
    *out = wrap(nn::build_model(spec, seed));
  });
}

LAI_API lai_status lai_model_load(const char* path, lai_model** out) {
  const char* fn = "lai_model_load";
  return guarded(fn, LAI_ERR_FORMAT, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    // Reading the bytes first tells "cannot read" (IO) from "not a model" (FORMAT).
    std::vector<uint8_t> bytes;
    try {
      bytes = data::read_file_bytes(p);
    } catch (const Error& e) {
      fail(LAI_ERR_IO, e.what());
    }
    *out = wrap(nn::load_model_from_bytes(bytes.data(), bytes.size(), p, false).model);
  });
}

LAI_API lai_status lai_model_load_memory(const void* bytes, size_t size, lai_model** out) {
  const char* fn = "lai_model_load_memory";
  return guarded(fn, LAI_ERR_FORMAT, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(bytes, fn, "bytes");
    require(size > 0, fn, ": size is 0");
    *out = wrap(nn::load_model_from_bytes(bytes, size, "<memory>", false).model);
  });
}

LAI_API lai_status lai_model_save(const lai_model* model, const char* path) {
  const char* fn = "lai_model_save";
  return guarded(fn, LAI_ERR_IO, [&] {
    const nn::Model& m = model_of(model, fn);
    const std::string p = require_path(path, fn);
    ReadAccess access(model, fn);
    nn::save_model(p, m);
  });
}

LAI_API void lai_model_free(lai_model* model) { delete model; }

LAI_API void lai_model_info_init(lai_model_info* info) {
  if (!info) return;
  std::memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
}

LAI_API lai_status lai_model_get_info(const lai_model* model, lai_model_info* info) {
  const char* fn = "lai_model_get_info";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(info, fn, "info");
    lai_model_info r;
    lai_model_info_init(&r);
    r.input_width = int32_t(m.preprocessing.width);
    r.input_height = int32_t(m.preprocessing.height);
    r.channels = int32_t(m.preprocessing.channels);
    r.classes = int32_t(m.num_classes());
    r.multi_label = m.head() == nn::Head::sigmoid;
    r.standardize = m.preprocessing.standardize;
    r.parameters = m.net->parameter_count();
    r.output_size = output_size(m);
    write_result(info, r, fn, "info");
  });
}

LAI_API lai_status lai_model_architecture(const lai_model* model, char* buf, size_t size, size_t* needed) {
  const char* fn = "lai_model_architecture";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    const nn::Model& m = model_of(model, fn);
    copy_text(fn, m.arch.to_json(), buf, size, needed);
  });
}

LAI_API lai_status lai_model_class_name(const lai_model* model, int32_t index, char* buf, size_t size,
                                        size_t* needed) {
  const char* fn = "lai_model_class_name";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    const nn::Model& m = model_of(model, fn);
    ReadAccess access(model, fn);  // names may change while training starts
    require(index >= 0 && size_t(index) < m.class_names.size(), fn, ": index ", index, " is outside 0..",
            int64_t(m.class_names.size()) - 1);
    copy_text(fn, m.class_names[size_t(index)], buf, size, needed);
  });
}

LAI_API lai_status lai_model_set_class_names(lai_model* model, const char* const* names, int32_t count) {
  const char* fn = "lai_model_set_class_names";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    model_of(model, fn);
    require_ptr(names, fn, "names");
    require(int64_t(count) == model->model->num_classes(), fn, ": ", count, " names given, the model has ",
            model->model->num_classes(), " classes");
    std::vector<std::string> v;
    for (int32_t i = 0; i < count; ++i) {
      require(names[i] != nullptr, fn, ": names[", i, "] is NULL");
      v.emplace_back(names[i]);
    }
    ExclusiveAccess access(model, fn);
    model->model->class_names = std::move(v);
  });
}

LAI_API lai_status lai_model_predict(const lai_model* model, const void* pixels, lai_pixel_type type, int32_t width,
                                     int32_t height, size_t stride_bytes, float* out, size_t out_count) {
  const char* fn = "lai_model_predict";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    const nn::Model& m = model_of(model, fn);
    check_out(fn, m, 1, out, out_count);
    std::vector<data::Image> imgs;
    imgs.push_back(image_from_buffer(fn, pixels, ev(type), width, height, stride_bytes));
    ReadAccess access(model, fn);
    run_predict(m, imgs, out);
  });
}

LAI_API lai_status lai_model_predict_batch(const lai_model* model, const lai_image* images, size_t count, float* out,
                                           size_t out_count) {
  const char* fn = "lai_model_predict_batch";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(images, fn, "images");
    require(count > 0, fn, ": count is 0");
    check_out(fn, m, count, out, out_count);
    ReadAccess access(model, fn);
    // Chunks bound the memory of the preprocessed input whatever the caller's batch size.
    const size_t chunk = 16, per = size_t(output_size(m));
    for (size_t b = 0; b < count; b += chunk) {
      const size_t e = std::min(count, b + chunk);
      std::vector<data::Image> imgs;
      for (size_t i = b; i < e; ++i) {
        try {
          imgs.push_back(image_from_view(fn, images[i]));
        } catch (const CapiError& err) {
          fail(err.status, err.what(), " (images[", i, "])");
        }
      }
      run_predict(m, imgs, out + b * per);
    }
  });
}

LAI_API lai_status lai_model_predict_file(const lai_model* model, const char* path, float* out, size_t out_count) {
  const char* fn = "lai_model_predict_file";
  return guarded(fn, LAI_ERR_FORMAT, [&] {
    const nn::Model& m = model_of(model, fn);
    const std::string p = require_path(path, fn);
    check_out(fn, m, 1, out, out_count);
    std::vector<data::Image> imgs;
    imgs.push_back(data::decode_image(p));
    ReadAccess access(model, fn);
    try {
      run_predict(m, imgs, out);
    } catch (const Error& e) {
      fail(LAI_ERR_INVALID_ARGUMENT, e.what());
    }
  });
}

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
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    model_of(model, fn);
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(o.epochs >= 1 && o.epochs <= 100000, fn, ": epochs must be in 1..100000, got ", o.epochs);
    require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
    require(std::isfinite(o.learning_rate) && o.learning_rate > 0, fn, ": learning_rate must be > 0, got ",
            o.learning_rate);
    require(ev(o.optimizer) >= LAI_OPTIMIZER_ADAM && ev(o.optimizer) <= LAI_OPTIMIZER_ADAMW, fn, ": unknown optimizer ",
            int(ev(o.optimizer)));
    require(o.validation_fraction >= 0 && o.validation_fraction < 1, fn,
            ": validation_fraction must be in [0, 1), got ", o.validation_fraction);
    require(o.max_steps_per_epoch >= 0 && o.limit >= 0, fn, ": max_steps_per_epoch and limit must be >= 0");
    require(o.augment_shift >= 0 && o.augment_shift < 0.5f, fn, ": augment_shift must be in [0, 0.5), got ",
            o.augment_shift);
    if (result) {  // fail early on a bad result struct, before hours of training
      lai_train_result probe;
      lai_train_result_init(&probe);
      write_result(result, probe, fn, "result");
    }
    ExclusiveAccess access(model, fn);
    std::shared_ptr<nn::Model> m = model->model;
    data::DatasetPtr ds = open_data(fn, *m, data, o.limit);
    if (default_class_names(*m) && m->head() != nn::Head::none) m->class_names = ds->class_names();
    data::DatasetPtr train = ds, val;
    if (o.validation_fraction > 0) {
      data::Split s = data::split_random(ds, o.validation_fraction, o.seed);
      train = s.train;
      val = s.validation;
      require(train->size() > 0, fn, ": no training images left after the validation split");
    }
    optim::TrainOptions t;
    t.epochs = o.epochs;
    t.optimizer = ev(o.optimizer) == LAI_OPTIMIZER_SGD     ? optim::OptimizerKind::sgd
                  : ev(o.optimizer) == LAI_OPTIMIZER_ADAMW ? optim::OptimizerKind::adamw
                                                           : optim::OptimizerKind::adam;
    t.optim.lr = o.learning_rate;
    t.optim.weight_decay = o.weight_decay;
    if (ev(o.optimizer) == LAI_OPTIMIZER_SGD) t.optim.momentum = o.momentum;
    if (ev(o.optimizer) == LAI_OPTIMIZER_ADAMW) t.optim.decoupled = true;
    t.max_steps_per_epoch = o.max_steps_per_epoch;
    t.precision = precision_of(model->training_precision.load());
    t.progress = o.verbose ? 1 : 0;
    if (o.checkpoint_path) t.checkpoint = o.checkpoint_path;
    if (o.metrics_csv) t.metrics_csv = o.metrics_csv;
    if (o.progress) {
      t.callback = [&o](const optim::Progress& p) {
        lai_progress c;
        fill_progress(p, c);
        return o.progress(&c, o.user_data) == 0;
      };
    }
    data::LoaderOptions lo = optim::loader_options_for(*m, o.batch_size, o.seed);
    lo.skip_bad = o.skip_bad_files != 0;
    lo.augment.hflip = o.augment_hflip != 0;
    lo.augment.max_shift = o.augment_shift;
    optim::LoaderSource src(train, lo);
    std::unique_ptr<optim::LoaderSource> vsrc;
    if (val) {
      data::LoaderOptions vo = optim::loader_options_for(*m, o.batch_size, o.seed, /*shuffle=*/false);
      vo.skip_bad = lo.skip_bad;
      vsrc = std::make_unique<optim::LoaderSource>(val, vo);
    }
    optim::TrainResult tr;
    {
      Fp32WhileTraining precision(*m->net);  // and back to inference mode whatever happens
      optim::Trainer trainer(m, t);
      m->net->train(true);
      tr = trainer.fit(src, vsrc.get());
      precision.finish();
    }
    lai_train_result r;
    lai_train_result_init(&r);
    r.epochs_done = int32_t(tr.history.size());
    r.steps = tr.steps;
    if (!tr.history.empty()) {
      const auto& h = tr.history.back();
      r.loss = h.loss;
      r.metric = h.metric;
      r.val_loss = h.val_loss;
      r.val_metric = h.val_metric;
    }
    r.seconds = tr.seconds;
    r.images_per_second = tr.images_per_second;
    r.cancelled = tr.cancelled;
    write_result(result, r, fn, "result");
    if (tr.cancelled)
      fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback after ", tr.steps,
           " step(s); the model keeps the weights of the steps done");
  });
}

LAI_API lai_status lai_model_evaluate(lai_model* model, const char* data, const lai_train_options* options,
                                      lai_eval_result* result) {
  const char* fn = "lai_model_evaluate";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    model_of(model, fn);
    require_ptr(result, fn, "result");
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
    require(o.limit >= 0, fn, ": limit must be >= 0");
    {
      lai_eval_result probe;
      lai_eval_result_init(&probe);
      write_result(result, probe, fn, "result");
    }
    ExclusiveAccess access(model, fn);
    std::shared_ptr<nn::Model> m = model->model;
    data::DatasetPtr ds = open_data(fn, *m, data, o.limit);
    data::LoaderOptions lo = optim::loader_options_for(*m, o.batch_size, o.seed, /*shuffle=*/false);
    lo.skip_bad = o.skip_bad_files != 0;
    optim::LoaderSource src(ds, lo);
    optim::TrainOptions t;
    t.optimizer = optim::OptimizerKind::sgd;  // holds no state: evaluation only
    t.progress = 0;
    optim::EvalResult er;
    {
      optim::Trainer trainer(m, t);
      struct EvalMode {
        nn::Model& m;
        ~EvalMode() { m.net->eval(); }
      } restore{*m};
      er = trainer.evaluate(src);
    }
    lai_eval_result r;
    lai_eval_result_init(&r);
    r.loss = er.loss;
    r.metric = er.metric;
    r.samples = er.samples;
    write_result(result, r, fn, "result");
  });
}

LAI_API lai_status lai_model_evaluate_report(lai_model* model, const char* data, const lai_train_options* options,
                                             double threshold, lai_eval_result* result, lai_eval_report** out) {
  const char* fn = "lai_model_evaluate_report";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    model_of(model, fn);
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
    require(o.limit >= 0, fn, ": limit must be >= 0");
    require(std::isfinite(threshold) && threshold > 0 && threshold < 1, fn, ": threshold must be in (0, 1), got ",
            threshold);
    if (result) {
      lai_eval_result probe;
      lai_eval_result_init(&probe);
      write_result(result, probe, fn, "result");
    }
    ExclusiveAccess access(model, fn);
    std::shared_ptr<nn::Model> m = model->model;
    const nn::Head head = m->head();
    if (head == nn::Head::none)
      fail(LAI_ERR_NOT_SUPPORTED, fn, ": the model's head is '", nn::to_string(head),
           "': per-class metrics need a classifier (lai_model_evaluate gives the loss)");
    data::DatasetPtr ds = open_data(fn, *m, data, o.limit);
    data::LoaderOptions lo = optim::loader_options_for(*m, o.batch_size, o.seed, /*shuffle=*/false);
    lo.skip_bad = o.skip_bad_files != 0;
    optim::LoaderSource src(ds, lo);
    const bool multi = head == nn::Head::sigmoid;
    nn::MetricsAccumulator acc(m->num_classes(), multi);
    autograd::NoGrad ng;  // the handle is in eval mode (see wrap)
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t steps = int64_t((ds->size() + size_t(o.batch_size) - 1) / size_t(o.batch_size));
    double loss_sum = 0;
    int64_t samples = 0, step = 0;
    src.reset(0);
    while (auto b = src.next()) {
      Tensor logits = m->forward(b->images);
      const int64_t n = b->images.size(0);
      loss_sum += double(nn::head_loss(head, logits, b->labels, b->targets).item()) * double(n);
      samples += n;
      ++step;
      if (multi) {
        acc.add(ops::sigmoid(logits), b->targets);
      } else {
        std::vector<int64_t> labels;
        for (float v : b->labels.to_vector()) labels.push_back(int64_t(v));
        acc.add(ops::softmax(logits, -1), labels);
      }
      if (o.progress) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        lai_progress p;
        std::memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        p.phase = LAI_PHASE_EVALUATE;
        p.epoch = p.epochs = 1;
        p.step = p.global_step = step;
        p.steps_per_epoch = steps;
        p.loss = loss_sum / double(samples);
        p.metric = std::nan("");
        p.images_per_second = secs > 0 ? double(samples) / secs : 0;
        p.val_loss = p.val_metric = -1;
        p.eta_seconds = step > 0 && secs > 0 ? secs / double(step) * double(std::max<int64_t>(0, steps - step)) : -1;
        if (o.progress(&p, o.user_data) != 0)
          fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback after ", step, " batch(es)");
      }
    }
    require(samples > 0, fn, ": no samples could be read from '", data, "'");
    auto rep = std::make_unique<lai_eval_report>();
    rep->report = acc.report(m->class_names, threshold);
    lai_eval_result r;
    lai_eval_result_init(&r);
    r.loss = loss_sum / double(samples);
    r.metric = rep->report.accuracy;
    r.samples = samples;
    write_result(result, r, fn, "result");
    *out = rep.release();
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
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    model_of(model, fn);
    const lai_train_options o = read_options(options, lai_train_options_init, fn, "options");
    require(std::isfinite(o.learning_rate) && o.learning_rate > 0, fn, ": learning_rate must be > 0, got ",
            o.learning_rate);
    require(ev(o.optimizer) >= LAI_OPTIMIZER_ADAM && ev(o.optimizer) <= LAI_OPTIMIZER_ADAMW, fn, ": unknown optimizer ",
            int(ev(o.optimizer)));
    optim::TrainOptions t;
    t.optimizer = ev(o.optimizer) == LAI_OPTIMIZER_SGD     ? optim::OptimizerKind::sgd
                  : ev(o.optimizer) == LAI_OPTIMIZER_ADAMW ? optim::OptimizerKind::adamw
                                                           : optim::OptimizerKind::adam;
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
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
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
    b.images = make_input(m, imgs);
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

// ---------------------------------------------------------------- inference precision (0.3)

extern "C" {

LAI_API lai_status lai_model_set_inference_precision(lai_model* model, lai_precision precision) {
  const char* fn = "lai_model_set_inference_precision";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    model_of(model, fn);
    const int p = checked_precision(precision, fn);
    // Rebuilding the bf16 copy replaces tensors that concurrent predictions would read.
    ExclusiveAccess access(model, fn);
    nn::Module& net = *model->model->net;
    const nn::Precision before = net.inference_precision();
    try {
      net.set_inference_precision(precision_of(p));
    } catch (...) {  // e.g. out of memory for the copy: leave the model as it was
      try {
        net.set_inference_precision(before);
      } catch (...) {
        net.set_inference_precision(nn::Precision::f32);
      }
      throw;
    }
  });
}

LAI_API lai_status lai_model_get_inference_precision(const lai_model* model, lai_precision* precision) {
  const char* fn = "lai_model_get_inference_precision";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(precision, fn, "precision");
    ReadAccess access(model, fn);
    *precision = to_lai(m.net->inference_precision());
  });
}

LAI_API lai_status lai_model_set_training_precision(lai_model* model, lai_precision precision) {
  const char* fn = "lai_model_set_training_precision";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    model_of(model, fn);
    const int p = checked_precision(precision, fn);
    ExclusiveAccess access(model, fn);  // a running training reads it at its start only, but say so
    model->training_precision.store(p);
  });
}

LAI_API lai_status lai_model_get_training_precision(const lai_model* model, lai_precision* precision) {
  const char* fn = "lai_model_get_training_precision";
  return guarded(fn, LAI_ERR_INVALID_ARGUMENT, [&] {
    model_of(model, fn);
    require_ptr(precision, fn, "precision");
    *precision = to_lai(precision_of(model->training_precision.load()));
  });
}

}  // extern "C"
