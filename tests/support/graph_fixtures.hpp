#pragma once
// Shared by the graph tests (nn, transform): node attributes written inline, the message of an
// expected error, and the relative difference two networks' outputs are compared by.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "liteai/core/error.hpp"
#include "liteai/core/tensor.hpp"
#include "liteai/io/json.hpp"

namespace graph_fixtures {

inline liteai::io::Json attrs(std::initializer_list<std::pair<const char*, liteai::io::Json>> kv) {
  liteai::io::Json a = liteai::io::Json::object();
  for (const auto& [k, v] : kv) a.set(k, v);
  return a;
}
inline liteai::io::Json ints(std::vector<int64_t> v) { return liteai::io::Json::array_of(v); }

// The message of the liteai::Error f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const liteai::Error& e) {
    return e.what();
  }
  return "";
}

// Largest |a - b| relative to the largest |b|.
inline double max_rel_diff(const liteai::Tensor& a, const liteai::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector(), y = b.to_vector();
  double m = 0, scale = 1e-30;
  for (size_t i = 0; i < x.size(); ++i) {
    m = std::max(m, std::fabs(double(x[i]) - y[i]));
    scale = std::max(scale, std::fabs(double(y[i])));
  }
  return m / scale;
}

}  // namespace graph_fixtures
