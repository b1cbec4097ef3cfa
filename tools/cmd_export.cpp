// liteai export: app::export_onnx (a liteai model written as ONNX) on the command line's options.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/model_tasks.hpp"
#include "liteai/app/onnx_tasks.hpp"

namespace {
const char* kUsage = "usage: liteai export MODEL.lai --out MODEL.onnx\n";
}  // namespace

LAI_COMMAND(export, "write a liteai model (zoo or graph) as ONNX for other tools") {
  using namespace liteai;
  auto p = cli::parse(app::export_options(), args, kUsage);
  if (!p) return 0;
  LAI_CHECK(p->positional.size() == 1, "export: give exactly one MODEL.lai (liteai export --help)");
  p->options.require("out");
  const auto model = app::load_model(p->positional[0]);
  app::export_onnx(*model, p->options);
  std::printf("wrote %s (%lld parameters)\n", p->options.get_text("out").c_str(),
              (long long)model->net->parameter_count());
  return 0;
}
