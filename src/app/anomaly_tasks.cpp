#include "liteai/app/anomaly_tasks.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <new>
#include <optional>

#include "liteai/app/detection_tasks.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/log.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/data/transforms.hpp"

namespace liteai::app {
namespace fs = std::filesystem;
using namespace liteai::anomaly;

namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

// The indices of `ds` whose labels include class `label` (all when empty).
std::vector<size_t> samples_of_class(const data::Dataset& ds, const std::string& label, const std::string& task,
                                     const std::string& spec) {
  std::vector<size_t> keep;
  int cls = -1;
  if (!label.empty()) {
    const auto& names = ds.class_names();
    for (size_t k = 0; k < names.size(); ++k)
      if (names[k] == label) cls = int(k);
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    LAI_CHECK(cls >= 0, task, ": --label '", label, "' is not a class of ", spec, " (classes: ", known, ")");
  }
  for (size_t i = 0; i < ds.size(); ++i) {
    if (cls < 0) {
      keep.push_back(i);
      continue;
    }
    const auto l = ds.labels(i);
    if (std::find(l.begin(), l.end(), cls) != l.end()) keep.push_back(i);
  }
  return keep;
}

// The normal images of a data spec: every image, or those of --label.
data::DatasetPtr normal_images(const Options& o, const std::string& task, uint64_t seed) {
  DataRequest r;
  r.task = task;
  r.allow_flat = true;
  r.seed = seed;
  // --limit applies after --label (a subset of the normals), so open without it first.
  Options all = o;
  all.unset("limit");
  DataSource d = open_data(all, r);
  std::vector<size_t> keep = samples_of_class(*d.all, o.get_text_or("label", ""), task, d.spec);
  LAI_CHECK(!keep.empty(), task, ": no images selected from ", d.spec);
  data::DatasetPtr ds = keep.size() == d.all->size() ? d.all : data::subset(d.all, keep);
  const int64_t limit = o.get_int("limit");
  if (limit > 0 && size_t(limit) < ds->size()) ds = data::split_random(ds, 1.0 - double(limit) / double(ds->size()), 7).train;
  return ds;
}

bool show_progress(const Options& o) {
  const int m = progress_mode(o);
  return m == 1 || (m < 0 && ::isatty(2));
}

}  // namespace

// ---------------------------------------------------------------- ProbMat

const OptionSet& probmat_build_options() {
  static const OptionSet s = [] {
    OptionSet o("probmat build",
                "Streams the images (a folder of images, a folder with one sub-folder per class, or a CSV manifest) "
                "batch by batch, resized to S x S and scaled to [0, 1] by their bit depth, into per-pixel intensity "
                "histograms, and saves them (.lpm, checksummed, written atomically). Memory of the counts: "
                "(S/K)^2 x bins x counts/8 bytes (512, 256 bins, u32: 256 MB).");
    o.include(data_options());
    o.group("probmat")
        .text("label", std::nullopt, "only samples of this class (e.g. normal)")
        .integer("size", std::nullopt, 8, 8192, "images are resized to S x S")
        .integer("bins", 256, 1, 65536, "intensity bins: 256, 128, 64 or 32")
        .integer("counts", 32, 1, 64, "bits per count: 32 or 16")
        .integer("scale", 1, 1, 4096, "a cell pools K x K pixels")
        .integer("tolerance", 0, 0, 64, "also count pixels within T px (misaligned images)")
        .integer("batch", 32, 1, 4096, "images decoded per batch")
        .path("out", "where the ProbMat is written", "PM.lpm")
        .group("calibration")
        .number("holdout", 0.2, 0, 0.9,
                "share of the normals held back (every 1/share-th) to calibrate the scores on instead of counted")
        .path("calibrate", "other normal images to calibrate on (then nothing is held back)", "DIR|CSV");
    o.include(wpm_map_options());
    o.include(common_options());
    return o;
  }();
  return s;
}

namespace {

// Streams `ds` through a loader (resized to the ProbMat, unit-scaled) and calls fn on each batch
// [N, 1, S, S]; progress lines and the progress hook count `done` out of `total`.
template <class F>
void stream_unit_batches(const Options& o, const Hooks& hooks, const data::DatasetPtr& ds, int size,
                         const char* what, F&& fn) {
  const std::string task = o.spec().task();
  data::LoaderOptions lo;
  lo.batch_size = int(o.get_int("batch"));
  lo.width = lo.height = size;
  lo.shuffle = false;
  lo.standardize = false;  // [0, 1] by bit depth
  lo.skip_bad = o.get_bool("skip-bad");
  data::Loader loader(ds, lo);
  const bool show = show_progress(o);
  const bool tty = ::isatty(2) && !has_log_sink();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t done = 0, step = 0;
  const int64_t total = int64_t(ds->size()), steps = loader.batches_per_epoch();
  loader.reset(0);
  while (auto b = loader.next()) {
    fn(*b);
    done += b->size();
    ++step;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (show) {
      char line[160];
      std::snprintf(line, sizeof line, "%s: %s %lld/%lld images, %.1f images/s", task.c_str(), what, (long long)done,
                    (long long)total, double(done) / std::max(secs, 1e-9));
      if (tty) std::fprintf(stderr, "\r%s", line);
      else log(LogLevel::info, line);
    }
    if (hooks.progress) {
      optim::Progress p;
      p.phase = optim::Phase::train;
      p.epoch = p.epochs = 1;
      p.step = p.global_step = step;
      p.steps_per_epoch = steps;
      p.images_per_second = double(done) / std::max(secs, 1e-9);
      if (!hooks.progress(p)) throw Error(ErrorKind::cancelled, str_cat(task, ": cancelled by the progress callback"));
    }
  }
  if (show && tty) std::fprintf(stderr, "\n");
  if (loader.skipped() > 0)
    log(LogLevel::warning, str_cat(task, ": skipped ", loader.skipped(), " bad image(s); first: ", loader.first_skipped_error()));
}

// The same options reading another data spec (--calibrate): all its images.
Options with_data(const Options& o, const std::string& spec) {
  Options c = o;
  c.set("data", spec);
  c.unset("limit");
  c.unset("label");
  return c;
}

}  // namespace

BuiltProbMat build_probmat(const Options& o, const Hooks& hooks) {
  apply_common(o);
  const std::string task = o.spec().task();
  o.require("size");
  ProbMatConfig c;
  c.width = c.height = int(o.get_int("size"));
  c.bins = int(o.get_int("bins"));
  c.count_bits = int(o.get_int("counts"));
  c.scale = int(o.get_int("scale"));
  c.tolerance = int(o.get_int("tolerance"));
  c.lo = 0.f;
  c.hi = 1.f;  // unit intensities (see the header)
  c.validate();
  const WpmSettings ws = wpm_settings(o, c.width);  // checked before any image is read
  data::DatasetPtr ds = normal_images(o, task, 7);
  // The held-back share is not counted: the calibration must see normals the ProbMat has not.
  data::DatasetPtr counted = ds, held;
  if (o.has("calibrate")) {
    held = normal_images(with_data(o, o.get_text("calibrate")), task, 7);
  } else if (o.get_number("holdout") > 0) {
    const std::vector<size_t> h = holdout_indices(ds->size(), o.get_number("holdout"));
    if (!h.empty()) {
      held = data::subset(ds, h);
      counted = data::subset(ds, complement_indices(ds->size(), h));
    }
  }
  std::optional<ProbMat> made;
  try {
    made.emplace(c);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::out_of_memory,
                str_cat(task, ": cannot allocate ", c.count_bytes() / 1048576, " MB of counts for ", c.describe(),
                        " (fewer --bins, --counts 16 or a larger --scale make it smaller)"));
  }
  BuiltProbMat out{std::move(*made), {}};
  stream_unit_batches(o, hooks, counted, c.width, "counting",
                      [&](const data::Batch& b) { out.probmat.add_planes(b.images.data(), b.size()); });
  if (!held) return out;
  LAI_CHECK(out.probmat.images() > 0, task, ": no image was counted (all were held back or bad)");
  const ProbTable table = out.probmat.finalize(ws.finalize);
  Calibrator cal(ws.score, ws.detect);
  const size_t plane = size_t(c.width) * size_t(c.height);
  stream_unit_batches(o, hooks, held, c.width, "calibrating on", [&](const data::Batch& b) {
    for (int64_t i = 0; i < b.size(); ++i) {
      data::Image im(c.width, c.height);
      im.max_value = 1.f;
      std::copy_n(b.images.data() + size_t(i) * plane, plane, im.pixels.begin());
      cal.add(wpm(table, im, ws.wpm));
    }
  });
  if (cal.images() == 0) {
    log(LogLevel::warning, str_cat(task, ": no calibration image could be read; the ProbMat is not calibrated"));
    return out;
  }
  out.calibration.finalize = ws.finalize;
  out.calibration.wpm = ws.wpm;
  out.calibration.scores = cal.finish();
  if (!out.calibration.scores.circles.supported(0.125, 0.9))
    log(LogLevel::warning, str_cat(task, ": ", cal.images(), " calibration images are fewer than the 19 that a rate of "
                                         "0.125 false circles per image at 90% needs: thresholds stay above every normal"));
  return out;
}

const OptionSet& wpm_map_options() {
  static const OptionSet s = [] {
    OptionSet o("wpm", "");
    o.group("map")
        .choice("kind", "neglog", {"neglog", "rel"}, "neglog: -log(p + eps); rel: 1 - p/max p")
        .number("eps", 0, 0, 1, "added to p before the log")
        .choice("side", "both", {"both", "brighter", "darker"}, "which deviations count")
        .number("smooth", 1.0, 0, 50, "Gaussian smoothing of the map in pixels")
        .text("bandwidth", "silverman",
              "KDE bandwidth: silverman, scott or a positive VALUE in grey levels (1/256 of the range)")
        .number("floor", 1e-5, 1e-12, 0.5, "probability mass spread uniformly")
        .group("score")
        .choice("score", "spot", {"spot", "topk", "percentile", "max", "mean", "blob", "circles"},
                "image score: spot = the strongest circle's contrast (calibrated); circles = the strongest Hough "
                "circle's votes x support")
        .number("top", 0.001, 1e-9, 1, "topk: the mean of the top fraction F of the pixels")
        .number("percentile", 99.9, 0, 100, "percentile score")
        .number("min-radius", std::nullopt, 0.5, 1e6, "circles score (default 1.4% of S)")
        .number("max-radius", std::nullopt, 1, 1e6, "circles score (default 5% of S)");
    o.include(circle_options());
    return o;
  }();
  return s;
}

namespace {
// The outputs of the map-scoring tasks (probmat score, anomaly score): one description for both.
const OptionSet& map_output_options() {
  static const OptionSet s = [] {
    OptionSet o("map outputs", "");
    o.group("outputs")
        .path("normals", "normal images: the overlay threshold becomes the map value that --fpr of their pixels "
                         "exceed", "DIR")
        .number("fpr", 0.001, 1e-9, 1, "pixel false-positive rate of --normals")
        .flag("png", "write the heatmap and overlay PNGs beside the .npy maps", true)
        .path("detections", "write the circles (path,x,y,radius,score,confidence in image pixels) to this CSV", "FILE")
        .flag("all-circles", "--detections lists every circle found, not only those past the operating point (for FROC)")
        .path("out", "output folder", "DIR");
    o.include(threads_option());
    return o;
  }();
  return s;
}
}  // namespace

const OptionSet& probmat_score_options() {
  static const OptionSet s = [] {
    OptionSet o("probmat score",
                "For each image writes DIR/<name>_wpm.npy (float32, S x S), DIR/<name>_heatmap.png and "
                "DIR/<name>_overlay.png, and prints CSV lines (with a header) to stdout: 'path,score', and for a "
                "calibrated ProbMat 'path,score,p_value,flagged,circles' (p_value: the share of normal images scoring "
                "at least as high; circles: how many pass the operating point). The settings of a calibrated "
                "ProbMat's calibration apply unless map, score or circle options are given.");
    o.group("map").path("probmat", "the ProbMat of normal images", "PM.lpm");
    o.include(wpm_map_options());
    o.include(operating_point_options());
    o.group("outputs")
        .number("threshold", std::nullopt, -1e9, 1e9,
                "overlay threshold (default 8 for neglog, 0.99 for rel; --normals overrides it)");
    o.include(map_output_options());
    return o;
  }();
  return s;
}

WpmSettings wpm_settings(const Options& o, int size) {
  const std::string task = o.spec().task();
  WpmSettings s;
  const std::string bw = o.get_text("bandwidth");
  if (bw == "silverman") {
    s.finalize.rule = Bandwidth::Silverman;
  } else if (bw == "scott") {
    s.finalize.rule = Bandwidth::Scott;
  } else {
    s.finalize.rule = Bandwidth::Fixed;
    char* end = nullptr;
    const double v = std::strtod(bw.c_str(), &end);
    LAI_CHECK(end && *end == '\0' && std::isfinite(v) && v > 0, task,
              ": --bandwidth must be silverman, scott or a positive number, got '", bw, "'");
    s.finalize.fixed_bandwidth = float(v);
  }
  s.finalize.floor = float(o.get_number("floor"));
  s.wpm.kind = o.get_text("kind") == "rel" ? WpmKind::OneMinusRel : WpmKind::NegLog;
  const std::string side = o.get_text("side");
  s.wpm.side = side == "brighter" ? WpmSide::Brighter : side == "darker" ? WpmSide::Darker : WpmSide::Both;
  s.wpm.smooth_sigma = float(o.get_number("smooth"));
  s.wpm.eps = float(o.get_number("eps"));
  const std::string method = o.get_text("score");
  s.circle_score = method == "circles";
  s.score.method = s.circle_score ? ScoreMethod::Spot : score_method_from_string(method);
  s.score.top_fraction = o.get_number("top");
  s.score.percentile = o.get_number("percentile");
  s.detect = circle_settings(o, CircleSource::Hough);
  s.score.spots = s.detect;
  s.circles.min_radius = float(o.get_number_or("min-radius", std::max(1.0, 0.014 * size)));
  s.circles.max_radius = float(o.get_number_or("max-radius", std::max(double(s.circles.min_radius) + 1, 0.05 * size)));
  s.circles.min_votes = 5;
  s.circles.min_support = 0.3f;
  const double overlay = s.wpm.kind == WpmKind::NegLog ? 8.0 : 0.99;
  s.threshold = float(o.spec().find("threshold") ? o.get_number_or("threshold", overlay) : overlay);
  return s;
}

WpmSettings wpm_settings(const Options& o, int size, const ProbMatCalibration& cal, bool* calibrated) {
  WpmSettings s = wpm_settings(o, size);
  *calibrated = false;
  if (cal.empty()) return s;
  const OptionSet& chosen = wpm_map_options();
  if (!any_given(o, chosen)) {
    s.finalize = cal.finalize;
    s.wpm = cal.wpm;
    s.score = cal.scores.score;
    s.detect = cal.scores.detect;
    *calibrated = true;
    return s;
  }
  *calibrated = !s.circle_score && s.finalize == cal.finalize && s.wpm == cal.wpm && s.score == cal.scores.score &&
                s.detect == cal.scores.detect;
  if (!*calibrated)
    log(LogLevel::warning, str_cat(o.spec().task(), ": the map, score or circle options differ from those the ProbMat "
                                                    "was calibrated with: scores are reported uncalibrated"));
  return s;
}

data::Image probmat_units(const ProbMatConfig& c, const data::Image& img) {
  if (c.hi > 1.f || img.max_value == 1.f) return img;
  data::Image u = img;
  const float s = 1.f / img.max_value;
  for (float& v : u.pixels) v *= s;
  u.max_value = 1.f;
  return u;
}

anomaly::Calibration wpm_scoring(const anomaly::ProbMatCalibration& calibration, bool calibrated,
                                 const WpmSettings& s) {
  anomaly::Calibration scores = calibrated ? calibration.scores : anomaly::Calibration();
  scores.score = s.score;
  scores.detect = s.detect;
  return scores;
}

double map_score(const data::Image& map, const WpmSettings& s) {
  return s.circle_score ? circle_score(map, s.circles) : image_score(map, s.score);
}

// ---------------------------------------------------------------- autoencoder

namespace {
// The image score and circles of autoencoder maps: calibrated by anomaly train, used by score.
const OptionSet& autoencoder_map_options() {
  static const OptionSet s = [] {
    OptionSet o("autoencoder maps", "");
    o.group("score")
        .choice("score", "spot", {"spot", "topk", "percentile", "max", "mean"},
                "image score: spot = the strongest circle's contrast (calibrated)")
        .number("top", 0.001, 1e-9, 1, "topk: the mean of the top fraction F of the pixels")
        .number("percentile", 99.9, 0, 100, "percentile score");
    o.include(circle_options());
    return o;
  }();
  return s;
}
}  // namespace

const OptionSet& autoencoder_train_options() {
  static const OptionSet s = [] {
    OptionSet o("anomaly train",
                "Fits a convolutional autoencoder to NORMAL images only (a flat folder of images, a class-folder "
                "tree or a CSV manifest; --label keeps only that class, e.g. normal).");
    o.include(data_options());
    o.group("autoencoder")
        .text("label", std::nullopt, "only samples of this class (e.g. normal)")
        .integer("size", 128, 8, 1024, "network input and map size (a multiple of 4)")
        .integer("width", 16, 1, 256, "channels of the first encoder stage")
        .integer("epochs", 10, 1, 100000, "")
        .integer("batch", 16, 1, 4096, "")
        .number("lr", 2e-3, 1e-9, 10, "Adam learning rate")
        .integer("max-images", 2000, 1, kNoMax, "the training set is held in memory, resized")
        .integer("seed", 1, 0, kNoMax, "weights and shuffling")
        .number("denoise-std", 1, 0, INFINITY, "blob noise added to training inputs so the net redraws anatomy (0: plain)")
        .flag("spread-calibration", "divide the error by the spread of the normal error, not only its mean", true)
        .number("smooth", 2, 0, 100, "Gaussian smoothing of the map in pixels")
        .number("calibration-floor", 0.05, 1e-9, 1e6, "added to the divisor of the normal error")
        .path("out", "where the detector is written", "AE.lai")
        .group("calibration")
        .number("holdout", 0.2, 0, 0.9,
                "share of the normals held back (every 1/share-th) to calibrate the scores on instead of trained on")
        .path("calibrate", "other normal images to calibrate on (then nothing is held back)", "DIR|CSV");
    o.include(autoencoder_map_options());
    o.include(common_options());
    return o;
  }();
  return s;
}

AutoencoderOptions autoencoder_settings(const Options& o) {
  AutoencoderOptions a;
  a.size = o.get_int("size");
  a.width = o.get_int("width");
  a.epochs = o.get_int("epochs");
  a.batch = o.get_int("batch");
  a.lr = float(o.get_number("lr"));
  a.seed = uint64_t(o.get_int("seed"));
  a.denoise_std = float(o.get_number("denoise-std"));
  a.calibrate_variance = o.get_bool("spread-calibration");
  a.smooth_sigma = float(o.get_number("smooth"));
  a.calibration_floor = float(o.get_number("calibration-floor"));
  a.progress = progress_mode(o);
  a.holdout = o.has("calibrate") ? 0.0 : o.get_number("holdout");
  a.score = score_settings(o);
  a.detect = a.score.spots;
  LAI_CHECK(a.size % 4 == 0, o.spec().task(), ": --size must be a multiple of 4, got ", a.size);
  return a;
}

namespace {
// At most `max_images` images of `ds`, resized as read (memory: that many size^2 floats).
std::vector<data::Image> read_resized(const data::Dataset& ds, size_t max_images, int size, bool skip_bad,
                                      const std::string& task) {
  std::vector<data::Image> images;
  size_t skipped = 0;
  for (size_t i = 0; i < ds.size() && images.size() < max_images; ++i) {
    data::Image im;
    try {
      im = ds.get(i).image;
    } catch (const Error& e) {
      if (!skip_bad) throw;
      ++skipped;
      continue;
    }
    images.push_back(data::resize(im, size, size));
  }
  if (skipped) log(LogLevel::warning, str_cat(task, ": skipped ", skipped, " bad image(s)"));
  return images;
}
}  // namespace

AutoencoderDetector train_autoencoder(const Options& o, const Hooks& hooks) {
  apply_common(o);
  const std::string task = o.spec().task();
  AutoencoderOptions a = autoencoder_settings(o);  // options first: a bad one fails before any image is read
  a.callback = hooks.progress;
  data::DatasetPtr ds = normal_images(o, task, a.seed);
  const bool skip_bad = o.get_bool("skip-bad");
  const size_t max_images = size_t(o.get_int("max-images"));
  const std::vector<data::Image> images = read_resized(*ds, max_images, int(a.size), skip_bad, task);
  LAI_CHECK(!images.empty(), task, ": no training images in ", o.get_text("data"));
  std::vector<data::Image> others;
  if (o.has("calibrate")) {
    const Options c = with_data(o, o.get_text("calibrate"));
    others = read_resized(*normal_images(c, task, a.seed), max_images, int(a.size), skip_bad, task);
    LAI_CHECK(!others.empty(), task, ": no calibration images in ", o.get_text("calibrate"));
  }
  if (progress_mode(o) != 0)
    log(LogLevel::info, str_cat(task, ": ", images.size(), " normal images at ", a.size, "x", a.size,
                                o.has("calibrate") ? str_cat(", ", others.size(), " to calibrate on")
                                                   : str_cat(", a share of ", a.holdout, " of them held back to calibrate on")));
  return AutoencoderDetector::train(images, a, o.has("calibrate") ? &others : nullptr);
}

const OptionSet& autoencoder_score_options() {
  static const OptionSet s = [] {
    OptionSet o("anomaly score",
                "For each image writes DIR/<name>_wpm.npy (float32 S x S: calibrated squared reconstruction error), "
                "DIR/<name>_heatmap.png and DIR/<name>_overlay.png, and prints 'path,score' CSV lines (with a "
                "header) to stdout.");
    o.group("score").path("model", "the detector", "AE.lai");
    o.include(autoencoder_map_options());
    o.include(operating_point_options());
    o.include(map_output_options());
    return o;
  }();
  return s;
}

ScoreOptions score_settings(const Options& o) {
  ScoreOptions so;
  so.method = score_method_from_string(o.get_text("score"));
  so.top_fraction = o.get_number("top");
  so.percentile = o.get_number("percentile");
  so.spots = circle_settings(o, CircleSource::Spots);
  return so;
}

Calibration autoencoder_calibration(const Options& o, const AutoencoderDetector& det) {
  const Calibration& c = det.calibration();
  if (c.empty() || !any_given(o, autoencoder_map_options())) return c;
  const ScoreOptions so = score_settings(o);
  if (so == c.score && so.spots == c.detect) return c;
  log(LogLevel::warning, str_cat(o.spec().task(), ": the score or circle options differ from those the detector was "
                                                  "calibrated with: scores are reported uncalibrated"));
  Calibration none;
  none.score = so;
  none.detect = so.spots;
  return none;
}

// ---------------------------------------------------------------- map files

MapWriter::MapWriter(const std::string& out, bool png, const std::string& task, std::string npy_suffix)
    : out_(out), png_(png), npy_suffix_(std::move(npy_suffix)) {
  std::error_code ec;
  fs::create_directories(out, ec);
  LAI_CHECK_IO(fs::is_directory(out, ec), task, ": cannot create output folder ", out);
}

std::string MapWriter::write(const std::string& path, const data::Image& image, const data::Image& map,
                             float threshold, float heat_hi) {
  const std::string stem = fs::path(path).stem().string();
  std::string name = stem;
  for (int k = 2; used_.count(name); ++k) name = stem + "_" + std::to_string(k);
  used_.insert(name);
  const std::string base = (fs::path(out_) / name).string();
  data::write_npy(base + npy_suffix_ + ".npy", map);
  if (png_) {
    write_heatmap_png(base + "_heatmap.png", map, 0.f, heat_hi);
    write_overlay_png(base + "_overlay.png", image, map, threshold);
  }
  return base;
}

float threshold_from_normals(const std::vector<data::Image>& normal_maps, double fpr) {
  return float(pixel_threshold_for_fpr(normal_maps, fpr));
}

// ---------------------------------------------------------------- SOM

const OptionSet& som_train_options() {
  static const OptionSet s = [] {
    OptionSet o("som train",
                "Kohonen self-organizing map of a float32 .npy matrix (one sample per row) or of a .lpm ProbMat's "
                "per-cell probability profiles (they group into anatomy regions). Saved as a checksummed .lsom.");
    o.group("som")
        .path("data", "the samples", "X.npy|PM.lpm")
        .integer("rows", 10, 1, 1024, "grid rows")
        .integer("cols", 10, 1, 1024, "grid columns")
        .flag("hex", "hexagonal grid")
        .flag("toroidal", "the grid wraps around")
        .choice("neighborhood", "gaussian", {"gaussian", "bubble", "hat"}, "")
        .choice("mode", "batch", {"batch", "online"}, "")
        .integer("epochs", 20, 1, 1000000, "")
        .choice("init", "pca", {"pca", "random"}, "")
        .choice("schedule", "exp", {"exp", "linear"}, "decay of the learning rate and radius")
        .integer("seed", 1, 0, kNoMax, "")
        .list("lr", "online: START,END (0.5,0.01)")
        .list("radius", "START,END (start 0 = max(rows, cols) / 2; default 0,1)")
        .path("umatrix", "write the U-matrix as PNG", "U.png")
        .path("out", "where the SOM is written", "SOM.lsom");
    o.include(common_options());
    return o;
  }();
  return s;
}

SomConfig som_config(const Options& o, int dim) {
  SomConfig c;
  c.rows = int(o.get_int("rows"));
  c.cols = int(o.get_int("cols"));
  c.dim = dim;
  c.topology = o.get_bool("hex") ? SomTopology::Hexagonal : SomTopology::Rectangular;
  c.toroidal = o.get_bool("toroidal");
  const std::string nb = o.get_text("neighborhood");
  c.neighborhood = nb == "bubble" ? SomNeighborhood::Bubble : nb == "hat" ? SomNeighborhood::MexicanHat
                                                                          : SomNeighborhood::Gaussian;
  return c;
}

SomTrainOptions som_settings(const Options& o) {
  const std::string task = o.spec().task();
  SomTrainOptions t;
  t.mode = o.get_text("mode") == "online" ? SomMode::Online : SomMode::Batch;
  t.init = o.get_text("init") == "random" ? SomInit::Random : SomInit::Pca;
  t.schedule = o.get_text("schedule") == "linear" ? SomSchedule::Linear : SomSchedule::Exponential;
  t.epochs = int(o.get_int("epochs"));
  t.seed = uint64_t(o.get_int("seed"));
  auto pair = [&](const char* key, float a, float b) -> std::pair<float, float> {
    if (!o.has(key)) return {a, b};
    const std::vector<double> v = o.get_numbers(key);
    LAI_CHECK(v.size() == 2, task, ": --", key, " expects START,END, got '", o.get_text(key), "'");
    return {float(v[0]), float(v[1])};
  };
  std::tie(t.lr_start, t.lr_end) = pair("lr", 0.5f, 0.01f);
  std::tie(t.radius_start, t.radius_end) = pair("radius", 0.f, 1.f);
  return t;
}

SomSamples load_som_samples(const std::string& path, const std::string& task) {
  SomSamples s;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".lpm") {
    s.from_probmat = true;
    s.table = ProbMat::load(path).finalize();
    const auto& c = s.table.config();
    s.n = c.cells();
    s.dim = c.bins;
    s.x.resize(size_t(s.n) * size_t(s.dim));
    for (int64_t k = 0; k < s.n; ++k)
      for (int b = 0; b < s.dim; ++b) s.x[size_t(k) * size_t(s.dim) + size_t(b)] = s.table.prob(k, b);
    return s;
  }
  LAI_CHECK(ext == ".npy", task, ": --data must be a .npy matrix or a .lpm ProbMat, got ", path);
  Shape shape;
  s.x = data::read_npy(path, &shape);
  LAI_CHECK(shape.size() == 1 || shape.size() == 2, task, ": ", path, " has shape ", to_string(shape),
            ", expected [samples] or [samples, dim]");
  s.n = shape[0];
  s.dim = shape.size() == 2 ? int(shape[1]) : 1;
  LAI_CHECK(s.n >= 1 && s.dim >= 1, task, ": ", path, " holds no samples");
  for (size_t i = 0; i < s.x.size(); ++i)
    LAI_CHECK(std::isfinite(s.x[i]), task, ": ", path, ": value ", i, " is not finite");
  return s;
}

// ---------------------------------------------------------------- Hough

const OptionSet& hough_options() {
  static const OptionSet s = [] {
    OptionSet o("hough",
                "Finds circles (gradient-based Hough transform: Sobel + Canny-like edges, centre votes along the "
                "gradient, radius per centre, non-maximum suppression) and prints CSV lines "
                "'path,x,y,radius,votes,support' (support = fraction of the circumference with edges). Images are "
                "scaled to [0, 1] by their bit depth. With --probmat the transform runs on the image's WPM (resized "
                "to the ProbMat's size; coordinates are then in that size).");
    o.group("circles")
        .number("min-radius", 3, 0.5, 1e6, "")
        .number("max-radius", 30, 1, 1e6, "")
        .number("min-dist", 0, 0, 1e6, "minimum distance between centres (0: the minimum radius)")
        .choice("polarity", "bright", {"bright", "dark", "both"}, "")
        .number("blur", 1, 0, 100, "Gaussian blur before the gradients")
        .number("low", 0.1, 0, 1, "low hysteresis threshold, a fraction of the largest gradient")
        .number("high", 0.25, 0, 1, "high hysteresis threshold")
        .number("noise-factor", 5, 0, 1e6, "thresholds at least this many times the median gradient")
        .number("min-votes", 10, 0, 1e9, "accumulator peak threshold")
        .number("min-support", 0.35, 0, 1, "fraction of the circumference backed by edges")
        .integer("max-circles", 100, 1, 1000000, "")
        .path("probmat", "vote on the -log p maps of this ProbMat", "PM.lpm")
        .number("smooth", 1.0, 0, 50, "smoothing of those maps in pixels")
        .path("out", "writes <name>_circles.png: the input with the circles drawn", "DIR");
    o.include(threads_option());
    return o;
  }();
  return s;
}

HoughOptions hough_settings(const Options& o) {
  HoughOptions h;
  h.min_radius = float(o.get_number("min-radius"));
  h.max_radius = float(o.get_number("max-radius"));
  h.min_dist = float(o.get_number("min-dist"));
  h.blur_sigma = float(o.get_number("blur"));
  h.low_threshold = float(o.get_number("low"));
  h.high_threshold = float(o.get_number("high"));
  h.noise_factor = float(o.get_number("noise-factor"));
  h.min_votes = float(o.get_number("min-votes"));
  h.min_support = float(o.get_number("min-support"));
  h.max_circles = int(o.get_int("max-circles"));
  const std::string pol = o.get_text("polarity");
  h.polarity = pol == "dark" ? Polarity::Dark : pol == "both" ? Polarity::Both : Polarity::Bright;
  return h;
}

}  // namespace liteai::app
