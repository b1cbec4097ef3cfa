// libFuzzer target: IDX files as Fashion-MNIST ships them (data::inflate_maybe_gzip, then
// parse_idx_images or parse_idx_labels: the first byte picks), gzip'ed or not. What parses holds
// exactly count x rows x cols bytes; nothing inflates beyond the file-size limit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const bool limited = [] {  // inflating is capped well below libFuzzer's RSS limit
    liteai::Limits l = liteai::limits();
    l.max_file_bytes = int64_t(64) << 20;
    liteai::set_limits(l);
    return true;
  }();
  (void)limited;
  try {
    const std::vector<uint8_t> raw = liteai::data::inflate_maybe_gzip(std::vector<uint8_t>(data + 1, data + size), "fuzz.idx");
    if (data[0] & 1) {
      const liteai::data::IdxImages img = liteai::data::parse_idx_images(raw, "fuzz.idx");
      if (img.pixels.size() != size_t(img.count) * size_t(img.rows) * size_t(img.cols)) __builtin_trap();
    } else {
      const std::vector<uint8_t> labels = liteai::data::parse_idx_labels(raw, "fuzz.idx");
      if (labels.size() + 8 != raw.size()) __builtin_trap();
    }
  } catch (const liteai::Error&) {
  }
  return 0;
}
