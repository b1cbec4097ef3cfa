// liteai probmat build|score|merge|info: per-pixel intensity models of normal images and the
// weighted probability maps (WPM) of new images against them (app/anomaly_tasks.hpp).
#include <chrono>
#include <cstdio>
#include <optional>

#include "command.hpp"
#include "liteai/anomaly/calibration.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/detection_tasks.hpp"
#include "liteai/app/dicom_tasks.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

const char* kUsage =
    "usage: liteai probmat build --data DIR|CSV --size S --out PM.lpm [options]\n"
    "       liteai probmat score --probmat PM.lpm --out DIR [--dicom-out DIR] [options] IMAGE|DIR...\n"
    "       liteai probmat merge --out PM.lpm A.lpm B.lpm...\n"
    "       liteai probmat info PM.lpm\n";

int build(const cli::Args& args) {
  auto p = cli::parse(app::probmat_build_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "probmat build");
  app::Options& o = p->options;
  o.require("data");
  o.require("out");
  o.require("size");
  const auto out_lock = app::claim_output(o);
  const auto t0 = std::chrono::steady_clock::now();
  const app::BuiltProbMat b = app::build_probmat(o);
  b.probmat.save(o.get_text("out"), &b.calibration);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.get_bool("quiet")) {
    std::printf("probmat: %llu images -> %s (%s) in %.1f s\n", (unsigned long long)b.probmat.images(),
                o.get_text("out").c_str(), b.probmat.config().describe().c_str(), s);
    if (!b.calibration.empty())
      std::printf("calibration: %lld normal images, circle threshold %.4g at 0.125 false circles per image\n",
                  (long long)b.calibration.scores.images(), b.calibration.scores.circle_threshold(0.125));
  }
  return 0;
}

// probmat score's options plus its DICOM output (the C API has it as lai_dicom_encode_*).
const app::OptionSet& score_cli_options() {
  static const app::OptionSet s = [] {
    app::OptionSet o("probmat score", app::probmat_score_options().summary());
    o.include(app::probmat_score_options());
    o.group("output").path("dicom-out",
                           "folder for the DICOM results of DICOM images: DIR/<name>_sr.dcm (the score and the "
                           "circles found in the map) and DIR/<name>_sc.dcm (the overlay)",
                           "DIR");
    return o;
  }();
  return s;
}

int score(const cli::Args& args) {
  auto p = cli::parse(score_cli_options(), args, kUsage);
  if (!p) return 0;
  app::Options& o = p->options;
  o.require("probmat");
  o.require("out");
  LAI_CHECK(!p->positional.empty(), "probmat score: give at least one IMAGE or DIR to score");
  app::apply_common(o);
  ProbMatCalibration cal;
  const ProbMat pm = ProbMat::load(o.get_text("probmat"), &cal);
  const ProbMatConfig& c = pm.config();
  LAI_CHECK(pm.images() > 0, o.get_text("probmat"), ": the ProbMat holds no images");
  bool calibrated = false;
  app::WpmSettings ws = app::wpm_settings(o, c.width, cal, &calibrated);
  const ProbTable table = pm.finalize(ws.finalize);
  auto load = [&](const std::string& path) {
    return app::probmat_units(c, app::load_unit_image(path, c.width, c.height));
  };
  if (o.has("normals")) {
    std::vector<data::Image> normals;
    for (const auto& path : app::expand_image_paths({o.get_text("normals")}, "probmat score"))
      normals.push_back(wpm(table, load(path), ws.wpm));
    ws.threshold = app::threshold_from_normals(normals, o.get_number("fpr"));
    std::fprintf(stderr, "probmat score: threshold %.4g (pixel false-positive rate %g on %zu normal images)\n",
                 ws.threshold, o.get_number("fpr"), normals.size());
  }
  app::ScoreLines lines(o, app::wpm_scoring(cal, calibrated, ws));
  if (ws.circle_score) lines.set_score([&](const data::Image& m) { return circle_score(m, ws.circles); });
  app::MapWriter writer(o.get_text("out"), o.get_bool("png"), "probmat score");
  std::optional<app::DicomWriter> dicom;
  if (o.has("dicom-out")) dicom.emplace(o.get_text("dicom-out"));
  const std::string version = app::probmat_version(pm);
  const float heat_hi = ws.wpm.kind == WpmKind::NegLog ? -1.f : 1.f;
  std::printf("%s\n", lines.header().c_str());
  for (const std::string& path : app::expand_image_paths(p->positional, "probmat score")) {
    const data::Image img = load(path);
    const data::Image m = wpm(table, img, ws.wpm);
    writer.write(path, img, m, ws.threshold, heat_hi);
    const data::ImageInfo info = data::probe_image(path);
    std::printf("%s\n", lines.add(path, m, info.width, info.height).c_str());
    if (dicom)
      dicom->write(path, {app::assessment_findings("liteai probmat", version, lines.last(), m.width, m.height,
                                                   info.width, info.height),
                          &m, ws.threshold, heat_hi});
    std::fflush(stdout);
  }
  lines.finish();
  return 0;
}

int merge(const cli::Args& args) {
  static const app::OptionSet set = [] {
    app::OptionSet s("probmat merge", "Adds the counts of ProbMats built with identical settings (e.g. at several sites). The merged counts are a new model: calibrations do not carry over.");
    s.path("out", "the merged ProbMat", "PM.lpm");
    return s;
  }();
  auto p = cli::parse(set, args, kUsage);
  if (!p) return 0;
  p->options.require("out");
  LAI_CHECK(p->positional.size() >= 2, "probmat merge: give at least two .lpm files");
  ProbMat acc = ProbMat::load(p->positional[0]);
  for (size_t i = 1; i < p->positional.size(); ++i) {
    try {
      acc.merge(ProbMat::load(p->positional[i]));
    } catch (const Error& e) {
      throw Error(e.kind(), str_cat(p->positional[i], ": ", e.what()));
    }
  }
  acc.save(p->options.get_text("out"));
  std::printf("probmat: merged %zu files, %llu images -> %s\n", p->positional.size(), (unsigned long long)acc.images(),
              p->options.get_text("out").c_str());
  return 0;
}

int info(const cli::Args& args) {
  LAI_CHECK(args.size() == 1, "probmat info: give one .lpm file");
  ProbMatCalibration cal;
  const ProbMat pm = ProbMat::load(args[0], &cal);
  const ProbMatConfig& c = pm.config();
  std::printf("file: %s\nimages: %llu\nconfig: %s\ncounts memory: %.2f MB\nfinalized table: %.2f MB\n", args[0].c_str(),
              (unsigned long long)pm.images(), c.describe().c_str(), double(pm.memory_bytes()) / 1048576.0,
              double(uint64_t(c.cells()) * (uint64_t(c.bins) * 2 + 8)) / 1048576.0);
  if (cal.empty()) {
    std::printf("calibration: none\n");
  } else {
    const Calibration& s = cal.scores;
    std::printf("calibration: %lld normal images, image score %s, circles %s; circle threshold %.4g at 0.125 false "
                "circles per image (90%%)%s\n",
                (long long)s.images(), to_string(s.score.method), to_string(s.detect.source), s.circle_threshold(0.125),
                s.circles.supported(0.125, 0.9) ? "" : " (too few images for that level: above every normal)");
  }
  return 0;
}

}  // namespace

LAI_COMMAND(probmat, "per-pixel intensity models (build, merge) and anomaly maps of images (score)") {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s\nliteai probmat build --help and liteai probmat score --help list the options.\n", kUsage);
    return args.empty() ? 2 : 0;
  }
  const std::string action = args[0];
  const cli::Args rest(args.begin() + 1, args.end());
  if (action == "build") return build(rest);
  if (action == "score") return score(rest);
  if (action == "merge") return merge(rest);
  if (action == "info") return info(rest);
  throw_error(str_cat("unknown action '", action, "' (build, score, merge or info; liteai probmat --help)"));
}
