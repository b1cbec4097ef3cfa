#pragma once
// SHA-256 (FIPS 180-4) of bytes and files, for provenance: a model file records the hashes of the
// data manifest it was trained on and of its parents (teacher, merged sites, checkpoint).
#include <cstddef>
#include <cstdint>
#include <string>

namespace liteai::io {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(const std::string& s) { update(s.data(), s.size()); }
  std::string hex();  // finishes: 64 lower-case hex digits (the object is then spent)

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t used_ = 0;
  uint64_t bytes_ = 0;
  bool done_ = false;
};

std::string sha256_hex(const void* data, size_t size);
// Streams the file (a bounded buffer); throws (io) when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace liteai::io
