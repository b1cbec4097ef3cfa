#pragma once
// Knowledge distillation as a task (distill/teacher.hpp for the teacher and the logits files):
// every option of `liteai train`, plus the teacher (a .lai model run beside the student, or a
// logits file), the temperature and alpha, and the student (a zoo name or a .lai file).
#include <memory>
#include <vector>

#include "liteai/app/model_tasks.hpp"

namespace liteai::data {
class Dataset;
struct LoaderOptions;
}  // namespace liteai::data
namespace liteai::optim {
class BatchSource;
}  // namespace liteai::optim

namespace liteai::app {

const OptionSet& distill_options();  // task "distill"
// Trains `student` (null: made from --student, a zoo name, or loaded from a .lai file) on the
// options' data with alpha * T^2 * KL(teacher || student) + (1 - alpha) * the head's loss.
TrainOutcome distill(const Options& o, const Hooks& hooks = {}, std::shared_ptr<nn::Model> student = nullptr);

// A model teacher beside `student` on `student_batches` (drawn from `train` with `loader`): when
// the teacher's preprocessing differs, a second loader over the same samples in the same order
// gives it its own input. columns[k]: the teacher output that is the student's class k (empty:
// the same order). What the task trains through; also used by `liteai bench distill`.
std::unique_ptr<optim::BatchSource> teacher_beside(std::unique_ptr<optim::BatchSource> student_batches,
                                                   const nn::Model& student, std::shared_ptr<nn::Model> teacher,
                                                   std::shared_ptr<const data::Dataset> train, const data::LoaderOptions& loader,
                                                   std::vector<int64_t> columns = {});

}  // namespace liteai::app
