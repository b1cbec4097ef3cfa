#pragma once
#include <cstddef>
#include <memory>

namespace liteai {

constexpr size_t kAlignment = 64;

// A 64-byte-aligned block of bytes shared by every view of a tensor.
class Storage {
 public:
  explicit Storage(size_t bytes);  // zero-filled
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

  static std::shared_ptr<Storage> make(size_t bytes) { return std::make_shared<Storage>(bytes); }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_ = 0;  // > 0: a large block from mmap (see storage.cpp)
};

// Bytes currently held by all Storage blocks (for memory reports and leak checks).
size_t storage_bytes_in_use();
size_t storage_bytes_peak();
void storage_reset_peak();

}  // namespace liteai
