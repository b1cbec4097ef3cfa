// liteai anomaly train|score: anomaly maps from a convolutional autoencoder trained on normal
// images (reconstruction error), with the same outputs as `liteai probmat score` so the two
// methods can be compared side by side (app/anomaly_tasks.hpp).
#include <cstdio>

#include "command.hpp"
#include "liteai/app/anomaly_tasks.hpp"

namespace {
using namespace liteai;

const char* kUsage =
    "usage: liteai anomaly train --data DIR|CSV --out AE.lai [options]\n"
    "       liteai anomaly score --model AE.lai --out DIR [options] IMAGE|DIR...\n";

int train(const cli::Args& args) {
  auto p = cli::parse(app::autoencoder_train_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "anomaly train");
  p->options.require("data");
  p->options.require("out");
  const anomaly::AutoencoderDetector det = app::train_autoencoder(p->options);
  det.save(p->options.get_text("out"));
  std::fprintf(stderr, "anomaly train: wrote %s\n", p->options.get_text("out").c_str());
  return 0;
}

int score(const cli::Args& args) {
  auto p = cli::parse(app::autoencoder_score_options(), args, kUsage);
  if (!p) return 0;
  app::Options& o = p->options;
  o.require("model");
  o.require("out");
  LAI_CHECK(!p->positional.empty(), "anomaly score: give at least one IMAGE or DIR to score");
  app::apply_common(o);
  const anomaly::AutoencoderDetector det = anomaly::AutoencoderDetector::load(o.get_text("model"));
  const anomaly::ScoreOptions so = app::score_settings(o);
  const int s = static_cast<int>(det.size());
  float threshold = 0.f;
  if (o.has("normals")) {
    std::vector<data::Image> normals;
    for (const auto& path : app::expand_image_paths({o.get_text("normals")}, "anomaly score"))
      normals.push_back(det.anomaly_map(app::load_unit_image(path, s, s)));
    threshold = app::threshold_from_normals(normals, o.get_number("fpr"));
    std::fprintf(stderr, "anomaly score: threshold %.4g (pixel false-positive rate %g on %zu normal images)\n",
                 threshold, o.get_number("fpr"), normals.size());
  }
  app::MapWriter writer(o.get_text("out"), o.get_bool("png"), "anomaly score");
  std::printf("path,score\n");
  for (const std::string& path : app::expand_image_paths(p->positional, "anomaly score")) {
    const data::Image img = app::load_unit_image(path, s, s);
    const data::Image m = det.anomaly_map(img);
    writer.write(path, img, m, threshold);
    std::printf("%s,%.6g\n", path.c_str(), anomaly::image_score(m, so));
    std::fflush(stdout);
  }
  return 0;
}
}  // namespace

LAI_COMMAND(anomaly, "autoencoder anomaly maps (train on normal images, score images)") {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s\nliteai anomaly train --help and liteai anomaly score --help list the options.\n", kUsage);
    return args.empty() ? 2 : 0;
  }
  const cli::Args rest(args.begin() + 1, args.end());
  if (args[0] == "train") return train(rest);
  if (args[0] == "score") return score(rest);
  throw_error(str_cat("unknown action '", args[0], "' (train or score; liteai anomaly --help)"));
}
