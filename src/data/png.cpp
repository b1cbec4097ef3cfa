#include "png.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "liteai/core/error.hpp"

namespace liteai::data::detail {

namespace {

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint32_t kMaxChunk = 0x7FFFFFFFu;  // PNG: a chunk length is at most 2^31 - 1

std::string type_of(const uint8_t* p) { return std::string(reinterpret_cast<const char*>(p), 4); }

bool is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

uint32_t chunk_crc(const uint8_t* type_and_data, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  return uint32_t(crc32(c, type_and_data, uInt(n)));  // n < 2^31 + 4
}

// The bytes after `pos` hold an IEND chunk: a chunk that runs past the end is then damage, not
// a file cut short.
bool iend_after(const uint8_t* p, size_t n, size_t pos) {
  for (size_t i = pos; i + 4 <= n; ++i)
    if (std::memcmp(p + i, "IEND", 4) == 0) return true;
  return false;
}

// Samples per pixel for a valid (colour type, bit depth), 0 for an invalid combination.
int channels_of(int color, int depth) {
  switch (color) {
    case 0: return (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16) ? 1 : 0;
    case 2: return (depth == 8 || depth == 16) ? 3 : 0;
    case 3: return (depth == 1 || depth == 2 || depth == 4 || depth == 8) ? 1 : 0;
    case 4: return (depth == 8 || depth == 16) ? 2 : 0;
    case 6: return (depth == 8 || depth == 16) ? 4 : 0;
    default: return 0;
  }
}

// Saturates at UINT64_MAX (w, h < 2^31 and bits <= 64 keep a row below 2^35).
uint64_t scanlines_bytes(uint64_t w, uint64_t h, uint64_t bits_per_pixel) {
  if (w == 0 || h == 0) return 0;
  const uint64_t row = 1 + (w * bits_per_pixel + 7) / 8;
  return h > UINT64_MAX / row ? UINT64_MAX : h * row;
}

}  // namespace

uint64_t PngHeader::raw_bytes() const {
  const uint64_t bits = uint64_t(channels) * uint64_t(depth);
  if (!interlace) return scanlines_bytes(width, height, bits);
  // Adam7: seven reduced images, each with its own filter bytes.
  static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
  static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
  uint64_t total = 0;
  for (int k = 0; k < 7; ++k) {
    const uint64_t pw = width > uint32_t(x0[k]) ? (width - x0[k] + dx[k] - 1) / dx[k] : 0;
    const uint64_t ph = height > uint32_t(y0[k]) ? (height - y0[k] + dy[k] - 1) / dy[k] : 0;
    const uint64_t pass = scanlines_bytes(pw, ph, bits);
    total = pass > UINT64_MAX - total ? UINT64_MAX : total + pass;
  }
  return total;
}

PngHeader png_header(const uint8_t* p, size_t n, const std::string& name) {
  LAI_CHECK_FORMAT(n >= 8 && std::memcmp(p, kSignature, 8) == 0, name, ": corrupt data (not a PNG signature)");
  LAI_CHECK_FORMAT(n >= 8 + 8 + 13 + 4, name, ": truncated file (", n, " bytes end inside the PNG header)");
  const uint32_t len = be32(p + 8);
  LAI_CHECK_FORMAT(std::memcmp(p + 12, "IHDR", 4) == 0, name, ": corrupt data (the first PNG chunk is '",
                   type_of(p + 12), "', not IHDR)");
  LAI_CHECK_FORMAT(len == 13, name, ": corrupt data (PNG IHDR of ", len, " bytes, not 13)");
  LAI_CHECK_FORMAT(chunk_crc(p + 12, 4 + 13) == be32(p + 29), name, ": corrupt data (PNG chunk 'IHDR' fails its CRC)");
  PngHeader h;
  h.width = be32(p + 16);
  h.height = be32(p + 20);
  h.depth = p[24];
  h.color = p[25];
  h.interlace = p[28];
  LAI_CHECK_FORMAT(h.width > 0 && h.height > 0 && h.width <= kMaxChunk && h.height <= kMaxChunk, name,
                   ": corrupt data (PNG size ", h.width, "x", h.height, ")");
  h.channels = channels_of(h.color, h.depth);
  LAI_CHECK_FORMAT(h.channels > 0, name, ": corrupt data (PNG bit depth ", h.depth, " with colour type ", h.color,
                   " is not a valid combination)");
  LAI_CHECK_FORMAT(p[26] == 0 && p[27] == 0, name, ": corrupt data (PNG compression method ", int(p[26]),
                   " / filter method ", int(p[27]), "; only 0 exists)");
  LAI_CHECK_FORMAT(h.interlace == 0 || h.interlace == 1, name, ": corrupt data (PNG interlace method ", h.interlace,
                   ")");
  return h;
}

PngFile png_scan(const uint8_t* p, size_t n, const std::string& name) {
  PngFile f;
  f.header = png_header(p, n, name);
  bool iend = false, palette = false;
  for (size_t pos = 8; !iend;) {
    LAI_CHECK_FORMAT(n - pos >= 12, name, ": truncated file (the PNG ends after ", pos, " bytes, before its IEND chunk)");
    const uint32_t len = be32(p + pos);
    const uint8_t* type = p + pos + 4;
    if (len > kMaxChunk || len > n - pos - 12) {
      LAI_CHECK_FORMAT(iend_after(p, n, pos + 8), name, ": truncated file (PNG chunk '", type_of(type),
                       "' runs past the end)");
      LAI_FAIL(format, name, ": corrupt data (PNG chunk '", type_of(type), "' claims ", len, " bytes, the file has ",
               n - pos - 12, " left)");
    }
    LAI_CHECK_FORMAT(is_letter(type[0]) && is_letter(type[1]) && is_letter(type[2]) && is_letter(type[3]), name,
                     ": corrupt data (PNG chunk at offset ", pos, " has no valid type)");
    LAI_CHECK_FORMAT(chunk_crc(type, 4 + size_t(len)) == be32(p + pos + 8 + len), name, ": corrupt data (PNG chunk '",
                     type_of(type), "' at offset ", pos, " fails its CRC)");
    if (std::memcmp(type, "IDAT", 4) == 0) {
      f.idat.emplace_back(pos + 8, len);
    } else if (std::memcmp(type, "PLTE", 4) == 0) {
      palette = true;
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      iend = true;
    } else if (std::memcmp(type, "IHDR", 4) == 0) {
      LAI_CHECK_FORMAT(pos == 8, name, ": corrupt data (a second PNG IHDR chunk)");
    }
    pos += 12 + size_t(len);
  }
  LAI_CHECK_FORMAT(!f.idat.empty(), name, ": corrupt data (the PNG has no IDAT chunk)");
  LAI_CHECK_FORMAT(f.header.color != 3 || palette, name, ": corrupt data (palette PNG without a PLTE chunk)");
  return f;
}

namespace {

// Inflates the IDAT stream. With `dst`, into dst[0, expect); without, into a scratch buffer that
// is overwritten (only checked). Throws unless the stream is whole, its Adler-32 right, and it
// holds exactly `expect` bytes.
void inflate_idat(const PngFile& f, const uint8_t* p, const std::string& name, uint8_t* dst, uint64_t expect) {
  const PngHeader& h = f.header;
  std::vector<uint8_t> scratch(dst ? 0 : size_t(1) << 16);
  z_stream zs{};
  LAI_CHECK_KIND(ErrorKind::internal, inflateInit(&zs) == Z_OK, name, ": zlib init failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  uint64_t done = 0;
  int rc = Z_OK;
  for (const auto& [off, len] : f.idat) {
    if (rc == Z_STREAM_END) break;
    zs.next_in = const_cast<uint8_t*>(p + off);
    zs.avail_in = uInt(len);
    while (zs.avail_in > 0 && rc != Z_STREAM_END) {
      // Room for the rest of the image (one byte more when only checking, to see an excess).
      if (dst) {
        zs.next_out = dst + done;
        zs.avail_out = uInt(std::min<uint64_t>(expect - done, uint64_t(1) << 30));
      } else {
        zs.next_out = scratch.data();
        zs.avail_out = uInt(std::min<uint64_t>(scratch.size(), expect - done + 1));
      }
      const uInt room = zs.avail_out;
      rc = inflate(&zs, Z_NO_FLUSH);
      done += room - zs.avail_out;
      if (done > expect || (rc == Z_BUF_ERROR && zs.avail_out == 0))
        LAI_FAIL(format, name, ": corrupt data (more pixel data than ", h.width, "x", h.height, " needs)");
      LAI_CHECK_FORMAT(rc == Z_OK || rc == Z_STREAM_END, name, ": corrupt data (zlib: ",
                       zs.msg ? zs.msg : "inflate failed", ")");
    }
  }
  LAI_CHECK_FORMAT(rc == Z_STREAM_END, name, ": corrupt data (compressed pixel data ends early)");
  LAI_CHECK_FORMAT(done == expect, name, ": corrupt data (", done, " pixel bytes, ", h.width, "x", h.height, " needs ",
                   expect, ")");
}

// Undoes one row's filter in place (PNG spec 9.2); bpp = bytes per complete pixel (>= 1).
void unfilter(int filter, uint8_t* cur, const uint8_t* prev, size_t stride, size_t bpp, uint32_t y,
              const std::string& name) {
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
      LAI_FAIL(format, name, ": corrupt data (PNG row ", y, " has filter type ", filter, ")");
  }
}

// One unfiltered row to gray floats. Colour as stb_image converts it (so both paths agree):
// y = (77 r + 150 g + 29 b) >> 8; alpha is ignored.
template <int Bytes>
void row_to_gray(const uint8_t* s, int channels, uint32_t w, float* dst) {
  auto sample = [&](size_t k) -> uint32_t {
    if constexpr (Bytes == 1) return s[k];
    else return uint32_t(s[2 * k]) << 8 | s[2 * k + 1];
  };
  if (channels <= 2) {
    for (uint32_t x = 0; x < w; ++x) dst[x] = float(sample(size_t(x) * channels));
  } else {
    for (uint32_t x = 0; x < w; ++x) {
      const size_t k = size_t(x) * channels;
      dst[x] = float((sample(k) * 77 + sample(k + 1) * 150 + sample(k + 2) * 29) >> 8);
    }
  }
}

}  // namespace

bool png_decode(const PngFile& f, const uint8_t* p, const std::string& name, Image& out) {
  const PngHeader& h = f.header;
  if (h.color == 3 || h.depth < 8 || h.interlace) return false;
  const size_t bpp = size_t(h.channels) * size_t(h.depth / 8), stride = size_t(h.width) * bpp;
  const uint64_t raw_size = h.raw_bytes();
  thread_local std::vector<uint8_t> raw;  // kept per thread: no fresh MBs per image
  raw.resize(size_t(raw_size));
  inflate_idat(f, p, name, raw.data(), raw_size);
  out.width = int(h.width);
  out.height = int(h.height);
  out.pixels.resize(size_t(h.width) * h.height);
  out.max_value = h.depth == 16 ? 65535.f : 255.f;
  thread_local std::vector<uint8_t> zero_row;  // the row "above" the first one
  zero_row.assign(stride, 0);
  const uint8_t* prev = zero_row.data();
  for (uint32_t y = 0; y < h.height; ++y) {
    uint8_t* row = raw.data() + size_t(y) * (stride + 1);
    uint8_t* cur = row + 1;
    unfilter(row[0], cur, prev, stride, bpp, y, name);
    float* dst = out.pixels.data() + size_t(y) * h.width;
    if (h.depth == 8) row_to_gray<1>(cur, h.channels, h.width, dst);
    else row_to_gray<2>(cur, h.channels, h.width, dst);
    prev = cur;
  }
  if (raw.capacity() > (size_t(64) << 20)) std::vector<uint8_t>().swap(raw);  // don't hoard a huge one
  return true;
}

void png_check_pixel_data(const PngFile& f, const uint8_t* p, const std::string& name) {
  inflate_idat(f, p, name, nullptr, f.header.raw_bytes());
}

}  // namespace liteai::data::detail
