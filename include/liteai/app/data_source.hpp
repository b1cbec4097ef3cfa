#pragma once
// Glue between the data layer (data::Loader) and the Trainer (BatchSource), in the task layer so the
// optim layer does not depend on the data layer (they sit side by side).
//
//   auto ds = data::load_fashion_mnist(dir, /*train=*/true);
//   optim::LoaderSource src(ds, optim::loader_options_for(*model, 64, /*seed=*/1));
//   trainer.fit(src);
#include <memory>
#include <optional>

#include "liteai/app/roi_input.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::optim {

// Loader options that produce what `model` expects (its input size, channels and standardization,
// and the ROI planes of an ROI model).
inline data::LoaderOptions loader_options_for(const nn::Model& model, int batch_size, uint64_t seed,
                                              bool shuffle = true) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.width = static_cast<int>(model.preprocessing.width);
  o.height = static_cast<int>(model.preprocessing.height);
  o.standardize = model.preprocessing.standardize;
  o.seed = seed;
  o.shuffle = shuffle;
  o.roi = app::roi_input(model);
  if (!o.roi.active()) o.channels = static_cast<int>(model.preprocessing.channels);
  return o;
}

class LoaderSource : public BatchSource {
 public:
  LoaderSource(data::DatasetPtr ds, const data::LoaderOptions& o)
      : loader_(std::make_unique<data::Loader>(std::move(ds), o)) {}
  void reset(int64_t epoch) override { loader_->reset(epoch); }
  std::optional<TrainBatch> next() override {
    std::optional<data::Batch> b = loader_->next();
    if (!b) return std::nullopt;
    TrainBatch t;
    t.images = b->images;
    t.labels = b->labels;
    t.targets = b->targets;
    t.paths = std::move(b->paths);
    return t;
  }
  int64_t batches_per_epoch() const override { return loader_->batches_per_epoch(); }
  size_t skipped() const override { return loader_->skipped(); }
  data::Loader& loader() { return *loader_; }

 private:
  std::unique_ptr<data::Loader> loader_;
};

}  // namespace liteai::optim
