// liteai predict: class probabilities of a saved model for image files.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "command.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/data_source.hpp"

namespace {
const char* kHelp =
    "usage: liteai predict --model MODEL.lai [--top K] [--threads T] IMAGE...\n"
    "\n"
    "Prints, per image, the K most probable classes (default 3) with their probabilities. Images are\n"
    "decoded, converted to gray, resized and standardized exactly as in training (the model file\n"
    "stores the preprocessing). Multi-label models give one independent probability per class.\n";
}

LAI_COMMAND(predict, "class probabilities of a saved model for image files") {
  using namespace liteai;
  cli::Options o(args, {"model", "top", "threads"}, {});
  if (o.has("help")) {
    std::printf("%s", kHelp);
    return 0;
  }
  LAI_CHECK(o.has("model"), "predict: --model MODEL.lai is required (liteai predict --help)");
  LAI_CHECK(!o.positional().empty(), "predict: give one or more image files after the options");
  if (o.has("threads")) set_num_threads(static_cast<int>(o.get_int("threads", 0)));
  nn::SavedModel saved = nn::load_model(o.get("model"), false);
  nn::Model& model = *saved.model;
  LAI_CHECK(model.head() != "none", "predict: '", o.get("model"), "' is not a classifier (head none); use the anomaly commands");
  const auto& paths = o.positional();
  std::vector<std::vector<int>> labels(paths.size(), std::vector<int>{0});  // unknown; the loader needs one
  auto ds = std::make_shared<data::FileDataset>(paths, labels, model.class_names, false);
  data::LoaderOptions lo = optim::loader_options_for(model, 1, 0, false);
  const int64_t H = model.preprocessing.height, W = model.preprocessing.width;
  const int64_t top = std::max<int64_t>(1, std::min<int64_t>(o.get_int("top", 3), model.num_classes()));
  for (size_t i = 0; i < paths.size(); ++i) {
    Tensor x = Tensor::empty({1, 1, H, W});
    data::load_sample_into(*ds, i, lo, 0, x.data());
    std::vector<float> p = model.predict(x).to_vector();
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
    std::printf("%s:", paths[i].c_str());
    for (int64_t k = 0; k < top; ++k) {
      const size_t c = order[static_cast<size_t>(k)];
      std::printf(" %s %.4f", c < model.class_names.size() ? model.class_names[c].c_str() : std::to_string(c).c_str(), p[c]);
    }
    std::printf("\n");
  }
  return 0;
}
