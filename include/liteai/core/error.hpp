#pragma once
// liteai::Error and the checks that raise it. Messages name the op and the offending values.
#include <sstream>
#include <stdexcept>
#include <string>

namespace liteai {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throw_error(const std::string& msg);

}  // namespace liteai

// LAI_CHECK(cond, "op: ", detail, ...) throws liteai::Error with the concatenated message.
#define LAI_CHECK(cond, ...)                                           \
  do {                                                                 \
    if (!(cond)) ::liteai::throw_error(::liteai::str_cat(__VA_ARGS__)); \
  } while (0)
