// liteai synth: writes a set of SYNTHETIC chest-radiograph phantoms with masks and a manifest.
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "command.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/phantom.hpp"

namespace {
const char* kHelp =
    "usage: liteai synth --out DIR [--n N] [--size S] [--seed K] [--classes LIST] [--noise X] [--quiet]\n"
    "\n"
    "Writes N SYNTHETIC chest-radiograph phantoms (drawn by formula, no patient data):\n"
    "  DIR/images/NNNNNN.png       8-bit gray, S x S (default 512)\n"
    "  DIR/masks/NNNNNN_mask.png   255 on the finding's pixels\n"
    "  DIR/manifest.csv            path,label,mask,kind,cx,cy,r,x0,y0,x1,y1 (for liteai train --data)\n"
    "  DIR/findings.csv            one row per finding; DIR/README.txt\n"
    "Classes: normal, foreign_body (coin/button/ECG electrode), nodule, opacity, effusion;\n"
    "image i gets class LIST[i mod len] (default 0,1,2,3,4; e.g. --classes 0 for normals only).\n"
    "Options: --n 100  --size 512  --seed 1  --noise 1.0 (noise scale)  --threads T  --quiet\n";
}

LAI_COMMAND(synth, "write synthetic chest-radiograph phantoms (images, masks, manifest)") {
  using namespace liteai;
  cli::Options o(args, {"out", "n", "size", "seed", "classes", "noise", "threads"}, {"quiet"});
  if (o.has("help")) {
    std::printf("%s", kHelp);
    return 0;
  }
  LAI_CHECK(o.has("out"), "synth: --out DIR is required (liteai synth --help)");
  LAI_CHECK(o.positional().empty(), "synth: unexpected argument '", o.positional().empty() ? "" : o.positional()[0], "'");
  const long long n = o.get_int("n", 100), size = o.get_int("size", 512), seed = o.get_int("seed", 1);
  LAI_CHECK(n > 0, "synth: --n must be positive, got ", n);
  LAI_CHECK(size >= 32 && size <= 8192, "synth: --size must be in 32..8192, got ", size);
  if (o.has("threads")) set_num_threads(int(o.get_int("threads", 0)));
  data::PhantomOptions opt;
  opt.size = int(size);
  opt.noise = float(o.get_double("noise", 1.0));
  LAI_CHECK(opt.noise >= 0, "synth: --noise must be >= 0");
  if (o.has("classes")) {
    opt.classes.clear();
    std::stringstream ss(o.get("classes"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      int c = -1;
      const auto& names = data::phantom_class_names();
      for (size_t k = 0; k < names.size(); ++k)
        if (item == names[k] || item == std::to_string(k)) c = int(k);
      LAI_CHECK(c >= 0, "synth: unknown class '", item, "' in --classes (0..4 or normal, foreign_body, nodule, opacity, effusion)");
      opt.classes.push_back(c);
    }
  }
  const bool show = !o.has("quiet");
  const bool tty = isatty(fileno(stderr));
  size_t last = 0;
  auto progress = [&](size_t done, size_t total) {
    if (!show) return;
    if (tty) {
      std::fprintf(stderr, "\rsynth: %zu/%zu images", done, total);
      if (done == total) std::fprintf(stderr, "\n");
    } else if (done == total || done - last >= std::max<size_t>(total / 10, 1)) {
      std::fprintf(stderr, "synth: %zu/%zu images\n", done, total);
      last = done;
    }
  };
  data::SynthSummary s = data::write_phantom_set(o.get("out"), size_t(n), uint64_t(seed), opt, progress);
  std::printf("wrote %zu SYNTHETIC phantoms (%lldx%lld) to %s:", s.images, size, size, o.get("out").c_str());
  for (size_t c = 0; c < s.per_class.size(); ++c)
    if (s.per_class[c]) std::printf(" %s=%zu", data::phantom_class_names()[c].c_str(), s.per_class[c]);
  std::printf("\nmanifest: %s\n", s.manifest.c_str());
  return 0;
}
