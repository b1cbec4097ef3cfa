#pragma once
// Loader: batches of preprocessed images from a Dataset, decoded in parallel (the library's
// oneTBB arena) by a producer thread that keeps at most `prefetch` ready batches in a bounded
// queue, so decoding overlaps training and memory is O(batch_size x prefetch), never O(data set).
//
//   data::Loader loader(ds, {.batch_size = 16, .width = 512, .height = 512, .seed = 7});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.reset(epoch);                      // reshuffles with (seed, epoch)
//     while (auto batch = loader.next()) train_step(batch->images, batch->targets);
//   }
//
// Determinism: the sample order depends only on (seed, epoch); each sample's augmentation only
// on (seed, epoch, sample index). Thread count and timing change neither.
// A Loader is used from one thread at a time (the producer is internal). Don't call
// liteai::set_num_threads while a Loader is producing (it rebuilds the arena the producer uses):
// set it before creating the Loader. Batch image tensors are recycled once every reference to a
// batch is gone, so keep (or clone) a batch as long as you read it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "liteai/core/tensor.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/roi.hpp"
#include "liteai/data/transforms.hpp"

namespace liteai::data {

struct LoaderOptions {
  int batch_size = 16;
  int width = 512;   // every image is resized to width x height
  int height = 512;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;  // drop a final batch smaller than batch_size
  int prefetch = 2;        // ready batches queued ahead of the consumer (>= 1)
  bool standardize = true; // per-image standardization; false: scale to [0, 1]
  AugmentOptions augment;  // off by default
  // Bad files (corrupt, truncated, empty, unsupported, missing, over a limit): false = next()
  // rethrows the file's error; true = skip it, count it (skipped(), skip_report()), log the first.
  bool skip_bad = false;
  // 0: decode with liteai::parallel_for in the library arena; 1: in the producer thread only.
  int decode_threads = 0;
  // Data-parallel training: this reader takes positions shard, shard + shards, shard + 2 shards...
  // of each epoch's (shuffled) order, so the k-th batches of all shards together hold the samples
  // of the k-th batch of one reader with shards x batch_size.
  int shard = 0, shards = 1;
  // ROI-guided input (roi.hpp), when active: each sample is roi.planes() planes of width x height
  // (the whole image and its k most anomalous regions), the batch [N, 1 + k, H, W]. It takes no
  // augmentation (the regions are chosen on the image as it is).
  RoiInput roi;
  // Input channels of the model: a gray sample is replicated over them (a 3-channel import
  // trained on radiographs, as predict does). 1..4; not with ROI input.
  int channels = 1;
  int planes() const { return roi.planes() * channels; }  // per sample: [N, planes(), H, W]
  int64_t sample_floats() const { return int64_t(planes()) * width * height; }
};

struct Batch {
  Tensor images;   // [N, channels, H, W] float32 ([N, 1 + k, H, W] with ROI input)
  Tensor labels;   // [N] float32 class index (the first label; -1 when a sample has none)
  Tensor targets;  // [N, C] float32 multi-hot (one-hot for single-label data)
  std::vector<std::string> paths;
  std::vector<size_t> indices;  // data-set indices of the rows
  int64_t epoch = 0;
  int64_t number = 0;  // position of this batch in its epoch
  int64_t size() const { return static_cast<int64_t>(paths.size()); }
};

class Loader {
 public:
  explicit Loader(DatasetPtr dataset, LoaderOptions options = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) epoch `epoch`: drops queued batches and begins producing anew.
  void reset(int64_t epoch = 0);
  // The next batch of the current epoch, or nullopt at its end (call reset for the next one).
  // Starts epoch 0 if reset was never called. Rethrows a decoding error (naming the file).
  std::optional<Batch> next();

  // Batches in a full epoch (with skip_bad, an upper bound).
  int64_t batches_per_epoch() const;
  // The order in which data-set indices are visited in `epoch`.
  std::vector<size_t> epoch_order(int64_t epoch) const;
  size_t skipped() const;                 // bad files skipped so far (all epochs)
  std::string first_skipped_error() const;
  // The skipped files by error kind ("format error": 3), the first few with their messages.
  ScanReport skip_report() const;
  const Dataset& dataset() const;
  const LoaderOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Decodes and preprocesses one sample exactly as the loader does (for inference and tests).
// `out` receives opt.sample_floats() floats.
void load_sample_into(const Dataset& ds, size_t index, const LoaderOptions& opt, int64_t epoch, float* out,
                      std::vector<int>* labels = nullptr);

}  // namespace liteai::data
