// C API: the ProbMat handle (build, add, merge, WPM, assessment and findings, save/load).
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/app/detection_tasks.hpp"
#include "liteai/app/dicom_tasks.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/data/codec.hpp"

using namespace liteai;
using namespace liteai::capi;

// The ProbMat and its finalized table, cached until the counts change. `mu` serializes changes;
// scoring copies the table pointer under the lock and computes outside it.
struct lai_probmat {
  anomaly::ProbMat pm;
  anomaly::ProbMatCalibration calibration;  // dropped when the counts change
  std::mutex mu;
  std::shared_ptr<const anomaly::ProbTable> table;
  anomaly::FinalizeOptions table_options;
};

namespace {

anomaly::ProbMat& probmat_of(lai_probmat* p, const char* fn) {
  require_ptr(p, fn, "pm");
  return p->pm;
}

bool same(const anomaly::FinalizeOptions& a, const anomaly::FinalizeOptions& b) {
  return a.rule == b.rule && a.fixed_bandwidth == b.fixed_bandwidth && a.min_bandwidth == b.min_bandwidth &&
         a.floor == b.floor;
}

void add_images(lai_probmat* p, const std::vector<data::Image>& imgs, const char* fn) {
  const auto& c = p->pm.config();
  for (size_t i = 0; i < imgs.size(); ++i)
    require(imgs[i].width == c.width && imgs[i].height == c.height, fn, ": image ", i, " is ", imgs[i].width, "x",
            imgs[i].height, ", the ProbMat is built for ", c.width, "x", c.height);
  std::vector<data::Image> units;
  for (const auto& im : imgs) units.push_back(app::probmat_units(c, im));
  std::vector<const data::Image*> ptrs;
  for (const auto& im : units) ptrs.push_back(&im);
  std::lock_guard<std::mutex> lock(p->mu);
  p->pm.add_batch(ptrs);
  p->table.reset();
  p->calibration = anomaly::ProbMatCalibration();
}

}  // namespace

extern "C" {

LAI_API void lai_probmat_config_init(lai_probmat_config* c, int32_t width, int32_t height) {
  if (!c) return;
  std::memset(c, 0, sizeof *c);
  c->struct_size = sizeof *c;
  anomaly::ProbMatConfig d;
  c->width = width;
  c->height = height;
  c->bins = d.bins;
  c->count_bits = d.count_bits;
  c->scale = d.scale;
  c->tolerance = d.tolerance;
  c->lo = d.lo;
  c->hi = d.hi;
}

static void probmat_config_defaults(lai_probmat_config* c) { lai_probmat_config_init(c, 0, 0); }

LAI_API lai_status lai_probmat_create(const lai_probmat_config* config, lai_probmat** out) {
  const char* fn = "lai_probmat_create";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(config, fn, "config");
    const lai_probmat_config c = read_options(config, probmat_config_defaults, fn, "config");
    anomaly::ProbMatConfig pc;
    pc.width = c.width;
    pc.height = c.height;
    pc.bins = c.bins;
    pc.count_bits = c.count_bits;
    pc.scale = c.scale;
    pc.tolerance = c.tolerance;
    pc.lo = c.lo;
    pc.hi = c.hi;
    pc.validate();
    auto p = std::make_unique<lai_probmat>();
    p->pm = anomaly::ProbMat(pc);
    *out = p.release();
  });
}

LAI_API lai_status lai_probmat_add(lai_probmat* pm, const void* pixels, lai_pixel_type type, int32_t width,
                                   int32_t height, size_t stride_bytes) {
  const char* fn = "lai_probmat_add";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    std::vector<data::Image> imgs;
    imgs.push_back(image_from_buffer(fn, pixels, ev(type), width, height, stride_bytes));
    add_images(pm, imgs, fn);
  });
}

LAI_API lai_status lai_probmat_add_batch(lai_probmat* pm, const lai_image* images, size_t count) {
  const char* fn = "lai_probmat_add_batch";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    require_ptr(images, fn, "images");
    require(count > 0, fn, ": count is 0");
    std::vector<data::Image> imgs;
    for (size_t i = 0; i < count; ++i) {
      try {
        imgs.push_back(image_from_view(fn, images[i]));
      } catch (const CapiError& err) {
        fail(err.status, err.what(), " (images[", i, "])");
      }
    }
    add_images(pm, imgs, fn);
  });
}

LAI_API lai_status lai_probmat_add_files(lai_probmat* pm, const char* const* paths, size_t count) {
  const char* fn = "lai_probmat_add_files";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    require_ptr(paths, fn, "paths");
    require(count > 0, fn, ": count is 0");
    for (size_t i = 0; i < count; ++i) require(paths[i] && paths[i][0], fn, ": paths[", i, "] is NULL or empty");
    const size_t chunk = 16;  // decoded images held at once
    for (size_t b = 0; b < count; b += chunk) {
      std::vector<data::Image> imgs;
      for (size_t i = b; i < count && i < b + chunk; ++i) imgs.push_back(data::decode_image(paths[i]));
      try {
        add_images(pm, imgs, fn);
      } catch (const CapiError& e) {
        fail(LAI_ERR_INVALID_ARGUMENT, e.what(), " (files ", b, "..)");
      }
    }
  });
}

LAI_API lai_status lai_probmat_merge(lai_probmat* pm, const lai_probmat* other) {
  const char* fn = "lai_probmat_merge";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    require_ptr(other, fn, "other");
    require(pm != other, fn, ": pm and other are the same handle");
    // Lock both in address order (two threads merging a->b and b->a must not deadlock).
    auto* o = const_cast<lai_probmat*>(other);
    std::scoped_lock lock(pm->mu, o->mu);
    pm->pm.merge(other->pm);
    pm->table.reset();
    pm->calibration = anomaly::ProbMatCalibration();
  });
}

LAI_API lai_status lai_probmat_build(const lai_options* options, lai_probmat** out) {
  const char* fn = "lai_probmat_build";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const app::Options o = options_of(options, "probmat-build", fn);
    auto p = std::make_unique<lai_probmat>();
    app::BuiltProbMat b = app::build_probmat(o, hooks_of(options));
    p->pm = std::move(b.probmat);
    p->calibration = std::move(b.calibration);
    *out = p.release();
  });
}

LAI_API lai_status lai_probmat_wpm_with(lai_probmat* pm, const lai_image* image, const lai_options* options,
                                        float* map, size_t map_count, double* score) {
  const char* fn = "lai_probmat_wpm_with";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    require(map || score, fn, ": map and score are both NULL: nothing to return");
    const app::Options o = options_of(options, "probmat-score", fn);
    const data::Image img = image_from_arg(fn, image, "image");
    const app::WpmSettings r = app::wpm_settings(o, pm->pm.config().width);
    const size_t n = size_t(img.width) * size_t(img.height);
    if (map) require(map_count >= n, fn, ": map has room for ", map_count, " floats, ", n, " needed");
    const data::Image w = probmat_wpm(fn, pm, img, r);
    if (score) *score = app::map_score(w, r);
    if (map) std::memcpy(map, w.pixels.data(), n * sizeof(float));
  });
}

namespace {
// How `probmat score` assesses a WPM of this ProbMat with these options (one place for the
// CSV line, lai_probmat_assess and the DICOM findings).
struct ProbMatScoring {
  app::WpmSettings ws;
  std::optional<app::ScoreLines> lines;
  std::string version;
};
ProbMatScoring probmat_scoring(lai_probmat* pm, const app::Options& o) {
  anomaly::ProbMatCalibration cal;
  ProbMatScoring s;
  int size = 0;
  {
    std::lock_guard<std::mutex> lock(pm->mu);
    cal = pm->calibration;
    size = pm->pm.config().width;
    s.version = app::probmat_version(pm->pm);
  }
  bool calibrated = false;
  s.ws = app::wpm_settings(o, size, cal, &calibrated);
  s.lines.emplace(o, app::wpm_scoring(cal, calibrated, s.ws));
  if (s.ws.circle_score) {
    const app::WpmSettings ws = s.ws;
    s.lines->set_score([ws](const data::Image& m) { return app::map_score(m, ws); });
  }
  return s;
}
}  // namespace

LAI_API lai_status lai_probmat_findings(lai_probmat* pm, const lai_image* map, const lai_options* options,
                                        int32_t source_width, int32_t source_height, char** json) {
  const char* fn = "lai_probmat_findings";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    const app::Options o = options_of(options, "probmat-score", fn);
    const data::Image m = image_from_arg(fn, map, "map");
    require(source_width > 0 && source_height > 0, fn, ": source size ", source_width, "x", source_height,
            " (both must be positive)");
    {
      std::lock_guard<std::mutex> lock(pm->mu);
      const auto& c = pm->pm.config();
      require(m.width == c.width && m.height == c.height, fn, ": map is ", m.width, "x", m.height,
              ", the ProbMat's maps are ", c.width, "x", c.height);
    }
    const ProbMatScoring s = probmat_scoring(pm, o);
    const anomaly::Assessment a = s.lines->assess(m);
    give_string(app::findings_to_json(app::assessment_findings("liteai probmat", s.version, a, m.width, m.height,
                                                               source_width, source_height))
                    .dump(),
                json);
  });
}

LAI_API lai_status lai_probmat_assess(lai_probmat* pm, const lai_image* image, const lai_options* options,
                                      char** json) {
  const char* fn = "lai_probmat_assess";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    const app::Options o = options_of(options, "probmat-score", fn);
    const data::Image img = image_from_arg(fn, image, "image");
    const ProbMatScoring s = probmat_scoring(pm, o);
    const data::Image w = probmat_wpm(fn, pm, img, s.ws);
    const anomaly::Assessment a = s.lines->assess(w);
    give_string(app::assessment_json(a, w.width, w.height, img.width, img.height).dump(), json);
  });
}

LAI_API lai_status lai_probmat_describe(const lai_probmat* pm, char** json) {
  const char* fn = "lai_probmat_describe";
  return guarded(fn, [&] {
    require_ptr(pm, fn, "pm");
    require_ptr(json, fn, "json");
    *json = nullptr;
    auto* p = const_cast<lai_probmat*>(pm);
    std::lock_guard<std::mutex> lock(p->mu);
    const auto& c = pm->pm.config();
    io::Json j = io::Json::object();
    j.set("kind", "probmat");
    j.set("width", c.width);
    j.set("height", c.height);
    j.set("bins", c.bins);
    j.set("count_bits", c.count_bits);
    j.set("scale", c.scale);
    j.set("tolerance", c.tolerance);
    j.set("lo", c.lo);
    j.set("hi", c.hi);
    j.set("images", static_cast<unsigned long long>(pm->pm.images()));
    j.set("description", c.describe());
    j.set("calibration", pm->calibration.empty() ? io::Json() : pm->calibration.to_json());
    io::Json m = io::Json::object();
    m.set("count_bytes", static_cast<unsigned long long>(pm->pm.memory_bytes()));
    m.set("table_bytes", static_cast<unsigned long long>(uint64_t(c.cells()) * (uint64_t(c.bins) * 2 + 8)));
    m.set("cached_table_bytes", static_cast<unsigned long long>(p->table ? p->table->memory_bytes() : 0));
    j.set("memory", std::move(m));
    give_string(j.dump(), json);
  });
}

LAI_API lai_status lai_probmat_get_info(const lai_probmat* pm, lai_probmat_config* config, uint64_t* images) {
  const char* fn = "lai_probmat_get_info";
  return guarded(fn, [&] {
    require_ptr(pm, fn, "pm");
    auto* p = const_cast<lai_probmat*>(pm);
    std::lock_guard<std::mutex> lock(p->mu);
    const auto& c = pm->pm.config();
    if (config) {
      lai_probmat_config r;
      lai_probmat_config_init(&r, c.width, c.height);
      r.bins = c.bins;
      r.count_bits = c.count_bits;
      r.scale = c.scale;
      r.tolerance = c.tolerance;
      r.lo = c.lo;
      r.hi = c.hi;
      write_result(config, r, fn, "config");
    }
    if (images) *images = pm->pm.images();
  });
}

LAI_API lai_status lai_probmat_save(const lai_probmat* pm, const char* path) {
  const char* fn = "lai_probmat_save";
  return guarded(fn, [&] {
    require_ptr(pm, fn, "pm");
    const std::string p = require_path(path, fn);
    auto* h = const_cast<lai_probmat*>(pm);
    std::lock_guard<std::mutex> lock(h->mu);
    h->pm.save(p, &h->calibration);
  });
}

LAI_API lai_status lai_probmat_load(const char* path, lai_probmat** out) {
  const char* fn = "lai_probmat_load";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    auto h = std::make_unique<lai_probmat>();
    h->pm = anomaly::ProbMat::load(p, &h->calibration);
    *out = h.release();
  });
}

LAI_API void lai_probmat_free(lai_probmat* pm) { delete pm; }

LAI_API void lai_wpm_options_init(lai_wpm_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  anomaly::WpmOptions w;
  anomaly::ScoreOptions s;
  anomaly::FinalizeOptions f;
  o->kind = LAI_WPM_NEGLOG;
  o->eps = w.eps;
  o->smooth_sigma = w.smooth_sigma;
  o->score = LAI_SCORE_TOPK_MEAN;
  o->percentile = s.percentile;
  o->top_fraction = s.top_fraction;
  o->bandwidth = LAI_BANDWIDTH_SILVERMAN;
  o->fixed_bandwidth = f.fixed_bandwidth;
  o->floor = f.floor;
}

LAI_API lai_status lai_probmat_wpm(lai_probmat* pm, const void* pixels, lai_pixel_type type, int32_t width,
                                   int32_t height, size_t stride_bytes, const lai_wpm_options* options, float* map,
                                   size_t map_count, double* score) {
  const char* fn = "lai_probmat_wpm";
  return guarded(fn, [&] {
    probmat_of(pm, fn);
    const app::WpmSettings r = wpm_request(fn, options);
    require(map || score, fn, ": map and score are both NULL: nothing to return");
    data::Image img = image_from_buffer(fn, pixels, ev(type), width, height, stride_bytes);
    const size_t n = size_t(width) * size_t(height);
    if (map) require(map_count >= n, fn, ": map has room for ", map_count, " floats, ", n, " needed");
    data::Image w = probmat_wpm(fn, pm, img, r);
    if (score) *score = anomaly::image_score(w, r.score);
    if (map) std::memcpy(map, w.pixels.data(), n * sizeof(float));
  });
}

}  // extern "C"

namespace liteai::capi {

app::WpmSettings wpm_request(const char* fn, const lai_wpm_options* options) {
  const lai_wpm_options o = read_options(options, lai_wpm_options_init, fn, "options");
  require(ev(o.kind) == LAI_WPM_NEGLOG || ev(o.kind) == LAI_WPM_ONE_MINUS_REL, fn, ": unknown WPM kind ", int(ev(o.kind)));
  require(ev(o.score) >= LAI_SCORE_TOPK_MEAN && ev(o.score) <= LAI_SCORE_MEAN, fn, ": unknown score method ", int(ev(o.score)));
  require(ev(o.bandwidth) >= LAI_BANDWIDTH_SILVERMAN && ev(o.bandwidth) <= LAI_BANDWIDTH_FIXED, fn,
          ": unknown bandwidth rule ", int(ev(o.bandwidth)));
  require(std::isfinite(o.eps) && o.eps >= 0, fn, ": eps must be >= 0");
  require(std::isfinite(o.smooth_sigma) && o.smooth_sigma >= 0 && o.smooth_sigma <= 1000, fn,
          ": smooth_sigma must be in [0, 1000]");
  require(o.percentile >= 0 && o.percentile <= 100, fn, ": percentile must be in [0, 100]");
  require(o.top_fraction > 0 && o.top_fraction <= 1, fn, ": top_fraction must be in (0, 1]");
  require(std::isfinite(o.fixed_bandwidth) && o.fixed_bandwidth > 0, fn, ": fixed_bandwidth must be > 0");
  require(std::isfinite(o.floor) && o.floor > 0 && o.floor < 1, fn, ": floor must be in (0, 1)");
  app::WpmSettings r;
  r.finalize.rule = ev(o.bandwidth) == LAI_BANDWIDTH_SCOTT   ? anomaly::Bandwidth::Scott
                    : ev(o.bandwidth) == LAI_BANDWIDTH_FIXED ? anomaly::Bandwidth::Fixed
                                                             : anomaly::Bandwidth::Silverman;
  r.finalize.fixed_bandwidth = o.fixed_bandwidth;
  r.finalize.floor = o.floor;
  r.wpm.kind = ev(o.kind) == LAI_WPM_ONE_MINUS_REL ? anomaly::WpmKind::OneMinusRel : anomaly::WpmKind::NegLog;
  r.wpm.eps = o.eps;
  r.wpm.smooth_sigma = o.smooth_sigma;
  r.score.method = ev(o.score) == LAI_SCORE_PERCENTILE ? anomaly::ScoreMethod::Percentile
                   : ev(o.score) == LAI_SCORE_MAX      ? anomaly::ScoreMethod::Max
                   : ev(o.score) == LAI_SCORE_MEAN     ? anomaly::ScoreMethod::Mean
                                                       : anomaly::ScoreMethod::TopKMean;
  r.score.percentile = o.percentile;
  r.score.top_fraction = o.top_fraction;
  return r;
}

data::Image probmat_wpm(const char* fn, lai_probmat* pm, const data::Image& img, const app::WpmSettings& r) {
  require_ptr(pm, fn, "pm");
  std::shared_ptr<const anomaly::ProbTable> table;
  {
    std::lock_guard<std::mutex> lock(pm->mu);
    const auto& c = pm->pm.config();
    require(img.width == c.width && img.height == c.height, fn, ": image is ", img.width, "x", img.height,
            ", the ProbMat is built for ", c.width, "x", c.height);
    require(pm->pm.images() > 0, fn, ": the ProbMat holds no images yet");
    if (!pm->table || !same(pm->table_options, r.finalize)) {
      pm->table = std::make_shared<const anomaly::ProbTable>(pm->pm.finalize(r.finalize));
      pm->table_options = r.finalize;
    }
    table = pm->table;
  }
  return anomaly::wpm(*table, app::probmat_units(table->config(), img), r.wpm);
}

}  // namespace liteai::capi
