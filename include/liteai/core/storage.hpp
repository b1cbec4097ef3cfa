#pragma once
#include <cstddef>
#include <memory>

namespace liteai {

constexpr size_t kAlignment = 64;

// A 64-byte-aligned block of bytes shared by every view of a tensor.
class Storage {
 public:
  // zero: fill with zeros; otherwise the contents are unspecified (NaN in sanitized builds).
  explicit Storage(size_t bytes, bool zero = true);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

  static std::shared_ptr<Storage> make(size_t bytes, bool zero = true) {
    return std::make_shared<Storage>(bytes, zero);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_ = 0;  // > 0: a large block from mmap (see storage.cpp)
};

// Bytes currently held by all Storage blocks (for memory reports and leak checks).
size_t storage_bytes_in_use();
size_t storage_bytes_peak();
void storage_reset_peak();
// Bytes ever allocated (all blocks / large blocks only): allocation traffic per step in profiles.
size_t storage_bytes_allocated_total();
size_t storage_large_bytes_allocated_total();

// Freed blocks of 1 MB and more are kept for reuse (a training step allocates the same sizes every
// step), up to a limit: 1 GB by default, LITEAI_CACHE_MB in the environment, or this call
// (0 disables the cache). The cached bytes stay resident until released.
size_t storage_cached_bytes();
size_t storage_release_cache();  // returns the bytes given back to the system
void storage_set_cache_limit(size_t bytes);

}  // namespace liteai
