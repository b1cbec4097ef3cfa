// The C API against the C++ API in one program (the C API objects linked statically beside the
// C++ modules): the C functions must give exactly what the C++ functions they translate give.
// Built by tests/capi.tests.cmake as capi_crosscheck (not test_capi_*: those link libliteai.so).
#include <catch2/catch.hpp>

#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "capi_test_util.hpp"
#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/app/explain_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/io/model_file.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/core/random.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/nn/metrics.hpp"

using namespace liteai;
using namespace capi_test;

namespace {
constexpr int S = 40, A = 16;

data::Image to_image(const std::vector<uint8_t>& px, int size) {
  data::Image im(size, size);
  for (size_t i = 0; i < px.size(); ++i) im.pixels[i] = float(px[i]);
  return im;
}
}  // namespace

TEST_CASE("crosscheck: C autoencoder maps and scores equal AutoencoderDetector's") {
  std::vector<std::vector<uint8_t>> px;
  std::vector<data::Image> normals;
  std::vector<lai_image> views;
  for (int i = 0; i < 6; ++i) {
    px.push_back(phantom(4, uint64_t(i) * 5, S));  // every 5th phantom is normal
    normals.push_back(to_image(px.back(), S));
  }
  for (auto& p : px) views.push_back({p.data(), LAI_PIXEL_U8, S, S, 0});

  anomaly::AutoencoderOptions co;
  co.size = A;
  co.width = 4;
  co.epochs = 2;
  co.batch = 4;
  co.progress = 0;
  const anomaly::AutoencoderDetector det = anomaly::AutoencoderDetector::train(normals, co);

  lai_autoencoder_options o;
  lai_autoencoder_options_init(&o);
  o.size = A;
  o.width = 4;
  o.epochs = 2;
  o.batch_size = 4;
  lai_autoencoder* trained = nullptr;
  REQUIRE(lai_autoencoder_train_images(views.data(), views.size(), &o, &trained) == LAI_OK);

  const std::string dir = temp_dir("crosscheck");
  const std::string path = dir + "/ae.lai";
  det.save(path);
  lai_autoencoder* loaded = nullptr;
  REQUIRE(lai_autoencoder_load(path.c_str(), &loaded) == LAI_OK);

  for (uint64_t idx : {1u, 2u, 7u}) {  // foreign body, nodule, foreign body
    const std::vector<uint8_t> img = phantom(4, idx, S);
    const data::Image ref = det.anomaly_map(to_image(img, S));
    REQUIRE(ref.pixels.size() == size_t(A) * A);
    const auto [lo, hi] = std::minmax_element(ref.pixels.begin(), ref.pixels.end());
    CHECK(*hi > *lo + 1e-3f);  // a real map, not a constant
    for (lai_autoencoder* ae : {trained, loaded}) {
      std::vector<float> map(size_t(A) * A);
      double score = 0;
      lai_score_options so;
      lai_score_options_init(&so);
      so.score = LAI_SCORE_PERCENTILE;
      so.percentile = 95;
      REQUIRE(lai_autoencoder_score(ae, img.data(), LAI_PIXEL_U8, S, S, 0, &so, map.data(), map.size(), &score) ==
              LAI_OK);
      CHECK(map == ref.pixels);
      anomaly::ScoreOptions cs;
      cs.method = anomaly::ScoreMethod::Percentile;
      cs.percentile = 95;
      CHECK(score == anomaly::image_score(ref, cs));
    }
  }
  lai_autoencoder_free(trained);
  lai_autoencoder_free(loaded);
}

TEST_CASE("crosscheck: C evaluation reports equal nn::evaluate_*") {
  const int64_t n = 50;
  const int c = 3;
  std::vector<float> scores(size_t(n * c)), targets(size_t(n * c));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  std::vector<int64_t> labels64(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    labels[size_t(i)] = int32_t((i * 7) % c);
    labels64[size_t(i)] = labels[size_t(i)];
    for (int k = 0; k < c; ++k) {
      scores[size_t(i * c + k)] = float((i * 13 + k * 5) % 11) / 11.f + (k == labels[size_t(i)] ? 0.2f : 0.f);
      targets[size_t(i * c + k)] = float((i + k) % 3 == 0);
    }
  }
  const std::vector<std::string> names = {"class0", "class1", "class2"};
  for (bool multi : {false, true}) {
    INFO("multi-label " << multi);
    const nn::ClassificationReport ref =
        multi ? nn::evaluate_multi_label(scores.data(), n, c, targets.data(), 0.4, names)
              : nn::evaluate_single_label(scores.data(), n, c, labels64.data(), names);
    lai_eval_report* r = nullptr;
    REQUIRE(lai_eval_report_from_scores(scores.data(), n, c, multi ? nullptr : labels.data(),
                                        multi ? targets.data() : nullptr, 0.4, &r) == LAI_OK);
    lai_eval_summary s;
    lai_eval_summary_init(&s);
    REQUIRE(lai_eval_report_get_summary(r, &s) == LAI_OK);
    CHECK(s.classes == c);
    CHECK(s.multi_label == int(multi));
    CHECK(s.samples == ref.samples);
    CHECK(s.accuracy == ref.accuracy);
    CHECK(s.exact_match == ref.exact_match);
    CHECK(s.macro_precision == ref.macro_precision);
    CHECK(s.macro_recall == ref.macro_recall);
    CHECK(s.macro_f1 == ref.macro_f1);
    CHECK(s.macro_auroc == ref.macro_auroc);
    CHECK(s.auroc_classes == ref.auroc_classes);
    for (int k = 0; k < c; ++k) {
      lai_class_metrics m;
      lai_class_metrics_init(&m);
      REQUIRE(lai_eval_report_get_class(r, k, &m) == LAI_OK);
      const nn::ClassMetrics& e = ref.classes[size_t(k)];
      CHECK(m.support == e.support);
      CHECK(m.predicted == e.predicted);
      CHECK((m.tp == e.tp && m.fp == e.fp && m.fn == e.fn && m.tn == e.tn));
      CHECK(m.precision == e.precision);
      CHECK(m.recall == e.recall);
      CHECK(m.f1 == e.f1);
      CHECK((m.auroc == e.auroc || (std::isnan(m.auroc) && std::isnan(e.auroc))));
    }
    if (!multi) {
      std::vector<int64_t> conf(size_t(c * c));
      REQUIRE(lai_eval_report_confusion(r, conf.data(), conf.size()) == LAI_OK);
      CHECK(conf == ref.confusion);
    }
    size_t need = 0;
    REQUIRE(lai_eval_report_json(r, nullptr, 0, &need) == LAI_OK);
    std::string json(need, '\0');
    REQUIRE(lai_eval_report_json(r, json.data(), need, nullptr) == LAI_OK);
    CHECK(std::string(json.c_str()) == ref.to_json().dump());
    lai_eval_report_free(r);
  }
}

TEST_CASE("crosscheck: C overlay PNG is the C++ overlay: gray where the map is low, coloured where high") {
  const int W = 48, H = 36;
  std::vector<float> map(size_t(W) * H);
  std::vector<uint8_t> img(size_t(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      map[size_t(y) * W + x] = std::exp(-((x - 30) * (x - 30) + (y - 12) * (y - 12)) / 30.f);
      img[size_t(y) * W + x] = uint8_t((x * 3 + y * 2) % 256);
    }
  const lai_image iv = {img.data(), LAI_PIXEL_U8, W, H, 0};
  const lai_image mv = {map.data(), LAI_PIXEL_F32, W, H, 0};
  const std::string dir = temp_dir("crosscheck_png");
  const std::string c_path = dir + "/c.png", cpp_path = dir + "/cpp.png";
  REQUIRE(lai_write_overlay_png(c_path.c_str(), &iv, &mv, 0.3f, -1.f, 0.7f) == LAI_OK);
  data::Image ci(W, H), cm(W, H);
  for (size_t i = 0; i < img.size(); ++i) {
    ci.pixels[i] = img[i];
    cm.pixels[i] = map[i];
  }
  anomaly::write_overlay_png(cpp_path, ci, cm, 0.3f, -1.f, 0.7f);
  int w = 0, h = 0, ch = 0, w2 = 0, h2 = 0, ch2 = 0;
  unsigned char* a = stbi_load(c_path.c_str(), &w, &h, &ch, 3);
  unsigned char* b = stbi_load(cpp_path.c_str(), &w2, &h2, &ch2, 3);
  REQUIRE(a);
  REQUIRE(b);
  CHECK((w == W && h == H && ch == 3));
  CHECK(std::memcmp(a, b, size_t(W) * H * 3) == 0);
  int gray_low = 0, coloured_high = 0, low = 0, high = 0;
  for (size_t i = 0; i < map.size(); ++i) {
    const unsigned char* p = a + i * 3;
    const bool gray = p[0] == p[1] && p[1] == p[2];
    if (map[i] <= 0.3f) {
      ++low;
      gray_low += gray;
    } else {
      ++high;
      coloured_high += !gray;
    }
  }
  CHECK(high > 20);
  CHECK(gray_low == low);
  CHECK(coloured_high == high);
  stbi_image_free(a);
  stbi_image_free(b);
}

TEST_CASE("crosscheck: C senafas fit and channel equal anomaly::Senafas (maps and ProbMat WPMs)") {
  constexpr int MW = 36, MH = 20;  // partial edge patches
  Generator g(21);
  std::vector<data::Image> maps;
  for (int i = 0; i < 8; ++i) {
    data::Image m(MW, MH);
    for (float& v : m.pixels) v = std::abs(g.normal(1.f, 0.7f));
    maps.push_back(m);
  }
  std::vector<lai_image> views;
  for (auto& m : maps) views.push_back({m.pixels.data(), LAI_PIXEL_F32, MW, MH, 0});
  anomaly::SenafasOptions co;
  co.patch = 8;
  co.max_features = 16;
  co.rows = 3;
  co.cols = 2;
  co.sd_floor = 0.25f;
  co.train.epochs = 6;
  co.train.seed = 5;
  anomaly::Senafas cpp;
  cpp.fit(maps, co);
  lai_senafas_options o;
  lai_senafas_options_init(&o);
  o.patch = 8;
  o.max_features = 16;
  o.rows = 3;
  o.cols = 2;
  o.sd_floor = 0.25f;
  o.epochs = 6;
  o.seed = 5;
  lai_senafas* c = nullptr;
  REQUIRE(lai_senafas_fit(views.data(), views.size(), &o, &c) == LAI_OK);
  data::Image test = maps[3];
  test.at(20, 10) = test.at(21, 10) = test.at(20, 11) = 9.f;
  const data::Image ref = cpp.channel(test);
  REQUIRE((ref.width == 5 && ref.height == 3));
  const lai_image tv{test.pixels.data(), LAI_PIXEL_F32, MW, MH, 0};
  std::vector<float> out(15);
  int32_t w = 0, h = 0;
  double score = 0;
  REQUIRE(lai_senafas_channel(c, &tv, out.data(), out.size(), &w, &h, &score) == LAI_OK);
  CHECK((w == 5 && h == 3));
  CHECK(out == ref.pixels);
  CHECK(score == anomaly::Senafas::image_score(ref));
  CHECK(*std::max_element(out.begin(), out.end()) > 1.f);  // the hot spot shows
  // A C++-written file loads into the C API with the same channel, and the reverse.
  const std::string dir = temp_dir("crosscheck_senafas");
  cpp.save(dir + "/cpp.lsnf");
  REQUIRE(lai_senafas_save(c, (dir + "/c.lsnf").c_str()) == LAI_OK);
  lai_senafas* from_cpp = nullptr;
  REQUIRE(lai_senafas_load((dir + "/cpp.lsnf").c_str(), &from_cpp) == LAI_OK);
  REQUIRE(lai_senafas_channel(from_cpp, &tv, out.data(), out.size(), nullptr, nullptr, nullptr) == LAI_OK);
  CHECK(out == ref.pixels);
  CHECK(anomaly::Senafas::load(dir + "/c.lsnf").channel(test).pixels == ref.pixels);
  lai_senafas_free(from_cpp);
  lai_senafas_free(c);

  // fit_probmat: the WPMs of anomaly::wpm on the same finalized table.
  constexpr int S = 32;
  anomaly::ProbMatConfig pc;
  pc.width = pc.height = S;
  pc.bins = 32;
  anomaly::ProbMat pm(pc);
  lai_probmat_config lc;
  lai_probmat_config_init(&lc, S, S);
  lc.bins = 32;
  lai_probmat* lpm = nullptr;
  REQUIRE(lai_probmat_create(&lc, &lpm) == LAI_OK);
  std::vector<std::vector<uint8_t>> px;
  for (uint64_t i = 0; i < 10; ++i) px.push_back(phantom(12, i, S));
  std::vector<lai_image> fit_views;
  std::vector<data::Image> wpms;
  for (size_t i = 0; i < px.size(); ++i) {
    if (i < 5) {
      pm.add(to_image(px[i], S));
      REQUIRE(lai_probmat_add(lpm, px[i].data(), LAI_PIXEL_U8, S, S, 0) == LAI_OK);
    } else {
      fit_views.push_back({px[i].data(), LAI_PIXEL_U8, S, S, 0});
    }
  }
  const anomaly::ProbTable table = pm.finalize();
  for (size_t i = 5; i < px.size(); ++i) wpms.push_back(anomaly::wpm(table, to_image(px[i], S)));
  co.patch = 4;
  o.patch = 4;
  cpp.fit(wpms, co);
  REQUIRE(lai_senafas_fit_probmat(lpm, fit_views.data(), fit_views.size(), nullptr, &o, &c) == LAI_OK);
  for (const data::Image& m : wpms) {
    const lai_image mv{m.pixels.data(), LAI_PIXEL_F32, S, S, 0};
    std::vector<float> ch(64);
    REQUIRE(lai_senafas_channel(c, &mv, ch.data(), ch.size(), nullptr, nullptr, nullptr) == LAI_OK);
    CHECK(ch == cpp.channel(m).pixels);
  }
  lai_senafas_free(c);
  lai_probmat_free(lpm);
}

TEST_CASE("crosscheck: lai_train with options = `liteai train` with the same arguments, byte for byte") {
  const std::string dir = temp_dir("crosscheck_train");
  REQUIRE(lai_phantom_write_set(dir.c_str(), 24, 3, 32) == LAI_OK);
  const std::string manifest = dir + "/manifest.csv", a = dir + "/c.lai", b = dir + "/cli.lai";
  const std::vector<std::pair<std::string, std::string>> args = {
      {"data", manifest}, {"model", "compact_cxr"}, {"size", "16"}, {"epochs", "2"},  {"batch", "4"},
      {"lr", "0.002"},    {"l2", "0"},              {"seed", "9"},  {"val-split", "0.25"}, {"schedule", "cosine"},
      {"clip", "5"},      {"hflip", "yes"},         {"quiet", "yes"}};
  lai_options* o = nullptr;
  REQUIRE(lai_options_create("train", &o) == LAI_OK);
  for (const auto& [k, v] : args) REQUIRE(lai_options_set(o, k.c_str(), v.c_str()) == LAI_OK);
  REQUIRE(lai_options_set(o, "out", a.c_str()) == LAI_OK);
  REQUIRE(lai_train(o, nullptr, nullptr) == LAI_OK);
  lai_options_free(o);

  std::vector<std::string> argv;
  for (const auto& [k, v] : args) {
    argv.push_back("--" + k);
    if (k != "hflip" && k != "quiet") argv.push_back(v);  // flags take no value on the command line
  }
  argv.push_back("--out");
  argv.push_back(b);
  app::ParsedArgs p = app::parse_args(app::train_options(), argv);
  REQUIRE(p.positional.empty());
  app::train(p.options);
  // The same model: every tensor bit for bit, and the same header but for where each was written
  // and when (provenance options.out and created).
  const io::ModelFile fa = io::load_model_file(a), fb = io::load_model_file(b);
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    CHECK(fa.tensors[i].first == fb.tensors[i].first);
    CHECK(fa.tensors[i].second.to_vector() == fb.tensors[i].second.to_vector());
  }
  auto normalized = [](io::Json h) {
    io::Json* p = h.find("provenance");
    REQUIRE(p != nullptr);
    p->erase("created");
    p->find("options")->erase("out");
    return h.dump();
  };
  CHECK(normalized(fa.header) == normalized(fb.header));
}

TEST_CASE("crosscheck: lai_model_explain = app::explain_image (the map bit for bit, class, probability)") {
  const std::string dir = temp_dir("crosscheck_explain");
  const std::string path = dir + "/m.lai";
  Model c;
  REQUIRE(lai_model_create("compact_cxr", 32, 3, 9, &c.m) == LAI_OK);
  REQUIRE(lai_model_save(c.m, path.c_str()) == LAI_OK);
  auto cpp = app::load_model(path);
  const std::vector<uint8_t> px = phantom(2, 3, S);
  const lai_image img = {px.data(), LAI_PIXEL_U8, S, S, 0};
  for (const char* cls : {"", "class1"}) {
    lai_options* o = nullptr;
    REQUIRE(lai_options_create("explain", &o) == LAI_OK);
    app::Options co(app::task_options("explain"));
    if (*cls) {
      REQUIRE(lai_options_set(o, "class", cls) == LAI_OK);
      co.set("class", cls);
    }
    std::vector<float> map(size_t(S) * S);
    int32_t k = -1;
    float p = -1;
    const lai_status st = lai_model_explain(c.m, &img, o, map.data(), map.size(), &k, &p);
    lai_options_free(o);
    REQUIRE(st == LAI_OK);
    const app::Explanation e = app::explain_image(*cpp, to_image(px, S), co);
    CHECK(k == e.cam.class_index);
    CHECK(p == e.cam.probability);
    CHECK(map == e.map.pixels);
  }
}
