// liteai som train|map: Kohonen self-organizing maps over rows of a .npy matrix or over the
// per-pixel probability profiles of a ProbMat.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "anomaly_common.hpp"
#include "command.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/anomaly/som.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

const char* kHelp =
    "usage: liteai som train --data X.npy|PM.lpm --out SOM.lsom [options]\n"
    "       liteai som map --som SOM.lsom --data X.npy|PM.lpm [--out BMUS.csv] [--hits HITS.csv]\n"
    "                      [--regions REGIONS.png]\n"
    "\n"
    "Data: a float32 .npy matrix (one sample per row; 1-D arrays are one value per sample), or a\n"
    ".lpm ProbMat, whose cells' probability profiles (one row of `bins` values per cell) are the\n"
    "samples (they group into anatomy regions).\n"
    "\n"
    "train options:\n"
    "  --rows R --cols C (10 x 10)   --hex (hexagonal grid)   --toroidal\n"
    "  --neighborhood gaussian|bubble|hat (gaussian)   --mode batch|online (batch)\n"
    "  --epochs E (20)   --init pca|random (pca)   --schedule exp|linear (exp)   --seed K (1)\n"
    "  --lr A,B (online: 0.5,0.01)   --radius A,B (start,end; start 0 = max(R,C)/2; default 0,1)\n"
    "  --umatrix U.png (write the U-matrix)   --threads N   --quiet\n"
    "  Prints the quantization and topographic errors. Saved as a checksummed .lsom file.\n"
    "map: prints the errors, writes per-sample 'index,bmu,row,col,distance' CSV (--out), per-unit\n"
    "hit counts 'unit,row,col,hits' (--hits), and for a ProbMat the region image (--regions).\n";

struct Samples {
  std::vector<float> x;
  int64_t n = 0;
  int dim = 0;
  bool from_probmat = false;
  ProbTable table;
};

Samples load_samples(const std::string& path, const char* cmd) {
  Samples s;
  const std::string ext = std::filesystem::path(path).extension().string();
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
  LAI_CHECK(ext == ".npy", cmd, ": --data must be a .npy matrix or a .lpm ProbMat, got ", path);
  Shape shape;
  s.x = data::read_npy(path, &shape);
  LAI_CHECK(shape.size() == 1 || shape.size() == 2, cmd, ": ", path, " has shape ", to_string(shape),
            ", expected [samples] or [samples, dim]");
  s.n = shape[0];
  s.dim = shape.size() == 2 ? int(shape[1]) : 1;
  LAI_CHECK(s.n >= 1 && s.dim >= 1, cmd, ": ", path, " holds no samples");
  for (size_t i = 0; i < s.x.size(); ++i)
    LAI_CHECK(std::isfinite(s.x[i]), cmd, ": ", path, ": value ", i, " is not finite");
  return s;
}

std::pair<float, float> pair_of(const cli::Options& o, const std::string& key, float a, float b) {
  if (!o.has(key)) return {a, b};
  const std::string v = o.get(key);
  const auto comma = v.find(',');
  LAI_CHECK(comma != std::string::npos, "som: --", key, " expects START,END, got '", v, "'");
  char* e1 = nullptr;
  char* e2 = nullptr;
  const std::string s1 = v.substr(0, comma), s2 = v.substr(comma + 1);
  const float x = std::strtof(s1.c_str(), &e1), y = std::strtof(s2.c_str(), &e2);
  LAI_CHECK(e1 && *e1 == '\0' && e2 && *e2 == '\0' && !s1.empty() && !s2.empty(), "som: --", key,
            " expects two numbers START,END, got '", v, "'");
  return {x, y};
}

int train(const cli::Options& o) {
  LAI_CHECK(o.has("data"), "som train: --data X.npy|PM.lpm is required (liteai som --help)");
  LAI_CHECK(o.has("out"), "som train: --out SOM.lsom is required");
  if (o.has("threads")) set_num_threads(int(o.get_int("threads", 0)));
  const Samples s = load_samples(o.get("data"), "som train");
  SomConfig c;
  c.rows = int(o.get_int("rows", 10));
  c.cols = int(o.get_int("cols", 10));
  c.dim = s.dim;
  c.topology = o.has("hex") ? SomTopology::Hexagonal : SomTopology::Rectangular;
  c.toroidal = o.has("toroidal");
  const std::string nb = o.get("neighborhood", "gaussian");
  LAI_CHECK(nb == "gaussian" || nb == "bubble" || nb == "hat", "som train: --neighborhood must be gaussian, bubble or hat, got '", nb, "'");
  c.neighborhood = nb == "bubble" ? SomNeighborhood::Bubble : nb == "hat" ? SomNeighborhood::MexicanHat : SomNeighborhood::Gaussian;
  SomTrainOptions t;
  const std::string mode = o.get("mode", "batch"), init = o.get("init", "pca"), sched = o.get("schedule", "exp");
  LAI_CHECK(mode == "batch" || mode == "online", "som train: --mode must be batch or online, got '", mode, "'");
  LAI_CHECK(init == "pca" || init == "random", "som train: --init must be pca or random, got '", init, "'");
  LAI_CHECK(sched == "exp" || sched == "linear", "som train: --schedule must be exp or linear, got '", sched, "'");
  t.mode = mode == "online" ? SomMode::Online : SomMode::Batch;
  t.init = init == "random" ? SomInit::Random : SomInit::Pca;
  t.schedule = sched == "linear" ? SomSchedule::Linear : SomSchedule::Exponential;
  t.epochs = int(o.get_int("epochs", 20));
  t.seed = uint64_t(o.get_int("seed", 1));
  std::tie(t.lr_start, t.lr_end) = pair_of(o, "lr", 0.5f, 0.01f);
  std::tie(t.radius_start, t.radius_end) = pair_of(o, "radius", 0.f, 1.f);
  const bool quiet = o.has("quiet");
  if (!quiet && cli::anomaly_common::stderr_is_tty())
    t.progress = [&](int e, double qe) {
      std::fprintf(stderr, "\rsom train: epoch %d/%d, quantization error %.5g", e + 1, t.epochs, qe);
      if (e + 1 == t.epochs) std::fprintf(stderr, "\n");
      return true;
    };
  Som som(c);
  som.train(s.x.data(), s.n, t);
  som.save(o.get("out"));
  if (o.has("umatrix")) som.write_umatrix_png(o.get("umatrix"));
  if (!quiet)
    std::printf("som: %dx%d %s%s grid, %lld samples of dimension %d -> %s\nquantization_error,%.6g\ntopographic_error,%.6g\n",
                c.rows, c.cols, c.topology == SomTopology::Hexagonal ? "hexagonal" : "rectangular",
                c.toroidal ? " toroidal" : "", (long long)s.n, s.dim, o.get("out").c_str(),
                som.quantization_error(s.x.data(), s.n), som.topographic_error(s.x.data(), s.n));
  return 0;
}

int map(const cli::Options& o) {
  LAI_CHECK(o.has("som"), "som map: --som SOM.lsom is required (liteai som --help)");
  LAI_CHECK(o.has("data"), "som map: --data X.npy|PM.lpm is required");
  if (o.has("threads")) set_num_threads(int(o.get_int("threads", 0)));
  const Som som = Som::load(o.get("som"));
  const Samples s = load_samples(o.get("data"), "som map");
  LAI_CHECK(s.dim == som.config().dim, "som map: the data has dimension ", s.dim, ", the SOM ", som.config().dim);
  std::vector<float> d2;
  const auto b = som.bmus(s.x.data(), s.n, nullptr, &d2);
  std::printf("quantization_error,%.6g\ntopographic_error,%.6g\n", som.quantization_error(s.x.data(), s.n),
              som.topographic_error(s.x.data(), s.n));
  const int cols = som.config().cols;
  if (o.has("out")) {
    std::ofstream f(o.get("out"));
    LAI_CHECK(f.good(), "som map: cannot write ", o.get("out"));
    f << "index,bmu,row,col,distance\n";
    for (int64_t i = 0; i < s.n; ++i)
      f << i << ',' << b[size_t(i)] << ',' << b[size_t(i)] / cols << ',' << b[size_t(i)] % cols << ','
        << std::sqrt(d2[size_t(i)]) << '\n';
    LAI_CHECK(f.good(), "som map: write error on ", o.get("out"));
  }
  if (o.has("hits")) {
    std::vector<int64_t> hits(size_t(som.units()), 0);
    for (int u : b) ++hits[size_t(u)];
    std::ofstream f(o.get("hits"));
    LAI_CHECK(f.good(), "som map: cannot write ", o.get("hits"));
    f << "unit,row,col,hits\n";
    for (int u = 0; u < som.units(); ++u) f << u << ',' << u / cols << ',' << u % cols << ',' << hits[size_t(u)] << '\n';
  }
  if (o.has("regions")) {
    LAI_CHECK(s.from_probmat, "som map: --regions needs a .lpm ProbMat as --data");
    const data::Image reg = profile_regions(s.table, som);
    data::Image scaled = reg;
    write_heatmap_png(o.get("regions"), scaled, 0.f, float(std::max(1, som.units() - 1)));
  }
  return 0;
}

}  // namespace

LAI_COMMAND(som, "Kohonen self-organizing maps: train on .npy rows or ProbMat profiles, map samples") {
  cli::Options o(args,
                 {"data", "out", "rows", "cols", "neighborhood", "mode", "epochs", "init", "schedule", "seed", "lr",
                  "radius", "umatrix", "threads", "som", "hits", "regions"},
                 {"hex", "toroidal", "quiet"});
  if (o.has("help") || o.positional().empty()) {
    std::printf("%s", kHelp);
    return o.has("help") ? 0 : 2;
  }
  const std::string action = o.positional()[0];
  LAI_CHECK(o.positional().size() == 1, "som: unexpected argument '", o.positional().size() > 1 ? o.positional()[1] : "", "'");
  if (action == "train") return train(o);
  if (action == "map") return map(o);
  throw_error(str_cat("unknown action '", action, "' (train or map; liteai som --help)"));
}
