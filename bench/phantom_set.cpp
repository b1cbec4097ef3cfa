#include "phantom_set.hpp"

#include "liteai/core/parallel.hpp"

namespace liteai::bench {

PhantomSet make_phantom_set(int size, int64_t n_train, int64_t n_calib, int64_t n_test, const PhantomSeeds& seeds) {
  data::PhantomOptions normal, foreign;
  normal.size = foreign.size = size;
  normal.classes = {0};
  foreign.classes = {1};
  PhantomSet s;
  s.train.resize(static_cast<size_t>(n_train));
  s.calib.resize(static_cast<size_t>(n_calib));
  s.test.resize(static_cast<size_t>(2 * n_test));
  parallel_for(0, n_train, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) s.train[size_t(i)] = data::make_phantom(seeds.train, uint64_t(i), normal).image;
  });
  parallel_for(0, n_calib, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) s.calib[size_t(i)] = data::make_phantom(seeds.calib, uint64_t(i), normal).image;
  });
  parallel_for(0, 2 * n_test, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      s.test[size_t(i)] = i % 2 ? data::make_phantom(seeds.test_foreign, uint64_t(i / 2), foreign)
                                : data::make_phantom(seeds.test_normal, uint64_t(i / 2), normal);
  });
  return s;
}

}  // namespace liteai::bench
