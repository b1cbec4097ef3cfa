// liteai probmat build|score|merge|info: per-pixel intensity models of normal images and the
// weighted probability maps (WPM) of new images against them (app/anomaly_tasks.hpp).
#include <chrono>
#include <cstdio>

#include "command.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/core/error.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

const char* kUsage =
    "usage: liteai probmat build --data DIR|CSV --size S --out PM.lpm [options]\n"
    "       liteai probmat score --probmat PM.lpm --out DIR [options] IMAGE|DIR...\n"
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
  const auto t0 = std::chrono::steady_clock::now();
  const ProbMat pm = app::build_probmat(o);
  pm.save(o.get_text("out"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.get_bool("quiet"))
    std::printf("probmat: %llu images -> %s (%s) in %.1f s\n", (unsigned long long)pm.images(),
                o.get_text("out").c_str(), pm.config().describe().c_str(), s);
  return 0;
}

int score(const cli::Args& args) {
  auto p = cli::parse(app::probmat_score_options(), args, kUsage);
  if (!p) return 0;
  app::Options& o = p->options;
  o.require("probmat");
  o.require("out");
  LAI_CHECK(!p->positional.empty(), "probmat score: give at least one IMAGE or DIR to score");
  app::apply_common(o);
  const ProbMat pm = ProbMat::load(o.get_text("probmat"));
  const ProbMatConfig& c = pm.config();
  LAI_CHECK(pm.images() > 0, o.get_text("probmat"), ": the ProbMat holds no images");
  app::WpmSettings ws = app::wpm_settings(o, c.width);
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
  app::MapWriter writer(o.get_text("out"), o.get_bool("png"), "probmat score");
  std::printf("path,score\n");
  for (const std::string& path : app::expand_image_paths(p->positional, "probmat score")) {
    const data::Image img = load(path);
    const data::Image m = wpm(table, img, ws.wpm);
    writer.write(path, img, m, ws.threshold, ws.wpm.kind == WpmKind::NegLog ? -1.f : 1.f);
    std::printf("%s,%.6g\n", path.c_str(), app::map_score(m, ws));
    std::fflush(stdout);
  }
  return 0;
}

int merge(const cli::Args& args) {
  static const app::OptionSet set = [] {
    app::OptionSet s("probmat merge", "Adds the counts of ProbMats built with identical settings (e.g. at several sites).");
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
  const ProbMat pm = ProbMat::load(args[0]);
  const ProbMatConfig& c = pm.config();
  std::printf("file: %s\nimages: %llu\nconfig: %s\ncounts memory: %.2f MB\nfinalized table: %.2f MB\n", args[0].c_str(),
              (unsigned long long)pm.images(), c.describe().c_str(), double(pm.memory_bytes()) / 1048576.0,
              double(uint64_t(c.cells()) * (uint64_t(c.bins) * 2 + 8)) / 1048576.0);
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
