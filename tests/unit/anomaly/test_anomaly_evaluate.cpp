// Detection evaluation (evaluate.hpp): objects from masks, FROC by the object-CXR rules on cases
// worked out by hand, image AUROC, the detections file, truth manifests and maps folders.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data_fixtures.hpp"
#include "liteai/anomaly/evaluate.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;
using namespace liteai::anomaly;
namespace fs = std::filesystem;

namespace {
data::Image mask_with(int size, const std::vector<std::array<int, 4>>& boxes) {  // x0, y0, x1, y1 (exclusive)
  data::Image m(size, size);
  for (const auto& b : boxes)
    for (int y = b[1]; y < b[3]; ++y)
      for (int x = b[0]; x < b[2]; ++x) m.at(x, y) = 1.f;
  return m;
}
Detection at(float x, float y, double score) {
  Detection d;
  d.x = x, d.y = y, d.radius = 2, d.score = score;
  return d;
}
}  // namespace

TEST_CASE("evaluate: the objects of a mask are its 8-connected regions") {
  data::Image m = mask_with(16, {{1, 1, 4, 4}, {4, 4, 6, 6}, {10, 2, 12, 9}});  // the first two touch diagonally
  const ImageTruth t = truth_from_mask(m, "a.png");
  REQUIRE(t.objects.size() == 2);
  CHECK(t.objects[0].area() == 9 + 4);
  CHECK(t.objects[0].contains(5, 5));
  CHECK_FALSE(t.objects[0].contains(4, 1));
  CHECK(t.objects[1].x0 == 10);
  CHECK(t.objects[1].y1 == 9);
  CHECK(truth_from_mask(data::Image(8, 8)).objects.empty());
}

TEST_CASE("evaluate: FROC follows the object-CXR rules") {
  // 4 images, 3 objects: two in image 0, one in image 1; images 2 and 3 are normal.
  std::vector<ImageTruth> truth = {truth_from_mask(mask_with(32, {{2, 2, 6, 6}, {20, 20, 26, 26}})),
                                   truth_from_mask(mask_with(32, {{10, 10, 14, 14}})),
                                   truth_from_mask(data::Image(32, 32)), truth_from_mask(data::Image(32, 32))};
  std::vector<std::vector<Detection>> d(4);
  d[0] = {at(3, 3, 0.9), at(4, 4, 0.85), at(28, 2, 0.5), at(22, 22, 0.3)};  // hit, same object again, FP, hit
  d[1] = {at(12.4, 11.6, 0.7)};                                              // hit (rounds to 12, 12)
  d[2] = {at(5, 5, 0.6)};                                                    // FP
  d[3] = {at(1, 1, 0.2), at(9, 9, 0.2)};                                     // two FPs at the same score
  const DetectionEvaluation e = evaluate_detections(truth, d);
  CHECK(e.images == 4);
  CHECK(e.objects == 3);
  CHECK(e.images_with_objects == 2);
  CHECK(e.detections == 8);
  // Strongest first: 0.9 hit (1/3), 0.85 repeat, 0.7 hit (2/3), 0.6 FP (1 FP = 0.25/image),
  // 0.5 FP (0.5/image), 0.3 hit (3/3), 0.2 two FPs (1/image).
  // Rate 0.125 (0.5 FP) and 0.25 (1 FP): read before the first FP -> 2/3.
  // Rate 0.5 (2 FPs): before the second FP -> 2/3. Rate 1 (4 FPs): the 0.2 group reaches it
  // after the third object was hit -> 1. Higher rates are never reached: the final 1.
  REQUIRE(e.sensitivities.size() == 7);
  CHECK(e.sensitivities[0] == Approx(2.0 / 3));
  CHECK(e.sensitivities[1] == Approx(2.0 / 3));
  CHECK(e.sensitivities[2] == Approx(2.0 / 3));
  CHECK(e.sensitivities[3] == Approx(1.0));
  CHECK(e.sensitivities[6] == Approx(1.0));
  CHECK(e.froc == Approx((3 * 2.0 / 3 + 4 * 1.0) / 7));
  // Image AUROC from the strongest detection per image: 0.9, 0.7 vs 0.6, 0.2 -> 1.
  CHECK(e.image_auroc == Approx(1.0));
  const std::vector<double> flat = {0.1, 0.5, 0.5, 0.9};
  CHECK(evaluate_detections(truth, d, &flat).image_auroc == Approx(0.125));  // 0.5 of 4 pairs
  // The curve: one point per score group, ending at all detections.
  CHECK(e.curve.back().fp_per_image == Approx(1.0));
  CHECK(e.curve.back().sensitivity == Approx(1.0));
  CHECK(e.curve_csv().rfind("threshold,fp_per_image,sensitivity\n", 0) == 0);
  const io::Json j = e.to_json();
  CHECK(j.get_number("froc") == Approx(e.froc));
  CHECK(j.get_int("objects") == 3);

  // Without false positives the sensitivity is the final one at every rate; one kind only: AUROC NaN.
  const DetectionEvaluation only = evaluate_detections({truth[1]}, {{at(12, 12, 1)}});
  CHECK(only.froc == Approx(1.0));
  CHECK(std::isnan(only.image_auroc));
  CHECK_THROWS_WITH(evaluate_detections(truth, {}), Catch::Contains("detection lists"));
}

TEST_CASE("evaluate: detections files round-trip and match the truth's paths") {
  const std::string dir = test::temp_dir("detections");
  const std::string file = dir + "/det.csv";
  std::vector<ImageDetections> rows = {{"images/a.png", {at(3, 4, 2.5), at(10, 11, 1.25)}},
                                       {"images/b,2.png", {}},
                                       {"images/c.png", {at(1, 2, 0.5)}}};
  rows[0].detections[0].confidence = 0.875;
  write_detections_csv(file, rows);
  const std::vector<ImageDetections> back = read_detections_csv(file);
  REQUIRE(back.size() == 3);
  CHECK(back[0].path == "images/a.png");
  REQUIRE(back[0].detections.size() == 2);
  CHECK(back[0].detections[0].x == Approx(3));
  CHECK(back[0].detections[0].score == Approx(2.5));
  CHECK(back[0].detections[0].confidence == Approx(0.875));
  CHECK(std::isnan(back[0].detections[1].confidence));
  CHECK(back[1].path == "images/b,2.png");
  CHECK(back[1].detections.empty());

  std::vector<ImageTruth> truth(3);
  truth[0].path = "images/a.png";
  truth[1].path = "other/b,2.png";  // matched by file name
  truth[2].path = "images/c.png";
  truth[2].file = dir + "/images/c.png";
  std::vector<ImageDetections> by_file = {{dir + "/images/../images/c.png", {at(1, 1, 1)}}};
  auto m = match_detections(truth, back);
  CHECK(m[0].size() == 2);
  CHECK(m[1].empty());
  CHECK(match_detections(truth, by_file)[2].size() == 1);
  CHECK_THROWS_WITH(match_detections(truth, {{"nowhere.png", {}}}), Catch::Contains("matches no image"));

  test::write_text(dir + "/bad.csv", "path,x,y,radius,score,confidence\na.png,1,2,3,oops,\n");
  CHECK_THROWS_WITH(read_detections_csv(dir + "/bad.csv"), Catch::Contains("score"));
  test::write_text(dir + "/bad.csv", "path,x,y\na.png,1,2\n");
  CHECK_THROWS_WITH(read_detections_csv(dir + "/bad.csv"), Catch::Contains("needs the columns"));
  CHECK_THROWS(read_detections_csv(dir + "/missing.csv"));
}

TEST_CASE("evaluate: truth from a phantom manifest, detections from a maps folder, the FROC plot") {
  const std::string dir = test::temp_dir("truth");
  data::PhantomOptions po;
  po.size = 128;
  po.classes = {0, 1};
  data::write_phantom_set(dir, 6, 5, po);
  const std::vector<ImageTruth> truth = read_truth_manifest(dir + "/manifest.csv");
  REQUIRE(truth.size() == 6);
  for (size_t i = 0; i < truth.size(); ++i) {
    const data::Phantom p = data::make_phantom(5, i, po);
    CHECK(truth[i].width == 128);
    CHECK(truth[i].objects.size() == truth_from_mask(p.mask).objects.size());
    CHECK(truth[i].objects.empty() == (p.label == 0));
  }
  // Maps at half the size with a bright disc on each foreign body.
  const std::string maps = dir + "/maps";
  fs::create_directories(maps);
  for (size_t i = 0; i < truth.size(); ++i) {
    data::Image m(64, 64);
    for (const auto& f : data::make_phantom(5, i, po).findings)
      for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 64; ++x)
          if (std::hypot((x + 0.5f) * 2 - 0.5f - f.cx, (y + 0.5f) * 2 - 0.5f - f.cy) <= f.r) m.at(x, y) = 5;
    data::write_npy(maps + "/" + fs::path(truth[i].path).stem().string() + "_wpm.npy", m);
  }
  DetectOptions o;
  o.min_radius = 0.015f;
  o.max_radius = 0.05f;
  ScoreOptions so;
  so.spots = o;
  const MapDetections md = detections_from_maps(truth, maps, o, so);
  REQUIRE(md.detections.size() == 6);
  const DetectionEvaluation e = evaluate_detections(truth, md.detections, &md.image_scores);
  CHECK(e.image_auroc == Approx(1.0));
  CHECK(e.froc == Approx(1.0));
  froc_chart(e, "FROC (SYNTHETIC phantoms)").write_png(dir + "/froc.png", 640, 420);
  const data::ImageInfo info = data::probe_image(dir + "/froc.png");
  CHECK(info.width == 640);
  CHECK(info.channels == 3);
  fs::remove(maps + "/" + fs::path(truth[3].path).stem().string() + "_wpm.npy");
  CHECK_THROWS_WITH(detections_from_maps(truth, maps, o, so), Catch::Contains("no map"));
  test::write_text(dir + "/nomask.csv", "path,label\nimages/000000.png,normal\n");
  CHECK_THROWS_WITH(read_truth_manifest(dir + "/nomask.csv"), Catch::Contains("'mask'"));
}
