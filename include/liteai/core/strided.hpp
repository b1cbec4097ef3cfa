#pragma once
// Walks the elements of a shape in logical (row-major) order while tracking the element offsets
// of up to three strided operands: the one loop every strided copy / broadcast op needs.
#include <array>
#include <cstdint>
#include <vector>

#include "liteai/core/shape.hpp"

namespace liteai {

// fn(inner_count, off[0..K), inner_stride[0..K)) is called once per run of the innermost dimension.
template <size_t K, class Fn>
void for_each_run(const Shape& shape, const std::array<const Shape*, K>& strides, Fn&& fn) {
  const size_t nd = shape.size();
  std::array<int64_t, K> off{}, inner{};
  if (nd == 0) {
    fn(int64_t(1), off, inner);
    return;
  }
  for (int64_t d : shape)
    if (d == 0) return;
  for (size_t k = 0; k < K; ++k) inner[k] = (*strides[k])[nd - 1];
  const int64_t n_inner = shape[nd - 1];
  std::vector<int64_t> idx(nd, 0);
  while (true) {
    fn(n_inner, off, inner);
    // advance the outer index (dims nd-2 .. 0)
    int64_t d = static_cast<int64_t>(nd) - 2;
    for (; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < K; ++k) off[k] += (*strides[k])[d];
      if (idx[d] < shape[d]) break;
      for (size_t k = 0; k < K; ++k) off[k] -= (*strides[k])[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// Strides of `s` (with `strides`) broadcast to `out` (stride 0 where a dimension is broadcast).
inline Shape broadcast_strides(const Shape& s, const Shape& strides, const Shape& out) {
  Shape r(out.size(), 0);
  size_t lead = out.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) r[lead + i] = s[i] == 1 ? 0 : strides[i];
  return r;
}

}  // namespace liteai
