#include "anomaly/checked_file.hpp"

#include <zlib.h>

#include <bit>

#include "liteai/core/limits.hpp"
#include "liteai/io/file.hpp"

namespace liteai::anomaly::detail {

namespace {

constexpr size_t kPrefixBytes = 32;
constexpr uint32_t kMaxHeaderBytes = 1u << 20;

template <class T>
void put_array(std::vector<uint8_t>& buf, const T* p, size_t n) {
  const size_t at = buf.size();
  buf.resize(at + n * sizeof(T));
  if constexpr (std::endian::native == std::endian::little) {
    if (n) std::memcpy(buf.data() + at, p, n * sizeof(T));
  } else {
    for (size_t i = 0; i < n; ++i) {
      std::make_unsigned_t<std::conditional_t<sizeof(T) == 2, int16_t, int32_t>> u;
      std::memcpy(&u, p + i, sizeof(T));
      for (size_t b = 0; b < sizeof(T); ++b) buf[at + i * sizeof(T) + b] = static_cast<uint8_t>(u >> (8 * b));
    }
  }
}

template <class T>
void get_array(const uint8_t* src, T* out, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    if (n) std::memcpy(out, src, n * sizeof(T));
  } else {
    for (size_t i = 0; i < n; ++i) {
      std::make_unsigned_t<std::conditional_t<sizeof(T) == 2, int16_t, int32_t>> u = 0;
      for (size_t b = 0; b < sizeof(T); ++b) u |= static_cast<decltype(u)>(src[i * sizeof(T) + b]) << (8 * b);
      std::memcpy(out + i, &u, sizeof(T));
    }
  }
}

uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t load_u64(const uint8_t* p) { return uint64_t(load_u32(p)) | uint64_t(load_u32(p + 4)) << 32; }

uint32_t crc_of(uint32_t crc, const uint8_t* p, size_t n) {
  // zlib's crc32 takes uInt lengths: feed large buffers in pieces.
  while (n > 0) {
    const size_t step = n > (1u << 30) ? (1u << 30) : n;
    crc = static_cast<uint32_t>(crc32(crc, p, static_cast<uInt>(step)));
    p += step;
    n -= step;
  }
  return crc;
}

}  // namespace

void ByteWriter::array_u16(const uint16_t* p, size_t n) { put_array(buf_, p, n); }
void ByteWriter::array_u32(const uint32_t* p, size_t n) { put_array(buf_, p, n); }
void ByteWriter::array_f32(const float* p, size_t n) { put_array(buf_, p, n); }

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
double ByteReader::f64(const char* field) {
  const uint64_t u = u64(field);
  double f;
  std::memcpy(&f, &u, 8);
  return f;
}
void ByteReader::array_u16(uint16_t* out, size_t n, const char* field) {
  need(checked_mul(n, 2, field), field);
  get_array(p_ + pos_, out, n);
  pos_ += n * 2;
}
void ByteReader::array_u32(uint32_t* out, size_t n, const char* field) {
  need(checked_mul(n, 4, field), field);
  get_array(p_ + pos_, out, n);
  pos_ += n * 4;
}
void ByteReader::array_f32(float* out, size_t n, const char* field) {
  need(checked_mul(n, 4, field), field);
  get_array(p_ + pos_, out, n);
  pos_ += n * 4;
}
void ByteReader::bytes(void* out, size_t n, const char* field) {
  need(n, field);
  if (n) std::memcpy(out, p_ + pos_, n);
  pos_ += n;
}

uint64_t checked_mul(uint64_t a, uint64_t b, const char* what) {
  LAI_CHECK(b == 0 || a <= UINT64_MAX / b, what, ": size overflows (", a, " x ", b, ")");
  return a * b;
}

void write_checked_file(const std::string& path, const char magic[8], uint32_t version,
                        const std::vector<uint8_t>& header, const std::vector<uint8_t>& payload) {
  LAI_CHECK_FORMAT(header.size() <= kMaxHeaderBytes, path, ": header too large");
  uint8_t prefix[kPrefixBytes] = {};
  std::memcpy(prefix, magic, 8);
  auto st32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) prefix[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  st32(8, version);
  st32(12, static_cast<uint32_t>(header.size()));
  const uint64_t pb = payload.size();
  st32(16, static_cast<uint32_t>(pb));
  st32(20, static_cast<uint32_t>(pb >> 32));
  uint32_t crc = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
  crc = crc_of(crc, header.data(), header.size());
  crc = crc_of(crc, payload.data(), payload.size());
  st32(24, crc);

  io::atomic_write_file(path, [&](const io::ByteSink& sink) {
    sink(prefix, kPrefixBytes);
    sink(header.data(), header.size());
    sink(payload.data(), payload.size());
  });
}

CheckedFile read_checked_file(const std::string& path, const char magic[8], uint32_t max_version,
                              const char* kind) {
  const io::ReadFile in(path);  // a regular file, or an io error saying what the path is
  const uint64_t len = in.size();
  LAI_CHECK_FORMAT(len >= kPrefixBytes, path, ": not a ", kind, " file (", len, " bytes, shorter than the ",
            kPrefixBytes, "-byte prefix)");
  uint8_t prefix[kPrefixBytes];
  in.read(0, prefix, kPrefixBytes);
  LAI_CHECK_FORMAT(std::memcmp(prefix, magic, 8) == 0, path, ": not a ", kind, " file (bad magic)");
  CheckedFile f;
  f.version = load_u32(prefix + 8);
  LAI_CHECK_FORMAT(f.version >= 1 && f.version <= max_version, path, ": unsupported ", kind,
            " format version ", f.version, " (this build reads 1..", max_version, ")");
  const uint32_t hb = load_u32(prefix + 12);
  const uint64_t pb = load_u64(prefix + 16);
  const uint32_t crc_stored = load_u32(prefix + 24);
  LAI_CHECK_FORMAT(hb <= kMaxHeaderBytes, path, ": header size ", hb, " is implausible");
  LAI_CHECK_FORMAT(hb <= len - kPrefixBytes, path, ": truncated (header of ", hb, " bytes, file has ",
            len - kPrefixBytes, " after the prefix)");
  LAI_CHECK_FORMAT(pb <= len - kPrefixBytes - hb, path, ": truncated (payload of ", pb,
            " bytes declared, file has ", len - kPrefixBytes - hb, ")");
  LAI_CHECK_FORMAT(pb == len - kPrefixBytes - hb, path, ": ", len - kPrefixBytes - hb - pb,
            " trailing bytes after the payload");
  check_limit(Limit::tensor_bytes, pb, str_cat(path, ": the ", kind, " payload"));
  f.header.resize(hb);
  f.payload.resize(pb);
  in.read(kPrefixBytes, f.header.data(), hb);
  in.read(kPrefixBytes + hb, f.payload.data(), pb);
  uint32_t crc = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
  crc = crc_of(crc, f.header.data(), f.header.size());
  crc = crc_of(crc, f.payload.data(), f.payload.size());
  LAI_CHECK_FORMAT(crc == crc_stored, path, ": checksum mismatch (CRC32 stored ", crc_stored, ", computed ",
            crc, "): the file is corrupted");
  return f;
}

}  // namespace liteai::anomaly::detail
