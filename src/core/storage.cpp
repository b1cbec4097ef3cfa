#include "liteai/core/storage.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "liteai/core/error.hpp"

namespace liteai {

static std::atomic<size_t> g_in_use{0}, g_peak{0};

Storage::Storage(size_t bytes) : bytes_(bytes) {
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  data_ = std::aligned_alloc(kAlignment, rounded);
  LAI_CHECK(data_ != nullptr, "out of memory allocating ", bytes, " bytes");
  std::memset(data_, 0, rounded);
  size_t now = g_in_use.fetch_add(bytes) + bytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

Storage::~Storage() {
  g_in_use.fetch_sub(bytes_);
  std::free(data_);
}

size_t storage_bytes_in_use() { return g_in_use.load(); }
size_t storage_bytes_peak() { return g_peak.load(); }
void storage_reset_peak() { g_peak.store(g_in_use.load()); }

}  // namespace liteai
