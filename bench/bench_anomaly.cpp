// liteai bench anomaly: the two label-free detectors side by side on the same SYNTHETIC phantoms
// (SPEC sections 6 and 7): a ProbMat/WPM and a convolutional autoencoder, both built from the same
// normal images, scored the same way (image AUROC with the top-k mean and with the Hough circle
// score, pixel AUROC against the foreign-body masks), with build time, scoring time per image and
// peak RSS of each; plus the senafas channel (fit time, time per image, image AUROC of the
// channel alone, over the WPM and over the autoencoder's map). AUROC records carry the targets as their reference (pixel 0.95, image
// 0.98, senafas channel 0.95), so ratio >= 1 means the target is met.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench.hpp"
#include "phantom_set.hpp"
#include "liteai/anomaly/autoencoder.hpp"
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
  double pixel = 0, image_topk = 0, image_circle = 0;
};

Quality evaluate(const std::vector<data::Image>& maps, const std::vector<data::Phantom>& test) {
  Quality q;
  std::vector<data::Image> fb_maps, fb_masks;
  std::vector<double> topk, circ;
  std::vector<int> labels;
  const HoughOptions ho = fb_hough(maps[0].width);
  for (size_t i = 0; i < maps.size(); ++i) {
    topk.push_back(image_score(maps[i]));
    circ.push_back(circle_score(maps[i], ho));
    labels.push_back(test[i].label == 1 ? 1 : 0);
    fb_maps.push_back(maps[i]);
    fb_masks.push_back(mask_at(test[i].mask, maps[i].width));
  }
  q.pixel = pixel_auroc(fb_maps, fb_masks);
  q.image_topk = auroc(topk, labels);
  q.image_circle = auroc(circ, labels);
  return q;
}

std::string px(int s) { return std::to_string(s) + "x" + std::to_string(s); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

LAI_BENCH_SUITE(anomaly, "WPM vs autoencoder on the same phantoms (AUROCs, build/score time, RSS) + senafas channel") {
  const int S = args.quick ? 128 : 256;                 // phantom / ProbMat size
  const int ae_size = args.quick ? 64 : 128;            // autoencoder input
  const int ae_width = args.quick ? 8 : 16, ae_epochs = args.quick ? 10 : 10;
  const int n_train = args.quick ? 96 : 192, n_calib = args.quick ? 40 : 60, n_test = args.quick ? 30 : 50;
  const int patch = S / 32;  // senafas channel 32x32
  const int repeats = std::max(1, std::min(args.repeats, 5));
  if (args.threads > 0) set_num_threads(args.threads);
  report.note("anomaly: SYNTHETIC phantoms " + px(S) + "; " + std::to_string(n_train) +
              " normal training images for both detectors, " + std::to_string(n_calib) +
              " other normals for the senafas calibration, " + std::to_string(n_test) + " normal + " +
              std::to_string(n_test) + " foreign-body test images; autoencoder at " + px(ae_size) + " (width " +
              std::to_string(ae_width) + ", " + std::to_string(ae_epochs) + " epochs)");

  bench::PhantomSet set = bench::make_phantom_set(S, n_train, n_calib, n_test, {41, 42, 43, 44});
  std::vector<data::Image>& train = set.train;
  std::vector<data::Image>& calib = set.calib;
  std::vector<data::Phantom>& test = set.test;
  std::vector<data::Image> test_images;
  for (const auto& p : test) test_images.push_back(p.image);

  // --- WPM: ProbMat 64 bins, 16-bit counts, alignment tolerance 1 (a compact form that loses
  // nothing measurable in bench probmat); maps of the brighter side, smoothed 1 px.
  bench::reset_peak_rss();
  const double rss0 = bench::current_rss_mb();
  ProbMatConfig pc{S, S, 64, 16, 1, 1, 0.f, 255.f};
  ProbTable table;
  double t0 = bench::now_seconds();
  {
    ProbMat pm(pc);
    std::vector<const data::Image*> batch;
    for (const auto& im : train) batch.push_back(&im);
    pm.add_batch(batch);
    table = pm.finalize();
  }
  const double wpm_build = bench::now_seconds() - t0;
  WpmOptions wo;
  wo.side = WpmSide::Brighter;
  wo.smooth_sigma = 1.f;
  std::vector<data::Image> wmaps(test.size());
  for (size_t i = 0; i < test.size(); ++i) wmaps[i] = wpm(table, test_images[i], wo);
  const double wpm_score = bench::median_seconds(repeats, [&] {
    data::Image m = wpm(table, test_images[1], wo);
    volatile double s = image_score(m);
    (void)s;
  });
  const double wpm_peak = bench::peak_rss_mb(), wpm_rss = wpm_peak - rss0;
  const Quality wq = evaluate(wmaps, test);

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

  // --- Autoencoder trained on the same normal images.
  bench::reset_peak_rss();
  const double rss1 = bench::current_rss_mb();
  AutoencoderOptions ao;
  ao.size = ae_size;
  ao.width = ae_width;
  ao.epochs = ae_epochs;
  ao.progress = 0;
  t0 = bench::now_seconds();
  const AutoencoderDetector det = AutoencoderDetector::train(train, ao);
  const double ae_build = bench::now_seconds() - t0;
  const std::vector<data::Image> amaps = det.anomaly_maps(test_images);
  const double ae_score = bench::median_seconds(repeats, [&] {
    data::Image m = det.anomaly_map(test_images[1]);
    volatile double s = image_score(m);
    (void)s;
  });
  const double ae_peak = bench::peak_rss_mb(), ae_rss = ae_peak - rss1;
  const Quality aq = evaluate(amaps, test);
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

  const std::string wn = "WPM " + px(S), an = "autoencoder " + px(ae_size);
  report.note("image AUROC: top-k mean of the map (the default image_score) and the Hough circle score on the map");
  report.add({"anomaly_wpm_pixel_auroc", wq.pixel, "AUROC", "target_0.95", wq.pixel / 0.95});
  report.add({"anomaly_ae_pixel_auroc", aq.pixel, "AUROC", "target_0.95", aq.pixel / 0.95});
  report.add({"anomaly_wpm_image_auroc", wq.image_topk, "AUROC", "target_0.98", wq.image_topk / 0.98});
  report.add({"anomaly_ae_image_auroc", aq.image_topk, "AUROC", "target_0.98", aq.image_topk / 0.98});
  report.add({"anomaly_wpm_image_auroc_circle", wq.image_circle, "AUROC", "target_0.98", wq.image_circle / 0.98});
  report.add({"anomaly_ae_image_auroc_circle", aq.image_circle, "AUROC", "target_0.98", aq.image_circle / 0.98});
  report.add({"anomaly_senafas_image_auroc", sen_auc, "AUROC", "target_0.95", sen_auc / 0.95});
  report.add({"anomaly_senafas_ae_image_auroc", sen_ae_auc, "AUROC", "target_0.95", sen_ae_auc / 0.95});
  report.add({"anomaly_wpm_build_s", wpm_build, "s", "", 0});
  report.add({"anomaly_ae_train_s", ae_build, "s", "anomaly_wpm_build_s", ae_build > 0 ? wpm_build / ae_build : 0});
  report.add({"anomaly_senafas_fit_s", sen_fit, "s", "", 0});
  report.add({"anomaly_wpm_score_ms", wpm_score * 1e3, "ms", "", 0});
  report.add({"anomaly_ae_score_ms", ae_score * 1e3, "ms", "anomaly_wpm_score_ms", ae_score > 0 ? wpm_score / ae_score : 0});
  report.add({"anomaly_senafas_channel_ms", sen_time * 1e3, "ms", "", 0});
  report.add({"anomaly_wpm_peak_rss_growth", wpm_rss, "MB", "", 0});
  report.add({"anomaly_ae_peak_rss_growth", ae_rss, "MB", "", 0});
  report.add({"anomaly_peak_rss", std::max(wpm_peak, ae_peak), "MB", "", 0});
  report.note("  " + wn + ": ProbMat 64 bins u16 tol 1, " + std::to_string(table.memory_bytes() >> 10) +
              " KB table; " + an + "; senafas channel 32x32 (patch " + std::to_string(patch) + ")");
  if (args.threads > 0) set_num_threads(0);
}
