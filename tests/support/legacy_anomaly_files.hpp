#pragma once
// The anomaly files as liteai 0.3 and earlier wrote them (the binary layout of
// src/anomaly/legacy_file.hpp), written by the tests from that documented layout so the readers
// are checked against such files: they must keep loading, and keep refusing damaged ones.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/som.hpp"

namespace liteai::test {

class LegacyWriter {
 public:
  void u8(uint8_t v) { buf_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    u32(uint32_t(v));
    u32(uint32_t(v >> 32));
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u32(u);
  }
  void u16(uint16_t v) {
    buf_.push_back(uint8_t(v));
    buf_.push_back(uint8_t(v >> 8));
  }
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  std::vector<uint8_t>& buffer() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

// magic, version, header_bytes u32, payload_bytes u64, crc32 of header + payload, reserved u32.
inline std::vector<uint8_t> legacy_file(const char magic[8], uint32_t version, const std::vector<uint8_t>& header,
                                        const std::vector<uint8_t>& payload) {
  LegacyWriter f;
  f.bytes(magic, 8);
  f.u32(version);
  f.u32(uint32_t(header.size()));
  f.u64(payload.size());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, header.data(), uInt(header.size()));
  crc = crc32(crc, payload.data(), uInt(payload.size()));
  f.u32(uint32_t(crc));
  f.u32(0);
  f.bytes(header.data(), header.size());
  f.bytes(payload.data(), payload.size());
  return f.buffer();
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream o(path, std::ios::binary | std::ios::trunc);
  o.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A version 2 .lpm (version 1: no calibration field).
inline std::vector<uint8_t> legacy_probmat(const anomaly::ProbMat& pm, uint32_t version = 2,
                                           const std::string& calibration = "") {
  const anomaly::ProbMatConfig& c = pm.config();
  LegacyWriter h, p;
  for (int v : {c.width, c.height, c.bins, c.count_bits, c.scale, c.tolerance}) h.i32(v);
  h.f32(c.lo);
  h.f32(c.hi);
  h.u64(pm.images());
  h.i32(c.grid_width());
  h.i32(c.grid_height());
  if (version >= 2) h.u64(calibration.size());
  for (int64_t cell = 0; cell < c.cells(); ++cell)
    for (int b = 0; b < c.bins; ++b) {
      if (c.count_bits == 32)
        p.u32(uint32_t(pm.count(cell, b)));
      else
        p.u16(uint16_t(pm.count(cell, b)));
    }
  for (int64_t cell = 0; cell < c.cells(); ++cell) p.u8(uint8_t(pm.shift(cell)));
  p.bytes(calibration.data(), calibration.size());
  const char magic[8] = {'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'};
  return legacy_file(magic, version, h.buffer(), p.buffer());
}

inline void legacy_som_layout(LegacyWriter& h, const anomaly::SomConfig& c) {
  for (int v : {c.rows, c.cols, c.dim, int(c.topology), c.toroidal ? 1 : 0, int(c.neighborhood)}) h.i32(v);
}

inline std::vector<uint8_t> legacy_som(const anomaly::Som& s) {
  LegacyWriter h, p;
  legacy_som_layout(h, s.config());
  for (float w : s.weights()) p.f32(w);
  const char magic[8] = {'L', 'A', 'I', 'S', 'O', 'M', '\0', '\0'};
  return legacy_file(magic, 1, h.buffer(), p.buffer());
}

inline std::vector<uint8_t> legacy_senafas(const anomaly::Senafas& s) {
  LegacyWriter h, p;
  for (int v : {s.map_width(), s.map_height(), s.patch(), s.pool(), s.dim(), s.log_scale() ? 1 : 0}) h.i32(v);
  h.f32(s.floor());
  legacy_som_layout(h, s.som().config());
  for (float w : s.som().weights()) p.f32(w);
  for (float v : s.cell_mean()) p.f32(v);
  for (float v : s.cell_sd()) p.f32(v);
  const char magic[8] = {'L', 'A', 'I', 'S', 'N', 'F', '\0', '\0'};
  return legacy_file(magic, 1, h.buffer(), p.buffer());
}

}  // namespace liteai::test
