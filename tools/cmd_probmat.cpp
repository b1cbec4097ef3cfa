// liteai probmat build|score|merge|info: per-pixel intensity models of normal images and the
// weighted probability maps (WPM) of new images against them.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <new>
#include <optional>
#include <set>

#include "anomaly_common.hpp"
#include "command.hpp"
#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/loader.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;
namespace ac = liteai::cli::anomaly_common;

const char* kHelp =
    "usage: liteai probmat build --data DIR|CSV --size S --out PM.lpm [options]\n"
    "       liteai probmat score --probmat PM.lpm --out DIR [options] IMAGE|DIR...\n"
    "       liteai probmat merge --out PM.lpm A.lpm B.lpm...\n"
    "       liteai probmat info PM.lpm\n"
    "\n"
    "build: streams the images (a folder of images, a folder with one sub-folder per class, or a\n"
    "CSV manifest) batch by batch, resized to S x S and scaled to [0, 1] by their bit depth, into\n"
    "per-pixel intensity histograms, and saves them (.lpm, checksummed, written atomically).\n"
    "  --bins 256|128|64|32 (256)   --counts 32|16 (32)   --scale K (1: a cell pools K x K pixels)\n"
    "  --tolerance T (0: also count pixels within T px, for misaligned images)\n"
    "  --label NAME (only samples of that class, e.g. normal)   --limit N   --batch B (32)\n"
    "  --threads N   --progress (progress lines even when stderr is not a terminal)   --quiet\n"
    "  Memory of the counts: (S/K)^2 x bins x counts/8 bytes (512, 256 bins, u32: 256 MB).\n"
    "\n"
    "score: for each image writes DIR/<name>_wpm.npy (float32, S x S), DIR/<name>_heatmap.png and\n"
    "DIR/<name>_overlay.png, and prints 'path,score' CSV lines (with a header) to stdout.\n"
    "  --kind neglog|rel (neglog: -log(p + eps); rel: 1 - p/max p)   --eps E (0)\n"
    "  --side both|brighter|darker (both)   --smooth SIGMA (1.0 px)\n"
    "  --score topk|percentile|max|mean|blob|circles (topk)   --top F (0.001)   --percentile P (99.9)\n"
    "  --min-radius R --max-radius R (circles score; default 1.4% and 5% of S)\n"
    "  --bandwidth silverman|scott|VALUE (silverman; VALUE in grey levels, 1/256 of the range)   --floor F (1e-5)\n"
    "  --threshold T (overlay threshold; default 8 for neglog, 0.99 for rel)\n"
    "  --normals DIR --fpr F: threshold = the WPM value that a fraction F of the pixels of these\n"
    "      normal images exceed (overrides --threshold)\n"
    "  --no-png (only the .npy files)   --threads N\n"
    "\n"
    "merge: adds the counts of ProbMats built with identical settings (e.g. at several sites).\n";

FinalizeOptions finalize_options(const cli::Options& o) {
  FinalizeOptions f;
  const std::string bw = o.get("bandwidth", "silverman");
  if (bw == "silverman") {
    f.rule = Bandwidth::Silverman;
  } else if (bw == "scott") {
    f.rule = Bandwidth::Scott;
  } else {
    f.rule = Bandwidth::Fixed;
    f.fixed_bandwidth = float(o.get_double("bandwidth", 0));
    LAI_CHECK(f.fixed_bandwidth > 0, "probmat: --bandwidth must be silverman, scott or a positive number, got '", bw, "'");
  }
  f.floor = float(o.get_double("floor", 1e-5));
  return f;
}

int build(const cli::Options& o) {
  LAI_CHECK(o.has("data"), "probmat build: --data DIR|CSV is required (liteai probmat --help)");
  LAI_CHECK(o.has("out"), "probmat build: --out PM.lpm is required");
  LAI_CHECK(o.has("size"), "probmat build: --size S is required (images are resized to S x S)");
  LAI_CHECK(o.positional().size() == 1, "probmat build: unexpected argument '", o.positional().size() > 1 ? o.positional()[1] : "", "'");
  const long long size = o.get_int("size", 0);
  LAI_CHECK(size >= 8 && size <= 8192, "probmat build: --size must be in 8..8192, got ", size);
  ProbMatConfig c;
  c.width = c.height = int(size);
  c.bins = int(o.get_int("bins", 256));
  c.count_bits = int(o.get_int("counts", 32));
  c.scale = int(o.get_int("scale", 1));
  c.tolerance = int(o.get_int("tolerance", 0));
  c.lo = 0.f;
  c.hi = 1.f;
  c.validate();
  const long long batch = o.get_int("batch", 32), limit = o.get_int("limit", 0);
  LAI_CHECK(batch >= 1 && batch <= 4096, "probmat build: --batch must be in 1..4096, got ", batch);
  LAI_CHECK(limit >= 0, "probmat build: --limit must be >= 0");
  if (o.has("threads")) set_num_threads(int(o.get_int("threads", 0)));

  data::DatasetPtr ds = ac::open_images(o.get("data"), "probmat build");
  std::vector<size_t> keep;
  if (o.has("label")) {
    const auto& names = ds->class_names();
    const std::string want = o.get("label");
    int cls = -1;
    for (size_t k = 0; k < names.size(); ++k)
      if (names[k] == want) cls = int(k);
    LAI_CHECK(cls >= 0, "probmat build: --label '", want, "' is not a class of ", o.get("data"), " (classes: ",
              [&] { std::string s; for (auto& n : names) s += (s.empty() ? "" : ", ") + n; return s; }(), ")");
    for (size_t i = 0; i < ds->size(); ++i) {
      const auto l = ds->labels(i);
      if (std::find(l.begin(), l.end(), cls) != l.end()) keep.push_back(i);
    }
  } else {
    for (size_t i = 0; i < ds->size(); ++i) keep.push_back(i);
  }
  if (limit > 0 && keep.size() > size_t(limit)) keep.resize(size_t(limit));
  LAI_CHECK(!keep.empty(), "probmat build: no images selected from ", o.get("data"));
  if (keep.size() != ds->size()) ds = data::subset(ds, keep);

  data::LoaderOptions lo;
  lo.batch_size = int(batch);
  lo.width = lo.height = int(size);
  lo.shuffle = false;
  lo.standardize = false;  // [0, 1] by bit depth
  data::Loader loader(ds, lo);
  std::optional<ProbMat> made;
  try {
    made.emplace(c);
  } catch (const std::bad_alloc&) {
    throw_error(str_cat("probmat build: cannot allocate ", c.count_bytes() / 1048576, " MB of counts for ", c.describe(),
                        " (fewer --bins, --counts 16 or a larger --scale make it smaller)"));
  }
  ProbMat& pm = *made;
  const bool show = !o.has("quiet") && (ac::stderr_is_tty() || o.has("progress"));
  const bool tty = ac::stderr_is_tty();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t done = 0;
  const int64_t total = int64_t(ds->size());
  loader.reset(0);
  while (auto b = loader.next()) {
    pm.add_planes(b->images.data(), b->size());
    done += b->size();
    if (show) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "%sprobmat build: %lld/%lld images, %.1f images/s%s", tty ? "\r" : "", (long long)done,
                   (long long)total, double(done) / std::max(s, 1e-9), tty ? "" : "\n");
    }
  }
  if (show && tty) std::fprintf(stderr, "\n");
  pm.save(o.get("out"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.has("quiet"))
    std::printf("probmat: %llu images -> %s (%s) in %.1f s\n", (unsigned long long)pm.images(), o.get("out").c_str(),
                c.describe().c_str(), s);
  return 0;
}

int score(const cli::Options& o) {
  LAI_CHECK(o.has("probmat"), "probmat score: --probmat PM.lpm is required (liteai probmat --help)");
  LAI_CHECK(o.has("out"), "probmat score: --out DIR is required");
  LAI_CHECK(o.positional().size() >= 2, "probmat score: give at least one IMAGE or DIR to score");
  if (o.has("threads")) set_num_threads(int(o.get_int("threads", 0)));
  const ProbMat pm = ProbMat::load(o.get("probmat"));
  const ProbMatConfig& c = pm.config();
  LAI_CHECK(pm.images() > 0, o.get("probmat"), ": the ProbMat holds no images");
  const ProbTable table = pm.finalize(finalize_options(o));

  WpmOptions wo;
  const std::string kind = o.get("kind", "neglog"), side = o.get("side", "both");
  LAI_CHECK(kind == "neglog" || kind == "rel", "probmat score: --kind must be neglog or rel, got '", kind, "'");
  wo.kind = kind == "rel" ? WpmKind::OneMinusRel : WpmKind::NegLog;
  LAI_CHECK(side == "both" || side == "brighter" || side == "darker", "probmat score: --side must be both, brighter or darker, got '", side, "'");
  wo.side = side == "brighter" ? WpmSide::Brighter : side == "darker" ? WpmSide::Darker : WpmSide::Both;
  wo.smooth_sigma = float(o.get_double("smooth", 1.0));
  wo.eps = float(o.get_double("eps", 0.0));
  LAI_CHECK(wo.smooth_sigma >= 0 && wo.smooth_sigma <= 50, "probmat score: --smooth must be in 0..50");

  const std::string method = o.get("score", "topk");
  ScoreOptions so;
  so.top_fraction = o.get_double("top", 0.001);
  so.percentile = o.get_double("percentile", 99.9);
  HoughOptions ho;
  ho.min_radius = float(o.get_double("min-radius", std::max(1.0, 0.014 * c.width)));
  ho.max_radius = float(o.get_double("max-radius", std::max(double(ho.min_radius) + 1, 0.05 * c.width)));
  ho.min_votes = 5;
  ho.min_support = 0.3f;
  if (method == "topk") so.method = ScoreMethod::TopKMean;
  else if (method == "percentile") so.method = ScoreMethod::Percentile;
  else if (method == "max") so.method = ScoreMethod::Max;
  else if (method == "mean") so.method = ScoreMethod::Mean;
  else if (method == "blob") so.method = ScoreMethod::Blob;
  else LAI_CHECK(method == "circles", "probmat score: --score must be topk, percentile, max, mean, blob or circles, got '", method, "'");

  auto map_of = [&](const std::string& path) { return wpm(table, ac::load_unit(path, c.width, c.height), wo); };
  float threshold = float(o.get_double("threshold", wo.kind == WpmKind::NegLog ? 8.0 : 0.99));
  if (o.has("normals")) {
    const double fpr = o.get_double("fpr", 0.001);
    std::vector<data::Image> normals;
    for (const auto& p : ac::expand_images({o.get("normals")}, "probmat score")) normals.push_back(map_of(p));
    threshold = float(pixel_threshold_for_fpr(normals, fpr));
    std::fprintf(stderr, "probmat score: threshold %.4g (pixel false-positive rate %g on %zu normal images)\n",
                 threshold, fpr, normals.size());
  }
  std::vector<std::string> inputs(o.positional().begin() + 1, o.positional().end());
  ac::MapWriter writer(o.get("out"), !o.has("no-png"), "probmat score");
  for (const std::string& path : ac::expand_images(inputs, "probmat score")) {
    const data::Image img = ac::load_unit(path, c.width, c.height);
    const data::Image m = wpm(table, img, wo);
    const double s = method == "circles" ? circle_score(m, ho) : image_score(m, so);
    writer.write(path, img, m, s, threshold, wo.kind == WpmKind::NegLog ? -1.f : 1.f);
  }
  return 0;
}

int merge(const cli::Options& o) {
  LAI_CHECK(o.has("out"), "probmat merge: --out PM.lpm is required");
  LAI_CHECK(o.positional().size() >= 3, "probmat merge: give at least two .lpm files");
  ProbMat acc = ProbMat::load(o.positional()[1]);
  for (size_t i = 2; i < o.positional().size(); ++i) {
    try {
      acc.merge(ProbMat::load(o.positional()[i]));
    } catch (const Error& e) {
      throw_error(str_cat(o.positional()[i], ": ", e.what()));
    }
  }
  acc.save(o.get("out"));
  std::printf("probmat: merged %zu files, %llu images -> %s\n", o.positional().size() - 1,
              (unsigned long long)acc.images(), o.get("out").c_str());
  return 0;
}

int info(const cli::Options& o) {
  LAI_CHECK(o.positional().size() == 2, "probmat info: give one .lpm file");
  const ProbMat pm = ProbMat::load(o.positional()[1]);
  const ProbMatConfig& c = pm.config();
  std::printf("file: %s\nimages: %llu\nconfig: %s\ncounts memory: %.2f MB\nfinalized table: %.2f MB\n",
              o.positional()[1].c_str(), (unsigned long long)pm.images(), c.describe().c_str(),
              double(pm.memory_bytes()) / 1048576.0,
              double(uint64_t(c.cells()) * (uint64_t(c.bins) * 2 + 8)) / 1048576.0);
  return 0;
}

}  // namespace

LAI_COMMAND(probmat, "per-pixel intensity models (build, merge) and anomaly maps of images (score)") {
  cli::Options o(args,
                 {"data", "size", "out", "bins", "counts", "scale", "tolerance", "label", "limit", "batch", "threads",
                  "probmat", "kind", "side", "smooth", "eps", "score", "top", "percentile", "min-radius", "max-radius",
                  "bandwidth", "floor", "threshold", "normals", "fpr"},
                 {"progress", "quiet", "no-png"});
  if (o.has("help") || o.positional().empty()) {
    std::printf("%s", kHelp);
    return o.has("help") ? 0 : 2;
  }
  const std::string action = o.positional()[0];
  if (action == "build") return build(o);
  if (action == "score") return score(o);
  if (action == "merge") return merge(o);
  if (action == "info") return info(o);
  throw_error(str_cat("unknown action '", action, "' (build, score, merge or info; liteai probmat --help)"));
}
