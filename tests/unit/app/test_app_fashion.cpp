// Real data: a small CNN trained on a Fashion-MNIST subset must reach an accuracy bound on
// held-out test images. Skipped (with a WARN) when Debian's dataset-fashion-mnist is absent.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "liteai/nn/model_io.hpp"
#include "liteai/app/data_source.hpp"

using namespace liteai;

namespace {
const char* kDir = "/usr/share/datasets/fashion-mnist";
bool have_fashion_mnist() {
  struct stat st;
  return ::stat((std::string(kDir) + "/train-images-idx3-ubyte.gz").c_str(), &st) == 0 &&
         ::stat((std::string(kDir) + "/t10k-images-idx3-ubyte.gz").c_str(), &st) == 0;
}
}  // namespace

TEST_CASE("small_cnn on 2000 Fashion-MNIST images, 1 epoch, reaches > 70% on 500 test images", "[train][data]") {
  if (!have_fashion_mnist()) {
    WARN("SKIPPED: " << kDir << " not found (apt install dataset-fashion-mnist)");
    return;
  }
  auto train = data::load_fashion_mnist(kDir, true, 2000);
  auto test = data::load_fashion_mnist(kDir, false, 500);
  REQUIRE(train->size() == 2000);
  auto model = nn::build_model("small_cnn", 28, 10, 1);
  model->class_names = train->class_names();
  model->preprocessing.standardize = false;
  optim::TrainOptions o;
  o.epochs = 1;
  o.optim.lr = 2e-3f;
  o.progress = 0;
  optim::Trainer trainer(model, o);
  optim::LoaderSource src(train, optim::loader_options_for(*model, 32, 1));
  optim::LoaderSource tsrc(test, optim::loader_options_for(*model, 250, 0, false));
  const double before = trainer.evaluate(tsrc).metric;
  optim::TrainResult r = trainer.fit(src);
  const double after = trainer.evaluate(tsrc).metric;
  INFO("test accuracy before " << before << ", after " << after << ", train loss " << r.history[0].loss);
  CHECK(before < 0.3);
  CHECK(after > 0.70);
  // the saved model predicts the same
  const char* tmp = std::getenv("LITEAI_TEST_TMP");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/fm_subset.lai";
  nn::save_model(path, *model);
  auto loaded = nn::load_model(path).model;
  CHECK(loaded->class_names[0] == "T-shirt/top");
  optim::Trainer t2(loaded, o);
  CHECK(t2.evaluate(tsrc).metric == Approx(after));
}
