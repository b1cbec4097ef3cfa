#pragma once
// Knowledge distillation as a task (distill/teacher.hpp for the teacher and the logits files):
// every option of `liteai train`, plus the teacher (a .lai model run beside the student, or a
// logits file), the temperature and alpha, and the student (a zoo name or a .lai file).
#include <memory>

#include "liteai/app/model_tasks.hpp"

namespace liteai::app {

const OptionSet& distill_options();  // task "distill"
// Trains `student` (null: made from --student, a zoo name, or loaded from a .lai file) on the
// options' data with alpha * T^2 * KL(teacher || student) + (1 - alpha) * the head's loss.
TrainOutcome distill(const Options& o, const Hooks& hooks = {}, std::shared_ptr<nn::Model> student = nullptr);

}  // namespace liteai::app
