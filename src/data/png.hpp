#pragma once
// PNG reading (internal to the data layer). Every PNG is checked here before any pixel buffer
// exists: the signature, a valid IHDR (size, bit depth and colour type combination), and every
// chunk's length and CRC up to IEND, so a flipped bit anywhere is refused whatever the colour type.
// Gray, gray+alpha, RGB and RGBA at 8 or 16 bits without interlacing (all radiograph PNGs) are
// decoded here with zlib, which also checks the stream's Adler-32; palette, 1/2/4-bit and
// interlaced images go to stb_image after their pixel data was inflated once here to check it
// and its size (stb would grow its buffer for a stream that inflates far beyond the image).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "liteai/data/image.hpp"

namespace liteai::data::detail {

struct PngHeader {
  uint32_t width = 0, height = 0;
  int depth = 0, color = 0, interlace = 0;
  int channels = 0;  // samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, 1 palette
  // Bytes of the filtered scanlines the pixel data must inflate to.
  uint64_t raw_bytes() const;
};

// The signature and IHDR only (what probing needs). Throws format errors naming `name`.
PngHeader png_header(const uint8_t* p, size_t n, const std::string& name);

struct PngFile {
  PngHeader header;
  std::vector<std::pair<size_t, size_t>> idat;  // (offset, length) of each IDAT's data, in order
};
// The header and every chunk: lengths within the file, CRCs, IDATs present, IEND reached.
PngFile png_scan(const uint8_t* p, size_t n, const std::string& name);

// Decodes the kinds handled here into `out` (gray, source units); false for the others.
bool png_decode(const PngFile& f, const uint8_t* p, const std::string& name, Image& out);
// For the kinds left to stb: inflates the pixel data once, refusing a bad stream, a bad checksum
// or more data than the header's size allows.
void png_check_pixel_data(const PngFile& f, const uint8_t* p, const std::string& name);

}  // namespace liteai::data::detail
