#pragma once
// Model zoo and the architecture description that lets a model file rebuild a network:
// a name plus flat hyper-parameters, e.g. {"name": "compact_cxr", "size": 512, "classes": 14,
// "head": "sigmoid", "l2": 0.01}.
//
// Networks output logits; the head (softmax / sigmoid) is applied by Model::predict and folded
// into the loss for training (fused, numerically stable). This is the intent of SPEC.md section
// 2 (softmax on the Dense(classes) output) in the form every framework trains it.
//
//   compact_cxr  SPEC.md section 2. Hyper-parameters: size (512), channels (1), classes (2),
//                head ("softmax" | "sigmoid"), l2 (0.01, on every kernel).
//                conv3x3 same 32/64/128 -> swish -> avgpool2 (x3), flatten, Dense 256 -> swish,
//                residual [Dense 128 -> swish -> Dense 256] added -> swish -> Dense(classes).
//                The swish layers are initialized He-uniform, the output layer Glorot-uniform.
//                Parameters: 158,848 + (size/8)^2*32,768 + 257*classes (1-channel input)
//                (134,217,728 weights in the first Dense at 512x512).
//   compact_cxr_gap  compact_cxr "densed" for distillation: the 134M-weight Flatten -> Dense 256
//                is a global average pool -> Dense 128 x 256 (the rest identical); 1/900 of the
//                parameters at 512x512. Hyper-parameters as compact_cxr.
//   teacher_cxr  a deeper, wider distillation teacher: 4 stages of [conv-BN-swish x2, avgpool2]
//                with width w, 2w, 4w, 8w (w = "width", 32), global average pool, Dense 256 ->
//                swish -> Dropout(0.2) -> Dense(classes). Hyper-parameters: size, channels,
//                classes, head, width, l2 (0).
//   small_cnn    for 28x28: conv32 3x3 same-relu-maxpool2, conv64 3x3 same-relu-maxpool2,
//                Dense 128 relu, Dense 10 (He-uniform init for the ReLU layers). Hyper-parameters:
//                size (28), channels (1), classes (10).
//   small_cnn_gmp  small_cnn with a global max pool after conv64 (no second maxpool, no
//                Flatten): Dense 64 -> 128 relu -> Dense(classes); any even size. A detector of
//                small findings whose evidence sits on the finding (Grad-CAM points at it; the
//                Flatten head learns position-specific weights beside it). Hyper-parameters as
//                small_cnn.
//   roi_cxr      ROI-guided classifier (the SPEC's "anomalous ROI extraction before training"): the
//                input is 1 + crops planes of size x size (plane 0 the whole image downscaled,
//                planes 1.. its most anomalous regions at full resolution; data/roi.hpp). A whole-
//                image tower and a crop tower (one set of weights for every crop), each
//                conv3x3 same w/2w/4w -> swish -> avgpool2 (x3) -> global average (whole) or max
//                (crops: a small finding anywhere in the region) pool; the crop
//                features are max-pooled over the crops (a finding in any region counts), joined
//                to the whole image's, Dense 4w -> swish -> Dense(classes). Hyper-parameters:
//                size (128, a multiple of 8), crops (2), classes (2), head, width (w, 16), l2 (0).
//   autoencoder  convolutional autoencoder for anomaly maps (reconstruction error): encoder
//                conv(w)-relu-maxpool2, conv(2w)-relu-maxpool2, conv(4w)-relu; decoder
//                convT(2w, 2x2, s2)-relu, convT(w, 2x2, s2)-relu, conv(channels, 3x3). Output has
//                the input's shape. Hyper-parameters: size (64, divisible by 4), channels (1),
//                width (16), head "none".
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "liteai/io/json.hpp"
#include "liteai/nn/layers.hpp"

namespace liteai::nn {

struct ArchSpec {
  std::string name;
  std::map<std::string, std::string> params;  // values kept as text: numbers or words

  int64_t get_int(const std::string& key, int64_t def) const;
  double get_double(const std::string& key, double def) const;
  std::string get(const std::string& key, const std::string& def) const;
  ArchSpec& set(const std::string& key, const std::string& value);
  ArchSpec& set(const std::string& key, double value);

  // A flat JSON object: {"name": "...", "key": value, ...}; numbers unquoted.
  std::string to_json() const;
  // Parses what to_json writes (any flat object of strings, numbers and booleans).
  static ArchSpec from_json(const std::string& json);
};

// What the network's outputs mean, and so how they are trained and read (names kept in files).
//   softmax: single-label classification (cross entropy; probabilities by softmax)
//   sigmoid: multi-label classification (binary cross entropy per class; sigmoid)
//   none:    raw outputs (regression, autoencoder reconstruction; mean squared error)
enum class Head : uint8_t { softmax, sigmoid, none };
const char* to_string(Head h);
Head head_from_string(const std::string& s);  // throws listing the names

// ROI-guided input (roi_cxr; data/roi.hpp): with k > 0 each image becomes 1 + k planes of the
// input size: the whole image and its k most anomalous regions of `size` x `size` image pixels,
// chosen on the WPM of the ProbMat file `probmat`, the one whose SHA-256 is `probmat_sha256` (the
// task layer refuses any other file: a model never meets a different ProbMat silently).
struct RoiPreprocessing {
  int64_t k = 0;  // regions per image; 0: no ROI input
  int64_t size = 0;
  std::string probmat;         // path as recorded at training (predict may be told where it is now)
  std::string probmat_sha256;  // 64 hex digits
  bool active() const { return k > 0; }
  bool operator==(const RoiPreprocessing&) const = default;
};

// How raw images become the network's input (stored in the model file).
struct Preprocessing {
  int64_t width = 0, height = 0;  // input size the network expects
  int64_t channels = 1;
  bool standardize = true;  // per-image standardization (TF); false: scale to [0, 1]
  RoiPreprocessing roi;
};

// A network plus what is needed to use it: architecture, class names, preprocessing, the
// calibration of its probabilities and where it came from.
class Model {
 public:
  ArchSpec arch;
  ModulePtr net;
  std::vector<std::string> class_names;
  Preprocessing preprocessing;
  // Temperature scaling (Guo et al. 2017), fitted on validation data by `liteai calibrate`:
  // probabilities are softmax(logits / T) (one T) or sigmoid(logit_c / T_c) (one per finding).
  // Empty: uncalibrated (T = 1). Logits (training, distillation) are never scaled.
  std::vector<float> temperature;
  // Where the model came from (written by every task that makes a model file): library version
  // and source revision, task and options, data hash and counts, parents, date, seed, threads,
  // final metrics. An object; null when unknown.
  io::Json provenance;
  // logits / temperature (a copy; `logits` itself when there is no calibration).
  Tensor calibrated_logits(const Tensor& logits) const;

  Head head() const { return head_from_string(arch.get("head", "softmax")); }
  int64_t num_classes() const { return arch.get_int("classes", 0); }
  Tensor forward(const Tensor& x) { return net->forward(x); }  // logits (recorded)
  // Probabilities (softmax or sigmoid of the logits; raw output for head "none"), in eval mode
  // without autograd. A model in training mode is switched to eval for the call and back;
  // a model in eval mode (as loaded, or after Trainer::fit) is not touched, so concurrent
  // predict() calls from several threads are safe.
  Tensor predict(const Tensor& x);
};

// Class names must be unique (an output index has one meaning): throws invalid_argument naming
// the first repeated name and both positions ("<what>: class name 'x' appears at 1 and 4").
void check_class_names(const std::vector<std::string>& names, const std::string& what);

// Names accepted by build_model.
std::vector<std::string> zoo_names();
// Builds a freshly initialized model (weights from `seed`). Unknown names or bad
// hyper-parameters throw an Error that lists what is accepted.
std::shared_ptr<Model> build_model(const ArchSpec& spec, uint64_t seed = 42);
// Convenience: build_model({name, {size, classes}}).
std::shared_ptr<Model> build_model(const std::string& name, int64_t size, int64_t classes, uint64_t seed = 42);

// The network alone for each zoo entry (what build_model uses).
ModulePtr compact_cxr(int64_t size, int64_t channels, int64_t classes, float l2, Generator& g);
ModulePtr compact_cxr_gap(int64_t size, int64_t channels, int64_t classes, float l2, Generator& g);
ModulePtr teacher_cxr(int64_t size, int64_t channels, int64_t classes, int64_t width, float l2, Generator& g);
ModulePtr small_cnn(int64_t size, int64_t channels, int64_t classes, Generator& g);
ModulePtr small_cnn_gmp(int64_t size, int64_t channels, int64_t classes, Generator& g);
ModulePtr roi_cxr(int64_t size, int64_t crops, int64_t classes, int64_t width, float l2, Generator& g);
ModulePtr autoencoder(int64_t size, int64_t channels, int64_t width, Generator& g);
// Parameter count of compact_cxr, by formula (for reports and tests).
int64_t compact_cxr_parameter_count(int64_t size, int64_t channels, int64_t classes);

}  // namespace liteai::nn
