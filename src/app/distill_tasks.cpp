#include "liteai/app/distill_tasks.hpp"

#include <algorithm>
#include <filesystem>

#include "liteai/app/data_source.hpp"
#include "liteai/core/log.hpp"
#include "liteai/distill/teacher.hpp"

namespace liteai::app {

const OptionSet& distill_options() {
  static const OptionSet s = [] {
    OptionSet o("distill", "Trains a student with knowledge distillation (Hinton et al. 2015): "
                           "alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, s), the per-finding "
                           "binary form for sigmoid heads. Every option of `liteai train` applies.");
    o.group("distillation")
        .path("teacher", "a liteai model run in inference mode beside the student", "T.lai")
        .path("teacher-logits", "logits computed elsewhere: a CSV image_id,<class>,... or a .npy [N, C] with "
                                "<name>.ids.txt", "FILE")
        .text("student", "compact_cxr", "a zoo architecture or a .lai file to continue from")
        .number("temperature", 4, 0.01, 100, "T: softens both distributions")
        .number("alpha", 0.9, 0, 1, "weight of the teacher's term");
    o.include(train_options());
    o.hide("model");
    return o;
  }();
  return s;
}

namespace {

bool same_input(const nn::Model& a, const nn::Model& b) {
  const auto &p = a.preprocessing, &q = b.preprocessing;
  return p.width == q.width && p.height == q.height && p.channels == q.channels && p.standardize == q.standardize;
}

bool real_names(const nn::Model& m) {
  for (size_t i = 0; i < m.class_names.size(); ++i)
    if (m.class_names[i] != str_cat("class", i)) return true;
  return false;
}

}  // namespace

TrainOutcome distill(const Options& o_in, const Hooks& hooks, std::shared_ptr<nn::Model> student) {
  const std::string task = o_in.spec().task();
  const bool by_model = o_in.has("teacher"), by_logits = o_in.has("teacher-logits");
  LAI_CHECK(by_model != by_logits, task, ": give one teacher: --teacher T.lai (a model run here) or --teacher-logits "
                                         "FILE (logits computed elsewhere)");
  Options o = o_in;
  const std::string s = o.get_text("student");
  if (!student && std::filesystem::path(s).extension() == ".lai") {
    student = load_model(s);
  } else if (!student) {
    o.set("model", s, OptionStyle::cli);
  }
  const float T = float(o.get_number("temperature")), alpha = float(o.get_number("alpha"));

  std::shared_ptr<nn::Model> teacher;
  std::shared_ptr<distill::LogitsTable> logits;
  if (by_model) {
    teacher = load_model(o.get_text("teacher"));
    LAI_CHECK(teacher->head() != nn::Head::none, task, ": the teacher '", o.get_text("teacher"),
              "' has no classes (head none)");
    const nn::MemoryReport m = teacher->net->memory();
    if (progress_mode(o) != 0)
      log(LogLevel::info, str_cat("teacher: ", teacher->arch.name, ", ", m.to_string(),
                                  " (inference beside the student, no gradients)"));
  }
  // The student's head is known once the student exists (made from the data's classes): the
  // source, called first, records it for the loss.
  auto head = std::make_shared<nn::Head>(nn::Head::softmax);
  TrainRecipe recipe;
  recipe.loss = [head, T, alpha](const Tensor& out, const optim::TrainBatch& b) {
    return distill::distillation_loss(*head, T, alpha)(out, b);
  };
  recipe.source = [&](std::unique_ptr<optim::BatchSource> train, const nn::Model& stu, const DataSource& d,
                      const data::LoaderOptions& lo) -> std::unique_ptr<optim::BatchSource> {
    LAI_CHECK(stu.head() != nn::Head::none, task, ": the student has no classes (head none)");
    *head = stu.head();
    if (logits) {
      std::vector<std::string> paths;
      for (size_t i = 0; i < d.train->size(); ++i) paths.push_back(d.train->path(i));
      size_t n_missing = 0;
      const std::vector<std::string> first = logits->missing(paths, 5, &n_missing);
      if (n_missing) {
        std::string names;
        for (const auto& p : first) names += (names.empty() ? "" : ", ") + p;
        throw_error(str_cat(task, ": ", n_missing, " training image(s) have no teacher logits in ",
                            o.get_text("teacher-logits"), ": ", names, n_missing > first.size() ? ", ..." : ""));
      }
      return std::make_unique<distill::TeacherSource>(std::move(train), logits);
    }
    LAI_CHECK(teacher->head() == stu.head(), task, ": the teacher's head is ", nn::to_string(teacher->head()),
              ", the student's ", nn::to_string(stu.head()), " (both must be softmax or both sigmoid)");
    std::vector<int64_t> columns;
    if (real_names(*teacher)) {
      for (const std::string& c : stu.class_names) {
        const auto it = std::find(teacher->class_names.begin(), teacher->class_names.end(), c);
        LAI_CHECK(it != teacher->class_names.end(), task, ": the student's class '", c,
                  "' is not a class of the teacher ", o.get_text("teacher"));
        columns.push_back(it - teacher->class_names.begin());
      }
    } else {
      LAI_CHECK(teacher->num_classes() == stu.num_classes(), task, ": the teacher has ", teacher->num_classes(),
                " classes, the student ", stu.num_classes());
    }
    return teacher_beside(std::move(train), stu, teacher, d.train, lo, std::move(columns));
  };
  if (by_logits) {
    // Class names come from the data: read it once to learn them (cheap: metadata only).
    DataRequest r;
    r.task = task;
    r.seed = uint64_t(o.get_int("seed"));
    if (student && student->head() != nn::Head::none) r.class_names = student->class_names;
    const DataSource d = open_data(o, r);
    logits = std::make_shared<distill::LogitsTable>(distill::LogitsTable::load(o.get_text("teacher-logits"),
                                                                               d.all->class_names()));
  }
  recipe.parents.emplace_back("teacher", by_model ? o.get_text("teacher") : o.get_text("teacher-logits"));
  return train(o, hooks, student, &recipe);
}

std::unique_ptr<optim::BatchSource> teacher_beside(std::unique_ptr<optim::BatchSource> student_batches,
                                                   const nn::Model& student, std::shared_ptr<nn::Model> teacher,
                                                   std::shared_ptr<const data::Dataset> train,
                                                   const data::LoaderOptions& loader, std::vector<int64_t> columns) {
  std::unique_ptr<optim::BatchSource> teacher_input;
  if (!same_input(*teacher, student)) {
    data::LoaderOptions tl = loader;
    tl.width = int(teacher->preprocessing.width);
    tl.height = int(teacher->preprocessing.height);
    tl.standardize = teacher->preprocessing.standardize;
    teacher_input = std::make_unique<optim::LoaderSource>(std::move(train), tl);
  }
  return std::make_unique<distill::TeacherSource>(std::move(student_batches), std::move(teacher),
                                                  std::move(teacher_input), std::move(columns));
}

}  // namespace liteai::app
