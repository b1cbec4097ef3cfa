// C API: ProbMat streaming/batch/files/merge equivalence, WPM, save/load, SOM, Hough, decoding.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {
constexpr int S = 48;

std::vector<float> wpm_of(lai_probmat* pm, const std::vector<uint8_t>& px, double* score) {
  std::vector<float> map(size_t(S) * S);
  REQUIRE(lai_probmat_wpm(pm, px.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map.data(), map.size(), score) == LAI_OK);
  return map;
}
}  // namespace

TEST_CASE("capi: ProbMat streamed, batched, from files and merged gives the same WPM") {
  lai_probmat_config c;
  lai_probmat_config_init(&c, S, S);
  c.bins = 64;
  std::vector<std::vector<uint8_t>> normals;
  for (int i = 0; i < 12; ++i) normals.push_back(phantom(9, uint64_t(i) * 5, S));  // every 5th is normal

  ProbMat one, batch, half1, half2, files;
  REQUIRE(lai_probmat_create(&c, &one.p) == LAI_OK);
  REQUIRE(lai_probmat_create(&c, &batch.p) == LAI_OK);
  REQUIRE(lai_probmat_create(&c, &half1.p) == LAI_OK);
  REQUIRE(lai_probmat_create(&c, &half2.p) == LAI_OK);
  std::vector<lai_image> views;
  for (size_t i = 0; i < normals.size(); ++i) {
    REQUIRE(lai_probmat_add(one.p, normals[i].data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
    REQUIRE(lai_probmat_add(i < 5 ? half1.p : half2.p, normals[i].data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
    views.push_back({normals[i].data(), LAI_PIXEL_U8, S, S, 0});
  }
  REQUIRE(lai_probmat_add_batch(batch.p, views.data(), views.size()) == LAI_OK);
  REQUIRE(lai_probmat_merge(half1.p, half2.p) == LAI_OK);
  CHECK(lai_probmat_merge(half1.p, half1.p) == LAI_ERR_INVALID_ARGUMENT);

  // The same images as PNG files (written by the phantom generator with the same seed).
  const std::string dir = temp_dir("probmat_files");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 56, 9, S) == LAI_OK);
  std::vector<std::string> paths;
  std::vector<const char*> cpaths;
  for (int i = 0; i < 12; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/images/%06d.png", i * 5);
    paths.push_back(dir + name);
  }
  for (auto& p : paths) cpaths.push_back(p.c_str());
  REQUIRE(lai_probmat_create(&c, &files.p) == LAI_OK);
  REQUIRE(lai_probmat_add_files(files.p, cpaths.data(), cpaths.size()) == LAI_OK);

  uint64_t n = 0;
  lai_probmat_config got;
  lai_probmat_config_init(&got, 0, 0);
  REQUIRE(lai_probmat_get_info(half1.p, &got, &n) == LAI_OK);
  CHECK(n == 12);
  CHECK(got.width == S);
  CHECK(got.bins == 64);

  const std::vector<uint8_t> fb = phantom(9, 1, S);  // index 1: a foreign body
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  const std::vector<float> m1 = wpm_of(one.p, fb, &s1), m2 = wpm_of(batch.p, fb, &s2), m3 = wpm_of(half1.p, fb, &s3),
                           m4 = wpm_of(files.p, fb, &s4);
  CHECK(m1 == m2);
  CHECK(m1 == m3);
  CHECK(m1 == m4);
  CHECK(s1 == s2);
  CHECK(s1 > 0);

  // Options: 1 - p/max p lies in [0, 1]; score only (map NULL).
  lai_wpm_options o;
  lai_wpm_options_init(&o);
  o.kind = LAI_WPM_ONE_MINUS_REL;
  std::vector<float> rel(size_t(S) * S);
  REQUIRE(lai_probmat_wpm(one.p, fb.data(), LAI_PIXEL_U8, S, S, 0, &o, rel.data(), rel.size(), nullptr) == LAI_OK);
  CHECK(*std::min_element(rel.begin(), rel.end()) >= 0.f);
  CHECK(*std::max_element(rel.begin(), rel.end()) <= 1.f);
  double only = 0;
  REQUIRE(lai_probmat_wpm(one.p, fb.data(), LAI_PIXEL_U8, S, S, 0, nullptr, nullptr, 0, &only) == LAI_OK);
  CHECK(only == s1);

  // Adding an image invalidates the cached table: the map changes.
  REQUIRE(lai_probmat_add(one.p, fb.data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
  CHECK(wpm_of(one.p, fb, nullptr) != m1);

  // Save / load.
  const std::string path = dir + "/pm.lpm";
  REQUIRE(lai_probmat_save(half1.p, path.c_str()) == LAI_OK);
  ProbMat back;
  REQUIRE(lai_probmat_load(path.c_str(), &back.p) == LAI_OK);
  CHECK(wpm_of(back.p, fb, nullptr) == m1);
  lai_probmat* none = reinterpret_cast<lai_probmat*>(0x1);
  CHECK(lai_probmat_load((dir + "/images/000000.png").c_str(), &none) == LAI_ERR_FORMAT);
  CHECK(none == nullptr);
  CHECK(lai_probmat_load((dir + "/missing.lpm").c_str(), &none) == LAI_ERR_IO);

  // Wrong sizes and configs.
  CHECK(lai_probmat_add(one.p, fb.data(), LAI_PIXEL_U8, S - 1, S, 0) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("built for") != std::string::npos);
  lai_probmat_config other = c;
  other.bins = 32;
  ProbMat o32;
  REQUIRE(lai_probmat_create(&other, &o32.p) == LAI_OK);
  CHECK(lai_probmat_merge(one.p, o32.p) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_probmat_wpm(o32.p, fb.data(), LAI_PIXEL_U8, S, S, 0, nullptr, nullptr, 0, &only) ==
        LAI_ERR_INVALID_ARGUMENT);  // empty
  other.bins = 100;
  ProbMat badp;
  CHECK(lai_probmat_create(&other, &badp.p) == LAI_ERR_INVALID_ARGUMENT);
}

TEST_CASE("capi: SOM train, map, weights, save/load") {
  // Three well separated clusters in 4-D.
  const int per = 30, dim = 4;
  std::vector<float> data;
  const float centres[3][4] = {{0, 0, 0, 0}, {10, 0, 5, 0}, {0, 10, 0, 5}};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < per; ++i)
      for (int d = 0; d < dim; ++d) data.push_back(centres[c][d] + 0.1f * float((i * 7 + d * 3) % 5 - 2));
  const int64_t n = int64_t(data.size()) / dim;
  lai_som_options o;
  lai_som_options_init(&o);
  o.rows = 3;
  o.cols = 3;
  o.epochs = 10;
  Som s;
  REQUIRE(lai_som_train(data.data(), n, dim, &o, &s.s) == LAI_OK);
  int32_t r = 0, c = 0, d = 0;
  REQUIRE(lai_som_get_info(s.s, &r, &c, &d) == LAI_OK);
  CHECK((r == 3 && c == 3 && d == dim));
  std::vector<int32_t> bmu(static_cast<size_t>(n));
  std::vector<float> dist(static_cast<size_t>(n));
  REQUIRE(lai_som_map(s.s, data.data(), n, dim, bmu.data(), dist.data()) == LAI_OK);
  // Each cluster maps to units disjoint from the other clusters' units.
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (int i = 0; i < per; ++i)
        for (int j = 0; j < per; ++j) CHECK(bmu[size_t(a * per + i)] != bmu[size_t(b * per + j)]);
  // The reported distance is the distance to that unit's weights.
  std::vector<float> w(size_t(9 * dim));
  REQUIRE(lai_som_weights(s.s, w.data(), w.size()) == LAI_OK);
  double e2 = 0;
  for (int k = 0; k < dim; ++k) {
    const double diff = data[size_t(k)] - w[size_t(bmu[0] * dim + k)];
    e2 += diff * diff;
  }
  CHECK(dist[0] == Approx(std::sqrt(e2)).margin(1e-3));
  double qe = 0;
  REQUIRE(lai_som_quantization_error(s.s, data.data(), n, dim, &qe) == LAI_OK);
  double mean = 0;
  for (float v : dist) mean += v;
  CHECK(qe == Approx(mean / double(n)).margin(1e-3));

  const std::string dir = temp_dir("som");
  REQUIRE(lai_som_save(s.s, (dir + "/s.lsom").c_str()) == LAI_OK);
  Som back;
  REQUIRE(lai_som_load((dir + "/s.lsom").c_str(), &back.s) == LAI_OK);
  std::vector<int32_t> bmu2(static_cast<size_t>(n));
  REQUIRE(lai_som_map(back.s, data.data(), n, dim, bmu2.data(), nullptr) == LAI_OK);
  CHECK(bmu == bmu2);
  CHECK(lai_som_map(back.s, data.data(), n, dim + 1, bmu2.data(), nullptr) == LAI_ERR_INVALID_ARGUMENT);
  {
    std::ofstream f(dir + "/junk.lsom", std::ios::binary);
    f << "LAISOM\0\0 but not really";
  }
  lai_som* none = nullptr;
  CHECK(lai_som_load((dir + "/junk.lsom").c_str(), &none) == LAI_ERR_FORMAT);
  CHECK(none == nullptr);

  // Cancel from the progress callback: no handle, CANCELLED.
  o.progress = [](const lai_progress* p, void*) { return p->epoch >= 2 ? 1 : 0; };
  Som cancelled;
  CHECK(lai_som_train(data.data(), n, dim, &o, &cancelled.s) == LAI_ERR_CANCELLED);
  CHECK(cancelled.s == nullptr);
}

TEST_CASE("capi: Hough finds a drawn disc; decoding images") {
  const int W = 96, H = 80;
  std::vector<float> img(size_t(W) * H, 10.f);
  const float cx = 40, cy = 35, rad = 12;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad) img[size_t(y) * W + x] = 200.f;
  lai_hough_options o;
  lai_hough_options_init(&o);
  o.min_radius = 5;
  o.max_radius = 20;
  lai_circle cs[4];
  size_t found = 0;
  REQUIRE(lai_hough_circles(img.data(), LAI_PIXEL_F32, W, H, 0, &o, cs, 4, &found) == LAI_OK);
  REQUIRE(found >= 1);
  CHECK(cs[0].x == Approx(cx).margin(1.5));
  CHECK(cs[0].y == Approx(cy).margin(1.5));
  CHECK(cs[0].radius == Approx(rad).margin(1.5));
  size_t count_only = 0;
  REQUIRE(lai_hough_circles(img.data(), LAI_PIXEL_F32, W, H, 0, &o, nullptr, 0, &count_only) == LAI_OK);
  CHECK(count_only == found);
  o.min_radius = 30;
  o.max_radius = 10;
  CHECK(lai_hough_circles(img.data(), LAI_PIXEL_F32, W, H, 0, &o, cs, 4, &found) == LAI_ERR_INVALID_ARGUMENT);

  // Decoding: probe, then decode into a caller buffer; values equal the rendered phantom.
  const std::string dir = temp_dir("decode");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 1, 4, 32) == LAI_OK);
  const std::string png = dir + "/images/000000.png";
  int32_t w = 0, h = 0;
  REQUIRE(lai_image_decode_file(png.c_str(), nullptr, 0, &w, &h) == LAI_OK);
  CHECK((w == 32 && h == 32));
  std::vector<float> px(size_t(w) * h);
  CHECK(lai_image_decode_file(png.c_str(), px.data(), px.size() - 1, &w, &h) == LAI_ERR_INVALID_ARGUMENT);
  REQUIRE(lai_image_decode_file(png.c_str(), px.data(), px.size(), &w, &h) == LAI_OK);
  const std::vector<uint8_t> ref = phantom(4, 0, 32);
  for (size_t i = 0; i < px.size(); ++i) REQUIRE(px[i] == float(ref[i]));
  std::ifstream f(png, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> px2(px.size());
  REQUIRE(lai_image_decode_memory(bytes.data(), bytes.size(), px2.data(), px2.size(), &w, &h) == LAI_OK);
  CHECK(px2 == px);
  CHECK(lai_image_decode_memory(bytes.data(), bytes.size() / 3, px2.data(), px2.size(), &w, &h) == LAI_ERR_FORMAT);
  CHECK(lai_image_decode_file((dir + "/none.png").c_str(), px2.data(), px2.size(), &w, &h) == LAI_ERR_IO);
}

TEST_CASE("capi: a ProbMat in unit intensities (as `liteai probmat build` makes) scores 8-bit pixels like a 0..255 one") {
  // The CLI builds ProbMats over [0, 1] (images scaled by their bit depth); the C API's default
  // range is the pixels' own 0..255. Pixels given to a unit ProbMat are scaled by their type's
  // full scale, so both give the same map (before, a unit ProbMat saturated every 8-bit pixel).
  lai_probmat_config raw, unit;
  lai_probmat_config_init(&raw, S, S);
  lai_probmat_config_init(&unit, S, S);
  raw.bins = unit.bins = 64;
  unit.lo = 0.f;
  unit.hi = 1.f;
  ProbMat a, b;
  REQUIRE(lai_probmat_create(&raw, &a.p) == LAI_OK);
  REQUIRE(lai_probmat_create(&unit, &b.p) == LAI_OK);
  for (int i = 0; i < 10; ++i) {
    const std::vector<uint8_t> px = phantom(9, uint64_t(i) * 5, S);
    REQUIRE(lai_probmat_add(a.p, px.data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
    REQUIRE(lai_probmat_add(b.p, px.data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
  }
  const std::vector<uint8_t> probe = phantom(9, 1, S);  // a foreign body
  double sa = 0, sb = 0;
  const std::vector<float> ma = wpm_of(a.p, probe, &sa), mb = wpm_of(b.p, probe, &sb);
  double worst = 0;
  for (size_t i = 0; i < ma.size(); ++i) worst = std::max(worst, double(std::fabs(ma[i] - mb[i])));
  CHECK(worst < 1e-3);
  CHECK(std::fabs(sa - sb) < 1e-3 * std::max(1.0, sa));
  // And the map is informative, not saturated: most pixels of an image like the normals are probable.
  std::vector<float> sorted = mb;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted[sorted.size() / 2] < 0.5f * sorted.back());
}
