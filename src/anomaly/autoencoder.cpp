#include "liteai/anomaly/autoencoder.hpp"

#include <cstring>

#include "liteai/anomaly/wpm.hpp"
#include "liteai/autograd/autograd.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/nn/model_io.hpp"

namespace liteai::anomaly {

namespace {
// [N, 1, S, S] standardized inputs from images (resized to S x S).
Tensor to_batch(const std::vector<data::Image>& images, size_t begin, size_t end, int64_t size) {
  const int64_t n = static_cast<int64_t>(end - begin), plane = size * size;
  Tensor x = Tensor::empty({n, 1, size, size});
  for (size_t i = begin; i < end; ++i) {
    LAI_CHECK(!images[i].empty(), "autoencoder: image ", i, " is empty");
    float* dst = x.data() + static_cast<int64_t>(i - begin) * plane;
    data::resize_into(images[i], dst, static_cast<int>(size), static_cast<int>(size));
    data::standardize(dst, static_cast<size_t>(plane));
  }
  return x;
}
}  // namespace

AutoencoderDetector::AutoencoderDetector(std::shared_ptr<nn::Model> model, float smooth_sigma)
    : model_(std::move(model)), smooth_sigma_(smooth_sigma) {
  LAI_CHECK(model_ && model_->net, "autoencoder: no model");
  LAI_CHECK(model_->arch.name == "autoencoder", "autoencoder: model architecture is '", model_->arch.name,
            "', expected 'autoencoder'");
  LAI_CHECK(model_->preprocessing.width > 0 && model_->preprocessing.width == model_->preprocessing.height,
            "autoencoder: model input must be square, got ", model_->preprocessing.width, "x",
            model_->preprocessing.height);
  model_->net->eval();  // inference only from here on (and race-free predict)
}

AutoencoderDetector AutoencoderDetector::train(const std::vector<data::Image>& normal_images,
                                               const AutoencoderOptions& o) {
  LAI_CHECK(!normal_images.empty(), "autoencoder: no training images");
  LAI_CHECK(o.size >= 8 && o.size % 4 == 0, "autoencoder: size must be a multiple of 4 (>= 8), got ", o.size);
  nn::ArchSpec spec;
  spec.name = "autoencoder";
  spec.set("size", static_cast<double>(o.size)).set("channels", 1.0).set("width", static_cast<double>(o.width));
  spec.set("head", "none");
  auto model = nn::build_model(spec, o.seed);
  model->preprocessing.width = model->preprocessing.height = o.size;

  Tensor x = to_batch(normal_images, 0, normal_images.size(), o.size);
  optim::TrainOptions t;
  t.epochs = o.epochs;
  t.optimizer = "adam";
  t.optim.lr = o.lr;
  t.progress = o.progress;
  t.callback = o.callback;
  optim::Trainer trainer(model, t);
  optim::TensorSource source(x, Tensor(), x, o.batch, o.seed);  // target = input
  trainer.fit(source);
  return AutoencoderDetector(model, o.smooth_sigma);
}

std::vector<data::Image> AutoencoderDetector::anomaly_maps(const std::vector<data::Image>& images, int64_t batch) const {
  const int64_t s = size();
  std::vector<data::Image> maps;
  maps.reserve(images.size());
  batch = std::max<int64_t>(1, batch);
  for (size_t b = 0; b < images.size(); b += static_cast<size_t>(batch)) {
    const size_t e = std::min(images.size(), b + static_cast<size_t>(batch));
    Tensor x = to_batch(images, b, e, s);
    Tensor y = model_->predict(x).contiguous();
    for (size_t i = b; i < e; ++i) {
      data::Image m(static_cast<int>(s), static_cast<int>(s));
      m.max_value = 0.f;
      const float* px = x.data() + static_cast<int64_t>(i - b) * s * s;
      const float* py = y.data() + static_cast<int64_t>(i - b) * s * s;
      for (int64_t k = 0; k < s * s; ++k) {
        const float d = py[k] - px[k];
        m.pixels[static_cast<size_t>(k)] = d * d;
      }
      maps.push_back(smooth_sigma_ > 0 ? gaussian_blur(m, smooth_sigma_) : std::move(m));
    }
  }
  return maps;
}

data::Image AutoencoderDetector::anomaly_map(const data::Image& image) const { return anomaly_maps({image}, 1)[0]; }

void AutoencoderDetector::save(const std::string& path) const { nn::save_model(path, *model_); }

AutoencoderDetector AutoencoderDetector::load(const std::string& path) {
  return AutoencoderDetector(nn::load_model(path, false).model);
}

}  // namespace liteai::anomaly
