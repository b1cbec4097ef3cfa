#include "liteai/core/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace liteai {
namespace {
std::mutex g_mutex;  // one message at a time, and the sink never changes under a caller
LogSink g_sink;
std::atomic<uint8_t> g_level{static_cast<uint8_t>(LogLevel::info)};
std::atomic<bool> g_has_sink{false};
}  // namespace

const char* to_string(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "error";
    case LogLevel::warning: return "warning";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "?";
}

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_has_sink = static_cast<bool>(sink);
  g_sink = std::move(sink);
}
bool has_log_sink() { return g_has_sink; }
void set_log_level(LogLevel max) { g_level = static_cast<uint8_t>(max); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log(LogLevel level, const std::string& message) {
  if (!log_enabled(level)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) {
    try {
      g_sink(level, message);
    } catch (...) {  // a host's sink must not take the library down
    }
    return;
  }
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
}

}  // namespace liteai
