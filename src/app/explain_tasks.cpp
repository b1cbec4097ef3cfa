#include "liteai/app/explain_tasks.hpp"

#include <cstdlib>
#include <limits>
#include <optional>

#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/data.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

namespace liteai::app {

const OptionSet& explain_options() {
  static const OptionSet s = [] {
    OptionSet o("explain",
                "Grad-CAM (Selvaraju et al. 2017): where in the image the model found the evidence for a class. "
                "Per image prints 'path: class p (layer L)' and with --out writes DIR/<name>_gradcam.npy (float32 "
                "in [0, 1], the image's size), DIR/<name>_heatmap.png and DIR/<name>_overlay.png.");
    o.group("explanation")
        .text("class", std::nullopt, "the class explained: a class name or index (default: the top predicted class)")
        .text("layer", std::nullopt, "the layer whose activation is weighted: a module path (conv3, stage4.act2) or a "
                                     "graph value or node (default: the last convolution's activation)")
        .number("threshold", 0.5, 0, 1, "overlay: the map is blended in where it exceeds this")
        .flag("png", "write the heatmap and overlay PNGs beside the .npy maps", true)
        .path("out", "output folder", "DIR");
    o.include(threads_option());
    return o;
  }();
  return s;
}

int64_t explain_class(const nn::Model& model, const Options& o) {
  if (!o.has("class")) return -1;
  const std::string c = o.get_text("class");
  const int64_t n = model.num_classes();
  for (size_t i = 0; i < model.class_names.size(); ++i)
    if (model.class_names[i] == c) return int64_t(i);
  char* end = nullptr;
  const long long v = std::strtoll(c.c_str(), &end, 10);
  if (!c.empty() && end && *end == '\0' && v >= 0 && v < n) return int64_t(v);
  std::string names;
  for (const auto& name : model.class_names) names += (names.empty() ? "" : ", ") + name;
  throw_error(str_cat(o.spec().task(), ": ", option_label("class", OptionStyle::cli), " '", c,
                      "' is not a class of the model (classes: ", names.empty() ? std::string("none") : names,
                      "; or an index 0..", n - 1, ")"));
}

Explanation explain_image(const nn::Model& model, const data::Image& image, const Options& o) {
  const std::string task = o.spec().task();
  LAI_CHECK(model.head() != nn::Head::none, task, ": the model is not a classifier (head none); nothing to explain");
  LAI_CHECK(image.width > 0 && image.height > 0 && image.pixels.size() == size_t(image.width) * size_t(image.height),
            task, ": the image is empty");
  nn::GradCamOptions go;
  go.class_index = explain_class(model, o);
  if (o.has("layer")) {
    go.layer = o.get_text("layer");
    LAI_CHECK(!go.layer.empty(), task, ": ", option_label("layer", OptionStyle::cli), " is empty");
  }
  Explanation e;
  e.cam = nn::grad_cam(model, model_input(model, {image}), go);
  const size_t c = size_t(e.cam.class_index);
  e.class_name = c < model.class_names.size() ? model.class_names[c] : str_cat("class", c);
  e.map = data::Image(image.width, image.height);
  e.map.max_value = 1.f;
  e.map.pixels = nn::gradcam_map(e.cam, image.width, image.height);
  return e;
}

std::vector<Explanation> explain_files(const nn::Model& model, const std::vector<std::string>& args,
                                       const Options& o) {
  apply_common(o);
  const std::string task = o.spec().task();
  LAI_CHECK(!args.empty(), task, ": give one or more image files");
  const std::vector<std::string> paths = expand_image_paths(args, task);
  std::optional<MapWriter> writer;
  if (o.has("out")) writer.emplace(o.get_text("out"), o.get_bool("png"), task, "_gradcam");
  const float threshold = float(o.get_number("threshold"));
  std::vector<Explanation> out;
  for (const std::string& p : paths) {
    const data::Image img = data::decode_image(p);
    Explanation e = explain_image(model, img, o);
    e.path = p;
    if (writer) writer->write(p, to_unit(img, -1, -1), e.map, threshold, 1.f);
    e.cam.map.clear();  // the input-size copy; e.map is the image's
    e.cam.map.shrink_to_fit();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace liteai::app
