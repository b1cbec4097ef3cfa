// liteai bench probmat: ProbMat accumulation throughput (pixels/s, and the input stream as a
// fraction of the memory read bandwidth measured in the same run), finalize time, WPM scoring time
// of one image, peak RSS and detection quality of every compact form on SYNTHETIC phantoms
// (pixel-level AUROC of the WPM vs the foreign-body masks, image-level AUROC foreign body vs
// normal with three image scores, Hough recall/precision on the WPM).
#include <malloc.h>

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench.hpp"
#include "phantom_set.hpp"
#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/phantom.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

// Process CPU seconds (median of `repeats` after a warm-up): on a machine shared with other jobs
// the wall clock of a single-threaded run is inflated by waiting for a core, CPU time is not.
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
template <class F>
double cpu_median(int repeats, F&& fn) {
  fn();
  std::vector<double> v;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = cpu_now();
    fn();
    v.push_back(cpu_now() - t0);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Read bandwidth: a parallel sum over a buffer much larger than the caches (GB/s).
double stream_read_gbps(size_t bytes, int repeats) {
  std::vector<float> buf(bytes / 4);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = float(i & 1023);
  volatile double sink = 0;
  const int64_t chunks = 256;
  std::vector<double> part(static_cast<size_t>(chunks));
  const double s = bench::median_seconds(repeats, [&] {
    parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const size_t b = buf.size() * size_t(c) / chunks, e = buf.size() * size_t(c + 1) / chunks;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t i = b;
        for (; i + 8 <= e; i += 8)
          for (int k = 0; k < 8; ++k) acc[k] += buf[i + size_t(k)];
        double t = 0;
        for (float a : acc) t += a;
        part[size_t(c)] = t;
      }
    });
    double t = 0;
    for (double p : part) t += p;
    sink = sink + t;
  });
  return double(bytes) / s / 1e9;
}

struct Form {
  std::string name;
  int bins, bits, scale;
};

struct Eval {
  double pixel_auroc = 0, image_topk = 0, image_blob = 0, image_circles = 0, recall = 0, precision = 0;
};

HoughOptions fb_hough(int S) {
  HoughOptions o;
  o.min_radius = 0.014f * S;
  o.max_radius = 0.05f * S;
  o.min_votes = 5;
  o.min_support = 0.3f;
  o.min_dist = 0.03f * S;
  return o;
}

Eval evaluate(const ProbTable& t, const std::vector<data::Phantom>& test, const std::vector<data::Image>& calib, int S) {
  Eval e;
  WpmOptions wo;
  wo.smooth_sigma = 1.f;
  ScoreOptions blob;
  blob.method = ScoreMethod::Blob;
  blob.blob_sigma_small = 2.f * S / 256.f;
  blob.blob_sigma_large = 10.f * S / 256.f;
  const HoughOptions ho = fb_hough(S);
  std::vector<double> cal;
  for (const auto& im : calib) cal.push_back(circle_score(wpm(t, im, wo), ho));
  const double thr = threshold_for_fpr(cal, 0.05);
  std::vector<data::Image> maps, masks;
  std::vector<double> topk, bl, circ;
  std::vector<int> labels;
  int found = 0, findings = 0, good = 0, all = 0;
  auto matches = [](const Circle& c, const data::PhantomFinding& f) {
    return std::hypot(c.x - f.cx, c.y - f.cy) <= std::max(2.f, 0.5f * f.r) && std::abs(c.radius - f.r) <= 0.35f * f.r;
  };
  for (const auto& ph : test) {
    data::Image m = wpm(t, ph.image, wo);
    topk.push_back(image_score(m));
    bl.push_back(image_score(m, blob));
    std::vector<Circle> cs;
    double best = 0;
    for (const Circle& c : hough_circles(m, ho)) {
      const double s = double(c.votes) * c.support;
      best = std::max(best, s);
      if (s > thr) cs.push_back(c);
    }
    circ.push_back(best);
    labels.push_back(ph.label == 1 ? 1 : 0);
    for (const auto& f : ph.findings) {
      ++findings;
      for (const Circle& c : cs)
        if (matches(c, f)) {
          ++found;
          break;
        }
    }
    for (const Circle& c : cs) {
      ++all;
      for (const auto& f : ph.findings)
        if (matches(c, f)) {
          ++good;
          break;
        }
    }
    maps.push_back(std::move(m));
    masks.push_back(ph.mask);
  }
  e.pixel_auroc = pixel_auroc(maps, masks);
  e.image_topk = auroc(topk, labels);
  e.image_blob = auroc(bl, labels);
  e.image_circles = auroc(circ, labels);
  e.recall = findings ? double(found) / findings : 0;
  e.precision = all ? double(good) / all : 0;
  return e;
}

}  // namespace

LAI_BENCH_SUITE(probmat, "ProbMat accumulation vs memory bandwidth, WPM time, RSS and phantom AUROCs per compact form") {
  const int S = args.quick ? 256 : 512;
  const int n_train = args.quick ? 96 : 192, n_test = args.quick ? 30 : 50, n_calib = 20, batch = 32;
  const int repeats = std::max(1, std::min(args.repeats, 5));
  report.note("probmat: SYNTHETIC phantoms " + std::to_string(S) + "x" + std::to_string(S) + ", " +
              std::to_string(n_train) + " normal training images, " + std::to_string(n_test) + " normal + " +
              std::to_string(n_test) + " foreign-body test images");
  const double bw = stream_read_gbps(size_t(512) << 20, repeats);
  report.add({"stream_read_bandwidth", bw, "GB/s", "", 0});
  // Single-thread read bandwidth in CPU time, the reference of the CPU-time accumulation figures.
  set_num_threads(1);
  double bw1 = 0;
  {
    std::vector<float> buf((size_t(256) << 20) / 4, 1.f);
    volatile float sink = 0;
    const double s = cpu_median(repeats, [&] {
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (size_t i = 0; i + 8 <= buf.size(); i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += buf[i + size_t(k)];
      sink = sink + acc[0] + acc[7];
    });
    bw1 = double(buf.size() * 4) / s / 1e9;
  }
  set_num_threads(0);
  report.add({"stream_read_bandwidth_t1_cpu", bw1, "GB/s", "", 0});

  bench::PhantomSet set = bench::make_phantom_set(S, n_train, n_calib, n_test, {7, 97, 98, 99});
  std::vector<data::Image>& train = set.train;
  std::vector<data::Image>& calib = set.calib;
  std::vector<data::Phantom>& test = set.test;
  std::vector<const data::Image*> first_batch;
  for (int i = 0; i < batch; ++i) first_batch.push_back(&train[size_t(i)]);

  // Smallest first, so each form's peak RSS is not hidden by a larger earlier one.
  const std::vector<Form> forms = {{"b32_u16_s4", 32, 16, 4},   {"b64_u16_s2", 64, 16, 2}, {"b32_u16", 32, 16, 1},
                                   {"b64_u16", 64, 16, 1},      {"b128_u16", 128, 16, 1},  {"b256_u16", 256, 16, 1},
                                   {"b256_u32", 256, 32, 1}};
  Eval reference;
  std::vector<std::pair<std::string, Eval>> evals;
  const double base_rss = bench::current_rss_mb();
  const std::vector<int> thread_counts = args.threads > 0 ? std::vector<int>{args.threads} : std::vector<int>{1, 2};
  for (const Form& f : forms) {
    ProbMatConfig c{S, S, f.bins, f.bits, f.scale, 1, 0.f, 255.f};
    // Accumulation throughput on one batch of 32 images, without and with alignment tolerance
    // (tolerance 1 counts 9 samples per pixel). Ratio: the input stream (4 bytes per pixel)
    // as a fraction of the measured read bandwidth.
    for (int tol : {0, 1})
      for (int t : thread_counts) {
        ProbMatConfig ct = c;
        ct.tolerance = tol;
        set_num_threads(t);
        ProbMat scratch(ct);
        const double s = bench::median_seconds(repeats, [&] { scratch.add_batch(first_batch); });
        set_num_threads(0);
        const double pix = double(batch) * S * S / s;
        report.add({"probmat_accumulate_" + f.name + "_tol" + std::to_string(tol) + "_t" + std::to_string(t), pix / 1e6,
                    "Mpixel/s", "stream_read_bandwidth", pix * 4.0 / (bw * 1e9)});
        if (t == 1) {
          set_num_threads(1);
          const double cs = cpu_median(repeats, [&] { scratch.add_batch(first_batch); });
          set_num_threads(0);
          const double cpix = double(batch) * S * S / cs;
          report.add({"probmat_accumulate_" + f.name + "_tol" + std::to_string(tol) + "_t1_cpu", cpix / 1e6,
                      "Mpixel/s", "stream_read_bandwidth_t1_cpu", cpix * 4.0 / (bw1 * 1e9)});
          // Memory traffic actually moved: the input floats plus one read and one write of the
          // whole count array per batch (what bounds accumulation for wide forms).
          const double bytes_per_pixel = 4.0 + 2.0 * double(ct.count_bytes()) / (double(batch) * S * S);
          report.add({"probmat_traffic_" + f.name + "_tol" + std::to_string(tol) + "_t1_cpu",
                      cpix * bytes_per_pixel / 1e9, "GB/s", "stream_read_bandwidth_t1_cpu",
                      cpix * bytes_per_pixel / (bw1 * 1e9)});
        }
      }
    // Peak RSS of building and finalizing this form (freed heap returned first, so reuse of
    // earlier forms' memory does not hide it).
    malloc_trim(0);
    bench::reset_peak_rss();
    const double rss0 = bench::current_rss_mb();
    ProbMat pm(c);
    for (int i = 0; i < n_train; i += batch) {
      std::vector<const data::Image*> p;
      for (int k = i; k < std::min(n_train, i + batch); ++k) p.push_back(&train[size_t(k)]);
      pm.add_batch(p);
    }
    const double t0 = bench::now_seconds();
    const ProbTable table = pm.finalize();
    const double fin = bench::now_seconds() - t0;
    const double peak = bench::peak_rss_mb() - rss0;
    report.add({"probmat_finalize_" + f.name, fin, "s", "", 0});
    report.add({"probmat_counts_" + f.name, double(pm.memory_bytes()) / 1048576.0, "MB", "", 0});
    report.add({"probmat_table_" + f.name, double(table.memory_bytes()) / 1048576.0, "MB", "", 0});
    report.add({"probmat_peak_rss_" + f.name, peak, "MB", "", 0});
    const double ws = bench::median_seconds(repeats, [&] {
      const data::Image m = wpm(table, test[1].image);
      volatile double sc = image_score(m);
      (void)sc;
    });
    report.add({"wpm_score_" + f.name + "_" + std::to_string(S), ws * 1e3, "ms", "", 0});
    set_num_threads(1);
    const double wc = cpu_median(repeats, [&] {
      const data::Image m = wpm(table, test[1].image);
      volatile double sc = image_score(m);
      (void)sc;
    });
    set_num_threads(0);
    report.add({"wpm_score_" + f.name + "_" + std::to_string(S) + "_t1_cpu", wc * 1e3, "ms", "", 0});
    const Eval e = evaluate(table, test, calib, S);
    if (f.name == "b256_u32") reference = e;
    evals.push_back({f.name, e});
  }
  (void)base_rss;
  // Quality: ratio = this form / the full form (256 bins, u32, full resolution).
  for (const auto& [name, e] : evals) {
    auto add = [&, n = name](const std::string& what, double v, double ref) {
      report.add({what + "_" + n, v, "", ref > 0 ? "b256_u32" : "", ref > 0 ? v / ref : 0});
    };
    add("pixel_auroc", e.pixel_auroc, reference.pixel_auroc);
    add("image_auroc_topk", e.image_topk, reference.image_topk);
    add("image_auroc_blob", e.image_blob, reference.image_blob);
    add("image_auroc_circles", e.image_circles, reference.image_circles);
    add("hough_recall", e.recall, reference.recall);
    add("hough_precision", e.precision, reference.precision);
  }
}
