// Trainer options are checked where they live, before any work: a negative clip, NaN settings,
// output paths that cannot be written (not after the first epoch); the metrics log counts
// skipped files.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"
#include "train_fixtures.hpp"

using namespace liteai;

namespace {
std::shared_ptr<nn::Model> tiny_model() {
  nn::ArchSpec spec;
  spec.name = "small_cnn";
  spec.set("size", 8.0);
  spec.set("classes", 2.0);
  return nn::build_model(spec, 1);
}
std::pair<ErrorKind, std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::internal, "no error"};
}

// Counts one skipped sample per epoch, like a Loader with skip_bad meeting a bad file.
class SkippingSource : public optim::TensorSource {
 public:
  using TensorSource::TensorSource;
  void reset(int64_t epoch) override {
    TensorSource::reset(epoch);
    ++skipped_;
  }
  size_t skipped() const override { return skipped_; }

 private:
  size_t skipped_ = 0;
};
}  // namespace

TEST_CASE("Trainer: bad numeric options are refused naming them") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    std::function<void(optim::TrainOptions&)> set;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {[](optim::TrainOptions& o) { o.clip_norm = -1; }, "Trainer: clip_norm must be >= 0 (0: off), got -1"},
      {[&](optim::TrainOptions& o) { o.clip_norm = nan; }, "Trainer: clip_norm must be >= 0"},
      {[](optim::TrainOptions& o) { o.epochs = -1; }, "Trainer: epochs must be >= 0"},
      {[](optim::TrainOptions& o) { o.early_stopping_patience = -2; }, "Trainer: early_stopping_patience must be >= 0"},
      {[&](optim::TrainOptions& o) { o.early_stopping_min_delta = nan; }, "Trainer: early_stopping_min_delta"},
      {[](optim::TrainOptions& o) { o.progress = 7; }, "Trainer: progress must be -1 (auto), 0 or 1"},
      {[&](optim::TrainOptions& o) { o.progress_interval = nan; }, "Trainer: progress_interval"},
      {[](optim::TrainOptions& o) { o.max_steps_per_epoch = -1; }, "Trainer: max_steps_per_epoch"},
      {[](optim::TrainOptions& o) { o.stream_min_elements = -5; }, "Trainer: stream_min_elements"},
  };
  for (const auto& c : cases) {
    optim::TrainOptions o;
    c.set(o);
    auto [kind, text] = error_of([&] { optim::Trainer t(tiny_model(), o); });
    INFO(text);
    CHECK(kind == ErrorKind::invalid_argument);
    CHECK(text.find(c.expect) == 0);
  }
}

TEST_CASE("Trainer: an unwritable checkpoint or metrics path fails when the trainer is made") {
  const std::string dir = train_fixtures::tmp_path("optim_hostile");
  std::filesystem::create_directories(dir);
  optim::TrainOptions o;
  o.checkpoint = dir + "/no_such_folder/ck.lai";
  auto [k1, t1] = error_of([&] { optim::Trainer t(tiny_model(), o); });
  CHECK(k1 == ErrorKind::io);
  CHECK(t1 == "checkpoint '" + o.checkpoint + "': folder '" + dir + "/no_such_folder' does not exist");
  o.checkpoint.clear();
  o.metrics_csv = dir;  // a folder
  auto [k2, t2] = error_of([&] { optim::Trainer t(tiny_model(), o); });
  CHECK(k2 == ErrorKind::io);
  CHECK(t2 == "metrics log '" + dir + "': is a directory, not a file that can be written");
}

TEST_CASE("Trainer: the metrics log and the result count the files the sources skipped") {
  const std::string dir = train_fixtures::tmp_path("optim_hostile_skip");
  std::filesystem::create_directories(dir);
  const auto toy = train_fixtures::make_toy(8, 8, 1);
  SkippingSource src(toy.images, toy.labels, Tensor(), 4, 1);
  optim::TrainOptions o;
  o.epochs = 2;
  o.progress = 0;
  o.metrics_csv = dir + "/log.csv";
  optim::Trainer t(tiny_model(), o);
  const optim::TrainResult r = t.fit(src);
  CHECK(r.skipped == 2);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[0].skipped == 1);
  std::ifstream in(o.metrics_csv);
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  CHECK(header == "epoch,loss,metric,val_loss,val_metric,lr,seconds,images_per_second,skipped");
  CHECK(row.substr(row.rfind(',') + 1) == "1");
  CHECK(!std::filesystem::exists(o.metrics_csv + ".lock"));  // released with fit()
}
