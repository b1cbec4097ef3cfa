// C API: model handles (create, load, save, info, predict, inference precision). Training and
// evaluation: capi_train.cpp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/nn/model_io.hpp"

using namespace liteai;
using namespace liteai::capi;

namespace {

lai_model* wrap(std::shared_ptr<nn::Model> m) {
  LAI_CHECK(m && m->net, "model: no network");
  // Inference never switches modes (that would be a write shared by all threads): a model
  // handle is always in eval mode except while it trains.
  m->net->eval();
  auto* h = new lai_model;
  h->model = std::move(m);
  return h;
}

// Probabilities of `images` into out (app::predict: the model's preprocessing, no mode change).
void run_predict(const nn::Model& m, const std::vector<data::Image>& images, float* out) {
  const Tensor y = app::predict(m, images);
  std::memcpy(out, y.data(), size_t(y.numel()) * sizeof(float));
}

void check_out(const char* fn, const nn::Model& m, size_t images, const float* out, size_t out_count) {
  require_ptr(out, fn, "out");
  const size_t per = size_t(app::output_size(m));
  require(images <= SIZE_MAX / per && out_count >= per * images, fn, ": out has room for ", out_count, " floats, ",
          per * images, " needed (", images, " image(s) x ", per, ")");
}

}  // namespace

namespace liteai::capi {
lai_model* wrap_model(std::shared_ptr<nn::Model> m) { return wrap(std::move(m)); }
}  // namespace liteai::capi

extern "C" {

LAI_API lai_status lai_model_create(const char* architecture, int32_t input_size, int32_t classes, uint64_t seed,
                                    lai_model** out) {
  const char* fn = "lai_model_create";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string a = require_path(architecture, fn, "architecture");
    require(input_size >= 0 && input_size <= 8192, fn, ": input_size must be in 0..8192, got ", input_size);
    require(classes >= 0 && classes <= 100000, fn, ": classes must be in 0..100000, got ", classes);
    nn::ArchSpec spec;
    if (!a.empty() && a[0] == '{') {
      try {
        spec = nn::ArchSpec::from_json(a);
      } catch (const Error& e) {  // the caller's argument, not a damaged file
        fail(LAI_ERR_INVALID_ARGUMENT, fn, ": ", e.what());
      }
    }
    else spec.name = a;
    if (input_size > 0) spec.set("size", double(input_size));
    if (classes > 0) spec.set("classes", double(classes));
    *out = wrap(nn::build_model(spec, seed));
  });
}

LAI_API lai_status lai_model_load(const char* path, lai_model** out) {
  const char* fn = "lai_model_load";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    // The error kinds tell "cannot read" (IO: missing, a directory, a FIFO) from "not a model"
    // (FORMAT); the tensors are read straight into place, never the whole file into memory.
    *out = wrap(nn::load_model(p, false).model);
  });
}

LAI_API lai_status lai_model_load_memory(const void* bytes, size_t size, lai_model** out) {
  const char* fn = "lai_model_load_memory";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(bytes, fn, "bytes");
    require(size > 0, fn, ": size is 0");
    *out = wrap(nn::load_model_from_bytes(bytes, size, "<memory>", false).model);
  });
}

LAI_API lai_status lai_model_save(const lai_model* model, const char* path) {
  const char* fn = "lai_model_save";
  return guarded(fn, [&] {
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
  return guarded(fn, [&] {
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
    r.output_size = app::output_size(m);
    write_result(info, r, fn, "info");
  });
}

LAI_API lai_status lai_model_describe(const lai_model* model, char** json) {
  const char* fn = "lai_model_describe";
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    ReadAccess access(model, fn);
    give_string(app::describe_model(m).dump(), json);
  });
}

LAI_API lai_status lai_model_architecture(const lai_model* model, char* buf, size_t size, size_t* needed) {
  const char* fn = "lai_model_architecture";
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    copy_text(fn, m.arch.to_json(), buf, size, needed);
  });
}

LAI_API lai_status lai_model_class_name(const lai_model* model, int32_t index, char* buf, size_t size,
                                        size_t* needed) {
  const char* fn = "lai_model_class_name";
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    ReadAccess access(model, fn);  // names may change while training starts
    require(index >= 0 && size_t(index) < m.class_names.size(), fn, ": index ", index, " is outside 0..",
            int64_t(m.class_names.size()) - 1);
    copy_text(fn, m.class_names[size_t(index)], buf, size, needed);
  });
}

LAI_API lai_status lai_model_set_class_names(lai_model* model, const char* const* names, int32_t count) {
  const char* fn = "lai_model_set_class_names";
  return guarded(fn, [&] {
    model_of(model, fn);
    require_ptr(names, fn, "names");
    require(int64_t(count) == model->model->num_classes(), fn, ": ", count, " names given, the model has ",
            model->model->num_classes(), " classes");
    std::vector<std::string> v;
    for (int32_t i = 0; i < count; ++i) {
      require(names[i] != nullptr, fn, ": names[", i, "] is NULL");
      v.emplace_back(names[i]);
    }
    nn::check_class_names(v, fn);
    ExclusiveAccess access(model, fn);
    model->model->class_names = std::move(v);
  });
}

LAI_API lai_status lai_model_predict(const lai_model* model, const void* pixels, lai_pixel_type type, int32_t width,
                                     int32_t height, size_t stride_bytes, float* out, size_t out_count) {
  const char* fn = "lai_model_predict";
  return guarded(fn, [&] {
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
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(images, fn, "images");
    require(count > 0, fn, ": count is 0");
    check_out(fn, m, count, out, out_count);
    ReadAccess access(model, fn);
    // Chunks bound the memory of the decoded images whatever the caller's batch size.
    const size_t chunk = 16, per = size_t(app::output_size(m));
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
  return guarded(fn, [&] {
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

}  // extern "C"

// ---------------------------------------------------------------- inference precision (0.3)

namespace {
// By reference: the caller's value is read by ev(), never loaded as the enum.
int checked_precision(const lai_precision& precision, const char* fn) {
  const int p = ev(precision);
  require(p == LAI_PRECISION_F32 || p == LAI_PRECISION_BF16 || p == LAI_PRECISION_BF16_COMPUTE, fn,
          ": unknown precision ", p, " (LAI_PRECISION_F32 = 0, LAI_PRECISION_BF16 = 1, LAI_PRECISION_BF16_COMPUTE = 2)");
  return p;
}
}  // namespace

extern "C" {

LAI_API lai_status lai_model_set_inference_precision(lai_model* model, lai_precision precision) {
  const char* fn = "lai_model_set_inference_precision";
  return guarded(fn, [&] {
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
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(precision, fn, "precision");
    ReadAccess access(model, fn);
    *precision = to_lai(m.net->inference_precision());
  });
}

LAI_API lai_status lai_model_set_training_precision(lai_model* model, lai_precision precision) {
  const char* fn = "lai_model_set_training_precision";
  return guarded(fn, [&] {
    model_of(model, fn);
    const int p = checked_precision(precision, fn);
    ExclusiveAccess access(model, fn);  // a running training reads it at its start only, but say so
    model->training_precision.store(p);
  });
}

LAI_API lai_status lai_model_get_training_precision(const lai_model* model, lai_precision* precision) {
  const char* fn = "lai_model_get_training_precision";
  return guarded(fn, [&] {
    model_of(model, fn);
    require_ptr(precision, fn, "precision");
    *precision = to_lai(precision_of(model->training_precision.load()));
  });
}

}  // extern "C"
