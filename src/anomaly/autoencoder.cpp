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

AutoencoderDetector::AutoencoderDetector(std::shared_ptr<nn::Model> model, Tensor calibration, float smooth_sigma)
    : model_(std::move(model)), calibration_(std::move(calibration)), smooth_sigma_(smooth_sigma) {
  LAI_CHECK(model_ && model_->net, "autoencoder: no model");
  LAI_CHECK(model_->arch.name == "autoencoder", "autoencoder: model architecture is '", model_->arch.name,
            "', expected 'autoencoder'");
  LAI_CHECK(model_->preprocessing.width > 0 && model_->preprocessing.width == model_->preprocessing.height,
            "autoencoder: model input must be square, got ", model_->preprocessing.width, "x",
            model_->preprocessing.height);
  model_->net->eval();  // inference only from here on (and race-free predict)
  if (calibration_.defined())
    LAI_CHECK(calibration_.shape() == Shape({size(), size()}), "autoencoder: calibration map ",
              to_string(calibration_.shape()), " does not match the model input ", size(), "x", size());
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

  AutoencoderDetector uncalibrated(model, Tensor(), 0.f);
  Tensor calibration = Tensor::full({o.size, o.size}, o.calibration_floor);
  const std::vector<data::Image> errors = uncalibrated.raw_errors(normal_images, o.batch);
  const float w = 1.f / static_cast<float>(errors.size());
  for (const data::Image& e : errors)
    for (size_t k = 0; k < e.pixels.size(); ++k) calibration.data()[k] += w * e.pixels[k];
  return AutoencoderDetector(model, calibration, o.smooth_sigma);
}

std::vector<data::Image> AutoencoderDetector::raw_errors(const std::vector<data::Image>& images, int64_t batch) const {
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
      maps.push_back(std::move(m));
    }
  }
  return maps;
}

std::vector<data::Image> AutoencoderDetector::anomaly_maps(const std::vector<data::Image>& images, int64_t batch) const {
  std::vector<data::Image> maps = raw_errors(images, batch);
  for (data::Image& m : maps) {
    if (calibration_.defined())
      for (size_t k = 0; k < m.pixels.size(); ++k) m.pixels[k] /= calibration_.data()[k];
    if (smooth_sigma_ > 0) m = gaussian_blur(m, smooth_sigma_);
  }
  return maps;
}

data::Image AutoencoderDetector::anomaly_map(const data::Image& image) const { return anomaly_maps({image}, 1)[0]; }

void AutoencoderDetector::save(const std::string& path) const {
  nn::NamedTensors extra;
  if (calibration_.defined()) extra.emplace_back("anomaly.calibration", calibration_);
  extra.emplace_back("anomaly.smooth_sigma", Tensor::scalar(smooth_sigma_));
  nn::save_model(path, *model_, nullptr, io::Json(), &extra);
}

AutoencoderDetector AutoencoderDetector::load(const std::string& path) {
  nn::SavedModel saved = nn::load_model(path, false);
  Tensor calibration;
  float sigma = 0.f;
  for (auto& [name, t] : saved.extra) {
    if (name == "anomaly.calibration") calibration = t;
    if (name == "anomaly.smooth_sigma") sigma = t.item();
  }
  return AutoencoderDetector(saved.model, calibration, sigma);
}

}  // namespace liteai::anomaly
