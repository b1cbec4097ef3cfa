#pragma once
// liteai::Error and the checks that raise it. Messages name the op and the offending values; the
// kind says what went wrong, set where the problem is found (a reader that finds a damaged file
// says format, an open that fails says io), so front ends map it without reading the message:
// the C API's lai_status, the CLI's exit code.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace liteai {

enum class ErrorKind : uint8_t {
  invalid_argument,  // a bad value, shape or option from the caller
  io,                // a file or folder cannot be opened, read or written
  format,            // a file's content is damaged, truncated, inconsistent or of an unknown format
  out_of_memory,     // an allocation failed or a resource limit refused it
  not_supported,     // a valid request this build, model or file kind cannot serve
  cancelled,         // a progress callback asked to stop
  busy,              // a resource is held by someone else (a handle, an output file's lock)
  internal,          // a bug
};
const char* to_string(ErrorKind k);  // "invalid argument", "io", ...

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg, ErrorKind kind = ErrorKind::invalid_argument)
      : std::runtime_error(msg), kind_(kind) {}
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throw_error(const std::string& msg);  // invalid_argument
[[noreturn]] void throw_error(ErrorKind kind, const std::string& msg);

// Runs fn; an invalid_argument Error from it comes out with kind `kind`, other errors unchanged.
// For values that came from a file: a model file whose header names an unknown architecture is a
// damaged file (format), not a bad argument of the caller who asked to load it.
template <class F>
decltype(auto) reclassify(ErrorKind kind, F&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::invalid_argument) throw;
    throw Error(kind, e.what());
  }
}

}  // namespace liteai

// LAI_CHECK(cond, "op: ", detail, ...) throws liteai::Error (invalid_argument) with the
// concatenated message; the _IO / _FORMAT / _SUPPORTED forms set that kind, LAI_CHECK_KIND any.
#define LAI_CHECK_KIND(kind, cond, ...)                                          \
  do {                                                                           \
    if (!(cond)) ::liteai::throw_error((kind), ::liteai::str_cat(__VA_ARGS__)); \
  } while (0)
#define LAI_CHECK(cond, ...) LAI_CHECK_KIND(::liteai::ErrorKind::invalid_argument, cond, __VA_ARGS__)
#define LAI_CHECK_IO(cond, ...) LAI_CHECK_KIND(::liteai::ErrorKind::io, cond, __VA_ARGS__)
#define LAI_CHECK_FORMAT(cond, ...) LAI_CHECK_KIND(::liteai::ErrorKind::format, cond, __VA_ARGS__)
#define LAI_CHECK_SUPPORTED(cond, ...) LAI_CHECK_KIND(::liteai::ErrorKind::not_supported, cond, __VA_ARGS__)
// LAI_FAIL(kind, ...) throws unconditionally: LAI_FAIL(io, path, ": cannot open (", why, ")").
#define LAI_FAIL(kind, ...) ::liteai::throw_error(::liteai::ErrorKind::kind, ::liteai::str_cat(__VA_ARGS__))
