#pragma once
// ONNX import and export (optional: built when Debian's libonnx-dev and libprotobuf-dev are found,
// LITEAI_HAVE_ONNX is then defined). The model is parsed with the ONNX library's generated
// protobuf classes, validated by its checker, and becomes an nn::Graph (which infers and checks
// every shape itself) in an nn::Model (architecture "graph"); liteai models (zoo or graph) are
// written back as ONNX.
//
//   interop::onnx::ImportOptions o;
//   o.classes = {"normal", "effusion"};
//   auto model = interop::onnx::import_model("densenet121.onnx", o);   // nn::Model
//   nn::save_model("teacher.lai", *model);
//   interop::onnx::export_model(*model, "again.onnx");
//
// Operators (torchvision classification nets, common Keras/TF exports; opsets 7-17): Conv (groups,
// depthwise, dilations, strides, pads incl. asymmetric and auto_pad), ConvTranspose,
// BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Clip, Add, Sub, Mul,
// Div, MatMul, Gemm, Concat, MaxPool, AveragePool (count_include_pad either way, ceil_mode),
// GlobalAveragePool, GlobalMaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Pad
// (constant), ReduceMean, Softmax, Dropout, Identity, Constant; Shape, Gather, Cast, Slice, ConstantOfShape and
// arithmetic on constants are evaluated at import (the Shape/Gather/Concat chains of exported
// reshapes), a dimension taken from the batch size kept as Reshape's "copy this dimension".
// x * Sigmoid(x) becomes one Swish node. Anything else is an Error (not_supported) naming the node,
// its operator and the attribute or input at fault; nothing is returned. Initializers stored as
// external data are read from files beside the .onnx (relative paths inside its folder only).
//
// Inputs and preprocessing: liteai's images are gray, decoded to [0, 1]. With `gray` (default)
// the graph takes 1-channel images and its first nodes replicate them to the model's channels; the
// model file records the preprocessing the data loader applies:
//   imagenet     (default) scale to [0, 1], then per channel (x - mean) / std in the graph
//                (ImageNet's mean 0.485 0.456 0.406, std 0.229 0.224 0.225; 1-channel models
//                0.449, 0.226), what torchvision models are trained with;
//   standardize  per-image standardization by the loader (liteai's own models);
//   unit         scale to [0, 1], nothing else.
// gray = false keeps the ONNX input's channels (the data loader replicates gray images over them);
// with `unit` or `standardize` the graph is then exactly the ONNX model (what the tests compare
// against PyTorch).
//
// Outputs: the ONNX model's first output is the network's output ("logits"); the head turns it
// into probabilities (softmax, sigmoid, or none for raw outputs). A last Softmax (with head
// softmax) or Sigmoid (with head sigmoid) in the file is dropped: liteai applies the head itself.
// Export writes the network's outputs (logits), opset 13, with the class names, head and
// preprocessing as metadata that import_model reads back when no options override them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "liteai/nn/zoo.hpp"

namespace liteai::interop::onnx {

enum class Preprocess : uint8_t { imagenet, standardize, unit };
const char* to_string(Preprocess p);
Preprocess preprocess_from_string(const std::string& s);  // throws listing the names

struct ImportOptions {
  // Unset: what the file's liteai metadata says (an exported liteai model), else the default.
  std::vector<std::string> classes;     // default "class0", "class1", ...
  std::optional<nn::Head> head;         // default softmax
  std::optional<Preprocess> preprocess; // default imagenet
  int64_t size = 0;                     // input height and width; 0: as the file says (needed when symbolic)
  bool gray = true;
};

std::shared_ptr<nn::Model> import_model(const std::string& path, const ImportOptions& options = {});
// From memory (no external data); `name` stands for the file in messages.
std::shared_ptr<nn::Model> import_model_from_bytes(const void* data, size_t size, const ImportOptions& options = {},
                                                   const std::string& name = "model.onnx");

// Writes any liteai model (a zoo net is written through its graph form) atomically; the result
// passes the ONNX checker (checked before anything is written).
void export_model(const nn::Model& model, const std::string& path);
std::vector<uint8_t> export_model_to_bytes(const nn::Model& model);

}  // namespace liteai::interop::onnx
