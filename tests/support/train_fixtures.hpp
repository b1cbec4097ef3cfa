#pragma once
// Shared by the training tests: a scratch path and a small learnable two-class image set.
#include <cstdlib>
#include <string>

#include "liteai/core/random.hpp"
#include "liteai/core/tensor.hpp"

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

}  // namespace train_fixtures
