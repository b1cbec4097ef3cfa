#pragma once
// A SOM's shape as anomaly file headers store it (.lsom, and the SOM inside .lsnf):
// {"rows", "cols", "dim", "topology": "rectangular"|"hexagonal", "toroidal": bool,
//  "neighborhood": "gaussian"|"bubble"|"mexican_hat"}. The legacy binary layout held the same
// fields as int32 (topology 0/1, toroidal 0/1, neighbourhood 0/1/2).
#include <string>

#include "anomaly/legacy_file.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/io/json.hpp"

namespace liteai::anomaly::detail {

io::Json som_layout_to_json(const SomConfig& c);
// Reads and validates the fields; errors name `path` and the field.
SomConfig som_layout_from_json(const io::Json& h, const std::string& path);
// The legacy int32 fields as the JSON above (values checked by som_layout_from_json).
io::Json read_legacy_som_layout(ByteReader& r, const std::string& path);

}  // namespace liteai::anomaly::detail
