#pragma once
// Explanations: Grad-CAM (Selvaraju et al. 2017) for any convolutional model, zoo net
// (Sequential) or nn::Graph (imported ONNX, to_graph).
//
//   nn::GradCam cam = nn::grad_cam(model, x);            // x [1, C, H, W], the model's input
//   cam.map;                                             // [H * W] in [0, 1], row-major
//   std::vector<float> m = nn::gradcam_map(cam, w, h);   // the same map at another size
//
// The target layer (GradCamOptions::layer) is a module path ("conv3", "stage4.act2") of a zoo
// net or a value or node name of a graph (a node stands for its first output). Default: the
// last convolution's output, followed through the element-wise layers right after it
// (BatchNorm, activation, dropout: the activation the next layer reads), else the last 4-D
// activation with more than one pixel. Its activation A [K, h, w] and the gradient of the class
// logit (before softmax / sigmoid; for a sigmoid head the finding's own logit) with respect to
// it give the weights a_k = mean over (y, x) of dS/dA_k, and the map ReLU(sum_k a_k A_k),
// upsampled bilinearly (half-pixel centres) to the input's size and divided by its maximum
// (all zeros when nothing speaks for the class).
//
// The gradient is taken with respect to the activation only (autograd::OnlyLeaf): no parameter
// gets a gradient, nothing in the model changes, the layers before the target record nothing.
// Thread-safety: concurrent calls on one model in eval mode are safe (a model in training mode is
// switched to eval for the call and back, as Model::predict does, which is not).
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/nn/zoo.hpp"

namespace liteai::nn {

struct GradCamOptions {
  std::string layer;         // "": the default layer (see above)
  int64_t class_index = -1;  // -1: the most probable class
};

struct GradCam {
  std::string layer;              // the layer explained
  int64_t class_index = 0;        // the class explained
  float logit = 0, probability = 0;  // its logit and (calibrated) probability
  std::vector<float> probabilities;  // every class's, as Model::predict gives them
  int64_t channels = 0, cam_height = 0, cam_width = 0;  // the activation's [K, h, w]
  std::vector<float> cam;         // ReLU(sum_k a_k A_k) [h * w], not normalized
  std::vector<double> weights;    // a_k [K]
  int64_t height = 0, width = 0;  // the input's
  std::vector<float> map;         // [height * width] in [0, 1]
};

// Grad-CAM of one input x [1, C, H, W] (the preprocessed image: app::model_input). Throws naming
// the layer (unknown: with the list of the 4-D layers; not 4-D; not used by the forward pass; the
// class score not depending on it) or the class index.
GradCam grad_cam(const Model& model, const Tensor& x, const GradCamOptions& options = {});

// The normalized map of `cam` at width x height (bilinear from the coarse map, half-pixel
// centres; the coarse map covers the whole image, as the model's resize does).
std::vector<float> gradcam_map(const GradCam& cam, int64_t width, int64_t height);

// The layers Grad-CAM can explain: each module (path) or graph value with a 4-D output, in the
// order a forward pass of one input of `input_shape` produces them, and the default among them.
struct ExplainableLayer {
  std::string name, kind;  // kind: the module's description or the graph node's operator
  Shape shape;
};
std::vector<ExplainableLayer> explainable_layers(const Model& model, const Shape& input_shape);
std::string default_gradcam_layer(const Model& model, const Shape& input_shape);

}  // namespace liteai::nn
