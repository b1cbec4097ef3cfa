// libFuzzer target: lai_probmat_load, lai_som_load, lai_autoencoder_load and lai_senafas_load
// (the first input byte picks which: bit 2 set = senafas .lsnf, else bit 1 = autoencoder, else
// bit 0 = SOM / ProbMat) on any file contents return a status; a ProbMat, SOM, autoencoder or
// senafas model that loads can be used.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "liteai.h"

namespace {
std::string temp_path() {
  static const std::string p = "/tmp/liteai_fuzz_anomaly_" + std::to_string(::getpid());
  return p;
}
bool write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool senafas = data[0] & 4;
  const bool autoencoder = !senafas && (data[0] & 2);
  const bool som = !senafas && !autoencoder && (data[0] & 1);
  const std::string path =
      temp_path() + (senafas ? ".lsnf" : autoencoder ? ".lai" : som ? ".lsom" : ".lpm");
  if (!write_file(path, data + 1, size - 1)) return 0;
  if (senafas) {
    lai_senafas* s = nullptr;
    if (lai_senafas_load(path.c_str(), &s) == LAI_OK) {
      lai_senafas_info info;
      lai_senafas_info_init(&info);
      if (lai_senafas_get_info(s, &info) != LAI_OK || info.map_width <= 0 || info.map_height <= 0 ||
          info.channel_width <= 0 || info.channel_height <= 0)
        __builtin_trap();
      if (int64_t(info.map_width) * info.map_height <= 256 * 256) {
        std::vector<float> map(size_t(info.map_width) * size_t(info.map_height), 0.5f);
        if (!map.empty()) map[map.size() / 2] = 7.f;
        const lai_image view{map.data(), LAI_PIXEL_F32, info.map_width, info.map_height, 0};
        std::vector<float> ch(size_t(info.channel_width) * size_t(info.channel_height));
        int32_t w = 0, h = 0;
        double score = 0;
        if (lai_senafas_channel(s, &view, ch.data(), ch.size(), &w, &h, &score) == LAI_OK &&
            (w != info.channel_width || h != info.channel_height))
          __builtin_trap();
      }
      lai_senafas_free(s);
    } else if (s != nullptr) {
      __builtin_trap();
    }
  } else if (autoencoder) {
    lai_autoencoder* ae = nullptr;
    if (lai_autoencoder_load(path.c_str(), &ae) == LAI_OK) {
      int32_t w = 0, h = 0;
      if (lai_autoencoder_get_info(ae, &w, &h) != LAI_OK || w <= 0 || h <= 0) __builtin_trap();
      if (int64_t(w) * h <= 256 * 256) {
        std::vector<uint8_t> img(16 * 16, 90);
        std::vector<float> map(size_t(w) * size_t(h));
        double score = 0;
        lai_autoencoder_score(ae, img.data(), LAI_PIXEL_U8, 16, 16, 0, nullptr, map.data(), map.size(), &score);
      }
      lai_autoencoder_free(ae);
    } else if (ae != nullptr) {
      __builtin_trap();
    }
  } else if (som) {
    lai_som* s = nullptr;
    if (lai_som_load(path.c_str(), &s) == LAI_OK) {
      int32_t rows = 0, cols = 0, dim = 0;
      if (lai_som_get_info(s, &rows, &cols, &dim) != LAI_OK) __builtin_trap();
      if (dim > 0 && dim <= 4096) {
        std::vector<float> v(size_t(dim) * 2, 0.5f);
        int32_t bmu[2];
        float dist[2];
        if (lai_som_map(s, v.data(), 2, dim, bmu, dist) == LAI_OK)
          for (int32_t b : bmu)
            if (b < 0 || b >= rows * cols) __builtin_trap();
      }
      lai_som_free(s);
    } else if (s != nullptr) {
      __builtin_trap();
    }
  } else {
    lai_probmat* pm = nullptr;
    if (lai_probmat_load(path.c_str(), &pm) == LAI_OK) {
      lai_probmat_config c;
      lai_probmat_config_init(&c, 0, 0);
      uint64_t n = 0;
      if (lai_probmat_get_info(pm, &c, &n) != LAI_OK) __builtin_trap();
      if (c.width > 0 && c.height > 0 && int64_t(c.width) * c.height <= 64 * 64) {
        std::vector<uint8_t> img(size_t(c.width) * size_t(c.height), 100);
        std::vector<float> map(img.size());
        double score = 0;
        lai_probmat_wpm(pm, img.data(), LAI_PIXEL_U8, c.width, c.height, 0, nullptr, map.data(), map.size(), &score);
      }
      lai_probmat_free(pm);
    } else if (pm != nullptr) {
      __builtin_trap();
    }
  }
  std::remove(path.c_str());
  return 0;
}
