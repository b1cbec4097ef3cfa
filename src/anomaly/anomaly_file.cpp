#include "anomaly/anomaly_file.hpp"

#include <cstdint>
#include <cstring>

#include "liteai/io/file.hpp"

namespace liteai::anomaly::detail {

void save_anomaly_file(const AnomalyFormat& format, const std::string& path, const io::Json& header,
                       const io::NamedTensors& tensors) {
  io::save_container(format.container, path, header, tensors);
}

io::ModelFile load_anomaly_file(const AnomalyFormat& format, const std::string& path) {
  const io::ContainerFormat& c = format.container;
  uint32_t version = 0;
  {
    // The magic and version say which layout follows (both layouts start with them).
    const io::ReadFile in(path);
    uint8_t prefix[12] = {};
    if (in.size() >= sizeof prefix) {
      in.read(0, prefix, sizeof prefix);
      if (std::memcmp(prefix, c.magic, 8) == 0)
        version = uint32_t(prefix[8]) | uint32_t(prefix[9]) << 8 | uint32_t(prefix[10]) << 16 |
                  uint32_t(prefix[11]) << 24;
    }
  }
  if (version >= 1 && version <= format.last_legacy_version) {
    const LegacyFile legacy = read_legacy_file(path, c.magic, format.last_legacy_version, c.kind);
    io::ModelFile f = format.from_legacy(legacy, path);
    f.format_version = legacy.version;
    f.source = path;
    return f;
  }
  // The current layout; anything else (bad magic, version 0, a newer version, a short file) gets
  // the container's own message.
  return io::load_container(c, path);
}

const Tensor& require_tensor(const io::ModelFile& file, const std::string& name, DType dtype, const Shape& shape) {
  const Tensor* t = file.find(name);
  LAI_CHECK_FORMAT(t != nullptr, file.source, ": no tensor '", name, "'");
  LAI_CHECK_FORMAT(t->dtype() == dtype && t->shape() == shape, file.source, ": tensor '", name, "' is ",
                   t->describe(), ", the header needs ", to_string(shape), " ", dtype_name(dtype));
  return *t;
}

int header_int(const io::Json& header, const char* key, const std::string& what) {
  const int64_t v = header.get_int(key, what);
  LAI_CHECK_FORMAT(v >= INT32_MIN && v <= INT32_MAX, what, ": '", key, "' = ", v, " is out of range");
  return int(v);
}

}  // namespace liteai::anomaly::detail
