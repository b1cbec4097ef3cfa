#include "liteai/core/storage.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "liteai/core/error.hpp"

namespace liteai {

static std::atomic<size_t> g_in_use{0}, g_peak{0}, g_total{0}, g_large_total{0};

// ---- bytes per category (Storage blocks + memory_track) ----
namespace {
thread_local MemoryCategory t_category = MemoryCategory::other;

struct CategoryCounters {
  std::atomic<size_t> live[kMemoryCategories] = {}, peak[kMemoryCategories] = {};
  std::atomic<size_t> total{0}, total_peak{0};
  std::mutex snapshot_mu;  // guards at_peak (taken only when the total reaches a new peak)
  size_t at_peak[kMemoryCategories] = {};
};
CategoryCounters& counters() {
  static CategoryCounters* c = new CategoryCounters();  // never destroyed, like the block cache
  return *c;
}

void raise_to(std::atomic<size_t>& peak, size_t v) {
  size_t p = peak.load(std::memory_order_relaxed);
  while (v > p && !peak.compare_exchange_weak(p, v, std::memory_order_relaxed)) {
  }
}

void count(MemoryCategory c, size_t add, size_t sub) {
  CategoryCounters& k = counters();
  const int i = static_cast<int>(c);
  raise_to(k.peak[i], k.live[i].fetch_add(add, std::memory_order_relaxed) + add);
  k.live[i].fetch_sub(sub, std::memory_order_relaxed);
  const size_t total = k.total.fetch_add(add, std::memory_order_relaxed) + add;
  k.total.fetch_sub(sub, std::memory_order_relaxed);
  if (add > sub && total > k.total_peak.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(k.snapshot_mu);
    if (total > k.total_peak.load(std::memory_order_relaxed)) {
      k.total_peak.store(total, std::memory_order_relaxed);
      for (int j = 0; j < kMemoryCategories; ++j) k.at_peak[j] = k.live[j].load(std::memory_order_relaxed);
    }
  }
}
}  // namespace

const char* to_string(MemoryCategory c) {
  switch (c) {
    case MemoryCategory::other: return "other";
    case MemoryCategory::weights: return "weights";
    case MemoryCategory::gradients: return "gradients";
    case MemoryCategory::optimizer: return "optimizer";
    case MemoryCategory::activations: return "activations";
    case MemoryCategory::workspace: return "workspace";
    case MemoryCategory::loader: return "loader";
  }
  return "?";
}

MemoryScope::MemoryScope(MemoryCategory c) : prev_(t_category) { t_category = c; }
MemoryScope::~MemoryScope() { t_category = prev_; }
MemoryCategory current_memory_category() { return t_category; }

void memory_track(MemoryCategory c, int64_t delta) {
  if (delta >= 0)
    count(c, size_t(delta), 0);
  else
    count(c, 0, size_t(-delta));
}

void memory_retag(const std::shared_ptr<Storage>& s, MemoryCategory c) {
  if (!s || s->is_wrapped() || s->category_ == c) return;
  count(s->category_, 0, s->footprint());
  count(c, s->footprint(), 0);
  s->category_ = c;
}

MemoryStats memory_stats() {
  CategoryCounters& k = counters();
  MemoryStats m;
  std::lock_guard<std::mutex> lock(k.snapshot_mu);
  for (int i = 0; i < kMemoryCategories; ++i) {
    m.live[i] = k.live[i].load();
    m.peak[i] = k.peak[i].load();
    m.at_peak[i] = k.at_peak[i];
  }
  m.total_live = k.total.load();
  m.total_peak = k.total_peak.load();
  return m;
}

void memory_reset_peaks() {
  CategoryCounters& k = counters();
  std::lock_guard<std::mutex> lock(k.snapshot_mu);
  for (int i = 0; i < kMemoryCategories; ++i) {
    k.peak[i].store(k.live[i].load());
    k.at_peak[i] = k.live[i].load();
  }
  k.total_peak.store(k.total.load());
}

std::string MemoryStats::to_string() const {
  std::string out;
  char buf[64];
  std::snprintf(buf, sizeof buf, "total %.1f MiB at peak:", total_peak / 1048576.0);
  out = buf;
  for (int i = 0; i < kMemoryCategories; ++i) {
    if (!at_peak[i]) continue;
    const char* name = liteai::to_string(static_cast<MemoryCategory>(i));
    std::snprintf(buf, sizeof buf, " %s %.1f,", name, at_peak[i] / 1048576.0);
    out += buf;
  }
  if (out.back() == ',') out.pop_back();
  return out;
}
// Mapped bytes of large blocks in use, and their most ever: the resident budget of the cache.
static std::atomic<size_t> g_mapped_in_use{0}, g_mapped_high_water{0};

namespace {
// Large blocks (activations of a 512x512 batch are tens to hundreds of MB) come from mmap, aligned
// to 2 MB and marked for transparent huge pages: one fault maps 2 MB instead of 4 KB (faulting a
// fresh 32 MB activation 4 KB at a time cost more than the convolution writing it: 12-14 ms vs
// 2.7 ms). Freed large blocks are kept in a bounded cache and handed out again: a training step
// allocates the same sizes every step (about 2 GB at 512x512 batch 8), and the kernel's zeroing of
// fresh pages took about 30% of a step (compact_cxr 512x512 batch 8: 2.8 instead of 3.5 CPU-s per
// step, no fresh block after the first step). The cache keeps resident memory within the most
// ever mapped for tensors: a request it cannot serve first trims it to that budget. Under AddressSanitizer everything stays on the heap, where
// ASan can see overflows.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseLargeBlocks = false;
#else
constexpr bool kUseLargeBlocks = true;
#endif
constexpr size_t kLargeBlock = size_t(1) << 20;
constexpr size_t kHugePage = size_t(2) << 20;

size_t default_cache_limit() {
  const char* v = std::getenv("LITEAI_CACHE_MB");
  if (v && *v) return size_t(std::strtoull(v, nullptr, 10)) << 20;
  return size_t(1) << 30;
}

// Free blocks indexed by address (to merge neighbours, so splitting does not fragment the
// cache for good) and by size (best fit). Blocks are runs of whole 2 MB pages; two runs that
// touch are one run as far as mmap/munmap are concerned, whichever mappings they came from.
struct BlockCache {
  std::mutex mu;
  std::map<char*, size_t> by_addr;
  std::multimap<size_t, char*> by_size;
  size_t bytes = 0;
  size_t limit = default_cache_limit();

  void insert(char* p, size_t n) {
    by_addr.emplace(p, n);
    by_size.emplace(n, p);
    bytes += n;
  }
  void erase(char* p, size_t n) {
    by_addr.erase(p);
    for (auto [it, end] = by_size.equal_range(n); it != end; ++it)
      if (it->second == p) {
        by_size.erase(it);
        break;
      }
    bytes -= n;
  }
  // The smallest cached block of at least `want` bytes, split to exactly `want` (the tail stays
  // cached, so a larger block never holds idle memory while in use), or null.
  void* take(size_t want, size_t* mapped) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_size.lower_bound(want);
    if (it == by_size.end()) return nullptr;
    char* p = it->second;
    const size_t size = it->first;
    erase(p, size);
    if (size > want) insert(p + want, size - want);
    *mapped = want;
    return p;
  }
  bool put(void* block, size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    if (bytes + n > limit) return false;
    char* p = static_cast<char*>(block);
    auto next = by_addr.find(p + n);
    if (next != by_addr.end()) {
      const size_t m = next->second;
      erase(p + n, m);
      n += m;
    }
    auto prev = by_addr.lower_bound(p);
    if (prev != by_addr.begin()) {
      --prev;
      if (prev->first + prev->second == p) {
        char* q = prev->first;
        const size_t m = prev->second;
        erase(q, m);
        p = q;
        n += m;
      }
    }
    insert(p, n);
    return true;
  }
  // Gives back blocks, largest first, until at most `keep` bytes stay cached.
  void trim_to(size_t keep) {
    std::lock_guard<std::mutex> lock(mu);
    while (bytes > keep && !by_size.empty()) {
      auto it = std::prev(by_size.end());
      char* p = it->second;
      const size_t n = it->first;
      erase(p, n);
      munmap(p, n);
    }
  }
  size_t release() {
    std::lock_guard<std::mutex> lock(mu);
    const size_t freed = bytes;
    for (auto& [p, n] : by_addr) munmap(p, n);
    by_addr.clear();
    by_size.clear();
    bytes = 0;
    return freed;
  }
};
BlockCache& cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

void* map_large(size_t want) {
  const size_t span = want + kHugePage;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Trim to a 2 MB-aligned run of `want` bytes.
  const uintptr_t base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (base + kHugePage - 1) / kHugePage * kHugePage;
  if (start > base) munmap(p, start - base);
  const uintptr_t end = start + want, span_end = base + span;
  if (span_end > end) munmap(reinterpret_cast<void*>(end), span_end - end);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(start), want, MADV_HUGEPAGE);  // a hint: fine if refused
#endif
  return reinterpret_cast<void*>(start);
}
}  // namespace

Storage::Storage(size_t bytes, bool zero) : bytes_(bytes), category_(t_category) {
  if (kUseLargeBlocks && bytes >= kLargeBlock) {
    const size_t want = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    data_ = cache().take(want, &mapped_);
    if (data_) {
      if (zero) std::memset(data_, 0, bytes);
    } else {
      // A size the cache cannot serve: give the idle blocks back first, so resident memory never
      // exceeds the largest amount in use (in steady state every request is served from the cache).
      // Keep resident memory (blocks in use + cached) within the most ever in use: idle blocks
      // go back to the system before fresh pages are mapped past that.
      const size_t used = g_mapped_in_use.load() + want, budget = g_mapped_high_water.load();
      cache().trim_to(budget > used ? budget - used : 0);
      data_ = map_large(want);  // fresh pages read as zero
      LAI_CHECK(data_ != nullptr, "out of memory allocating ", bytes, " bytes");
      mapped_ = want;
    }
    g_large_total.fetch_add(bytes);
    const size_t m = g_mapped_in_use.fetch_add(mapped_) + mapped_;
    size_t hw = g_mapped_high_water.load();
    while (m > hw && !g_mapped_high_water.compare_exchange_weak(hw, m)) {
    }
  } else {
    size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded == 0) rounded = kAlignment;
    data_ = std::aligned_alloc(kAlignment, rounded);
    LAI_CHECK(data_ != nullptr, "out of memory allocating ", bytes, " bytes");
#if defined(__SANITIZE_ADDRESS__)
    // Sanitized builds: uninitialized tensors read as NaN, so code that relies on them fails tests.
    std::memset(data_, zero ? 0 : 0xff, rounded);
#else
    if (zero) std::memset(data_, 0, rounded);
#endif
  }
  g_total.fetch_add(bytes);
  count(category_, footprint(), 0);
  size_t now = g_in_use.fetch_add(bytes) + bytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t bytes, std::function<void()> release, bool read_only) {
  LAI_CHECK(release != nullptr, "Storage::wrap: a release function is required");
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->bytes_ = bytes;
  s->release_ = std::move(release);
  s->read_only_ = read_only;
  return s;
}

namespace {
// madvise over the pages of [offset, offset + bytes) of a block: whole pages only, or also the
// partial ones at the ends.
void advise(const void* data, size_t size, size_t offset, size_t bytes, bool whole_only, int advice) {
  if (offset >= size) return;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data) + offset, end = begin + std::min(bytes, size - offset);
  const uintptr_t first = whole_only ? (begin + page - 1) / page * page : begin / page * page;
  const uintptr_t last = whole_only ? end / page * page : (end + page - 1) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, advice);
}
}  // namespace

void Storage::release_pages(size_t offset, size_t bytes) const {
  if (read_only_) advise(data_, bytes_, offset, bytes, true, MADV_DONTNEED);
}

void Storage::discard_pages(size_t offset, size_t bytes) {
  if (mapped_ && !release_) advise(data_, bytes_, offset, bytes, true, MADV_DONTNEED);
}

void Storage::prefetch_pages(size_t offset, size_t bytes) const {
#ifdef MADV_POPULATE_READ
  const int advice = MADV_POPULATE_READ;  // Linux 5.14; older kernels refuse it, which is harmless
#else
  const int advice = MADV_WILLNEED;
#endif
  if (read_only_) advise(data_, bytes_, offset, bytes, false, advice);
}

Storage::~Storage() {
  if (release_) {
    release_();
    return;
  }
  g_in_use.fetch_sub(bytes_);
  count(category_, 0, footprint());
  if (!mapped_) {
    std::free(data_);
    return;
  }
  g_mapped_in_use.fetch_sub(mapped_);
  if (!cache().put(data_, mapped_)) munmap(data_, mapped_);
}

size_t storage_bytes_in_use() { return g_in_use.load(); }
size_t storage_bytes_peak() { return g_peak.load(); }
size_t storage_bytes_allocated_total() { return g_total.load(); }
size_t storage_large_bytes_allocated_total() { return g_large_total.load(); }
void storage_reset_peak() { g_peak.store(g_in_use.load()); }
size_t storage_cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().bytes;
}
size_t storage_release_cache() {
  // The cache's resident budget starts anew from what is in use: an earlier high (e.g. a load's
  // throwaway weights, never touched) does not let idle blocks pile up again.
  g_mapped_high_water.store(g_mapped_in_use.load());
  return cache().release();
}
void storage_set_cache_limit(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(cache().mu);
    cache().limit = bytes;
  }
  if (storage_cached_bytes() > bytes) storage_release_cache();
}

}  // namespace liteai
