#include "liteai/core/limits.hpp"

#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "liteai/core/error.hpp"

namespace liteai {

namespace {

constexpr size_t kCount = 5;

size_t index_of(Limit l) { return static_cast<size_t>(l); }

int64_t& field(Limits& s, Limit l) {
  switch (l) {
    case Limit::image_pixels: return s.max_image_pixels;
    case Limit::file_bytes: return s.max_file_bytes;
    case Limit::tensor_bytes: return s.max_tensor_bytes;
    case Limit::total_bytes: return s.max_total_bytes;
    case Limit::header_bytes: return s.max_header_bytes;
  }
  return s.max_file_bytes;
}

constexpr std::array<Limit, kCount> kAll = {Limit::image_pixels, Limit::file_bytes, Limit::tensor_bytes,
                                             Limit::total_bytes, Limit::header_bytes};

// "64M" -> 64 Mi; plain digits, or digits and one of K M G T (binary). 0 on anything else.
int64_t parse_count(const char* text) {
  const char* p = text;
  while (std::isspace(static_cast<unsigned char>(*p))) ++p;
  if (!std::isdigit(static_cast<unsigned char>(*p))) return 0;
  uint64_t v = 0;
  for (; std::isdigit(static_cast<unsigned char>(*p)); ++p) {
    if (v > (uint64_t(1) << 62) / 10) return 0;
    v = v * 10 + uint64_t(*p - '0');
  }
  int shift = 0;
  switch (std::toupper(static_cast<unsigned char>(*p))) {
    case 'K': shift = 10; ++p; break;
    case 'M': shift = 20; ++p; break;
    case 'G': shift = 30; ++p; break;
    case 'T': shift = 40; ++p; break;
    default: break;
  }
  if (shift && (*p == 'i' || *p == 'I')) ++p;
  if (shift && (*p == 'b' || *p == 'B')) ++p;
  while (std::isspace(static_cast<unsigned char>(*p))) ++p;
  if (*p != '\0' || v > (uint64_t(1) << (62 - shift))) return 0;
  return static_cast<int64_t>(v << shift);
}

struct State {
  std::once_flag once;
  std::array<std::atomic<int64_t>, kCount> value{};
};
State& state() {
  static State s;
  return s;
}

State& ready() {
  State& s = state();
  std::call_once(s.once, [&] {
    const Limits d = default_limits();
    Limits copy = d;
    for (Limit l : kAll) s.value[index_of(l)].store(field(copy, l));
  });
  return s;
}

const char* per_what(Limit l) {
  switch (l) {
    case Limit::image_pixels: return " per image";
    case Limit::file_bytes: return " per file read";
    case Limit::tensor_bytes: return " per array";
    case Limit::total_bytes: return " per file's arrays together";
    case Limit::header_bytes: return " per header";
  }
  return "";
}

std::string describe(Limit l, uint64_t v) {
  if (l == Limit::image_pixels) return str_cat(v, " pixels");
  return describe_bytes(v);
}

}  // namespace

const char* to_string(Limit l) {
  switch (l) {
    case Limit::image_pixels: return "max_image_pixels";
    case Limit::file_bytes: return "max_file_bytes";
    case Limit::tensor_bytes: return "max_tensor_bytes";
    case Limit::total_bytes: return "max_total_bytes";
    case Limit::header_bytes: return "max_header_bytes";
  }
  return "?";
}

const char* env_name(Limit l) {
  switch (l) {
    case Limit::image_pixels: return "LITEAI_MAX_IMAGE_PIXELS";
    case Limit::file_bytes: return "LITEAI_MAX_FILE_BYTES";
    case Limit::tensor_bytes: return "LITEAI_MAX_TENSOR_BYTES";
    case Limit::total_bytes: return "LITEAI_MAX_TOTAL_BYTES";
    case Limit::header_bytes: return "LITEAI_MAX_HEADER_BYTES";
  }
  return "?";
}

Limits default_limits() {
  Limits d;
  for (Limit l : kAll) {
    const char* env = std::getenv(env_name(l));
    if (!env || !*env) continue;
    const int64_t v = parse_count(env);
    LAI_CHECK(v > 0, env_name(l), "='", env, "': expected a positive count such as 1073741824, 512M or 4G");
    field(d, l) = v;
  }
  return d;
}

Limits limits() {
  State& s = ready();
  Limits out;
  for (Limit l : kAll) field(out, l) = s.value[index_of(l)].load(std::memory_order_relaxed);
  return out;
}

int64_t limit(Limit l) { return ready().value[index_of(l)].load(std::memory_order_relaxed); }

void set_limits(const Limits& in) {
  Limits l = in;
  for (Limit k : kAll) LAI_CHECK(field(l, k) >= 1, "set_limits: ", to_string(k), " must be >= 1, got ", field(l, k));
  State& s = ready();
  for (Limit k : kAll) s.value[index_of(k)].store(field(l, k), std::memory_order_relaxed);
}

void check_limit(Limit l, uint64_t value, const std::string& subject) {
  const int64_t max = limit(l);
  if (value <= static_cast<uint64_t>(max)) return;
  throw_error(ErrorKind::out_of_memory,
              str_cat(subject, " (", describe(l, value), ") is over the limit of ", describe(l, uint64_t(max)), per_what(l),
                      " (", env_name(l), " or liteai::set_limits ", to_string(l), ")"));
}

void check_image_size(int64_t width, int64_t height, const std::string& subject) {
  LAI_CHECK(width >= 0 && height >= 0, subject, ": negative image size ", width, "x", height);
  // Both are below 2^63; their product is checked without overflowing.
  const uint64_t w = uint64_t(width), h = uint64_t(height);
  const uint64_t pixels = (h != 0 && w > UINT64_MAX / h) ? UINT64_MAX : w * h;
  check_limit(Limit::image_pixels, pixels, str_cat(subject, ": a ", width, "x", height, " image"));
}

std::string describe_bytes(uint64_t b) {
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (b < 1024) return str_cat(b, b == 1 ? " byte" : " bytes");
  double v = double(b) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

}  // namespace liteai
