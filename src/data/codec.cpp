// Decoding through stb_image (Debian's libstb holds the implementation), encoding through
// stb_image_write, plus the small formats stb lacks (ASCII PGM, 16-bit PNG output, .npy).
#include "liteai/data/codec.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <thread>

#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/data/decoders.hpp"
#include "liteai/io/file.hpp"
#include "png.hpp"

namespace liteai::data {
namespace {

bool starts_with(const uint8_t* p, size_t n, const char* sig, size_t m) {
  return n >= m && std::memcmp(p, sig, m) == 0;
}

std::string sniff_format(const uint8_t* p, size_t n) {
  if (starts_with(p, n, "\x89PNG\r\n\x1a\n", 8)) return "png";
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "jpeg";
  if (starts_with(p, n, "BM", 2)) return "bmp";
  if (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6') return "pnm";
  return "";
}

// Names formats we recognise but do not decode, so the message says what the file is.
std::string describe_unsupported(const uint8_t* p, size_t n) {
  if (n >= 132 && std::memcmp(p + 128, "DICM", 4) == 0) return "DICOM; this build has no DICOM reader (needs DCMTK)";
  if (starts_with(p, n, "II*\0", 4) || starts_with(p, n, "MM\0*", 4)) return "TIFF";
  if (starts_with(p, n, "GIF8", 4)) return "GIF";
  if (starts_with(p, n, "RIFF", 4)) return "RIFF/WebP";
  if (starts_with(p, n, "\x1f\x8b", 2)) return "gzip data";
  if (starts_with(p, n, "\x93NUMPY", 6)) return ".npy array";
  return "not PNG, JPEG, BMP or PGM/PPM";
}

// A JPEG or BMP that visibly ends early (PNGs are checked chunk by chunk instead).
bool looks_truncated(const std::string& fmt, const uint8_t* p, size_t n) {
  if (fmt == "jpeg") {
    // The EOI marker FF D9 must be near the end (some writers append padding after it).
    size_t from = n > 4096 ? n - 4096 : 0;
    for (size_t i = n; i-- > from + 1;)
      if (p[i - 1] == 0xFF && p[i] == 0xD9) return false;
    return true;
  }
  if (fmt == "bmp") {
    if (n < 14) return true;
    uint32_t declared = uint32_t(p[2]) | uint32_t(p[3]) << 8 | uint32_t(p[4]) << 16 | uint32_t(p[5]) << 24;
    return declared > n;
  }
  return false;
}

const char* format_label(const std::string& fmt) {
  if (fmt == "png") return "PNG";
  if (fmt == "jpeg") return "JPEG";
  if (fmt == "bmp") return "BMP";
  return "PNM";
}

// stb_image's reason for the last failure, unless it is left over from probing the input as
// another format (stb tries JPEG first: every non-JPEG sets "no SOI").
std::string stb_reason(const std::string& fmt) {
  const char* r = stbi_failure_reason();
  if (!r) return "decoder failed";
  const std::string why = r;
  if ((why == "no SOI" && fmt != "jpeg") || (why == "bad png sig" && fmt != "png") || (why == "not BMP" && fmt != "bmp") ||
      why == "unknown image type")
    return "decoder failed";
  return why;
}

// PNM: ASCII gray (P2), binary gray (P5) and RGB (P6), 8 or 16 bits. Ours, not stb's: stb 2.27
// reads 16-bit samples little-endian (the format is big-endian) and doesn't read P2.
// Values are scaled from maxval to 255 or 65535.
struct PnmHeader {
  char kind = 0;
  long width = 0, height = 0, maxval = 0;
  size_t data = 0;  // offset of the first sample
};

// Next decimal field of a PNM header or P2 body, skipping whitespace and comments; false at
// the end or on a non-digit. Values above 2^24 are refused.
bool pnm_next_int(const uint8_t* p, size_t n, size_t& i, long& out, const std::string& name) {
  while (i < n) {
    if (p[i] == '#') {
      while (i < n && p[i] != '\n') ++i;
    } else if (std::isspace(p[i])) {
      ++i;
    } else {
      break;
    }
  }
  if (i >= n || !std::isdigit(p[i])) return false;
  long v = 0;
  while (i < n && std::isdigit(p[i])) {
    v = v * 10 + (p[i] - '0');
    LAI_CHECK_FORMAT(v <= (1L << 24), name, ": corrupt data (PGM value too large)");
    ++i;
  }
  out = v;
  return true;
}

PnmHeader pnm_header(const uint8_t* p, size_t n, const std::string& name) {
  PnmHeader h;
  h.kind = char(p[1]);
  LAI_CHECK_FORMAT(h.kind == '2' || h.kind == '5' || h.kind == '6', name, ": unsupported format (PNM variant P", h.kind,
                   "; P2, P5 and P6 are read)");
  size_t i = 2;
  LAI_CHECK_FORMAT(pnm_next_int(p, n, i, h.width, name) && pnm_next_int(p, n, i, h.height, name) &&
                       pnm_next_int(p, n, i, h.maxval, name),
                   name, ": corrupt data (bad PGM header)");
  LAI_CHECK_FORMAT(h.width > 0 && h.height > 0, name, ": corrupt data (PGM size ", h.width, "x", h.height, ")");
  LAI_CHECK_FORMAT(h.maxval > 0 && h.maxval <= 65535, name, ": corrupt data (PGM maxval ", h.maxval, ")");
  if (h.kind != '2') {
    // Binary: exactly one whitespace byte after maxval, then samples (big-endian when 16-bit).
    LAI_CHECK_FORMAT(i < n && std::isspace(p[i]), name, ": corrupt data (no whitespace after the PNM header)");
    ++i;
  }
  h.data = i;
  // The size against the file (each side <= 2^24: no overflow): a forged header costs nothing.
  const size_t ch = h.kind == '6' ? 3 : 1, bps = h.maxval > 255 ? 2 : 1, count = size_t(h.width) * size_t(h.height);
  if (h.kind == '2')
    LAI_CHECK_FORMAT(count <= n / 2 + 1, name, ": truncated file (PGM has fewer than ", count, " values)");
  else
    LAI_CHECK_FORMAT(n - h.data >= count * ch * bps, name, ": truncated file (", n - h.data, " pixel bytes, ", h.width,
                     "x", h.height, " needs ", count * ch * bps, ")");
  return h;
}

// Decodes after pnm_header; the size was checked against the limits by the caller.
Image decode_pnm(const uint8_t* p, size_t n, const PnmHeader& h, const std::string& name) {
  const long w = h.width, ht = h.height, maxv = h.maxval;
  const size_t ch = h.kind == '6' ? 3 : 1, bps = maxv > 255 ? 2 : 1, count = size_t(w) * size_t(ht);
  Image img{int(w), int(ht)};
  img.max_value = maxv > 255 ? 65535.f : 255.f;
  const float scale = img.max_value / float(maxv);
  if (h.kind == '2') {
    size_t i = h.data;
    for (auto& px : img.pixels) {
      long v = 0;
      LAI_CHECK_FORMAT(pnm_next_int(p, n, i, v, name), name, ": truncated file (PGM has fewer than ", count, " values)");
      LAI_CHECK_FORMAT(v <= maxv, name, ": corrupt data (PGM value ", v, " above maxval ", maxv, ")");
      px = float(v) * scale;
    }
    return img;
  }
  const uint8_t* d = p + h.data;
  auto sample = [&](size_t k) -> float {
    const float v = bps == 2 ? float((d[2 * k] << 8) | d[2 * k + 1]) : float(d[k]);
    return std::min(v, float(maxv)) * scale;
  };
  for (size_t k = 0; k < img.pixels.size(); ++k) {
    if (ch == 1) {
      img.pixels[k] = sample(k);
    } else {  // same luminance weights as stb uses for RGB sources
      img.pixels[k] = (77.f * sample(3 * k) + 150.f * sample(3 * k + 1) + 29.f * sample(3 * k + 2)) / 256.f;
    }
  }
  return img;
}

void check_not_empty(size_t size, const std::string& name) {
  LAI_CHECK_FORMAT(size > 0, name, ": empty file (0 bytes)");
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// stb_image takes an int length.
void check_stb_size(size_t size, const std::string& name) {
  LAI_CHECK_SUPPORTED(size < (size_t(1) << 31), name, ": unsupported (", describe_bytes(size),
                      "; images of 2 GiB and more are not read)");
}

}  // namespace

ImageInfo probe_image_memory(const void* bytes, size_t size, const std::string& name) {
  check_not_empty(size, name);
  const auto* p = static_cast<const uint8_t*>(bytes);
  ImageInfo info;
  info.format = sniff_format(p, size);
  if (info.format.empty())
    if (auto d = find_image_decoder(p, size); d && d->probe) return d->probe(p, size, name);
  LAI_CHECK_FORMAT(!info.format.empty(), name, ": unsupported format (", describe_unsupported(p, size), ")");
  // Headers are read without decoding any pixel.
  if (info.format == "png") {
    const detail::PngHeader h = detail::png_header(p, size, name);
    info.width = int(h.width);
    info.height = int(h.height);
    info.channels = h.color == 3 ? 3 : h.channels;
    info.bit_depth = h.depth == 16 ? 16 : 8;
    return info;
  }
  if (info.format == "pnm") {
    const PnmHeader h = pnm_header(p, size, name);
    info.width = int(h.width);
    info.height = int(h.height);
    info.channels = h.kind == '6' ? 3 : 1;
    info.bit_depth = h.maxval > 255 ? 16 : 8;
    return info;
  }
  check_stb_size(size, name);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(p, int(size), &w, &h, &c)) {
    const std::string label = format_label(info.format);
    LAI_CHECK_FORMAT(!looks_truncated(info.format, p, size), name, ": truncated file (", label, " header incomplete)");
    LAI_FAIL(format, name, ": corrupt data (", label, " header not readable: ", stb_reason(info.format), ")");
  }
  info.width = w;
  info.height = h;
  info.channels = c;
  info.bit_depth = 8;  // stb reads JPEG and BMP as 8-bit
  return info;
}

Image decode_image_memory(const void* bytes, size_t size, const std::string& name) {
  Image img;
  decode_image_memory_into(bytes, size, name, img);
  return img;
}

void decode_image_memory_into(const void* bytes, size_t size, const std::string& name, Image& img) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  const ImageInfo info = probe_image_memory(bytes, size, name);
  // The size the header claims is checked against the limit before any pixel buffer exists.
  check_image_size(info.width, info.height, name);
  if (info.format == "pnm") {
    img = decode_pnm(p, size, pnm_header(p, size, name), name);
    return;
  }
  if (sniff_format(p, size).empty())  // a registered decoder's format (DICOM), its size checked above
    if (auto d = find_image_decoder(p, size); d && d->decode) return d->decode(p, size, name, img);
  if (info.format == "png") {
    const detail::PngFile f = detail::png_scan(p, size, name);
    check_limit(Limit::tensor_bytes, f.header.raw_bytes(), name + ": the PNG's pixel data");
    if (detail::png_decode(f, p, name, img)) return;
    detail::png_check_pixel_data(f, p, name);  // palette, < 8 bits, interlaced: stb decodes them
  } else {
    // A JPEG/BMP that stops early can still decode (stb pads); refuse it so bad data is noticed.
    LAI_CHECK_FORMAT(!looks_truncated(info.format, p, size), name, ": truncated file (", format_label(info.format),
                     " ends before its end marker)");
  }
  check_stb_size(size, name);
  int w = 0, h = 0, c = 0;
  // stb's 8- and 16-bit loaders differ only in their sample type and full scale.
  auto adopt = [&](auto* samples, float full_scale) {
    using T = std::remove_pointer_t<decltype(samples)>;
    std::unique_ptr<T, StbFree> px(samples);
    LAI_CHECK_FORMAT(px != nullptr, name, ": corrupt data (", format_label(info.format), ": ", stb_reason(info.format), ")");
    LAI_CHECK_FORMAT(w == info.width && h == info.height, name, ": corrupt data (decoded ", w, "x", h, ", the header says ",
                     info.width, "x", info.height, ")");
    img.width = w;
    img.height = h;
    img.max_value = full_scale;
    const size_t n = size_t(w) * size_t(h);
    img.pixels.resize(n);
    for (size_t i = 0; i < n; ++i) img.pixels[i] = float(px.get()[i]);
  };
  if (info.bit_depth == 16)
    adopt(stbi_load_16_from_memory(p, int(size), &w, &h, &c, 1), 65535.f);
  else
    adopt(stbi_load_from_memory(p, int(size), &w, &h, &c, 1), 255.f);
}

Image decode_image(const std::string& path) {
  Image img;
  decode_image_into(path, img);
  return img;
}

void decode_image_into(const std::string& path, Image& img) {
  thread_local std::vector<uint8_t> bytes;  // kept per thread: no fresh MBs per file
  io::read_file_into(path, bytes);
  decode_image_memory_into(bytes.data(), bytes.size(), path, img);
  if (bytes.capacity() > (size_t(64) << 20)) std::vector<uint8_t>().swap(bytes);  // don't hoard a huge one
}

ImageInfo probe_image(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return probe_image_memory(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------- writing

namespace {
void append_to_vector(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* b = static_cast<const uint8_t*>(data);
  v->insert(v->end(), b, b + size);
}
}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels) {
  LAI_CHECK(width > 0 && height > 0, "encode_png: bad size ", width, "x", height);
  LAI_CHECK(channels == 1 || channels == 2 || channels == 3 || channels == 4,
            "encode_png: channels must be 1..4, got ", channels);
  std::vector<uint8_t> out;
  int ok = stbi_write_png_to_func(&append_to_vector, &out, width, height, channels, pixels,
                                  width * channels);
  LAI_CHECK(ok, "encode_png: stb_image_write failed for ", width, "x", height, "x", channels);
  return out;
}

void write_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels,
               int stride_bytes) {
  LAI_CHECK(width > 0 && height > 0, path, ": write_png: bad size ", width, "x", height);
  LAI_CHECK(channels >= 1 && channels <= 4, path, ": write_png: channels must be 1..4, got ", channels);
  std::vector<uint8_t> out;
  int ok = stbi_write_png_to_func(&append_to_vector, &out, width, height, channels, pixels,
                                  stride_bytes > 0 ? stride_bytes : width * channels);
  LAI_CHECK(ok, path, ": write_png: encoder failed");
  io::atomic_write_file(path, out.data(), out.size(), /*durable=*/false);
}

void write_png(const std::string& path, const Image& img, float lo, float hi) {
  LAI_CHECK(!img.empty(), path, ": write_png: empty image");
  if (lo == hi) {
    lo = 0.f;
    hi = img.max_value;
  }
  const float scale = 255.f / (hi - lo);
  std::vector<uint8_t> px(img.pixels.size());
  for (size_t i = 0; i < px.size(); ++i) {
    float v = (img.pixels[i] - lo) * scale;
    px[i] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
  }
  write_png(path, px.data(), img.width, img.height, 1);
}

namespace {
uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32_update(0, out.data() + start, out.size() - start));
}
}  // namespace

void write_png16(const std::string& path, const uint16_t* pixels, int width, int height) {
  LAI_CHECK(width > 0 && height > 0, path, ": write_png16: bad size ", width, "x", height);
  // Raw scanlines (filter byte 0 + big-endian samples), wrapped in stored deflate blocks.
  std::vector<uint8_t> raw;
  raw.reserve(size_t(height) * (1 + 2 * size_t(width)));
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    for (int x = 0; x < width; ++x) {
      uint16_t v = pixels[size_t(y) * width + x];
      raw.push_back(uint8_t(v >> 8));
      raw.push_back(uint8_t(v & 0xFF));
    }
  }
  std::vector<uint8_t> z = {0x78, 0x01};
  for (size_t pos = 0; pos < raw.size() || raw.empty();) {
    const size_t len = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + len == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(uint8_t(len & 0xFF));
    z.push_back(uint8_t(len >> 8));
    z.push_back(uint8_t(~len & 0xFF));
    z.push_back(uint8_t((~len >> 8) & 0xFF));
    z.insert(z.end(), raw.begin() + pos, raw.begin() + pos + len);
    pos += len;
    if (last) break;
  }
  uint32_t a = 1, b = 0;  // Adler-32 of the uncompressed stream
  for (uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(z, (b << 16) | a);
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, uint32_t(width));
  put_be32(ihdr, uint32_t(height));
  ihdr.insert(ihdr.end(), {16, 0, 0, 0, 0});  // bit depth 16, gray, deflate, filter 0, no interlace
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", {});
  io::atomic_write_file(path, out.data(), out.size(), /*durable=*/false);
}

void write_npy(const std::string& path, const float* values, const Shape& shape) {
  std::string dims;
  size_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    LAI_CHECK(shape[i] >= 0, path, ": write_npy: negative dimension in ", to_string(shape));
    dims += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
    n *= size_t(shape[i]);
  }
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic(6) + version(2) + length(2) + header + '\n' padded to a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(uint8_t(header.size() & 0xFF));
  out.push_back(uint8_t(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  const auto* b = reinterpret_cast<const uint8_t*>(values);
  out.insert(out.end(), b, b + n * sizeof(float));  // x86/ARM Linux: already little-endian
  io::atomic_write_file(path, out.data(), out.size());
}

// ---------------------------------------------------------------- .npy reading

namespace {

// The header of a float32 C-order .npy: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// read strictly (unknown keys, other dtypes, Fortran order and malformed shapes are refused) and
// with overflow-checked dimensions.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const std::string& name) : t_(text), name_(name) {}

  Shape parse() {
    bool descr = false, order = false, shape = false;
    Shape dims;
    skip();
    expect('{');
    for (;;) {
      skip();
      if (peek() == '}') break;
      const std::string key = quoted();
      skip();
      expect(':');
      skip();
      if (key == "descr") {
        const std::string d = quoted();
        LAI_CHECK_FORMAT(d == "<f4", name_, ": .npy dtype '", d, "' is not float32 little-endian ('<f4')");
        descr = true;
      } else if (key == "fortran_order") {
        LAI_CHECK_FORMAT(word() == "False", name_, ": .npy in Fortran order (C order is read)");
        order = true;
      } else if (key == "shape") {
        dims = tuple();
        shape = true;
      } else {
        fail("unknown key '" + key + "'");
      }
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}'");
    }
    ++i_;
    skip();
    if (i_ != t_.size()) fail("text after the dictionary");
    LAI_CHECK_FORMAT(descr && order && shape, name_, ": .npy header lacks '", !descr ? "descr" : !order ? "fortran_order" : "shape",
                     "'");
    return dims;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    LAI_FAIL(format, name_, ": malformed .npy header (", why, " at character ", i_, ")");
  }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  void skip() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const size_t end = t_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = t_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return s;
  }
  std::string word() {
    const size_t b = i_;
    while (i_ < t_.size() && std::isalpha(uint8_t(t_[i_]))) ++i_;
    return t_.substr(b, i_ - b);
  }
  Shape tuple() {
    expect('(');
    Shape dims;
    for (;;) {
      skip();
      if (peek() == ')') break;
      if (!std::isdigit(uint8_t(peek()))) fail("expected a dimension");
      uint64_t v = 0;
      while (std::isdigit(uint8_t(peek()))) {
        const uint64_t d = uint64_t(t_[i_++] - '0');
        if (v > (uint64_t(INT64_MAX) - d) / 10) fail("dimension too large");
        v = v * 10 + d;
      }
      LAI_CHECK_FORMAT(dims.size() < 32, name_, ": .npy shape has more than 32 dimensions");
      dims.push_back(int64_t(v));
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')' in the shape");
    }
    ++i_;
    return dims;
  }

  const std::string& t_;
  const std::string& name_;
  size_t i_ = 0;
};

struct NpyLayout {
  Shape shape;
  uint64_t data_offset = 0, count = 0;
};

// Prefix (magic, version, header length), then the header; `read(offset, n)` supplies bytes of a
// file of `size` bytes.
template <class Read>
NpyLayout npy_layout(uint64_t size, const Read& read, const std::string& name) {
  LAI_CHECK_FORMAT(size >= 10, name, ": not a .npy file (", size, " bytes)");
  uint8_t pre[12] = {};
  read(0, pre, size_t(std::min<uint64_t>(size, 12)));
  LAI_CHECK_FORMAT(std::memcmp(pre, "\x93NUMPY", 6) == 0, name, ": not a .npy file (no \\x93NUMPY magic)");
  uint64_t hlen = 0, off = 0;
  if (pre[6] == 1) {
    hlen = pre[8] | uint64_t(pre[9]) << 8;
    off = 10;
  } else {
    LAI_CHECK_FORMAT(pre[6] == 2 || pre[6] == 3, name, ": .npy format version ", int(pre[6]), ".", int(pre[7]),
                     " is not read (1.0, 2.0 and 3.0 are)");
    LAI_CHECK_FORMAT(size >= 12, name, ": truncated .npy header");
    hlen = pre[8] | uint64_t(pre[9]) << 8 | uint64_t(pre[10]) << 16 | uint64_t(pre[11]) << 24;
    off = 12;
  }
  check_limit(Limit::header_bytes, hlen, name + ": the .npy header");
  LAI_CHECK_FORMAT(hlen <= size - off, name, ": truncated .npy header (", hlen, " bytes declared, ", size - off, " in the file)");
  std::string h(size_t(hlen), '\0');
  read(off, h.data(), h.size());
  NpyLayout l;
  l.shape = NpyHeaderParser(h, name).parse();
  l.count = 1;
  for (int64_t d : l.shape) {
    LAI_CHECK_FORMAT(d == 0 || l.count <= UINT64_MAX / 4 / uint64_t(d), name, ": .npy shape ", to_string(l.shape),
                     " is too large (its byte size overflows 64 bits)");
    l.count *= uint64_t(d);
  }
  check_limit(Limit::tensor_bytes, l.count * 4, str_cat(name, ": the .npy array ", to_string(l.shape)));
  l.data_offset = off + hlen;
  LAI_CHECK_FORMAT(size - l.data_offset == l.count * 4, name, ": .npy holds ", size - l.data_offset,
                   " data bytes, shape ", to_string(l.shape), " needs ", l.count * 4);
  return l;
}

}  // namespace

std::vector<float> read_npy(const std::string& path, Shape* shape) {
  io::ReadFile f(path);
  const NpyLayout l = npy_layout(f.size(), [&](uint64_t at, void* dst, size_t n) { f.read(at, dst, n); }, path);
  std::vector<float> v(size_t(l.count));
  f.read(l.data_offset, v.data(), v.size() * 4);  // x86/ARM Linux: already little-endian
  if (shape) *shape = l.shape;
  return v;
}

std::vector<float> parse_npy(const void* bytes, size_t size, const std::string& name, Shape* shape) {
  LAI_CHECK(bytes != nullptr || size == 0, name, ": null buffer");
  const auto* b = static_cast<const uint8_t*>(bytes);
  const NpyLayout l = npy_layout(size, [&](uint64_t at, void* dst, size_t n) { std::memcpy(dst, b + at, n); }, name);
  std::vector<float> v(size_t(l.count));
  if (l.count) std::memcpy(v.data(), b + l.data_offset, v.size() * 4);
  if (shape) *shape = l.shape;
  return v;
}

}  // namespace liteai::data
