#pragma once
// Resource limits: how much one input may make the library read or allocate. Every loader checks
// the sizes a file's header (or a caller's arguments) announce against them, and against the
// file's length, before it allocates anything, so a 261 KB PNG that claims 16384x16384 pixels, a
// .npy whose shape multiplies to 2^64 or a model header asking for terabytes is refused at once
// with an error of kind out_of_memory that names the limit, instead of costing gigabytes first.
//
// Defaults (fit the 2-8 GB machines liteai is for; a 4k x 4k 16-bit radiograph is far inside):
//   max_image_pixels   64 Mi pixels (8192 x 8192)   one image: decoded, or a caller's pixel buffer
//   max_file_bytes      1 GiB   read whole from one file (image, manifest, JSON, list, IDX), and
//                               inflated from a compressed one
//   max_tensor_bytes    4 GiB   one array a file or a caller asks for (a model tensor, a .npy, a
//                               ProbMat table, an anomaly file's payload, the span of a caller's
//                               pixel buffer with its row stride)
//   max_total_bytes     8 GiB   all arrays of one file together (a model with its optimizer state)
//   max_header_bytes   64 MiB   a file's header (a model file's JSON, a .npy header)
// Each can be changed from the environment, read once at first use, as a count with an optional
// binary suffix K, M, G or T (LITEAI_MAX_IMAGE_PIXELS=256M, LITEAI_MAX_TOTAL_BYTES=16G), or from code
// with set_limits (the front ends' options end up there). Thread-safe.
#include <cstdint>
#include <string>

namespace liteai {

struct Limits {
  int64_t max_image_pixels = int64_t(1) << 26;
  int64_t max_file_bytes = int64_t(1) << 30;
  int64_t max_tensor_bytes = int64_t(4) << 30;
  int64_t max_total_bytes = int64_t(8) << 30;
  int64_t max_header_bytes = int64_t(64) << 20;
};

enum class Limit : uint8_t { image_pixels, file_bytes, tensor_bytes, total_bytes, header_bytes };
const char* to_string(Limit l);  // "max_image_pixels", ...
const char* env_name(Limit l);   // "LITEAI_MAX_IMAGE_PIXELS", ...

// The defaults above with the environment's overrides applied (throws invalid_argument naming the
// variable when one is not a positive count).
Limits default_limits();
// The limits in force: default_limits() until set_limits is called.
Limits limits();
int64_t limit(Limit l);
// Every field must be >= 1 (throws invalid_argument naming the field otherwise).
void set_limits(const Limits& l);

// Throws Error(out_of_memory) unless value <= the limit:
//   "<subject> (<value>) is over the limit of <limit> <unit> (LITEAI_MAX_..., liteai::set_limits)".
// `subject` says what asked for it: "scan.png: a 40000x40000 image", "x.npy: shape (4, 2^62)".
void check_limit(Limit l, uint64_t value, const std::string& subject);
// The same for an image's width x height (overflow-safe).
void check_image_size(int64_t width, int64_t height, const std::string& subject);

// "1.5 GiB", "64 MiB", "312 bytes": sizes in messages.
std::string describe_bytes(uint64_t bytes);

}  // namespace liteai
