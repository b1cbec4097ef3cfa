#include "liteai/anomaly/autoencoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "liteai/core/random.hpp"

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

// Denoising training (Kascenas et al. 2022, "Denoising autoencoders for unsupervised anomaly
// detection in brain MRI"): the input gets coarse Gaussian noise (a low-resolution grid of
// N(0, std) values, bilinearly upsampled, so the corruption comes in object-sized blobs) and the
// target stays clean. A plain autoencoder whose bottleneck is wide enough to draw ribs sharply
// also copies a coin through; one trained to remove blob-shaped deviations redraws normal
// anatomy in their place instead. Fresh noise every batch, from (seed, epoch, batch index).
class CoarseNoiseSource : public optim::BatchSource {
 public:
  CoarseNoiseSource(Tensor clean, int64_t batch, uint64_t seed, float stddev, int64_t cell)
      : inner_(clean, Tensor(), clean, batch, seed), seed_(seed), std_(stddev), cell_(cell) {}
  void reset(int64_t epoch) override {
    inner_.reset(epoch);
    epoch_ = epoch;
    index_ = 0;
  }
  int64_t batches_per_epoch() const override { return inner_.batches_per_epoch(); }
  std::optional<optim::TrainBatch> next() override {
    std::optional<optim::TrainBatch> b = inner_.next();
    if (!b) return b;
    Generator g(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch_) * 1000003ull +
                static_cast<uint64_t>(index_++));
    Tensor x = b->images.contiguous().clone();
    const int64_t n = x.shape()[0], h = x.shape()[2], w = x.shape()[3];
    const int64_t gh = h / cell_ + 2, gw = w / cell_ + 2;  // one spare cell: noise ends at no fixed place
    std::vector<float> grid(static_cast<size_t>(gh * gw));
    for (int64_t i = 0; i < n; ++i) {
      for (float& v : grid) v = g.normal(0.f, std_);
      const float ox = g.uniform(0.f, 1.f), oy = g.uniform(0.f, 1.f);  // random phase of the grid
      float* px = x.data() + i * h * w;
      for (int64_t y = 0; y < h; ++y) {
        const float fy = static_cast<float>(y) / static_cast<float>(cell_) + oy;
        const int64_t y0 = static_cast<int64_t>(fy);
        const float ty = fy - static_cast<float>(y0);
        const float* r0 = grid.data() + y0 * gw;
        const float* r1 = r0 + gw;
        for (int64_t xx = 0; xx < w; ++xx) {
          const float fx = static_cast<float>(xx) / static_cast<float>(cell_) + ox;
          const int64_t x0 = static_cast<int64_t>(fx);
          const float tx = fx - static_cast<float>(x0);
          const float top = r0[x0] + tx * (r0[x0 + 1] - r0[x0]);
          const float bottom = r1[x0] + tx * (r1[x0 + 1] - r1[x0]);
          px[y * w + xx] += top + ty * (bottom - top);
        }
      }
    }
    b->images = x;
    return b;
  }

 private:
  optim::TensorSource inner_;
  uint64_t seed_;
  float std_;
  int64_t cell_;
  int64_t epoch_ = 0, index_ = 0;
};
}  // namespace

AutoencoderDetector::AutoencoderDetector(std::shared_ptr<nn::Model> model, Tensor calibration, float smooth_sigma,
                                         Tensor calibration_offset)
    : model_(std::move(model)),
      calibration_(std::move(calibration)),
      calibration_offset_(std::move(calibration_offset)),
      smooth_sigma_(smooth_sigma) {
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
  if (calibration_offset_.defined()) {
    LAI_CHECK(calibration_.defined(), "autoencoder: a calibration offset needs a calibration map");
    LAI_CHECK(calibration_offset_.shape() == calibration_.shape(), "autoencoder: calibration offset ",
              to_string(calibration_offset_.shape()), " does not match the calibration map ",
              to_string(calibration_.shape()));
  }
  if (calibration_.defined())
    for (int64_t k = 0; k < calibration_.numel(); ++k)
      LAI_CHECK(calibration_.data()[k] > 0.f, "autoencoder: calibration map must be positive, got ",
                calibration_.data()[k], " at pixel ", k);
}

AutoencoderDetector AutoencoderDetector::train(const std::vector<data::Image>& all_normals, const AutoencoderOptions& o,
                                               const std::vector<data::Image>* calibration_images) {
  LAI_CHECK(!all_normals.empty(), "autoencoder: no training images");
  LAI_CHECK(o.holdout >= 0 && o.holdout < 1, "autoencoder: holdout must be in [0, 1), got ", o.holdout);
  o.score.spots.validate();
  o.detect.validate();
  // The held-back share: neither trained on nor used for the per-pixel calibration.
  std::vector<data::Image> train_set, held;
  const std::vector<size_t> held_idx =
      calibration_images ? std::vector<size_t>() : holdout_indices(all_normals.size(), o.holdout);
  for (size_t i = 0, k = 0; i < all_normals.size(); ++i) {
    if (k < held_idx.size() && held_idx[k] == i) {
      held.push_back(all_normals[i]);
      ++k;
    } else {
      train_set.push_back(all_normals[i]);
    }
  }
  const std::vector<data::Image>& normal_images = train_set;
  LAI_CHECK(o.size >= 8 && o.size % 4 == 0, "autoencoder: size must be a multiple of 4 (>= 8), got ", o.size);
  LAI_CHECK(o.calibration_floor > 0.f, "autoencoder: calibration_floor must be > 0, got ", o.calibration_floor);
  LAI_CHECK(o.denoise_std >= 0.f && o.denoise_grid >= 1, "autoencoder: denoise_std must be >= 0 and denoise_grid >= 1, got ",
            o.denoise_std, " and ", o.denoise_grid);
  nn::ArchSpec spec;
  spec.name = "autoencoder";
  spec.set("size", static_cast<double>(o.size)).set("channels", 1.0).set("width", static_cast<double>(o.width));
  spec.set("head", "none");
  auto model = nn::build_model(spec, o.seed);
  model->preprocessing.width = model->preprocessing.height = o.size;

  Tensor x = to_batch(normal_images, 0, normal_images.size(), o.size);
  optim::TrainOptions t;
  t.epochs = o.epochs;
  t.optimizer = optim::OptimizerKind::adam;
  t.optim.lr = o.lr;
  t.progress = o.progress;
  t.callback = o.callback;
  optim::Trainer trainer(model, t);
  if (o.denoise_std > 0.f) {
    const int64_t cell = std::max<int64_t>(1, o.size / std::max<int64_t>(1, o.denoise_grid));
    CoarseNoiseSource source(x, o.batch, o.seed, o.denoise_std, cell);
    trainer.fit(source);
  } else {
    optim::TensorSource source(x, Tensor(), x, o.batch, o.seed);  // target = input
    trainer.fit(source);
  }

  AutoencoderDetector uncalibrated(model, Tensor(), 0.f);
  const std::vector<data::Image> errors = uncalibrated.raw_errors(normal_images, o.batch);
  const size_t plane = static_cast<size_t>(o.size * o.size);
  std::vector<double> sum(plane, 0.0), sum_sq(plane, 0.0);
  for (const data::Image& e : errors)
    for (size_t k = 0; k < plane; ++k) {
      sum[k] += e.pixels[k];
      sum_sq[k] += static_cast<double>(e.pixels[k]) * e.pixels[k];
    }
  const double n = static_cast<double>(errors.size());
  Tensor calibration = Tensor::empty({o.size, o.size});
  Tensor offset;
  if (!o.calibrate_variance) {
    for (size_t k = 0; k < plane; ++k) calibration.data()[k] = static_cast<float>(sum[k] / n) + o.calibration_floor;
  } else {
    offset = Tensor::empty({o.size, o.size});
    for (size_t k = 0; k < plane; ++k) {
      const double mean = sum[k] / n, var = std::max(0.0, sum_sq[k] / n - mean * mean);
      offset.data()[k] = static_cast<float>(mean);
      calibration.data()[k] = static_cast<float>(std::sqrt(var)) + o.calibration_floor;
    }
  }
  AutoencoderDetector det(model, calibration, o.smooth_sigma, offset);
  const std::vector<data::Image>& cal = calibration_images ? *calibration_images : held;
  if (!cal.empty()) det.calibrate(cal, o.score, o.detect);
  return det;
}

void AutoencoderDetector::calibrate(const std::vector<data::Image>& normal_images, const ScoreOptions& score,
                                    const DetectOptions& detect) {
  LAI_CHECK(!normal_images.empty(), "autoencoder: no calibration images");
  Calibrator cal(score, detect);
  for (size_t b = 0; b < normal_images.size(); b += 16) {
    const std::vector<data::Image> part(normal_images.begin() + long(b),
                                        normal_images.begin() + long(std::min(normal_images.size(), b + 16)));
    for (const data::Image& m : anomaly_maps(part)) cal.add(m);
  }
  score_calibration_ = cal.finish();
}

Assessment AutoencoderDetector::assess(const data::Image& image, const OperatingPoint& op) const {
  return anomaly::assess(anomaly_map(image), score_calibration_, op);
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
    if (calibration_offset_.defined()) {
      const float *mean = calibration_offset_.data(), *scale = calibration_.data();
      for (size_t k = 0; k < m.pixels.size(); ++k) m.pixels[k] = std::max(0.f, m.pixels[k] - mean[k]) / scale[k];
    } else if (calibration_.defined()) {
      for (size_t k = 0; k < m.pixels.size(); ++k) m.pixels[k] /= calibration_.data()[k];
    }
    if (smooth_sigma_ > 0) m = gaussian_blur(m, smooth_sigma_);
  }
  return maps;
}

data::Image AutoencoderDetector::anomaly_map(const data::Image& image) const { return anomaly_maps({image}, 1)[0]; }

namespace {
constexpr int64_t kDetectorVersion = 2;  // 1: no score calibration
}

void AutoencoderDetector::save(const std::string& path) const {
  nn::NamedTensors extra;
  if (calibration_.defined()) extra.emplace_back("anomaly.calibration", calibration_);
  if (calibration_offset_.defined()) extra.emplace_back("anomaly.calibration_offset", calibration_offset_);
  extra.emplace_back("anomaly.smooth_sigma", Tensor::scalar(smooth_sigma_));
  io::Json anomaly = io::Json::object();
  anomaly.set("version", io::Json(static_cast<long long>(kDetectorVersion)));
  if (!score_calibration_.empty()) anomaly.set("calibration", score_calibration_.to_json());
  io::Json training = io::Json::object();
  training.set("anomaly", anomaly);
  nn::save_model(path, *model_, nullptr, training, &extra);
}

AutoencoderDetector AutoencoderDetector::load(const std::string& path) {
  nn::SavedModel saved = nn::load_model(path, false);
  Tensor calibration, offset;  // files before the variance calibration have no offset
  float sigma = 0.f;
  for (auto& [name, t] : saved.extra) {
    if (name == "anomaly.calibration") calibration = t;
    if (name == "anomaly.calibration_offset") offset = t;
    if (name == "anomaly.smooth_sigma") sigma = t.item();
  }
  return reclassify(ErrorKind::format, [&] {
    AutoencoderDetector det(saved.model, calibration, sigma, offset);
    const std::string what = path + " anomaly calibration";
    if (const io::Json* a = saved.training.find("anomaly")) {
      const int64_t version = a->get_int("version", what);
      LAI_CHECK_SUPPORTED(version >= 1 && version <= kDetectorVersion, path, ": anomaly detector version ", version,
                          " (this build reads 1..", kDetectorVersion, ")");
      if (const io::Json* c = a->find("calibration")) det.score_calibration_ = Calibration::from_json(*c, what);
    }
    return det;
  });
}

}  // namespace liteai::anomaly
