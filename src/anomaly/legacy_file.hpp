#pragma once
// The binary layout liteai 0.3 and earlier wrote the anomaly files in (read only: files are now
// written in the .lai container, anomaly_file.hpp). Kept so those files still load:
//
//   offset 0   magic        8 bytes (e.g. "LAIPMAT\0")
//          8   version      u32 LE
//         12   header_bytes u32 LE   (size of the fixed header that follows)
//         16   payload_bytes u64 LE
//         24   crc32        u32 LE   zlib crc32 of header bytes + payload bytes
//         28   reserved     u32 (0)
//         32   header       header_bytes
//              payload      payload_bytes
//
// Reading checks the file length against every declared size before allocating, then the CRC,
// and only then hands the bytes to the caller, whose ByteReader checks every field it reads.
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/core/error.hpp"

namespace liteai::anomaly::detail {

// Reads fields from a byte span; every read is bounds-checked and names the field and file.
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, std::string what) : p_(p), n_(n), what_(std::move(what)) {}
  uint8_t u8(const char* field);
  uint32_t u32(const char* field);
  uint64_t u64(const char* field);
  int32_t i32(const char* field) { return static_cast<int32_t>(u32(field)); }
  float f32(const char* field);
  // n little-endian elements of 1, 2 or 4 bytes into `out` (host order).
  void array(void* out, size_t n, size_t element_bytes, const char* field);
  size_t remaining() const { return n_ - pos_; }

 private:
  void need(size_t bytes, const char* field);
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string what_;
};

struct LegacyFile {
  uint32_t version = 0;
  std::vector<uint8_t> header;
  std::vector<uint8_t> payload;
};

// Reads and validates: file length, magic, version in [1, max_version], declared sizes vs the
// file length, CRC. `kind` names the file type in messages ("probmat").
LegacyFile read_legacy_file(const std::string& path, const char magic[8], uint32_t max_version, const char* kind);

// Multiplies sizes, throwing (naming `what`) instead of overflowing.
uint64_t checked_mul(uint64_t a, uint64_t b, const char* what);

}  // namespace liteai::anomaly::detail
