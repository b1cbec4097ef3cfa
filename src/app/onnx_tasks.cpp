#include "liteai/app/onnx_tasks.hpp"

#include "liteai/app/model_tasks.hpp"
#include "liteai/nn/graph.hpp"

#ifdef LITEAI_HAVE_ONNX
#include "liteai/interop/onnx.hpp"
#endif

namespace liteai::app {

bool onnx_available() {
#ifdef LITEAI_HAVE_ONNX
  return true;
#else
  return false;
#endif
}

const OptionSet& import_options() {
  static const OptionSet s = [] {
    OptionSet o("import", "Brings a model trained elsewhere (PyTorch, Keras, TensorFlow exports) in from ONNX as a "
                          "graph model: it can then be evaluated, fine-tuned, used as a teacher and repacked. What "
                          "the options leave unset comes from the file's liteai metadata (a liteai export), else the "
                          "defaults.");
    o.group("import")
        .path("onnx", "the ONNX model (initializers stored as external data are read from its folder)", "MODEL.onnx")
        .path("out", "where to save the imported model", "MODEL.lai")
        .list("classes", "class names, one per output (default class0, class1, ...)")
        .choice("head", std::nullopt, {"softmax", "sigmoid", "none"},
                "how the outputs are read: softmax (single label), sigmoid (multi-label), none (raw; default softmax)")
        .integer("size", 0, 0, 16384, "input height and width (0: as the file says; needed when it is symbolic)")
        .choice("preprocess", std::nullopt, {"imagenet", "standardize", "unit"},
                "imagenet: [0, 1] then ImageNet's per-channel mean/std in the graph (torchvision's; default); "
                "standardize: per-image standardization; unit: [0, 1] only")
        .flag("keep-channels", "keep the file's input channels (gray images are replicated over them when read) "
                               "instead of a 1-channel input replicated in the graph");
    return o;
  }();
  return s;
}

const OptionSet& export_options() {
  static const OptionSet s = [] {
    OptionSet o("export", "Writes a liteai model (zoo or graph) as ONNX (opset 14, checked by the ONNX checker) for "
                          "other tools: the network's outputs (logits), with the class names, head and "
                          "preprocessing as metadata.");
    o.group("export").path("out", "the ONNX file to write", "MODEL.onnx");
    return o;
  }();
  return s;
}

namespace {
[[maybe_unused]] [[noreturn]] void no_onnx(const std::string& task) {
  throw_error(ErrorKind::not_supported, str_cat(task, ": this build of liteai has no ONNX support (install "
                                                      "libonnx-dev and libprotobuf-dev, e.g. scripts/setup-deps, "
                                                      "and rebuild)"));
}
}  // namespace

std::shared_ptr<nn::Model> import_onnx(const Options& o) {
#ifdef LITEAI_HAVE_ONNX
  interop::onnx::ImportOptions io;
  if (o.has("classes")) io.classes = o.get_list("classes");
  if (o.has("head")) io.head = nn::head_from_string(o.get_text("head"));
  if (o.has("preprocess")) io.preprocess = interop::onnx::preprocess_from_string(o.get_text("preprocess"));
  io.size = o.get_int("size");
  io.gray = !o.get_bool("keep-channels");
  auto model = interop::onnx::import_model(o.get_text("onnx"), io);
  if (o.has("out")) save_model(*model, o.get_text("out"));
  return model;
#else
  no_onnx(o.spec().task());
#endif
}

void export_onnx(const nn::Model& model, const Options& o) {
#ifdef LITEAI_HAVE_ONNX
  interop::onnx::export_model(model, o.get_text("out"));
#else
  (void)model;
  no_onnx(o.spec().task());
#endif
}

}  // namespace liteai::app
