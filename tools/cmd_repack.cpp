// liteai repack: app::repack (graph transforms, bf16 weights, before/after figures) on the command line's options.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/repack_tasks.hpp"

namespace {
const char* kUsage = "usage: liteai repack --in MODEL.lai --out OUT.lai [--gray] [--fold] [--bf16] [--check DATA]\n";
const char* kEpilog =
    "--gray and --fold are exact (outputs within float rounding); --bf16 rounds the weights. Both files are\n"
    "loaded for inference as `liteai predict` loads them and measured in this process; --json FILE keeps the\n"
    "report.\n";
}  // namespace

LAI_COMMAND(repack, "re-optimize a trained model: 3 -> 1 channel, BatchNorm folding, merged layers, bf16 weights") {
  using namespace liteai;
  auto p = cli::parse(app::repack_options(), args, kUsage, kEpilog);
  if (!p) return 0;
  LAI_CHECK(p->positional.empty(), "repack: unexpected argument '", p->positional[0], "' (liteai repack --help)");
  p->options.require("in");
  p->options.require("out");
  const app::RepackOutcome r = app::repack(p->options);
  std::fputs(r.summary().c_str(), stdout);
  std::printf("saved %s\n", r.out.c_str());
  return 0;
}
