// Explanations (issue 18): lai_model_explain, Grad-CAM through the task "explain".
#include <cmath>

#include "capi_internal.hpp"
#include "liteai/app/explain_tasks.hpp"

using namespace liteai;
using namespace liteai::capi;

extern "C" {

LAI_API lai_status lai_model_explain(const lai_model* model, const lai_image* image, const lai_options* options,
                                     float* out, size_t count, int32_t* class_index, float* probability) {
  const char* fn = "lai_model_explain";
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    const data::Image img = image_from_arg(fn, image, "image");
    require_ptr(out, fn, "out");
    const size_t need = size_t(img.width) * size_t(img.height);
    require(count >= need, fn, ": count is ", count, ", the map of a ", img.width, "x", img.height, " image needs ",
            need, " floats");
    const app::Options o = options_of(options, "explain", fn);
    ReadAccess access(model, fn);
    const app::Explanation e = app::explain_image(m, img, o);
    std::copy(e.map.pixels.begin(), e.map.pixels.end(), out);
    if (class_index) *class_index = int32_t(e.cam.class_index);
    if (probability) *probability = e.cam.probability;
  });
}

}  // extern "C"
