// C API 0.2: autoencoder detector (train from a manifest and from buffers, score buffers and
// files, save/load, cancel), map scores, heatmap and overlay PNGs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {
constexpr int S = 48;   // phantom size
constexpr int A = 16;   // autoencoder input / map size

struct Autoencoder {
  lai_autoencoder* a = nullptr;
  ~Autoencoder() { lai_autoencoder_free(a); }
};

lai_autoencoder_options small_options() {
  lai_autoencoder_options o;
  lai_autoencoder_options_init(&o);
  o.size = A;
  o.width = 4;
  o.epochs = 2;
  o.batch_size = 4;
  return o;
}

std::vector<float> score_map(lai_autoencoder* ae, const std::vector<uint8_t>& px, double* score) {
  std::vector<float> map(size_t(A) * A);
  const lai_status s =
      lai_autoencoder_score(ae, px.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map.data(), map.size(), score);
  INFO(lai_last_error());
  REQUIRE(s == LAI_OK);
  return map;
}
}  // namespace

TEST_CASE("capi: autoencoder trained from a manifest equals one trained from the same buffers") {
  const std::string dir = temp_dir("autoencoder");
  const int count = 30;
  REQUIRE(lai_phantom_write_set(dir.c_str(), count, 5, S) == LAI_OK);
  // The normal phantoms of the set, in manifest order, as caller buffers.
  std::vector<std::vector<uint8_t>> normals;
  for (int i = 0; i < count; ++i) {
    int32_t label = -1;
    std::vector<uint8_t> px = phantom(5, uint64_t(i), S, &label);
    if (label == 0) normals.push_back(px);
  }
  REQUIRE(normals.size() >= 4);
  std::vector<lai_image> views;
  for (auto& n : normals) views.push_back({n.data(), LAI_PIXEL_U8, S, S, 0});

  struct Counter {
    int calls = 0;
    int last_epoch = 0;
  } counter;
  lai_autoencoder_options o = small_options();
  o.label = "normal";
  o.progress = [](const lai_progress* p, void* user) {
    auto* c = static_cast<Counter*>(user);
    ++c->calls;
    c->last_epoch = p->epoch;
    return 0;
  };
  o.user_data = &counter;
  Autoencoder from_csv, from_buffers;
  const std::string manifest = dir + "/manifest.csv";
  {
    const lai_status s = lai_autoencoder_train(manifest.c_str(), &o, &from_csv.a);
    INFO(lai_last_error());
    REQUIRE(s == LAI_OK);
  }
  CHECK(counter.calls > 0);
  CHECK(counter.last_epoch == 2);
  o.progress = nullptr;
  REQUIRE(lai_autoencoder_train_images(views.data(), views.size(), &o, &from_buffers.a) == LAI_OK);

  int32_t w = 0, h = 0;
  REQUIRE(lai_autoencoder_get_info(from_csv.a, &w, &h) == LAI_OK);
  CHECK((w == A && h == A));

  // Same images, same order, same seed: the same detector bit for bit.
  const std::vector<uint8_t> fb = phantom(5, 1, S);  // index 1: a foreign body
  double s_csv = 0, s_buf = 0;
  const std::vector<float> m_csv = score_map(from_csv.a, fb, &s_csv);
  const std::vector<float> m_buf = score_map(from_buffers.a, fb, &s_buf);
  CHECK(m_csv == m_buf);
  CHECK(s_csv == s_buf);
  CHECK(s_csv > 0);
  CHECK(*std::min_element(m_csv.begin(), m_csv.end()) >= 0.f);

  // A file gives what its decoded pixels give; u16 and float buffers of the same values too.
  double s_file = 0;
  std::vector<float> m_file(size_t(A) * A);
  const std::string png = dir + "/images/000001.png";
  REQUIRE(lai_autoencoder_score_file(from_csv.a, png.c_str(), nullptr, m_file.data(), m_file.size(), &s_file) ==
          LAI_OK);
  CHECK(m_file == m_csv);
  CHECK(s_file == s_csv);
  std::vector<float> fbf(fb.begin(), fb.end());
  std::vector<float> m_f32(size_t(A) * A);
  REQUIRE(lai_autoencoder_score(from_csv.a, fbf.data(), LAI_PIXEL_F32, S, S, 0, nullptr, m_f32.data(), m_f32.size(),
                                nullptr) == LAI_OK);
  CHECK(m_f32 == m_csv);

  // The score is the map's score under the same options (score only: map NULL).
  lai_score_options so;
  lai_score_options_init(&so);
  so.score = LAI_SCORE_MAX;
  double only = 0, via_map = 0;
  REQUIRE(lai_autoencoder_score(from_csv.a, fb.data(), LAI_PIXEL_U8, S, S, 0, &so, nullptr, 0, &only) == LAI_OK);
  CHECK(only == double(*std::max_element(m_csv.begin(), m_csv.end())));
  lai_image mv = {m_csv.data(), LAI_PIXEL_F32, A, A, 0};
  REQUIRE(lai_map_score(&mv, &so, &via_map) == LAI_OK);
  CHECK(via_map == only);
  so.score = LAI_SCORE_MEAN;
  REQUIRE(lai_map_score(&mv, &so, &via_map) == LAI_OK);
  double mean = 0;
  for (float v : m_csv) mean += v;
  CHECK(via_map == Approx(mean / double(m_csv.size())).epsilon(1e-6));
  REQUIRE(lai_map_score(&mv, nullptr, &via_map) == LAI_OK);
  CHECK(via_map == s_csv);  // default options = the scorer's default

  // Save / load: the same maps.
  const std::string path = dir + "/ae.lai";
  REQUIRE(lai_autoencoder_save(from_csv.a, path.c_str()) == LAI_OK);
  Autoencoder back;
  REQUIRE(lai_autoencoder_load(path.c_str(), &back.a) == LAI_OK);
  double s_back = 0;
  CHECK(score_map(back.a, fb, &s_back) == m_csv);
  CHECK(s_back == s_csv);

  // A classifier's model file is not an autoencoder; a missing file is an IO error.
  Model clf;
  REQUIRE(lai_model_create("small_cnn", 16, 2, 1, &clf.m) == LAI_OK);
  REQUIRE(lai_model_save(clf.m, (dir + "/clf.lai").c_str()) == LAI_OK);
  lai_autoencoder* none = reinterpret_cast<lai_autoencoder*>(0x1);
  CHECK(lai_autoencoder_load((dir + "/clf.lai").c_str(), &none) == LAI_ERR_FORMAT);
  CHECK(std::string(lai_last_error()).find("autoencoder") != std::string::npos);
  CHECK(none == nullptr);
  CHECK(lai_autoencoder_load((dir + "/missing.lai").c_str(), &none) == LAI_ERR_IO);
  CHECK(lai_autoencoder_load(png.c_str(), &none) == LAI_ERR_FORMAT);
  CHECK(lai_autoencoder_score_file(back.a, (dir + "/missing.png").c_str(), nullptr, nullptr, 0, &s_back) ==
        LAI_ERR_IO);

  // An unknown label, an empty selection.
  o.label = "no_such_class";
  CHECK(lai_autoencoder_train(manifest.c_str(), &o, &none) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("no_such_class") != std::string::npos);

  // A flat folder of images trains too (no classes).
  o.label = nullptr;
  o.max_images = 3;
  Autoencoder flat;
  REQUIRE(lai_autoencoder_train((dir + "/images").c_str(), &o, &flat.a) == LAI_OK);
}

TEST_CASE("capi: autoencoder training cancelled by the progress callback gives no handle") {
  std::vector<std::vector<uint8_t>> imgs;
  std::vector<lai_image> views;
  for (int i = 0; i < 8; ++i) imgs.push_back(phantom(2, uint64_t(i) * 5, S));
  for (auto& p : imgs) views.push_back({p.data(), LAI_PIXEL_U8, S, S, 0});
  lai_autoencoder_options o = small_options();
  int calls = 0;
  o.progress = [](const lai_progress* p, void* user) {
    ++*static_cast<int*>(user);
    return p->phase == LAI_PHASE_TRAIN ? 1 : 0;
  };
  o.user_data = &calls;
  lai_autoencoder* ae = reinterpret_cast<lai_autoencoder*>(0x1);
  CHECK(lai_autoencoder_train_images(views.data(), views.size(), &o, &ae) == LAI_ERR_CANCELLED);
  CHECK(ae == nullptr);
  CHECK(calls == 1);
}

TEST_CASE("capi: heatmap and overlay PNGs") {
  const std::string dir = temp_dir("png");
  // A map that is 0 except for a hot square; an image that is a horizontal ramp.
  const int W = 64, H = 40;
  std::vector<float> map(size_t(W) * H, 0.f);
  for (int y = 10; y < 20; ++y)
    for (int x = 8; x < 18; ++x) map[size_t(y) * W + x] = 4.f;
  std::vector<uint8_t> img(size_t(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) img[size_t(y) * W + x] = uint8_t(x * 255 / (W - 1));
  const lai_image mv = {map.data(), LAI_PIXEL_F32, W, H, 0};
  const lai_image iv = {img.data(), LAI_PIXEL_U8, W, H, 0};

  const std::string heat = dir + "/heat.png", over = dir + "/over.png";
  REQUIRE(lai_write_heatmap_png(heat.c_str(), &mv, 0.f, -1.f) == LAI_OK);
  int32_t w = 0, h = 0;
  std::vector<float> px(size_t(W) * H);
  REQUIRE(lai_image_decode_file(heat.c_str(), px.data(), px.size(), &w, &h) == LAI_OK);
  REQUIRE((w == W && h == H));
  // The ramp runs dark to bright: the hot square is far brighter than the background.
  CHECK(px[size_t(15) * W + 12] > px[0] + 100.f);
  CHECK(px[0] == px[size_t(H - 1) * W + W - 1]);

  REQUIRE(lai_write_overlay_png(over.c_str(), &iv, &mv, 1.f, -1.f, 0.7f) == LAI_OK);
  REQUIRE(lai_image_decode_file(over.c_str(), px.data(), px.size(), &w, &h) == LAI_OK);
  REQUIRE((w == W && h == H));
  // Below the threshold the overlay is the image in gray; in the hot square it is not.
  int plain = 0, changed = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const float d = std::fabs(px[size_t(y) * W + x] - float(img[size_t(y) * W + x]));
      const bool hot = map[size_t(y) * W + x] > 1.f;
      if (!hot && d <= 1.f) ++plain;
      if (hot && d > 20.f) ++changed;
    }
  CHECK(plain == W * H - 100);
  CHECK(changed == 100);

  // A map of another size is resized to the image's: a half-size map covers the same square.
  std::vector<float> small(size_t(W / 2) * (H / 2), 0.f);
  for (int y = 5; y < 10; ++y)
    for (int x = 4; x < 9; ++x) small[size_t(y) * (W / 2) + x] = 4.f;
  const lai_image sv = {small.data(), LAI_PIXEL_F32, W / 2, H / 2, 0};
  REQUIRE(lai_write_overlay_png(over.c_str(), &iv, &sv, 1.f, -1.f, 0.7f) == LAI_OK);
  REQUIRE(lai_image_decode_file(over.c_str(), px.data(), px.size(), &w, &h) == LAI_OK);
  REQUIRE((w == W && h == H));
  CHECK(std::fabs(px[size_t(15) * W + 12] - float(img[size_t(15) * W + 12])) > 20.f);
  CHECK(std::fabs(px[size_t(35) * W + 50] - float(img[size_t(35) * W + 50])) <= 1.f);

  // Unwritable path: IO.
  CHECK(lai_write_heatmap_png("/proc/no_such_dir/h.png", &mv, 0.f, -1.f) == LAI_ERR_IO);
}
