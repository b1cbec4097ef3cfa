#include "liteai/distill/teacher.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/nn/losses.hpp"

namespace liteai::distill {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string file_name(const std::string& p) { return fs::path(p).filename().string(); }

}  // namespace

LogitsTable LogitsTable::load(const std::string& path, const std::vector<std::string>& class_names) {
  LogitsTable t;
  const int64_t C = int64_t(class_names.size());
  LAI_CHECK(C > 0, path, ": the student has no classes to distil");
  std::vector<int64_t> to_student(static_cast<size_t>(C), 0);  // file column -> student class
  if (fs::path(path).extension() == ".npy") {
    Shape shape;
    t.values_ = data::read_npy(path, &shape);
    LAI_CHECK_FORMAT(shape.size() == 2, path, ": teacher logits must be a [N, C] matrix, got ", to_string(shape));
    LAI_CHECK_FORMAT(shape[1] == C, path, ": ", shape[1], " logit columns, the student has ", C, " classes");
    const std::string ids = (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".ids.txt")).string();
    std::ifstream in(ids);
    LAI_CHECK_IO(in.good(), ids, ": cannot open the image ids of ", path, " (one id per line)");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) t.ids_.push_back(line);
    }
    LAI_CHECK_FORMAT(int64_t(t.ids_.size()) == shape[0], ids, ": ", t.ids_.size(), " ids for ", shape[0], " rows of ",
                     path);
    t.classes_ = C;
  } else {
    std::ifstream in(path);
    LAI_CHECK_IO(in.good(), path, ": cannot open the teacher logits");
    std::string line;
    LAI_CHECK_FORMAT(std::getline(in, line), path, ": empty file (expected a header image_id,<class>,...)");
    const std::vector<std::string> head = split_csv_line(line);
    LAI_CHECK_FORMAT(head.size() >= 2 && head[0] == "image_id", path,
                     ": the header must start with image_id, then one column per class");
    LAI_CHECK_FORMAT(int64_t(head.size()) - 1 == C, path, ": ", head.size() - 1, " logit columns, the student has ", C,
                     " classes");
    const bool positional = head[1] == "logit_0";
    for (int64_t k = 0; k < C; ++k) {
      const std::string& name = head[size_t(k + 1)];
      if (positional) {
        LAI_CHECK_FORMAT(name == "logit_" + std::to_string(k), path, ": column ", k + 1, " is '", name, "', expected logit_",
                         k);
        to_student[size_t(k)] = k;
      } else {
        const auto it = std::find(class_names.begin(), class_names.end(), name);
        LAI_CHECK_FORMAT(it != class_names.end(), path, ": column '", name, "' is not a class of the student");
        to_student[size_t(k)] = it - class_names.begin();
      }
    }
    std::vector<int64_t> seen(size_t(C), 0);
    for (int64_t s : to_student) LAI_CHECK_FORMAT(seen[size_t(s)]++ == 0, path, ": a class appears twice in the header");
    size_t line_no = 1;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line == "\r") continue;
      const std::vector<std::string> f = split_csv_line(line);
      LAI_CHECK_FORMAT(int64_t(f.size()) == C + 1, path, " line ", line_no, ": ", f.size(), " fields, expected ", C + 1);
      LAI_CHECK_FORMAT(!f[0].empty(), path, " line ", line_no, ": empty image_id");
      t.ids_.push_back(f[0]);
      const size_t base = t.values_.size();
      t.values_.resize(base + size_t(C));
      for (int64_t k = 0; k < C; ++k) {
        char* end = nullptr;
        const float v = std::strtof(f[size_t(k + 1)].c_str(), &end);
        LAI_CHECK_FORMAT(end && *end == '\0' && !f[size_t(k + 1)].empty() && std::isfinite(v), path, " line ", line_no,
                         ": logit '", f[size_t(k + 1)], "' is not a finite number");
        t.values_[base + size_t(to_student[size_t(k)])] = v;
      }
    }
    t.classes_ = C;
  }
  LAI_CHECK_FORMAT(!t.ids_.empty(), path, ": no logit rows");
  for (size_t i = 0; i < t.ids_.size(); ++i) {
    LAI_CHECK_FORMAT(t.by_id_.emplace(t.ids_[i], i).second, path, ": image_id '", t.ids_[i], "' appears twice");
    t.by_name_.emplace(file_name(t.ids_[i]), i);  // an ambiguous file name keeps its first row
  }
  for (float v : t.values_) LAI_CHECK_FORMAT(std::isfinite(v), path, ": a logit is not finite");
  return t;
}

const float* LogitsTable::find(const std::string& p) const {
  auto it = by_id_.find(p);
  if (it == by_id_.end()) it = by_id_.find(file_name(p));
  if (it == by_id_.end()) {
    it = by_name_.find(file_name(p));
    if (it == by_name_.end()) return nullptr;
  }
  return values_.data() + it->second * size_t(classes_);
}

std::vector<std::string> LogitsTable::missing(const std::vector<std::string>& paths, size_t limit,
                                              size_t* count) const {
  std::vector<std::string> out;
  size_t n = 0;
  for (const std::string& p : paths)
    if (!find(p)) {
      ++n;
      if (out.size() < limit) out.push_back(p);
    }
  if (count) *count = n;
  return out;
}

TeacherSource::TeacherSource(std::unique_ptr<optim::BatchSource> student, std::shared_ptr<nn::Model> teacher,
                             std::unique_ptr<optim::BatchSource> teacher_input, std::vector<int64_t> columns)
    : student_(std::move(student)), teacher_input_(std::move(teacher_input)), teacher_(std::move(teacher)),
      columns_(std::move(columns)) {
  LAI_CHECK(teacher_ && teacher_->net, "distillation: no teacher model");
  teacher_->net->eval();  // inference mode for the whole run (BatchNorm statistics, no dropout)
}

TeacherSource::TeacherSource(std::unique_ptr<optim::BatchSource> student, std::shared_ptr<const LogitsTable> logits)
    : student_(std::move(student)), logits_(std::move(logits)) {}

void TeacherSource::reset(int64_t epoch) {
  student_->reset(epoch);
  if (teacher_input_) teacher_input_->reset(epoch);
}

std::optional<optim::TrainBatch> TeacherSource::next() {
  std::optional<optim::TrainBatch> b = student_->next();
  if (!b) return b;
  const int64_t n = b->images.size(0);
  if (logits_) {
    const int64_t C = logits_->classes();
    LAI_CHECK(int64_t(b->paths.size()) == n, "distillation: the batches carry no image paths to look logits up by");
    Tensor t = Tensor::empty({n, C});
    for (int64_t i = 0; i < n; ++i) {
      const float* row = logits_->find(b->paths[size_t(i)]);
      LAI_CHECK(row, "distillation: no teacher logits for image '", b->paths[size_t(i)], "'");
      std::memcpy(t.data() + i * C, row, size_t(C) * sizeof(float));
    }
    b->teacher = t;
    return b;
  }
  Tensor input = b->images;
  if (teacher_input_) {
    std::optional<optim::TrainBatch> tb = teacher_input_->next();
    LAI_CHECK(tb && tb->images.size(0) == n, "distillation: the teacher's batches fell out of step with the student's");
    input = tb->images;
  }
  autograd::NoGrad ng;
  Tensor y = teacher_->forward(input).contiguous();
  if (!columns_.empty()) {
    const int64_t C = int64_t(columns_.size()), K = y.size(1);
    Tensor r = Tensor::empty({n, C});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < C; ++k) r.data()[i * C + k] = y.data()[i * K + columns_[size_t(k)]];
    y = r;
  }
  b->teacher = y;
  return b;
}

optim::LossFn distillation_loss(nn::Head head, float temperature, float alpha) {
  return [head, temperature, alpha](const Tensor& out, const optim::TrainBatch& b) {
    LAI_CHECK(b.teacher.defined(), "distillation: the batch has no teacher logits");
    LAI_CHECK(b.teacher.shape() == out.shape(), "distillation: teacher logits ", to_string(b.teacher.shape()),
              " do not match the student's outputs ", to_string(out.shape()));
    return nn::head_distillation_loss(head, out, b.teacher, b.labels, b.targets, temperature, alpha);
  };
}

}  // namespace liteai::distill
