// C API 0.3: bf16 inference (lai_model_set_inference_precision) and mixed-precision training
// (lai_model_set_training_precision); 0.4: LAI_PRECISION_BF16_COMPUTE. Through libliteai.so only.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {

std::vector<float> predict(lai_model* m, const std::vector<uint8_t>& img, int size, size_t classes) {
  std::vector<float> out(classes);
  const lai_status s = lai_model_predict(m, img.data(), LAI_PIXEL_U8, size, size, 0, out.data(), out.size());
  INFO(lai_last_error());
  REQUIRE(s == LAI_OK);
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
  return d;
}

}  // namespace

TEST_CASE("capi precision: bf16 inference is close to fp32 but not identical; F32 gives the fp32 bits again") {
  constexpr int S = 64;  // compact_cxr 64: fc1 is 8192 x 256 (2.1M weights)
  constexpr size_t C = 5;
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, int32_t(C), 3, &m.m) == LAI_OK);
  lai_precision p = LAI_PRECISION_BF16;
  REQUIRE(lai_model_get_inference_precision(m.m, &p) == LAI_OK);
  CHECK(p == LAI_PRECISION_F32);

  std::vector<std::vector<uint8_t>> imgs;
  for (uint64_t i = 0; i < 3; ++i) imgs.push_back(phantom(5, i, S));
  std::vector<std::vector<float>> f32, bf16;
  for (const auto& im : imgs) f32.push_back(predict(m.m, im, S, C));

  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_BF16) == LAI_OK);
  REQUIRE(lai_model_get_inference_precision(m.m, &p) == LAI_OK);
  CHECK(p == LAI_PRECISION_BF16);
  bool any_different = false;
  for (size_t i = 0; i < imgs.size(); ++i) {
    bf16.push_back(predict(m.m, imgs[i], S, C));
    const double d = max_abs_diff(bf16[i], f32[i]);
    INFO("image " << i << ": largest probability change " << d);
    CHECK(d < 2e-2);
    any_different = any_different || bf16[i] != f32[i];
    double sum = 0;
    for (float v : bf16[i]) sum += v;
    CHECK(sum == Approx(1.0).margin(1e-5));  // still a softmax
  }
  CHECK(any_different);

  // Setting the same precision again rebuilds the same copy: same bits.
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_BF16) == LAI_OK);
  CHECK(predict(m.m, imgs[0], S, C) == bf16[0]);

  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_F32) == LAI_OK);
  for (size_t i = 0; i < imgs.size(); ++i) CHECK(predict(m.m, imgs[i], S, C) == f32[i]);

  CHECK(lai_model_set_inference_precision(m.m, lai_precision(7)) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("unknown precision 7") != std::string::npos);
  CHECK(lai_model_set_inference_precision(nullptr, LAI_PRECISION_BF16) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(lai_model_get_inference_precision(m.m, nullptr) == LAI_ERR_INVALID_ARGUMENT);
}

TEST_CASE("capi precision: the bf16 copy follows training; changing precision while training is BUSY") {
  constexpr int S = 32;
  constexpr size_t C = 5;
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, int32_t(C), 4, &m.m) == LAI_OK);
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_BF16) == LAI_OK);
  std::vector<std::vector<uint8_t>> px;
  std::vector<int32_t> labels;
  std::vector<lai_image> views;
  for (uint64_t i = 0; i < 4; ++i) {
    int32_t l = 0;
    px.push_back(phantom(6, i, S, &l));
    labels.push_back(l);
  }
  for (auto& p : px) views.push_back({p.data(), LAI_PIXEL_U8, S, S, 0});
  const std::vector<float> before = predict(m.m, px[0], S, C);

  lai_train_options o;
  lai_train_options_init(&o);
  o.learning_rate = 1e-2f;
  lai_trainer* t = nullptr;
  REQUIRE(lai_trainer_create(m.m, &o, &t) == LAI_OK);
  CHECK(lai_model_set_inference_precision(m.m, LAI_PRECISION_F32) == LAI_ERR_BUSY);
  lai_precision p = LAI_PRECISION_F32;
  CHECK(lai_model_get_inference_precision(m.m, &p) == LAI_ERR_BUSY);
  REQUIRE(lai_trainer_step(t, views.data(), views.size(), labels.data(), nullptr, 0, nullptr) == LAI_OK);
  lai_trainer_free(t);

  REQUIRE(lai_model_get_inference_precision(m.m, &p) == LAI_OK);
  CHECK(p == LAI_PRECISION_BF16);  // kept through training
  const std::vector<float> after = predict(m.m, px[0], S, C);
  CHECK(after != before);
  // A fresh copy of the trained weights gives the same bits: the copy was rebuilt after the step.
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_F32) == LAI_OK);
  const std::vector<float> f32 = predict(m.m, px[0], S, C);
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_BF16) == LAI_OK);
  CHECK(predict(m.m, px[0], S, C) == after);
  CHECK(max_abs_diff(after, f32) < 2e-2);

  // lai_model_train runs and validates in fp32 whatever the inference precision: the same losses
  // as a model left at F32; afterwards the handle is back to bf16 inference on the new weights.
  const std::string dir = temp_dir("precision_validation");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 12, 5, S) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv";
  auto train = [&](lai_precision inference, std::vector<float>* probs) {
    Model t;
    REQUIRE(lai_model_create("compact_cxr", S, int32_t(C), 4, &t.m) == LAI_OK);
    REQUIRE(lai_model_set_inference_precision(t.m, inference) == LAI_OK);
    lai_train_options o;
    lai_train_options_init(&o);
    o.batch_size = 4;
    o.validation_fraction = 0.34f;
    lai_train_result r;
    lai_train_result_init(&r);
    const lai_status s = lai_model_train(t.m, manifest.c_str(), &o, &r);
    INFO(lai_last_error());
    REQUIRE(s == LAI_OK);
    lai_precision p = LAI_PRECISION_F32;
    REQUIRE(lai_model_get_inference_precision(t.m, &p) == LAI_OK);
    CHECK(p == inference);
    *probs = predict(t.m, px[0], S, C);
    return std::vector<double>{r.loss, r.val_loss, r.val_metric};
  };
  std::vector<float> p16, p32;
  const std::vector<double> with_bf16 = train(LAI_PRECISION_BF16, &p16), with_f32 = train(LAI_PRECISION_F32, &p32);
  CHECK(with_bf16[1] > 0);
  CHECK(with_bf16 == with_f32);
  CHECK(p16 != p32);  // same trained weights, inferred in bf16 vs fp32
  CHECK(max_abs_diff(p16, p32) < 2e-2);
}

TEST_CASE("capi precision: the training precision reaches the trainer; each setting is deterministic") {
  constexpr int S = 32;
  std::vector<std::vector<uint8_t>> px;
  std::vector<int32_t> labels;
  std::vector<lai_image> views;
  for (uint64_t i = 0; i < 4; ++i) {
    int32_t l = 0;
    px.push_back(phantom(8, i, S, &l));
    labels.push_back(l);
  }
  for (auto& p : px) views.push_back({p.data(), LAI_PIXEL_U8, S, S, 0});

  // Losses of three trainer steps from the same initial weights; precision < 0: the default.
  auto run = [&](int precision) {
    Model m;
    REQUIRE(lai_model_create("compact_cxr", S, 5, 1, &m.m) == LAI_OK);
    lai_precision p = LAI_PRECISION_F32;
    REQUIRE(lai_model_get_training_precision(m.m, &p) == LAI_OK);
    CHECK(p == LAI_PRECISION_BF16);  // the default: mixed precision
    if (precision >= 0) REQUIRE(lai_model_set_training_precision(m.m, lai_precision(precision)) == LAI_OK);
    lai_train_options o;
    lai_train_options_init(&o);
    o.learning_rate = 1e-2f;
    lai_trainer* t = nullptr;
    REQUIRE(lai_trainer_create(m.m, &o, &t) == LAI_OK);
    CHECK(lai_model_set_training_precision(m.m, LAI_PRECISION_F32) == LAI_ERR_BUSY);  // held by the trainer
    std::vector<double> losses;
    for (int k = 0; k < 3; ++k) {
      double loss = 0;
      REQUIRE(lai_trainer_step(t, views.data(), views.size(), labels.data(), nullptr, 0, &loss) == LAI_OK);
      losses.push_back(loss);
    }
    lai_trainer_free(t);
    return losses;
  };
  const std::vector<double> mixed = run(LAI_PRECISION_BF16);
  const std::vector<double> exact = run(LAI_PRECISION_F32);
  INFO("mixed " << mixed[0] << " " << mixed[1] << " " << mixed[2] << ", exact " << exact[0] << " " << exact[1] << " "
                << exact[2]);
  CHECK(run(LAI_PRECISION_BF16) == mixed);
  CHECK(run(LAI_PRECISION_F32) == exact);
  CHECK(run(-1) == mixed);
  // The forward pass is the same; the gradients see bf16-rounded activations, so later steps differ.
  CHECK(mixed[0] == exact[0]);
  CHECK(mixed[2] != exact[2]);
  for (size_t k = 0; k < 3; ++k) CHECK(std::abs(mixed[k] - exact[k]) < 0.05 * std::abs(exact[k]) + 1e-3);

  // lai_model_train too: one epoch of 2 steps on phantom files, per setting twice.
  const std::string dir = temp_dir("precision_train");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 8, 3, S) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv";
  auto train = [&](lai_precision precision) {
    Model m;
    REQUIRE(lai_model_create("compact_cxr", S, 5, 1, &m.m) == LAI_OK);
    REQUIRE(lai_model_set_training_precision(m.m, precision) == LAI_OK);
    lai_train_options o;
    lai_train_options_init(&o);
    o.batch_size = 4;
    o.learning_rate = 1e-2f;
    lai_train_result r;
    lai_train_result_init(&r);
    const lai_status s = lai_model_train(m.m, manifest.c_str(), &o, &r);
    INFO(lai_last_error());
    REQUIRE(s == LAI_OK);
    REQUIRE(r.steps == 2);
    lai_precision after = LAI_PRECISION_F32;
    REQUIRE(lai_model_get_training_precision(m.m, &after) == LAI_OK);
    CHECK(after == precision);
    return r.loss;
  };
  const double a = train(LAI_PRECISION_BF16), b = train(LAI_PRECISION_F32);
  INFO("epoch loss mixed " << a << ", exact " << b);
  CHECK(train(LAI_PRECISION_BF16) == a);
  CHECK(train(LAI_PRECISION_F32) == b);
  CHECK(a != b);
  CHECK(std::abs(a - b) < 0.05 * std::abs(b));

  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, 5, 1, &m.m) == LAI_OK);
  CHECK(lai_model_set_training_precision(m.m, lai_precision(3)) == LAI_ERR_INVALID_ARGUMENT);
  CHECK(std::string(lai_last_error()).find("unknown precision 3") != std::string::npos);
}

TEST_CASE("capi precision 0.4: BF16_COMPUTE multiplies in bf16 for inference and training; deterministic") {
  constexpr int S = 64;
  constexpr size_t C = 5;
  Model m;
  REQUIRE(lai_model_create("compact_cxr", S, int32_t(C), 3, &m.m) == LAI_OK);
  const std::vector<uint8_t> img = phantom(5, 1, S);
  const std::vector<float> f32 = predict(m.m, img, S, C);
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_BF16) == LAI_OK);
  const std::vector<float> storage = predict(m.m, img, S, C);
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_BF16_COMPUTE) == LAI_OK);
  lai_precision p = LAI_PRECISION_F32;
  REQUIRE(lai_model_get_inference_precision(m.m, &p) == LAI_OK);
  CHECK(p == LAI_PRECISION_BF16_COMPUTE);
  const std::vector<float> compute = predict(m.m, img, S, C);
  INFO("largest probability change: bf16 storage " << max_abs_diff(storage, f32) << ", bf16 compute "
                                                   << max_abs_diff(compute, f32));
  CHECK(compute != storage);  // the conv products are bf16 too
  CHECK(max_abs_diff(compute, f32) < 2e-2);
  CHECK(predict(m.m, img, S, C) == compute);
  REQUIRE(lai_model_set_inference_precision(m.m, LAI_PRECISION_F32) == LAI_OK);
  CHECK(predict(m.m, img, S, C) == f32);

  // Training: three trainer steps, twice, against fp32 products.
  constexpr int T = 32;
  std::vector<std::vector<uint8_t>> px;
  std::vector<int32_t> labels;
  std::vector<lai_image> views;
  for (uint64_t i = 0; i < 4; ++i) {
    int32_t l = 0;
    px.push_back(phantom(8, i, T, &l));
    labels.push_back(l);
  }
  for (auto& q : px) views.push_back({q.data(), LAI_PIXEL_U8, T, T, 0});
  auto run = [&](lai_precision precision) {
    Model t;
    REQUIRE(lai_model_create("compact_cxr", T, 5, 1, &t.m) == LAI_OK);
    REQUIRE(lai_model_set_training_precision(t.m, precision) == LAI_OK);
    lai_precision got = LAI_PRECISION_F32;
    REQUIRE(lai_model_get_training_precision(t.m, &got) == LAI_OK);
    CHECK(got == precision);
    lai_train_options o;
    lai_train_options_init(&o);
    o.learning_rate = 1e-2f;
    lai_trainer* tr = nullptr;
    REQUIRE(lai_trainer_create(t.m, &o, &tr) == LAI_OK);
    std::vector<double> losses;
    for (int k = 0; k < 3; ++k) {
      double loss = 0;
      REQUIRE(lai_trainer_step(tr, views.data(), views.size(), labels.data(), nullptr, 0, &loss) == LAI_OK);
      losses.push_back(loss);
    }
    lai_trainer_free(tr);
    return losses;
  };
  const std::vector<double> bf16 = run(LAI_PRECISION_BF16_COMPUTE), mixed = run(LAI_PRECISION_BF16);
  INFO("bf16 compute " << bf16[0] << " " << bf16[2] << ", bf16 storage " << mixed[0] << " " << mixed[2]);
  CHECK(run(LAI_PRECISION_BF16_COMPUTE) == bf16);
  CHECK(bf16[0] != mixed[0]);  // the forward pass already multiplies in bf16
  for (size_t k = 0; k < 3; ++k) CHECK(std::abs(bf16[k] - mixed[k]) < 0.05 * std::abs(mixed[k]) + 1e-3);
}
