#pragma once
// Knowledge distillation (SPEC.md section 4): a student trains on its labels and on a teacher's
// softened outputs. The teacher is either a liteai model run in inference mode beside the
// student, on the same on-the-fly batches, or logits computed anywhere (another framework, another
// machine) and saved to a file, so a big model that never runs here can still teach.
//
// Logits files (offline distillation), either
//   CSV:  a header `image_id,<c0>,<c1>,...` then one row per image. The column names are the
//         class names (matched to the student's classes by name, any order) or logit_0,
//         logit_1, ... (the student's class order). Values are raw logits (before softmax or
//         sigmoid).
//   .npy: a float32 [N, C] matrix (NumPy format 1.0, C order) with a text file of N ids beside it
//         (`<name>.ids.txt`, one per line), columns in the student's class order.
// An image_id is the image's path as the data set lists it, or its file name; every training
// image must have a row (the missing ones are named), extra rows are ignored.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::distill {

// A table of teacher logits by image id.
class LogitsTable {
 public:
  // CSV (.csv) or .npy + .ids.txt, per the format above. class_names: the student's classes.
  static LogitsTable load(const std::string& path, const std::vector<std::string>& class_names);
  int64_t classes() const { return classes_; }
  size_t rows() const { return ids_.size(); }
  // The row of an image by its path (exact, else by file name); nullptr when absent.
  const float* find(const std::string& path) const;
  // The paths without a row (at most `limit` of them), and how many lack one.
  std::vector<std::string> missing(const std::vector<std::string>& paths, size_t limit, size_t* count) const;

 private:
  int64_t classes_ = 0;
  std::vector<std::string> ids_;
  std::vector<float> values_;  // rows x classes
  std::unordered_map<std::string, size_t> by_id_, by_name_;
};

// A batch source that adds the teacher's logits to each batch of another (TrainBatch::teacher).
class TeacherSource : public optim::BatchSource {
 public:
  // A model teacher. When its preprocessing differs from the student's (size, channels,
  // standardization), `teacher_input` is a second source over the same samples in the same order
  // with the teacher's preprocessing (the same seed and augmentation); else null (the student's
  // batches are used as they are).
  // `columns[k]`: the teacher output that is the student's class k (empty: the same order).
  TeacherSource(std::unique_ptr<optim::BatchSource> student, std::shared_ptr<nn::Model> teacher,
                std::unique_ptr<optim::BatchSource> teacher_input = nullptr, std::vector<int64_t> columns = {});
  // A logits table teacher (batches must carry paths).
  TeacherSource(std::unique_ptr<optim::BatchSource> student, std::shared_ptr<const LogitsTable> logits);
  void reset(int64_t epoch) override;
  std::optional<optim::TrainBatch> next() override;
  int64_t batches_per_epoch() const override { return student_->batches_per_epoch(); }

 private:
  std::unique_ptr<optim::BatchSource> student_, teacher_input_;
  std::shared_ptr<nn::Model> teacher_;
  std::shared_ptr<const LogitsTable> logits_;
  std::vector<int64_t> columns_;
};

// The training loss of a student with head `head`: distillation against batch.teacher
// (nn::head_distillation_loss).
optim::LossFn distillation_loss(nn::Head head, float temperature, float alpha);

}  // namespace liteai::distill
