// Phantom evaluation (synthetic chest radiographs from liteai::data, SYNTHETIC data): a ProbMat
// built from normal phantoms must localize foreign bodies (pixel-level AUROC of the WPM against
// the ground-truth masks), separate foreign-body images from normal ones (image-level AUROC), and
// the Hough transform on the WPM must find the round foreign bodies. Small images (160x160) keep
// the test fast; `liteai bench probmat` reports the same figures at 256/512 for every compact form.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;
using namespace liteai::anomaly;

namespace {

constexpr int S = 160;

HoughOptions fb_hough() {
  HoughOptions o;
  o.min_radius = 0.014f * S;
  o.max_radius = 0.05f * S;
  o.min_votes = 5;
  o.min_support = 0.3f;
  o.min_dist = 0.03f * S;
  return o;
}

}  // namespace

TEST_CASE("phantoms: WPM localizes foreign bodies, scores separate images, Hough finds them",
          "[anomaly][phantom]") {
  data::PhantomOptions normal_opt, fb_opt;
  normal_opt.size = fb_opt.size = S;
  normal_opt.classes = {0};
  fb_opt.classes = {1};
  ProbMat pm({S, S, 256, 16, 1, 1});
  std::vector<data::Image> batch;
  for (int i = 0; i < 160; ++i) {
    batch.push_back(data::make_phantom(7, uint64_t(i), normal_opt).image);
    if (batch.size() == 32) {
      std::vector<const data::Image*> p;
      for (auto& b : batch) p.push_back(&b);
      pm.add_batch(p);
      batch.clear();
    }
  }
  const ProbTable table = pm.finalize();
  WpmOptions wo;
  wo.smooth_sigma = 1.f;
  // Circle-score threshold from separate normal phantoms: 5% of normal images may exceed it.
  std::vector<double> calib;
  std::vector<data::Image> calib_maps;
  for (int i = 0; i < 20; ++i) {
    calib_maps.push_back(wpm(table, data::make_phantom(97, uint64_t(i), normal_opt).image, wo));
    double best = 0;
    for (auto& c : hough_circles(calib_maps.back(), fb_hough())) best = std::max(best, double(c.votes) * c.support);
    calib.push_back(best);
  }
  const double circle_thr = threshold_for_fpr(calib, 0.05);
  std::vector<data::Image> maps, masks;
  std::vector<double> topk, circles;
  std::vector<int> labels;
  int found = 0, findings = 0, true_circles = 0, all_circles = 0;
  for (int i = 0; i < 30; ++i) {
    for (int label : {1, 0}) {
      const data::Phantom ph = data::make_phantom(label ? 99 : 98, uint64_t(i), label ? fb_opt : normal_opt);
      const data::Image m = wpm(table, ph.image, wo);
      maps.push_back(m);
      masks.push_back(ph.mask);
      labels.push_back(label);
      topk.push_back(image_score(m));
      std::vector<Circle> cs;
      double best = 0;
      for (auto& c : hough_circles(m, fb_hough())) {
        best = std::max(best, double(c.votes) * c.support);
        if (double(c.votes) * c.support > circle_thr) cs.push_back(c);
      }
      circles.push_back(best);
      // Hough detection quality: a circle matches a finding when its centre is within
      // max(2, r/2) px and its radius within 35%.
      auto matches = [](const Circle& c, const data::PhantomFinding& f) {
        return std::hypot(c.x - f.cx, c.y - f.cy) <= std::max(2.f, 0.5f * f.r) && std::abs(c.radius - f.r) <= 0.35f * f.r;
      };
      for (const auto& f : ph.findings) {
        ++findings;
        for (auto& c : cs)
          if (matches(c, f)) {
            ++found;
            break;
          }
      }
      for (auto& c : cs) {
        ++all_circles;
        for (const auto& f : ph.findings)
          if (matches(c, f)) {
            ++true_circles;
            break;
          }
      }
    }
  }
  const double pix = pixel_auroc(maps, masks), img_topk = auroc(topk, labels), img_circ = auroc(circles, labels);
  const double recall = double(found) / findings, precision = all_circles ? double(true_circles) / all_circles : 0;
  WARN("phantom " << S << "x" << S << ": pixel AUROC " << pix << ", image AUROC top-k " << img_topk
                  << ", image AUROC circle score " << img_circ << ", Hough recall " << recall << " precision "
                  << precision << " (" << findings << " foreign bodies, circle threshold " << circle_thr << ")");
  // senafas channel (8x reduction) fitted on the normal calibration maps: patch-level AUROC
  // against "the patch holds foreign-body pixels" (at least 8 of its 64).
  Senafas sen;
  SenafasOptions so;
  so.patch = 8;
  sen.fit(calib_maps, so);
  std::vector<double> patch_scores;
  std::vector<int> patch_labels;
  for (size_t i = 0; i < maps.size(); ++i) {
    const data::Image ch = sen.channel(maps[i]);
    for (int py = 0; py < ch.height; ++py)
      for (int px = 0; px < ch.width; ++px) {
        int hits = 0;
        for (int y = py * 8; y < std::min(S, py * 8 + 8); ++y)
          for (int x = px * 8; x < std::min(S, px * 8 + 8); ++x) hits += masks[i].at(x, y) > 0.5f;
        if (hits > 0 && hits < 8) continue;  // ambiguous rim patches
        patch_scores.push_back(ch.at(px, py));
        patch_labels.push_back(hits >= 8);
      }
  }
  const double patch_auc = auroc(patch_scores, patch_labels);
  WARN("senafas channel " << S / 8 << "x" << S / 8 << ": patch AUROC " << patch_auc);
  CHECK(patch_auc >= 0.9);
  CHECK(pix >= 0.95);
  CHECK(img_circ >= 0.98);
  CHECK(img_topk >= 0.7);
  CHECK(recall >= 0.8);
  CHECK(precision >= 0.8);
}
