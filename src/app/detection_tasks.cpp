#include "liteai/io/file.hpp"
#include "liteai/app/detection_tasks.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "liteai/anomaly/evaluate.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

namespace liteai::app {
namespace fs = std::filesystem;
using namespace liteai::anomaly;

const OptionSet& circle_options() {
  static const OptionSet s = [] {
    OptionSet o("circles", "");
    o.group("circles")
        .choice("circles", "auto", {"auto", "spots", "hough"},
                "where circles come from: scale-space spots or Hough circles on the map (auto: Hough on WPMs, "
                "spots on autoencoder maps)")
        .list("circle-radii", "MIN,MAX radius as fractions of the map width (0.014,0.05)")
        .number("min-contrast", 0, -1e9, 1e9, "circles must score above this (map units)")
        .integer("max-circles", 16, 1, 100000, "circles per map, strongest first");
    return o;
  }();
  return s;
}

const OptionSet& operating_point_options() {
  static const OptionSet s = [] {
    OptionSet o("operating point", "");
    o.group("operating point")
        .number("fp-per-image", 0.125, 1e-6, 1e6,
                "false circles per normal image (and share of normal images flagged) the threshold allows")
        .number("level", 0.9, 0.5, 0.9999, "probability that the rate is at most --fp-per-image, given the calibration");
    return o;
  }();
  return s;
}

DetectOptions circle_settings(const Options& o, CircleSource automatic) {
  DetectOptions d;
  const std::string src = o.get_text("circles");
  d.source = src == "auto" ? automatic : circle_source_from_string(src);
  if (o.has("circle-radii")) {
    const std::vector<double> r = o.get_numbers("circle-radii");
    LAI_CHECK(r.size() == 2, o.spec().task(), ": --circle-radii expects MIN,MAX, got '", o.get_text("circle-radii"), "'");
    d.min_radius = float(r[0]);
    d.max_radius = float(r[1]);
  }
  d.min_contrast = float(o.get_number("min-contrast"));
  d.max_detections = int(o.get_int("max-circles"));
  try {
    d.validate();
  } catch (const Error& e) {
    throw Error(e.kind(), str_cat(o.spec().task(), ": ", e.what()));
  }
  return d;
}

OperatingPoint operating_point(const Options& o) {
  OperatingPoint p;
  p.fp_per_image = o.get_number("fp-per-image");
  p.level = o.get_number("level");
  return p;
}

bool any_given(const Options& o, const OptionSet& set) {
  for (const OptionSpec& s : set.specs())
    if (o.spec().find(s.name) && o.has(s.name)) return true;
  return false;
}

io::Json assessment_json(const Assessment& a, int map_w, int map_h, int image_w, int image_h) {
  io::Json j = io::Json::object();
  j.set("score", io::Json(a.score));
  j.set("p_value", io::Json(a.p_value));  // NaN is written as null
  j.set("flagged", io::Json(a.flagged));
  j.set("circle_threshold", io::Json(a.circle_threshold));
  io::Json circles = io::Json::array();
  for (const Detection& raw : a.circles) {
    const Detection d = scale_detection(raw, map_w, map_h, image_w, image_h);
    io::Json c = io::Json::object();
    c.set("x", io::Json(d.x));
    c.set("y", io::Json(d.y));
    c.set("radius", io::Json(d.radius));
    c.set("score", io::Json(d.score));
    c.set("confidence", io::Json(d.confidence));
    circles.push_back(std::move(c));
  }
  j.set("circles", std::move(circles));
  return j;
}

ScoreLines::ScoreLines(const Options& o, Calibration calibration)
    : cal_(std::move(calibration)), op_(operating_point(o)), detections_(o.get_text_or("detections", "")),
      all_(o.get_bool("all-circles")) {
  header_ = cal_.empty() ? "path,score" : "path,score,p_value,flagged,circles";
}

Assessment ScoreLines::assess(const data::Image& map) const {
  Assessment a = anomaly::assess(map, cal_, op_);
  if (score_ && cal_.empty()) a.score = score_(map);
  return a;
}

std::string ScoreLines::add(const std::string& path, const data::Image& map, int image_w, int image_h) {
  last_ = assess(map);
  const Assessment& a = last_;
  char buf[160];
  if (cal_.empty()) std::snprintf(buf, sizeof buf, ",%.6g", a.score);
  else std::snprintf(buf, sizeof buf, ",%.6g,%.4g,%d,%zu", a.score, a.p_value, a.flagged ? 1 : 0, a.circles.size());
  if (!detections_.empty()) {
    std::vector<Detection> d = all_ ? detect_circles(map, cal_.detect) : a.circles;
    for (Detection& x : d) {
      if (all_ && !cal_.empty()) x.confidence = cal_.circle_confidence(x.score);
      x = scale_detection(x, map.width, map.height, image_w, image_h);
    }
    rows_.push_back({path, std::move(d)});
  }
  return path + buf;
}

void ScoreLines::finish() const {
  if (!detections_.empty()) write_detections_csv(detections_, rows_);
}

// ---------------------------------------------------------------- eval-detections

const OptionSet& eval_detections_options() {
  static const OptionSet s = [] {
    OptionSet o("eval-detections",
                "Image AUROC and FROC (object-CXR: a detection is a hit when its centre lies inside a ground-truth "
                "object; mean sensitivity at 0.125, 0.25, 0.5, 1, 2, 4 and 8 false positives per image) of "
                "detections against the masks of a manifest. The detections come from a file "
                "(path,x,y,radius,score,confidence, e.g. probmat score --detections F --all-circles) or from the "
                "<name>_wpm.npy maps of probmat score / anomaly score.");
    o.group("inputs")
        .path("truth", "manifest with the columns path and mask (liteai synth writes one)", "MANIFEST")
        .path("detections", "detections file (every candidate, for FROC)", "FILE")
        .path("maps", "folder of <name>_wpm.npy maps: circles are found on them", "DIR")
        .choice("score", "spot", {"spot", "topk", "percentile", "max", "mean"}, "image score of a map (--maps)")
        .group("outputs")
        .path("out", "writes evaluation.json, froc.csv, froc.png and froc.svg there", "DIR")
        .text("title", std::nullopt, "title of the FROC chart");
    o.include(circle_options());
    o.include(threads_option());
    return o;
  }();
  return s;
}

io::Json eval_detections(const Options& o) {
  apply_common(o);
  const std::string task = o.spec().task();
  o.require("truth");
  LAI_CHECK(o.has("detections") != o.has("maps"), task, ": give either --detections FILE or --maps DIR");
  const std::string manifest = o.get_text("truth");
  const std::vector<ImageTruth> truth = read_truth_manifest(manifest);
  bool synthetic = false;
  {
    std::ifstream readme(fs::path(manifest).parent_path() / "README.txt");
    std::string first;
    std::getline(readme, first);
    synthetic = first.rfind("SYNTHETIC", 0) == 0;
  }
  DetectionEvaluation e;
  std::string source;
  if (o.has("detections")) {
    source = o.get_text("detections");
    e = evaluate_detections(truth, match_detections(truth, read_detections_csv(source)));
  } else {
    source = o.get_text("maps");
    const DetectOptions detect = circle_settings(o, CircleSource::Spots);
    ScoreOptions score;
    score.method = score_method_from_string(o.get_text("score"));
    score.spots = detect;
    const MapDetections md = detections_from_maps(truth, source, detect, score);
    e = evaluate_detections(truth, md.detections, &md.image_scores);
  }
  io::Json j = e.to_json();
  j.set("truth", io::Json(manifest));
  j.set("source", io::Json(source));
  j.set("synthetic", io::Json(synthetic));
  if (synthetic) j.set("note", io::Json("SYNTHETIC phantoms (liteai synth): not a clinical result"));
  if (o.has("out")) {
    const fs::path out = o.get_text("out");
    std::error_code ec;
    fs::create_directories(out, ec);
    LAI_CHECK_IO(fs::is_directory(out, ec), task, ": cannot create output folder ", out.string());
    const std::string text = j.dump(2) + "\n";
    io::atomic_write_file((out / "evaluation.json").string(), text.data(), text.size(), false);
    const std::string csv = (synthetic ? std::string("# SYNTHETIC phantoms (liteai synth)\n") : std::string()) + e.curve_csv();
    io::atomic_write_file((out / "froc.csv").string(), csv.data(), csv.size(), false);
    std::string title = o.get_text_or("title", "FROC");
    if (synthetic && title.find("SYNTHETIC") == std::string::npos) title += " (SYNTHETIC phantoms)";
    const data::Chart chart = froc_chart(e, title);
    chart.write_png((out / "froc.png").string(), 640, 420);
    chart.write_svg((out / "froc.svg").string(), 640, 420);
  }
  return j;
}

}  // namespace liteai::app
