// libFuzzer target for the .lai loader: any byte string must load or throw liteai::Error,
// never crash, hang, read out of bounds or allocate more than the input could justify.
// Build (from the repo root, with a GCC-built liteai_core from any build dir B):
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
//     tests/fuzz/fuzz_model_file.cpp src/io/json.cpp src/io/model_file.cpp \
//     $B/libliteai_core.a -ltbb -lz -lpthread -o fuzz_model_file
// Run: ./fuzz_model_file -max_len=2048 CORPUS_DIR   (seed it with a few small .lai files, e.g.
// written by save_model_file; 1M runs in 2 minutes found nothing as of this commit).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "liteai/io/model_file.hpp"

namespace {

void load(const uint8_t* data, size_t size) {
  try {
    const liteai::io::ModelFile mf = liteai::io::model_file_from_bytes(data, size, "fuzz.lai");
    // A file that loads must be self-consistent: touch every tensor's bytes.
    volatile float sink = 0;
    for (const auto& [name, t] : mf.tensors) {
      if (t.numel() == 0) continue;
      sink = t.dtype() == liteai::DType::f32 ? t.data()[t.numel() - 1]
                                             : liteai::bf16_to_f32(t.data_bf16()[t.numel() - 1]);
    }
    (void)sink;
    // And a loaded file writes back to bytes that load again.
    const std::vector<uint8_t> again = liteai::io::model_file_to_bytes(mf.header, mf.tensors);
    liteai::io::model_file_from_bytes(again.data(), again.size(), "fuzz-rewrite.lai");
  } catch (const liteai::Error&) {
    // Expected for malformed input.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  load(data, size);
  // Random mutations rarely keep the header CRC right, which would hide the table checks behind
  // it: also load a copy whose header CRC (and declared file length) are made consistent.
  if (size >= 32) {
    std::vector<uint8_t> fixed(data, data + size);
    uint64_t header_bytes = 0;
    for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(fixed[16 + i]) << (8 * i);
    if (header_bytes <= size - 32) {
      const uint32_t crc = liteai::io::crc32_of(fixed.data() + 32, size_t(header_bytes));
      for (int i = 0; i < 4; ++i) fixed[12 + i] = uint8_t(crc >> (8 * i));
      for (int i = 0; i < 8; ++i) fixed[24 + i] = uint8_t(uint64_t(size) >> (8 * i));
      load(fixed.data(), fixed.size());
    }
  }
  return 0;
}
