#pragma once
// The checked container shared by the anomaly files (.lpm ProbMat, .lsom SOM):
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
// Written atomically (temp file in the same folder, fsync, rename). Reading checks the file
// length against every declared size before allocating, then the CRC, and only then hands the
// bytes to the caller, whose ByteReader checks every field it reads.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "liteai/core/error.hpp"

namespace liteai::anomaly::detail {

class ByteWriter {
 public:
  void u8(uint8_t v) { buf_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u32(u);
  }
  void f64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    u64(u);
  }
  // Arrays of 2/4-byte little-endian elements (host order converted if needed).
  void array_u16(const uint16_t* p, size_t n);
  void array_u32(const uint32_t* p, size_t n);
  void array_f32(const float* p, size_t n);
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  std::vector<uint8_t>& buffer() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

// Reads fields from a byte span; every read is bounds-checked and names the field and file.
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, std::string what) : p_(p), n_(n), what_(std::move(what)) {}
  uint8_t u8(const char* field);
  uint32_t u32(const char* field);
  uint64_t u64(const char* field);
  int32_t i32(const char* field) { return static_cast<int32_t>(u32(field)); }
  float f32(const char* field);
  double f64(const char* field);
  void array_u16(uint16_t* out, size_t n, const char* field);
  void array_u32(uint32_t* out, size_t n, const char* field);
  void array_f32(float* out, size_t n, const char* field);
  void bytes(void* out, size_t n, const char* field);
  size_t remaining() const { return n_ - pos_; }
  size_t position() const { return pos_; }

 private:
  void need(size_t bytes, const char* field);
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string what_;
};

struct CheckedFile {
  uint32_t version = 0;
  std::vector<uint8_t> header;
  std::vector<uint8_t> payload;
};

// Atomic write of magic + header + payload with CRC (see the layout above).
void write_checked_file(const std::string& path, const char magic[8], uint32_t version,
                        const std::vector<uint8_t>& header, const std::vector<uint8_t>& payload);

// Reads and validates: file length, magic, version in [1, max_version], declared sizes vs the
// file length, CRC. `kind` names the file type in messages ("probmat").
CheckedFile read_checked_file(const std::string& path, const char magic[8], uint32_t max_version,
                              const char* kind);

// Multiplies sizes, throwing (naming `what`) instead of overflowing.
uint64_t checked_mul(uint64_t a, uint64_t b, const char* what);

}  // namespace liteai::anomaly::detail
