#include "liteai/nn/layers.hpp"

#include <cmath>

#include "liteai/autograd/autograd.hpp"
#include "nn/placeholder.hpp"

namespace liteai::nn {

Activation activation_from_string(const std::string& s) {
  if (s == "none" || s == "linear" || s.empty()) return Activation::none;
  if (s == "relu") return Activation::relu;
  if (s == "sigmoid") return Activation::sigmoid;
  if (s == "swish" || s == "silu") return Activation::swish;
  if (s == "softmax") return Activation::softmax;
  throw_error(str_cat("activation: unknown name '", s, "' (use none, relu, sigmoid, swish or softmax)"));
}

const char* to_string(Activation a) {
  switch (a) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::swish: return "swish";
    case Activation::softmax: return "softmax";
  }
  return "?";
}

Tensor apply_activation(Activation a, const Tensor& x) {
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return ops::relu(x);
    case Activation::sigmoid: return ops::sigmoid(x);
    case Activation::swish: return ops::swish(x);
    case Activation::softmax: return ops::softmax(x, -1);
  }
  return x;
}

namespace {
// Kernels and the constant-filled tensors of the layers (placeholders while building as shapes).
Tensor init_kernel(Init init, const Shape& shape, Generator& g) {
  if (detail::shape_only()) return detail::placeholder(shape);
  switch (init) {
    case Init::glorot_uniform: return glorot_uniform(shape, g);
    case Init::kaiming_uniform: return kaiming_uniform(shape, g);
    case Init::kaiming_normal: return kaiming_normal(shape, g);
  }
  return glorot_uniform(shape, g);
}
Tensor filled(const Shape& shape, float value) {
  return detail::new_tensor(shape, [&] { return Tensor::full(shape, value); });
}
}  // namespace

// ---------------- Conv2d ----------------
Conv2d::Conv2d(int64_t in_c, int64_t out_c, int64_t k, const Conv2dOptions& o, Generator& g)
    : in_channels(in_c), out_channels(out_c), kernel(k), options(o) {
  LAI_CHECK(in_c > 0 && out_c > 0 && k > 0, "Conv2d: channels and kernel must be positive, got in=", in_c,
            " out=", out_c, " kernel=", k);
  LAI_CHECK(!o.same || (k % 2 == 1 && o.stride == 1), "Conv2d: 'same' padding needs an odd kernel and stride 1");
  weight = register_parameter("weight", init_kernel(o.init, {out_c, in_c, k, k}, g), true, o.l2);
  if (o.bias) bias = register_parameter("bias", filled({out_c}, 0.f));
}

ops::Conv2dOptions Conv2d::op_options() const {
  ops::Conv2dOptions co;
  co.stride = options.stride;
  co.padding = options.padding;
  co.same = options.same;
  co.compute = precision() == Precision::bf16_compute ? DType::bf16 : DType::f32;
  return co;
}

Tensor Conv2d::forward(const Tensor& x) {
  const ops::Conv2dOptions co = op_options();
  if (options.activation == Activation::swish) {
    // Keeping the pre-activation pays when recomputing it costs a real conv (not conv1's 9 taps).
    const bool keep_bf16 = precision() != Precision::f32 && in_channels * kernel * kernel >= 64;
    return ops::conv2d_swish(x, weight, bias, co, keep_bf16);
  }
  if (options.activation == Activation::relu) return ops::conv2d_relu(x, weight, bias, co);
  return apply_activation(options.activation, ops::conv2d(x, weight, bias, co));
}

std::optional<Tensor> Conv2d::forward_avgpool2(const Tensor& x) {
  const Activation a = options.activation;
  if (a != Activation::none && a != Activation::relu && a != Activation::swish) return std::nullopt;
  return ops::conv2d_avgpool2(x, weight, bias, op_options(),
                              a == Activation::swish ? ops::ConvAct::swish
                              : a == Activation::relu ? ops::ConvAct::relu
                                                      : ops::ConvAct::none);
}

std::string Conv2d::describe() const {
  return str_cat("Conv2d(", in_channels, "->", out_channels, ", ", kernel, "x", kernel,
                 options.same ? ", same" : "", options.stride != 1 ? str_cat(", stride ", options.stride) : "",
                 options.activation != Activation::none ? str_cat(", ", to_string(options.activation)) : "",
                 options.l2 != 0.f ? str_cat(", l2 ", options.l2) : "", ")");
}

// ---------------- Dense ----------------
Dense::Dense(int64_t in_f, int64_t out_f, const DenseOptions& o, Generator& g)
    : in_features(in_f), out_features(out_f), options(o) {
  LAI_CHECK(in_f > 0 && out_f > 0, "Dense: feature counts must be positive, got in=", in_f, " out=", out_f);
  weight = register_parameter("weight", init_kernel(o.init, {in_f, out_f}, g), true, o.l2);
  if (o.bias) bias = register_parameter("bias", filled({out_f}, 0.f));
}

Dense::Dense(Tensor w, Tensor b, const DenseOptions& o) : options(o) {
  LAI_CHECK(w.defined() && w.dim() == 2 && w.size(0) > 0 && w.size(1) > 0, "Dense: weight must be [in, out], got ",
            w.defined() ? to_string(w.shape()) : "undefined");
  LAI_CHECK(!b.defined() || b.shape() == Shape{w.size(1)}, "Dense: bias ", to_string(b.shape()), " does not match ",
            w.size(1), " outputs");
  in_features = w.size(0), out_features = w.size(1);
  options.bias = b.defined();
  weight = register_parameter("weight", w, true, o.l2);
  if (b.defined()) bias = register_parameter("bias", b);
}

void Dense::refresh_derived() {
  if (weight.dtype() == DType::bf16)  // loaded for bf16 inference only: the weights are the copy
    weight_bf16_ = weight;
  else if (!is_training() && inference_precision() != Precision::f32)
    weight_bf16_ = ops::cast(weight, DType::bf16);
  else
    weight_bf16_ = Tensor();
}

Tensor Dense::forward(const Tensor& x_in) {
  Tensor x = x_in.dim() == 2 ? x_in : x_in.reshape({x_in.size(0), -1});
  LAI_CHECK(x.size(1) == in_features, "Dense: input has ", x.size(1), " features, the layer expects ", in_features,
            " (input ", to_string(x_in.shape()), ")");
  const bool recorded = autograd::grad_enabled() &&
                        (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  const bool bf16 = weight.dtype() == DType::bf16;
  if (weight_bf16_.defined() && weight_bf16_.dtype() == DType::bf16 && !is_training() && !recorded)
    return apply_activation(options.activation, ops::linear_bf16(x, weight_bf16_, bias));
  if (!recorded && weight.storage()->read_only() && weight.numel() * 4 > kPagedBlockBytes)
    return apply_activation(options.activation, forward_paged(x));
  if (!recorded && bf16) return apply_activation(options.activation, ops::linear_bf16(x, weight, bias));
  const bool streamed = sink_ && autograd::grad_enabled() && weight.requires_grad();
  LAI_CHECK(!bf16 || streamed, "Dense: the weights are bf16: they train only with their gradient streamed to ",
            "the optimizer (a trainer's bf16 master weights), not as an ordinary parameter");
  if (!streamed) return apply_activation(options.activation, ops::linear(x, weight, bias));
  Tensor y;
  {
    autograd::NoGrad ng;
    y = bf16 ? ops::linear_bf16(x, weight, bias) : ops::linear(x, weight, bias);
  }
  const bool gx = x.requires_grad(), gb = bias.defined() && bias.requires_grad();
  Tensor xd = x.detach(), w = weight;
  GradientSink sink = sink_;
  y = autograd::record("dense_streamed", y, {x, bias.defined() ? bias : Tensor::zeros({out_features})},
                       [xd, w, sink, gx, gb](const Tensor& g) {
                         autograd::NoGrad ng;
                         Tensor dx, db;
                         // the input gradient uses the weights before this step's update
                         if (gx)
                           dx = w.dtype() == DType::bf16 ? ops::matmul_transposed_bf16(g, w)
                                                         : ops::matmul(g, w.transpose(0, 1));
                         if (gb) db = ops::sum(g, {0});
                         sink(xd, g.contiguous());
                         return std::vector<Tensor>{dx, db};
                       });
  return apply_activation(options.activation, y);
}

void Dense::stream_weight_gradient(GradientSink sink) { sink_ = std::move(sink); }

Tensor Dense::forward_paged(const Tensor& x) {
  autograd::NoGrad ng;
  const int64_t rows = std::max<int64_t>(1, kPagedBlockBytes / (4 * out_features));
  Tensor y;
  for (int64_t r0 = 0; r0 < in_features; r0 += rows) {
    const int64_t r1 = std::min(in_features, r0 + rows);
    const size_t at = size_t(weight.offset() + r0 * out_features) * 4, bytes = size_t((r1 - r0) * out_features) * 4;
    weight.storage()->prefetch_pages(at, bytes);
    Tensor part = ops::linear(x.slice(1, r0, r1), weight.slice(0, r0, r1), r0 == 0 ? bias : Tensor());
    y = y.defined() ? ops::add(y, part) : part;
    weight.storage()->release_pages(at, bytes);
  }
  return y;
}

std::string Dense::describe() const {
  return str_cat("Dense(", in_features, "->", out_features,
                 options.activation != Activation::none ? str_cat(", ", to_string(options.activation)) : "",
                 options.l2 != 0.f ? str_cat(", l2 ", options.l2) : "", ")");
}

std::string AvgPool2d::describe() const { return str_cat("AvgPool2d(", kernel, ", stride ", stride, ")"); }
std::string MaxPool2d::describe() const { return str_cat("MaxPool2d(", kernel, ", stride ", stride, ")"); }
std::string Upsample::describe() const { return str_cat("Upsample(nearest, x", scale, ")"); }

Tensor Flatten::forward(const Tensor& x) {
  LAI_CHECK(x.dim() >= 1, "Flatten: input must have a batch dimension");
  return x.dim() == 2 ? x : x.reshape({x.size(0), -1});
}

// ---------------- Dropout ----------------
Dropout::Dropout(float p_, uint64_t seed) : p(p_), seed_(seed) {
  LAI_CHECK(p_ >= 0.f && p_ < 1.f, "Dropout: p must be in [0, 1), got ", p_);
}

namespace {
// A bijective 64-bit mixer (the splitmix64 finalizer): nearby (seed, call) pairs give unrelated
// generator seeds, so consecutive masks do not share generator state.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.f) return x;
  Generator gen(mix64(seed_ ^ mix64(calls_ + 0x632be59bd9b4e019ull)));
  ++calls_;
  Tensor mask = Tensor::empty(x.shape());
  float* m = mask.data();
  const float keep = 1.f / (1.f - p);
  for (int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() < p ? 0.f : keep;
  return ops::mul(x, mask);
}

std::string Dropout::describe() const { return str_cat("Dropout(", p, ")"); }

// ---------------- BatchNorm2d ----------------
BatchNorm2d::BatchNorm2d(int64_t c, float m, float e) : channels(c), momentum(m), eps(e) {
  LAI_CHECK(c > 0, "BatchNorm2d: channels must be positive, got ", c);
  gamma = register_parameter("gamma", filled({c}, 1.f));
  beta = register_parameter("beta", filled({c}, 0.f));
  running_mean = register_buffer("running_mean", filled({c}, 0.f));
  running_var = register_buffer("running_var", filled({c}, 1.f));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  LAI_CHECK(x.dim() == 4 && x.size(1) == channels, "BatchNorm2d: expects [N, ", channels, ", H, W], got ",
            to_string(x.shape()));
  return ops::batch_norm(x, gamma, beta, running_mean, running_var, is_training(), momentum, eps);
}

std::string BatchNorm2d::describe() const { return str_cat("BatchNorm2d(", channels, ")"); }

// ---------------- ConvTranspose2d ----------------
ConvTranspose2d::ConvTranspose2d(int64_t in_c, int64_t out_c, int64_t k, const ConvTranspose2dOptions& o,
                                 Generator& g)
    : in_channels(in_c), out_channels(out_c), kernel(k), options(o) {
  LAI_CHECK(in_c > 0 && out_c > 0 && k > 0, "ConvTranspose2d: channels and kernel must be positive");
  // fan_in_out reads [out, in, k, k]; the transposed layout [in, out, k, k] has the fans swapped,
  // which Glorot does not care about.
  weight = register_parameter("weight", init_kernel(Init::glorot_uniform, {in_c, out_c, k, k}, g), true, o.l2);
  if (o.bias) bias = register_parameter("bias", filled({out_c}, 0.f));
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return apply_activation(options.activation,
                          ops::conv_transpose2d(x, weight, bias, options.stride, options.padding));
}

std::string ConvTranspose2d::describe() const {
  return str_cat("ConvTranspose2d(", in_channels, "->", out_channels, ", ", kernel, "x", kernel, ", stride ",
                 options.stride,
                 options.activation != Activation::none ? str_cat(", ", to_string(options.activation)) : "", ")");
}

// ---------------- containers ----------------
Sequential& Sequential::add(const std::string& name, ModulePtr m) {
  add_child(name, std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) { return forward_range(x, 0, size()); }

Tensor Sequential::forward_range(const Tensor& x, size_t begin, size_t end) {
  LAI_CHECK(begin <= end && end <= size(), "Sequential: layer range ", begin, "..", end, " of ", size(), " layers");
  Tensor y = x;
  const auto& layers = children();
  for (size_t i = begin; i < end; ++i) {
    // Inference: conv -> 2x2 average pool in one pass (the full-size activation is never written).
    if (!autograd::grad_enabled() && i + 1 < end) {
      auto* conv = dynamic_cast<Conv2d*>(layers[i].second.get());
      auto* pool = dynamic_cast<AvgPool2d*>(layers[i + 1].second.get());
      if (conv && pool && pool->kernel == 2 && pool->stride == 2 && y.dim() == 4) {
        if (auto pooled = conv->forward_avgpool2(y)) {
          y = *pooled;
          ++i;
          continue;
        }
      }
    }
    y = layers[i].second->run(y);
  }
  return y;
}

Residual::Residual(ModulePtr b) : body(std::move(b)) { add_child("body", body); }

Tensor Residual::forward(const Tensor& x) {
  Tensor r = body->run(x);
  LAI_CHECK(r.shape() == x.shape(), "Residual: body output ", to_string(r.shape()), " does not match input ",
            to_string(x.shape()));
  return ops::add(x, r);
}

}  // namespace liteai::nn

namespace liteai::nn {
Tensor GlobalAvgPool2d::forward(const Tensor& x) {
  LAI_CHECK(x.dim() == 4, "GlobalAvgPool2d: expects [N, C, H, W], got ", to_string(x.shape()));
  return ops::mean(x, {2, 3}, false);
}

Tensor GlobalMaxPool2d::forward(const Tensor& x) {
  LAI_CHECK(x.dim() == 4, "GlobalMaxPool2d: expects [N, C, H, W], got ", to_string(x.shape()));
  return ops::max(ops::reshape(ops::contiguous(x), {x.size(0), x.size(1), x.size(2) * x.size(3)}), 2);
}
}  // namespace liteai::nn
