// Hostile inputs to the data layer: PNG headers claiming huge sizes, flipped bits in colour PNGs,
// odd headers, zlib bombs, .npy shapes that overflow, CSV manifests with duplicate rows / extra
// fields / NUL bytes, folders with special files and symbolic link loops, IDX and gzip sizes,
// splits that leave nothing to train on. Each must be refused with a clear error (or reported),
// within the limits, never decoded into garbage.
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "data_fixtures.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/loader.hpp"

using namespace liteai;
using namespace liteai::data;
namespace fs = std::filesystem;

namespace {

std::pair<ErrorKind, std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::internal, "no error"};
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
void chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, uint32_t(crc32(0L, out.data() + start, uInt(out.size() - start))));
}
std::vector<uint8_t> ihdr(uint32_t w, uint32_t h, int depth, int color, int interlace = 0) {
  std::vector<uint8_t> d;
  put_be32(d, w);
  put_be32(d, h);
  d.insert(d.end(), {uint8_t(depth), uint8_t(color), 0, 0, uint8_t(interlace)});
  return d;
}
std::vector<uint8_t> zcompress(const std::vector<uint8_t>& raw) {
  uLongf n = compressBound(uLong(raw.size()));
  std::vector<uint8_t> z(n);
  REQUIRE(compress2(z.data(), &n, raw.data(), uLong(raw.size()), 9) == Z_OK);
  z.resize(n);
  return z;
}
// A PNG with valid CRCs around the given (already filtered) scanlines.
std::vector<uint8_t> png_of(uint32_t w, uint32_t h, int depth, int color, const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  chunk(out, "IHDR", ihdr(w, h, depth, color));
  chunk(out, "IDAT", zcompress(raw));
  chunk(out, "IEND", {});
  return out;
}

}  // namespace

TEST_CASE("png: a small file claiming a huge image is refused by the pixel limit at once, naming it") {
  // The 261 KB all-black 16384x16384 PNG of the issue, and 40000x40000: only the header matters.
  for (uint32_t side : {16384u, 40000u}) {
    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    chunk(out, "IHDR", ihdr(side, side, 8, 0));
    chunk(out, "IDAT", zcompress(std::vector<uint8_t>(size_t(side) + 1, 0)));
    chunk(out, "IEND", {});
    const auto t0 = std::chrono::steady_clock::now();
    auto [kind, text] = error_of([&] { decode_image_memory(out.data(), out.size(), "black.png"); });
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0);
    CHECK(kind == ErrorKind::out_of_memory);
    const std::string dims = std::to_string(side) + "x" + std::to_string(side);
    CHECK(text.find("black.png: a " + dims + " image") == 0);
    CHECK(text.find("over the limit of 67108864 pixels per image (LITEAI_MAX_IMAGE_PIXELS") != std::string::npos);
    CHECK(probe_image_memory(out.data(), out.size()).width == int(side));  // probing stays possible
  }
  // Raising the limit lets a real one through.
  const Limits saved = limits();
  Limits l = saved;
  l.max_image_pixels = 100;
  set_limits(l);
  const auto small = png_of(12, 9, 8, 0, std::vector<uint8_t>(9 * 13, 0));
  CHECK(error_of([&] { decode_image_memory(small.data(), small.size(), "s.png"); }).first == ErrorKind::out_of_memory);
  set_limits(saved);
  CHECK(decode_image_memory(small.data(), small.size(), "s.png").width == 12);
}

TEST_CASE("png: a flipped bit is refused on the colour paths as on the gray one (CRC of every chunk)") {
  const int w = 23, h = 17;
  std::vector<uint8_t> px(size_t(w) * h * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 131) ^ (i >> 3));
  for (int c : {1, 2, 3, 4}) {
    const std::vector<uint8_t> good = encode_png(px.data(), w, h, c);
    const Image ref = decode_image_memory(good.data(), good.size(), "ok.png");
    CHECK(ref.width == w);
    for (size_t at = 8; at < good.size(); at += 7) {  // every 7th byte after the signature
      std::vector<uint8_t> bad = good;
      bad[at] ^= 0x10;
      INFO("channels " << c << ", byte " << at);
      auto [kind, text] = error_of([&] { decode_image_memory(bad.data(), bad.size(), "flip.png"); });
      CHECK(kind == ErrorKind::format);
      CHECK(text.rfind("flip.png: ", 0) == 0);
    }
  }
}

TEST_CASE("png: colour, gray+alpha and 16-bit colour decode exactly as stb_image does") {
  const int w = 31, h = 13;
  std::vector<uint8_t> px(size_t(w) * h * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37 + (i / 97) * 11) & 0xFF);
  for (int c : {2, 3, 4}) {  // stb's writer chooses filters per row: every filter with bpp > 1
    const std::vector<uint8_t> enc = encode_png(px.data(), w, h, c);
    const Image img = decode_image_memory(enc.data(), enc.size(), "c.png");
    int rw, rh, rc;
    unsigned char* ref = stbi_load_from_memory(enc.data(), int(enc.size()), &rw, &rh, &rc, 1);
    REQUIRE(ref);
    for (int i = 0; i < w * h; ++i) REQUIRE(img.pixels[size_t(i)] == float(ref[i]));
    stbi_image_free(ref);
  }
  for (int color : {2, 4, 6}) {  // 16-bit, filter 0, built by hand
    const int ch = color == 2 ? 3 : color == 4 ? 2 : 4;
    std::vector<uint8_t> raw;
    for (int y = 0; y < h; ++y) {
      raw.push_back(0);
      for (int x = 0; x < w * ch; ++x) {
        const uint16_t v = uint16_t((x * 2111 + y * 977) & 0xFFFF);
        raw.push_back(uint8_t(v >> 8));
        raw.push_back(uint8_t(v));
      }
    }
    const auto png = png_of(w, h, 16, color, raw);
    const Image img = decode_image_memory(png.data(), png.size(), "c16.png");
    CHECK(img.max_value == 65535.f);
    int rw, rh, rc;
    unsigned short* ref = stbi_load_16_from_memory(png.data(), int(png.size()), &rw, &rh, &rc, 1);
    REQUIRE(ref);
    for (int i = 0; i < w * h; ++i) REQUIRE(img.pixels[size_t(i)] == float(ref[i]));
    stbi_image_free(ref);
  }
}

TEST_CASE("png: odd headers get PNG messages, never another format's") {
  struct Case {
    std::vector<uint8_t> ihdr_data;
    const char* expect;
  };
  const Case cases[] = {
      {ihdr(64, 64, 8, 7), "PNG bit depth 8 with colour type 7 is not a valid combination"},
      {ihdr(64, 64, 3, 0), "PNG bit depth 3 with colour type 0"},
      {ihdr(64, 64, 16, 3), "PNG bit depth 16 with colour type 3"},
      {ihdr(0, 64, 8, 0), "PNG size 0x64"},
      {ihdr(64, 64, 8, 0, 2), "PNG interlace method 2"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    chunk(out, "IHDR", c.ihdr_data);
    chunk(out, "IEND", {});
    auto [kind, text] = error_of([&] { decode_image_memory(out.data(), out.size(), "odd.png"); });
    INFO(text);
    CHECK(kind == ErrorKind::format);
    CHECK(text.find(c.expect) != std::string::npos);
    CHECK(text.find("SOI") == std::string::npos);
    CHECK(text.find("JPEG") == std::string::npos);
  }
  std::vector<uint8_t> first = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  chunk(first, "IHDX", ihdr(8, 8, 8, 0));
  CHECK(error_of([&] { decode_image_memory(first.data(), first.size(), "x.png"); }).second ==
        "x.png: corrupt data (the first PNG chunk is 'IHDX', not IHDR)");
  // A palette image without PLTE; no IDAT at all.
  std::vector<uint8_t> pal = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  chunk(pal, "IHDR", ihdr(4, 4, 8, 3));
  chunk(pal, "IDAT", zcompress(std::vector<uint8_t>(4 * 5, 0)));
  chunk(pal, "IEND", {});
  CHECK(error_of([&] { decode_image_memory(pal.data(), pal.size(), "p.png"); }).second.find("without a PLTE") !=
        std::string::npos);
}

TEST_CASE("png: pixel data inflating far beyond the image is refused on every path (zlib bomb)") {
  // 8x8 but 64 MB of zeros in the stream: gray (ours), RGB (ours), palette (checked before stb).
  const std::vector<uint8_t> bomb = zcompress(std::vector<uint8_t>(size_t(64) << 20, 0));
  for (int color : {0, 2, 3}) {
    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    chunk(out, "IHDR", ihdr(8, 8, 8, color));
    if (color == 3) chunk(out, "PLTE", std::vector<uint8_t>(3 * 4, 9));
    chunk(out, "IDAT", bomb);
    chunk(out, "IEND", {});
    auto [kind, text] = error_of([&] { decode_image_memory(out.data(), out.size(), "bomb.png"); });
    INFO(text);
    CHECK(kind == ErrorKind::format);
    CHECK(text == "bomb.png: corrupt data (more pixel data than 8x8 needs)");
  }
}

TEST_CASE("npy: an overflowing or malformed shape is refused naming the file; sizes meet the limit") {
  const std::string dir = test::temp_dir("npy_hostile");
  auto npy = [&](const std::string& name, const std::string& dict, size_t data_bytes) {
    std::string h = dict;
    const size_t total = 10 + h.size() + 1;
    h.append((64 - total % 64) % 64, ' ');
    h.push_back('\n');
    std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size() & 0xFF), uint8_t(h.size() >> 8)};
    b.insert(b.end(), h.begin(), h.end());
    b.resize(b.size() + data_bytes, 0);
    test::write_bytes(dir + "/" + name, b);
    return dir + "/" + name;
  };
  auto shape_dict = [](const std::string& shape) {
    return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  };
  struct Case {
    std::string file, expect;
    ErrorKind kind;
  };
  const Case cases[] = {
      {npy("ovf.npy", shape_dict("(4, 4611686018427387905)"), 16), "ovf.npy: .npy shape [4, 4611686018427387905] is too large",
       ErrorKind::format},
      {npy("huge.npy", shape_dict("(4, 99999999999999999999999)"), 16), "huge.npy: malformed .npy header (dimension too large",
       ErrorKind::format},
      {npy("big.npy", shape_dict("(100000, 100000)"), 16), "big.npy: the .npy array [100000, 100000] (37 GiB) is over the limit",
       ErrorKind::out_of_memory},
      {npy("neg.npy", shape_dict("(-4, 2)"), 0), "neg.npy: malformed .npy header (expected a dimension", ErrorKind::format},
      {npy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16), "dtype '<f8' is not float32",
       ErrorKind::format},
      {npy("fo.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8), "in Fortran order", ErrorKind::format},
      {npy("key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8), "unknown key 'x'",
       ErrorKind::format},
      {npy("noshape.npy", "{'descr': '<f4', 'fortran_order': False}", 8), "lacks 'shape'", ErrorKind::format},
      {npy("short.npy", shape_dict("(2, 3)"), 20), "short.npy: .npy holds 20 data bytes, shape [2, 3] needs 24",
       ErrorKind::format},
  };
  for (const Case& c : cases) {
    auto [kind, text] = error_of([&] {
      Shape s;
      read_npy(c.file, &s);
    });
    INFO(text);
    CHECK(kind == c.kind);
    CHECK(text.find(c.expect) != std::string::npos);
  }
  Shape s;
  CHECK(read_npy(npy("ok.npy", shape_dict("(2, 3)"), 24), &s).size() == 6);
  CHECK(s == Shape{2, 3});
  CHECK(read_npy(npy("scalar.npy", shape_dict("()"), 4), &s).size() == 1);
  CHECK(s.empty());
  CHECK(error_of([&] { read_npy(dir, &s); }).second == dir + ": is a directory, not a regular file");
}

TEST_CASE("csv manifests: duplicate rows, extra fields and NUL bytes are refused like short rows") {
  const std::string dir = test::temp_dir("csv_hostile");
  CsvOptions o;
  o.check_paths = false;
  struct Case {
    std::string text, expect;
  };
  using namespace std::string_literals;
  const Case cases[] = {
      {"path,label\na.png,x\nb.png,y\na.png,y\n", "m.csv line 4: image 'a.png' is listed again (first on line 2)"},
      {"path,label\na.png,x,extra\n", "m.csv line 2: 3 fields, the header has 2"},
      {"path,label\na.png\n", "m.csv line 2: 1 fields, the header has 2"},
      {"path,label\na.png,x\0y\n"s, "m.csv line 2: column 'label' holds a NUL byte"},
      {"path,label\na.png\0.png,x\n"s, "m.csv line 2: column 'path' holds a NUL byte"},
      {"path,label\n\"a.png,x\n", "m.csv line 2: unterminated quoted field"},
  };
  for (const Case& c : cases) {
    auto [kind, text] = error_of([&] { FileDataset::from_csv_text(c.text, dir + "/m.csv", o); });
    INFO(c.text);
    CHECK(kind == ErrorKind::format);
    CHECK(text == dir + "/" + c.expect);
  }
  // Trailing commas (Excel, NIH's header) are no extra fields.
  auto ds = FileDataset::from_csv_text("path,label,\na.png,x,\nb.png,y\n", dir + "/m.csv", o);
  CHECK(ds->size() == 2);
  // A listed image that is a FIFO or a folder is named for what it is.
  REQUIRE(::mkfifo((dir + "/f.png").c_str(), 0644) == 0);
  fs::create_directories(dir + "/d.png");
  CsvOptions strict;
  for (const auto& [name, what] : {std::pair<std::string, std::string>{"f.png", "a FIFO (named pipe)"}, {"d.png", "a directory"}}) {
    test::write_text(dir + "/m.csv", "path,label\n" + name + ",x\n");
    auto [kind, text] = error_of([&] { FileDataset::from_csv(dir + "/m.csv", strict); });
    CHECK(kind == ErrorKind::io);
    CHECK(text == dir + "/m.csv line 2: image '" + dir + "/" + name + "' is " + what + ", not an image file");
  }
  // The manifest itself must be a regular file.
  CHECK(error_of([&] { FileDataset::from_csv(dir + "/f.png"); }).second == dir + "/f.png: is a FIFO (named pipe), not a regular file");
}

TEST_CASE("folders: what a scan skips is counted with reasons; a symbolic link loop is an error naming it") {
  const std::string dir = test::temp_dir("scan_hostile");
  fs::create_directories(dir + "/a");
  fs::create_directories(dir + "/b/nested");
  std::vector<uint8_t> px(16, 7);
  REQUIRE(stbi_write_png((dir + "/a/1.png").c_str(), 4, 4, 1, px.data(), 4));
  REQUIRE(stbi_write_png((dir + "/b/2.png").c_str(), 4, 4, 1, px.data(), 4));
  test::write_text(dir + "/a/notes.txt", "x");
  test::write_text(dir + "/a/.hidden.png", "x");
  fs::create_symlink(dir + "/missing.png", dir + "/a/dangling.png");
  REQUIRE(::mkfifo((dir + "/b/pipe.png").c_str(), 0644) == 0);
  auto ds = FileDataset::from_folder(dir);
  CHECK(ds->size() == 2);
  const ScanReport& r = ds->scan_report();
  CHECK(r.skipped == 4);
  CHECK(r.by_reason.at("a dangling symbolic link") == 1);
  CHECK(r.by_reason.at("not an image file name") == 1);
  CHECK(r.by_reason.at("a FIFO (named pipe)") == 1);
  CHECK(r.by_reason.at("a sub-folder (not scanned)") == 1);
  REQUIRE(r.examples.size() == 4);
  CHECK(r.examples[0].path == dir + "/a/dangling.png");
  CHECK(r.summary().find("skipped 4 entries (") == 0);
  CHECK(r.to_json().get_int("skipped", "report") == 4);
  // A loop: the scan stops with an io error naming the link.
  fs::create_symlink("loop.png", dir + "/b/loop.png");
  auto [kind, text] = error_of([&] { FileDataset::from_folder(dir); });
  CHECK(kind == ErrorKind::io);
  CHECK(text.find(dir + "/b/loop.png: symbolic link loop") == 0);
}

TEST_CASE("loader: skipped files keep their error kind and are counted and reported") {
  const std::string dir = test::temp_dir("loader_skip");
  std::vector<uint8_t> px(16, 7);
  REQUIRE(stbi_write_png((dir + "/good.png").c_str(), 4, 4, 1, px.data(), 4));
  test::write_text(dir + "/bad.png", "not a png");
  auto ds = std::make_shared<FileDataset>(std::vector<std::string>{dir + "/good.png", dir + "/bad.png"},
                                          std::vector<std::vector<int>>{{0}, {0}}, std::vector<std::string>{"x"}, false);
  LoaderOptions o;
  o.batch_size = 2;
  o.width = o.height = 4;
  o.shuffle = false;
  {
    Loader strict(ds, o);
    auto [kind, text] = error_of([&] { strict.next(); });
    CHECK(kind == ErrorKind::format);  // the decoder's kind, not a generic one
    CHECK(text.find("bad.png: unsupported format") != std::string::npos);
  }
  o.skip_bad = true;
  Loader lenient(ds, o);
  auto b = lenient.next();
  REQUIRE(b);
  CHECK(b->size() == 1);
  CHECK(lenient.skipped() == 1);
  const ScanReport r = lenient.skip_report();
  CHECK(r.by_reason.at("format error") == 1);
  REQUIRE(r.examples.size() == 1);
  CHECK(r.examples[0].path == dir + "/bad.png");
  CHECK(r.examples[0].reason.find("unsupported format") != std::string::npos);
}

TEST_CASE("splits that leave nothing to train on (or validate with) are errors") {
  std::vector<Image> imgs(10, Image(2, 2));
  auto ds = std::make_shared<MemoryDataset>(imgs, std::vector<std::vector<int>>(10, {0}), std::vector<std::string>{"x"});
  CHECK_THROWS_WITH(split_random(ds, 0.99, 1), Catch::Contains("0.99 of 10 samples leaves no training samples"));
  CHECK_THROWS_WITH(split_random(ds, 0.01, 1), Catch::Contains("0.01 of 10 samples leaves no validation samples"));
  auto s = split_random(ds, 0.2, 1);
  CHECK(s.train->size() == 8);
  CHECK(s.validation->size() == 2);
  CHECK(split_random(ds, 0.0, 1).train->size() == 10);
}

TEST_CASE("IDX and gzip: sizes are overflow-checked and inflation is capped") {
  auto idx3 = [](uint32_t count, uint32_t rows, uint32_t cols, size_t data) {
    std::vector<uint8_t> b;
    for (uint32_t v : {0x803u, count, rows, cols}) put_be32(b, v);
    b.resize(b.size() + data, 0);
    return b;
  };
  // count x rows x cols overflowing 64 bits to the data size must not pass.
  auto [k1, t1] = error_of([&] { parse_idx_images(idx3(0x80000000u, 0x10000u, 0x10000u, 0), "x.idx"); });
  CHECK(k1 != ErrorKind::internal);
  CHECK(t1.find("x.idx") == 0);
  CHECK(error_of([&] { parse_idx_images(idx3(2, 3, 0, 0), "z.idx"); }).second.find("z.idx: IDX header says") == 0);
  CHECK(error_of([&] { parse_idx_images(idx3(3, 2, 2, 11), "s.idx"); }).second.find("IDX size mismatch") != std::string::npos);
  CHECK(parse_idx_images(idx3(3, 2, 2, 12), "ok.idx").count == 3);
  // 8 MB of zeros gzip'ed into a few KB, inflated under a 1 MB limit.
  std::vector<uint8_t> gz(1 << 16);
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<uint8_t> zeros(size_t(8) << 20, 0);
  zs.next_in = zeros.data();
  zs.avail_in = uInt(zeros.size());
  zs.next_out = gz.data();
  zs.avail_out = uInt(gz.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  gz.resize(gz.size() - zs.avail_out);
  deflateEnd(&zs);
  CHECK(inflate_maybe_gzip(gz, "z.gz").size() == zeros.size());
  const Limits saved = limits();
  Limits l = saved;
  l.max_file_bytes = 1 << 20;
  set_limits(l);
  auto [k2, t2] = error_of([&] { inflate_maybe_gzip(gz, "z.gz"); });
  set_limits(saved);
  CHECK(k2 == ErrorKind::out_of_memory);
  CHECK(t2.find("z.gz: the inflated data") == 0);
}
