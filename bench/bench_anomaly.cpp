// liteai bench anomaly: the two label-free detectors side by side on the same SYNTHETIC phantoms
// (SPEC sections 6 and 7): a ProbMat/WPM and a convolutional autoencoder, both built from the same
// normal images with the same share held back to calibrate their scores on, and measured the
// same way:
//   - pixel AUROC of the map against the foreign-body masks;
//   - image AUROC with the default image score (the strongest isolated spot), with the top-k mean
//     of the map (the default before it) and with the Hough circle score;
//   - FROC as the object-CXR challenge defines it (a hit is a detection whose centre lies in a
//     foreign body; mean sensitivity at 1/8..8 false positives per image) of the circles found on
//     the maps, the false circles per normal test image at the default operating point (0.125 per
//     image at 90%, calibrated on the held-back normals) and the sensitivity there;
//   - build, calibration and scoring time and peak RSS; plus the senafas channel.
// Quality records carry the targets as their reference (ratio >= 1: met); everything is
// measured on synthetic images. `--seed K` shifts the data seeds (spread over K = 0, 1, 2, ...).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "bench.hpp"
#include "phantom_set.hpp"
#include "liteai/anomaly/autoencoder.hpp"
#include "liteai/anomaly/calibration.hpp"
#include "liteai/anomaly/evaluate.hpp"
#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/data/transforms.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

// Foreign-body radii on the phantoms are ~1.4%..5% of the image side (as in bench_probmat).
HoughOptions fb_hough(int size) {
  HoughOptions o;
  o.min_radius = std::max(1.5f, 0.014f * float(size));
  o.max_radius = 0.05f * float(size);
  o.min_votes = 5;
  o.min_support = 0.3f;
  o.min_dist = 0.03f * float(size);
  return o;
}

// Mask at a map's resolution (area resize, then > 0.5).
data::Image mask_at(const data::Image& mask, int size) {
  if (mask.width == size) return mask;
  data::Image m(size, size);
  data::resize_into(mask, m.pixels.data(), size, size);
  for (float& v : m.pixels) v = v > 0.5f ? 1.f : 0.f;
  m.max_value = 1.f;
  return m;
}

struct Quality {
  double pixel = 0, image = 0, image_topk = 0, image_circle = 0;
  DetectionEvaluation froc;
  double fp_per_normal = 0, sensitivity_at_op = 0, distinct_scores = 0, detect_ms = 0;
};

Quality evaluate(const std::vector<data::Image>& maps, const std::vector<data::Phantom>& test, const Calibration& cal,
                 int repeats) {
  Quality q;
  std::vector<data::Image> masks;
  std::vector<double> spot, topk, circ;
  std::vector<int> labels;
  std::vector<ImageTruth> truth;
  std::vector<std::vector<Detection>> all, at_op;
  int64_t normal_images = 0, normal_circles = 0;
  ScoreOptions topk_options;
  topk_options.method = ScoreMethod::TopKMean;
  const HoughOptions ho = fb_hough(maps[0].width);
  for (size_t i = 0; i < maps.size(); ++i) {
    const data::Phantom& p = test[i];
    const Assessment a = assess(maps[i], cal);
    spot.push_back(a.score);
    topk.push_back(image_score(maps[i], topk_options));
    circ.push_back(circle_score(maps[i], ho));
    labels.push_back(p.label == 1 ? 1 : 0);
    masks.push_back(mask_at(p.mask, maps[i].width));
    truth.push_back(truth_from_mask(p.mask));
    auto in_image = [&](std::vector<Detection> d) {
      for (Detection& x : d) x = scale_detection(x, maps[i].width, maps[i].height, p.mask.width, p.mask.height);
      return d;
    };
    all.push_back(in_image(detect_circles(maps[i], cal.detect)));
    at_op.push_back(in_image(a.circles));
    if (p.label == 0) ++normal_images, normal_circles += int64_t(a.circles.size());
  }
  q.pixel = pixel_auroc(maps, masks);
  q.image = auroc(spot, labels);
  q.image_topk = auroc(topk, labels);
  q.image_circle = auroc(circ, labels);
  q.froc = evaluate_detections(truth, all, &spot);
  q.fp_per_normal = double(normal_circles) / double(std::max<int64_t>(1, normal_images));
  q.sensitivity_at_op = evaluate_detections(truth, at_op).curve.back().sensitivity;
  q.distinct_scores = double(std::set<double>(spot.begin(), spot.end()).size()) / double(spot.size());
  q.detect_ms = 1e3 * bench::median_seconds(repeats, [&] { (void)detect_circles(maps[1], cal.detect); });
  return q;
}

std::string px(int s) { return std::to_string(s) + "x" + std::to_string(s); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void report_quality(bench::Report& report, const std::string& d, const Quality& q) {
  report.add({"anomaly_" + d + "_pixel_auroc", q.pixel, "AUROC", "target_0.95", q.pixel / 0.95});
  report.add({"anomaly_" + d + "_image_auroc", q.image, "AUROC", "target_0.99", q.image / 0.99});
  report.add({"anomaly_" + d + "_image_auroc_topk", q.image_topk, "AUROC", "target_0.99", q.image_topk / 0.99});
  report.add({"anomaly_" + d + "_image_auroc_circle", q.image_circle, "AUROC", "target_0.98", q.image_circle / 0.98});
  report.add({"anomaly_" + d + "_froc", q.froc.froc, "sensitivity", "target_0.90", q.froc.froc / 0.90});
  for (size_t k = 0; k < q.froc.rates.size(); ++k)
    report.add({"anomaly_" + d + "_froc_at_" + num(q.froc.rates[k]) + "fp", q.froc.sensitivities[k], "sensitivity",
                "", 0});
  report.add({"anomaly_" + d + "_fp_per_normal", q.fp_per_normal, "circles", "target_0.125",
              q.fp_per_normal > 0 ? 0.125 / q.fp_per_normal : 10.0});
  report.add({"anomaly_" + d + "_sensitivity_at_op", q.sensitivity_at_op, "sensitivity", "", 0});
  report.add({"anomaly_" + d + "_distinct_image_scores", q.distinct_scores, "fraction", "", 0});
  report.add({"anomaly_" + d + "_detect_ms", q.detect_ms, "ms", "", 0});
}

}  // namespace

LAI_BENCH_SUITE(anomaly, "WPM vs autoencoder on the same phantoms (AUROCs, FROC, calibrated false circles, time, RSS) + senafas") {
  const int S = args.quick ? 128 : 256;                 // phantom / ProbMat size
  const int ae_size = args.quick ? 64 : 128;            // autoencoder input
  const int ae_width = args.quick ? 8 : 16, ae_epochs = 10;
  const int n_normals = args.quick ? 120 : 320, n_senafas = args.quick ? 40 : 60, n_test = args.quick ? 30 : 100;
  const double holdout = 0.2;
  const int patch = S / 32;  // senafas channel 32x32
  const int repeats = std::max(1, std::min(args.repeats, 5));
  const uint64_t s0 = 41 + 1000 * uint64_t(args.seed);
  if (args.threads > 0) set_num_threads(args.threads);
  const std::vector<size_t> held = holdout_indices(size_t(n_normals), holdout);
  report.note("anomaly: SYNTHETIC phantoms " + px(S) + " (seeds " + std::to_string(s0) + ".." + std::to_string(s0 + 3) +
              "); " + std::to_string(n_normals) + " normal images for both detectors, " + std::to_string(held.size()) +
              " of them held back to calibrate on; " + std::to_string(n_test) + " normal + " + std::to_string(n_test) +
              " foreign-body test images; " + std::to_string(n_senafas) + " other normals for senafas; autoencoder at " +
              px(ae_size) + " (width " + std::to_string(ae_width) + ", " + std::to_string(ae_epochs) + " epochs)");
  report.note("anchors on REAL radiographs (not measured here): object-CXR baseline AUC 0.921, FROC 0.803; circular "
              "Hough on gown buttons (Zohora and Santosh 2017) precision 0.96, recall 0.90");

  bench::PhantomSet set = bench::make_phantom_set(S, n_normals, n_senafas, n_test, {s0, s0 + 1, s0 + 2, s0 + 3});
  std::vector<data::Image>& normals = set.train;
  std::vector<data::Image>& calib = set.calib;
  std::vector<data::Phantom>& test = set.test;
  std::vector<data::Image> test_images;
  for (const auto& p : test) test_images.push_back(p.image);

  // --- WPM: ProbMat 64 bins, 16-bit counts, alignment tolerance 1 (a compact form that loses
  // nothing measurable in bench probmat); maps of the brighter side, smoothed 1 px.
  bench::reset_peak_rss();
  const double rss0 = bench::current_rss_mb();
  ProbMatConfig pc{S, S, 64, 16, 1, 1, 0.f, 255.f};
  WpmOptions wo;
  wo.side = WpmSide::Brighter;
  wo.smooth_sigma = 1.f;
  ProbTable table;
  double t0 = bench::now_seconds();
  {
    ProbMat pm(pc);
    std::vector<const data::Image*> batch;
    for (size_t i : complement_indices(normals.size(), held)) batch.push_back(&normals[i]);
    pm.add_batch(batch);
    table = pm.finalize();
  }
  const double wpm_build = bench::now_seconds() - t0;
  t0 = bench::now_seconds();
  Calibrator wcal(wpm_score_options(), wpm_detect_options());
  for (size_t i : held) wcal.add(wpm(table, normals[i], wo));
  const Calibration wpm_cal = wcal.finish();
  const double wpm_calibrate = bench::now_seconds() - t0;
  std::vector<data::Image> wmaps(test.size());
  for (size_t i = 0; i < test.size(); ++i) wmaps[i] = wpm(table, test_images[i], wo);
  const double wpm_score = bench::median_seconds(repeats, [&] {
    data::Image m = wpm(table, test_images[1], wo);
    volatile double s = image_score(m);
    (void)s;
  });
  const double wpm_peak = bench::peak_rss_mb(), wpm_rss = wpm_peak - rss0;
  const Quality wq = evaluate(wmaps, test, wpm_cal, repeats);

  // --- senafas channel on the WPMs (fitted on the maps of other normal images).
  std::vector<data::Image> cmaps;
  for (const auto& im : calib) cmaps.push_back(wpm(table, im, wo));
  Senafas sen;
  SenafasOptions so;
  so.patch = patch;
  t0 = bench::now_seconds();
  sen.fit(cmaps, so);
  const double sen_fit = bench::now_seconds() - t0;
  std::vector<double> sen_scores;
  std::vector<int> labels;
  for (size_t i = 0; i < test.size(); ++i) {
    sen_scores.push_back(Senafas::image_score(sen.channel(wmaps[i])));
    labels.push_back(test[i].label == 1 ? 1 : 0);
  }
  const double sen_auc = auroc(sen_scores, labels);
  const double sen_time = bench::median_seconds(repeats, [&] { (void)sen.channel(wmaps[1]); });

  // --- Autoencoder trained on the same normal images (holding back the same share itself).
  bench::reset_peak_rss();
  const double rss1 = bench::current_rss_mb();
  AutoencoderOptions ao;
  ao.size = ae_size;
  ao.width = ae_width;
  ao.epochs = ae_epochs;
  ao.progress = 0;
  ao.holdout = holdout;
  t0 = bench::now_seconds();
  const AutoencoderDetector det = AutoencoderDetector::train(normals, ao);
  const double ae_build = bench::now_seconds() - t0;
  const std::vector<data::Image> amaps = det.anomaly_maps(test_images);
  const double ae_score = bench::median_seconds(repeats, [&] {
    data::Image m = det.anomaly_map(test_images[1]);
    volatile double s = image_score(m);
    (void)s;
  });
  const double ae_peak = bench::peak_rss_mb(), ae_rss = ae_peak - rss1;
  const Quality aq = evaluate(amaps, test, det.calibration(), repeats);
  report.note("autoencoder recipe: denoising training (coarse noise std " + num(ao.denoise_std) + " on a " +
              std::to_string(ao.denoise_grid) + "x" + std::to_string(ao.denoise_grid) +
              " grid, clean target), map = max(0, error - mean normal error) / (std of the normal error + " +
              num(ao.calibration_floor) + "), smoothed " + num(ao.smooth_sigma) + " px");
  // The senafas channel is map-agnostic: the same 32x32 channel over the autoencoder's maps.
  Senafas sen_ae;
  SenafasOptions so_ae;
  so_ae.patch = ae_size / 32;
  sen_ae.fit(det.anomaly_maps(calib), so_ae);
  std::vector<double> sen_ae_scores;
  for (const auto& m : amaps) sen_ae_scores.push_back(Senafas::image_score(sen_ae.channel(m)));
  const double sen_ae_auc = auroc(sen_ae_scores, labels);

  report.note("image AUROC: the default image score (strongest isolated spot), the top-k mean of the map (the "
              "default before it) and the Hough circle score; FROC of the circles on the maps (object-CXR rules), "
              "false circles per normal test image and sensitivity at the default operating point (0.125 false "
              "circles per normal image at 90%, from the held-back normals)");
  report_quality(report, "wpm", wq);
  report_quality(report, "ae", aq);
  report.add({"anomaly_senafas_image_auroc", sen_auc, "AUROC", "target_0.95", sen_auc / 0.95});
  report.add({"anomaly_senafas_ae_image_auroc", sen_ae_auc, "AUROC", "target_0.95", sen_ae_auc / 0.95});
  report.add({"anomaly_wpm_build_s", wpm_build, "s", "", 0});
  report.add({"anomaly_wpm_calibrate_s", wpm_calibrate, "s", "", 0});
  report.add({"anomaly_ae_train_s", ae_build, "s", "anomaly_wpm_build_s", ae_build > 0 ? wpm_build / ae_build : 0});
  report.add({"anomaly_senafas_fit_s", sen_fit, "s", "", 0});
  report.add({"anomaly_wpm_score_ms", wpm_score * 1e3, "ms", "", 0});
  report.add({"anomaly_ae_score_ms", ae_score * 1e3, "ms", "anomaly_wpm_score_ms", ae_score > 0 ? wpm_score / ae_score : 0});
  report.add({"anomaly_senafas_channel_ms", sen_time * 1e3, "ms", "", 0});
  report.add({"anomaly_wpm_peak_rss_growth", wpm_rss, "MB", "", 0});
  report.add({"anomaly_ae_peak_rss_growth", ae_rss, "MB", "", 0});
  report.add({"anomaly_peak_rss", std::max(wpm_peak, ae_peak), "MB", "", 0});
  report.note("  WPM " + px(S) + ": ProbMat 64 bins u16 tol 1, " + std::to_string(table.memory_bytes() >> 10) +
              " KB table; circle threshold " + num(wpm_cal.circle_threshold(0.125)) + " (map units); autoencoder " +
              px(ae_size) + ": circle threshold " + num(det.calibration().circle_threshold(0.125)) +
              "; senafas channel 32x32 (patch " + std::to_string(patch) + ")");
  if (args.threads > 0) set_num_threads(0);
}
