// liteai explain: app::explain_files (Grad-CAM) of a saved model on the command line's images.
#include <cstdio>
#include <string>

#include "command.hpp"
#include "liteai/app/explain_tasks.hpp"
#include "liteai/app/model_tasks.hpp"

namespace {
const char* kUsage =
    "usage: liteai explain --model MODEL.lai [--class NAME] [--layer NAME] [--threshold T] [--no-png]\n"
    "                      [--threads T] --out DIR IMAGE|DIR...\n"
    "\n"
    "Grad-CAM (Selvaraju et al. 2017): per image prints 'path: class p (layer L)', the class explained\n"
    "(default: the most probable) with its probability, and writes DIR/<name>_gradcam.npy (float32 in\n"
    "[0, 1] at the image's size), DIR/<name>_heatmap.png and DIR/<name>_overlay.png. --layer names a\n"
    "module (conv3, stage4.act2) or a graph value or node; the default is the last convolution.\n";

const liteai::app::OptionSet& explain_cli_options() {
  static const liteai::app::OptionSet s = [] {
    liteai::app::OptionSet o("explain", liteai::app::explain_options().summary());
    o.group("model").path("model", "the model to explain", "MODEL.lai");
    o.include(liteai::app::explain_options());
    return o;
  }();
  return s;
}
}  // namespace

LAI_COMMAND(explain, "Grad-CAM maps: where a saved model found the evidence for a class") {
  using namespace liteai;
  auto p = cli::parse(explain_cli_options(), args, kUsage);
  if (!p) return 0;
  p->options.require("model");
  p->options.require("out");
  LAI_CHECK(!p->positional.empty(), "explain: give one or more image files after the options");
  std::shared_ptr<nn::Model> model = app::load_model(p->options.get_text("model"));
  for (const app::Explanation& e : app::explain_files(*model, p->positional, p->options)) {
    std::printf("%s: %s %.4f (layer %s)\n", e.path.c_str(), e.class_name.c_str(), e.cam.probability,
                e.cam.layer.c_str());
    std::fflush(stdout);
  }
  return 0;
}
