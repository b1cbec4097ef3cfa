#pragma once
// The library's version (the C API's: capi/liteai.h) and the source revision it was built from.
namespace liteai {
const char* version();          // "0.4.0"
const char* source_revision();  // `git describe` at configure time, "unknown" outside a checkout
}  // namespace liteai
