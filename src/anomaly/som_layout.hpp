#pragma once
// A SOM's shape as stored in checked file headers (.lsom, and the SOM inside .lsnf):
// rows, cols, dim, topology, toroidal, neighbourhood as int32.
#include <string>

#include "anomaly/checked_file.hpp"
#include "liteai/anomaly/som.hpp"

namespace liteai::anomaly::detail {

void write_som_layout(ByteWriter& h, const SomConfig& c);
// Reads and validates the fields; errors name `path` and the field.
SomConfig read_som_layout(ByteReader& h, const std::string& path);

}  // namespace liteai::anomaly::detail
