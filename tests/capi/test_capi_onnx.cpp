// ONNX through the C API: export a model, import it back (options of the task "import"), the same
// probabilities; errors by status. In a build without ONNX both calls say LAI_ERR_NOT_SUPPORTED.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "capi_test_util.hpp"

using capi_test::Model;

TEST_CASE("capi onnx: export, import with options, the same predictions; errors by status", "[capi][onnx]") {
  const std::string dir = capi_test::temp_dir("onnx");
  Model zoo;
  REQUIRE(lai_model_create("small_cnn", 32, 3, 5, &zoo.m) == LAI_OK);
  const std::vector<uint8_t> px = capi_test::phantom(3, 0, 32);
  REQUIRE(px.size() == 32 * 32);
  const std::string onnx = dir + "/m.onnx", lai = dir + "/g.lai";
  const lai_status exported = lai_model_export_onnx(zoo.m, onnx.c_str());
  if (exported == LAI_ERR_NOT_SUPPORTED) {  // a build without libonnx-dev
    CHECK(std::string(lai_last_error()).find("no ONNX support") != std::string::npos);
    lai_model* out = nullptr;
    CHECK(lai_model_import_onnx(nullptr, &out) == LAI_ERR_NOT_SUPPORTED);
    return;
  }
  REQUIRE(exported == LAI_OK);
  lai_options* o = nullptr;
  REQUIRE(lai_options_create("import", &o) == LAI_OK);
  REQUIRE(lai_options_set(o, "onnx", onnx.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "out", lai.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "classes", "a,b,c") == LAI_OK);
  CHECK(lai_options_set(o, "head", "tanh") == LAI_ERR_INVALID_ARGUMENT);  // not a choice
  Model g;
  REQUIRE(lai_model_import_onnx(o, &g.m) == LAI_OK);
  char name[8];
  size_t needed = 0;
  REQUIRE(lai_model_class_name(g.m, 1, name, sizeof name, &needed) == LAI_OK);
  CHECK(std::string(name) == "b");
  Model loaded;
  REQUIRE(lai_model_load(lai.c_str(), &loaded.m) == LAI_OK);  // "out" saved it
  float p0[3], p1[3], p2[3];
  REQUIRE(lai_model_predict(zoo.m, px.data(), LAI_PIXEL_U8, 32, 32, 0, p0, 3) == LAI_OK);
  REQUIRE(lai_model_predict(g.m, px.data(), LAI_PIXEL_U8, 32, 32, 0, p1, 3) == LAI_OK);
  REQUIRE(lai_model_predict(loaded.m, px.data(), LAI_PIXEL_U8, 32, 32, 0, p2, 3) == LAI_OK);
  for (int k = 0; k < 3; ++k) {
    CHECK(p1[k] == Approx(p0[k]).margin(1e-6));
    CHECK(p2[k] == p1[k]);
  }
  // A file that is not ONNX, a missing one, options of another task, NULL arguments.
  std::ofstream(dir + "/junk.onnx") << "not a model";
  REQUIRE(lai_options_set(o, "onnx", (dir + "/junk.onnx").c_str()) == LAI_OK);
  lai_model* out = nullptr;
  CHECK(lai_model_import_onnx(o, &out) == LAI_ERR_FORMAT);
  CHECK(out == nullptr);
  REQUIRE(lai_options_set(o, "onnx", (dir + "/missing.onnx").c_str()) == LAI_OK);
  CHECK(lai_model_import_onnx(o, &out) == LAI_ERR_IO);
  lai_options* t = nullptr;
  REQUIRE(lai_options_create("train", &t) == LAI_OK);
  CHECK(lai_model_import_onnx(t, &out) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("not 'import'") != std::string::npos);
  CHECK(lai_model_import_onnx(o, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_model_export_onnx(nullptr, onnx.c_str()) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_model_export_onnx(zoo.m, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  lai_options_free(t);
  lai_options_free(o);
}
