#pragma once
// A gray image as floats, row-major. Values are in the source's intensity units
// (0..255 for 8-bit, 0..65535 for 16-bit) unless a transform says otherwise.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace liteai::data {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<float> pixels;  // width * height
  float max_value = 255.f;    // full-scale of the source (255 or 65535)

  Image() = default;
  Image(int w, int h, float fill = 0.f) : width(w), height(h), pixels(size_t(w) * size_t(h), fill) {}
  float& at(int x, int y) { return pixels[size_t(y) * size_t(width) + size_t(x)]; }
  float at(int x, int y) const { return pixels[size_t(y) * size_t(width) + size_t(x)]; }
  bool empty() const { return pixels.empty(); }
};

}  // namespace liteai::data
