// C API 0.4: task options (names, defaults and ranges of the CLI), tasks with options, the log
// callback, handle descriptions.
#include <catch2/catch.hpp>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {

struct Options {
  lai_options* o = nullptr;
  explicit Options(const char* task) { REQUIRE(lai_options_create(task, &o) == LAI_OK); }
  ~Options() { lai_options_free(o); }
};

std::string get(const lai_options* o, const char* name) {
  size_t need = 0;
  REQUIRE(lai_options_get(o, name, nullptr, 0, &need) == LAI_OK);
  std::string s(need, '\0');
  REQUIRE(lai_options_get(o, name, s.data(), s.size(), nullptr) == LAI_OK);
  s.resize(need - 1);
  return s;
}

std::string take(char* s) {
  std::string r = s ? s : "";
  lai_string_free(s);
  return r;
}

std::vector<std::string> g_log;
std::mutex g_log_mu;
void on_log(lai_log_level, const char* message, void*) {
  std::lock_guard<std::mutex> l(g_log_mu);
  g_log.emplace_back(message);
}

}  // namespace

TEST_CASE("capi options: the CLI's names, defaults and ranges") {
  Options t("train");
  CHECK(get(t.o, "epochs") == "2");  // `liteai train`'s default, not lai_train_options' 1
  CHECK(get(t.o, "batch") == "64");
  CHECK(get(t.o, "optimizer") == "adam");
  CHECK(lai_options_set(t.o, "epochs", "5") == LAI_OK);
  CHECK(get(t.o, "epochs") == "5");
  CHECK(lai_options_set_int(t.o, "batch", 0) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("'batch' must be in 1..65536, got 0") != std::string::npos);
  CHECK(get(t.o, "batch") == "64");  // a refused value changes nothing
  CHECK(lai_options_set(t.o, "lr", "1e-3x") == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("expects a number") != std::string::npos);
  CHECK(lai_options_set(t.o, "standardize", "maybe") == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("yes or no") != std::string::npos);
  CHECK(lai_options_set(t.o, "optimizer", "rmsprop") == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("adam, adamw or sgd") != std::string::npos);
  CHECK(lai_options_set_double(t.o, "val-split", 0.99) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_options_set(t.o, "bogus", "1") == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("unknown option 'bogus'") != std::string::npos);
  CHECK(lai_options_set_double(t.o, "epochs", 2.5) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_options_set_int(t.o, "restore-best", 0) == LAI_OK);
  CHECK(get(t.o, "restore-best") == "false");
  CHECK(lai_options_unset(t.o, "epochs") == LAI_OK);
  CHECK(get(t.o, "epochs") == "2");
  CHECK(lai_options_get(t.o, "data", nullptr, 0, nullptr) == LAI_ERR_INVALID_ARGUMENT);  // no value, no default

  lai_options* bad = nullptr;
  CHECK(lai_options_create("frobnicate", &bad) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(bad == nullptr);
  CHECK(std::string(lai_last_error()).find("train") != std::string::npos);  // lists the tasks
  CHECK(lai_options_create(nullptr, &bad) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_options_set(nullptr, "epochs", "1") == LAI_ERR_INVALID_ARGUMENT);
  lai_options_free(nullptr);
  lai_string_free(nullptr);

  char* json = nullptr;
  REQUIRE(lai_options_describe("train", &json) == LAI_OK);
  const std::string d = take(json);
  CHECK(d.find("\"name\":\"epochs\"") != std::string::npos);
  CHECK(d.find("\"name\":\"val-split\"") != std::string::npos);
  REQUIRE(lai_options_describe(nullptr, &json) == LAI_OK);
  const std::string tasks = take(json);
  for (const char* task : {"train", "evaluate", "predict", "probmat-build", "probmat-score", "anomaly-train", "hough"})
    CHECK(tasks.find(std::string("\"") + task + "\"") != std::string::npos);
  REQUIRE(lai_options_set(t.o, "epochs", "3") == LAI_OK);
  REQUIRE(lai_options_to_json(t.o, &json) == LAI_OK);
  CHECK(take(json).find("\"epochs\":3") != std::string::npos);
}

TEST_CASE("capi tasks with options: train, evaluate, describe, log callback") {
  const std::string dir = temp_dir("options_train");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 30, 4, 32) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv";
  Options t("train");
  REQUIRE(lai_options_set(t.o, "data", manifest.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(t.o, "model", "compact_cxr") == LAI_OK);
  REQUIRE(lai_options_set_int(t.o, "size", 16) == LAI_OK);
  REQUIRE(lai_options_set_int(t.o, "epochs", 1) == LAI_OK);
  REQUIRE(lai_options_set_int(t.o, "batch", 4) == LAI_OK);
  REQUIRE(lai_options_set_double(t.o, "l2", 0) == LAI_OK);
  REQUIRE(lai_options_set_double(t.o, "val-split", 0.2) == LAI_OK);
  REQUIRE(lai_options_set(t.o, "schedule", "cosine") == LAI_OK);  // not in lai_train_options
  REQUIRE(lai_options_set_int(t.o, "warmup", 2) == LAI_OK);
  REQUIRE(lai_set_log_callback(on_log, nullptr) == LAI_OK);
  Model m;
  char* report = nullptr;
  const lai_status s = lai_train(t.o, &m.m, &report);
  REQUIRE(lai_set_log_callback(nullptr, nullptr) == LAI_OK);
  REQUIRE(s == LAI_OK);
  const std::string r = take(report);
  CHECK(r.find("\"epochs_done\":1") != std::string::npos);
  CHECK(r.find("\"validation_samples\":6") != std::string::npos);
  {
    std::lock_guard<std::mutex> l(g_log_mu);
    bool saw_data = false;
    for (const auto& line : g_log) saw_data = saw_data || line.rfind("data: ", 0) == 0;
    CHECK(saw_data);  // the informational lines went to the callback, not to stderr
  }
  lai_model* none = nullptr;
  CHECK(lai_train(t.o, nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);  // nowhere for the model to go
  CHECK(std::string(lai_last_error()).find("'out'") != std::string::npos);
  (void)none;

  // Options of another task are refused by name.
  Options e("evaluate");
  CHECK(lai_model_train_with(m.m, e.o, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("for the task 'eval'") != std::string::npos);
  // A given model refuses model options: the model exists.
  CHECK(lai_model_train_with(m.m, t.o, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("model options") != std::string::npos);
  Options t2("train");
  REQUIRE(lai_options_set(t2.o, "data", manifest.c_str()) == LAI_OK);
  REQUIRE(lai_options_set_int(t2.o, "batch", 4) == LAI_OK);
  REQUIRE(lai_options_set_int(t2.o, "epochs", 1) == LAI_OK);
  REQUIRE(lai_options_set_int(t2.o, "quiet", 1) == LAI_OK);
  CHECK(lai_model_train_with(m.m, t2.o, nullptr) == LAI_OK);

  REQUIRE(lai_options_set(e.o, "data", manifest.c_str()) == LAI_OK);
  REQUIRE(lai_options_set_int(e.o, "batch", 8) == LAI_OK);
  lai_eval_report* rep = nullptr;
  char* ej = nullptr;
  REQUIRE(lai_model_evaluate_with(m.m, e.o, &rep, &ej) == LAI_OK);
  const std::string ejs = take(ej);
  CHECK(ejs.find("\"samples\":30") != std::string::npos);
  lai_eval_summary sum;
  lai_eval_summary_init(&sum);
  REQUIRE(lai_eval_report_get_summary(rep, &sum) == LAI_OK);
  CHECK(sum.samples == 30);
  CHECK(sum.classes == 5);
  lai_eval_report_free(rep);

  char* mj = nullptr;
  REQUIRE(lai_model_describe(m.m, &mj) == LAI_OK);
  const std::string md = take(mj);
  CHECK(md.find("\"parameter_bytes\"") != std::string::npos);
  CHECK(md.find("\"compact_cxr\"") != std::string::npos);
  CHECK(md.find("\"head\":\"softmax\"") != std::string::npos);
  CHECK(lai_model_describe(nullptr, &mj) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_model_describe(m.m, nullptr) == LAI_ERR_INVALID_ARGUMENT);
}

TEST_CASE("capi tasks with options: ProbMat build and WPM") {
  const std::string dir = temp_dir("options_probmat");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 20, 6, 32) == LAI_OK);
  Options b("probmat-build");
  REQUIRE(lai_options_set(b.o, "data", (dir + "/manifest.csv").c_str()) == LAI_OK);
  REQUIRE(lai_options_set(b.o, "label", "normal") == LAI_OK);
  REQUIRE(lai_options_set_int(b.o, "size", 32) == LAI_OK);
  REQUIRE(lai_options_set_int(b.o, "bins", 32) == LAI_OK);
  REQUIRE(lai_options_set_double(b.o, "holdout", 0) == LAI_OK);  // count every normal (no calibration share)
  REQUIRE(lai_options_set_int(b.o, "quiet", 1) == LAI_OK);
  ProbMat pm;
  REQUIRE(lai_probmat_build(b.o, &pm.p) == LAI_OK);
  char* json = nullptr;
  REQUIRE(lai_probmat_describe(pm.p, &json) == LAI_OK);
  const std::string d = take(json);
  CHECK(d.find("\"images\":4") != std::string::npos);  // every 5th phantom is normal
  CHECK(d.find("\"count_bytes\"") != std::string::npos);
  Options bad("probmat-build");
  CHECK(lai_options_set_int(bad.o, "size", 4) == LAI_ERR_INVALID_ARGUMENT);

  Options s("probmat-score");
  REQUIRE(lai_options_set(s.o, "score", "max") == LAI_OK);
  const std::vector<uint8_t> px = phantom(6, 1, 32);
  const lai_image img = {px.data(), LAI_PIXEL_U8, 32, 32, 0};
  std::vector<float> map(32 * 32);
  double score = -1;
  REQUIRE(lai_probmat_wpm_with(pm.p, &img, s.o, map.data(), map.size(), &score) == LAI_OK);
  float mx = 0;
  for (float v : map) mx = std::max(mx, v);
  CHECK(score == Approx(mx));  // "max" is the map's maximum
  CHECK(lai_probmat_wpm_with(pm.p, &img, b.o, map.data(), map.size(), &score) == LAI_ERR_INVALID_ARGUMENT);
}

TEST_CASE("capi distillation: a student taught by a teacher model, through options") {
  const std::string dir = temp_dir("options_distill");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 20, 5, 32) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv", teacher = dir + "/teacher.lai";
  Options t("train");
  REQUIRE(lai_options_set(t.o, "data", manifest.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(t.o, "model", "small_cnn") == LAI_OK);
  REQUIRE(lai_options_set_int(t.o, "size", 16) == LAI_OK);
  REQUIRE(lai_options_set_int(t.o, "epochs", 1) == LAI_OK);
  REQUIRE(lai_options_set_int(t.o, "quiet", 1) == LAI_OK);
  REQUIRE(lai_options_set(t.o, "out", teacher.c_str()) == LAI_OK);
  REQUIRE(lai_train(t.o, nullptr, nullptr) == LAI_OK);

  Options d("distill");
  REQUIRE(lai_options_set(d.o, "data", manifest.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(d.o, "teacher", teacher.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(d.o, "student", "compact_cxr_gap") == LAI_OK);
  REQUIRE(lai_options_set_int(d.o, "size", 16) == LAI_OK);
  REQUIRE(lai_options_set_int(d.o, "epochs", 1) == LAI_OK);
  REQUIRE(lai_options_set_int(d.o, "batch", 5) == LAI_OK);
  REQUIRE(lai_options_set_double(d.o, "temperature", 2.0) == LAI_OK);
  REQUIRE(lai_options_set_int(d.o, "quiet", 1) == LAI_OK);
  Model s;
  char* report = nullptr;
  REQUIRE(lai_distill(d.o, &s.m, &report) == LAI_OK);
  CHECK(take(report).find("\"steps\":4") != std::string::npos);
  char* json = nullptr;
  REQUIRE(lai_model_describe(s.m, &json) == LAI_OK);
  CHECK(take(json).find("compact_cxr_gap") != std::string::npos);
  // A given student: the same task on a handle.
  CHECK(lai_model_distill(s.m, d.o, nullptr) == LAI_ERR_INVALID_ARGUMENT);  // model options (size) make a new model
  Options d2("distill");
  REQUIRE(lai_options_set(d2.o, "data", manifest.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(d2.o, "teacher", teacher.c_str()) == LAI_OK);
  REQUIRE(lai_options_set_int(d2.o, "epochs", 1) == LAI_OK);
  REQUIRE(lai_options_set_int(d2.o, "quiet", 1) == LAI_OK);
  CHECK(lai_model_distill(s.m, d2.o, nullptr) == LAI_OK);
  Options none("distill");
  REQUIRE(lai_options_set(none.o, "data", manifest.c_str()) == LAI_OK);
  Model fails;
  CHECK(lai_distill(none.o, &fails.m, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(fails.m == nullptr);
  CHECK(std::string(lai_last_error()).find("give one teacher") != std::string::npos);
}
