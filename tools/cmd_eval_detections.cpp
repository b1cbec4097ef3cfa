// liteai eval-detections: image AUROC and FROC (object-CXR) of detections or maps against the
// masks of a manifest (app/detection_tasks.hpp); the summary as JSON on stdout.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/detection_tasks.hpp"

namespace {
const char* kUsage =
    "usage: liteai eval-detections --truth MANIFEST --detections FILE [--out DIR]\n"
    "       liteai eval-detections --truth MANIFEST --maps DIR [--out DIR] [circle options]\n";

int eval_detections(const liteai::cli::Args& args) {
  using namespace liteai;
  auto p = cli::parse(app::eval_detections_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "eval-detections");
  const io::Json j = app::eval_detections(p->options);
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

// (Registered by hand: the command's name is not an identifier.)
const liteai::cli::Registrar registrar("eval-detections", "image AUROC and FROC of detections against ground-truth masks",
                                       eval_detections);
}  // namespace
