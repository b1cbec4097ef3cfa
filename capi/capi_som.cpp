// C API: the SOM handle (train, map, weights, save/load).
#include <cstring>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/core/limits.hpp"

using namespace liteai;
using namespace liteai::capi;

struct lai_som {
  anomaly::Som som;
};

namespace {

const lai_som& som_of(const lai_som* s, const char* fn) {
  require_ptr(s, fn, "som");
  return *s;
}

void check_vectors(const char* fn, const anomaly::Som* som, const float* data, int64_t n, int32_t dim) {
  require_ptr(data, fn, "data");
  require(n > 0 && n <= (int64_t(1) << 40), fn, ": n must be positive, got ", n);
  require(dim > 0 && dim <= (1 << 24), fn, ": dim must be positive, got ", dim);
  require(n <= (int64_t(1) << 40) / dim, fn, ": n x dim is too large");
  const uint64_t bytes = uint64_t(n) * uint64_t(dim) * 4, max = uint64_t(limit(Limit::tensor_bytes));
  require(bytes <= max, fn, ": n x dim = ", n, " x ", dim, " floats spans ", describe_bytes(bytes),
          ", more than one buffer may (", describe_bytes(max), ", ", env_name(Limit::tensor_bytes), ")");
  if (som) require(dim == som->config().dim, fn, ": dim is ", dim, ", the SOM was trained on vectors of ", som->config().dim);
}

}  // namespace

extern "C" {

LAI_API void lai_som_options_init(lai_som_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  anomaly::SomConfig c;
  anomaly::SomTrainOptions t;
  o->rows = c.rows;
  o->cols = c.cols;
  o->topology = LAI_SOM_RECTANGULAR;
  o->neighborhood = LAI_SOM_GAUSSIAN;
  o->batch = 1;
  o->epochs = t.epochs;
  o->lr_start = t.lr_start;
  o->lr_end = t.lr_end;
  o->radius_start = t.radius_start;
  o->radius_end = t.radius_end;
  o->pca_init = 1;
  o->seed = t.seed;
}

LAI_API lai_status lai_som_train(const float* data, int64_t n, int32_t dim, const lai_som_options* options,
                                 lai_som** out) {
  const char* fn = "lai_som_train";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    check_vectors(fn, nullptr, data, n, dim);
    const lai_som_options o = read_options(options, lai_som_options_init, fn, "options");
    require(o.rows >= 1 && o.cols >= 1 && o.rows <= 1024 && o.cols <= 1024, fn, ": grid must be 1..1024 x 1..1024, got ",
            o.rows, "x", o.cols);
    require(o.epochs >= 1 && o.epochs <= 1000000, fn, ": epochs must be >= 1, got ", o.epochs);
    require(ev(o.topology) == LAI_SOM_RECTANGULAR || ev(o.topology) == LAI_SOM_HEXAGONAL, fn, ": unknown topology ",
            int(ev(o.topology)));
    require(ev(o.neighborhood) >= LAI_SOM_GAUSSIAN && ev(o.neighborhood) <= LAI_SOM_MEXICAN_HAT, fn,
            ": unknown neighborhood ", int(ev(o.neighborhood)));
    for (float v : {o.lr_start, o.lr_end, o.radius_start, o.radius_end})
      require(std::isfinite(v) && v >= 0, fn, ": learning rates and radii must be finite and >= 0");
    for (int64_t i = 0; i < n * dim; ++i)
      require(std::isfinite(data[i]), fn, ": data[", i, "] is not a finite number");
    anomaly::SomConfig c;
    c.rows = o.rows;
    c.cols = o.cols;
    c.dim = dim;
    c.topology = ev(o.topology) == LAI_SOM_HEXAGONAL ? anomaly::SomTopology::Hexagonal : anomaly::SomTopology::Rectangular;
    c.toroidal = o.toroidal != 0;
    c.neighborhood = ev(o.neighborhood) == LAI_SOM_BUBBLE       ? anomaly::SomNeighborhood::Bubble
                     : ev(o.neighborhood) == LAI_SOM_MEXICAN_HAT ? anomaly::SomNeighborhood::MexicanHat
                                                             : anomaly::SomNeighborhood::Gaussian;
    c.validate();
    anomaly::SomTrainOptions t;
    t.mode = o.batch ? anomaly::SomMode::Batch : anomaly::SomMode::Online;
    t.epochs = o.epochs;
    t.lr_start = o.lr_start;
    t.lr_end = o.lr_end;
    t.radius_start = o.radius_start;
    t.radius_end = o.radius_end;
    t.init = o.pca_init ? anomaly::SomInit::Pca : anomaly::SomInit::Random;
    t.seed = o.seed;
    bool cancelled = false;
    if (o.progress) {
      t.progress = [&](int epoch, double qe) {
        lai_progress p;
        std::memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        p.phase = LAI_PHASE_EPOCH;
        p.epoch = epoch + 1;  // the SOM counts from 0, lai_progress from 1
        p.epochs = o.epochs;
        p.step = p.global_step = epoch + 1;
        p.steps_per_epoch = 1;
        p.loss = qe;
        p.metric = std::nan("");
        p.val_loss = p.val_metric = p.eta_seconds = -1;
        if (o.progress(&p, o.user_data) != 0) cancelled = true;
        return !cancelled;
      };
    }
    auto h = std::make_unique<lai_som>();
    h->som = anomaly::Som(c);
    h->som.train(data, n, t);
    if (cancelled) fail(LAI_ERR_CANCELLED, fn, ": cancelled by the progress callback");
    *out = h.release();
  });
}

LAI_API lai_status lai_som_map(const lai_som* som, const float* data, int64_t n, int32_t dim, int32_t* bmu,
                               float* dist) {
  const char* fn = "lai_som_map";
  return guarded(fn, [&] {
    const anomaly::Som& s = som_of(som, fn).som;
    check_vectors(fn, &s, data, n, dim);
    require_ptr(bmu, fn, "bmu");
    std::vector<float> sq;
    std::vector<int> b = s.bmus(data, n, nullptr, dist ? &sq : nullptr);
    for (int64_t i = 0; i < n; ++i) bmu[i] = b[size_t(i)];
    if (dist)
      for (int64_t i = 0; i < n; ++i) dist[i] = std::sqrt(std::max(0.f, sq[size_t(i)]));
  });
}

LAI_API lai_status lai_som_describe(const lai_som* som, char** json) {
  const char* fn = "lai_som_describe";
  return guarded(fn, [&] {
    const anomaly::SomConfig& c = som_of(som, fn).som.config();
    require_ptr(json, fn, "json");
    *json = nullptr;
    io::Json j = io::Json::object();
    j.set("kind", "som");
    j.set("rows", c.rows);
    j.set("cols", c.cols);
    j.set("dim", c.dim);
    j.set("topology", c.topology == anomaly::SomTopology::Hexagonal ? "hexagonal" : "rectangular");
    j.set("toroidal", c.toroidal);
    io::Json m = io::Json::object();
    m.set("weight_bytes", static_cast<long long>(int64_t(c.rows) * c.cols * c.dim * 4));
    j.set("memory", std::move(m));
    give_string(j.dump(), json);
  });
}

LAI_API lai_status lai_som_get_info(const lai_som* som, int32_t* rows, int32_t* cols, int32_t* dim) {
  const char* fn = "lai_som_get_info";
  return guarded(fn, [&] {
    const anomaly::SomConfig& c = som_of(som, fn).som.config();
    if (rows) *rows = c.rows;
    if (cols) *cols = c.cols;
    if (dim) *dim = c.dim;
  });
}

LAI_API lai_status lai_som_weights(const lai_som* som, float* out, size_t out_count) {
  const char* fn = "lai_som_weights";
  return guarded(fn, [&] {
    const anomaly::Som& s = som_of(som, fn).som;
    require_ptr(out, fn, "out");
    const auto& w = s.weights();
    require(out_count >= w.size(), fn, ": out has room for ", out_count, " floats, ", w.size(), " needed");
    std::memcpy(out, w.data(), w.size() * sizeof(float));
  });
}

LAI_API lai_status lai_som_quantization_error(const lai_som* som, const float* data, int64_t n, int32_t dim,
                                              double* error) {
  const char* fn = "lai_som_quantization_error";
  return guarded(fn, [&] {
    const anomaly::Som& s = som_of(som, fn).som;
    check_vectors(fn, &s, data, n, dim);
    require_ptr(error, fn, "error");
    *error = s.quantization_error(data, n);
  });
}

LAI_API lai_status lai_som_save(const lai_som* som, const char* path) {
  const char* fn = "lai_som_save";
  return guarded(fn, [&] {
    const anomaly::Som& s = som_of(som, fn).som;
    s.save(require_path(path, fn));
  });
}

LAI_API lai_status lai_som_load(const char* path, lai_som** out) {
  const char* fn = "lai_som_load";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    auto h = std::make_unique<lai_som>();
    h->som = anomaly::Som::load(p);
    *out = h.release();
  });
}

LAI_API void lai_som_free(lai_som* som) { delete som; }

}  // extern "C"
