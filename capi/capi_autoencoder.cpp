// C API (since 0.2): autoencoder anomaly maps, map scores, heatmap / overlay PNGs.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/detection_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/transforms.hpp"

using namespace liteai;
using namespace liteai::capi;

struct lai_autoencoder {
  explicit lai_autoencoder(anomaly::AutoencoderDetector d) : det(std::move(d)) {}
  anomaly::AutoencoderDetector det;
};

namespace {

anomaly::ScoreOptions score_options(const lai_score_options* options, const char* fn) {
  const lai_score_options o = read_options(options, lai_score_options_init, fn, "options");
  require(ev(o.score) >= LAI_SCORE_TOPK_MEAN && ev(o.score) <= LAI_SCORE_MEAN, fn, ": unknown score method ",
          int(ev(o.score)));
  require(o.percentile >= 0 && o.percentile <= 100, fn, ": percentile must be in [0, 100], got ", o.percentile);
  require(o.top_fraction > 0 && o.top_fraction <= 1, fn, ": top_fraction must be in (0, 1], got ", o.top_fraction);
  anomaly::ScoreOptions so;
  so.method = ev(o.score) == LAI_SCORE_PERCENTILE ? anomaly::ScoreMethod::Percentile
              : ev(o.score) == LAI_SCORE_MAX      ? anomaly::ScoreMethod::Max
              : ev(o.score) == LAI_SCORE_MEAN     ? anomaly::ScoreMethod::Mean
                                                  : anomaly::ScoreMethod::TopKMean;
  so.percentile = o.percentile;
  so.top_fraction = o.top_fraction;
  return so;
}

const anomaly::AutoencoderDetector& detector_of(const lai_autoencoder* ae, const char* fn) {
  require_ptr(ae, fn, "ae");
  return ae->det;
}

// Validated training options (everything but the data source).
anomaly::AutoencoderOptions train_options(const lai_autoencoder_options& o, const char* fn) {
  require(o.size >= 8 && o.size <= 1024 && o.size % 4 == 0, fn, ": size must be a multiple of 4 in 8..1024, got ",
          o.size);
  require(o.width >= 1 && o.width <= 256, fn, ": width must be in 1..256, got ", o.width);
  require(o.epochs >= 1 && o.epochs <= 100000, fn, ": epochs must be in 1..100000, got ", o.epochs);
  require(o.batch_size >= 1 && o.batch_size <= 65536, fn, ": batch_size must be in 1..65536, got ", o.batch_size);
  require(std::isfinite(o.learning_rate) && o.learning_rate > 0, fn, ": learning_rate must be > 0, got ",
          o.learning_rate);
  require(std::isfinite(o.smooth_sigma) && o.smooth_sigma >= 0 && o.smooth_sigma <= 1000, fn,
          ": smooth_sigma must be in [0, 1000], got ", o.smooth_sigma);
  require(std::isfinite(o.calibration_floor) && o.calibration_floor > 0, fn, ": calibration_floor must be > 0, got ",
          o.calibration_floor);
  anomaly::AutoencoderOptions a;
  a.size = o.size;
  a.width = o.width;
  a.epochs = o.epochs;
  a.batch = o.batch_size;
  a.lr = o.learning_rate;
  a.seed = o.seed;
  a.progress = o.verbose ? 1 : 0;
  a.smooth_sigma = o.smooth_sigma;
  a.calibration_floor = o.calibration_floor;
  return a;
}

// Trains with the caller's callback; a cancel gives LAI_ERR_CANCELLED and no handle.
lai_autoencoder* train_detector(const std::vector<data::Image>& images, const lai_autoencoder_options& o,
                                anomaly::AutoencoderOptions a, const char* fn) {
  bool cancelled = false;
  if (o.progress) {
    a.callback = [&](const optim::Progress& p) {
      lai_progress c;
      fill_progress(p, c);
      if (o.progress(&c, o.user_data) != 0) cancelled = true;
      return !cancelled;
    };
  }
  auto det = anomaly::AutoencoderDetector::train(images, a);
  if (cancelled) fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback");
  return new lai_autoencoder(std::move(det));
}

void write_map(const data::Image& m, float* map, size_t map_count, const char* fn) {
  if (!map) return;
  const size_t n = m.pixels.size();
  require(map_count >= n, fn, ": map has room for ", map_count, " floats, ", n, " needed (", m.width, "x", m.height,
          ")");
  std::memcpy(map, m.pixels.data(), n * sizeof(float));
}

void check_outputs(const anomaly::AutoencoderDetector& d, const float* map, size_t map_count, const double* score,
                   const char* fn) {
  require(map || score, fn, ": map and score are both NULL: nothing to return");
  const size_t n = size_t(d.size()) * size_t(d.size());
  if (map)
    require(map_count >= n, fn, ": map has room for ", map_count, " floats, ", n, " needed (", d.size(), "x",
            d.size(), ")");
}

void score_into(const anomaly::AutoencoderDetector& d, const data::Image& img, const anomaly::ScoreOptions& so,
                float* map, size_t map_count, double* score, const char* fn) {
  const data::Image m = d.anomaly_map(img);
  if (score) *score = anomaly::image_score(m, so);
  write_map(m, map, map_count, fn);
}

}  // namespace

extern "C" {

// ---------------------------------------------------------------- map scores and PNGs

LAI_API void lai_score_options_init(lai_score_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  anomaly::ScoreOptions s;
  o->score = LAI_SCORE_TOPK_MEAN;
  o->percentile = s.percentile;
  o->top_fraction = s.top_fraction;
}

LAI_API lai_status lai_map_score(const lai_image* map, const lai_score_options* options, double* score) {
  const char* fn = "lai_map_score";
  return guarded(fn, [&] {
    require_ptr(score, fn, "score");
    const anomaly::ScoreOptions so = score_options(options, fn);
    *score = anomaly::image_score(image_from_arg(fn, map, "map"), so);
  });
}

LAI_API lai_status lai_write_heatmap_png(const char* path, const lai_image* map, float lo, float hi) {
  const char* fn = "lai_write_heatmap_png";
  return guarded(fn, [&] {
    const std::string p = require_path(path, fn);
    require(std::isfinite(lo) && std::isfinite(hi), fn, ": lo and hi must be finite");
    const data::Image m = image_from_arg(fn, map, "map");
    anomaly::write_heatmap_png(p, m, lo, hi);
  });
}

LAI_API lai_status lai_write_overlay_png(const char* path, const lai_image* image, const lai_image* map,
                                         float threshold, float hi, float max_alpha) {
  const char* fn = "lai_write_overlay_png";
  return guarded(fn, [&] {
    const std::string p = require_path(path, fn);
    require(std::isfinite(threshold) && std::isfinite(hi), fn, ": threshold and hi must be finite");
    require(std::isfinite(max_alpha) && max_alpha >= 0 && max_alpha <= 1, fn, ": max_alpha must be in [0, 1], got ",
            max_alpha);
    const data::Image img = image_from_arg(fn, image, "image");
    data::Image m = image_from_arg(fn, map, "map");
    if (m.width != img.width || m.height != img.height) m = data::resize(m, img.width, img.height);
    anomaly::write_overlay_png(p, img, m, threshold, hi, max_alpha);
  });
}

// ---------------------------------------------------------------- autoencoder

LAI_API void lai_autoencoder_options_init(lai_autoencoder_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  anomaly::AutoencoderOptions a;
  o->size = int32_t(a.size);
  o->width = int32_t(a.width);
  o->epochs = int32_t(a.epochs);
  o->batch_size = int32_t(a.batch);
  o->learning_rate = a.lr;
  o->seed = a.seed;
  o->smooth_sigma = a.smooth_sigma;
  o->calibration_floor = a.calibration_floor;
  o->max_images = 2000;
}

LAI_API lai_status lai_autoencoder_train(const char* data, const lai_autoencoder_options* options,
                                         lai_autoencoder** out) {
  const char* fn = "lai_autoencoder_train";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string spec = require_path(data, fn, "data");
    const lai_autoencoder_options o = read_options(options, lai_autoencoder_options_init, fn, "options");
    train_options(o, fn);  // the struct's fields checked with the struct's names
    require(o.max_images >= 1, fn, ": max_images must be >= 1, got ", o.max_images);
    app::Options t(app::autoencoder_train_options());
    t.set("data", spec);
    t.set_int("size", o.size);
    t.set_int("width", o.width);
    t.set_int("epochs", o.epochs);
    t.set_int("batch", o.batch_size);
    t.set_number("lr", o.learning_rate);
    t.set_int("seed", int64_t(o.seed & 0x7fffffffffffffffull));
    t.set_number("smooth", o.smooth_sigma);
    t.set_number("calibration-floor", o.calibration_floor);
    t.set_int("max-images", o.max_images);
    if (o.label) t.set("label", o.label);
    t.set_bool("skip-bad", o.skip_bad_files != 0);
    t.set_bool(o.verbose ? "progress" : "quiet", true);
    bool cancelled = false;
    app::Hooks h;
    if (o.progress)
      h.progress = [&](const optim::Progress& p) {
        lai_progress c;
        fill_progress(p, c);
        if (o.progress(&c, o.user_data) != 0) cancelled = true;
        return !cancelled;
      };
    anomaly::AutoencoderDetector det = app::train_autoencoder(t, h);
    if (cancelled) fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback");
    *out = new lai_autoencoder(std::move(det));
  });
}

LAI_API lai_status lai_autoencoder_train_images(const lai_image* images, size_t count,
                                                const lai_autoencoder_options* options, lai_autoencoder** out) {
  const char* fn = "lai_autoencoder_train_images";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(images, fn, "images");
    require(count > 0, fn, ": count is 0");
    const lai_autoencoder_options o = read_options(options, lai_autoencoder_options_init, fn, "options");
    const anomaly::AutoencoderOptions a = train_options(o, fn);
    std::vector<data::Image> imgs;
    for (size_t i = 0; i < count; ++i) {
      try {
        imgs.push_back(data::resize(image_from_view(fn, images[i]), int(a.size), int(a.size)));
      } catch (const CapiError& err) {
        fail(err.status, err.what(), " (images[", i, "])");
      }
    }
    *out = train_detector(imgs, o, a, fn);
  });
}

LAI_API lai_status lai_autoencoder_score(const lai_autoencoder* ae, const void* pixels, lai_pixel_type type,
                                         int32_t width, int32_t height, size_t stride_bytes,
                                         const lai_score_options* options, float* map, size_t map_count,
                                         double* score) {
  const char* fn = "lai_autoencoder_score";
  return guarded(fn, [&] {
    const anomaly::AutoencoderDetector& d = detector_of(ae, fn);
    check_outputs(d, map, map_count, score, fn);
    const anomaly::ScoreOptions so = score_options(options, fn);
    const data::Image img = image_from_buffer(fn, pixels, ev(type), width, height, stride_bytes);
    score_into(d, img, so, map, map_count, score, fn);
  });
}

LAI_API lai_status lai_autoencoder_score_file(const lai_autoencoder* ae, const char* path,
                                              const lai_score_options* options, float* map, size_t map_count,
                                              double* score) {
  const char* fn = "lai_autoencoder_score_file";
  return guarded(fn, [&] {
    const anomaly::AutoencoderDetector& d = detector_of(ae, fn);
    const std::string p = require_path(path, fn);
    check_outputs(d, map, map_count, score, fn);
    const anomaly::ScoreOptions so = score_options(options, fn);
    const data::Image img = data::decode_image(p);
    try {
      score_into(d, img, so, map, map_count, score, fn);
    } catch (const Error& e) {
      fail(LAI_ERR_INVALID_ARGUMENT, e.what());
    }
  });
}

LAI_API lai_status lai_autoencoder_assess(const lai_autoencoder* ae, const lai_image* image, const lai_options* options,
                                          char** json) {
  const char* fn = "lai_autoencoder_assess";
  return guarded(fn, [&] {
    const anomaly::AutoencoderDetector& d = detector_of(ae, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    const app::Options o = options_of(options, "anomaly-score", fn);
    const data::Image img = image_from_arg(fn, image, "image");
    const data::Image m = d.anomaly_map(img);  // resized and standardized inside
    const anomaly::Assessment a = anomaly::assess(m, app::autoencoder_calibration(o, d), app::operating_point(o));
    give_string(app::assessment_json(a, m.width, m.height, img.width, img.height).dump(), json);
  });
}

LAI_API lai_status lai_eval_detections(const lai_options* options, char** json) {
  const char* fn = "lai_eval_detections";
  return guarded(fn, [&] {
    require_ptr(json, fn, "json");
    *json = nullptr;
    give_string(app::eval_detections(options_of(options, "eval-detections", fn)).dump(), json);
  });
}

LAI_API lai_status lai_autoencoder_describe(const lai_autoencoder* ae, char** json) {
  const char* fn = "lai_autoencoder_describe";
  return guarded(fn, [&] {
    const anomaly::AutoencoderDetector& d = detector_of(ae, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    io::Json j = app::describe_model(d.model());
    j.set("kind", "autoencoder");
    j.set("map_width", d.size());
    j.set("map_height", d.size());
    j.set("calibration", d.calibration().empty() ? io::Json() : d.calibration().to_json());
    give_string(j.dump(), json);
  });
}

LAI_API lai_status lai_autoencoder_get_info(const lai_autoencoder* ae, int32_t* map_width, int32_t* map_height) {
  const char* fn = "lai_autoencoder_get_info";
  return guarded(fn, [&] {
    const anomaly::AutoencoderDetector& d = detector_of(ae, fn);
    if (map_width) *map_width = int32_t(d.size());
    if (map_height) *map_height = int32_t(d.size());
  });
}

LAI_API lai_status lai_autoencoder_save(const lai_autoencoder* ae, const char* path) {
  const char* fn = "lai_autoencoder_save";
  return guarded(fn, [&] {
    const anomaly::AutoencoderDetector& d = detector_of(ae, fn);
    d.save(require_path(path, fn));
  });
}

LAI_API lai_status lai_autoencoder_load(const char* path, lai_autoencoder** out) {
  const char* fn = "lai_autoencoder_load";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    *out = new lai_autoencoder(anomaly::AutoencoderDetector::load(p));  // io errors say what the path is
  });
}

LAI_API void lai_autoencoder_free(lai_autoencoder* ae) { delete ae; }

}  // extern "C"
