#pragma once
// Data sets: an indexable list of samples whose pixels are produced on demand (decoded from a
// file, unpacked from memory, or generated). Only metadata (paths, labels) is held per sample,
// so a data set of 100k radiographs costs a few MB, not the 43 GB of its images.
//
//   auto ds = data::FileDataset::from_folder("cxr/train");           // one sub-folder per class
//   auto ds = data::FileDataset::from_csv("Data_Entry_2017.csv",     // NIH ChestX-ray14 style
//       {.path_column = "Image Index", .label_column = "Finding Labels",
//        .image_root = "images", .no_finding = "No Finding"});
//   auto [train, val] = data::split_random(ds, 0.2, /*seed=*/42);
//   data::Loader loader(train, {.batch_size = 16, .width = 512, .height = 512});
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "liteai/data/image.hpp"
#include "liteai/io/json.hpp"

namespace liteai::data {

struct Sample {
  Image image;              // decoded gray pixels, source resolution and range
  std::vector<int> labels;  // class indices: one for single-label data, 0..C for multi-label
  std::string path;         // file path, or a name like "fashion-mnist/train#17"
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  // Decodes sample i. Thread-safe. Throws liteai::Error naming the file and the reason.
  virtual Sample get(size_t i) const = 0;
  // Like get, reusing `s`'s memory where the source allows (files do). Thread-safe.
  virtual void get_into(size_t i, Sample& s) const { s = get(i); }
  // Metadata without decoding.
  virtual std::string path(size_t i) const = 0;
  virtual std::vector<int> labels(size_t i) const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  // True when a sample may carry any number of labels (sigmoid + BCE); false: exactly one.
  virtual bool multi_label() const { return false; }
  size_t num_classes() const { return class_names().size(); }
};
using DatasetPtr = std::shared_ptr<const Dataset>;

// What a folder scan left out, and why: a count per reason and the first few entries, for the
// front ends to print and to put into their metrics files. (A symbolic link loop is no skip but
// an error naming the path.)
struct ScanReport {
  struct Entry {
    std::string path, reason;
  };
  static constexpr size_t kMaxExamples = 5;
  size_t skipped = 0;
  std::map<std::string, size_t> by_reason;  // "a dangling symbolic link" -> 2, "not an image file name" -> 7
  std::vector<Entry> examples;              // the first kMaxExamples, in scan order
  // Counts `reason`; an example keeps `detail` (e.g. the whole error message) when given.
  void add(const std::string& path, const std::string& reason, const std::string& detail = "");
  // "skipped 3 entries (1 a FIFO (named pipe), 2 not an image file name), e.g. cxr/a/x.txt; ..."
  std::string summary() const;
  io::Json to_json() const;  // {"skipped": 3, "reasons": {...}, "examples": [{"path", "reason"}]}
};

struct FolderOptions {
  // Class names in label order; empty = the sorted sub-folder names. Sub-folders not listed are errors.
  std::vector<std::string> class_names;
  // Lower-case file extensions taken as images; other files are skipped (and reported), except
  // files without an extension that a registered decoder accepts (DICOM from a PACS export;
  // data/decoders.hpp). ".dcm" needs the DICOM module (built with DCMTK).
  std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm", ".dcm"};
};

struct CsvOptions {
  std::string path_column = "path";    // column holding the image path
  std::string label_column = "label";  // column holding the label(s)
  char label_separator = '|';          // between labels of one image ("Effusion|Mass")
  // Multi-label mode: "auto" = on when any row has a separator; "yes"/"no" force it.
  std::string multi_label = "auto";
  // Label meaning "no class" in multi-label mode (NIH: "No Finding"): gives an empty label set.
  std::string no_finding;
  // Class names in index order; empty = sorted unique labels found. A label not listed is an error.
  std::vector<std::string> class_names;
  // Folder that relative image paths are resolved against; empty = the CSV's folder.
  // A relative image_root is itself resolved against the CSV's folder.
  std::string image_root;
  bool check_paths = true;  // stat every image at load time (a missing one is an error)
};

// Image files on disk with their labels; decoding happens in get().
// A folder scan takes the regular files with an image extension in each class folder; it skips
// (and reports in scan_report(), and logs) hidden entries silently, and sub-folders, special
// files, dangling symbolic links and other file names with their reason.
// A CSV manifest (read whole, within limits().max_file_bytes) must be well formed: every row has
// the header's number of fields (trailing empty ones aside), no field holds a NUL byte, no image
// is listed twice, and (check_paths) every image is a regular file.
class FileDataset : public Dataset {
 public:
  static std::shared_ptr<FileDataset> from_folder(const std::string& dir, const FolderOptions& opt = {});
  static std::shared_ptr<FileDataset> from_csv(const std::string& csv_path, const CsvOptions& opt = {});
  // The same from the manifest's text; `csv_path` names it in messages and resolves relative paths.
  static std::shared_ptr<FileDataset> from_csv_text(std::string_view text, const std::string& csv_path,
                                                    const CsvOptions& opt = {});
  // Builds directly from lists (paths.size() == labels.size()).
  FileDataset(const std::vector<std::string>& paths, const std::vector<std::vector<int>>& labels,
              std::vector<std::string> class_names, bool multi_label);

  size_t size() const override { return path_end_.size(); }
  Sample get(size_t i) const override;
  void get_into(size_t i, Sample& s) const override;
  std::string path(size_t i) const override;
  std::vector<int> labels(size_t i) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  bool multi_label() const override { return multi_label_; }
  // What the folder scan skipped (empty for manifests and lists).
  const ScanReport& scan_report() const { return scan_; }

 private:
  FileDataset() = default;
  void add(const std::string& path, const std::vector<int>& labels);
  // Compact storage (~30 bytes per image): paths relative to base_ (absolute ones kept as
  // they are) in one string, labels in one array, both with 32-bit end offsets.
  std::string base_;
  std::string path_blob_;
  std::vector<uint32_t> path_end_;
  std::vector<uint16_t> label_blob_;
  std::vector<uint32_t> label_end_;
  std::vector<std::string> class_names_;
  bool multi_label_ = false;
  ScanReport scan_;
};

// A folder (one sub-folder per class) or a .csv manifest, told apart by what `spec` is.
std::shared_ptr<FileDataset> open_dataset(const std::string& spec, const CsvOptions& csv = {},
                                          const FolderOptions& folder = {});

// Images already in memory (uint8 or float), e.g. Fashion-MNIST or generated phantoms.
class MemoryDataset : public Dataset {
 public:
  MemoryDataset(std::vector<Image> images, std::vector<std::vector<int>> labels,
                std::vector<std::string> class_names, std::string name = "memory", bool multi_label = false);
  size_t size() const override { return images_.size(); }
  Sample get(size_t i) const override;
  std::string path(size_t i) const override;
  std::vector<int> labels(size_t i) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  bool multi_label() const override { return multi_label_; }

 private:
  std::vector<Image> images_;
  std::vector<std::vector<int>> labels_;
  std::vector<std::string> class_names_;
  std::string name_;
  bool multi_label_;
};

// ---- Fashion-MNIST / MNIST IDX files (optionally gzip'ed, as Debian ships them) ----
struct IdxImages {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols
};
IdxImages read_idx_images(const std::string& path);   // idx3-ubyte[.gz]
std::vector<uint8_t> read_idx_labels(const std::string& path);  // idx1-ubyte[.gz]
// Reads a file, inflating it when it is gzip'ed (magic 1f 8b). Both the file and what it inflates
// to are capped by limits().max_file_bytes.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);
// The same steps on bytes in memory (`name` labels messages).
std::vector<uint8_t> inflate_maybe_gzip(std::vector<uint8_t> bytes, const std::string& name);
IdxImages parse_idx_images(const std::vector<uint8_t>& inflated, const std::string& name);
std::vector<uint8_t> parse_idx_labels(const std::vector<uint8_t>& inflated, const std::string& name);

// Fashion-MNIST from `dir` (train-images-idx3-ubyte.gz, ... or the same names without .gz).
// 28x28 uint8 images held compactly (47 MB for the training set); class names set.
DatasetPtr load_fashion_mnist(const std::string& dir = "/usr/share/datasets/fashion-mnist",
                              bool train = true, size_t limit = 0);

// ---- subsets and train/validation splits ----
DatasetPtr subset(DatasetPtr base, std::vector<size_t> indices);
struct Split {
  DatasetPtr train;
  DatasetPtr validation;
};
// A seeded random split; `validation_fraction` in [0, 1). Same seed => same split. A fraction > 0
// that leaves either part empty (0.99 of 10 samples) is an error.
Split split_random(DatasetPtr ds, double validation_fraction, uint64_t seed);
// Validation = samples whose path, or file name, appears in `validation_names` (NIH test_list.txt).
Split split_by_list(DatasetPtr ds, const std::vector<std::string>& validation_names);
// One name per line (blank lines and '#' comments skipped).
std::vector<std::string> read_name_list(const std::string& path);

}  // namespace liteai::data
