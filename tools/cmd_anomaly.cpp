// liteai anomaly train|score: anomaly maps from a convolutional autoencoder trained on normal
// images (reconstruction error), with the same outputs as `liteai probmat score` so the two
// methods can be compared side by side.
#include <cstdio>

#include "anomaly_common.hpp"
#include "command.hpp"
#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"

namespace {
namespace ac = liteai::cli::anomaly_common;
using namespace liteai;

const char* kUsage =
    "usage: liteai anomaly train --data DIR|CSV --out AE.lai [options]\n"
    "       liteai anomaly score --model AE.lai --out DIR [options] IMAGE|DIR...\n"
    "\n"
    "train: fits a convolutional autoencoder to NORMAL images only (a flat folder of images, a\n"
    "class-folder tree or a CSV manifest; --label NAME keeps only that class, e.g. normal).\n"
    "  --size S (128, multiple of 4)  --width W (16)  --epochs E (10)  --batch B (16)  --lr LR (0.002)\n"
    "  --max-images N (2000: the training set is held in memory)  --seed K (1)  --threads N\n"
    "  --denoise-std X (1: blob noise added to training inputs so the net redraws anatomy; 0: plain)\n"
    "  --no-spread-calibration (divide the error by the normal mean only, not by its spread)\n"
    "score: for each image writes DIR/<name>_wpm.npy (float32 S x S: calibrated squared\n"
    "reconstruction error), DIR/<name>_heatmap.png and DIR/<name>_overlay.png, and prints\n"
    "'path,score' CSV lines (with a header) to stdout.\n"
    "  --score topk|percentile|max|mean (topk)  --top F (0.001)  --percentile P (99.9)\n"
    "  --normals DIR (sets the overlay threshold at --fpr (0.001) pixel false-positive rate)  --no-png\n";

int train(const cli::Options& o) {
  LAI_CHECK(o.has("data"), "anomaly train: --data DIR|CSV is required (liteai anomaly --help)");
  LAI_CHECK(o.has("out"), "anomaly train: --out AE.lai is required");
  // Options first: a bad flag fails before any image is read.
  anomaly::AutoencoderOptions ao;
  ao.size = o.get_int("size", 128);
  ao.width = o.get_int("width", 16);
  ao.epochs = o.get_int("epochs", 10);
  ao.batch = o.get_int("batch", 16);
  ao.lr = static_cast<float>(o.get_double("lr", 2e-3));
  ao.seed = static_cast<uint64_t>(o.get_int("seed", 1));
  ao.denoise_std = static_cast<float>(o.get_double("denoise-std", ao.denoise_std));
  LAI_CHECK(ao.denoise_std >= 0.f, "anomaly train: --denoise-std must be >= 0, got ", ao.denoise_std);
  ao.calibrate_variance = !o.has("no-spread-calibration");
  data::DatasetPtr ds = ac::open_images(o.get("data"), "anomaly train");
  int keep = -1;
  if (o.has("label")) {
    const auto& names = ds->class_names();
    for (size_t k = 0; k < names.size(); ++k)
      if (names[k] == o.get("label")) keep = static_cast<int>(k);
    LAI_CHECK(keep >= 0, "anomaly train: no class '", o.get("label"), "' in ", o.get("data"));
  }
  const size_t max_images = static_cast<size_t>(o.get_int("max-images", 2000));
  std::vector<data::Image> images;
  for (size_t i = 0; i < ds->size() && images.size() < max_images; ++i) {
    if (keep >= 0) {
      auto l = ds->labels(i);
      if (l.size() != 1 || l[0] != keep) continue;
    }
    images.push_back(ds->get(i).image);
  }
  LAI_CHECK(!images.empty(), "anomaly train: no training images in ", o.get("data"));
  std::fprintf(stderr, "anomaly train: %zu normal images at %lldx%lld\n", images.size(),
               static_cast<long long>(ao.size), static_cast<long long>(ao.size));
  auto det = anomaly::AutoencoderDetector::train(images, ao);
  det.save(o.get("out"));
  std::fprintf(stderr, "anomaly train: wrote %s\n", o.get("out").c_str());
  return 0;
}

int score(const cli::Options& o) {
  LAI_CHECK(o.has("model"), "anomaly score: --model AE.lai is required (liteai anomaly --help)");
  LAI_CHECK(o.has("out"), "anomaly score: --out DIR is required");
  LAI_CHECK(o.positional().size() >= 2, "anomaly score: give at least one IMAGE or DIR to score");
  auto det = anomaly::AutoencoderDetector::load(o.get("model"));
  anomaly::ScoreOptions so;
  const std::string method = o.get("score", "topk");
  if (method == "topk") so.method = anomaly::ScoreMethod::TopKMean;
  else if (method == "percentile") so.method = anomaly::ScoreMethod::Percentile;
  else if (method == "max") so.method = anomaly::ScoreMethod::Max;
  else LAI_CHECK(method == "mean", "anomaly score: --score must be topk, percentile, max or mean, got '", method, "'");
  if (method == "mean") so.method = anomaly::ScoreMethod::Mean;
  so.top_fraction = o.get_double("top", 0.001);
  so.percentile = o.get_double("percentile", 99.9);
  auto map_of = [&](const std::string& path) { return det.anomaly_map(data::decode_image(path)); };
  float threshold = 0.f;
  if (o.has("normals")) {
    std::vector<data::Image> normals;
    for (const auto& p : ac::expand_images({o.get("normals")}, "anomaly score")) normals.push_back(map_of(p));
    const double fpr = o.get_double("fpr", 0.001);
    threshold = static_cast<float>(anomaly::pixel_threshold_for_fpr(normals, fpr));
    std::fprintf(stderr, "anomaly score: threshold %.4g (pixel false-positive rate %g on %zu normal images)\n",
                 threshold, fpr, normals.size());
  }
  std::vector<std::string> inputs(o.positional().begin() + 1, o.positional().end());
  ac::MapWriter writer(o.get("out"), !o.has("no-png"), "anomaly score");
  const int s = static_cast<int>(det.size());
  for (const std::string& path : ac::expand_images(inputs, "anomaly score")) {
    const data::Image img = ac::load_unit(path, s, s);
    const data::Image m = det.anomaly_map(img);
    writer.write(path, img, m, anomaly::image_score(m, so), threshold);
  }
  return 0;
}
}  // namespace

LAI_COMMAND(anomaly, "autoencoder anomaly maps (train on normal images, score images)") {
  cli::Options o(args,
                 {"data", "out", "label", "size", "width", "epochs", "batch", "lr", "max-images", "seed", "threads",
                  "model", "score", "top", "percentile", "normals", "fpr", "denoise-std"},
                 {"no-png", "no-spread-calibration"});
  if (o.has("help") || o.positional().empty()) {
    std::printf("%s", kUsage);
    return o.has("help") ? 0 : 2;
  }
  if (o.has("threads")) set_num_threads(static_cast<int>(o.get_int("threads", 0)));
  const std::string action = o.positional()[0];
  if (action == "train") return train(o);
  if (action == "score") return score(o);
  throw_error(str_cat("unknown action '", action, "' (train or score; liteai anomaly --help)"));
}
