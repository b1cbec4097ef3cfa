#include "liteai/core/error.hpp"

namespace liteai {

const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::invalid_argument: return "invalid argument";
    case ErrorKind::io: return "io";
    case ErrorKind::format: return "format";
    case ErrorKind::out_of_memory: return "out of memory";
    case ErrorKind::not_supported: return "not supported";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::busy: return "busy";
    case ErrorKind::internal: return "internal";
  }
  return "unknown";
}

void throw_error(const std::string& msg) { throw Error(ErrorKind::invalid_argument, msg); }
void throw_error(ErrorKind kind, const std::string& msg) { throw Error(kind, msg); }

}  // namespace liteai
