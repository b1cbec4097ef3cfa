// Decoding of every supported format and bit depth, gray conversion, bad inputs, writers.
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "data_fixtures.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

using namespace liteai;
using namespace liteai::data;

namespace {
// A test pattern with distinct values everywhere (gradients + checker).
std::vector<uint8_t> pattern(int w, int h, int c) {
  std::vector<uint8_t> p(size_t(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) p[(size_t(y) * w + x) * c + k] = uint8_t((x * 7 + y * 13 + k * 50 + ((x ^ y) & 1) * 90) & 0xFF);
  return p;
}
// stb_image's luminance: (77 r + 150 g + 29 b) >> 8.
float gray_of(const uint8_t* px) { return float((px[0] * 77 + px[1] * 150 + px[2] * 29) >> 8); }

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("png 8-bit gray, RGB and RGBA decode exactly") {
  const std::string dir = test::temp_dir("codec_png");
  const int w = 23, h = 17;
  for (int c : {1, 2, 3, 4}) {
    auto px = pattern(w, h, c);
    const std::string path = dir + "/p" + std::to_string(c) + ".png";
    REQUIRE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c));
    ImageInfo info = probe_image(path);
    CHECK(info.format == "png");
    CHECK(info.channels == c);
    CHECK(info.bit_depth == 8);
    Image img = decode_image(path);
    REQUIRE(img.width == w);
    REQUIRE(img.height == h);
    CHECK(img.max_value == 255.f);
    for (int i = 0; i < w * h; ++i) {
      const float want = c <= 2 ? float(px[size_t(i) * c]) : gray_of(&px[size_t(i) * c]);
      REQUIRE(img.pixels[i] == want);
    }
  }
}

TEST_CASE("png 16-bit gray keeps the full range") {
  const std::string dir = test::temp_dir("codec_png16");
  const int w = 31, h = 9;
  std::vector<uint16_t> px(size_t(w) * h);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint16_t((i * 2731 + 17) & 0xFFFF);
  px[0] = 65535;
  px[1] = 0;
  write_png16(dir + "/a.png", px.data(), w, h);
  ImageInfo info = probe_image(dir + "/a.png");
  CHECK(info.bit_depth == 16);
  Image img = decode_image(dir + "/a.png");
  REQUIRE(img.width == w);
  REQUIRE(img.height == h);
  CHECK(img.max_value == 65535.f);
  for (size_t i = 0; i < px.size(); ++i) REQUIRE(img.pixels[i] == float(px[i]));
}

TEST_CASE("jpeg gray and RGB decode close to the source") {
  const std::string dir = test::temp_dir("codec_jpg");
  const int w = 32, h = 24;
  for (int c : {1, 3}) {
    // Smooth content so JPEG's loss stays small.
    std::vector<uint8_t> px(size_t(w) * h * c);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int k = 0; k < c; ++k) px[(size_t(y) * w + x) * c + k] = uint8_t(40 + 4 * x + 2 * y + 10 * k);
    const std::string path = dir + "/a" + std::to_string(c) + ".jpg";
    REQUIRE(stbi_write_jpg(path.c_str(), w, h, c, px.data(), 100));
    CHECK(probe_image(path).format == "jpeg");
    Image img = decode_image(path);
    REQUIRE(img.width == w);
    double err = 0;
    for (int i = 0; i < w * h; ++i) {
      const float want = c == 1 ? px[size_t(i)] : gray_of(&px[size_t(i) * 3]);
      err = std::max(err, double(std::fabs(img.pixels[i] - want)));
    }
    CHECK(err < 6);
  }
}

TEST_CASE("bmp RGB decodes exactly") {
  const std::string dir = test::temp_dir("codec_bmp");
  const int w = 13, h = 7;
  auto px = pattern(w, h, 3);
  REQUIRE(stbi_write_bmp((dir + "/a.bmp").c_str(), w, h, 3, px.data()));
  Image img = decode_image(dir + "/a.bmp");
  REQUIRE(img.width == w);
  REQUIRE(img.height == h);
  for (int i = 0; i < w * h; ++i) REQUIRE(img.pixels[i] == gray_of(&px[size_t(i) * 3]));
}

TEST_CASE("pgm binary 8/16-bit and ascii decode exactly") {
  const std::string dir = test::temp_dir("codec_pgm");
  // P5 8-bit with a comment in the header
  std::string h8 = "P5\n# made by hand\n3 2\n255\n";
  std::vector<uint8_t> b8(h8.begin(), h8.end());
  for (uint8_t v : {0, 10, 20, 200, 254, 255}) b8.push_back(v);
  test::write_bytes(dir + "/a.pgm", b8);
  Image a = decode_image(dir + "/a.pgm");
  REQUIRE(a.width == 3);
  REQUIRE(a.height == 2);
  CHECK(a.pixels == std::vector<float>{0, 10, 20, 200, 254, 255});
  // P5 16-bit, big-endian samples
  std::string h16 = "P5 2 2 65535\n";
  std::vector<uint8_t> b16(h16.begin(), h16.end());
  for (uint16_t v : {0, 256, 4097, 65535}) {
    b16.push_back(uint8_t(v >> 8));
    b16.push_back(uint8_t(v & 0xFF));
  }
  test::write_bytes(dir + "/b.pgm", b16);
  Image b = decode_image(dir + "/b.pgm");
  CHECK(b.max_value == 65535.f);
  CHECK(b.pixels == std::vector<float>{0, 256, 4097, 65535});
  // P6 RGB 8-bit -> luminance
  std::string h6 = "P6 2 1 255\n";
  std::vector<uint8_t> b6(h6.begin(), h6.end());
  for (uint8_t v : {200, 100, 50, 0, 255, 0}) b6.push_back(v);
  Image d = decode_image_memory(b6.data(), b6.size(), "d.ppm");
  CHECK(d.pixels[0] == Approx((77 * 200 + 150 * 100 + 29 * 50) / 256.0));
  CHECK(d.pixels[1] == Approx(150 * 255 / 256.0));
  // P2 ASCII with maxval 15: scaled to the 8-bit range
  test::write_text(dir + "/c.pgm", "P2\n2 2\n15\n0 15\n# mid\n5 10\n");
  Image c = decode_image(dir + "/c.pgm");
  CHECK(c.pixels == std::vector<float>{0, 255, 85, 170});
}

TEST_CASE("decoding from memory equals decoding the file") {
  const std::string dir = test::temp_dir("codec_mem");
  auto px = pattern(19, 11, 3);
  REQUIRE(stbi_write_png((dir + "/a.png").c_str(), 19, 11, 3, px.data(), 19 * 3));
  auto bytes = test::read_bytes(dir + "/a.png");
  Image m = decode_image_memory(bytes.data(), bytes.size(), "a.png");
  Image f = decode_image(dir + "/a.png");
  CHECK(m.pixels == f.pixels);
  auto enc = encode_png(px.data(), 19, 11, 3);
  CHECK(decode_image_memory(enc.data(), enc.size()).pixels == f.pixels);
}

TEST_CASE("bad inputs give errors naming the file and the reason") {
  const std::string dir = test::temp_dir("codec_bad");
  auto px = pattern(40, 30, 1);
  REQUIRE(stbi_write_png((dir + "/good.png").c_str(), 40, 30, 1, px.data(), 40));
  auto png = test::read_bytes(dir + "/good.png");

  std::string e = error_of([&] { decode_image(dir + "/missing.png"); });
  CHECK(e.find("missing.png") != std::string::npos);
  CHECK(e.find("cannot open") != std::string::npos);

  test::write_bytes(dir + "/empty.png", {});
  e = error_of([&] { decode_image(dir + "/empty.png"); });
  CHECK(e.find("empty.png: empty file") != std::string::npos);

  test::write_bytes(dir + "/trunc.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  e = error_of([&] { decode_image(dir + "/trunc.png"); });
  CHECK(e.find("trunc.png: truncated") != std::string::npos);

  test::write_bytes(dir + "/header_only.png", std::vector<uint8_t>(png.begin(), png.begin() + 12));
  e = error_of([&] { decode_image(dir + "/header_only.png"); });
  CHECK(e.find("header_only.png: truncated") != std::string::npos);

  auto bad = png;  // keep the signature and IEND, wreck the compressed data
  for (size_t i = 41; i + 20 < bad.size(); ++i) bad[i] = uint8_t(0xA5 ^ i);
  test::write_bytes(dir + "/corrupt.png", bad);
  e = error_of([&] { decode_image(dir + "/corrupt.png"); });
  CHECK(e.find("corrupt.png: corrupt data") != std::string::npos);

  test::write_text(dir + "/notes.png", "this is a text file, not an image\n");
  e = error_of([&] { decode_image(dir + "/notes.png"); });
  CHECK(e.find("notes.png: unsupported format") != std::string::npos);

  test::write_bytes(dir + "/scan.tif", {'I', 'I', '*', 0, 8, 0, 0, 0, 0, 0});
  e = error_of([&] { decode_image(dir + "/scan.tif"); });
  CHECK(e.find("scan.tif: unsupported format (TIFF)") != std::string::npos);

  std::vector<uint8_t> dicom(200, 0);
  std::memcpy(dicom.data() + 128, "DICM", 4);
  e = error_of([&] { decode_image_memory(dicom.data(), dicom.size(), "ct.dcm"); });
  CHECK(e.find("ct.dcm: unsupported format (DICOM") != std::string::npos);

  test::write_text(dir + "/p2.pgm", "P2\n3 3\n255\n1 2 3\n4 5\n");
  e = error_of([&] { decode_image(dir + "/p2.pgm"); });
  CHECK(e.find("p2.pgm: truncated") != std::string::npos);

  // A JPEG that stops early is refused even though a decoder could pad it.
  std::vector<uint8_t> rgb(64 * 64 * 3, 128);
  REQUIRE(stbi_write_jpg((dir + "/a.jpg").c_str(), 64, 64, 3, rgb.data(), 90));
  auto jpg = test::read_bytes(dir + "/a.jpg");
  test::write_bytes(dir + "/trunc.jpg", std::vector<uint8_t>(jpg.begin(), jpg.end() - 40));
  e = error_of([&] { decode_image(dir + "/trunc.jpg"); });
  CHECK(e.find("trunc.jpg: truncated") != std::string::npos);

  // Forged headers claiming huge images must fail fast, without allocating for them.
  auto forged = png;
  forged[16] = 0, forged[17] = 0, forged[18] = 0xEA, forged[19] = 0x60;  // width 60000
  forged[20] = 0, forged[21] = 0, forged[22] = 0xEA, forged[23] = 0x60;  // height 60000
  e = error_of([&] { decode_image_memory(forged.data(), forged.size(), "forged.png"); });
  CHECK(e.find("forged.png: ") != std::string::npos);
  std::string big_pgm = "P5 10000 10000 255\n0123";
  e = error_of([&] { decode_image_memory(big_pgm.data(), big_pgm.size(), "big.pgm"); });
  CHECK(e.find("big.pgm: truncated file") != std::string::npos);

  // Garbage that starts like a BMP.
  std::vector<uint8_t> bmp = {'B', 'M', 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0};
  e = error_of([&] { decode_image_memory(bmp.data(), bmp.size(), "x.bmp"); });
  CHECK(e.find("x.bmp: truncated") != std::string::npos);
}

TEST_CASE("write_png maps an image range to 8 bits and round-trips") {
  const std::string dir = test::temp_dir("codec_write");
  Image img(4, 2);
  img.pixels = {-1.f, 0.f, 0.25f, 0.5f, 0.75f, 1.f, 2.f, 0.1f};
  write_png(dir + "/o.png", img, 0.f, 1.f);
  Image back = decode_image(dir + "/o.png");
  CHECK(back.pixels == std::vector<float>{0, 0, 64, 128, 191, 255, 255, 26});
  // RGB output
  auto px = pattern(5, 3, 3);
  write_png(dir + "/rgb.png", px.data(), 5, 3, 3);
  CHECK(probe_image(dir + "/rgb.png").channels == 3);
  CHECK(decode_image(dir + "/rgb.png").pixels[4] == gray_of(&px[12]));
  // No temp files left behind.
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.path().string().find(".tmp.") == std::string::npos;
  CHECK(files == 2);
}

TEST_CASE("npy writer produces a NumPy 1.0 float32 file") {
  const std::string dir = test::temp_dir("codec_npy");
  std::vector<float> v(2 * 3 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f - 3.f;
  write_npy(dir + "/a.npy", v.data(), {2, 3, 5});
  auto b = test::read_bytes(dir + "/a.npy");
  REQUIRE(b.size() > 10);
  CHECK(std::memcmp(b.data(), "\x93NUMPY\x01\x00", 8) == 0);
  const size_t hlen = b[8] | (size_t(b[9]) << 8);
  CHECK((10 + hlen) % 64 == 0);
  const std::string header(b.begin() + 10, b.begin() + 10 + long(hlen));
  CHECK(header.find("'descr': '<f4'") != std::string::npos);
  CHECK(header.find("'shape': (2, 3, 5)") != std::string::npos);
  CHECK(header.back() == '\n');
  CHECK(b.size() == 10 + hlen + v.size() * 4);
  Shape s;
  CHECK(read_npy(dir + "/a.npy", &s) == v);
  CHECK(s == Shape{2, 3, 5});
  // 1-D shape is written as a one-element tuple
  write_npy(dir + "/b.npy", v.data(), {4});
  auto b1 = test::read_bytes(dir + "/b.npy");
  CHECK(std::string(b1.begin(), b1.begin() + 80).find("(4,)") != std::string::npos);
}

namespace {
// A gray PNG built by hand: every row uses filter (row % 5), so each PNG filter is exercised;
// the reference decoder (stb_image) must agree with liteai's fast gray path.
std::vector<uint8_t> hand_png(int w, int h, int depth, const std::vector<uint16_t>& px, int bad_filter_row = -1) {
  const size_t bpp = size_t(depth / 8), stride = size_t(w) * bpp;
  std::vector<uint8_t> rows(size_t(h) * stride), raw;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint16_t v = px[size_t(y) * w + x];
      if (depth == 8) {
        rows[size_t(y) * stride + x] = uint8_t(v);
      } else {
        rows[size_t(y) * stride + 2 * x] = uint8_t(v >> 8);
        rows[size_t(y) * stride + 2 * x + 1] = uint8_t(v & 0xFF);
      }
    }
  for (int y = 0; y < h; ++y) {
    const int f = y == bad_filter_row ? 5 : y % 5;
    raw.push_back(uint8_t(f));
    const uint8_t* cur = &rows[size_t(y) * stride];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? cur[i - bpp] : 0, b = y > 0 ? rows[size_t(y - 1) * stride + i] : 0,
                c = (y > 0 && i >= bpp) ? rows[size_t(y - 1) * stride + i - bpp] : 0;
      int pred = 0;
      if (f == 1) pred = a;
      if (f == 2) pred = b;
      if (f == 3) pred = (a + b) / 2;
      if (f == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
      }
      raw.push_back(uint8_t(cur[i] - pred));
    }
  }
  uLongf zlen = compressBound(uLong(raw.size()));
  std::vector<uint8_t> z(zlen);
  REQUIRE(compress2(z.data(), &zlen, raw.data(), uLong(raw.size()), 6) == Z_OK);
  z.resize(zlen);
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto be32 = [&](std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
  };
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    be32(out, uint32_t(data.size()));
    const size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    be32(out, uint32_t(crc32(0, out.data() + start, uInt(out.size() - start))));
  };
  std::vector<uint8_t> ihdr;
  be32(ihdr, uint32_t(w));
  be32(ihdr, uint32_t(h));
  ihdr.insert(ihdr.end(), {uint8_t(depth), 0, 0, 0, 0});
  chunk("IHDR", ihdr);
  // Split the data over two IDAT chunks, as encoders may.
  const size_t half = z.size() / 2;
  chunk("IDAT", std::vector<uint8_t>(z.begin(), z.begin() + long(half)));
  chunk("IDAT", std::vector<uint8_t>(z.begin() + long(half), z.end()));
  chunk("IEND", {});
  return out;
}
}  // namespace

TEST_CASE("gray PNG fast path agrees with stb_image on every filter type, 8 and 16 bits") {
  for (int depth : {8, 16}) {
    for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 7}, {13, 11}, {64, 33}}) {
      std::vector<uint16_t> px(size_t(w) * h);
      uint32_t s = 12345u + uint32_t(w * depth);
      for (size_t i = 0; i < px.size(); ++i) {
        s = s * 1664525u + 1013904223u;  // noise + gradient: all predictors matter
        const uint32_t v = (s >> 16) % 64 + uint32_t(i % size_t(w)) * 3 + uint32_t(i / size_t(w)) * 2;
        px[i] = uint16_t(depth == 8 ? v & 0xFF : (v * 977u) & 0xFFFF);
      }
      auto png = hand_png(w, h, depth, px);
      Image img = decode_image_memory(png.data(), png.size(), "hand.png");
      int rw = 0, rh = 0, rc = 0;
      REQUIRE(img.width == w);
      REQUIRE(img.height == h);
      if (depth == 8) {
        unsigned char* ref = stbi_load_from_memory(png.data(), int(png.size()), &rw, &rh, &rc, 1);
        REQUIRE(ref);
        for (size_t i = 0; i < px.size(); ++i) REQUIRE(img.pixels[i] == float(ref[i]));
        stbi_image_free(ref);
      } else {
        unsigned short* ref = stbi_load_16_from_memory(png.data(), int(png.size()), &rw, &rh, &rc, 1);
        REQUIRE(ref);
        for (size_t i = 0; i < px.size(); ++i) REQUIRE(img.pixels[i] == float(ref[i]));
        stbi_image_free(ref);
      }
      for (size_t i = 0; i < px.size(); ++i) REQUIRE(img.pixels[i] == float(px[i]));
    }
  }
  std::vector<uint16_t> px(20 * 10, 7);
  auto bad = hand_png(20, 10, 8, px, 4);
  std::string e = error_of([&] { decode_image_memory(bad.data(), bad.size(), "f.png"); });
  CHECK(e.find("f.png: corrupt data (PNG row 4 has filter type 5)") != std::string::npos);
  // An IHDR claiming more rows than the data holds
  auto tall = hand_png(20, 10, 8, px);
  tall[23] = 11;  // height 10 -> 11 (stb ignores the CRC, and so do we)
  e = error_of([&] { decode_image_memory(tall.data(), tall.size(), "tall.png"); });
  CHECK(e.find("tall.png: corrupt data") != std::string::npos);
}

TEST_CASE("mutated PNG and PGM files give an Error or an image, never a crash") {
  // Our own decoders (gray PNG fast path, PNM) under random byte flips and truncations.
  std::vector<uint16_t> px(24 * 16);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint16_t((i * 37) % 251);
  const auto png8 = hand_png(24, 16, 8, px), png16 = hand_png(24, 16, 16, px);
  std::string pgm = "P5 24 16 255\n";
  std::vector<uint8_t> pgm8(pgm.begin(), pgm.end());
  for (auto v : px) pgm8.push_back(uint8_t(v));
  uint32_t s = 99;
  auto rnd = [&] {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
  };
  int errors = 0, images = 0;
  for (const std::vector<uint8_t>* src : std::vector<const std::vector<uint8_t>*>{&png8, &png16, &pgm8}) {
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> b = *src;
      const int flips = 1 + int(rnd() % 4);
      for (int f = 0; f < flips; ++f) b[8 + rnd() % (b.size() - 8)] = uint8_t(rnd());
      if (trial % 3 == 0) b.resize(1 + rnd() % b.size());
      try {
        Image img = decode_image_memory(b.data(), b.size(), "fuzz");
        CHECK(img.pixels.size() == size_t(img.width) * size_t(img.height));
        ++images;
      } catch (const Error& e) {
        CHECK(std::string(e.what()).rfind("fuzz: ", 0) == 0);
        ++errors;
      }
    }
  }
  CHECK(errors > 100);
  CHECK(images + errors == 900);
}

TEST_CASE("a PNG chunk claiming more bytes than the file holds is refused before decoding", "[data][codec]") {
  // Regression (fuzz_capi_image): a 1 KB PNG whose IDAT header claims 1.7 GB made stb grow its
  // buffer to that size before noticing the data was missing.
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data, uint32_t claimed) {
    for (int i = 3; i >= 0; --i) b.push_back(uint8_t(claimed >> (8 * i)));
    const size_t start = b.size();
    b.insert(b.end(), type, type + 4);
    b.insert(b.end(), data.begin(), data.end());
    const uLong crc = crc32(0L, b.data() + start, uInt(b.size() - start));
    for (int i = 3; i >= 0; --i) b.push_back(uint8_t(crc >> (8 * i)));
  };
  chunk("IHDR", {0, 0, 0, 32, 0, 0, 0, 32, 8, 0, 0, 0, 0}, 13);  // 32x32, 8-bit gray
  chunk("IDAT", std::vector<uint8_t>(100, 0x55), 0x68ac9425u);   // claims 1,756,140,581 bytes
  chunk("IEND", {}, 0);
  CHECK_THROWS_WITH(decode_image_memory(b.data(), b.size(), "bomb.png"),
                    Catch::Contains("bomb.png: corrupt data (PNG chunk 'IDAT' claims 1756140581 bytes"));
}
