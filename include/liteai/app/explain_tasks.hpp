#pragma once
// Explanations (issue 18): Grad-CAM maps of a classifier's decision (nn/explain.hpp), for files
// (`liteai explain`), caller images (C API lai_model_explain, Python Model.explain).
//
//   Options o(explain_options()); o.set("class", "nodule");
//   for (const Explanation& e : explain_files(model, {"cxr/a.png"}, o)) ...   // e.map: image size
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/data/image.hpp"
#include "liteai/nn/explain.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

// Task "explain": class (a class name or index; default the top predicted class), layer (module
// path or graph value/node; default the last convolution's activation), threshold (overlay),
// png, out, threads.
const OptionSet& explain_options();

struct Explanation {
  std::string path;        // the file ("" for a caller image)
  nn::GradCam cam;         // layer, class, probability, the coarse map; cam.map: the input's size
  std::string class_name;  // of cam.class_index
  data::Image map;         // in [0, 1] at the image's own size (max_value 1)
};

// The class index the options' --class names for this model (-1: the top predicted class).
// Throws naming the option and listing the classes.
int64_t explain_class(const nn::Model& model, const Options& o);
// Grad-CAM of one image (any size and units: the model's preprocessing applies), the map at the
// image's size. Never changes the model (a model in eval mode: concurrent calls are safe).
Explanation explain_image(const nn::Model& model, const data::Image& image, const Options& o);
// Each file (a folder stands for its image files, sorted) explained; with --out, per image
// OUT/<name>_gradcam.npy (float32, the image's size) and, with --png (default on),
// OUT/<name>_heatmap.png and OUT/<name>_overlay.png (the map over the radiograph above --threshold),
// as `probmat score` writes its maps.
std::vector<Explanation> explain_files(const nn::Model& model, const std::vector<std::string>& paths,
                                       const Options& o);

}  // namespace liteai::app
