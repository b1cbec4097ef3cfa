// C API robustness: every function with NULL and garbage arguments returns the documented
// status with a message naming the function and the problem; nothing crashes or throws.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

#define EXPECT_STATUS(call, status, text)                                               \
  do {                                                                                  \
    const lai_status s_ = (call);                                                       \
    INFO(#call << " -> " << lai_status_string(s_) << ": " << lai_last_error());       \
    CHECK(s_ == (status));                                                              \
    CHECK(std::string(lai_last_error()).find(text) != std::string::npos);               \
  } while (0)
#define EXPECT_INVALID(call, text) EXPECT_STATUS(call, LAI_ERR_INVALID_ARGUMENT, text)

namespace {
constexpr int S = 16;
}

TEST_CASE("capi errors: global functions, images, phantoms") {
  CHECK(std::string(lai_version(nullptr, nullptr, nullptr)).size() >= 5);
  EXPECT_INVALID(lai_set_num_threads(1 << 20), "lai_set_num_threads");
  CHECK(lai_get_num_threads() >= 1);
  CHECK(std::string(lai_status_string(LAI_ERR_INTERNAL)) == "LAI_ERR_INTERNAL");

  float px[4];
  int32_t w = 0, h = 0;
  const unsigned char junk[] = {0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_INVALID(lai_image_decode_memory(nullptr, 10, px, 4, &w, &h), "bytes is NULL");
  EXPECT_INVALID(lai_image_decode_memory(junk, 0, px, 4, &w, &h), "size is 0");
  EXPECT_INVALID(lai_image_decode_memory(junk, sizeof junk, nullptr, 0, nullptr, nullptr), "nothing to return");
  EXPECT_STATUS(lai_image_decode_memory(junk, sizeof junk, px, 4, &w, &h), LAI_ERR_FORMAT, "<memory>");
  EXPECT_STATUS(lai_image_decode_memory(junk, sizeof junk, nullptr, 0, &w, &h), LAI_ERR_FORMAT, "<memory>");
  EXPECT_INVALID(lai_image_decode_file(nullptr, px, 4, &w, &h), "path is NULL");
  EXPECT_INVALID(lai_image_decode_file("", px, 4, &w, &h), "path is empty");

  uint8_t buf[S * S];
  EXPECT_INVALID(lai_phantom_render(1, 0, S, nullptr, 0, nullptr), "pixels is NULL");
  EXPECT_INVALID(lai_phantom_render(1, 0, 3, buf, 0, nullptr), "size must be");
  EXPECT_INVALID(lai_phantom_render(1, 0, 32, buf, 31, nullptr), "stride_bytes");
  EXPECT_INVALID(lai_phantom_write_set(nullptr, 1, 1, 32), "dir is NULL");
  EXPECT_INVALID(lai_phantom_write_set("/tmp/x", 0, 1, 32), "count must be positive");
  EXPECT_INVALID(lai_phantom_write_set("/tmp/x", 1, 1, -5), "size must be");
  EXPECT_STATUS(lai_phantom_write_set("/proc/no_such_dir/x", 1, 1, 32), LAI_ERR_IO, "");
}

TEST_CASE("capi errors: models") {
  lai_model* out = reinterpret_cast<lai_model*>(0x1);
  EXPECT_INVALID(lai_model_create(nullptr, S, 2, 1, &out), "architecture is NULL");
  CHECK(out == nullptr);
  EXPECT_INVALID(lai_model_create("compact_cxr", S, 2, 1, nullptr), "out is NULL");
  EXPECT_INVALID(lai_model_create("compact_cxr", -4, 2, 1, &out), "input_size");
  EXPECT_INVALID(lai_model_create("compact_cxr", S, -1, 1, &out), "classes");
  EXPECT_INVALID(lai_model_create("{\"name\": ", S, 2, 1, &out), "");
  EXPECT_INVALID(lai_model_create("compact_cxr", 12, 2, 1, &out), "");  // not divisible by 8
  EXPECT_INVALID(lai_model_load(nullptr, &out), "path is NULL");
  EXPECT_INVALID(lai_model_load("m.lai", nullptr), "out is NULL");
  EXPECT_INVALID(lai_model_load_memory(nullptr, 10, &out), "bytes is NULL");
  EXPECT_INVALID(lai_model_load_memory("x", 0, &out), "size is 0");
  EXPECT_STATUS(lai_model_load_memory("garbage!garbage!garbage!", 24, &out), LAI_ERR_FORMAT, "");
  CHECK(out == nullptr);
  lai_model_free(nullptr);

  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 2, 1, &m.m) == LAI_OK);
  EXPECT_INVALID(lai_model_save(nullptr, "x.lai"), "model is NULL");
  EXPECT_INVALID(lai_model_save(m.m, nullptr), "path is NULL");
  EXPECT_INVALID(lai_model_save(m.m, ""), "path is empty");

  lai_model_info_init(nullptr);
  lai_model_info info;
  lai_model_info_init(&info);
  EXPECT_INVALID(lai_model_get_info(nullptr, &info), "model is NULL");
  EXPECT_INVALID(lai_model_get_info(m.m, nullptr), "info is NULL");
  info.struct_size = 0;
  EXPECT_INVALID(lai_model_get_info(m.m, &info), "struct_size");
  info.struct_size = size_t(1) << 40;
  EXPECT_INVALID(lai_model_get_info(m.m, &info), "struct_size");

  char text[8];
  EXPECT_INVALID(lai_model_architecture(nullptr, text, 8, nullptr), "model is NULL");
  EXPECT_INVALID(lai_model_architecture(m.m, nullptr, 8, nullptr), "buf is NULL");
  EXPECT_INVALID(lai_model_class_name(nullptr, 0, text, 8, nullptr), "model is NULL");
  EXPECT_INVALID(lai_model_class_name(m.m, -1, text, 8, nullptr), "index -1");
  EXPECT_INVALID(lai_model_class_name(m.m, 2, text, 8, nullptr), "index 2");
  EXPECT_INVALID(lai_model_class_name(m.m, 0, text, 2, nullptr), "too small");
  const char* names[] = {"a", nullptr};
  EXPECT_INVALID(lai_model_set_class_names(nullptr, names, 2), "model is NULL");
  EXPECT_INVALID(lai_model_set_class_names(m.m, nullptr, 2), "names is NULL");
  EXPECT_INVALID(lai_model_set_class_names(m.m, names, 2), "names[1] is NULL");
  EXPECT_INVALID(lai_model_set_class_names(m.m, names, -3), "-3 names");

  std::vector<uint8_t> img(S * S, 100);
  float out2[2], one[1];
  const float nan_img[4] = {0.f, std::numeric_limits<float>::quiet_NaN(), 1.f, 2.f};
  EXPECT_INVALID(lai_model_predict(nullptr, img.data(), LAI_PIXEL_U8, S, S, 0, out2, 2), "model is NULL");
  EXPECT_INVALID(lai_model_predict(m.m, nullptr, LAI_PIXEL_U8, S, S, 0, out2, 2), "pixels is NULL");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), lai_pixel_type(9), S, S, 0, out2, 2), "unknown pixel type 9");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), LAI_PIXEL_U8, 0, S, 0, out2, 2), "size must be positive");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), LAI_PIXEL_U8, S, -S, 0, out2, 2), "size must be positive");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), LAI_PIXEL_U8, 1 << 20, 1 << 20, 0, out2, 2), "too large");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), LAI_PIXEL_U16, S, S, S, out2, 2), "stride_bytes");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, 2), "out is NULL");
  EXPECT_INVALID(lai_model_predict(m.m, img.data(), LAI_PIXEL_U8, S, S, 0, one, 1), "2 needed");
  EXPECT_INVALID(lai_model_predict(m.m, nan_img, LAI_PIXEL_F32, 2, 2, 0, out2, 2), "not a finite number");
  lai_image views[1] = {{img.data(), LAI_PIXEL_U8, S, S, 0}};
  EXPECT_INVALID(lai_model_predict_batch(nullptr, views, 1, out2, 2), "model is NULL");
  EXPECT_INVALID(lai_model_predict_batch(m.m, nullptr, 1, out2, 2), "images is NULL");
  EXPECT_INVALID(lai_model_predict_batch(m.m, views, 0, out2, 2), "count is 0");
  EXPECT_INVALID(lai_model_predict_batch(m.m, views, 1, out2, 1), "needed");
  EXPECT_INVALID(lai_model_predict_file(nullptr, "x.png", out2, 2), "model is NULL");
  EXPECT_INVALID(lai_model_predict_file(m.m, nullptr, out2, 2), "path is NULL");

  lai_train_options_init(nullptr);
  lai_train_result_init(nullptr);
  lai_eval_result_init(nullptr);
  lai_train_options o;
  EXPECT_INVALID(lai_model_train(nullptr, "d", nullptr, nullptr), "model is NULL");
  lai_train_options_init(&o);
  o.epochs = 0;
  EXPECT_INVALID(lai_model_train(m.m, "d", &o, nullptr), "epochs");
  lai_train_options_init(&o);
  o.batch_size = -1;
  EXPECT_INVALID(lai_model_train(m.m, "d", &o, nullptr), "batch_size");
  lai_train_options_init(&o);
  o.learning_rate = std::nanf("");
  EXPECT_INVALID(lai_model_train(m.m, "d", &o, nullptr), "learning_rate");
  lai_train_options_init(&o);
  o.optimizer = lai_optimizer(42);
  EXPECT_INVALID(lai_model_train(m.m, "d", &o, nullptr), "optimizer 42");
  lai_train_options_init(&o);
  o.validation_fraction = 1.5f;
  EXPECT_INVALID(lai_model_train(m.m, "d", &o, nullptr), "validation_fraction");
  lai_train_options_init(&o);
  EXPECT_INVALID(lai_model_train(m.m, nullptr, &o, nullptr), "data is NULL");
  lai_train_result r;
  std::memset(&r, 0, sizeof r);
  EXPECT_INVALID(lai_model_train(m.m, "d", &o, &r), "result->struct_size");
  lai_eval_result e;
  lai_eval_result_init(&e);
  EXPECT_INVALID(lai_model_evaluate(nullptr, "d", nullptr, &e), "model is NULL");
  EXPECT_INVALID(lai_model_evaluate(m.m, "d", nullptr, nullptr), "result is NULL");
  EXPECT_INVALID(lai_model_evaluate(m.m, nullptr, nullptr, &e), "data is NULL");
  EXPECT_STATUS(lai_model_evaluate(m.m, "/no/such/data", nullptr, &e), LAI_ERR_IO, "/no/such/data");
}

TEST_CASE("capi errors: ProbMat, SOM, Hough") {
  lai_probmat_config_init(nullptr, 1, 1);
  lai_probmat_config c;
  lai_probmat_config_init(&c, S, S);
  lai_probmat* out = nullptr;
  EXPECT_INVALID(lai_probmat_create(nullptr, &out), "config is NULL");
  EXPECT_INVALID(lai_probmat_create(&c, nullptr), "out is NULL");
  c.width = 0;
  EXPECT_INVALID(lai_probmat_create(&c, &out), "");
  c.width = S;
  c.count_bits = 8;
  EXPECT_INVALID(lai_probmat_create(&c, &out), "");
  c.count_bits = 32;
  c.hi = c.lo;
  EXPECT_INVALID(lai_probmat_create(&c, &out), "");
  lai_probmat_config_init(&c, S, S);
  ProbMat pm;
  REQUIRE(lai_probmat_create(&c, &pm.p) == LAI_OK);
  std::vector<uint8_t> img(S * S, 50);
  EXPECT_INVALID(lai_probmat_add(nullptr, img.data(), LAI_PIXEL_U8, S, S, 0), "pm is NULL");
  EXPECT_INVALID(lai_probmat_add(pm.p, nullptr, LAI_PIXEL_U8, S, S, 0), "pixels is NULL");
  EXPECT_INVALID(lai_probmat_add(pm.p, img.data(), lai_pixel_type(0), S, S, 0), "unknown pixel type");
  EXPECT_INVALID(lai_probmat_add_batch(pm.p, nullptr, 1), "images is NULL");
  lai_image views[2] = {{img.data(), LAI_PIXEL_U8, S, S, 0}, {nullptr, LAI_PIXEL_U8, S, S, 0}};
  EXPECT_INVALID(lai_probmat_add_batch(pm.p, views, 0), "count is 0");
  EXPECT_INVALID(lai_probmat_add_batch(pm.p, views, 2), "images[1]");
  const char* paths[] = {"a.png", nullptr};
  EXPECT_INVALID(lai_probmat_add_files(nullptr, paths, 1), "pm is NULL");
  EXPECT_INVALID(lai_probmat_add_files(pm.p, nullptr, 1), "paths is NULL");
  EXPECT_INVALID(lai_probmat_add_files(pm.p, paths, 2), "paths[1]");
  EXPECT_STATUS(lai_probmat_add_files(pm.p, paths, 1), LAI_ERR_IO, "a.png");
  EXPECT_INVALID(lai_probmat_merge(nullptr, pm.p), "pm is NULL");
  EXPECT_INVALID(lai_probmat_merge(pm.p, nullptr), "other is NULL");
  EXPECT_INVALID(lai_probmat_get_info(nullptr, nullptr, nullptr), "pm is NULL");
  EXPECT_INVALID(lai_probmat_save(nullptr, "x.lpm"), "pm is NULL");
  EXPECT_INVALID(lai_probmat_save(pm.p, nullptr), "path is NULL");
  EXPECT_INVALID(lai_probmat_load(nullptr, &out), "path is NULL");
  EXPECT_INVALID(lai_probmat_load("x.lpm", nullptr), "out is NULL");
  lai_probmat_free(nullptr);

  lai_wpm_options_init(nullptr);
  float map[S * S];
  double score = 0;
  EXPECT_INVALID(lai_probmat_wpm(nullptr, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, S * S, &score), "pm is NULL");
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, nullptr, 0, nullptr),
                 "nothing to return");
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, S * S, &score), "no images");
  REQUIRE(lai_probmat_add(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, S * S - 1, &score), "needed");
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S / 2, S / 2, 0, nullptr, map, S * S, &score),
                 "built for");
  lai_wpm_options wo;
  lai_wpm_options_init(&wo);
  wo.kind = lai_wpm_kind(5);
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, &wo, map, S * S, &score), "WPM kind");
  lai_wpm_options_init(&wo);
  wo.top_fraction = 0;
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, &wo, map, S * S, &score), "top_fraction");
  lai_wpm_options_init(&wo);
  wo.floor = -1;
  EXPECT_INVALID(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, &wo, map, S * S, &score), "floor");
  REQUIRE(lai_probmat_wpm(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, S * S, &score) == LAI_OK);

  lai_som_options_init(nullptr);
  lai_som_options so;
  lai_som_options_init(&so);
  std::vector<float> data(20, 1.f);
  lai_som* som = nullptr;
  EXPECT_INVALID(lai_som_train(nullptr, 5, 4, &so, &som), "data is NULL");
  EXPECT_INVALID(lai_som_train(data.data(), 5, 4, &so, nullptr), "out is NULL");
  EXPECT_INVALID(lai_som_train(data.data(), 0, 4, &so, &som), "n must be positive");
  EXPECT_INVALID(lai_som_train(data.data(), 5, 0, &so, &som), "dim must be positive");
  data[7] = std::nanf("");
  EXPECT_INVALID(lai_som_train(data.data(), 5, 4, &so, &som), "data[7]");
  data[7] = 1.f;
  so.rows = 0;
  EXPECT_INVALID(lai_som_train(data.data(), 5, 4, &so, &som), "grid");
  lai_som_options_init(&so);
  so.neighborhood = lai_som_neighborhood(7);
  EXPECT_INVALID(lai_som_train(data.data(), 5, 4, &so, &som), "neighborhood");
  lai_som_options_init(&so);
  so.rows = so.cols = 2;
  so.epochs = 2;
  Som s;
  REQUIRE(lai_som_train(data.data(), 5, 4, &so, &s.s) == LAI_OK);
  int32_t bmu[5];
  float w[4];
  EXPECT_INVALID(lai_som_map(nullptr, data.data(), 5, 4, bmu, nullptr), "som is NULL");
  EXPECT_INVALID(lai_som_map(s.s, data.data(), 5, 4, nullptr, nullptr), "bmu is NULL");
  EXPECT_INVALID(lai_som_map(s.s, data.data(), -1, 4, bmu, nullptr), "n must be positive");
  EXPECT_INVALID(lai_som_get_info(nullptr, nullptr, nullptr, nullptr), "som is NULL");
  EXPECT_INVALID(lai_som_weights(s.s, w, 4), "16 needed");
  EXPECT_INVALID(lai_som_weights(s.s, nullptr, 16), "out is NULL");
  EXPECT_INVALID(lai_som_quantization_error(s.s, data.data(), 5, 4, nullptr), "error is NULL");
  EXPECT_INVALID(lai_som_save(nullptr, "x.lsom"), "som is NULL");
  EXPECT_INVALID(lai_som_save(s.s, nullptr), "path is NULL");
  EXPECT_INVALID(lai_som_load(nullptr, &som), "path is NULL");
  EXPECT_INVALID(lai_som_load("x.lsom", nullptr), "out is NULL");
  lai_som_free(nullptr);

  lai_hough_options_init(nullptr);
  lai_hough_options ho;
  lai_hough_options_init(&ho);
  lai_circle cs[2];
  size_t found = 0;
  EXPECT_INVALID(lai_hough_circles(img.data(), LAI_PIXEL_U8, S, S, 0, &ho, cs, 2, nullptr), "found is NULL");
  EXPECT_INVALID(lai_hough_circles(nullptr, LAI_PIXEL_U8, S, S, 0, &ho, cs, 2, &found), "pixels is NULL");
  EXPECT_INVALID(lai_hough_circles(img.data(), LAI_PIXEL_U8, S, S, 0, &ho, nullptr, 2, &found), "circles is NULL");
  ho.polarity = lai_polarity(3);
  EXPECT_INVALID(lai_hough_circles(img.data(), LAI_PIXEL_U8, S, S, 0, &ho, cs, 2, &found), "polarity");
  lai_hough_options_init(&ho);
  ho.min_votes = std::nanf("");
  EXPECT_INVALID(lai_hough_circles(img.data(), LAI_PIXEL_U8, S, S, 0, &ho, cs, 2, &found), "finite");
  lai_hough_options_init(&ho);
  ho.struct_size = 3;
  EXPECT_INVALID(lai_hough_circles(img.data(), LAI_PIXEL_U8, S, S, 0, &ho, cs, 2, &found), "struct_size");
}

TEST_CASE("capi errors: the message is per thread and survives successful calls") {
  EXPECT_INVALID(lai_model_get_info(nullptr, nullptr), "lai_model_get_info");
  const std::string first = lai_last_error();
  CHECK(lai_get_num_threads() >= 1);
  uint8_t buf[64 * 64];
  const lai_status s = lai_phantom_render(1, 0, 64, buf, 0, nullptr);
  INFO(lai_last_error());
  REQUIRE(s == LAI_OK);
  CHECK(std::string(lai_last_error()) == first);
}

TEST_CASE("capi errors: 0.2 map scores, PNGs, autoencoder, evaluation reports") {
  std::vector<float> mapf(S * S, 1.f);
  std::vector<uint8_t> img(S * S, 80);
  const lai_image mv = {mapf.data(), LAI_PIXEL_F32, S, S, 0};
  const lai_image iv = {img.data(), LAI_PIXEL_U8, S, S, 0};
  const lai_image nullv = {nullptr, LAI_PIXEL_F32, S, S, 0};
  const lai_image badv = {mapf.data(), lai_pixel_type(9), S, S, 0};
  double score = 0;

  lai_score_options_init(nullptr);
  lai_score_options so;
  lai_score_options_init(&so);
  EXPECT_INVALID(lai_map_score(nullptr, &so, &score), "map is NULL");
  EXPECT_INVALID(lai_map_score(&mv, &so, nullptr), "score is NULL");
  EXPECT_INVALID(lai_map_score(&nullv, &so, &score), "pixels is NULL (map)");
  EXPECT_INVALID(lai_map_score(&badv, &so, &score), "unknown pixel type 9");
  so.score = lai_score_method(17);
  EXPECT_INVALID(lai_map_score(&mv, &so, &score), "score method 17");
  lai_score_options_init(&so);
  so.top_fraction = 2;
  EXPECT_INVALID(lai_map_score(&mv, &so, &score), "top_fraction");
  lai_score_options_init(&so);
  so.percentile = -1;
  EXPECT_INVALID(lai_map_score(&mv, &so, &score), "percentile");
  lai_score_options_init(&so);
  so.struct_size = 0;
  EXPECT_INVALID(lai_map_score(&mv, &so, &score), "struct_size");

  EXPECT_INVALID(lai_write_heatmap_png(nullptr, &mv, 0, 1), "path is NULL");
  EXPECT_INVALID(lai_write_heatmap_png("", &mv, 0, 1), "path is empty");
  EXPECT_INVALID(lai_write_heatmap_png("/tmp/h.png", nullptr, 0, 1), "map is NULL");
  EXPECT_INVALID(lai_write_heatmap_png("/tmp/h.png", &nullv, 0, 1), "(map)");
  EXPECT_INVALID(lai_write_heatmap_png("/tmp/h.png", &mv, std::nanf(""), 1), "finite");
  EXPECT_INVALID(lai_write_overlay_png(nullptr, &iv, &mv, 0.5f, -1, 0.7f), "path is NULL");
  EXPECT_INVALID(lai_write_overlay_png("/tmp/o.png", nullptr, &mv, 0.5f, -1, 0.7f), "image is NULL");
  EXPECT_INVALID(lai_write_overlay_png("/tmp/o.png", &iv, nullptr, 0.5f, -1, 0.7f), "map is NULL");
  EXPECT_INVALID(lai_write_overlay_png("/tmp/o.png", &nullv, &mv, 0.5f, -1, 0.7f), "(image)");
  EXPECT_INVALID(lai_write_overlay_png("/tmp/o.png", &iv, &badv, 0.5f, -1, 0.7f), "(map)");
  EXPECT_INVALID(lai_write_overlay_png("/tmp/o.png", &iv, &mv, std::nanf(""), -1, 0.7f), "threshold");
  EXPECT_INVALID(lai_write_overlay_png("/tmp/o.png", &iv, &mv, 0.5f, -1, 1.5f), "max_alpha");
  EXPECT_STATUS(lai_write_overlay_png("/proc/no_such_dir/o.png", &iv, &mv, 0.5f, -1, 0.7f), LAI_ERR_IO, "");

  lai_autoencoder_options_init(nullptr);
  lai_autoencoder_options ao;
  lai_autoencoder_options_init(&ao);
  lai_autoencoder* out = reinterpret_cast<lai_autoencoder*>(0x1);
  EXPECT_INVALID(lai_autoencoder_train(nullptr, &ao, &out), "data is NULL");
  CHECK(out == nullptr);
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, nullptr), "out is NULL");
  EXPECT_INVALID(lai_autoencoder_train("", &ao, &out), "data is empty");
  EXPECT_STATUS(lai_autoencoder_train("/no/such/data", &ao, &out), LAI_ERR_IO, "/no/such/data");
  ao.size = 30;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "size must be a multiple of 4");
  lai_autoencoder_options_init(&ao);
  ao.width = 0;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "width");
  lai_autoencoder_options_init(&ao);
  ao.epochs = 0;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "epochs");
  lai_autoencoder_options_init(&ao);
  ao.batch_size = 0;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "batch_size");
  lai_autoencoder_options_init(&ao);
  ao.learning_rate = -1;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "learning_rate");
  lai_autoencoder_options_init(&ao);
  ao.smooth_sigma = std::nanf("");
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "smooth_sigma");
  lai_autoencoder_options_init(&ao);
  ao.calibration_floor = 0;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "calibration_floor");
  lai_autoencoder_options_init(&ao);
  ao.max_images = 0;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "max_images");
  lai_autoencoder_options_init(&ao);
  ao.struct_size = 1;
  EXPECT_INVALID(lai_autoencoder_train("d", &ao, &out), "struct_size");
  lai_autoencoder_options_init(&ao);
  ao.size = 8;
  ao.width = 2;
  ao.epochs = 1;
  lai_image views[2] = {{img.data(), LAI_PIXEL_U8, S, S, 0}, {img.data(), LAI_PIXEL_U8, 0, S, 0}};
  EXPECT_INVALID(lai_autoencoder_train_images(nullptr, 1, &ao, &out), "images is NULL");
  EXPECT_INVALID(lai_autoencoder_train_images(views, 0, &ao, &out), "count is 0");
  EXPECT_INVALID(lai_autoencoder_train_images(views, 1, &ao, nullptr), "out is NULL");
  EXPECT_INVALID(lai_autoencoder_train_images(views, 2, &ao, &out), "images[1]");
  CHECK(out == nullptr);

  struct Ae {
    lai_autoencoder* a = nullptr;
    ~Ae() { lai_autoencoder_free(a); }
  } ae;
  REQUIRE(lai_autoencoder_train_images(views, 1, &ao, &ae.a) == LAI_OK);
  float map[64];
  EXPECT_INVALID(lai_autoencoder_score(nullptr, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, 64, &score),
                 "ae is NULL");
  EXPECT_INVALID(lai_autoencoder_score(ae.a, nullptr, LAI_PIXEL_U8, S, S, 0, nullptr, map, 64, &score),
                 "pixels is NULL");
  EXPECT_INVALID(lai_autoencoder_score(ae.a, img.data(), LAI_PIXEL_U8, S, -1, 0, nullptr, map, 64, &score),
                 "size must be positive");
  EXPECT_INVALID(lai_autoencoder_score(ae.a, img.data(), LAI_PIXEL_U8, S, S, 3, nullptr, map, 64, &score),
                 "stride_bytes");
  EXPECT_INVALID(lai_autoencoder_score(ae.a, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, nullptr, 0, nullptr),
                 "nothing to return");
  EXPECT_INVALID(lai_autoencoder_score(ae.a, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, 63, &score),
                 "64 needed");
  lai_score_options_init(&so);
  so.score = lai_score_method(-1);
  EXPECT_INVALID(lai_autoencoder_score(ae.a, img.data(), LAI_PIXEL_U8, S, S, 0, &so, map, 64, &score),
                 "score method");
  REQUIRE(lai_autoencoder_score(ae.a, img.data(), LAI_PIXEL_U8, S, S, 0, nullptr, map, 64, &score) == LAI_OK);
  EXPECT_INVALID(lai_autoencoder_score_file(nullptr, "x.png", nullptr, map, 64, &score), "ae is NULL");
  EXPECT_INVALID(lai_autoencoder_score_file(ae.a, nullptr, nullptr, map, 64, &score), "path is NULL");
  EXPECT_INVALID(lai_autoencoder_score_file(ae.a, "x.png", nullptr, map, 10, &score), "needed");
  EXPECT_STATUS(lai_autoencoder_score_file(ae.a, "/no/such.png", nullptr, map, 64, &score), LAI_ERR_IO, "such.png");
  EXPECT_INVALID(lai_autoencoder_get_info(nullptr, nullptr, nullptr), "ae is NULL");
  REQUIRE(lai_autoencoder_get_info(ae.a, nullptr, nullptr) == LAI_OK);
  EXPECT_INVALID(lai_autoencoder_save(nullptr, "x.lai"), "ae is NULL");
  EXPECT_INVALID(lai_autoencoder_save(ae.a, nullptr), "path is NULL");
  EXPECT_STATUS(lai_autoencoder_save(ae.a, "/proc/no_such_dir/x.lai"), LAI_ERR_IO, "");
  EXPECT_INVALID(lai_autoencoder_load(nullptr, &out), "path is NULL");
  EXPECT_INVALID(lai_autoencoder_load("x.lai", nullptr), "out is NULL");
  EXPECT_STATUS(lai_autoencoder_load("/no/such.lai", &out), LAI_ERR_IO, "such.lai");
  lai_autoencoder_free(nullptr);

  // Evaluation reports.
  const float scores[6] = {0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f};
  const int32_t labels[3] = {0, 1, 1};
  const int32_t bad_labels[3] = {0, 2, 1};
  const float targets[6] = {1, 0, 0, 1, 1, 0.5f};
  lai_eval_report* rep = reinterpret_cast<lai_eval_report*>(0x1);
  EXPECT_INVALID(lai_eval_report_from_scores(nullptr, 3, 2, labels, nullptr, 0.5, &rep), "scores is NULL");
  CHECK(rep == nullptr);
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 2, labels, nullptr, 0.5, nullptr), "out is NULL");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 0, 2, labels, nullptr, 0.5, &rep), "n must be positive");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 0, labels, nullptr, 0.5, &rep), "classes");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 2, nullptr, nullptr, 0.5, &rep), "exactly one");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 2, labels, targets, 0.5, &rep), "exactly one");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 2, bad_labels, nullptr, 0.5, &rep), "labels[1] = 2");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 2, nullptr, targets, 0.5, &rep), "targets[5]");
  EXPECT_INVALID(lai_eval_report_from_scores(scores, 3, 2, nullptr, targets, 1.5, &rep), "threshold");
  const float nan_scores[6] = {0.9f, std::nanf(""), 0.2f, 0.8f, 0.6f, 0.4f};
  EXPECT_INVALID(lai_eval_report_from_scores(nan_scores, 3, 2, labels, nullptr, 0.5, &rep), "scores[1]");
  struct Rep {
    lai_eval_report* r = nullptr;
    ~Rep() { lai_eval_report_free(r); }
  } r;
  REQUIRE(lai_eval_report_from_scores(scores, 3, 2, labels, nullptr, 0.5, &r.r) == LAI_OK);
  lai_eval_summary_init(nullptr);
  lai_class_metrics_init(nullptr);
  lai_eval_summary sum;
  lai_eval_summary_init(&sum);
  lai_class_metrics cm;
  lai_class_metrics_init(&cm);
  EXPECT_INVALID(lai_eval_report_get_summary(nullptr, &sum), "report is NULL");
  EXPECT_INVALID(lai_eval_report_get_summary(r.r, nullptr), "summary is NULL");
  sum.struct_size = 0;
  EXPECT_INVALID(lai_eval_report_get_summary(r.r, &sum), "summary->struct_size");
  EXPECT_INVALID(lai_eval_report_get_class(nullptr, 0, &cm), "report is NULL");
  EXPECT_INVALID(lai_eval_report_get_class(r.r, 0, nullptr), "metrics is NULL");
  EXPECT_INVALID(lai_eval_report_get_class(r.r, 2, &cm), "index 2");
  EXPECT_INVALID(lai_eval_report_get_class(r.r, -1, &cm), "index -1");
  char text[4];
  EXPECT_INVALID(lai_eval_report_class_name(nullptr, 0, text, 4, nullptr), "report is NULL");
  EXPECT_INVALID(lai_eval_report_class_name(r.r, 5, text, 4, nullptr), "index 5");
  EXPECT_INVALID(lai_eval_report_class_name(r.r, 0, nullptr, 4, nullptr), "buf is NULL");
  EXPECT_INVALID(lai_eval_report_class_name(r.r, 0, text, 4, nullptr), "too small");
  int64_t conf[4];
  EXPECT_INVALID(lai_eval_report_confusion(nullptr, conf, 4), "report is NULL");
  EXPECT_INVALID(lai_eval_report_confusion(r.r, nullptr, 4), "out is NULL");
  EXPECT_INVALID(lai_eval_report_confusion(r.r, conf, 3), "4 needed");
  EXPECT_INVALID(lai_eval_report_json(nullptr, text, 4, nullptr), "report is NULL");
  EXPECT_INVALID(lai_eval_report_json(r.r, text, 4, nullptr), "too small");
  lai_eval_report_free(nullptr);

  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 2, 1, &m.m) == LAI_OK);
  lai_eval_result e;
  lai_eval_result_init(&e);
  EXPECT_INVALID(lai_model_evaluate_report(nullptr, "d", nullptr, 0.5, &e, &rep), "model is NULL");
  EXPECT_INVALID(lai_model_evaluate_report(m.m, "d", nullptr, 0.5, &e, nullptr), "out is NULL");
  EXPECT_INVALID(lai_model_evaluate_report(m.m, nullptr, nullptr, 0.5, &e, &rep), "data is NULL");
  EXPECT_INVALID(lai_model_evaluate_report(m.m, "d", nullptr, 0.0, &e, &rep), "threshold");
  EXPECT_INVALID(lai_model_evaluate_report(m.m, "d", nullptr, std::nan(""), &e, &rep), "threshold");
  lai_train_options o;
  lai_train_options_init(&o);
  o.batch_size = 0;
  EXPECT_INVALID(lai_model_evaluate_report(m.m, "d", &o, 0.5, &e, &rep), "batch_size");
  e.struct_size = 0;
  EXPECT_INVALID(lai_model_evaluate_report(m.m, "d", nullptr, 0.5, &e, &rep), "result->struct_size");
  EXPECT_STATUS(lai_model_evaluate_report(m.m, "/no/such/data", nullptr, 0.5, nullptr, &rep), LAI_ERR_IO,
                "/no/such/data");
  CHECK(rep == nullptr);
}

TEST_CASE("capi errors: 0.3 inference precision, senafas") {
  // Precision.
  EXPECT_INVALID(lai_model_set_inference_precision(nullptr, LAI_PRECISION_BF16), "model is NULL");
  lai_precision p = LAI_PRECISION_F32;
  EXPECT_INVALID(lai_model_get_inference_precision(nullptr, &p), "model is NULL");
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 2, 1, &m.m) == LAI_OK);
  EXPECT_INVALID(lai_model_get_inference_precision(m.m, nullptr), "precision is NULL");
  EXPECT_INVALID(lai_model_set_inference_precision(m.m, lai_precision(-1)), "unknown precision -1");
  EXPECT_INVALID(lai_model_set_inference_precision(m.m, lai_precision(3)), "unknown precision 3");
  REQUIRE(lai_model_get_inference_precision(m.m, &p) == LAI_OK);
  CHECK(p == LAI_PRECISION_F32);  // a refused call changes nothing
  EXPECT_INVALID(lai_model_set_training_precision(nullptr, LAI_PRECISION_F32), "model is NULL");
  EXPECT_INVALID(lai_model_get_training_precision(nullptr, &p), "model is NULL");
  EXPECT_INVALID(lai_model_get_training_precision(m.m, nullptr), "precision is NULL");
  EXPECT_INVALID(lai_model_set_training_precision(m.m, lai_precision(5)), "unknown precision 5");
  REQUIRE(lai_model_get_training_precision(m.m, &p) == LAI_OK);
  CHECK(p == LAI_PRECISION_BF16);

  // Senafas options and fitting.
  lai_senafas_options_init(nullptr);
  lai_senafas_info_init(nullptr);
  std::vector<float> a(S * S, 1.f), b(S * S, 2.f), c(S * S / 4, 1.f);
  b[5] = 3.f;
  lai_image maps[3] = {{a.data(), LAI_PIXEL_F32, S, S, 0}, {b.data(), LAI_PIXEL_F32, S, S, 0},
                       {c.data(), LAI_PIXEL_F32, S / 2, S / 2, 0}};
  lai_senafas* out = reinterpret_cast<lai_senafas*>(0x1);
  EXPECT_INVALID(lai_senafas_fit(maps, 2, nullptr, nullptr), "out is NULL");
  EXPECT_INVALID(lai_senafas_fit(nullptr, 2, nullptr, &out), "maps is NULL");
  CHECK(out == nullptr);
  EXPECT_INVALID(lai_senafas_fit(maps, 1, nullptr, &out), "at least 2");
  EXPECT_INVALID(lai_senafas_fit(maps, 0, nullptr, &out), "at least 2");
  EXPECT_INVALID(lai_senafas_fit(maps + 1, 2, nullptr, &out), "map 1 is 8x8, map 0 is 16x16");
  lai_image bad_view = maps[0];
  bad_view.data = nullptr;
  lai_image with_null[2] = {maps[0], bad_view};
  EXPECT_INVALID(lai_senafas_fit(with_null, 2, nullptr, &out), "maps[1]");
  bad_view = maps[0];
  bad_view.type = lai_pixel_type(99);
  with_null[1] = bad_view;
  EXPECT_INVALID(lai_senafas_fit(with_null, 2, nullptr, &out), "maps[1]");
  std::vector<float> nan_map = a;
  nan_map[7] = std::numeric_limits<float>::quiet_NaN();
  const lai_image with_nan[2] = {maps[0], {nan_map.data(), LAI_PIXEL_F32, S, S, 0}};
  EXPECT_INVALID(lai_senafas_fit(with_nan, 2, nullptr, &out), "is not a finite number (maps[1])");
  lai_senafas_options o;
  lai_senafas_options_init(&o);
  o.struct_size = 0;
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "struct_size");
  lai_senafas_options_init(&o);
  o.patch = 0;
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "patch must be in 1..256, got 0");
  lai_senafas_options_init(&o);
  o.max_features = -3;
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "max_features");
  lai_senafas_options_init(&o);
  o.rows = 0;
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "SOM grid");
  lai_senafas_options_init(&o);
  o.cols = 1000;
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "SOM grid");
  lai_senafas_options_init(&o);
  o.sd_floor = std::numeric_limits<float>::quiet_NaN();
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "sd_floor");
  lai_senafas_options_init(&o);
  o.epochs = 0;
  EXPECT_INVALID(lai_senafas_fit(maps, 2, &o, &out), "epochs");
  CHECK(out == nullptr);

  lai_senafas_options_init(&o);
  o.rows = o.cols = 2;
  o.epochs = 2;
  struct Sen {
    lai_senafas* s = nullptr;
    ~Sen() { lai_senafas_free(s); }
  } sen;
  REQUIRE(lai_senafas_fit(maps, 2, &o, &sen.s) == LAI_OK);

  // fit_probmat.
  ProbMat pm;
  lai_probmat_config pc;
  lai_probmat_config_init(&pc, S, S);
  REQUIRE(lai_probmat_create(&pc, &pm.p) == LAI_OK);
  const std::vector<uint8_t> img = phantom(1, 0, S);
  const lai_image imgs[2] = {{img.data(), LAI_PIXEL_U8, S, S, 0}, {img.data(), LAI_PIXEL_U8, S, S, 0}};
  EXPECT_INVALID(lai_senafas_fit_probmat(nullptr, imgs, 2, nullptr, &o, &out), "pm is NULL");
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, imgs, 2, nullptr, &o, nullptr), "out is NULL");
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, nullptr, 2, nullptr, &o, &out), "images is NULL");
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, imgs, 2, nullptr, &o, &out), "no images");
  REQUIRE(lai_probmat_add(pm.p, img.data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, imgs, 1, nullptr, &o, &out), "at least 2");
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, maps + 1, 2, nullptr, &o, &out), "image is 8x8");
  lai_wpm_options wo;
  lai_wpm_options_init(&wo);
  wo.kind = lai_wpm_kind(9);
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, imgs, 2, &wo, &o, &out), "WPM kind");
  lai_senafas_options bad_o = o;
  bad_o.patch = 1000;
  EXPECT_INVALID(lai_senafas_fit_probmat(pm.p, imgs, 2, nullptr, &bad_o, &out), "patch");
  CHECK(out == nullptr);

  // Channel.
  float ch[4];
  int32_t w = 0, h = 0;
  double score = 0;
  EXPECT_INVALID(lai_senafas_channel(nullptr, &maps[0], ch, 4, &w, &h, &score), "senafas is NULL");
  EXPECT_INVALID(lai_senafas_channel(sen.s, nullptr, ch, 4, &w, &h, &score), "map is NULL");
  EXPECT_INVALID(lai_senafas_channel(sen.s, &maps[2], ch, 4, &w, &h, &score), "map is 8x8");
  EXPECT_INVALID(lai_senafas_channel(sen.s, &with_nan[1], ch, 4, &w, &h, &score), "not a finite number");
  EXPECT_INVALID(lai_senafas_channel(sen.s, &bad_view, ch, 4, &w, &h, &score), "map");
  EXPECT_INVALID(lai_senafas_channel(sen.s, &maps[0], ch, 3, &w, &h, &score), "4 needed (2x2)");
  REQUIRE(lai_senafas_channel(sen.s, &maps[0], ch, 4, nullptr, nullptr, nullptr) == LAI_OK);
  REQUIRE(lai_senafas_channel(sen.s, &maps[0], nullptr, 0, &w, &h, &score) == LAI_OK);
  CHECK((w == 2 && h == 2));

  // Info, save, load, free.
  lai_senafas_info info;
  lai_senafas_info_init(&info);
  EXPECT_INVALID(lai_senafas_get_info(nullptr, &info), "senafas is NULL");
  EXPECT_INVALID(lai_senafas_get_info(sen.s, nullptr), "info is NULL");
  info.struct_size = 3;
  EXPECT_INVALID(lai_senafas_get_info(sen.s, &info), "struct_size");
  info.struct_size = offsetof(lai_senafas_info, map_height);  // an older, smaller struct
  info.map_height = -7;
  REQUIRE(lai_senafas_get_info(sen.s, &info) == LAI_OK);
  CHECK((info.map_width == S && info.map_height == -7));
  EXPECT_INVALID(lai_senafas_save(nullptr, "x.lsnf"), "senafas is NULL");
  EXPECT_INVALID(lai_senafas_save(sen.s, nullptr), "path is NULL");
  EXPECT_INVALID(lai_senafas_save(sen.s, ""), "path is empty");
  EXPECT_STATUS(lai_senafas_save(sen.s, "/proc/no_such_dir/x.lsnf"), LAI_ERR_IO, "x.lsnf");
  EXPECT_INVALID(lai_senafas_load(nullptr, &out), "path is NULL");
  EXPECT_INVALID(lai_senafas_load("x.lsnf", nullptr), "out is NULL");
  EXPECT_STATUS(lai_senafas_load("/no/such.lsnf", &out), LAI_ERR_IO, "such.lsnf");
  const std::string dir = temp_dir("errors_senafas");
  const std::string junk = dir + "/junk.lsnf";
  {
    FILE* f = std::fopen(junk.c_str(), "wb");
    REQUIRE(f);
    std::fputs("definitely not a senafas file, just text of some length", f);
    std::fclose(f);
  }
  EXPECT_STATUS(lai_senafas_load(junk.c_str(), &out), LAI_ERR_FORMAT, "junk.lsnf");
  // Another checked format is not a senafas file.
  const std::string pm_path = dir + "/pm.lpm";
  REQUIRE(lai_probmat_save(pm.p, pm_path.c_str()) == LAI_OK);
  EXPECT_STATUS(lai_senafas_load(pm_path.c_str(), &out), LAI_ERR_FORMAT, "magic");
  CHECK(out == nullptr);
  lai_senafas_free(nullptr);
}
