// C API 0.4: lai_model_explain (Grad-CAM) through libliteai.so only - the map at the caller's image
// size in [0, 1], the default class is the most probable one with predict's probability, options
// "class" and "layer", the model unchanged (same predictions), concurrent calls giving the same
// bits, and errors (NULL pointers, a short buffer, options of another task, an unknown class or
// layer) naming the argument, the option, the class or the layer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;
using Catch::Matchers::Contains;

namespace {
struct Options {
  lai_options* o = nullptr;
  explicit Options(const char* task) { REQUIRE(lai_options_create(task, &o) == LAI_OK); }
  ~Options() { lai_options_free(o); }
};

// A 48x40 crop of a 64x64 phantom: an image of another size than the model's input.
std::vector<uint8_t> image_48x40() {
  const std::vector<uint8_t> p = phantom(5, 1, 64);
  std::vector<uint8_t> out(size_t(48) * 40);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 48; ++x) out[size_t(y) * 48 + size_t(x)] = p[size_t(y + 10) * 64 + size_t(x + 8)];
  return out;
}
}  // namespace

TEST_CASE("lai_model_explain: a map at the image's size, the top class, options", "[capi][explain]") {
  Model model;
  REQUIRE(lai_model_create("compact_cxr", 32, 3, 7, &model.m) == LAI_OK);
  const std::vector<uint8_t> px = image_48x40();
  const lai_image img = {px.data(), LAI_PIXEL_U8, 48, 40, 0};
  std::vector<float> probs(3);
  REQUIRE(lai_model_predict(model.m, px.data(), LAI_PIXEL_U8, 48, 40, 0, probs.data(), 3) == LAI_OK);

  std::vector<float> map(48 * 40, -1.f);
  int32_t cls = -1;
  float p = -1.f;
  REQUIRE(lai_model_explain(model.m, &img, nullptr, map.data(), map.size(), &cls, &p) == LAI_OK);
  const int32_t top = int32_t(std::max_element(probs.begin(), probs.end()) - probs.begin());
  CHECK(cls == top);
  CHECK(p == Approx(probs[size_t(top)]).margin(1e-6));
  const float hi = *std::max_element(map.begin(), map.end()), lo = *std::min_element(map.begin(), map.end());
  CHECK(lo >= 0.f);
  CHECK((hi == 1.f || hi == 0.f));

  // The model is unchanged: the same predictions, bit for bit.
  std::vector<float> again(3);
  REQUIRE(lai_model_predict(model.m, px.data(), LAI_PIXEL_U8, 48, 40, 0, again.data(), 3) == LAI_OK);
  CHECK(std::memcmp(again.data(), probs.data(), 3 * sizeof(float)) == 0);

  // Options: another class (by index; names are class0.. here) and another layer.
  Options o("explain");
  REQUIRE(lai_options_set(o.o, "class", "class2") == LAI_OK);
  REQUIRE(lai_options_set(o.o, "layer", "conv2") == LAI_OK);
  std::vector<float> map2(48 * 40);
  REQUIRE(lai_model_explain(model.m, &img, o.o, map2.data(), map2.size(), &cls, &p) == LAI_OK);
  CHECK(cls == 2);
  CHECK(p == Approx(probs[2]).margin(1e-6));
  CHECK(map2 != map);
  // Without the optional outputs, and a buffer larger than needed.
  std::vector<float> map3(48 * 40 + 5, -7.f);
  REQUIRE(lai_model_explain(model.m, &img, nullptr, map3.data(), map3.size(), nullptr, nullptr) == LAI_OK);
  CHECK(std::equal(map.begin(), map.end(), map3.begin()));
  CHECK(map3.back() == -7.f);

  // Concurrent calls on one handle: the same bits.
  std::vector<std::vector<float>> maps(4, std::vector<float>(48 * 40));
  std::vector<lai_status> st(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { st[t] = lai_model_explain(model.m, &img, nullptr, maps[t].data(), 48 * 40, nullptr, nullptr); });
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < 4; ++t) {
    CHECK(st[t] == LAI_OK);
    CHECK(maps[t] == map);
  }
}

TEST_CASE("lai_model_explain: errors name the argument, option, class and layer", "[capi][explain]") {
  Model model;
  REQUIRE(lai_model_create("compact_cxr", 32, 3, 7, &model.m) == LAI_OK);
  const std::vector<uint8_t> px = image_48x40();
  const lai_image img = {px.data(), LAI_PIXEL_U8, 48, 40, 0};
  std::vector<float> map(48 * 40);
  auto err = [] { return std::string(lai_last_error()); };

  CHECK(lai_model_explain(nullptr, &img, nullptr, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("lai_model_explain") && Contains("model"));
  CHECK(lai_model_explain(model.m, nullptr, nullptr, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("image"));
  CHECK(lai_model_explain(model.m, &img, nullptr, nullptr, map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("out is NULL"));
  CHECK(lai_model_explain(model.m, &img, nullptr, map.data(), map.size() - 1, nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("count is 1919") && Contains("48x40") && Contains("1920"));
  const lai_image bad = {px.data(), LAI_PIXEL_U8, 0, 40, 0};
  CHECK(lai_model_explain(model.m, &bad, nullptr, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);

  const lai_image no_pixels = {nullptr, LAI_PIXEL_U8, 48, 40, 0};
  CHECK(lai_model_explain(model.m, &no_pixels, nullptr, map.data(), map.size(), nullptr, nullptr) ==
        LAI_ERR_INVALID_ARGUMENT);
  const lai_image bad_type = {px.data(), lai_pixel_type(9), 48, 40, 0};
  CHECK(lai_model_explain(model.m, &bad_type, nullptr, map.data(), map.size(), nullptr, nullptr) ==
        LAI_ERR_INVALID_ARGUMENT);
  const lai_image huge = {px.data(), LAI_PIXEL_U8, 1 << 30, 1 << 30, 0};
  CHECK(lai_model_explain(model.m, &huge, nullptr, map.data(), map.size(), nullptr, nullptr) != LAI_OK);
  Options other("predict");
  CHECK(lai_model_explain(model.m, &img, other.o, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("not 'explain'"));

  Options o("explain");
  CHECK(lai_options_set(o.o, "clas", "x") == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("clas"));
  CHECK(lai_options_set_double(o.o, "threshold", 3.0) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("threshold"));
  REQUIRE(lai_options_set(o.o, "class", "lungs") == LAI_OK);
  CHECK(lai_model_explain(model.m, &img, o.o, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("class 'lungs'") && Contains("class0, class1, class2"));
  REQUIRE(lai_options_set(o.o, "class", "7") == LAI_OK);
  CHECK(lai_model_explain(model.m, &img, o.o, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("class '7'"));
  REQUIRE(lai_options_unset(o.o, "class") == LAI_OK);
  REQUIRE(lai_options_set(o.o, "layer", "nope") == LAI_OK);
  CHECK(lai_model_explain(model.m, &img, o.o, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("no layer 'nope'") && Contains("conv3"));
  REQUIRE(lai_options_set(o.o, "layer", "fc1") == LAI_OK);
  CHECK(lai_model_explain(model.m, &img, o.o, map.data(), map.size(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK_THAT(err(), Contains("layer 'fc1'") && Contains("not a 4-D activation"));

  // Not a classifier.
  Model ae;
  REQUIRE(lai_model_create("autoencoder", 32, 0, 1, &ae.m) == LAI_OK);
  CHECK(lai_model_explain(ae.m, &img, nullptr, map.data(), map.size(), nullptr, nullptr) != LAI_OK);
  CHECK_THAT(err(), Contains("not a classifier"));
}
