#pragma once
// Shared by `liteai train`, `eval`, `predict`: opening a data set from the command line.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "liteai/core/error.hpp"
#include "liteai/data/dataset.hpp"

namespace liteai::cli {

inline bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

inline const char* kDefaultMnistDir = "/usr/share/datasets/fashion-mnist";

// format: "mnist" (IDX files, gzip'ed or not), "folder" (one sub-folder per class), "csv"
// (manifest), "auto" (mnist when DIR holds train-images-idx3-ubyte[.gz], else folder/csv).
inline std::string resolve_format(const std::string& dir, const std::string& format) {
  if (format != "auto") {
    LAI_CHECK(format == "mnist" || format == "folder" || format == "csv", "--format must be mnist, folder, csv or auto, got '",
              format, "'");
    return format;
  }
  if (file_exists(dir + "/train-images-idx3-ubyte.gz") || file_exists(dir + "/train-images-idx3-ubyte") ||
      file_exists(dir + "/t10k-images-idx3-ubyte.gz"))
    return "mnist";
  return dir.size() > 4 && dir.substr(dir.size() - 4) == ".csv" ? "csv" : "folder";
}

// CSV manifest options from the command line (--path-column, --label-column, --no-finding, --image-root).
inline const std::vector<std::string>& csv_option_names() {
  static const std::vector<std::string> names = {"path-column", "label-column", "no-finding", "image-root"};
  return names;
}
template <class Options>
data::CsvOptions csv_options(const Options& o) {
  data::CsvOptions c;
  c.path_column = o.get("path-column", c.path_column);
  c.label_column = o.get("label-column", c.label_column);
  c.no_finding = o.get("no-finding", c.no_finding);
  c.image_root = o.get("image-root", c.image_root);
  return c;
}
inline const char* kCsvHelp =
    "CSV manifests: --path-column path  --label-column label  --no-finding \"No Finding\" (the label\n"
    "  meaning no class, NIH style)  --image-root DIR (relative paths resolve against it)\n";

inline data::DatasetPtr open_data(const std::string& dir, const std::string& format, const std::string& split,
                                  size_t limit, const data::CsvOptions& csv = {}) {
  LAI_CHECK(file_exists(dir), "data '", dir, "' does not exist (give --data DIR; Fashion-MNIST is in ",
            kDefaultMnistDir, " after `apt install dataset-fashion-mnist`)");
  const std::string f = resolve_format(dir, format);
  if (f == "mnist") {
    LAI_CHECK(split == "train" || split == "test", "--split must be train or test for --format mnist, got '", split, "'");
    return data::load_fashion_mnist(dir, split == "train", limit);
  }
  data::DatasetPtr ds = data::open_dataset(dir, csv);
  if (limit > 0 && limit < ds->size())  // a seeded random subset keeps every class represented
    return data::split_random(ds, 1.0 - double(limit) / double(ds->size()), 7).train;
  return ds;
}

}  // namespace liteai::cli
