// liteai synth: writes a set of SYNTHETIC chest-radiograph phantoms with masks and a manifest.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/data_tasks.hpp"

namespace {
const char* kUsage = "usage: liteai synth --out DIR [--n N] [--size S] [--seed K] [--classes LIST] [--noise X] [--quiet]\n";
}

LAI_COMMAND(synth, "write synthetic chest-radiograph phantoms (images, masks, manifest)") {
  using namespace liteai;
  auto p = cli::parse(app::synth_options(), args, kUsage);
  if (!p) return 0;
  cli::no_positional(*p, "synth");
  p->options.require("out");
  const data::SynthSummary s = app::write_phantoms(p->options);
  const int64_t size = p->options.get_int("size");
  std::printf("wrote %zu SYNTHETIC phantoms (%lldx%lld) to %s:", s.images, (long long)size, (long long)size,
              p->options.get_text("out").c_str());
  for (size_t c = 0; c < s.per_class.size(); ++c)
    if (s.per_class[c]) std::printf(" %s=%zu", data::phantom_class_names()[c].c_str(), s.per_class[c]);
  std::printf("\nmanifest: %s\n", s.manifest.c_str());
  return 0;
}
