// Hostile arguments to the C API (issue 12): row strides that overflow, wrap the address space or
// are negative (a .NET bottom-up bitmap), products of sizes that are absurd, special files and
// directories as input files, output paths that cannot be written. Every call must return
// LAI_ERR_INVALID_ARGUMENT (or the documented status) naming the argument, without reading or
// writing outside the caller's buffers (the sanitized build checks that) or starting the work.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

#define EXPECT_STATUS(call, status, text)                                         \
  do {                                                                            \
    const lai_status s_ = (call);                                                 \
    INFO(#call << " -> " << lai_status_string(s_) << ": " << lai_last_error()); \
    CHECK(s_ == (status));                                                        \
    CHECK(std::string(lai_last_error()).find(text) != std::string::npos);         \
  } while (0)

namespace {
constexpr int S = 64;
// The strides of the issue: SIZE_MAX, 2^40, 2^58, 2^63, and -S as .NET passes a bottom-up bitmap.
const std::vector<size_t> kBadStrides = {SIZE_MAX, size_t(1) << 40, size_t(1) << 58, size_t(1) << 63,
                                         size_t(-ptrdiff_t(S))};
const char* expected_text(size_t stride) { return stride == size_t(-ptrdiff_t(S)) ? "stride_bytes is negative (-64)" : "stride_bytes"; }
}  // namespace

TEST_CASE("capi hostile: every buffer-taking call refuses strides that overflow, wrap or are negative") {
  std::vector<uint8_t> img(size_t(S) * S, 100);
  Model m;
  REQUIRE(lai_model_create("small_cnn", 16, 2, 1, &m.m) == LAI_OK);
  ProbMat pm;
  lai_probmat_config c;
  lai_probmat_config_init(&c, S, S);
  c.bins = 32;
  REQUIRE(lai_probmat_create(&c, &pm.p) == LAI_OK);
  REQUIRE(lai_probmat_add(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
  lai_autoencoder* ae = nullptr;
  {
    lai_autoencoder_options o;
    lai_autoencoder_options_init(&o);
    o.size = 16;
    o.width = 2;
    o.epochs = 1;
    lai_image views[2] = {{img.data(), LAI_PIXEL_U8, S, S, 0}, {img.data(), LAI_PIXEL_U8, S, S, 0}};
    REQUIRE(lai_autoencoder_train_images(views, 2, &o, &ae) == LAI_OK);
  }
  const std::string dir = temp_dir("hostile_strides");
  float out[4];
  std::vector<float> map(size_t(S) * S);
  lai_circle circles[4];
  size_t found = 0;
  double score = 0;
  for (size_t stride : kBadStrides) {
    INFO("stride_bytes " << stride);
    const char* t = expected_text(stride);
    EXPECT_STATUS(lai_model_predict(m.m, img.data(), LAI_PIXEL_U8, S, S, stride, out, 2), LAI_ERR_INVALID_ARGUMENT, t);
    const lai_image view = {img.data(), LAI_PIXEL_U8, S, S, stride};
    const lai_image good = {img.data(), LAI_PIXEL_U8, S, S, 0};
    const lai_image pair[2] = {good, view};
    EXPECT_STATUS(lai_model_predict_batch(m.m, pair, 2, out, 4), LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_probmat_add(pm.p, img.data(), LAI_PIXEL_U8, S, S, stride), LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_probmat_add_batch(pm.p, pair, 2), LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, stride, nullptr, map.data(), map.size(), &score),
                  LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_autoencoder_score(ae, img.data(), LAI_PIXEL_U8, S, S, stride, nullptr, nullptr, 0, &score),
                  LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_hough_circles(img.data(), LAI_PIXEL_U8, S, S, stride, nullptr, circles, 4, &found),
                  LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_map_score(&view, nullptr, &score), LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_write_heatmap_png((dir + "/h.png").c_str(), &view, 0, 1), LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_write_overlay_png((dir + "/o.png").c_str(), &good, &view, 0.5f, 1, 0.5f), LAI_ERR_INVALID_ARGUMENT, t);
    EXPECT_STATUS(lai_phantom_render(1, 0, S, img.data(), stride, nullptr), LAI_ERR_INVALID_ARGUMENT, t);
  }
  // The probabilities were not corrupted by the refused calls: the ProbMat still holds 1 image.
  uint64_t images = 0;
  REQUIRE(lai_probmat_get_info(pm.p, nullptr, &images) == LAI_OK);
  CHECK(images == 1);
  // A padded stride (rows of 80 bytes, a sub-image) is fine; one smaller than a row is not.
  std::vector<uint8_t> padded(size_t(80) * S, 7);
  CHECK(lai_model_predict(m.m, padded.data(), LAI_PIXEL_U8, S, S, 80, out, 2) == LAI_OK);
  CHECK(lai_phantom_render(1, 0, S, padded.data(), 80, nullptr) == LAI_OK);
  EXPECT_STATUS(lai_model_predict(m.m, img.data(), LAI_PIXEL_U16, S, S, S, out, 2), LAI_ERR_INVALID_ARGUMENT,
                "stride_bytes 64 is smaller than a row (128 bytes)");
  lai_autoencoder_free(ae);
}

TEST_CASE("capi hostile: sizes whose product is absurd are refused before allocating") {
  lai_probmat_config c;
  lai_probmat_config_init(&c, 46341, 46341);  // each side fine, 2.2 TB of counts together
  lai_probmat* pm = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_STATUS(lai_probmat_create(&c, &pm), LAI_ERR_OUT_OF_MEMORY, "46341x46341");
  CHECK(pm == nullptr);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0);
  Model m;
  REQUIRE(lai_model_create("small_cnn", 16, 2, 1, &m.m) == LAI_OK);
  uint8_t px[16] = {};
  float out[2];
  EXPECT_STATUS(lai_model_predict(m.m, px, LAI_PIXEL_U8, 1 << 20, 1 << 20, 0, out, 2), LAI_ERR_INVALID_ARGUMENT,
                "is too large");
  std::vector<float> data(16);
  lai_som* som = nullptr;
  EXPECT_STATUS(lai_som_train(data.data(), int64_t(1) << 34, 64, nullptr, &som), LAI_ERR_INVALID_ARGUMENT, "n x dim");
}

TEST_CASE("capi hostile: resource limits are set and read by name; a lowered one refuses an image") {
  int64_t pixels = 0;
  REQUIRE(lai_get_limit("max_image_pixels", &pixels) == LAI_OK);
  CHECK(pixels == (int64_t(1) << 26));
  REQUIRE(lai_set_limit("max_image_pixels", 100) == LAI_OK);
  Model m;
  REQUIRE(lai_model_create("small_cnn", 16, 2, 1, &m.m) == LAI_OK);
  uint8_t px[16 * 16] = {};
  float out[2];
  EXPECT_STATUS(lai_model_predict(m.m, px, LAI_PIXEL_U8, 16, 16, 0, out, 2), LAI_ERR_INVALID_ARGUMENT,
                "more than the limit of 100 per image");  // a caller's buffer: a bad argument
  REQUIRE(lai_set_limit("max_image_pixels", pixels) == LAI_OK);
  CHECK(lai_model_predict(m.m, px, LAI_PIXEL_U8, 16, 16, 0, out, 2) == LAI_OK);
  EXPECT_STATUS(lai_set_limit("max_pixels", 5), LAI_ERR_INVALID_ARGUMENT, "unknown limit 'max_pixels'");
  EXPECT_STATUS(lai_set_limit("max_file_bytes", 0), LAI_ERR_INVALID_ARGUMENT, "must be >= 1");
  EXPECT_STATUS(lai_get_limit("max_file_bytes", nullptr), LAI_ERR_INVALID_ARGUMENT, "value is NULL");
}

TEST_CASE("capi hostile: directories and special files as inputs are IO errors saying what they are") {
  const std::string dir = temp_dir("hostile_files");
  const std::string fifo = dir + "/p.lpm";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  for (const std::string& p : {dir, fifo}) {
    const std::string what = p == dir ? "is a directory" : "is a FIFO (named pipe)";
    lai_probmat* pm = nullptr;
    lai_som* som = nullptr;
    lai_senafas* sf = nullptr;
    lai_model* m = nullptr;
    lai_autoencoder* ae = nullptr;
    EXPECT_STATUS(lai_probmat_load(p.c_str(), &pm), LAI_ERR_IO, what);
    EXPECT_STATUS(lai_som_load(p.c_str(), &som), LAI_ERR_IO, what);
    EXPECT_STATUS(lai_senafas_load(p.c_str(), &sf), LAI_ERR_IO, what);
    EXPECT_STATUS(lai_model_load(p.c_str(), &m), LAI_ERR_IO, what);
    EXPECT_STATUS(lai_autoencoder_load(p.c_str(), &ae), LAI_ERR_IO, what);
    int32_t w = 0, h = 0;
    EXPECT_STATUS(lai_image_decode_file(p.c_str(), nullptr, 0, &w, &h), LAI_ERR_IO, what);
  }
  int32_t w = 0, h = 0;
  EXPECT_STATUS(lai_image_decode_file("/dev/zero", nullptr, 0, &w, &h), LAI_ERR_IO, "is a character device");
}

TEST_CASE("capi hostile: output paths that cannot be written fail before any training") {
  const std::string dir = temp_dir("hostile_outputs");
  REQUIRE(lai_phantom_write_set((dir + "/data").c_str(), 10, 1, 32) == LAI_OK);  // 2 per class
  Model m;
  REQUIRE(lai_model_create("small_cnn", 16, 5, 1, &m.m) == LAI_OK);
  int progress_calls = 0;
  lai_train_options o;
  lai_train_options_init(&o);
  o.epochs = 1;
  o.progress = [](const lai_progress*, void* user) {
    ++*static_cast<int*>(user);
    return 0;
  };
  o.user_data = &progress_calls;
  const std::string bad_ck = dir + "/missing/ck.lai";
  o.checkpoint_path = bad_ck.c_str();
  EXPECT_STATUS(lai_model_train(m.m, (dir + "/data/manifest.csv").c_str(), &o, nullptr), LAI_ERR_IO,
                "checkpoint '" + bad_ck + "': folder '" + dir + "/missing' does not exist");
  o.checkpoint_path = nullptr;
  o.metrics_csv = dir.c_str();  // a folder
  EXPECT_STATUS(lai_model_train(m.m, (dir + "/data/manifest.csv").c_str(), &o, nullptr), LAI_ERR_IO,
                "is a directory, not a file that can be written");
  CHECK(progress_calls == 0);  // no step was run
  // A validation split leaving no training samples is an error, not an untrained model.
  REQUIRE(lai_phantom_write_set((dir + "/two").c_str(), 2, 1, 32) == LAI_OK);
  Model two;
  REQUIRE(lai_model_create("small_cnn", 16, 2, 1, &two.m) == LAI_OK);
  o.metrics_csv = nullptr;
  o.validation_fraction = 0.9f;  // 1.8 of 2 samples: both
  EXPECT_STATUS(lai_model_train(two.m, (dir + "/two/manifest.csv").c_str(), &o, nullptr), LAI_ERR_INVALID_ARGUMENT,
                "leaves no training samples");
  CHECK(progress_calls == 0);
}
