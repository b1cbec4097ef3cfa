// liteai bench roi: ROI-guided training (SPEC section 6, issue 17) against the full-resolution
// compact_cxr, side by side on the same SYNTHETIC phantoms (normal against foreign body: coins,
// buttons, ECG electrodes) at 512x512, the same training images, epochs, batch and recipe (the
// train task's defaults: Adam 1e-3), both through app::train / app::evaluate as `liteai train`
// and `liteai eval` run them (PNG files decoded on the fly):
//   roi_cxr      the whole image downscaled to 128 plus its 2 most anomalous 128 px regions at
//                full resolution, chosen on the WPM of a ProbMat (256x256, 64 bins, u16 counts,
//                tolerance 1) of other normal phantoms, calibrated on a held-back fifth of them;
//   compact_512  compact_cxr at 512x512 (134M weights in its first Dense, update streamed).
// Records: train_roi_512 (training images/s, loading included; reference train_compact_512),
// acc_roi_512 and auroc_roi_512 (held-out accuracy and AUROC; references compact's), and
// rss_train_roi_512 (peak RSS of its whole run, MB; ratio = compact's / this). Each training runs
// alone in a child process, one after the other, so each peak RSS is its own. Also
// roi_hit_rate_512: the share of held-out foreign-body images with a foreign body's centre inside
// one of its regions (what the ROI net can see at full resolution).
//
// Environment: LAI_ROI_EPOCHS, LAI_ROI_TRAIN (training images) override the defaults.
// Measured 2026-12-07 (defaults; 2 threads, one other single-threaded job on the machine):
//   compact_cxr 1.475 images/s, 50.0% (chance), AUROC 0.503, peak RSS 2115 MB (434 s);
//   roi_cxr 114.1 images/s (77.4x), 89.0%, AUROC 0.920, 93.1 MB (22.7x less); regions holding a
//   foreign body's centre: 90%.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/roi_input.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/phantom.hpp"

namespace {
using namespace liteai;

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : fallback;
}

data::PhantomOptions phantom_options(int size, std::vector<int> classes) {
  data::PhantomOptions o;
  o.size = size;
  o.classes = std::move(classes);
  return o;
}

// Regions that hold a foreign body's centre, over the foreign-body images of the test set.
double hit_rate(const std::string& probmat, int size, int whole, int crop, size_t n_test, uint64_t seed) {
  nn::ArchSpec spec{"roi_cxr", {}};
  spec.set("size", double(whole));
  auto model = nn::build_model(spec);
  app::attach_roi(*model, probmat, 2, crop);
  const data::RoiInput in = app::roi_input(*model);
  const data::PhantomOptions po = phantom_options(size, {0, 1});
  int64_t images = 0, hits = 0;
  for (size_t i = 0; i < n_test; ++i) {
    if (data::phantom_label(i, po) != 1) continue;
    const data::Phantom p = data::make_phantom(seed, i, po);
    const std::vector<data::Roi> rois = data::select_rois(in.map(p.image), size, size, in.regions);
    bool hit = false;
    for (const data::Roi& r : rois)
      for (const data::PhantomFinding& f : p.findings)
        hit = hit || (f.cx >= r.x0 && f.cx < r.x0 + r.size && f.cy >= r.y0 && f.cy < r.y0 + r.size);
    ++images;
    hits += hit;
  }
  return images ? 100.0 * double(hits) / double(images) : 0;
}

}  // namespace

// Child: kind (roi | compact) dir epochs batch threads size whole crop. Trains on dir/train,
// evaluates on dir/test; prints ips, seconds, acc, auroc, peak_rss_mb.
LAI_BENCH_CHILD(roi_train) {
  using namespace liteai;
  const std::string kind = args.at(0), dir = args.at(1);
  app::Options o(app::train_options());
  o.set("data", dir + "/train/manifest.csv");
  o.set("epochs", args.at(2));
  o.set("batch", args.at(3));
  o.set("threads", args.at(4));
  o.set("seed", "1");
  o.set("quiet", "yes");
  if (kind == "roi") {
    o.set("roi", dir + "/pm.lpm");
    o.set("roi-k", "2");
    o.set("size", args.at(6));
    o.set("roi-size", args.at(7));
  } else {
    o.set("model", "compact_cxr");
    o.set("size", args.at(5));
  }
  const app::TrainOutcome t = app::train(o);
  std::printf("# %s: %s\n", kind.c_str(), t.memory_plan.c_str());
  app::Options e(app::evaluate_options());
  e.set("data", dir + "/test/manifest.csv");
  e.set("batch", "16");
  e.set("quiet", "yes");
  const app::EvalOutcome r = app::evaluate(*t.model, e);
  std::printf("ips %.4f\nseconds %.2f\n", t.result.images_per_second, t.result.seconds);
  std::printf("acc %.4f\nauroc %.4f\n", r.evaluation.metric, r.evaluation.report.macro_auroc);
  std::printf("peak_rss_mb %.1f\n", bench::peak_rss_mb());
  return 0;
}

LAI_BENCH_SUITE(roi, "ROI-guided training at 512x512 (whole image at 128 + 2 anomalous 128 px regions) vs full-resolution compact_cxr on the same SYNTHETIC phantoms and epochs: images/s, held-out accuracy/AUROC, peak RSS") {
  const int threads = args.threads > 0 ? args.threads : 2;
  set_num_threads(threads);
  const int size = args.quick ? 128 : 512, whole = size / 4, crop = size / 4;
  const size_t n_normals = args.quick ? 40 : 100, n_test = args.quick ? 40 : 100;
  const size_t n_train = size_t(env_int("LAI_ROI_TRAIN", args.quick ? 48 : 160));
  const int64_t epochs = env_int("LAI_ROI_EPOCHS", args.quick ? 1 : 4), batch = 8;
  const uint64_t shift = uint64_t(args.seed) * 10;
  const std::string dir = (std::filesystem::temp_directory_path() / ("liteai_bench_roi_" + std::to_string(getpid()))).string();
  data::write_phantom_set(dir + "/normals", n_normals, 101 + shift, phantom_options(size, {0}));
  data::write_phantom_set(dir + "/train", n_train, 102 + shift, phantom_options(size, {0, 1}));
  data::write_phantom_set(dir + "/test", n_test, 103 + shift, phantom_options(size, {0, 1}));
  {
    app::Options b(app::probmat_build_options());
    b.set("data", dir + "/normals/manifest.csv");
    b.set("size", std::to_string(size / 2));
    b.set("bins", "64");
    b.set("counts", "16");
    b.set("tolerance", "1");
    b.set("quiet", "yes");
    const app::BuiltProbMat pm = app::build_probmat(b);
    pm.probmat.save(dir + "/pm.lpm", pm.calibration.empty() ? nullptr : &pm.calibration);
  }
  const std::string s = std::to_string(size);
  report.note(str_cat("SYNTHETIC phantoms ", s, "x", s, ", normal vs foreign body: ", n_train, " training and ", n_test,
                      " held-out images (PNG, decoded on the fly), ", epochs, " epochs, batch ", batch, ", Adam 1e-3, ",
                      threads, " threads; ProbMat ", size / 2, "x", size / 2, " of ", n_normals, " other normals"));
  report.note(str_cat("roi_cxr: whole image at ", whole, " + 2 regions of ", crop,
                      " px at full resolution; compact_cxr at ", s, "; each trained and evaluated alone in a child "
                      "process, one after the other (wall-time ratios need an idle machine)"));
  const std::vector<std::string> common{dir, std::to_string(epochs), std::to_string(batch), std::to_string(threads), s,
                                        std::to_string(whole), std::to_string(crop)};
  auto run = [&](const std::string& kind) {
    std::vector<std::string> a{kind};
    a.insert(a.end(), common.begin(), common.end());
    bench::ChildResult r = bench::run_child("roi_train", a);
    for (const std::string& n : r.notes) report.note(n);
    if (r.status != 0) report.note(str_cat(kind, ": the child process failed (status ", r.status, ")"));
    r.values["rss"] = std::max(r.values["peak_rss_mb"], r.values["child_peak_rss_mb"]);
    return r;
  };
  bench::ChildResult c = run("compact"), r = run("roi");
  if (c.status == 0 && r.status == 0) {
    auto& cv = c.values;
    auto& rv = r.values;
    report.note(str_cat("training wall time: compact_cxr ", cv["seconds"], " s, roi_cxr ", rv["seconds"], " s"));
    report.add({"train_compact_" + s, cv["ips"], "images/s", "", 0});
    report.add({"train_roi_" + s, rv["ips"], "images/s", "train_compact_" + s, rv["ips"] / cv["ips"]});
    report.add({"acc_compact_" + s, 100 * cv["acc"], "%", "", 0});
    report.add({"acc_roi_" + s, 100 * rv["acc"], "%", "acc_compact_" + s, rv["acc"] / cv["acc"]});
    report.add({"auroc_compact_" + s, cv["auroc"], "", "", 0});
    report.add({"auroc_roi_" + s, rv["auroc"], "", "auroc_compact_" + s, rv["auroc"] / cv["auroc"]});
    report.add({"rss_train_compact_" + s, cv["rss"], "MB", "", 0});
    report.add({"rss_train_roi_" + s, rv["rss"], "MB", "rss_train_compact_" + s, cv["rss"] / rv["rss"]});
  }
  report.add({"roi_hit_rate_" + s, hit_rate(dir + "/pm.lpm", size, whole, crop, n_test, 103 + shift), "%", "", 0});
  std::filesystem::remove_all(dir);
}
