// C API: ONNX import and export (translated into app::import_onnx / app::export_onnx).
#include "capi_internal.hpp"
#include "liteai/app/onnx_tasks.hpp"

using namespace liteai;
using namespace liteai::capi;

LAI_API lai_status lai_model_import_onnx(const lai_options* options, lai_model** out) {
  const char* fn = "lai_model_import_onnx";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const app::Options o = options_of(options, "import", fn);
    *out = wrap_model(app::import_onnx(o));
  });
}

LAI_API lai_status lai_model_export_onnx(const lai_model* model, const char* path) {
  const char* fn = "lai_model_export_onnx";
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    app::Options o(app::export_options());
    o.set("out", require_path(path, fn));
    ReadAccess access(model, fn);
    app::export_onnx(m, o);
  });
}
