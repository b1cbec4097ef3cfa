#pragma once
// The phantom sets the anomaly benchmarks share: normal images to learn from, other normals to
// calibrate on, and a test set alternating normal (even index) and foreign body (odd index).
#include <cstdint>
#include <vector>

#include "liteai/data/phantom.hpp"

namespace liteai::bench {

struct PhantomSeeds {
  uint64_t train, calib, test_normal, test_foreign;
};
struct PhantomSet {
  std::vector<data::Image> train, calib;
  std::vector<data::Phantom> test;  // 2 * n_test
};
PhantomSet make_phantom_set(int size, int64_t n_train, int64_t n_calib, int64_t n_test, const PhantomSeeds& seeds);

}  // namespace liteai::bench
