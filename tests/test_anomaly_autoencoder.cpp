// The autoencoder anomaly map on synthetic phantoms: trained on normal images only, it must rank
// foreign-body images above normal ones and foreign-body pixels above the rest.
#include <catch2/catch.hpp>

#include <cstdio>

#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;

namespace {
std::vector<data::Phantom> phantoms(int cls, int n, int size, uint64_t seed) {
  data::PhantomOptions o;
  o.size = size;
  o.classes = {cls};
  std::vector<data::Phantom> v;
  for (int i = 0; i < n; ++i) v.push_back(data::make_phantom(seed, static_cast<uint64_t>(i), o));
  return v;
}
std::vector<data::Image> images_of(const std::vector<data::Phantom>& p) {
  std::vector<data::Image> v;
  for (auto& x : p) v.push_back(x.image);
  return v;
}
}  // namespace

TEST_CASE("autoencoder anomaly maps separate foreign bodies from normal anatomy") {
  const int size = 64;
  auto train = phantoms(0, 96, size, 1);
  anomaly::AutoencoderOptions o;
  o.size = size;
  o.width = 8;
  o.epochs = 12;
  o.batch = 16;
  o.progress = 0;
  auto det = anomaly::AutoencoderDetector::train(images_of(train), o);

  auto normal = phantoms(0, 24, size, 2), fb = phantoms(1, 24, size, 3);
  auto nmaps = det.anomaly_maps(images_of(normal)), fmaps = det.anomaly_maps(images_of(fb));
  REQUIRE(nmaps[0].width == size);
  std::vector<double> scores;
  std::vector<int> labels;
  for (auto& m : nmaps) scores.push_back(anomaly::image_score(m)), labels.push_back(0);
  for (auto& m : fmaps) scores.push_back(anomaly::image_score(m)), labels.push_back(1);
  const double image_auc = anomaly::auroc(scores, labels);
  std::vector<data::Image> masks;
  for (auto& p : fb) masks.push_back(p.mask);
  const double pixel_auc = anomaly::pixel_auroc(fmaps, masks);
  std::printf("autoencoder %dx%d: image AUROC %.3f, pixel AUROC %.3f\n", size, size, image_auc, pixel_auc);
  CHECK(image_auc >= 0.9);
  CHECK(pixel_auc >= 0.9);
}

TEST_CASE("autoencoder detector save/load gives the same maps; wrong models are refused") {
  auto train = phantoms(0, 8, 32, 5);
  anomaly::AutoencoderOptions o;
  o.size = 32;
  o.width = 4;
  o.epochs = 1;
  o.progress = 0;
  auto det = anomaly::AutoencoderDetector::train(images_of(train), o);
  const char* tmp = std::getenv("LITEAI_TEST_TMP");
  std::string path = std::string(tmp ? tmp : "/tmp") + "/ae_roundtrip.lai";
  det.save(path);
  auto back = anomaly::AutoencoderDetector::load(path);
  auto a = det.anomaly_map(train[0].image), b = back.anomaly_map(train[0].image);
  REQUIRE(a.pixels == b.pixels);
  REQUIRE_THROWS_WITH(anomaly::AutoencoderDetector(nn::build_model("small_cnn", 28, 10)), Catch::Contains("autoencoder"));
  REQUIRE_THROWS_WITH(anomaly::AutoencoderDetector::train({}, o), Catch::Contains("no training images"));
}
