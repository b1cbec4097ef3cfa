#pragma once
// Helpers shared by the probmat / som / hough sub-commands: image lists, scaled loading, names.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include <set>

#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/transforms.hpp"

namespace liteai::cli::anomaly_common {

inline bool is_image_name(const std::string& p) {
  std::string ext = std::filesystem::path(p).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* e : {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm"})
    if (ext == e) return true;
  return false;
}

// Each argument is an image file or a folder whose image files (not sub-folders) are taken, sorted.
inline std::vector<std::string> expand_images(const std::vector<std::string>& args, const char* cmd) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> here;
      for (const auto& e : fs::directory_iterator(a, ec))
        if (e.is_regular_file() && is_image_name(e.path().string())) here.push_back(e.path().string());
      LAI_CHECK(!ec, cmd, ": cannot list ", a, " (", ec.message(), ")");
      LAI_CHECK(!here.empty(), cmd, ": no image files in ", a);
      std::sort(here.begin(), here.end());
      out.insert(out.end(), here.begin(), here.end());
    } else {
      LAI_CHECK(fs::exists(a, ec), cmd, ": no such file or folder: ", a);
      out.push_back(a);
    }
  }
  return out;
}

// A data set from a CSV manifest, a class-folder tree, or a flat folder of images.
inline data::DatasetPtr open_images(const std::string& spec, const char* cmd) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    bool flat = false;
    for (const auto& e : fs::directory_iterator(spec, ec))
      if (e.is_regular_file() && is_image_name(e.path().string())) flat = true;
    if (flat) {
      const auto paths = expand_images({spec}, cmd);
      return std::make_shared<data::FileDataset>(paths, std::vector<std::vector<int>>(paths.size(), {0}),
                                                 std::vector<std::string>{"image"}, false);
    }
  }
  return data::open_dataset(spec);
}

// Decoded, resized to w x h, scaled to [0, 1] by the source's full scale (8 or 16 bit alike).
inline data::Image load_unit(const std::string& path, int w, int h) {
  data::Image im = data::decode_image(path);
  if (im.width != w || im.height != h) im = data::resize(im, w, h);
  const float s = 1.f / im.max_value;
  for (float& v : im.pixels) v *= s;
  im.max_value = 1.f;
  return im;
}

inline std::string stem_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

inline bool stderr_is_tty() { return isatty(fileno(stderr)) != 0; }

// The outputs of `probmat score` and `anomaly score`: per image OUT/<name>_wpm.npy, and unless
// png is off OUT/<name>_heatmap.png and _overlay.png (names made unique), plus one `path,score`
// CSV line on stdout (after a header line).
class MapWriter {
 public:
  MapWriter(const std::string& out, bool png, const char* cmd) : out_(out), png_(png) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    LAI_CHECK(std::filesystem::is_directory(out, ec), cmd, ": cannot create output folder ", out);
    std::printf("path,score\n");
  }
  // heat_hi: top of the heatmap's colour range (<= lo: the map's own range).
  void write(const std::string& path, const data::Image& image, const data::Image& map, double score,
             float threshold, float heat_hi = -1.f) {
    std::string name = stem_of(path);
    for (int k = 2; used_.count(name); ++k) name = stem_of(path) + "_" + std::to_string(k);
    used_.insert(name);
    const std::string base = (std::filesystem::path(out_) / name).string();
    data::write_npy(base + "_wpm.npy", map);
    if (png_) {
      anomaly::write_heatmap_png(base + "_heatmap.png", map, 0.f, heat_hi);
      anomaly::write_overlay_png(base + "_overlay.png", image, map, threshold);
    }
    std::printf("%s,%.6g\n", path.c_str(), score);
    std::fflush(stdout);
  }

 private:
  std::string out_;
  bool png_;
  std::set<std::string> used_;
};

}  // namespace liteai::cli::anomaly_common
