// libFuzzer target: image decoding through the C API (PNG 8/16-bit, JPEG, BMP, PGM/PPM):
// probe then decode; both must agree on the size, and nothing may crash or over-allocate.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "liteai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int32_t w = 0, h = 0;
  if (lai_image_decode_memory(data, size, nullptr, 0, &w, &h) != LAI_OK) return 0;
  if (w <= 0 || h <= 0) __builtin_trap();
  if (int64_t(w) * h > (int64_t(1) << 22)) return 0;  // probed fine; skip decoding huge images
  std::vector<float> px(size_t(w) * size_t(h));
  int32_t w2 = 0, h2 = 0;
  if (lai_image_decode_memory(data, size, px.data(), px.size(), &w2, &h2) == LAI_OK && (w2 != w || h2 != h))
    __builtin_trap();
  return 0;
}
