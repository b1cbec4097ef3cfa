// libFuzzer target: the DICOM reader (interop/dicom, built with DCMTK) on arbitrary bytes: probe,
// then decode; both must agree on the size, and nothing may crash, hang or over-allocate
// (forged lengths, deep nesting, deflate bombs, damaged JPEG/JPEG-LS/RLE streams).
#include <cstddef>
#include <cstdint>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/oflog/oflog.h"
#include "liteai/core/error.hpp"
#include "liteai/interop/dicom.hpp"

namespace dcm = liteai::interop::dicom;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  OFLog::configure(OFLogger::OFF_LOG_LEVEL);  // DCMTK's warnings about each damaged input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dcm::SourceInfo info;
  try {
    info = dcm::probe_memory(data, size, "fuzz");
  } catch (const liteai::Error&) {
    return 0;
  }
  if (info.rows <= 0 || info.columns <= 0) __builtin_trap();
  if (int64_t(info.rows) * info.columns > (int64_t(1) << 22)) return 0;  // probed fine; skip decoding huge images
  try {
    const dcm::Decoded d = dcm::read_memory(data, size, "fuzz");
    if (d.image.width != info.columns || d.image.height != info.rows) __builtin_trap();
    if (d.image.pixels.size() != size_t(info.rows) * size_t(info.columns)) __builtin_trap();
  } catch (const liteai::Error&) {
  }
  return 0;
}
