#pragma once
// Opening the data a task reads, with one policy for every front end: what a data spec is
// (a folder with one sub-folder per class, a CSV manifest, Fashion-MNIST IDX files, or a flat
// folder of images), how class names meet a model's, how --limit picks samples (a seeded random
// subset that keeps every class represented) and how a validation split is made.
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/image.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

// Options: data, format, split, limit, path-column, label-column, no-finding, image-root, skip-bad.
const OptionSet& data_options();
// The same plus val-split (training and distillation).
const OptionSet& training_data_options();

// What the task needs from the data.
struct DataRequest {
  std::string task = "train";  // names the task in messages
  // The class names the data's labels must be expressed in (a model's, in its output order);
  // empty: the data's own classes. With names, every class of the data must be one of them
  // ("class 'x' of DIR is not a class of the model"); `subset_ok` lets the data lack some.
  std::vector<std::string> class_names;
  bool subset_ok = false;
  std::string owner = "model";  // "checkpoint" when resuming: names the other side in messages
  std::string default_split = "train";  // Fashion-MNIST: which IDX files unless --split says
  bool allow_flat = false;  // a folder of images without class sub-folders is one class "image"
  uint64_t seed = 1;        // --limit's subset and the validation split
};

struct DataSource {
  std::string spec;    // as given
  std::string format;  // resolved: mnist, folder, csv, images (a flat folder)
  data::DatasetPtr all;                // after --limit
  data::DatasetPtr train, validation;  // validation null without --val-split
  bool skip_bad = false;
  std::string describe() const;  // "data/manifest.csv (csv), 90 training samples, 5 classes, 10 validation"
};

DataSource open_data(const Options& o, const DataRequest& r);

// Image files named on a command line: each argument is a file or a folder whose image files (not
// sub-folders) are taken, sorted. Errors name the task and the missing path.
std::vector<std::string> expand_image_paths(const std::vector<std::string>& args, const std::string& task);
bool is_image_file_name(const std::string& path);

// Decoded, resized to w x h (when they differ) and scaled to [0, 1] by the source's full scale
// (8-bit and 16-bit sources alike): the convention of ProbMats and the anomaly maps. A width or
// height <= 0 keeps the image's size.
data::Image load_unit_image(const std::string& path, int width, int height);
data::Image to_unit(const data::Image& img, int width, int height);

}  // namespace liteai::app
