#pragma once
// The .lai model file and the checked container it is an instance of (atomic writing: io/file.hpp).
//
// Layout (all integers little-endian):
//   offset 0   magic          8 bytes  "LITEAI\0\1"
//          8   format version u32      (kModelFormatVersion; readers refuse newer versions)
//         12   header crc32   u32      zlib crc32 of the JSON header bytes
//         16   header bytes   u64      length of the JSON header
//         24   file bytes     u64      total file length (detects truncation up front)
//         32   JSON header    UTF-8, an object: {"header": <caller's JSON>, "tensors": [table]}
//              table entry:   {"name", "dtype": "f32"|"bf16"|"u8"|"u16"|"u32", "shape": [..], "offset", "bytes", "crc32"}
//              zero padding to 64 bytes, then each tensor's data at its 64-byte-aligned offset
//              (absolute from the file start), in table order, zero padding between them.
//
// Saving writes a temp file in the same folder, fsyncs it, renames it over the target and fsyncs
// the folder: a crash leaves either the old file or the new one, never a half-written model.
// Loading opens only regular files (io/file.hpp), checks every size and offset against the file
// length (overflow-safe) and the header, each tensor and their sum against the resource limits
// (core/limits.hpp) before it allocates or reads, verifies each CRC, and reports problems as
// liteai::Error naming the file and the problem ("model.lai: checksum mismatch in tensor 'fc1.w'").
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "liteai/core/tensor.hpp"
#include "liteai/io/file.hpp"
#include "liteai/io/json.hpp"

namespace liteai::io {

inline constexpr char kModelMagic[8] = {'L', 'I', 'T', 'E', 'A', 'I', '\0', '\1'};
// 1: zoo architectures; 2: also "graph" architectures (a node list in the header). Readers take
// every version up to theirs.
inline constexpr uint32_t kModelFormatVersion = 2;
inline constexpr size_t kModelDataAlignment = 64;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct ModelFile {
  Json header;                   // the caller's header, as saved
  NamedTensors tensors;          // in file order; contiguous, 64-byte aligned; f32, bf16 or an integer type
  uint32_t format_version = 0;
  std::string source;            // path (or the name given to the in-memory loader), for messages

  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const Tensor* find(std::string_view name) const;
  // Throws "<source>: no tensor 'name'" when absent.
  const Tensor& tensor(std::string_view name) const;
};

// How loading reads the tensors. as_bf16(name): read that f32 tensor into a bf16 tensor (round to
// nearest even), a megabyte at a time, so its fp32 values never exist whole in memory (inference
// in bf16; the checksum covers the stored bytes as always).
struct LoadOptions {
  std::function<bool(const std::string& name)> as_bf16;
};

// ---- .lai model files ----
void save_model_file(const std::string& path, const Json& header, const NamedTensors& tensors);
ModelFile load_model_file(const std::string& path, const LoadOptions& options = {});
// The same checks, but the tensors are views of the file mapped read-only (MAP_PRIVATE, PROT_READ)
// instead of copies: loading allocates nothing, several processes share one copy of the weights in
// the page cache, and a read-only tensor's pages can be given back after use
// (Storage::release_pages) so resident memory stays bounded. The tensors refuse to be written
// (Storage::read_only). The mapping lives as long as any of its tensors. Replacing the file the
// way save_model_file does (a rename) leaves the mapping intact; truncating it in place while it
// is mapped is not supported (the system then faults on the missing pages).
ModelFile map_model_file(const std::string& path);

// In-memory variants (C API buffers, fuzzers). `name` stands for the file in messages.
std::vector<uint8_t> model_file_to_bytes(const Json& header, const NamedTensors& tensors);
ModelFile model_file_from_bytes(const void* data, size_t size, std::string_view name = "model.lai");

// Reads only the JSON part (header + tensor table) without the tensor data, e.g. for
// `liteai info`. The returned object is {"header": ..., "tensors": [...]}, validated as load does.
Json read_model_file_table(const std::string& path);

// ---- checked containers in general ----
// The same container with another magic and version (e.g. anomaly files): everything above
// applies, only the 8-byte magic, the version and the `kind` word in messages differ.
struct ContainerFormat {
  char magic[8];
  uint32_t version;   // written; readers accept 1..version
  const char* kind;   // "model", "probmat", ... (messages: "x.lpm: not a probmat file (bad magic)")
};
inline constexpr ContainerFormat kModelFormat = {
    {'L', 'I', 'T', 'E', 'A', 'I', '\0', '\1'}, kModelFormatVersion, "liteai model"};

void save_container(const ContainerFormat& fmt, const std::string& path, const Json& header,
                    const NamedTensors& tensors);
ModelFile load_container(const ContainerFormat& fmt, const std::string& path, const LoadOptions& options = {});
ModelFile map_container(const ContainerFormat& fmt, const std::string& path);
std::vector<uint8_t> container_to_bytes(const ContainerFormat& fmt, const Json& header, const NamedTensors& tensors);
ModelFile container_from_bytes(const ContainerFormat& fmt, const void* data, size_t size, std::string_view name);

// zlib crc32 over any length (zlib takes 32-bit lengths; this feeds it in pieces).
uint32_t crc32_of(const void* data, size_t size, uint32_t crc = 0);

}  // namespace liteai::io
