#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace liteai {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s);
std::string to_string(const Shape& s);          // "[8, 1, 512, 512]"
Shape contiguous_strides(const Shape& s);
// Wraps a possibly negative axis into [0, ndim); throws naming `op` when out of range.
int64_t wrap_axis(int64_t axis, int64_t ndim, const char* op);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace liteai
