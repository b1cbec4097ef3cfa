#pragma once
// Repacking a trained model (SPEC.md section 3, "re-optimize the big model, don't shrink the
// task"): transforms on its nn::Graph that keep what it computes, and bf16 weight storage.
//
//   transform::RepackOptions o;
//   o.gray = o.fold = true;
//   transform::RepackResult r = transform::repack(model, o);  // a new graph model; `model` unchanged
//   for (auto& line : r.changes) std::puts(line.c_str());     // what each pass did, naming nodes
//   transform::save_bf16(*r.model, "small.lai");              // kernels stored as bf16
//
// Passes (each exact up to float rounding; tests/unit/transform checks each against the original):
//   gray   3 -> 1 input channel for a net trained on RGB copies of a gray image: the first Conv
//          gets one input channel whose weights are the sum over the channels, with the
//          per-channel normalization in front of it (Sub/Add/Mul/Div by constants, e.g. ImageNet's
//          mean/std) folded in: scales into the weights; offsets into the bias when the conv has
//          no padding. With zero padding an offset is not a bias (padded taps see 0, not the
//          offset): with one mean for all channels (y_c = a_c (x - m)) that mean stays as one
//          1-channel Sub in front; unequal means (ImageNet's) get the exact border correction conv(ones image, sum_c offset_c W_c) from a second
//          1-channel conv added after the conv (its ones image is a Pad of one stored 1).
//          A replicating Concat in front (an ONNX import's gray input) goes away; the model's
//          preprocessing then takes 1 channel. A model whose first Conv already reads 1 channel is
//          an error saying so.
//   fold   Dropout and Identity removed; nodes whose inputs are all constants evaluated into
//          Constants (unless the result is bigger than its inputs); BatchNormalization folded
//          into the Conv/ConvTranspose/Dense before it (the output's only reader); MatMul by a constant (+ Add of a constant) becomes a Dense; Dense -> Dense with nothing
//          between merged into one Dense (only when that does not add parameters: a bottleneck
//          stays); x + Dense(x) and x + Conv(x) (stride 1, "same") become one layer (W + I).
//          Repeated until nothing changes.
// A zoo model is converted with nn::to_graph_model first; graph output names are kept.
#include <memory>
#include <string>
#include <vector>

#include "liteai/nn/graph.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::transform {

struct RepackOptions {
  bool gray = false;
  bool fold = false;
};

struct RepackResult {
  std::shared_ptr<nn::Model> model;  // architecture "graph"
  std::vector<std::string> changes;  // one line per change ("folded BatchNormalization 'bn1' into Conv 'conv1'")
};

// A copy of `model` as a graph model (its own tensors), transformed as the options say (fold
// runs before gray: a BatchNormalization after the first conv is then inside its weights).
RepackResult repack(const nn::Model& model, const RepackOptions& options);

// The passes, in place on a graph model / graph; each appends what it did to `changes` and
// returns how many changes it made.
int64_t to_gray(nn::Model& graph_model, std::vector<std::string>& changes);
int64_t fold(nn::Graph& g, std::vector<std::string>& changes);
int64_t remove_passthrough(nn::Graph& g, std::vector<std::string>& changes);  // Dropout, Identity
int64_t fold_constants(nn::Graph& g, std::vector<std::string>& changes);
int64_t fold_batch_norms(nn::Graph& g, std::vector<std::string>& changes);
int64_t merge_linear(nn::Graph& g, std::vector<std::string>& changes);  // MatMul(+Add), Dense->Dense, residual

// A deep copy of a graph (every tensor cloned, f32).
nn::GraphPtr copy_graph(const nn::Graph& g);

// Writes `model` as save_model does, with its kernels (Conv, ConvTranspose, Dense weights) stored
// as bf16 (round to nearest even; about half the file). nn::load_model gives fp32 weights again
// (the rounded values); nn::load_model_for_inference keeps them bf16 (fp32 products).
void save_bf16(const nn::Model& model, const std::string& path);

}  // namespace liteai::transform
