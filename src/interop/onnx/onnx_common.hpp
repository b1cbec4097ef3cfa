#pragma once
// Shared by the ONNX importer and exporter: the protobuf classes, files, names, metadata keys.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "liteai/interop/onnx.hpp"

namespace liteai::interop::onnx {

namespace ox = ::onnx;

// The opset export writes and the IR version that goes with it.
inline constexpr int64_t kExportOpset = 14;  // HardSwish and Reshape's allowzero
inline constexpr int64_t kExportIrVersion = 8;

// Metadata keys of an exported liteai model (read back by the importer).
inline constexpr const char* kMetaClasses = "liteai.class_names";  // JSON array of strings
inline constexpr const char* kMetaHead = "liteai.head";
inline constexpr const char* kMetaPreprocessing = "liteai.preprocessing";  // JSON object as in .lai headers

// Reads a whole regular file (refusing FIFOs, devices and folders before a blocking read), at most
// max_bytes; `what` names it in messages.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& what);
// Bytes [offset, offset + length) of a regular file (length -1: to its end).
std::vector<uint8_t> read_file_range(const std::string& path, uint64_t offset, int64_t length, uint64_t max_bytes,
                                     const std::string& what);

// Runs the ONNX checker; its complaints become format errors naming `what`. With `path` (a file
// whose initializers may be stored beside it), the checker reads the file itself so it can find them.
void check_onnx(const ox::ModelProto& m, const std::string& what, const std::string& path = "");

}  // namespace liteai::interop::onnx
