// C API: repacking (translated into app::repack).
#include "capi_internal.hpp"
#include "liteai/app/repack_tasks.hpp"
#include "liteai/nn/model_io.hpp"

using namespace liteai;
using namespace liteai::capi;

LAI_API lai_status lai_model_repack(const lai_options* options, lai_model** out, char** report) {
  const char* fn = "lai_model_repack";
  return guarded(fn, [&] {
    if (out) *out = nullptr;
    if (report) *report = nullptr;
    const app::Options o = options_of(options, "repack", fn);
    // Named here in the C API's terms (the task's own check speaks of --in / --out).
    require(o.has("in"), fn, ": the option 'in' (the model file to repack) is not set");
    require(o.has("out"), fn, ": the option 'out' (the file to write) is not set");
    const app::RepackOutcome r = app::repack(o, hooks_of(options));
    give_string(r.to_json().dump(), report);
    // The handle is what the file holds (with "bf16", the rounded weights, as fp32).
    if (out) *out = wrap_model(nn::load_model(r.out, false).model);
  });
}
