// Calibration on normal images (calibration.hpp): the tail rule, thresholds named by false
// positives per image, assessments, and the calibration in .lpm and autoencoder files (older
// files still load).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>

#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/anomaly/calibration.hpp"
#include "liteai/core/random.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/nn/model_io.hpp"
#include "legacy_anomaly_files.hpp"

using namespace liteai;
using namespace liteai::anomaly;

namespace {
std::string tmp(const std::string& name) {
  const char* d = std::getenv("LITEAI_TEST_TMP");
  return std::string(d ? d : "/tmp") + "/calibration_" + name;
}
data::Image noise_map(int size, uint64_t seed) {
  data::Image m(size, size);
  Generator g(seed);
  for (float& v : m.pixels) v = std::abs(g.normal(0.f, 0.3f));
  return m;
}
void add_disc(data::Image& m, float cx, float cy, float r, float height) {
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x)
      if (std::hypot(x - cx, y - cy) <= r) m.at(x, y) += height;
}
std::vector<double> count_down(int from) {
  std::vector<double> v;
  for (int i = from; i >= 1; --i) v.push_back(i);
  return v;
}
}  // namespace

TEST_CASE("calibration: exceedance is the conformal share, with an exponential tail beyond every normal") {
  const NormalTail t({3, 1, 5, 2, 4}, 5);
  CHECK(t.values() == std::vector<double>({5, 4, 3, 2, 1}));
  CHECK(t.exceedance(0) == Approx(1.0));
  CHECK(t.exceedance(3) == Approx(4.0 / 6));   // (1 + #{v >= 3}) / (n + 1)
  CHECK(t.exceedance(3.5) == Approx(3.0 / 6));
  CHECK(t.exceedance(5) == Approx(2.0 / 6));
  // Above every normal: 1/(n+1) x exp(-(s - 5) / beta), beta = mean excess over the 5th = 2.5.
  CHECK(t.tail_scale() == Approx(2.5));
  CHECK(t.exceedance(6) == Approx(std::exp(-0.4) / 6));
  // No saturation: ever rarer, never zero.
  double last = t.exceedance(5.0001);
  for (double s = 6; s <= 60; s += 6) {
    const double e = t.exceedance(s);
    CHECK(e < last);
    CHECK(e > 0);
    last = e;
  }
  // Few values: a cautious decay scale (|largest value|).
  CHECK(NormalTail({2.0}, 10).tail_scale() == Approx(2.0));
  CHECK(NormalTail({}, 10).exceedance(1e9) == Approx(1.0 / 11));
  CHECK_THROWS_WITH(NormalTail({1, NAN}, 2), Catch::Contains("not finite"));
  CHECK_THROWS_WITH(NormalTail({1}, 0), Catch::Contains("at least one"));
}

TEST_CASE("calibration: thresholds keep the false-positive rate per image below the named one at the level") {
  const NormalTail t(count_down(100), 60);  // 100 circle scores on 60 normal images
  // Poisson(0.125 x 60 = 7.5): P(<= 3) = 0.059 <= 0.1 < P(<= 4) = 0.132, so 3 may exceed.
  CHECK(t.threshold(0.125, 0.9) == 97);
  // Level 0.5 is about the plain estimate: P(<= 6) = 0.378 <= 0.5 < P(<= 7) = 0.525.
  CHECK(t.threshold(0.125, 0.5) == 94);
  CHECK(t.supported(0.125, 0.9));
  // 10 images cannot support 0.125 at 90% (e^-1.25 = 0.29 > 0.1): the largest normal value.
  const NormalTail few(count_down(5), 10);
  CHECK_FALSE(few.supported(0.125, 0.9));
  CHECK(few.threshold(0.125, 0.9) == 5);
  // Fewer values than may exceed: every score passes.
  CHECK(NormalTail({3.0}, 60).threshold(1, 0.9) == -INFINITY);
  CHECK_THROWS_WITH(t.threshold(0, 0.9), Catch::Contains("rate"));
  CHECK_THROWS_WITH(t.threshold(0.125, 1.0), Catch::Contains("level"));
}

TEST_CASE("calibration: held-back shares are spread evenly and never take everything") {
  CHECK(holdout_indices(10, 0.2) == std::vector<size_t>({4, 9}));
  CHECK(holdout_indices(10, 0.0).empty());
  CHECK(holdout_indices(1, 0.5).empty());
  CHECK(holdout_indices(3, 0.1) == std::vector<size_t>({1}));
  CHECK(holdout_indices(2, 0.99).size() == 1);
  CHECK(complement_indices(6, {1, 4}) == std::vector<size_t>({0, 2, 3, 5}));
  CHECK_THROWS(holdout_indices(10, 1.0));
}

TEST_CASE("calibration: assessments give p-values, flags and circles with confidence") {
  Calibrator cal;
  for (uint64_t i = 0; i < 40; ++i) cal.add(noise_map(96, i));
  const Calibration c = cal.finish();
  REQUIRE(c.images() == 40);
  REQUIRE(int64_t(c.image.values().size()) == 40);

  data::Image fb = noise_map(96, 1000);
  add_disc(fb, 40, 50, 4, 5.f);
  const Assessment a = assess(fb, c);
  CHECK(a.flagged);
  CHECK(a.p_value < 1.0 / 41);  // above every normal: in the extrapolated tail
  REQUIRE(!a.circles.empty());
  CHECK(std::hypot(a.circles[0].x - 40, a.circles[0].y - 50) <= 1.5);
  CHECK(a.circles[0].confidence > 0.97);
  CHECK(c.circle_fp_rate(a.circles[0].score) > 0);  // rare, never impossible
  for (const Detection& d : a.circles) CHECK(d.score > a.circle_threshold);

  int flagged = 0;
  size_t circles = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    const Assessment n = assess(noise_map(96, 2000 + i), c);
    flagged += n.flagged;
    circles += n.circles.size();
    CHECK(n.p_value > 0);
    CHECK(n.p_value <= 1);
  }
  CHECK(flagged <= 10);
  CHECK(circles <= 10);

  // Uncalibrated: raw score and all circles, nothing else.
  const Assessment u = assess(fb, Calibration());
  CHECK(u.score == Approx(a.score));
  CHECK(std::isnan(u.p_value));
  CHECK_FALSE(u.flagged);
  CHECK(std::isnan(u.circles.at(0).confidence));
  CHECK_THROWS_WITH(Calibrator().finish(), Catch::Contains("no normal maps"));
}

TEST_CASE("calibration: JSON round trip keeps every setting and score") {
  ProbMatCalibration p;
  p.finalize.rule = Bandwidth::Scott;
  p.finalize.floor = 1e-4f;
  p.wpm.side = WpmSide::Brighter;
  p.wpm.smooth_sigma = 1.5f;
  p.scores.score.method = ScoreMethod::TopKMean;
  p.scores.score.top_fraction = 0.01;
  p.scores.detect = wpm_detect_options();
  p.scores.detect.max_detections = 9;
  p.scores.image = NormalTail({0.25, 1.0 / 3}, 2);
  p.scores.circles = NormalTail({7, 3, 1e-7}, 2);
  const ProbMatCalibration q = ProbMatCalibration::from_json(io::Json::parse(p.to_json().dump()), "test");
  CHECK(q.finalize == p.finalize);
  CHECK(q.wpm == p.wpm);
  CHECK(q.scores.score == p.scores.score);
  CHECK(q.scores.detect == p.scores.detect);
  CHECK(q.scores.image.values() == p.scores.image.values());
  CHECK(q.scores.circles.values() == p.scores.circles.values());
  CHECK(q.scores.circles.images() == 2);
  io::Json broken = p.to_json();
  broken["scores"]["image"].set("images", io::Json(5));  // 2 scores for 5 images
  broken["scores"]["circles"].set("images", io::Json(5));
  CHECK_THROWS_WITH(ProbMatCalibration::from_json(broken, "test"), Catch::Contains("image scores for"));
}

TEST_CASE("calibration: .lpm files carry it; files of liteai 0.3 (versions 1 and 2) still load") {
  ProbMatConfig c{32, 32, 32, 16, 1, 0, 0.f, 255.f};
  ProbMat pm(c);
  data::PhantomOptions po;
  po.size = 32;
  po.classes = {0};
  std::vector<data::Image> normals;
  for (uint64_t i = 0; i < 24; ++i) normals.push_back(data::make_phantom(3, i, po).image);
  for (size_t i = 0; i < 16; ++i) pm.add(normals[i]);
  const std::vector<data::Image> held(normals.begin() + 16, normals.end());
  const ProbMatCalibration cal = calibrate_probmat(pm, held);
  REQUIRE(cal.scores.images() == 8);
  CHECK(cal.scores.detect.source == CircleSource::Hough);  // the WPM defaults

  const std::string v2 = tmp("v2.lpm");
  pm.save(v2, &cal);
  ProbMatCalibration back;
  const ProbMat loaded = ProbMat::load(v2, &back);
  CHECK(loaded.images() == 16);
  CHECK(back.to_json() == cal.to_json());
  CHECK(ProbMat::load(v2).count(5, 3) == pm.count(5, 3));  // calibration not asked for
  pm.save(v2);                                              // none
  ProbMat::load(v2, &back);
  CHECK(back.empty());

  // A version 1 file, written by hand in the documented layout.
  test::LegacyWriter h, p;
  for (int v : {c.width, c.height, c.bins, c.count_bits, c.scale, c.tolerance}) h.i32(v);
  h.f32(c.lo);
  h.f32(c.hi);
  h.u64(pm.images());
  h.i32(c.grid_width());
  h.i32(c.grid_height());
  for (int64_t cell = 0; cell < c.cells(); ++cell)
    for (int b = 0; b < c.bins; ++b) p.u16(uint16_t(pm.count(cell, b)));
  for (int64_t cell = 0; cell < c.cells(); ++cell) p.u8(uint8_t(pm.shift(cell)));
  const char magic[8] = {'L', 'A', 'I', 'P', 'M', 'A', 'T', '\0'};
  const std::string v1 = tmp("v1.lpm");
  test::write_bytes(v1, test::legacy_file(magic, 1, h.buffer(), p.buffer()));
  back = cal;
  const ProbMat old = ProbMat::load(v1, &back);
  CHECK(back.empty());
  CHECK(old.images() == pm.images());
  for (int64_t cell = 0; cell < c.cells(); cell += 37)
    for (int b = 0; b < c.bins; ++b) CHECK(old.count(cell, b) == pm.count(cell, b));

  // A version 1 header claiming more bytes, and damaged calibration text, are format errors.
  h.u64(0);
  test::write_bytes(v1, test::legacy_file(magic, 1, h.buffer(), p.buffer()));
  try {
    ProbMat::load(v1);
    FAIL("expected a format error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::format);
    CHECK(std::string(e.what()).find("unexpected bytes") != std::string::npos);
  }
  const std::string text = "{\"finalize\": 1}";
  test::LegacyWriter h2 = h;  // the version 2 header: v1 fields + calibration_bytes
  h2.buffer().resize(48);
  h2.u64(text.size());
  test::LegacyWriter p2 = p;
  p2.bytes(text.data(), text.size());
  test::write_bytes(v2, test::legacy_file(magic, 2, h2.buffer(), p2.buffer()));
  try {
    ProbMat::load(v2, &back);
    FAIL("expected a format error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::format);
  }
  CHECK(ProbMat::load(v2).images() == pm.images());  // the counts are fine without it
  // A version 2 file with its calibration loads it.
  test::write_bytes(v2, test::legacy_probmat(pm, 2, cal.to_json().dump()));
  ProbMat::load(v2, &back);
  CHECK(back.to_json() == cal.to_json());
}

TEST_CASE("calibration: the autoencoder holds back normals, keeps the calibration in its file; old files load") {
  data::PhantomOptions po;
  po.size = 32;
  po.classes = {0};
  std::vector<data::Image> normals;
  for (uint64_t i = 0; i < 20; ++i) normals.push_back(data::make_phantom(9, i, po).image);
  AutoencoderOptions o;
  o.size = 32;
  o.width = 4;
  o.epochs = 1;
  o.progress = 0;
  o.holdout = 0.25;
  const AutoencoderDetector det = AutoencoderDetector::train(normals, o);
  REQUIRE(det.calibration().images() == 5);
  const std::string path = tmp("ae.lai");
  det.save(path);
  const AutoencoderDetector back = AutoencoderDetector::load(path);
  CHECK(back.calibration().to_json() == det.calibration().to_json());
  const Assessment a = det.assess(normals[0]), b = back.assess(normals[0]);
  CHECK(a.score == b.score);
  CHECK(a.p_value == b.p_value);

  // A separate calibration set replaces the held-back share.
  const std::vector<data::Image> other(normals.begin(), normals.begin() + 7);
  CHECK(AutoencoderDetector::train(normals, o, &other).calibration().images() == 7);

  // Detector version 1 (no score calibration): loads uncalibrated.
  const AutoencoderDetector plain(det.model_ptr());
  nn::NamedTensors extra;
  extra.emplace_back("anomaly.smooth_sigma", Tensor::scalar(2.f));
  nn::save_model(path, plain.model(), nullptr, io::Json(), &extra);
  CHECK(AutoencoderDetector::load(path).calibration().empty());
  // A newer detector version is refused by name.
  io::Json training = io::Json::object(), anomaly = io::Json::object();
  anomaly.set("version", io::Json(3));
  training.set("anomaly", anomaly);
  nn::save_model(path, plain.model(), nullptr, training, &extra);
  try {
    AutoencoderDetector::load(path);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::not_supported);
    CHECK(std::string(e.what()).find("version 3") != std::string::npos);
  }
}
