#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace liteai {

constexpr size_t kAlignment = 64;

// What memory is for. Every Storage block counts its bytes in one category, so live and peak bytes
// per category can be checked against a memory plan (optim::plan_memory): the block takes the
// category of the innermost MemoryScope on the allocating thread (other without one), and
// memory_retag() moves a live block (parameters become weights when a Trainer takes them).
enum class MemoryCategory : uint8_t { other, weights, gradients, optimizer, activations, workspace, loader };
inline constexpr int kMemoryCategories = 7;
const char* to_string(MemoryCategory c);  // "other", "weights", "gradients", "optimizer", ...

// Tags the blocks this thread allocates while it lives (parallel_for passes the tag to its workers).
class MemoryScope {
 public:
  explicit MemoryScope(MemoryCategory c);
  ~MemoryScope();
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;

 private:
  MemoryCategory prev_;
};
MemoryCategory current_memory_category();

struct MemoryStats {
  size_t live[kMemoryCategories] = {};     // bytes in use now, per category
  size_t peak[kMemoryCategories] = {};     // each category's own most since the last reset
  size_t at_peak[kMemoryCategories] = {};  // the categories when the total was at its peak
  size_t total_live = 0, total_peak = 0;
  // "total 950.2 MiB at peak: weights 512.0, optimizer 256.1, activations 150.3, ..." (MiB)
  std::string to_string() const;
};
// Storage blocks (what they occupy: large ones in whole 2 MB pages) plus the bytes counted with
// memory_track (kernel scratch outside Storage).
MemoryStats memory_stats();
void memory_reset_peaks();  // peaks := what is live now
// Counts `delta` bytes held outside Storage (e.g. kernel scratch buffers) in category `c`.
void memory_track(MemoryCategory c, int64_t delta);

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
  MemoryCategory category() const { return category_; }

  static std::shared_ptr<Storage> make(size_t bytes, bool zero = true) {
    return std::make_shared<Storage>(bytes, zero);
  }
  // Memory owned elsewhere (e.g. a file mapping, io::map_model_file): `release` runs when the last
  // view is gone. Not counted in the statistics below (it is not this library's allocation).
  // read_only: the bytes must not be written (Tensor::copy_from and fill_ refuse; code that
  // writes through data() must copy first, as a Trainer does), and release_pages may drop them.
  static std::shared_ptr<Storage> wrap(void* data, size_t bytes, std::function<void()> release,
                                       bool read_only = false);
  bool is_wrapped() const { return static_cast<bool>(release_); }
  bool read_only() const { return read_only_; }
  // Read-only mapped storage: gives the whole pages of [offset, offset + bytes) back (they stay in
  // the page cache, shared with other processes, and are mapped again when read). No-op otherwise.
  void release_pages(size_t offset, size_t bytes) const;
  // This library's own large blocks: gives the whole pages of [offset, offset + bytes) back to the
  // system now; those bytes read as zero afterwards. For a caller done with part of a block (a
  // weight converted into another storage block by block). No-op for other storage.
  void discard_pages(size_t offset, size_t bytes);
  // Read-only mapped storage: maps the pages of [offset, offset + bytes) in one call ahead of use
  // (instead of a fault per few pages). No-op otherwise.
  void prefetch_pages(size_t offset, size_t bytes) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_ = 0;  // > 0: a large block from mmap (see storage.cpp)
  MemoryCategory category_ = MemoryCategory::other;
  std::function<void()> release_;  // wrapped memory
  bool read_only_ = false;
  Storage() = default;
  // What the block occupies (large blocks are whole 2 MB pages): what the statistics count.
  size_t footprint() const { return mapped_ ? mapped_ : (bytes_ + kAlignment - 1) / kAlignment * kAlignment; }
  friend void memory_retag(const std::shared_ptr<Storage>& s, MemoryCategory c);
};

// Moves a live block's bytes to category `c` (no-op for a null pointer).
void memory_retag(const std::shared_ptr<Storage>& s, MemoryCategory c);

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
size_t storage_release_cache();  // returns the bytes given back; the budget restarts from what is in use
void storage_set_cache_limit(size_t bytes);

}  // namespace liteai
