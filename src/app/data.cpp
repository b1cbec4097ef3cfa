#include "liteai/app/data.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/transforms.hpp"

namespace liteai::app {
namespace fs = std::filesystem;

namespace {

const char* kMnistDir = "/usr/share/datasets/fashion-mnist";

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string resolve_format(const std::string& spec, const std::string& format) {
  if (format != "auto") return format;
  if (exists(spec + "/train-images-idx3-ubyte.gz") || exists(spec + "/train-images-idx3-ubyte") ||
      exists(spec + "/t10k-images-idx3-ubyte.gz") || exists(spec + "/t10k-images-idx3-ubyte"))
    return "mnist";
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return "folder";
  return spec.size() > 4 && spec.substr(spec.size() - 4) == ".csv" ? "csv" : "folder";
}

// A folder holding image files directly (no class sub-folders).
bool is_flat_image_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && is_image_file_name(e.path().string())) return true;
  return false;
}

// The base data set with its labels expressed in `names` (a model's classes, in its order).
class RemappedDataset : public data::Dataset {
 public:
  RemappedDataset(data::DatasetPtr base, std::vector<std::string> names, std::vector<int> to_new)
      : base_(std::move(base)), names_(std::move(names)), to_new_(std::move(to_new)) {}
  size_t size() const override { return base_->size(); }
  data::Sample get(size_t i) const override {
    data::Sample s = base_->get(i);
    for (int& l : s.labels) l = to_new_[size_t(l)];
    return s;
  }
  void get_into(size_t i, data::Sample& s) const override {
    base_->get_into(i, s);
    for (int& l : s.labels) l = to_new_[size_t(l)];
  }
  std::string path(size_t i) const override { return base_->path(i); }
  std::vector<int> labels(size_t i) const override {
    std::vector<int> l = base_->labels(i);
    for (int& x : l) x = to_new_[size_t(x)];
    return l;
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  bool multi_label() const override { return base_->multi_label(); }

 private:
  data::DatasetPtr base_;
  std::vector<std::string> names_;
  std::vector<int> to_new_;
};

data::DatasetPtr express_in(data::DatasetPtr ds, const DataRequest& r, const std::string& spec) {
  if (r.class_names.empty() || ds->class_names() == r.class_names) return ds;
  if (!r.subset_ok) {
    std::vector<std::string> a = ds->class_names(), b = r.class_names;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b)
      throw_error(str_cat(r.task, ": the data's classes (", join(ds->class_names()), ") differ from the ", r.owner,
                          "'s (", join(r.class_names), ")"));
  }
  std::vector<int> to_new;
  for (const std::string& n : ds->class_names()) {
    const auto it = std::find(r.class_names.begin(), r.class_names.end(), n);
    LAI_CHECK(it != r.class_names.end(), r.task, ": class '", n, "' of ", spec, " is not a class of the ", r.owner,
              " (its classes: ", join(r.class_names), ")");
    to_new.push_back(int(it - r.class_names.begin()));
  }
  return std::make_shared<RemappedDataset>(ds, r.class_names, std::move(to_new));
}

}  // namespace

const OptionSet& data_options() {
  static const OptionSet s = [] {
    OptionSet o("data", "where the images come from");
    o.group("data")
        .path("data", "a folder with one sub-folder per class, a CSV manifest (path,label), a folder of images, "
                      "or Fashion-MNIST IDX files (e.g. /usr/share/datasets/fashion-mnist)", "DIR|CSV")
        .choice("format", "auto", {"mnist", "folder", "csv", "auto"},
                "how --data is read (auto: mnist when it holds IDX files, csv for a .csv, else folder)")
        .choice("split", std::nullopt, {"train", "test"}, "Fashion-MNIST: the training or the test IDX files")
        .integer("limit", 0, 0, std::numeric_limits<int64_t>::max(),
                 "at most N samples: a seeded random subset that keeps every class represented (0: all)")
        .text("path-column", "path", "CSV manifests: the column holding the image path")
        .text("label-column", "label", "CSV manifests: the column holding the label(s), several separated by '|'")
        .text("no-finding", std::nullopt, "CSV manifests: the label meaning no class (NIH: \"No Finding\")")
        .path("image-root", "CSV manifests: the folder relative image paths resolve against (default: the CSV's)", "DIR")
        .flag("skip-bad", "skip (and count) images that cannot be decoded instead of stopping");
    return o;
  }();
  return s;
}

const OptionSet& training_data_options() {
  static const OptionSet s = [] {
    OptionSet o("data", "where the images come from");
    o.include(data_options());
    o.group("data").number("val-split", 0, 0, 0.95, "hold out this fraction of the data, seeded, for validation");
    return o;
  }();
  return s;
}

std::string DataSource::describe() const {
  std::string s = str_cat(spec, " (", format, "), ", train ? train->size() : 0, " training samples, ",
                          all ? all->num_classes() : 0, " classes");
  if (validation) s += str_cat(", ", validation->size(), " validation");
  return s;
}

DataSource open_data(const Options& o, const DataRequest& r) {
  o.require("data");
  DataSource d;
  d.spec = o.get_text("data");
  LAI_CHECK_IO(exists(d.spec), r.task, ": data '", d.spec, "' does not exist (give --data DIR; Fashion-MNIST is in ",
               kMnistDir, " after `apt install dataset-fashion-mnist`)");
  d.format = resolve_format(d.spec, o.get_text("format"));
  d.skip_bad = o.get_bool("skip-bad");
  data::DatasetPtr ds;
  if (d.format == "mnist") {
    const std::string split = o.get_text_or("split", r.default_split);
    ds = data::load_fashion_mnist(d.spec, split == "train");
  } else if (r.allow_flat && d.format == "folder" && is_flat_image_folder(d.spec)) {
    d.format = "images";
    const auto paths = expand_image_paths({d.spec}, r.task);
    ds = std::make_shared<data::FileDataset>(paths, std::vector<std::vector<int>>(paths.size(), {0}),
                                             std::vector<std::string>{"image"}, false);
  } else {
    data::CsvOptions csv;
    csv.path_column = o.get_text("path-column");
    csv.label_column = o.get_text("label-column");
    csv.no_finding = o.get_text_or("no-finding", "");
    csv.image_root = o.get_text_or("image-root", "");
    ds = d.format == "csv" ? data::FileDataset::from_csv(d.spec, csv) : data::open_dataset(d.spec, csv);
  }
  LAI_CHECK(ds->size() > 0, r.task, ": the data set '", d.spec, "' has no samples");
  ds = express_in(ds, r, d.spec);
  const int64_t limit = o.get_int("limit");
  if (limit > 0 && size_t(limit) < ds->size())  // a seeded random subset keeps every class represented
    ds = data::split_random(ds, 1.0 - double(limit) / double(ds->size()), 7).train;
  d.all = d.train = ds;
  if (o.spec().find("val-split")) {
    const double f = o.get_number("val-split");
    if (f > 0) {
      data::Split s = data::split_random(ds, f, r.seed);
      LAI_CHECK(s.train->size() > 0, r.task, ": --val-split ", f, " leaves no training samples of ", ds->size());
      LAI_CHECK(s.validation->size() > 0, r.task, ": --val-split ", f, " leaves no validation samples of ", ds->size());
      d.train = s.train;
      d.validation = s.validation;
    }
  }
  return d;
}

bool is_image_file_name(const std::string& p) {
  std::string ext = fs::path(p).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const std::string& e : data::FolderOptions().extensions)
    if (ext == e) return true;
  return false;
}

std::vector<std::string> expand_image_paths(const std::vector<std::string>& args, const std::string& task) {
  std::vector<std::string> out;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> here;
      for (const auto& e : fs::directory_iterator(a, ec))
        if (e.is_regular_file(ec) && is_image_file_name(e.path().string())) here.push_back(e.path().string());
      LAI_CHECK_IO(!ec, task, ": cannot list ", a, " (", ec.message(), ")");
      LAI_CHECK(!here.empty(), task, ": no image files in ", a);
      std::sort(here.begin(), here.end());
      out.insert(out.end(), here.begin(), here.end());
    } else {
      LAI_CHECK_IO(fs::exists(a, ec), task, ": no such file or folder: ", a);
      out.push_back(a);
    }
  }
  return out;
}

data::Image to_unit(const data::Image& in, int w, int h) {
  data::Image im = (w > 0 && h > 0 && (in.width != w || in.height != h)) ? data::resize(in, w, h) : in;
  const float s = 1.f / im.max_value;
  for (float& v : im.pixels) v *= s;
  im.max_value = 1.f;
  return im;
}

data::Image load_unit_image(const std::string& path, int w, int h) { return to_unit(data::decode_image(path), w, h); }

}  // namespace liteai::app
