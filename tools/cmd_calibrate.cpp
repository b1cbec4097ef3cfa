// liteai calibrate: app::calibrate (temperature scaling on validation data), saved in the model.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/trust_tasks.hpp"

namespace {
const char* kUsage = "usage: liteai calibrate --model MODEL.lai --data VAL_DIR|CSV --out MODEL.lai [options]\n";

const liteai::app::OptionSet& cli_options() {
  static const liteai::app::OptionSet s = [] {
    liteai::app::OptionSet o("calibrate", liteai::app::calibrate_options().summary());
    o.group("model")
        .path("model", "the model to calibrate", "MODEL.lai")
        .path("out", "where the calibrated model is written (may be --model itself)", "MODEL.lai");
    o.include(liteai::app::calibrate_options());
    return o;
  }();
  return s;
}
}  // namespace

LAI_COMMAND(calibrate, "fit temperature scaling on validation data so probabilities mean what they say") {
  using namespace liteai;
  auto p = cli::parse(cli_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "calibrate");
  for (const char* k : {"model", "data", "out"}) p->options.require(k);
  std::shared_ptr<nn::Model> model = app::load_model(p->options.get_text("model"));
  const app::CalibrationOutcome r = app::calibrate(*model, p->options);
  app::save_model(*model, p->options.get_text("out"));
  std::printf("temperature:");
  for (float t : r.temperature) std::printf(" %.4g", t);
  std::printf("\nsamples: %lld\nnll: %.4f -> %.4f\nece: %.4f -> %.4f\nbrier: %.4f -> %.4f\nsaved %s\n",
              (long long)r.samples, r.nll_before, r.nll_after, r.before.ece, r.after.ece, r.before.brier, r.after.brier,
              p->options.get_text("out").c_str());
  return 0;
}
