#pragma once
// Helpers for the data tests: a fresh temporary folder per test (under LITEAI_TEST_TMP, set by
// ctest, else /tmp) and small file writers.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace liteai::test {

inline std::string temp_dir(const std::string& name) {
  const char* root = std::getenv("LITEAI_TEST_TMP");
  std::filesystem::path p = std::filesystem::path(root && *root ? root : "/tmp") /
                            ("liteai_data_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

}  // namespace liteai::test
