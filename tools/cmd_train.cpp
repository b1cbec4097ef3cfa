// liteai train: app::train on the command line's options.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/core/parallel.hpp"

namespace {
const char* kUsage =
    "usage: liteai train --data DIR|CSV [--format auto|mnist|folder|csv] [--model NAME] --out MODEL.lai [options]\n";
const char* kExample =
    "Example: liteai train --data /usr/share/datasets/fashion-mnist --format mnist --model small_cnn \\\n"
    "           --epochs 2 --batch 64 --out fm.lai\n";
}  // namespace

LAI_COMMAND(train, "train a model (small_cnn, compact_cxr, ...) on Fashion-MNIST, a folder or a CSV manifest") {
  using namespace liteai;
  auto p = cli::parse(app::train_options(), args, kUsage, kExample);
  if (!p) return 0;
  cli::no_positional(*p, "train");
  p->options.require("data");
  p->options.require("out");
  const app::TrainOutcome t = app::train(p->options);
  if (t.rank != 0) return 0;  // --distributed: rank 0 reports
  const optim::TrainResult& r = t.result;
  if (r.cancelled) std::fprintf(stderr, "training cancelled\n");
  if (r.early_stopped) std::fprintf(stderr, "early stopping after %zu epochs\n", r.history.size());
  if (r.restored_best)
    std::printf("restored the weights of epoch %lld (best val loss: %.4f)\n", (long long)r.best_epoch, r.best_val_loss);
  int64_t seen = 0;
  for (auto& e : r.history) seen += static_cast<int64_t>(e.images_per_second * e.seconds + 0.5);
  if (!r.history.empty()) {
    const auto& last = r.history.back();
    std::printf("epochs: %lld", (long long)t.epochs_done);
    if (static_cast<int64_t>(r.history.size()) != t.epochs_done) std::printf(" (%zu in this run)", r.history.size());
    std::printf(", final train loss: %.4f, train accuracy: %.4f", last.loss, last.metric);
    if (last.val_loss >= 0) std::printf(", val loss: %.4f, val accuracy: %.4f", last.val_loss, last.val_metric);
    std::printf("\n");
  }
  std::printf("wall time: %.1f s, %lld images trained, %.3g images/s (%d threads)\n", r.seconds, (long long)seen,
              r.images_per_second, num_threads());
  if (!t.saved.empty()) std::printf("saved %s\n", t.saved.c_str());
  return 0;
}
