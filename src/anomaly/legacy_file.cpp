#include "anomaly/legacy_file.hpp"

#include <bit>
#include <cstring>

#include "liteai/core/limits.hpp"
#include "liteai/io/file.hpp"
#include "liteai/io/model_file.hpp"

namespace liteai::anomaly::detail {

namespace {

constexpr size_t kPrefixBytes = 32;
constexpr uint32_t kMaxHeaderBytes = 1u << 20;

uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t load_u64(const uint8_t* p) { return uint64_t(load_u32(p)) | uint64_t(load_u32(p + 4)) << 32; }

}  // namespace

void ByteReader::need(size_t bytes, const char* field) {
  LAI_CHECK_FORMAT(bytes <= n_ - pos_, what_, ": truncated while reading '", field, "' (needs ", bytes,
                   " bytes at offset ", pos_, ", only ", n_ - pos_, " left)");
}
uint8_t ByteReader::u8(const char* field) {
  need(1, field);
  return p_[pos_++];
}
uint32_t ByteReader::u32(const char* field) {
  need(4, field);
  const uint32_t v = load_u32(p_ + pos_);
  pos_ += 4;
  return v;
}
uint64_t ByteReader::u64(const char* field) {
  need(8, field);
  const uint64_t v = load_u64(p_ + pos_);
  pos_ += 8;
  return v;
}
float ByteReader::f32(const char* field) {
  const uint32_t u = u32(field);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
void ByteReader::array(void* out, size_t n, size_t element_bytes, const char* field) {
  const size_t bytes = size_t(checked_mul(n, element_bytes, field));
  need(bytes, field);
  auto* dst = static_cast<uint8_t*>(out);
  if (std::endian::native == std::endian::little || element_bytes == 1) {
    if (bytes) std::memcpy(dst, p_ + pos_, bytes);
  } else {
    for (size_t i = 0; i < n; ++i)
      for (size_t b = 0; b < element_bytes; ++b)
        dst[i * element_bytes + b] = p_[pos_ + i * element_bytes + element_bytes - 1 - b];
  }
  pos_ += bytes;
}

uint64_t checked_mul(uint64_t a, uint64_t b, const char* what) {
  LAI_CHECK(b == 0 || a <= UINT64_MAX / b, what, ": size overflows (", a, " x ", b, ")");
  return a * b;
}

LegacyFile read_legacy_file(const std::string& path, const char magic[8], uint32_t max_version, const char* kind) {
  const io::ReadFile in(path);  // a regular file, or an io error saying what the path is
  const uint64_t len = in.size();
  LAI_CHECK_FORMAT(len >= kPrefixBytes, path, ": not a ", kind, " file (", len, " bytes, shorter than the ",
                   kPrefixBytes, "-byte prefix)");
  uint8_t prefix[kPrefixBytes];
  in.read(0, prefix, kPrefixBytes);
  LAI_CHECK_FORMAT(std::memcmp(prefix, magic, 8) == 0, path, ": not a ", kind, " file (bad magic)");
  LegacyFile f;
  f.version = load_u32(prefix + 8);
  LAI_CHECK_FORMAT(f.version >= 1 && f.version <= max_version, path, ": unsupported ", kind, " format version ",
                   f.version, " (this build reads 1..", max_version, ")");
  const uint32_t hb = load_u32(prefix + 12);
  const uint64_t pb = load_u64(prefix + 16);
  const uint32_t crc_stored = load_u32(prefix + 24);
  LAI_CHECK_FORMAT(hb <= kMaxHeaderBytes, path, ": header size ", hb, " is implausible");
  LAI_CHECK_FORMAT(hb <= len - kPrefixBytes, path, ": truncated (header of ", hb, " bytes, file has ",
                   len - kPrefixBytes, " after the prefix)");
  LAI_CHECK_FORMAT(pb <= len - kPrefixBytes - hb, path, ": truncated (payload of ", pb, " bytes declared, file has ",
                   len - kPrefixBytes - hb, ")");
  LAI_CHECK_FORMAT(pb == len - kPrefixBytes - hb, path, ": ", len - kPrefixBytes - hb - pb,
                   " trailing bytes after the payload");
  check_limit(Limit::tensor_bytes, pb, str_cat(path, ": the ", kind, " payload"));
  f.header.resize(hb);
  f.payload.resize(pb);
  in.read(kPrefixBytes, f.header.data(), hb);
  in.read(kPrefixBytes + hb, f.payload.data(), pb);
  uint32_t crc = io::crc32_of(f.header.data(), f.header.size());
  crc = io::crc32_of(f.payload.data(), f.payload.size(), crc);
  LAI_CHECK_FORMAT(crc == crc_stored, path, ": checksum mismatch (CRC32 stored ", crc_stored, ", computed ", crc,
                   "): the file is corrupted");
  return f;
}

}  // namespace liteai::anomaly::detail
