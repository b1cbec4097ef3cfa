// Repacking through the C API (options of the task "repack"): the written model predicts what the
// source predicts, the report is JSON with the before/after figures, provenance names the task and
// the parent; errors by status, naming the option.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "capi_test_util.hpp"

using capi_test::Model;

namespace {
std::string last() { return lai_last_error(); }
}  // namespace

TEST_CASE("capi repack: fold and bf16, report JSON, provenance, errors name the option", "[capi][repack]") {
  const std::string dir = capi_test::temp_dir("repack");
  Model zoo;
  REQUIRE(lai_model_create("teacher_cxr", 32, 3, 7, &zoo.m) == LAI_OK);
  const std::string in = dir + "/t.lai", out = dir + "/r.lai", half = dir + "/h.lai";
  REQUIRE(lai_model_save(zoo.m, in.c_str()) == LAI_OK);
  lai_options* o = nullptr;
  REQUIRE(lai_options_create("repack", &o) == LAI_OK);
  REQUIRE(lai_options_set(o, "in", in.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "out", out.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "fold", "yes") == LAI_OK);
  REQUIRE(lai_options_set_int(o, "runs", 2) == LAI_OK);
  CHECK(lai_options_set(o, "grey", "yes") == LAI_ERR_INVALID_ARGUMENT);
  CHECK(last().find("grey") != std::string::npos);
  Model r;
  char* report = nullptr;
  REQUIRE(lai_model_repack(o, &r.m, &report) == LAI_OK);
  REQUIRE(report != nullptr);
  const std::string j = report;
  lai_string_free(report);
  for (const char* key : {"\"before\"", "\"after\"", "\"parameters\"", "\"file_bytes\"", "\"latency_ms_batch1\"",
                          "\"inference_rss_growth_mb\"", "\"max_rel_diff\"", "\"changes\"", "SYNTHETIC phantoms"})
    CHECK(j.find(key) != std::string::npos);
  CHECK(j.find("folded BatchNormalization") != std::string::npos);
  CHECK(j.find("\"exact\":true") != std::string::npos);
  // The same probabilities as the source.
  const std::vector<uint8_t> px = capi_test::phantom(3, 1, 32);
  float p0[3], p1[3];
  REQUIRE(lai_model_predict(zoo.m, px.data(), LAI_PIXEL_U8, 32, 32, 0, p0, 3) == LAI_OK);
  REQUIRE(lai_model_predict(r.m, px.data(), LAI_PIXEL_U8, 32, 32, 0, p1, 3) == LAI_OK);
  for (int k = 0; k < 3; ++k) CHECK(p1[k] == Approx(p0[k]).margin(1e-5));
  // Provenance: task, options, parent with its SHA-256.
  char* desc = nullptr;
  REQUIRE(lai_model_describe(r.m, &desc) == LAI_OK);
  const std::string d = desc;
  lai_string_free(desc);
  CHECK(d.find("\"task\":\"repack\"") != std::string::npos);
  CHECK(d.find("\"role\":\"source\"") != std::string::npos);
  CHECK(d.find("\"sha256\"") != std::string::npos);

  // bf16: about half the file; no handle wanted.
  REQUIRE(lai_options_set(o, "out", half.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "bf16", "yes") == LAI_OK);
  REQUIRE(lai_model_repack(o, nullptr, nullptr) == LAI_OK);
  const double ratio = double(std::filesystem::file_size(half)) / double(std::filesystem::file_size(out));
  CHECK(ratio < 0.6);

  // Errors: gray on a 1-channel model names the option and the node; nothing is written.
  const std::string gray_out = dir + "/g.lai";
  REQUIRE(lai_options_set(o, "out", gray_out.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "gray", "yes") == LAI_OK);
  lai_model* none = nullptr;
  CHECK(lai_model_repack(o, &none, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(none == nullptr);
  CHECK(last().find("gray") != std::string::npos);
  CHECK(last().find("1 channel") != std::string::npos);
  CHECK(!std::filesystem::exists(gray_out));
  // A missing input file, missing options, options of another task, NULL options.
  REQUIRE(lai_options_set(o, "gray", "no") == LAI_OK);
  REQUIRE(lai_options_set(o, "in", (dir + "/missing.lai").c_str()) == LAI_OK);
  CHECK(lai_model_repack(o, nullptr, nullptr) == LAI_ERR_IO);
  CHECK(last().find("missing.lai") != std::string::npos);
  lai_options* e = nullptr;
  REQUIRE(lai_options_create("repack", &e) == LAI_OK);
  CHECK(lai_model_repack(e, nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(last().find("'in'") != std::string::npos);
  REQUIRE(lai_options_set(e, "in", in.c_str()) == LAI_OK);
  CHECK(lai_model_repack(e, nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(last().find("'out'") != std::string::npos);
  CHECK(lai_model_repack(nullptr, nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  lai_options* t = nullptr;
  REQUIRE(lai_options_create("train", &t) == LAI_OK);
  CHECK(lai_model_repack(t, nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(last().find("not 'repack'") != std::string::npos);
  lai_options_free(t);
  lai_options_free(e);
  lai_options_free(o);
}
