// liteai distill: app::distill (knowledge distillation) on the command line's options.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/distill_tasks.hpp"

namespace {
const char* kUsage =
    "usage: liteai distill --teacher T.lai | --teacher-logits FILE --student NAME|S.lai --data DIR|CSV\n"
    "                      [--temperature 4] [--alpha 0.9] --out MODEL.lai [every option of liteai train]\n";
const char* kExample =
    "Teacher logits from elsewhere: a CSV `image_id,<class>,...` (raw logits; columns named by class or\n"
    "logit_0, logit_1, ... in the data's class order), or a float32 .npy [N, C] with <name>.ids.txt;\n"
    "an image_id is the image's path as the data lists it, or its file name. `liteai predict --logits\n"
    "FILE` writes one from a liteai model; examples/distill/teacher_logits.py from PyTorch.\n";
}  // namespace

LAI_COMMAND(distill, "train a small student from a teacher model or teacher logits (knowledge distillation)") {
  using namespace liteai;
  auto p = cli::parse(app::distill_options(), args, kUsage, kExample);
  if (!p) return 0;
  cli::no_positional(*p, "distill");
  p->options.require("data");
  p->options.require("out");
  const app::TrainOutcome t = app::distill(p->options);
  const optim::TrainResult& r = t.result;
  if (r.cancelled) std::fprintf(stderr, "distillation cancelled\n");
  if (!r.history.empty()) {
    const auto& last = r.history.back();
    std::printf("epochs: %lld, final train loss: %.4f, train accuracy: %.4f", (long long)t.epochs_done, last.loss,
                last.metric);
    if (last.val_loss >= 0) std::printf(", val loss: %.4f, val accuracy: %.4f", last.val_loss, last.val_metric);
    std::printf("\n");
  }
  std::printf("student: %s, %lld parameters\n", t.model->arch.name.c_str(), (long long)t.model->net->parameter_count());
  std::printf("wall time: %.1f s, %.3g images/s\n", r.seconds, r.images_per_second);
  if (!t.saved.empty()) std::printf("saved %s\n", t.saved.c_str());
  return 0;
}
