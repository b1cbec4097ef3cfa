// Distillation teachers: logits files (CSV by class name or position, .npy + ids), the teacher
// source that puts a teacher's logits on each batch, and the loss that reads them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/distill/teacher.hpp"
#include "liteai/nn/losses.hpp"

using namespace liteai;

namespace {
std::string tmp(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  const std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") / "distill";
  std::filesystem::create_directories(p);
  return (p / name).string();
}
void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Batches of fixed tensors with paths.
class Fixed : public optim::BatchSource {
 public:
  explicit Fixed(std::vector<optim::TrainBatch> b) : b_(std::move(b)) {}
  void reset(int64_t) override { i_ = 0; }
  std::optional<optim::TrainBatch> next() override {
    if (i_ >= b_.size()) return std::nullopt;
    return b_[i_++];
  }
  int64_t batches_per_epoch() const override { return int64_t(b_.size()); }

 private:
  std::vector<optim::TrainBatch> b_;
  size_t i_ = 0;
};
}  // namespace

TEST_CASE("Logits files: CSV columns by class name or position, .npy with ids, errors name the problem",
          "[distill]") {
  const std::vector<std::string> classes = {"a", "b", "c"};
  const std::string by_name = tmp("by_name.csv");
  write(by_name, "image_id,c,a,b\nimg/x.png,3,1,2\ny.png,-1,0.5,7\n");
  distill::LogitsTable t = distill::LogitsTable::load(by_name, classes);
  REQUIRE(t.rows() == 2);
  const float* x = t.find("img/x.png");
  REQUIRE(x);
  CHECK(x[0] == 1.f);  // columns reordered into the student's class order
  CHECK(x[1] == 2.f);
  CHECK(x[2] == 3.f);
  CHECK(t.find("other/dir/x.png") == t.find("img/x.png"));  // by file name
  CHECK(t.find("z.png") == nullptr);
  size_t n = 0;
  CHECK(t.missing({"y.png", "z.png", "w.png"}, 1, &n) == std::vector<std::string>{"z.png"});
  CHECK(n == 2);

  const std::string pos = tmp("pos.csv");
  write(pos, "image_id,logit_0,logit_1,logit_2\np.png,1,2,3\n");
  CHECK(distill::LogitsTable::load(pos, classes).find("p.png")[2] == 3.f);

  const float m[6] = {1, 2, 3, 4, 5, 6};
  data::write_npy(tmp("l.npy"), m, Shape{2, 3});
  write(tmp("l.ids.txt"), "u.png\nv.png\n");
  CHECK(distill::LogitsTable::load(tmp("l.npy"), classes).find("v.png")[0] == 4.f);

  write(tmp("bad1.csv"), "image_id,a,b\np.png,1,2\n");
  CHECK_THROWS_WITH(distill::LogitsTable::load(tmp("bad1.csv"), classes), Catch::Contains("2 logit columns"));
  write(tmp("bad2.csv"), "image_id,a,b,zz\np.png,1,2,3\n");
  CHECK_THROWS_WITH(distill::LogitsTable::load(tmp("bad2.csv"), classes), Catch::Contains("'zz' is not a class"));
  write(tmp("bad3.csv"), "image_id,a,b,c\np.png,1,2,3\np.png,1,2,3\n");
  CHECK_THROWS_WITH(distill::LogitsTable::load(tmp("bad3.csv"), classes), Catch::Contains("appears twice"));
  write(tmp("bad4.csv"), "image_id,a,b,c\np.png,1,nan,3\n");
  CHECK_THROWS_WITH(distill::LogitsTable::load(tmp("bad4.csv"), classes), Catch::Contains("line 2"));
  write(tmp("bad5.csv"), "image_id,a,b,c\np.png,1,2\n");
  CHECK_THROWS_WITH(distill::LogitsTable::load(tmp("bad5.csv"), classes), Catch::Contains("3 fields, expected 4"));
  write(tmp("l2.ids.txt"), "u.png\n");
  data::write_npy(tmp("l2.npy"), m, Shape{2, 3});
  CHECK_THROWS_WITH(distill::LogitsTable::load(tmp("l2.npy"), classes), Catch::Contains("1 ids for 2 rows"));
}

TEST_CASE("Teacher source: a model teacher's logits (reordered by class) and a logits table on each batch",
          "[distill]") {
  Generator g(3);
  auto teacher = nn::build_model("small_cnn", 28, 3, 5);
  teacher->class_names = {"a", "b", "c"};
  optim::TrainBatch b;
  b.images = Tensor::empty({2, 1, 28, 28});
  for (int64_t i = 0; i < b.images.numel(); ++i) b.images.data()[i] = g.normal(0.f, 1.f);
  b.labels = Tensor::from_vector({0, 2}, {2});
  b.paths = {"x.png", "y.png"};
  Tensor direct;
  {
    autograd::NoGrad ng;
    teacher->net->eval();
    direct = teacher->forward(b.images).contiguous();
  }
  // The student's classes are c, a, b: the teacher's columns 2, 0, 1.
  distill::TeacherSource src(std::make_unique<Fixed>(std::vector<optim::TrainBatch>{b}), teacher, nullptr, {2, 0, 1});
  src.reset(0);
  auto got = src.next();
  REQUIRE(got);
  REQUIRE(got->teacher.shape() == Shape({2, 3}));
  for (int64_t i = 0; i < 2; ++i) {
    CHECK(got->teacher.data()[i * 3 + 0] == direct.data()[i * 3 + 2]);
    CHECK(got->teacher.data()[i * 3 + 1] == direct.data()[i * 3 + 0]);
    CHECK(got->teacher.data()[i * 3 + 2] == direct.data()[i * 3 + 1]);
  }
  CHECK_FALSE(src.next());

  const std::string f = tmp("src.csv");
  write(f, "image_id,a,b,c\nx.png,1,2,3\ny.png,4,5,6\n");
  auto table = std::make_shared<distill::LogitsTable>(distill::LogitsTable::load(f, {"a", "b", "c"}));
  distill::TeacherSource off(std::make_unique<Fixed>(std::vector<optim::TrainBatch>{b}), table);
  off.reset(0);
  auto ob = off.next();
  REQUIRE(ob);
  CHECK(ob->teacher.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});

  // The loss reads the batch's teacher logits; a student equal to the teacher at alpha 1 costs 0.
  Tensor s = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(distill::distillation_loss(nn::Head::softmax, 3.f, 1.f)(s, *ob).item() == Approx(0).margin(1e-6));
  optim::TrainBatch none = b;
  CHECK_THROWS_WITH(distill::distillation_loss(nn::Head::softmax, 3.f, 1.f)(s, none), Catch::Contains("no teacher"));
  optim::TrainBatch unknown = b;
  unknown.paths = {"x.png", "q.png"};
  distill::TeacherSource miss(std::make_unique<Fixed>(std::vector<optim::TrainBatch>{unknown}), table);
  miss.reset(0);
  CHECK_THROWS_WITH(miss.next(), Catch::Contains("no teacher logits for image 'q.png'"));
}
