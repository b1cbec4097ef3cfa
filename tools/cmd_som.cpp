// liteai som train|map: Kohonen self-organizing maps over rows of a .npy matrix or over the
// per-pixel probability profiles of a ProbMat (app/anomaly_tasks.hpp).
#include <cmath>
#include <cstdio>
#include <fstream>

#include "command.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/anomaly/senafas.hpp"
#include "liteai/core/error.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

const char* kUsage =
    "usage: liteai som train --data X.npy|PM.lpm --out SOM.lsom [options]\n"
    "       liteai som map --som SOM.lsom --data X.npy|PM.lpm [--out BMUS.csv] [--hits HITS.csv]\n"
    "                      [--regions REGIONS.png]\n";

const app::OptionSet& map_options() {
  static const app::OptionSet s = [] {
    app::OptionSet o("som map",
                     "Prints the quantization and topographic errors, writes per-sample 'index,bmu,row,col,distance' "
                     "CSV (--out), per-unit hit counts 'unit,row,col,hits' (--hits), and for a ProbMat the region "
                     "image (--regions).");
    o.path("som", "the SOM", "SOM.lsom")
        .path("data", "the samples", "X.npy|PM.lpm")
        .path("out", "per-sample best-matching units", "BMUS.csv")
        .path("hits", "per-unit hit counts", "HITS.csv")
        .path("regions", "region image of a ProbMat's cells", "REGIONS.png");
    o.include(app::threads_option());
    return o;
  }();
  return s;
}

int train(const cli::Args& args) {
  auto p = cli::parse(app::som_train_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "som train");
  const app::Options& o = p->options;
  o.require("data");
  o.require("out");
  app::apply_common(o);
  const app::SomSamples s = app::load_som_samples(o.get_text("data"), "som train");
  const SomConfig c = app::som_config(o, s.dim);
  SomTrainOptions t = app::som_settings(o);
  const bool quiet = o.get_bool("quiet");
  if (!quiet && cli::stderr_is_tty())
    t.progress = [&](int e, double qe) {
      std::fprintf(stderr, "\rsom train: epoch %d/%d, quantization error %.5g", e + 1, t.epochs, qe);
      if (e + 1 == t.epochs) std::fprintf(stderr, "\n");
      return true;
    };
  Som som(c);
  som.train(s.x.data(), s.n, t);
  som.save(o.get_text("out"));
  if (o.has("umatrix")) som.write_umatrix_png(o.get_text("umatrix"));
  if (!quiet)
    std::printf("som: %dx%d %s%s grid, %lld samples of dimension %d -> %s\nquantization_error,%.6g\ntopographic_error,%.6g\n",
                c.rows, c.cols, c.topology == SomTopology::Hexagonal ? "hexagonal" : "rectangular",
                c.toroidal ? " toroidal" : "", (long long)s.n, s.dim, o.get_text("out").c_str(),
                som.quantization_error(s.x.data(), s.n), som.topographic_error(s.x.data(), s.n));
  return 0;
}

int map(const cli::Args& args) {
  auto p = cli::parse(map_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "som map");
  const app::Options& o = p->options;
  o.require("som");
  o.require("data");
  app::apply_common(o);
  const Som som = Som::load(o.get_text("som"));
  const app::SomSamples s = app::load_som_samples(o.get_text("data"), "som map");
  LAI_CHECK(s.dim == som.config().dim, "som map: the data has dimension ", s.dim, ", the SOM ", som.config().dim);
  std::vector<float> d2;
  const auto b = som.bmus(s.x.data(), s.n, nullptr, &d2);
  std::printf("quantization_error,%.6g\ntopographic_error,%.6g\n", som.quantization_error(s.x.data(), s.n),
              som.topographic_error(s.x.data(), s.n));
  const int cols = som.config().cols;
  if (o.has("out")) {
    std::ofstream f(o.get_text("out"));
    LAI_CHECK_IO(f.good(), "som map: cannot write ", o.get_text("out"));
    f << "index,bmu,row,col,distance\n";
    for (int64_t i = 0; i < s.n; ++i)
      f << i << ',' << b[size_t(i)] << ',' << b[size_t(i)] / cols << ',' << b[size_t(i)] % cols << ','
        << std::sqrt(d2[size_t(i)]) << '\n';
    LAI_CHECK_IO(f.good(), "som map: write error on ", o.get_text("out"));
  }
  if (o.has("hits")) {
    std::vector<int64_t> hits(size_t(som.units()), 0);
    for (int u : b) ++hits[size_t(u)];
    std::ofstream f(o.get_text("hits"));
    LAI_CHECK_IO(f.good(), "som map: cannot write ", o.get_text("hits"));
    f << "unit,row,col,hits\n";
    for (int u = 0; u < som.units(); ++u) f << u << ',' << u / cols << ',' << u % cols << ',' << hits[size_t(u)] << '\n';
  }
  if (o.has("regions")) {
    LAI_CHECK(s.from_probmat, "som map: --regions needs a .lpm ProbMat as --data");
    write_heatmap_png(o.get_text("regions"), profile_regions(s.table, som), 0.f, float(std::max(1, som.units() - 1)));
  }
  return 0;
}

}  // namespace

LAI_COMMAND(som, "Kohonen self-organizing maps: train on .npy rows or ProbMat profiles, map samples") {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s\nliteai som train --help and liteai som map --help list the options.\n", kUsage);
    return args.empty() ? 2 : 0;
  }
  const cli::Args rest(args.begin() + 1, args.end());
  if (args[0] == "train") return train(rest);
  if (args[0] == "map") return map(rest);
  throw_error(str_cat("unknown action '", args[0], "' (train or map; liteai som --help)"));
}
