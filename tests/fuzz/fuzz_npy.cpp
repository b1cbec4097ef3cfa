// libFuzzer target: the .npy reader (data::parse_npy, the same code as read_npy) on any bytes
// returns an array whose size is the product of its shape, or throws liteai::Error; never a crash,
// an overflowed size or an allocation the input cannot justify.
#include <cstddef>
#include <cstdint>

#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    liteai::Shape shape;
    const std::vector<float> v = liteai::data::parse_npy(data, size, "fuzz.npy", &shape);
    uint64_t n = 1;  // an element count that overflows is the bug this guards (a (4, 2^62 + 1) shape read as 4 values)
    for (int64_t d : shape)
      if (d < 0 || __builtin_mul_overflow(n, uint64_t(d), &n)) __builtin_trap();
    if (n != v.size() || n > size / 4) __builtin_trap();
  } catch (const liteai::Error&) {
  }
  return 0;
}
