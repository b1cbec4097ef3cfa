// libFuzzer target: CSV manifests (data::FileDataset::from_csv_text, what from_csv runs on the
// file's text). The first byte picks the options (multi-label auto/yes/no, a "No Finding" label,
// the '|' or ';' separator); the rest is the manifest. A manifest that loads is consistent: every
// sample has a path and labels within the class count (exactly one unless multi-label).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "liteai/core/error.hpp"
#include "liteai/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  liteai::data::CsvOptions o;
  o.check_paths = false;
  o.multi_label = data[0] % 3 == 0 ? "auto" : data[0] % 3 == 1 ? "yes" : "no";
  if (data[0] & 4) o.no_finding = "No Finding";
  if (data[0] & 8) o.label_separator = ';';
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const auto ds = liteai::data::FileDataset::from_csv_text(text, "/fuzz/m.csv", o);
    const size_t classes = ds->num_classes();
    for (size_t i = 0; i < ds->size(); ++i) {
      if (ds->path(i).empty()) __builtin_trap();
      const std::vector<int> labels = ds->labels(i);
      if (!ds->multi_label() && labels.size() != 1) __builtin_trap();
      for (int l : labels)
        if (l < 0 || size_t(l) >= classes) __builtin_trap();
    }
  } catch (const liteai::Error&) {
  }
  return 0;
}
