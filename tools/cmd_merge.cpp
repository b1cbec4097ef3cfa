// liteai merge: federated averaging of site models (app::merge_models).
#include <cstdio>

#include "command.hpp"
#include "liteai/app/federated_tasks.hpp"

LAI_COMMAND(merge, "federated averaging of site models (FedAvg, FedBN, optional DP)") {
  using namespace liteai;
  auto p = cli::parse(app::merge_options(), args, "usage: liteai merge --out MERGED.lai A.lai B.lai [C.lai...] [--weights N1,N2,...]\n");
  if (!p) return 0;
  p->options.require("out");
  const app::MergeOutcome m = app::merge_models(p->positional, p->options);
  std::printf("merged %zu models:", p->positional.size());
  for (size_t i = 0; i < m.weights.size(); ++i) std::printf(" %s=%.4f", p->positional[i].c_str(), m.weights[i]);
  std::printf("\n%lld tensors averaged", (long long)m.averaged);
  if (m.kept_local) std::printf(", %lld BatchNorm tensors kept local", (long long)m.kept_local);
  std::printf("\nsaved %s\n", p->options.get_text("out").c_str());
  return 0;
}
