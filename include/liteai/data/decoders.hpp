#pragma once
// Image formats beyond the built-in ones (PNG, JPEG, BMP, PGM/PPM), supplied by optional modules
// at start-up: interop/dicom registers DICOM. The data layer never depends on those modules; it
// consults this registry where it decodes (decode_image*, probe_image*: a file no built-in format
// claims goes to the first decoder whose sniff accepts its bytes) and where it scans folders (a
// file without extension is taken when a decoder accepts its first bytes).
// All functions are thread-safe; decoders may be registered while others decode.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/data/codec.hpp"
#include "liteai/data/image.hpp"

namespace liteai::data {

struct ImageDecoder {
  std::string name;                     // "dicom": also ImageInfo::format of what it probes
  // Smallest prefix sniff needs to decide (a folder scan reads only that much of a file).
  size_t sniff_bytes = 0;
  // True when the bytes (the whole file, or at least its first sniff_bytes) are this format.
  std::function<bool(const uint8_t* bytes, size_t size)> sniff;
  // Gray pixels into `out` (reusing its memory); throws liteai::Error "<name>: <reason>".
  std::function<void(const uint8_t* bytes, size_t size, const std::string& name, Image& out)> decode;
  // Header only: size, channels, bit depth.
  std::function<ImageInfo(const uint8_t* bytes, size_t size, const std::string& name)> probe;
};

// Adds a decoder, or replaces the one of the same name (so registering twice is harmless).
void register_image_decoder(ImageDecoder decoder);
// The first registered decoder that accepts the bytes, or null.
std::shared_ptr<const ImageDecoder> find_image_decoder(const uint8_t* bytes, size_t size);
// True when a registered decoder accepts the first bytes of the file (for files without an
// extension: a PACS export names them IM000001). False when the file cannot be read.
bool registered_decoder_accepts_file(const std::string& path);

}  // namespace liteai::data
