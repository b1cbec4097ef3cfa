#pragma once
// Image decoding and encoding (stb_image / stb_image_write underneath) plus a float32 .npy writer.
//
// Decoding always yields a gray Image: RGB/RGBA are converted to luminance (alpha is ignored),
// 16-bit sources keep their 16-bit range (max_value 65535). Every failure throws liteai::Error
// with a message "<name>: <reason>", the reason being one of: cannot open, is a directory / FIFO
// / ... (not a regular file), empty file, unsupported format, truncated file, corrupt data, or a
// resource limit (core/limits.hpp: max_file_bytes for the file, max_image_pixels for the size its
// header claims, checked before any pixel buffer is allocated). PNG chunks are CRC-checked.
// Files are written atomically (io/file.hpp). All functions are thread-safe.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/core/shape.hpp"
#include "liteai/data/image.hpp"

namespace liteai::data {

// What a file holds, read from its header without decoding the pixels.
struct ImageInfo {
  int width = 0;
  int height = 0;
  int channels = 0;    // as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;   // 8 or 16
  std::string format;  // "png", "jpeg", "bmp", "pnm", "other"
};

// Decode PNG (8/16-bit), JPEG, BMP, PGM/PPM (binary P5/P6, 8/16-bit, and ASCII P2) to gray.
// `name` only labels error messages.
Image decode_image(const std::string& path);
Image decode_image_memory(const void* bytes, size_t size, const std::string& name = "<memory>");
// The same into an existing Image, reusing its memory (the loader's steady state allocates nothing).
void decode_image_into(const std::string& path, Image& out);
void decode_image_memory_into(const void* bytes, size_t size, const std::string& name, Image& out);
ImageInfo probe_image_memory(const void* bytes, size_t size, const std::string& name = "<memory>");
ImageInfo probe_image(const std::string& path);

// ---- writing (atomic: a temp file in the same folder, then rename; .npy also fsync'ed) ----
// 8-bit PNG from interleaved bytes, channels 1 (gray), 3 (RGB) or 4 (RGBA); stride 0 = packed.
void write_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels,
               int stride_bytes = 0);
// 16-bit gray PNG (stored big-endian as PNG requires; written without compression).
void write_png16(const std::string& path, const uint16_t* pixels, int width, int height);
// Gray Image to 8-bit PNG: values mapped linearly from [lo, hi] to [0, 255] and clamped.
// lo == hi (default) means [0, img.max_value].
void write_png(const std::string& path, const Image& img, float lo = 0.f, float hi = 0.f);
// Encode an 8-bit PNG to memory (for tests and for callers that stream).
std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels);

// float32 little-endian .npy (NumPy format 1.0, C order), readable by numpy.load.
void write_npy(const std::string& path, const float* values, const Shape& shape);
inline void write_npy(const std::string& path, const Image& img) {
  write_npy(path, img.pixels.data(), Shape{img.height, img.width});
}
// Reads back a float32 .npy written by write_npy (or numpy with dtype '<f4', C order, format
// 1.0-3.0). The header is parsed strictly with overflow-checked dimensions; the array's size is
// checked against the file length and limits().max_tensor_bytes before it is allocated.
std::vector<float> read_npy(const std::string& path, Shape* shape);
// The same from memory (`name` labels messages).
std::vector<float> parse_npy(const void* bytes, size_t size, const std::string& name, Shape* shape);

}  // namespace liteai::data
