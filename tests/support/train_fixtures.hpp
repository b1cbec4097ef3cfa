#pragma once
// Shared by the training tests: a scratch path, a small learnable two-class image set, and a run
// interrupted by a checkpoint and resumed.
#include <cstdlib>
#include <memory>
#include <string>

#include "liteai/core/random.hpp"
#include "liteai/core/tensor.hpp"
#include "liteai/optim/trainer.hpp"

namespace train_fixtures {

inline std::string tmp_path(const std::string& name) {
  const char* d = std::getenv("LITEAI_TEST_TMP");
  return std::string(d ? d : "/tmp") + "/" + name;
}

// S x S images of two classes: a bright bar on the left half (class 0) or on the right (class 1),
// at a random row, plus noise. Learnable, but not by a constant predictor.
struct Toy {
  liteai::Tensor images, labels;
};
inline Toy make_toy(int64_t n, int64_t S, uint64_t seed, float noise = 0.3f) {
  liteai::Generator g(seed);
  Toy t{liteai::Tensor::empty({n, 1, S, S}), liteai::Tensor::empty({n})};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cls = static_cast<int64_t>(g.below(2));
    const int64_t row = static_cast<int64_t>(g.below(static_cast<uint64_t>(S)));
    float* img = t.images.data() + i * S * S;
    for (int64_t k = 0; k < S * S; ++k) img[k] = g.normal(0.f, noise);
    for (int64_t x = 0; x < S / 2; ++x) img[row * S + x + cls * S / 2] += 1.5f;
    t.labels.data()[i] = static_cast<float>(cls);
  }
  return t;
}

// A run of o.epochs epochs on t (batches of `batch`, shuffled with `shuffle_seed`) interrupted
// after its first epoch: that epoch trains make(first_seed) and writes checkpoint `ck`; a Trainer
// on make(other_seed) resumes from it and trains the rest. What must equal an uninterrupted run.
struct Resumed {
  std::shared_ptr<liteai::nn::Model> model;
  std::unique_ptr<liteai::optim::Trainer> trainer;
};
template <class Make>
Resumed train_resumed(Make make, uint64_t first_seed, uint64_t other_seed, const Toy& t, liteai::optim::TrainOptions o,
                      int64_t batch, uint64_t shuffle_seed, const std::string& ck) {
  using liteai::Tensor;
  liteai::optim::TrainOptions first = o;
  first.epochs = 1;
  first.checkpoint = ck;
  {
    liteai::optim::Trainer trainer(make(first_seed), first);
    liteai::optim::TensorSource src(t.images, t.labels, Tensor(), batch, shuffle_seed);
    trainer.fit(src);
  }
  Resumed r;
  r.model = make(other_seed);
  r.trainer = std::make_unique<liteai::optim::Trainer>(r.model, o);
  r.trainer->resume(ck);
  liteai::optim::TensorSource src(t.images, t.labels, Tensor(), batch, shuffle_seed);
  r.trainer->fit(src);
  return r;
}

}  // namespace train_fixtures
