// C API (0.3): the senafas anomaly channel (anomaly::Senafas) - fit from maps or from a ProbMat's
// WPMs, channel of one map, info, .lsnf files.
#include <cmath>
#include <cstring>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/anomaly/senafas.hpp"

using namespace liteai;
using namespace liteai::capi;

// Immutable once made: every call but _free is thread-safe.
struct lai_senafas {
  anomaly::Senafas senafas;
};

namespace {

const anomaly::Senafas& senafas_of(const lai_senafas* s, const char* fn) {
  require_ptr(s, fn, "senafas");
  return s->senafas;
}

// Checked options in C++ terms; `cancelled` is set when the progress callback asks to stop.
anomaly::SenafasOptions senafas_options(const char* fn, const lai_senafas_options* options, bool* cancelled) {
  lai_senafas_options o = read_options(options, lai_senafas_options_init, fn, "options");
  require(o.patch >= 1 && o.patch <= 256, fn, ": patch must be in 1..256, got ", o.patch);
  require(o.max_features >= 1 && o.max_features <= 65536, fn, ": max_features must be in 1..65536, got ",
          o.max_features);
  require(o.rows >= 1 && o.rows <= 64 && o.cols >= 1 && o.cols <= 64, fn, ": SOM grid must be 1..64 x 1..64, got ",
          o.rows, "x", o.cols);
  require(std::isfinite(o.sd_floor) && o.sd_floor >= 0 && o.sd_floor <= 1e6f, fn,
          ": sd_floor must be finite and >= 0, got ", o.sd_floor);
  require(o.epochs >= 1 && o.epochs <= 100000, fn, ": epochs must be in 1..100000, got ", o.epochs);
  anomaly::SenafasOptions s;
  s.patch = o.patch;
  s.max_features = o.max_features;
  s.rows = o.rows;
  s.cols = o.cols;
  s.sd_floor = o.sd_floor;
  s.log_scale = o.log_scale != 0;
  s.train.epochs = o.epochs;
  s.train.seed = o.seed;
  if (o.progress) {
    const lai_progress_fn cb = o.progress;
    void* user = o.user_data;
    const int epochs = o.epochs;
    s.train.progress = [cb, user, epochs, cancelled](int epoch, double qe) {
      lai_progress p;
      std::memset(&p, 0, sizeof p);
      p.struct_size = sizeof p;
      p.phase = LAI_PHASE_EPOCH;
      p.epoch = epoch + 1;  // the SOM counts from 0, lai_progress from 1
      p.epochs = epochs;
      p.step = p.global_step = epoch + 1;
      p.steps_per_epoch = 1;
      p.loss = qe;
      p.metric = std::nan("");
      p.val_loss = p.val_metric = p.eta_seconds = -1;
      if (cb(&p, user) != 0) *cancelled = true;
      return !*cancelled;
    };
  }
  return s;
}

void fit_into(const char* fn, const std::vector<data::Image>& maps, const lai_senafas_options* options,
              lai_senafas** out) {
  bool cancelled = false;
  const anomaly::SenafasOptions so = senafas_options(fn, options, &cancelled);
  require(maps.size() >= 2, fn, ": needs at least 2 normal maps for the per-cell calibration, got ", maps.size());
  for (size_t i = 1; i < maps.size(); ++i)
    require(maps[i].width == maps[0].width && maps[i].height == maps[0].height, fn, ": map ", i, " is ",
            maps[i].width, "x", maps[i].height, ", map 0 is ", maps[0].width, "x", maps[0].height);
  for (size_t i = 0; i < maps.size(); ++i)
    for (float v : maps[i].pixels) require(std::isfinite(v), fn, ": map ", i, " has a non-finite value");
  auto h = std::make_unique<lai_senafas>();
  h->senafas.fit(maps, so);
  if (cancelled) fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback");
  *out = h.release();
}

std::vector<data::Image> images_of(const char* fn, const lai_image* views, size_t count, const char* what) {
  require_ptr(views, fn, what);
  require(count <= (size_t(1) << 24), fn, ": count ", count, " is too large");
  std::vector<data::Image> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    try {
      out.push_back(image_from_view(fn, views[i]));
    } catch (const CapiError& err) {
      fail(err.status, err.what(), " (", what, "[", i, "])");
    }
  }
  return out;
}

}  // namespace

extern "C" {

LAI_API void lai_senafas_options_init(lai_senafas_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  const anomaly::SenafasOptions d;
  o->patch = d.patch;
  o->max_features = d.max_features;
  o->rows = d.rows;
  o->cols = d.cols;
  o->sd_floor = d.sd_floor;
  o->log_scale = d.log_scale ? 1 : 0;
  o->epochs = d.train.epochs;
  o->seed = d.train.seed;
}

LAI_API lai_status lai_senafas_fit(const lai_image* maps, size_t count, const lai_senafas_options* options,
                                   lai_senafas** out) {
  const char* fn = "lai_senafas_fit";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    fit_into(fn, images_of(fn, maps, count, "maps"), options, out);
  });
}

LAI_API lai_status lai_senafas_fit_probmat(lai_probmat* pm, const lai_image* images, size_t count,
                                           const lai_wpm_options* wpm_options, const lai_senafas_options* options,
                                           lai_senafas** out) {
  const char* fn = "lai_senafas_fit_probmat";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(pm, fn, "pm");
    const app::WpmSettings r = wpm_request(fn, wpm_options);
    bool unused = false;
    senafas_options(fn, options, &unused);  // bad options fail before the WPMs are computed
    std::vector<data::Image> imgs = images_of(fn, images, count, "images");
    require(imgs.size() >= 2, fn, ": needs at least 2 normal images for the per-cell calibration, got ", imgs.size());
    for (auto& im : imgs) im = probmat_wpm(fn, pm, im, r);
    fit_into(fn, imgs, options, out);
  });
}

LAI_API lai_status lai_senafas_channel(const lai_senafas* senafas, const lai_image* map, float* out,
                                       size_t out_count, int32_t* width, int32_t* height, double* score) {
  const char* fn = "lai_senafas_channel";
  return guarded(fn, [&] {
    const anomaly::Senafas& s = senafas_of(senafas, fn);
    const data::Image m = image_from_arg(fn, map, "map");
    require(m.width == s.map_width() && m.height == s.map_height(), fn, ": map is ", m.width, "x", m.height,
            ", the senafas model was fitted on ", s.map_width(), "x", s.map_height(), " maps");
    for (float v : m.pixels) require(std::isfinite(v), fn, ": map has a non-finite value");
    const size_t n = size_t(s.grid_width()) * size_t(s.grid_height());
    if (out)
      require(out_count >= n, fn, ": out has room for ", out_count, " floats, ", n, " needed (", s.grid_width(), "x",
              s.grid_height(), ")");
    if (width) *width = s.grid_width();
    if (height) *height = s.grid_height();
    if (!out && !score) return;
    const data::Image ch = s.channel(m);
    LAI_CHECK(ch.pixels.size() == n, fn, ": channel has ", ch.pixels.size(), " cells, expected ", n);
    if (score) *score = anomaly::Senafas::image_score(ch);
    if (out) std::memcpy(out, ch.pixels.data(), n * sizeof(float));
  });
}

LAI_API void lai_senafas_info_init(lai_senafas_info* info) {
  if (!info) return;
  std::memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
}

LAI_API lai_status lai_senafas_describe(const lai_senafas* senafas, char** json) {
  const char* fn = "lai_senafas_describe";
  return guarded(fn, [&] {
    const anomaly::Senafas& s = senafas_of(senafas, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    io::Json j = io::Json::object();
    j.set("kind", "senafas");
    j.set("map_width", s.map_width());
    j.set("map_height", s.map_height());
    j.set("channel_width", s.grid_width());
    j.set("channel_height", s.grid_height());
    j.set("patch", s.patch());
    j.set("features", s.dim());
    j.set("rows", s.som().config().rows);
    j.set("cols", s.som().config().cols);
    j.set("log_scale", s.log_scale());
    io::Json m = io::Json::object();
    m.set("bytes", static_cast<long long>((s.som().weights().size() + s.cell_mean().size() + s.cell_sd().size()) * 4));
    j.set("memory", std::move(m));
    give_string(j.dump(), json);
  });
}

LAI_API lai_status lai_senafas_get_info(const lai_senafas* senafas, lai_senafas_info* info) {
  const char* fn = "lai_senafas_get_info";
  return guarded(fn, [&] {
    const anomaly::Senafas& s = senafas_of(senafas, fn);
    require_ptr(info, fn, "info");
    lai_senafas_info r;
    lai_senafas_info_init(&r);
    r.map_width = s.map_width();
    r.map_height = s.map_height();
    r.channel_width = s.grid_width();
    r.channel_height = s.grid_height();
    r.patch = s.patch();
    r.features = s.dim();
    r.rows = s.som().config().rows;
    r.cols = s.som().config().cols;
    r.log_scale = s.log_scale() ? 1 : 0;
    r.floor = s.floor();
    write_result(info, r, fn, "info");
  });
}

LAI_API lai_status lai_senafas_save(const lai_senafas* senafas, const char* path) {
  const char* fn = "lai_senafas_save";
  return guarded(fn, [&] {
    const anomaly::Senafas& s = senafas_of(senafas, fn);
    s.save(require_path(path, fn));
  });
}

LAI_API lai_status lai_senafas_load(const char* path, lai_senafas** out) {
  const char* fn = "lai_senafas_load";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    auto h = std::make_unique<lai_senafas>();
    h->senafas = anomaly::Senafas::load(p);
    *out = h.release();
  });
}

LAI_API void lai_senafas_free(lai_senafas* senafas) { delete senafas; }

}  // extern "C"
