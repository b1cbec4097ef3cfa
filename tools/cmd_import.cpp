// liteai import: app::import_onnx (an ONNX model as a graph model) on the command line's options.
#include <cstdio>

#include "command.hpp"
#include "liteai/app/onnx_tasks.hpp"
#include "liteai/nn/graph.hpp"

namespace {
const char* kUsage =
    "usage: liteai import MODEL.onnx --out MODEL.lai [--classes a,b,...] [--head softmax|sigmoid|none]\n"
    "                     [--size S] [--preprocess imagenet|standardize|unit] [--keep-channels]\n";
const char* kEpilog =
    "The network becomes a graph (`liteai info MODEL.lai` lists its nodes). Operators: those torchvision\n"
    "classification nets and common Keras/TensorFlow exports use; anything else is refused naming the\n"
    "node, its operator and the attribute, and nothing is written.\n";
}  // namespace

LAI_COMMAND(import, "bring a model in from ONNX (PyTorch, Keras, TensorFlow exports) as a graph model") {
  using namespace liteai;
  auto p = cli::parse(app::import_options(), args, kUsage, kEpilog);
  if (!p) return 0;
  LAI_CHECK(p->positional.size() == 1 && !p->options.has("onnx"),
            "import: give exactly one MODEL.onnx (liteai import --help)");
  p->options.set("onnx", p->positional[0], app::OptionStyle::cli);
  p->options.require("out");
  const auto model = app::import_onnx(p->options);
  const auto& g = dynamic_cast<const nn::Graph&>(*model->net);
  const nn::Preprocessing& pre = model->preprocessing;
  std::printf("imported %s: %zu nodes, %lld parameters, input %lldx%lldx%lld, ", p->positional[0].c_str(),
              g.nodes().size(), (long long)g.parameter_count(), (long long)pre.channels, (long long)pre.height,
              (long long)pre.width);
  if (model->num_classes() > 0)
    std::printf("%lld classes (%s)\n", (long long)model->num_classes(), nn::to_string(model->head()));
  else
    std::printf("raw outputs (head none)\n");
  std::printf("saved %s\n", p->options.get_text("out").c_str());
  return 0;
}
