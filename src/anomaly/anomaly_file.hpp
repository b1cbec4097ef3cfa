#pragma once
// The anomaly files (.lpm ProbMat, .lsom SOM, .lsnf senafas) are instances of the checked container
// of .lai models (io/model_file.hpp) with a magic of their own: the settings in the JSON header,
// the arrays as named tensors; written atomically, every size, offset and CRC checked on reading.
//
// liteai 0.3 and earlier wrote them in a binary layout of their own (legacy_file.hpp) under the
// same magic with lower version numbers. They still load: the reader translates such a file into
// the header and tensors the current version holds, so each kind has one parser and one set of
// checks for both.
#include <cstdint>
#include <string>

#include "anomaly/legacy_file.hpp"
#include "liteai/io/model_file.hpp"

namespace liteai::anomaly::detail {

struct AnomalyFormat {
  io::ContainerFormat container;  // magic, the version written, kind (for messages)
  uint32_t last_legacy_version;   // versions 1..this are the binary layout of liteai <= 0.3
  // The legacy file's fixed header and payload as the current header and tensors.
  io::ModelFile (*from_legacy)(const LegacyFile& file, const std::string& path);
};

void save_anomaly_file(const AnomalyFormat& format, const std::string& path, const io::Json& header,
                       const io::NamedTensors& tensors);
// Either layout; format_version is the file's.
io::ModelFile load_anomaly_file(const AnomalyFormat& format, const std::string& path);

// An integer header field that must fit an int (the kind's own checks then judge its value).
int header_int(const io::Json& header, const char* key, const std::string& what);

// A tensor of the file with exactly this dtype and shape, or a format error naming both.
const Tensor& require_tensor(const io::ModelFile& file, const std::string& name, DType dtype, const Shape& shape);

}  // namespace liteai::anomaly::detail
