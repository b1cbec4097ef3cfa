// liteai predict: app::predict_files of a saved model on the command line's images.
#include <cstdio>
#include <optional>
#include <string>

#include "command.hpp"
#include "liteai/app/dicom_tasks.hpp"
#include "liteai/app/model_tasks.hpp"

namespace {
const char* kUsage =
    "usage: liteai predict --model MODEL.lai [--top K] [--precision f32|bf16|bf16-compute] [--threads T]\n"
    "                      [--dicom-out DIR] IMAGE|DIR...\n"
    "\n"
    "Prints, per image, 'path: class p class p ...': the K most probable classes with their\n"
    "probabilities, most probable first. Multi-label models give one independent probability per class.\n"
    "With --dicom-out, each DICOM image's probabilities also go to DIR/<name>_sr.dcm: a structured\n"
    "report (TID 1500) in a new series of the image's study (the C API: lai_dicom_encode_sr).\n";

const liteai::app::OptionSet& predict_cli_options() {
  static const liteai::app::OptionSet s = [] {
    liteai::app::OptionSet o("predict", liteai::app::predict_options().summary());
    o.group("model").path("model", "the model to run", "MODEL.lai");
    o.include(liteai::app::predict_options());
    o.group("output").path("dicom-out", "folder for the DICOM results (a structured report per DICOM image)", "DIR");
    return o;
  }();
  return s;
}
}  // namespace

LAI_COMMAND(predict, "class probabilities of a saved model for image files") {
  using namespace liteai;
  auto p = cli::parse(predict_cli_options(), args, kUsage);
  if (!p) return 0;
  p->options.require("model");
  LAI_CHECK(!p->positional.empty(), "predict: give one or more image files after the options");
  std::shared_ptr<nn::Model> model = app::load_model_for_predict(p->options.get_text("model"), p->options);
  const int64_t want = p->options.get_int("top");
  const int64_t top = want == 0 ? model->num_classes() : std::min<int64_t>(want, model->num_classes());
  std::optional<app::DicomWriter> dicom;
  std::string version;
  if (p->options.has("dicom-out")) {
    dicom.emplace(p->options.get_text("dicom-out"));
    version = app::model_version(*model);
  }
  for (const app::Prediction& r : app::predict_files(*model, p->positional, p->options)) {
    if (dicom) dicom->write(r.path, {app::classifier_findings(*model, version, r.probabilities)});
    std::printf("%s:", r.path.c_str());
    for (int64_t k = 0; k < top; ++k) {
      const size_t c = r.ranked[size_t(k)];
      std::printf(" %s %.4f", c < model->class_names.size() ? model->class_names[c].c_str() : std::to_string(c).c_str(),
                  r.probabilities[c]);
    }
    std::printf("\n");
  }
  return 0;
}
