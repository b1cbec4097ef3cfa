#pragma once
// The library's messages (progress lines, skipped files, warnings) go through one sink: stderr by
// default, or a function the host installs (a PACS logs into its own files; the C API's
// lai_set_log_callback). Messages above the level are dropped before they are formatted.
// Thread-safe: the sink may be called from any library thread, one message at a time.
#include <cstdint>
#include <functional>
#include <string>

namespace liteai {

enum class LogLevel : uint8_t { error = 0, warning = 1, info = 2, debug = 3 };
const char* to_string(LogLevel l);

using LogSink = std::function<void(LogLevel, const std::string& message)>;
void set_log_sink(LogSink sink);  // empty: back to stderr
bool has_log_sink();              // a host sink is installed (stderr-only niceties such as \r bars are off)
void set_log_level(LogLevel max);  // default info
LogLevel log_level();
inline bool log_enabled(LogLevel l) { return static_cast<uint8_t>(l) <= static_cast<uint8_t>(log_level()); }
void log(LogLevel level, const std::string& message);  // one line, without the newline

}  // namespace liteai
