// liteai eval: app::evaluate of a saved model on the command line's data.
#include <algorithm>
#include <cstdio>

#include "command.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/core/parallel.hpp"

namespace {
const char* kUsage =
    "usage: liteai eval --model MODEL.lai --data DIR [--format auto|mnist|folder|csv] [--split test|train]\n"
    "                   [--batch 256] [--limit N] [--threads T] [--json REPORT.json] [--csv PER_CLASS.csv]\n"
    "                   [--confusion CONFUSION.csv] [--threshold 0.5] [--quiet]\n";

const liteai::app::OptionSet& eval_cli_options() {
  static const liteai::app::OptionSet s = [] {
    liteai::app::OptionSet o("eval", liteai::app::evaluate_options().summary());
    o.group("model").path("model", "the model to evaluate", "MODEL.lai");
    o.include(liteai::app::evaluate_options());
    return o;
  }();
  return s;
}
}  // namespace

LAI_COMMAND(eval, "evaluate a saved model on a data set (accuracy, loss, per-class metrics, images/s)") {
  using namespace liteai;
  auto p = cli::parse(eval_cli_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "eval");
  p->options.require("model");
  p->options.require("data");
  std::shared_ptr<nn::Model> model = app::load_model(p->options.get_text("model"));
  const app::EvalOutcome r = app::evaluate(*model, p->options);
  const optim::Evaluation& e = r.evaluation;
  const double ips = double(e.samples) / std::max(1e-9, e.seconds);
  if (e.has_report) {
    std::printf("accuracy: %.4f\n", e.report.accuracy);
    std::printf("loss: %.4f\n", e.loss);
    std::printf("samples: %lld, wall time: %.2f s, %.0f images/s (%d threads)\n", (long long)e.samples, e.seconds, ips,
                num_threads());
    if (!p->options.get_bool("quiet")) std::printf("%s", e.report.summary().c_str());
  } else {
    std::printf("loss: %.4f (mean squared reconstruction error)\n", e.loss);
    std::printf("samples: %lld, wall time: %.2f s, %.0f images/s (%d threads)\n", (long long)e.samples, e.seconds, ips,
                num_threads());
  }
  return 0;
}
