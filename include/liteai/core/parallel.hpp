#pragma once
// One oneTBB task_arena owned by the library. Thread count: set_num_threads(), else the
// LITEAI_NUM_THREADS environment variable, else all hardware threads.
#include <cstdint>
#include <functional>

namespace liteai {

inline constexpr int kMaxThreads = 1024;
// n in 1..kMaxThreads, or 0 for the default (LITEAI_NUM_THREADS, else every core); anything else
// is an invalid_argument error naming the range.
void set_num_threads(int n);
int num_threads();

// Calls fn(begin, end) on disjoint chunks of [begin, end) of at least `grain` items, in the
// library's arena. Chunks are fixed by (range, grain, thread count), so results are deterministic.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Runs fn inside the library's arena (for code that uses TBB algorithms directly).
void run_in_arena(const std::function<void()>& fn);

}  // namespace liteai
