#pragma once
// Helpers for the C API tests (they link only libliteai.so: no liteai C++ headers here).
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "liteai.h"

namespace capi_test {

inline std::string temp_dir(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") /
                            ("liteai_capi_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline std::vector<uint8_t> phantom(uint64_t seed, uint64_t index, int size, int32_t* label = nullptr) {
  std::vector<uint8_t> px(size_t(size) * size_t(size));
  if (lai_phantom_render(seed, index, size, px.data(), 0, label) != LAI_OK) px.clear();
  return px;
}

// Owns a handle for the length of a test.
struct Model {
  lai_model* m = nullptr;
  ~Model() { lai_model_free(m); }
};
struct ProbMat {
  lai_probmat* p = nullptr;
  ~ProbMat() { lai_probmat_free(p); }
};
struct Som {
  lai_som* s = nullptr;
  ~Som() { lai_som_free(s); }
};

}  // namespace capi_test
