#include "liteai/core/error.hpp"

namespace liteai {
void throw_error(const std::string& msg) { throw Error(msg); }
}  // namespace liteai
