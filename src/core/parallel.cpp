#include "liteai/core/parallel.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "liteai/core/error.hpp"
#include "liteai/core/log.hpp"
#include "liteai/core/storage.hpp"

namespace liteai {

namespace {
std::mutex g_mu;
std::unique_ptr<tbb::task_arena> g_arena;
int g_threads = 0;

int hardware_threads() { return int(std::clamp(std::thread::hardware_concurrency(), 1u, unsigned(kMaxThreads))); }

// LITEAI_NUM_THREADS, else every core. A value that is not a count in 1..kMaxThreads is reported
// once and ignored (the arena is made lazily, inside calls that cannot stop for it).
int default_threads() {
  const char* env = std::getenv("LITEAI_NUM_THREADS");
  if (!env || !*env) return hardware_threads();
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(env, &end, 10);
  if (errno == 0 && end != env && *end == '\0' && n >= 1 && n <= kMaxThreads) return int(n);
  static std::once_flag warned;
  std::call_once(warned, [&] {
    log(LogLevel::warning, str_cat("LITEAI_NUM_THREADS='", env, "' is not a thread count in 1..", kMaxThreads,
                                   "; using ", hardware_threads(), " (every core)"));
  });
  return hardware_threads();
}

tbb::task_arena& arena() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_arena) {
    if (g_threads <= 0) g_threads = default_threads();
    g_arena = std::make_unique<tbb::task_arena>(g_threads);
  }
  return *g_arena;
}
}  // namespace

void set_num_threads(int n) {
  LAI_CHECK(n >= 0 && n <= kMaxThreads, "set_num_threads: ", n, " threads is out of range (1..", kMaxThreads,
            ", or 0 for the default)");
  std::lock_guard<std::mutex> lock(g_mu);
  const int want = n > 0 ? n : default_threads();
  if (g_arena && want == g_threads) return;
  g_threads = want;
  g_arena.reset();  // re-created lazily with the new count
}

int num_threads() {
  arena();
  return g_threads;
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n = end - begin;
  const int threads = num_threads();
  // Few items or one thread: run inline (no task overhead, trivially deterministic).
  if (threads == 1 || n <= grain) {
    fn(begin, end);
    return;
  }
  // A fixed chunking: at most 4 chunks per thread, each >= grain.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(threads) * 4);
  int64_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  const MemoryCategory category = current_memory_category();  // workers count what they allocate alike
  arena().execute([&] {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1),
                      [&](const tbb::blocked_range<int64_t>& r) {
                        MemoryScope scope(category);
                        for (int64_t c = r.begin(); c != r.end(); ++c) {
                          int64_t b = begin + c * step;
                          fn(b, std::min(end, b + step));
                        }
                      },
                      tbb::simple_partitioner());
  });
}

void run_in_arena(const std::function<void()>& fn) { arena().execute(fn); }

}  // namespace liteai
