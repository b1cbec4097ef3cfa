// Decoding through stb_image (Debian's libstb holds the implementation), encoding through
// stb_image_write, plus the small formats stb lacks (ASCII PGM, 16-bit PNG output, .npy).
#include "liteai/data/codec.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "liteai/data/decoders.hpp"

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

// A decode failure after a valid signature: truncated when the file visibly ends early.
bool looks_truncated(const std::string& fmt, const uint8_t* p, size_t n) {
  if (fmt == "png") {
    // A complete PNG ends with the IEND chunk ("IEND" + CRC); some writers append a few bytes.
    if (n < 12) return true;
    const size_t from = n > 1024 ? n - 1024 : 0;
    for (size_t i = n - 8 + 1; i-- > from;)
      if (std::memcmp(p + i, "IEND", 4) == 0) return false;
    return true;
  }
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

// A PNG chunk that claims more bytes than the file holds, or an empty string when every chunk
// fits. stb grows its buffer to a chunk's claimed length before reading it: a 1 KB file claiming a
// 1.7 GB IDAT made it allocate 1.7 GB (found by fuzz_capi_image).
std::string png_chunk_overrun(const uint8_t* p, size_t n) {
  size_t pos = 8;  // after the signature
  while (pos + 8 <= n) {
    const uint32_t len = uint32_t(p[pos]) << 24 | uint32_t(p[pos + 1]) << 16 | uint32_t(p[pos + 2]) << 8 | p[pos + 3];
    const std::string type(reinterpret_cast<const char*>(p + pos + 4), 4);
    if (uint64_t(len) + 12 > n - pos)
      return str_cat("PNG chunk '", type, "' claims ", len, " bytes, the file has ", n - pos - std::min<size_t>(n - pos, 12),
                     " left");
    if (type == "IEND") break;
    pos += 12 + size_t(len);
  }
  return "";
}

// PNM: ASCII gray (P2), binary gray (P5) and RGB (P6), 8 or 16 bits. Ours, not stb's: stb 2.27
// reads 16-bit samples little-endian (the format is big-endian) and doesn't read P2.
// Values are scaled from maxval to 255 or 65535.
Image decode_pnm(const uint8_t* p, size_t n, const std::string& name) {
  const char kind = char(p[1]);
  size_t i = 2;
  auto next_int = [&](long& out) -> bool {
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
  };
  long w = 0, h = 0, maxv = 0;
  LAI_CHECK_FORMAT(next_int(w) && next_int(h) && next_int(maxv), name, ": corrupt data (bad PGM header)");
  LAI_CHECK_FORMAT(w > 0 && h > 0 && w * h <= (1L << 28), name, ": corrupt data (PGM size ", w, "x", h, ")");
  LAI_CHECK_FORMAT(maxv > 0 && maxv <= 65535, name, ": corrupt data (PGM maxval ", maxv, ")");
  // Check the size against the file before allocating (a forged header must not cost a GB).
  const size_t ch = kind == '6' ? 3 : 1, bps = maxv > 255 ? 2 : 1;
  if (kind == '2')
    LAI_CHECK_FORMAT(size_t(w) * size_t(h) <= n / 2 + 1, name, ": truncated file (PGM has fewer than ", w * h, " values)");
  else
    LAI_CHECK_FORMAT(i < n && n - i - 1 >= size_t(w) * size_t(h) * ch * bps, name, ": truncated file (", n - std::min(n, i + 1),
              " pixel bytes, ", w, "x", h, " needs ", size_t(w) * size_t(h) * ch * bps, ")");
  Image img{int(w), int(h)};
  img.max_value = maxv > 255 ? 65535.f : 255.f;
  const float scale = img.max_value / float(maxv);
  if (kind == '2') {
    for (auto& px : img.pixels) {
      long v = 0;
      LAI_CHECK_FORMAT(next_int(v), name, ": truncated file (PGM has fewer than ", w * h, " values)");
      LAI_CHECK_FORMAT(v <= maxv, name, ": corrupt data (PGM value ", v, " above maxval ", maxv, ")");
      px = float(v) * scale;
    }
    return img;
  }
  // Binary: exactly one whitespace byte after maxval, then samples (big-endian when 16-bit).
  LAI_CHECK_FORMAT(std::isspace(p[i]), name, ": corrupt data (no whitespace after the PNM header)");
  ++i;
  const uint8_t* d = p + i;
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

uint32_t read_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Fast path for the common radiograph PNG: gray, 8 or 16 bits, not interlaced (NIH ChestX-ray14
// is 8-bit gray). zlib inflates ~2x faster than stb's decoder and rows go straight to floats.
// Returns false for anything else (colour, palette, interlaced, odd depths): stb handles those.
bool decode_png_gray_fast(const uint8_t* p, size_t n, const std::string& name, Image& out) {
  size_t pos = 8;
  if (n < pos + 8 + 13 || std::memcmp(p + pos + 4, "IHDR", 4) != 0) return false;
  const uint32_t w = read_be32(p + 16), h = read_be32(p + 20);
  const int depth = p[24], color = p[25], interlace = p[28];
  if (color != 0 || (depth != 8 && depth != 16) || interlace != 0 || p[26] != 0 || p[27] != 0) return false;
  LAI_CHECK_FORMAT(w > 0 && h > 0, name, ": corrupt data (size ", w, "x", h, ")");
  LAI_CHECK(uint64_t(w) * h <= (uint64_t(1) << 28), name, ": unsupported (", w, "x", h, " pixels is too large)");
  const size_t bpp = depth / 8, stride = size_t(w) * bpp, raw_size = size_t(h) * (stride + 1);
  // deflate cannot compress better than ~1032:1; a header claiming more is forged or corrupt.
  LAI_CHECK_FORMAT(raw_size / 1032 <= n + 1024, name, ": corrupt data (", w, "x", h, " pixels cannot fit in ", n, " bytes)");
  thread_local std::vector<uint8_t> raw;  // kept per thread: no fresh MBs per image
  raw.resize(raw_size);
  z_stream zs{};
  LAI_CHECK(inflateInit(&zs) == Z_OK, name, ": zlib init failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  zs.next_out = raw.data();
  zs.avail_out = uInt(raw_size);
  int rc = Z_OK;
  bool seen_iend = false;
  while (pos + 12 <= n) {
    const uint32_t len = read_be32(p + pos);
    const uint8_t* type = p + pos + 4;
    LAI_CHECK_FORMAT(len <= n - pos - 12, name, ": truncated file (chunk '", std::string(reinterpret_cast<const char*>(type), 4),
              "' runs past the end)");
    const uint8_t* data = p + pos + 8;
    if (std::memcmp(type, "IDAT", 4) == 0 && rc != Z_STREAM_END) {
      zs.next_in = const_cast<uint8_t*>(data);
      zs.avail_in = len;
      while (zs.avail_in > 0 && rc != Z_STREAM_END) {
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
          throw_error(ErrorKind::format, str_cat(name, ": corrupt data (more pixel data than ", w, "x", h, " needs)"));
        }
        LAI_CHECK_FORMAT(rc == Z_OK || rc == Z_STREAM_END, name, ": corrupt data (zlib: ", zs.msg ? zs.msg : "inflate failed", ")");
      }
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      seen_iend = true;
      break;
    }
    pos += 12 + size_t(len);
  }
  LAI_CHECK_FORMAT(rc == Z_STREAM_END || !seen_iend, name, ": corrupt data (compressed pixel data ends early)");
  LAI_CHECK_FORMAT(rc == Z_STREAM_END, name, ": truncated file (pixel data ends early)");
  LAI_CHECK_FORMAT(zs.avail_out == 0, name, ": corrupt data (", raw_size - zs.avail_out, " pixel bytes, ", w, "x", h, " needs ", raw_size, ")");
  // Undo the per-row filters in place (PNG spec 9.2), bpp = bytes per complete pixel.
  out.width = int(w);
  out.height = int(h);
  out.pixels.resize(size_t(w) * h);
  out.max_value = depth == 16 ? 65535.f : 255.f;
  thread_local std::vector<uint8_t> zero_row;  // the row "above" the first one
  zero_row.assign(stride, 0);
  const uint8_t* prev = zero_row.data();
  for (uint32_t y = 0; y < h; ++y) {
    uint8_t* row = raw.data() + size_t(y) * (stride + 1);
    const int filter = row[0];
    uint8_t* cur = row + 1;
    const size_t lead = std::min(bpp, stride);  // bytes with no left neighbour
    switch (filter) {
      case 0:
        break;
      case 1:
        for (size_t i = bpp; i < stride; ++i) cur[i] = uint8_t(cur[i] + cur[i - bpp]);
        break;
      case 2:
        for (size_t i = 0; i < stride; ++i) cur[i] = uint8_t(cur[i] + prev[i]);
        break;
      case 3:
        for (size_t i = 0; i < lead; ++i) cur[i] = uint8_t(cur[i] + (prev[i] >> 1));
        for (size_t i = bpp; i < stride; ++i) cur[i] = uint8_t(cur[i] + ((cur[i - bpp] + prev[i]) >> 1));
        break;
      case 4:
        for (size_t i = 0; i < lead; ++i) cur[i] = uint8_t(cur[i] + prev[i]);  // Paeth with a = c = 0 picks b
        if (bpp == 1) {
          // The left neighbour and upper-left stay in registers (the chain is serial anyway).
          int a = cur[0], c = prev[0];
          for (size_t i = 1; i < stride; ++i) {
            const int b = prev[i];
            const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
            const int bc = pb <= pc ? b : c;
            a = (cur[i] + (((pa <= pb) & (pa <= pc)) ? a : bc)) & 0xFF;
            cur[i] = uint8_t(a);
            c = b;
          }
        } else {
          for (size_t i = bpp; i < stride; ++i) {
            const int a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
            const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
            const int bc = pb <= pc ? b : c;
            cur[i] = uint8_t(cur[i] + (((pa <= pb) & (pa <= pc)) ? a : bc));
          }
        }
        break;
      default:
        throw_error(ErrorKind::format, str_cat(name, ": corrupt data (PNG row ", y, " has filter type ", filter, ")"));
    }
    float* dst = out.pixels.data() + size_t(y) * w;
    if (depth == 8) {
      for (uint32_t x = 0; x < w; ++x) dst[x] = float(cur[x]);
    } else {
      for (uint32_t x = 0; x < w; ++x) dst[x] = float((cur[2 * x] << 8) | cur[2 * x + 1]);
    }
    prev = cur;
  }
  return true;
}

void check_not_empty(size_t size, const std::string& name) {
  LAI_CHECK_FORMAT(size > 0, name, ": empty file (0 bytes)");
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

}  // namespace

void read_file_bytes_into(const std::string& path, std::vector<uint8_t>& bytes) {
  bytes.clear();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  LAI_CHECK_IO(f != nullptr, path, ": cannot open (", std::strerror(errno), ")");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(f, &std::fclose);
  struct stat st {};
  size_t expect = 0;
  if (::fstat(::fileno(f), &st) == 0 && st.st_size > 0) expect = size_t(st.st_size);
  // Read straight into the buffer; grow only if the file grew meanwhile.
  bytes.resize(std::max<size_t>(expect, 1 << 16));
  size_t have = 0, got;
  while ((got = std::fread(bytes.data() + have, 1, bytes.size() - have, f)) > 0) {
    have += got;
    if (have == bytes.size()) bytes.resize(bytes.size() * 2);
  }
  LAI_CHECK_IO(!std::ferror(f), path, ": cannot read (", std::strerror(errno), ")");
  bytes.resize(have);
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::vector<uint8_t> bytes;
  read_file_bytes_into(path, bytes);
  return bytes;
}

ImageInfo probe_image_memory(const void* bytes, size_t size, const std::string& name) {
  check_not_empty(size, name);
  const auto* p = static_cast<const uint8_t*>(bytes);
  LAI_CHECK(size < (size_t(1) << 31), name, ": unsupported (file larger than 2 GB)");
  ImageInfo info;
  info.format = sniff_format(p, size);
  if (info.format.empty())
    if (auto d = find_image_decoder(p, size); d && d->probe) return d->probe(p, size, name);
  LAI_CHECK_FORMAT(!info.format.empty(), name, ": unsupported format (", describe_unsupported(p, size), ")");
  if (info.format == "pnm") {
    LAI_CHECK_FORMAT(p[1] == '2' || p[1] == '5' || p[1] == '6', name,
              ": unsupported format (PNM variant P", char(p[1]), "; P2, P5 and P6 are read)");
    Image img = decode_pnm(p, size, name);
    info.width = img.width;
    info.height = img.height;
    info.channels = p[1] == '6' ? 3 : 1;
    info.bit_depth = img.max_value > 255.f ? 16 : 8;
    return info;
  }
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(p, int(size), &w, &h, &c)) {
    const char* why = stbi_failure_reason();
    LAI_CHECK_FORMAT(!looks_truncated(info.format, p, size), name, ": truncated file (", why ? why : "?", ")");
    throw_error(ErrorKind::format, str_cat(name, ": corrupt data (", why ? why : "header not readable", ")"));
  }
  info.width = w;
  info.height = h;
  info.channels = c;
  info.bit_depth = stbi_is_16_bit_from_memory(p, int(size)) ? 16 : 8;
  return info;
}

Image decode_image_memory(const void* bytes, size_t size, const std::string& name) {
  Image img;
  decode_image_memory_into(bytes, size, name, img);
  return img;
}

void decode_image_memory_into(const void* bytes, size_t size, const std::string& name, Image& img) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  const std::string fmt = size > 0 ? sniff_format(p, size) : "";
  if (fmt == "pnm" && (p[1] == '2' || p[1] == '5' || p[1] == '6')) {
    img = decode_pnm(p, size, name);
    return;
  }
  if (fmt.empty() && size > 0)
    if (auto d = find_image_decoder(p, size); d && d->decode) return d->decode(p, size, name, img);
  ImageInfo info = probe_image_memory(bytes, size, name);
  // A PNG/JPEG that stops early can still decode (stb pads); refuse it so bad data is noticed.
  LAI_CHECK_FORMAT(!looks_truncated(info.format, p, size), name, ": truncated file (", info.format,
            " ends before its end marker)");
  LAI_CHECK_FORMAT(info.width > 0 && info.height > 0, name, ": corrupt data (size ", info.width, "x", info.height, ")");
  LAI_CHECK(int64_t(info.width) * info.height <= (int64_t(1) << 28), name, ": unsupported (",
            info.width, "x", info.height, " pixels is too large)");
  if (info.format == "png") {
    const std::string overrun = png_chunk_overrun(p, size);
    LAI_CHECK_FORMAT(overrun.empty(), name, ": corrupt data (", overrun, ")");
    if (decode_png_gray_fast(p, size, name, img)) return;
  }
  int w = 0, h = 0, c = 0;
  // stb's 8- and 16-bit loaders differ only in their sample type and full scale.
  auto adopt = [&](auto* samples, float full_scale) {
    using T = std::remove_pointer_t<decltype(samples)>;
    std::unique_ptr<T, StbFree> px(samples);
    if (!px) {
      const char* why = stbi_failure_reason();
      throw_error(ErrorKind::format, str_cat(name, ": corrupt data (", why ? why : "decoder failed", ")"));
    }
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
  read_file_bytes_into(path, bytes);
  decode_image_memory_into(bytes.data(), bytes.size(), path, img);
  if (bytes.capacity() > (size_t(64) << 20)) std::vector<uint8_t>().swap(bytes);  // don't hoard a huge one
}

ImageInfo probe_image(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return probe_image_memory(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------- writing

void write_file_atomic(const std::string& path, const void* bytes, size_t size, bool sync) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = str_cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  LAI_CHECK_IO(f != nullptr, path, ": cannot write (", std::strerror(errno), ")");
  bool ok = std::fwrite(bytes, 1, size, f) == size;
  ok = std::fflush(f) == 0 && ok;
  if (sync) ok = ::fsync(::fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw_error(ErrorKind::io, str_cat(path, ": cannot write (", std::strerror(err), ")"));
  }
}

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
  write_file_atomic(path, out.data(), out.size(), /*sync=*/false);
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
  write_file_atomic(path, out.data(), out.size(), /*sync=*/false);
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
  write_file_atomic(path, out.data(), out.size());
}

std::vector<float> read_npy(const std::string& path, Shape* shape) {
  std::vector<uint8_t> b = read_file_bytes(path);
  LAI_CHECK_FORMAT(b.size() >= 10 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0, path, ": not a .npy file");
  size_t hlen = 0, off = 0;
  if (b[6] == 1) {
    hlen = b[8] | (size_t(b[9]) << 8);
    off = 10;
  } else {
    LAI_CHECK_FORMAT(b.size() >= 12, path, ": truncated .npy header");
    hlen = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
    off = 12;
  }
  LAI_CHECK_FORMAT(off + hlen <= b.size(), path, ": truncated .npy header");
  std::string h(b.begin() + off, b.begin() + off + hlen);
  LAI_CHECK_FORMAT(h.find("'<f4'") != std::string::npos, path, ": .npy dtype is not float32 little-endian");
  LAI_CHECK_FORMAT(h.find("'fortran_order': False") != std::string::npos, path, ": .npy in Fortran order");
  auto l = h.find('('), r = h.find(')');
  LAI_CHECK_FORMAT(l != std::string::npos && r != std::string::npos && r > l, path, ": .npy shape missing");
  Shape s;
  size_t n = 1;
  std::string dims = h.substr(l + 1, r - l - 1);
  for (size_t i = 0; i < dims.size();) {
    while (i < dims.size() && !std::isdigit(uint8_t(dims[i]))) ++i;
    if (i >= dims.size()) break;
    int64_t v = 0;
    while (i < dims.size() && std::isdigit(uint8_t(dims[i]))) v = v * 10 + (dims[i++] - '0');
    s.push_back(v);
    n *= size_t(v);
  }
  off += hlen;
  LAI_CHECK_FORMAT(b.size() - off == n * 4, path, ": .npy holds ", b.size() - off, " data bytes, shape needs ", n * 4);
  std::vector<float> v(n);
  std::memcpy(v.data(), b.data() + off, n * 4);
  if (shape) *shape = s;
  return v;
}

}  // namespace liteai::data
