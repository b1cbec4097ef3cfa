// libFuzzer target for the JSON parser: parse must succeed or throw liteai::Error; whatever
// parses must dump and parse back to the same value. Build like fuzz_model_file.cpp (same
// sources), run with -max_len=4096 and any .json files as the seed corpus.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "liteai/io/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  liteai::io::Json value;
  try {
    value = liteai::io::Json::parse(text, "fuzz");
  } catch (const liteai::Error&) {
    return 0;
  }
  for (int indent : {-1, 2}) {
    const liteai::io::Json back = liteai::io::Json::parse(value.dump(indent), "fuzz-redump");
    // NaN cannot occur (the parser has no NaN); numbers and order must survive exactly.
    if (!(back == value)) __builtin_trap();
  }
  return 0;
}
