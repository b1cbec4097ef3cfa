// C API: models through libliteai.so (create, info, predict on every pixel type and stride,
// batch = singles, save/load round trip, train with progress, cancel, BUSY, evaluate, errors).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {
constexpr int S = 32;

std::vector<float> predict_u8(lai_model* m, const std::vector<uint8_t>& px, int w, int h) {
  std::vector<float> out(5, -1.f);
  REQUIRE(lai_model_predict(m, px.data(), LAI_PIXEL_U8, w, h, 0, out.data(), out.size()) == LAI_OK);
  return out;
}
}  // namespace

TEST_CASE("capi: version macros match the library") {
  int32_t a = -1, b = -1, c = -1;
  const char* v = lai_version(&a, &b, &c);
  CHECK(a == LAI_VERSION_MAJOR);
  CHECK(b == LAI_VERSION_MINOR);
  CHECK(c == LAI_VERSION_PATCH);
  CHECK(std::string(v) == std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c));
  CHECK(std::string(lai_status_string(LAI_ERR_BUSY)) == "LAI_ERR_BUSY");
  CHECK(std::string(lai_status_string(lai_status(12345))) == "unknown status");
}

TEST_CASE("capi: model info, class names, architecture") {
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 5, 3, &m.m) == LAI_OK);
  lai_model_info info;
  lai_model_info_init(&info);
  REQUIRE(lai_model_get_info(m.m, &info) == LAI_OK);
  CHECK(info.input_width == S);
  CHECK(info.input_height == S);
  CHECK(info.channels == 1);
  CHECK(info.classes == 5);
  CHECK(info.output_size == 5);
  CHECK(info.multi_label == 0);
  CHECK(info.standardize == 1);
  // SPEC formula: 158,848 + (size/8)^2 * 32,768 + 257 * classes.
  CHECK(info.parameters == 158848 + (S / 8) * (S / 8) * 32768 + 257 * 5);

  size_t need = 0;
  REQUIRE(lai_model_architecture(m.m, nullptr, 0, &need) == LAI_OK);
  std::vector<char> arch(need);
  REQUIRE(lai_model_architecture(m.m, arch.data(), arch.size(), nullptr) == LAI_OK);
  CHECK(std::string(arch.data()).find("compact_cxr") != std::string::npos);
  char small[4];
  CHECK(lai_model_architecture(m.m, small, sizeof small, &need) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("too small") != std::string::npos);

  const char* names[] = {"a", "b", "c", "d", "e"};
  REQUIRE(lai_model_set_class_names(m.m, names, 5) == LAI_OK);
  char buf[16];
  REQUIRE(lai_model_class_name(m.m, 4, buf, sizeof buf, nullptr) == LAI_OK);
  CHECK(std::string(buf) == "e");
  CHECK(lai_model_class_name(m.m, 5, buf, sizeof buf, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_model_set_class_names(m.m, names, 4) == LAI_ERR_INVALID_ARGUMENT);

  // A struct from an "older" caller (only struct_size + input_width) is filled that far only.
  struct Old {
    size_t struct_size;
    int32_t input_width;
    int32_t canary;
  } old{offsetof(Old, canary), 0, 777};
  REQUIRE(lai_model_get_info(m.m, reinterpret_cast<lai_model_info*>(&old)) == LAI_OK);
  CHECK(old.input_width == S);
  CHECK(old.canary == 777);

  // JSON architecture with a sigmoid head: probabilities independent per class.
  Model j;
  REQUIRE(lai_model_create("{\"name\": \"compact_cxr\", \"size\": 16, \"classes\": 3, \"head\": \"sigmoid\"}", 0, 0, 1,
                           &j.m) == LAI_OK);
  REQUIRE(lai_model_get_info(j.m, &info) == LAI_OK);
  CHECK(info.multi_label == 1);
  CHECK(info.classes == 3);
  lai_model* none = reinterpret_cast<lai_model*>(0x1);
  CHECK(lai_model_create("no_such_net", S, 5, 1, &none) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(none == nullptr);  // *out is cleared on failure
}

TEST_CASE("capi: predict agrees across pixel types, strides, batch and files") {
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 5, 11, &m.m) == LAI_OK);
  const int W = 48, H = 40;  // not the model size: resized by the library
  std::vector<uint8_t> u8(size_t(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) u8[size_t(y) * W + x] = uint8_t((x * 5 + y * 3 + (x * y) % 17) % 256);
  const std::vector<float> ref = predict_u8(m.m, u8, W, H);
  float sum = 0;
  for (float p : ref) {
    CHECK(p > 0.f);
    sum += p;
  }
  CHECK(sum == Approx(1.f).epsilon(1e-5));

  // uint16 (x 257) and float32 carry the same image up to scale: standardization removes scale.
  std::vector<uint16_t> u16(u8.size());
  std::vector<float> f32(u8.size());
  for (size_t i = 0; i < u8.size(); ++i) {
    u16[i] = uint16_t(u8[i] * 257);
    f32[i] = u8[i] / 255.f;
  }
  std::vector<float> o16(5), o32(5);
  REQUIRE(lai_model_predict(m.m, u16.data(), LAI_PIXEL_U16, W, H, 0, o16.data(), 5) == LAI_OK);
  REQUIRE(lai_model_predict(m.m, f32.data(), LAI_PIXEL_F32, W, H, 0, o32.data(), 5) == LAI_OK);
  for (int k = 0; k < 5; ++k) {
    CHECK(o16[k] == Approx(ref[k]).margin(1e-5));
    CHECK(o32[k] == Approx(ref[k]).margin(1e-5));
  }

  // Padded rows (stride > width) read the same pixels.
  const size_t stride = W + 13;
  std::vector<uint8_t> padded(stride * H, 0xAB);
  for (int y = 0; y < H; ++y) std::memcpy(padded.data() + y * stride, u8.data() + size_t(y) * W, W);
  std::vector<float> op(5);
  REQUIRE(lai_model_predict(m.m, padded.data(), LAI_PIXEL_U8, W, H, stride, op.data(), 5) == LAI_OK);
  for (int k = 0; k < 5; ++k) CHECK(op[k] == Approx(ref[k]).margin(1e-6));

  // A batch of mixed images equals the single predictions, row by row.
  std::vector<uint8_t> ph = phantom(5, 2, S);
  lai_image imgs[3] = {{u8.data(), LAI_PIXEL_U8, W, H, 0},
                       {ph.data(), LAI_PIXEL_U8, S, S, 0},
                       {u16.data(), LAI_PIXEL_U16, W, H, 0}};
  std::vector<float> ob(15);
  REQUIRE(lai_model_predict_batch(m.m, imgs, 3, ob.data(), ob.size()) == LAI_OK);
  const std::vector<float> oph = predict_u8(m.m, ph, S, S);
  for (int k = 0; k < 5; ++k) {
    CHECK(ob[k] == Approx(ref[k]).margin(1e-5));
    CHECK(ob[5 + k] == Approx(oph[k]).margin(1e-5));
    CHECK(ob[10 + k] == Approx(ref[k]).margin(1e-5));
  }
  CHECK(lai_model_predict_batch(m.m, imgs, 3, ob.data(), 14) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("15 needed") != std::string::npos);
  imgs[1].width = 0;
  CHECK(lai_model_predict_batch(m.m, imgs, 3, ob.data(), 15) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("images[1]") != std::string::npos);

  // From a PNG written by the phantom generator: the same pixels as the rendered buffer.
  const std::string dir = temp_dir("predict_file");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 1, 5, S) == LAI_OK);
  const std::vector<uint8_t> p0 = phantom(5, 0, S);
  const std::vector<float> o0 = predict_u8(m.m, p0, S, S);
  std::vector<float> of(5);
  REQUIRE(lai_model_predict_file(m.m, (dir + "/images/000000.png").c_str(), of.data(), 5) == LAI_OK);
  for (int k = 0; k < 5; ++k) CHECK(of[k] == Approx(o0[k]).margin(1e-6));
  CHECK(lai_model_predict_file(m.m, (dir + "/nope.png").c_str(), of.data(), 5) == LAI_ERR_IO);
  CHECK(lai_model_predict_file(m.m, (dir + "/manifest.csv").c_str(), of.data(), 5) == LAI_ERR_FORMAT);
}

TEST_CASE("capi: save and load round trip, file errors") {
  const std::string dir = temp_dir("save_load");
  const std::string path = dir + "/m.lai";
  Model a;
  REQUIRE(lai_model_create("compact_cxr", S, 5, 21, &a.m) == LAI_OK);
  const char* names[] = {"n0", "n1", "n2", "n3", "n4"};
  REQUIRE(lai_model_set_class_names(a.m, names, 5) == LAI_OK);
  REQUIRE(lai_model_save(a.m, path.c_str()) == LAI_OK);
  Model b;
  REQUIRE(lai_model_load(path.c_str(), &b.m) == LAI_OK);
  const std::vector<uint8_t> px = phantom(1, 1, S);
  const std::vector<float> pa = predict_u8(a.m, px, S, S), pb = predict_u8(b.m, px, S, S);
  for (int k = 0; k < 5; ++k) CHECK(pa[k] == pb[k]);  // same weights, same bits
  char buf[8];
  REQUIRE(lai_model_class_name(b.m, 2, buf, sizeof buf, nullptr) == LAI_OK);
  CHECK(std::string(buf) == "n2");

  // From memory.
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  Model c;
  REQUIRE(lai_model_load_memory(bytes.data(), bytes.size(), &c.m) == LAI_OK);
  // Truncated / flipped bytes: FORMAT, never a crash, no handle.
  lai_model* bad = reinterpret_cast<lai_model*>(0x1);
  CHECK(lai_model_load_memory(bytes.data(), bytes.size() / 2, &bad) == LAI_ERR_FORMAT);
  CHECK(bad == nullptr);
  std::vector<char> flipped = bytes;
  flipped[flipped.size() - 7] ^= 0x40;
  CHECK(lai_model_load_memory(flipped.data(), flipped.size(), &bad) == LAI_ERR_FORMAT);
  CHECK(std::string(lai_last_error()).size() > 10);

  CHECK(lai_model_load((dir + "/missing.lai").c_str(), &bad) == LAI_ERR_IO);
  CHECK(std::string(lai_last_error()).find("missing.lai") != std::string::npos);
  CHECK(lai_model_save(a.m, (dir + "/no/such/dir/m.lai").c_str()) == LAI_ERR_IO);
}

namespace {
struct Calls {
  int train = 0, epoch = 0;
  int64_t last_step = 0;
  bool finite = true;
  lai_model* model = nullptr;
  lai_status predict_during = LAI_OK, train_during = LAI_OK;
  int cancel_at = -1;
};
int record(const lai_progress* p, void* user) {
  auto* c = static_cast<Calls*>(user);
  if (p->phase == LAI_PHASE_TRAIN) {
    ++c->train;
    c->last_step = p->step;
  } else if (p->phase == LAI_PHASE_EPOCH) {
    ++c->epoch;
  }
  c->finite = c->finite && std::isfinite(p->loss) && p->images_per_second > 0;
  if (c->model && c->train == 1) {
    // Calls on a training model from the callback: BUSY, never a deadlock or a race.
    std::vector<uint8_t> px(16 * 16, 7);
    float out[5];
    c->predict_during = lai_model_predict(c->model, px.data(), LAI_PIXEL_U8, 16, 16, 0, out, 5);
    c->train_during = lai_model_train(c->model, "/nonexistent", nullptr, nullptr);
  }
  return c->cancel_at > 0 && c->train >= c->cancel_at;
}
}  // namespace

TEST_CASE("capi: train from a manifest with progress, BUSY, cancel, evaluate") {
  const std::string dir = temp_dir("train");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 12, 3, S) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv";
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 5, 1, &m.m) == LAI_OK);

  lai_train_options o;
  lai_train_options_init(&o);
  o.batch_size = 4;
  o.epochs = 2;
  Calls calls;
  calls.model = m.m;
  o.progress = record;
  o.user_data = &calls;
  lai_train_result r;
  lai_train_result_init(&r);
  REQUIRE(lai_model_train(m.m, manifest.c_str(), &o, &r) == LAI_OK);
  CHECK(r.epochs_done == 2);
  CHECK(r.steps == 6);
  CHECK(calls.train == 6);
  CHECK(calls.epoch == 2);
  CHECK(calls.last_step == 3);
  CHECK(calls.finite);
  CHECK(r.cancelled == 0);
  CHECK(std::isfinite(r.loss));
  CHECK(calls.predict_during == LAI_ERR_BUSY);
  CHECK(calls.train_during == LAI_ERR_BUSY);
  // Class names came from the manifest (sorted).
  char buf[32];
  REQUIRE(lai_model_class_name(m.m, 0, buf, sizeof buf, nullptr) == LAI_OK);
  CHECK(std::string(buf) == "effusion");
  // Inference works again after training.
  CHECK(predict_u8(m.m, phantom(3, 0, S), S, S).size() == 5);

  // Cancel at the second step: CANCELLED, result says so, the handle stays usable.
  Calls c2;
  c2.cancel_at = 2;
  o.progress = record;
  o.user_data = &c2;
  o.epochs = 3;
  lai_train_result_init(&r);
  CHECK(lai_model_train(m.m, manifest.c_str(), &o, &r) == LAI_ERR_CANCELLED);
  CHECK(std::string(lai_last_error()).find("cancel") != std::string::npos);
  CHECK(r.cancelled == 1);
  CHECK(r.steps == 2);
  CHECK(c2.train == 2);
  CHECK(predict_u8(m.m, phantom(3, 0, S), S, S).size() == 5);

  lai_eval_result e;
  lai_eval_result_init(&e);
  REQUIRE(lai_model_evaluate(m.m, manifest.c_str(), nullptr, &e) == LAI_OK);
  CHECK(e.samples == 12);
  CHECK(std::isfinite(e.loss));
  CHECK(e.metric >= 0.0);
  CHECK(e.metric <= 1.0);

  // A data set whose class count differs from the model's.
  Model three;
  REQUIRE(lai_model_create("compact_cxr", S, 3, 1, &three.m) == LAI_OK);
  CHECK(lai_model_train(three.m, manifest.c_str(), nullptr, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("5 classes") != std::string::npos);
  CHECK(lai_model_train(m.m, (dir + "/none.csv").c_str(), nullptr, nullptr) == LAI_ERR_IO);
  // Options with a zeroed struct_size are refused with a hint.
  lai_train_options z;
  std::memset(&z, 0, sizeof z);
  CHECK(lai_model_train(m.m, manifest.c_str(), &z, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("_init") != std::string::npos);
}

TEST_CASE("capi: step-by-step trainer on caller buffers lowers the loss and holds the model") {
  Model m;
  const int T = 16;  // small: this test trains, and runs under ASan too
  REQUIRE(lai_model_create("compact_cxr", T, 2, 4, &m.m) == LAI_OK);
  // Two easy classes: dark and bright images (with a gradient so standardization keeps a signal).
  std::vector<std::vector<uint8_t>> px;
  std::vector<lai_image> views;
  std::vector<int32_t> labels;
  for (int i = 0; i < 4; ++i) {
    std::vector<uint8_t> im(size_t(T) * T);
    for (int y = 0; y < T; ++y)
      for (int x = 0; x < T; ++x) im[size_t(y) * T + x] = uint8_t(i % 2 ? (x < T / 2 ? 250 : 10) : (y < T / 2 ? 250 : 10));
    px.push_back(im);
    labels.push_back(i % 2);
  }
  for (auto& p : px) views.push_back({p.data(), LAI_PIXEL_U8, T, T, 0});
  lai_train_options o;
  lai_train_options_init(&o);
  o.learning_rate = 3e-3f;
  lai_trainer* t = nullptr;
  REQUIRE(lai_trainer_create(m.m, &o, &t) == LAI_OK);
  lai_trainer* second = nullptr;
  CHECK(lai_trainer_create(m.m, &o, &second) == LAI_ERR_BUSY);
  float out[2];
  CHECK(lai_model_predict(m.m, px[0].data(), LAI_PIXEL_U8, T, T, 0, out, 2) == LAI_ERR_BUSY);
  double first = 0, last = 0;
  for (int step = 0; step < 8; ++step) {
    double loss = 0;
    REQUIRE(lai_trainer_step(t, views.data(), views.size(), labels.data(), nullptr, 0, &loss) == LAI_OK);
    if (step == 0) first = loss;
    last = loss;
  }
  CHECK(last < first);
  labels[3] = 7;
  CHECK(lai_trainer_step(t, views.data(), views.size(), labels.data(), nullptr, 0, nullptr) ==
        LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("labels[3]") != std::string::npos);
  CHECK(lai_trainer_step(t, views.data(), views.size(), nullptr, nullptr, 0, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_trainer_step(nullptr, views.data(), 1, labels.data(), nullptr, 0, nullptr) == LAI_ERR_INVALID_ARGUMENT);
  lai_trainer_free(t);
  lai_trainer_free(nullptr);
  // The model is usable again, and it learned the two classes.
  REQUIRE(lai_model_predict(m.m, px[1].data(), LAI_PIXEL_U8, T, T, 0, out, 2) == LAI_OK);
  CHECK(out[1] > out[0]);
  REQUIRE(lai_model_predict(m.m, px[0].data(), LAI_PIXEL_U8, T, T, 0, out, 2) == LAI_OK);
  CHECK(out[0] > out[1]);

  // Multi-label (sigmoid) models take targets.
  Model ml;
  REQUIRE(lai_model_create("{\"name\": \"compact_cxr\", \"size\": 16, \"classes\": 3, \"head\": \"sigmoid\"}", 0, 0, 1,
                           &ml.m) == LAI_OK);
  REQUIRE(lai_trainer_create(ml.m, nullptr, &t) == LAI_OK);
  std::vector<float> targets(4 * 3, 0.f);
  for (int i = 0; i < 4; ++i) targets[size_t(i) * 3 + size_t(i % 3)] = 1.f;
  double loss = 0;
  CHECK(lai_trainer_step(t, views.data(), 4, nullptr, targets.data(), targets.size() - 1, &loss) ==
        LAI_ERR_INVALID_ARGUMENT);
  REQUIRE(lai_trainer_step(t, views.data(), 4, nullptr, targets.data(), targets.size(), &loss) == LAI_OK);
  CHECK(std::isfinite(loss));
  lai_trainer_free(t);
}

TEST_CASE("capi: architecture keys are honoured or refused, never ignored") {
  Model m;
  CHECK(lai_model_create("{\"name\": \"compact_cxr\", \"size\": 16, \"bogus\": 1}", 0, 3, 1, &m.m) ==
        LAI_ERR_INVALID_ARGUMENT);
  CHECK(m.m == nullptr);
  CHECK(std::string(lai_last_error()).find("no parameter 'bogus'") != std::string::npos);
  REQUIRE(lai_model_create("{\"name\": \"compact_cxr\", \"size\": 16, \"standardize\": false}", 0, 3, 1, &m.m) ==
          LAI_OK);
  lai_model_info info;
  lai_model_info_init(&info);
  REQUIRE(lai_model_get_info(m.m, &info) == LAI_OK);
  CHECK(info.standardize == 0);
  Model n;
  CHECK(lai_model_create("{\"name\": \"small_cnn\", \"l2\": 0.1}", 0, 3, 1, &n.m) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_model_create("{\"name\": \"small_cnn\", \"standardize\": \"maybe\"}", 0, 3, 1, &n.m) ==
        LAI_ERR_INVALID_ARGUMENT);
}
