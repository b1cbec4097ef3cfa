// C API (0.4): DICOM in (lai_dicom_*, lai_image_decode_* on DICOM) and out (SR, overlay SC) on
// SYNTHETIC phantom DICOMs written by tests/support/make_dicom_files. In a build without DCMTK:
// every lai_dicom_* function says NOT_SUPPORTED.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "capi_test_util.hpp"
#include "liteai.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::string take(char* s) {
  std::string out = s ? s : "";
  lai_string_free(s);
  return out;
}

struct Dicom {
  lai_dicom* d = nullptr;
  ~Dicom() { lai_dicom_free(d); }
};

struct Bytes {
  uint8_t* p = nullptr;
  size_t n = 0;
  ~Bytes() { lai_bytes_free(p); }
};

#ifdef LITEAI_MAKE_DICOM_FILES
// The phantom DICOMs (one per variant), written once per test run.
const std::vector<std::string>& dicom_files() {
  static const std::vector<std::string> files = [] {
    const std::string dir = capi_test::temp_dir("dicom_files");
    const std::string cmd = std::string(LITEAI_MAKE_DICOM_FILES) + " " + dir + " --size 64 --count 9 --refused";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().string());
    std::sort(v.begin(), v.end());
    return v;
  }();
  return files;
}
std::vector<std::string> gray_files() {
  std::vector<std::string> v;
  for (const std::string& f : dicom_files())
    if (fs::path(f).filename().string().rfind("refused", 0) != 0) v.push_back(f);
  return v;
}
#endif

}  // namespace

#ifndef LITEAI_MAKE_DICOM_FILES

TEST_CASE("capi dicom: a build without DCMTK says so") {
  REQUIRE(lai_dicom_available() == 0);
  WARN("this build has no DICOM module (DCMTK not found): only NOT_SUPPORTED is checked");
  lai_dicom* d = nullptr;
  const uint8_t junk[200] = {};
  CHECK(lai_dicom_read_memory(junk, sizeof junk, &d) == LAI_ERR_NOT_SUPPORTED);
  CHECK(d == nullptr);
  CHECK(lai_dicom_read_file("/nonexistent.dcm", &d) == LAI_ERR_NOT_SUPPORTED);
  CHECK(std::string(lai_last_error()).find("DICOM") != std::string::npos);
}

#else

TEST_CASE("capi dicom: read, view, describe; lai_image_decode_* give the same pixels") {
  REQUIRE(lai_dicom_available() == 1);
  const std::vector<std::string> files = gray_files();
  REQUIRE(files.size() == 9);
  for (const std::string& f : files) {
    INFO(f);
    Dicom a, b;
    REQUIRE(lai_dicom_read_file(f.c_str(), &a.d) == LAI_OK);
    const std::vector<uint8_t> bytes = file_bytes(f);
    REQUIRE(lai_dicom_read_memory(bytes.data(), bytes.size(), &b.d) == LAI_OK);
    lai_image va{}, vb{};
    REQUIRE(lai_dicom_image(a.d, &va) == LAI_OK);
    REQUIRE(lai_dicom_image(b.d, &vb) == LAI_OK);
    CHECK(va.type == LAI_PIXEL_U16);
    CHECK(va.width == 64);
    CHECK(va.height == 64);
    CHECK(va.stride_bytes == 0);
    REQUIRE(vb.width == va.width);
    CHECK(std::memcmp(va.data, vb.data, size_t(va.width) * va.height * 2) == 0);
    // The generic image decoder reads DICOM to the same whole levels, as floats.
    std::vector<float> px(size_t(va.width) * va.height);
    int32_t w = 0, h = 0;
    REQUIRE(lai_image_decode_file(f.c_str(), px.data(), px.size(), &w, &h) == LAI_OK);
    REQUIRE((w == 64 && h == 64));
    const auto* u16 = static_cast<const uint16_t*>(va.data);
    bool same = true;
    for (size_t i = 0; i < px.size(); ++i) same = same && px[i] == float(u16[i]);
    CHECK(same);
    int32_t pw = 0, ph = 0;
    REQUIRE(lai_image_decode_memory(bytes.data(), bytes.size(), nullptr, 0, &pw, &ph) == LAI_OK);
    CHECK((pw == 64 && ph == 64));
    char* json = nullptr;
    REQUIRE(lai_dicom_describe(a.d, &json) == LAI_OK);
    const std::string j = take(json);
    CHECK(j.find("\"study_instance_uid\":\"1.2.826.0.1.3680043.10.1234.1\"") != std::string::npos);
    CHECK(j.find("\"patient_id\":\"SYN-0001\"") != std::string::npos);
    CHECK(j.find("\"rows\":64") != std::string::npos);
    CHECK(j.find("\"voi\":") != std::string::npos);
  }
}

TEST_CASE("capi dicom: a model predicts the same on the view as on the file (as liteai predict)") {
  capi_test::Model m;
  REQUIRE(lai_model_create("small_cnn", 32, 2, 7, &m.m) == LAI_OK);
  for (const std::string& f : gray_files()) {
    INFO(f);
    Dicom d;
    REQUIRE(lai_dicom_read_file(f.c_str(), &d.d) == LAI_OK);
    lai_image v{};
    REQUIRE(lai_dicom_image(d.d, &v) == LAI_OK);
    float p1[2], p2[2];
    REQUIRE(lai_model_predict(m.m, v.data, v.type, v.width, v.height, 0, p1, 2) == LAI_OK);
    REQUIRE(lai_model_predict_file(m.m, f.c_str(), p2, 2) == LAI_OK);
    CHECK(std::memcmp(p1, p2, sizeof p1) == 0);  // bit for bit: the same numbers reach the model
  }
}

TEST_CASE("capi dicom: SR and overlay SC of a model's and a map's findings") {
  const std::string dir = capi_test::temp_dir("dicom_out");
  const std::string src = gray_files().front();
  Dicom d;
  REQUIRE(lai_dicom_read_file(src.c_str(), &d.d) == LAI_OK);
  capi_test::Model m;
  REQUIRE(lai_model_create("small_cnn", 32, 2, 7, &m.m) == LAI_OK);
  const float probs[2] = {0.25f, 0.75f};
  char* mj = nullptr;
  REQUIRE(lai_model_findings(m.m, probs, 2, &mj) == LAI_OK);
  const std::string model_json = take(mj);
  CHECK(model_json.find("\"model_name\":\"small_cnn\"") != std::string::npos);
  CHECK(model_json.find("weights sha256 ") != std::string::npos);
  CHECK(model_json.find("\"probability\":0.75") != std::string::npos);
  // The same version the second time (cached in the handle).
  char* mj2 = nullptr;
  REQUIRE(lai_model_findings(m.m, probs, 2, &mj2) == LAI_OK);
  CHECK(take(mj2) == model_json);
  const std::string findings = "[" + model_json +
                               ",{\"anomaly_score\":4.5,\"circles\":[{\"x\":20,\"y\":30,\"radius\":5,\"score\":9}]}]";
  Bytes sr;
  REQUIRE(lai_dicom_encode_sr(d.d, findings.c_str(), &sr.p, &sr.n) == LAI_OK);
  REQUIRE(sr.n > 132);
  CHECK(std::memcmp(sr.p + 128, "DICM", 4) == 0);
  {  // not an image: the reader refuses it naming the tag
    Dicom back;
    CHECK(lai_dicom_read_memory(sr.p, sr.n, &back.d) == LAI_ERR_NOT_SUPPORTED);
    CHECK(std::string(lai_last_error()).find("(7FE0,0010)") != std::string::npos);
  }
  const std::string sr_path = dir + "/sr.dcm";
  std::ofstream(sr_path, std::ios::binary).write(reinterpret_cast<const char*>(sr.p), std::streamsize(sr.n));
  if (std::filesystem::exists("/usr/bin/dsrdump")) {
    const std::string out = dir + "/sr.txt";
    REQUIRE(std::system(("dsrdump +Pc '" + sr_path + "' >" + out + " 2>&1").c_str()) == 0);
    std::ifstream in(out);
    const std::string t((std::istreambuf_iterator<char>(in)), {});
    CHECK(t.find("(122157,DCM,\"Probability\")=\"0.75\"") != std::string::npos);
    CHECK(t.find("(anomaly-score,99LITEAI,\"Anomaly score\")=\"4.5\"") != std::string::npos);
    CHECK(t.find("(111030,DCM,\"Image Region\")=(CIRCLE,20.5/30.5") != std::string::npos);
    CHECK(t.find("(111001,DCM,\"Algorithm Name\")=\"small_cnn\"") != std::string::npos);
  }
  // The overlay of a 16 x 16 map (resized to the source's 64 x 64).
  std::vector<float> map(16 * 16, 0.f);
  for (int y = 4; y < 9; ++y)
    for (int x = 4; x < 9; ++x) map[size_t(y) * 16 + size_t(x)] = 12.f;
  const lai_image mv{map.data(), LAI_PIXEL_F32, 16, 16, 0};
  Bytes sc;
  REQUIRE(lai_dicom_encode_overlay(d.d, &mv, 8.f, model_json.c_str(), &sc.p, &sc.n) == LAI_OK);
  REQUIRE(sc.n > 64 * 64 * 3);
  {
    Dicom back;
    CHECK(lai_dicom_read_memory(sc.p, sc.n, &back.d) == LAI_ERR_NOT_SUPPORTED);
    CHECK(std::string(lai_last_error()).find("colour") != std::string::npos);
  }
  // Same findings, same instance: the bytes differ only in the content date/time.
  Bytes sr2;
  REQUIRE(lai_dicom_encode_sr(d.d, findings.c_str(), &sr2.p, &sr2.n) == LAI_OK);
  CHECK(sr2.n == sr.n);
}

TEST_CASE("capi dicom: refused objects and bad arguments") {
  for (const std::string& f : dicom_files()) {
    if (fs::path(f).filename().string().rfind("refused", 0) != 0) continue;
    INFO(f);
    Dicom d;
    CHECK(lai_dicom_read_file(f.c_str(), &d.d) == LAI_ERR_NOT_SUPPORTED);
    CHECK(d.d == nullptr);
    CHECK(std::string(lai_last_error()).find(fs::path(f).filename().string()) != std::string::npos);
    std::vector<float> px(64 * 64);
    int32_t w = 0, h = 0;
    CHECK(lai_image_decode_file(f.c_str(), px.data(), px.size(), &w, &h) == LAI_ERR_NOT_SUPPORTED);
  }
  lai_dicom* d = nullptr;
  const uint8_t junk[300] = {1, 2, 3};
  CHECK(lai_dicom_read_memory(junk, sizeof junk, &d) == LAI_ERR_FORMAT);
  CHECK(lai_dicom_read_memory(nullptr, 10, &d) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_dicom_read_file("/nonexistent/x.dcm", &d) == LAI_ERR_IO);
  CHECK(lai_dicom_read_file(nullptr, &d) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_dicom_image(nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  Dicom ok;
  REQUIRE(lai_dicom_read_file(gray_files().front().c_str(), &ok.d) == LAI_OK);
  Bytes b;
  CHECK(lai_dicom_encode_sr(ok.d, "{\"classes\": [{\"name\": \"a\"}]}", &b.p, &b.n) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("probability") != std::string::npos);
  CHECK(lai_dicom_encode_sr(ok.d, "{\"colour\": 1}", &b.p, &b.n) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("colour") != std::string::npos);
  CHECK(lai_dicom_encode_sr(ok.d, "not json", &b.p, &b.n) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_dicom_encode_sr(ok.d, nullptr, &b.p, &b.n) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(b.p == nullptr);
  capi_test::Model m;
  REQUIRE(lai_model_create("small_cnn", 32, 2, 7, &m.m) == LAI_OK);
  const float p3[3] = {0.2f, 0.3f, 0.5f};
  char* j = nullptr;
  CHECK(lai_model_findings(m.m, p3, 3, &j) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(j == nullptr);
  lai_bytes_free(nullptr);
  lai_dicom_free(nullptr);
}

#endif
