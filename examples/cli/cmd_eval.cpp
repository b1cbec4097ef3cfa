// liteai eval: accuracy (and loss) of a saved model on a data set.
#include <chrono>
#include <cstdio>

#include "command.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/nn/model_io.hpp"
#include "liteai/optim/data_source.hpp"
#include "nn_common.hpp"

namespace {
const char* kHelp =
    "usage: liteai eval --model MODEL.lai --data DIR [--format auto|mnist|folder|csv] [--split test|train]\n"
    "                   [--batch 256] [--limit N] [--threads T]\n"
    "\n"
    "Runs the model over the data set and prints `accuracy: 0.xxxx`, the mean loss, the wall time and\n"
    "images/s. For --format mnist, --split picks the IDX files (t10k-* for test, the default).\n"
    "The data set's classes must match the model's (same count).\n";
}

LAI_COMMAND(eval, "evaluate a saved model on a data set (accuracy, loss, images/s)") {
  using namespace liteai;
  cli::Options o(args, {"model", "data", "format", "split", "batch", "limit", "threads"}, {"quiet"});
  if (o.has("help")) {
    std::printf("%s", kHelp);
    return 0;
  }
  LAI_CHECK(o.has("model"), "eval: --model MODEL.lai is required (liteai eval --help)");
  LAI_CHECK(o.has("data"), "eval: --data DIR is required (liteai eval --help)");
  if (o.has("threads")) set_num_threads(static_cast<int>(o.get_int("threads", 0)));
  nn::SavedModel saved = nn::load_model(o.get("model"), false);
  nn::Model& model = *saved.model;
  const std::string dir = o.get("data");
  const std::string format = cli::resolve_format(dir, o.get("format", "auto"));
  data::DatasetPtr ds = cli::open_data(dir, format, o.get("split", "test"), static_cast<size_t>(o.get_int("limit", 0)));
  LAI_CHECK(model.head() == "none" || static_cast<int64_t>(ds->num_classes()) == model.num_classes(), "eval: the data has ",
            ds->num_classes(), " classes, the model ", model.num_classes(), " (", o.get("model"), ")");
  const int batch = static_cast<int>(o.get_int("batch", 256));
  LAI_CHECK(batch > 0, "eval: --batch must be positive");
  optim::LoaderSource src(ds, optim::loader_options_for(model, batch, 0, false));
  optim::TrainOptions t;
  optim::Trainer runner(saved.model, t);
  const auto t0 = std::chrono::steady_clock::now();
  optim::EvalResult r = runner.evaluate(src);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (model.head() != "none") std::printf("accuracy: %.4f\n", r.metric);
  std::printf("loss: %.4f\n", r.loss);
  std::printf("samples: %lld, wall time: %.2f s, %.0f images/s (%d threads)\n", (long long)r.samples, secs,
              r.samples / std::max(1e-9, secs), num_threads());
  return 0;
}
