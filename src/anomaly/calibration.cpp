#include "liteai/anomaly/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "liteai/core/error.hpp"

namespace liteai::anomaly {

using data::Image;
using io::Json;

// ---------------------------------------------------------------- NormalTail

NormalTail::NormalTail(std::vector<double> values, int64_t images) : values_(std::move(values)), images_(images) {
  LAI_CHECK(images >= 1, "calibration: needs at least one normal image, got ", images);
  for (double v : values_) LAI_CHECK(std::isfinite(v), "calibration: a normal score is not finite (", v, ")");
  std::sort(values_.begin(), values_.end(), std::greater<double>());
  const size_t n = values_.size();
  if (n < 3) {
    beta_ = n == 0 ? 0.0 : std::max(std::abs(values_[0]), 1e-12);
    return;
  }
  const size_t m = std::min(n, std::max<size_t>(5, (n + 9) / 10));
  double excess = 0;
  for (size_t i = 0; i + 1 < m; ++i) excess += values_[i] - values_[m - 1];
  beta_ = excess / double(m - 1);
  if (!(beta_ > 0)) beta_ = std::max(std::abs(values_[0]), 1.0) * 1e-9;  // the top values tie
}

double NormalTail::exceedance(double s) const {
  LAI_CHECK(!empty(), "calibration: exceedance of an empty calibration");
  const double unit = 1.0 / double(images_ + 1);
  if (values_.empty()) return unit;
  if (s > values_.front()) return unit * std::exp(-(s - values_.front()) / beta_);
  // #{v >= s} in the descending list.
  const auto end = std::partition_point(values_.begin(), values_.end(), [&](double v) { return v >= s; });
  return unit * double(1 + (end - values_.begin()));
}

namespace {
// The largest k <= cap with P(Poisson(lambda) <= k) <= alpha, or -1 when even P(0) = e^-lambda
// is above alpha.
int64_t allowed_count(double lambda, double alpha, int64_t cap) {
  const double log_alpha = std::log(alpha);
  double log_cdf = -INFINITY;
  for (int64_t j = 0; j <= cap; ++j) {
    const double log_term = -lambda + double(j) * std::log(lambda) - std::lgamma(double(j) + 1.0);
    const double hi = std::max(log_cdf, log_term);
    log_cdf = hi + std::log(std::exp(log_cdf - hi) + std::exp(log_term - hi));
    if (log_cdf > log_alpha) return j - 1;
  }
  return cap;
}
void check_rate(double rate, double level) {
  LAI_CHECK(std::isfinite(rate) && rate > 0 && rate <= 1e6, "calibration: false-positive rate must be in (0, 1e6], got ",
            rate);
  LAI_CHECK(level > 0 && level < 1, "calibration: confidence level must be in (0, 1), got ", level);
}
}  // namespace

double NormalTail::threshold(double rate, double level) const {
  LAI_CHECK(!empty(), "calibration: threshold of an empty calibration");
  check_rate(rate, level);
  const int64_t cap = int64_t(values_.size());  // allowing that many already lets every value pass
  const int64_t k = std::max<int64_t>(0, allowed_count(rate * double(images_), 1.0 - level, cap));
  return size_t(k) < values_.size() ? values_[size_t(k)] : -INFINITY;
}

bool NormalTail::supported(double rate, double level) const {
  check_rate(rate, level);
  return !empty() && -rate * double(images_) <= std::log(1.0 - level);  // P(Poisson = 0) <= 1 - level
}

Json NormalTail::to_json() const {
  Json j = Json::object();
  j.set("images", Json(static_cast<long long>(images_)));
  j.set("values", Json::array_of(values_));
  return j;
}

NormalTail NormalTail::from_json(const Json& j, std::string_view what) {
  const int64_t images = j.get_int("images", what);
  LAI_CHECK_FORMAT(images >= 1, what, ": 'images' must be >= 1, got ", images);
  return reclassify(ErrorKind::format, [&] { return NormalTail(j.get_number_array("values", what), images); });
}

// ---------------------------------------------------------------- options as JSON

namespace {
template <class E>
struct Names {
  E value;
  const char* name;
};
template <class E, size_t N>
const char* name_of(const Names<E> (&names)[N], E v) {
  for (const auto& n : names)
    if (n.value == v) return n.name;
  return "?";
}
template <class E, size_t N>
E value_of(const Names<E> (&names)[N], const std::string& s, std::string_view what, const char* field) {
  for (const auto& n : names)
    if (s == n.name) return n.value;
  LAI_FAIL(format, what, ": unknown ", field, " '", s, "'");
}
constexpr Names<Bandwidth> kBandwidths[] = {
    {Bandwidth::Silverman, "silverman"}, {Bandwidth::Scott, "scott"}, {Bandwidth::Fixed, "fixed"}};
constexpr Names<WpmKind> kKinds[] = {{WpmKind::NegLog, "neglog"}, {WpmKind::OneMinusRel, "rel"}};
constexpr Names<WpmSide> kSides[] = {{WpmSide::Both, "both"}, {WpmSide::Brighter, "brighter"}, {WpmSide::Darker, "darker"}};
float num(const Json& j, const char* key, float fallback, std::string_view what) {
  return float(j.get_number_or(key, fallback, what));
}
}  // namespace

Json to_json(const DetectOptions& o) {
  Json j = Json::object();
  j.set("source", Json(to_string(o.source)));
  j.set("min_radius", Json(o.min_radius));
  j.set("max_radius", Json(o.max_radius));
  j.set("min_contrast", Json(o.min_contrast));
  j.set("max_edge_ratio", Json(o.max_edge_ratio));
  j.set("min_separation", Json(o.min_separation));
  j.set("max_detections", Json(o.max_detections));
  return j;
}

DetectOptions detect_options_from_json(const Json& j, std::string_view what) {
  DetectOptions o;
  o.source = reclassify(ErrorKind::format, [&] {
    return circle_source_from_string(j.get_string_or("source", to_string(o.source), what));
  });
  o.min_radius = num(j, "min_radius", o.min_radius, what);
  o.max_radius = num(j, "max_radius", o.max_radius, what);
  o.min_contrast = num(j, "min_contrast", o.min_contrast, what);
  o.max_edge_ratio = num(j, "max_edge_ratio", o.max_edge_ratio, what);
  o.min_separation = num(j, "min_separation", o.min_separation, what);
  o.max_detections = int(std::clamp<int64_t>(j.get_int_or("max_detections", o.max_detections, what), 0, 1 << 30));
  reclassify(ErrorKind::format, [&] { o.validate(); });
  return o;
}

Json to_json(const ScoreOptions& o) {
  Json j = Json::object();
  j.set("method", Json(to_string(o.method)));
  j.set("percentile", Json(o.percentile));
  j.set("top_fraction", Json(o.top_fraction));
  j.set("blob_sigma_small", Json(o.blob_sigma_small));
  j.set("blob_sigma_large", Json(o.blob_sigma_large));
  j.set("spots", to_json(o.spots));
  return j;
}

ScoreOptions score_options_from_json(const Json& j, std::string_view what) {
  ScoreOptions o;
  o.method = reclassify(ErrorKind::format, [&] { return score_method_from_string(j.get_string("method", what)); });
  o.percentile = j.get_number_or("percentile", o.percentile, what);
  o.top_fraction = j.get_number_or("top_fraction", o.top_fraction, what);
  o.blob_sigma_small = num(j, "blob_sigma_small", o.blob_sigma_small, what);
  o.blob_sigma_large = num(j, "blob_sigma_large", o.blob_sigma_large, what);
  if (const Json* s = j.find("spots")) o.spots = detect_options_from_json(*s, what);
  return o;
}

Json to_json(const FinalizeOptions& o) {
  Json j = Json::object();
  j.set("rule", Json(name_of(kBandwidths, o.rule)));
  j.set("fixed_bandwidth", Json(o.fixed_bandwidth));
  j.set("min_bandwidth", Json(o.min_bandwidth));
  j.set("floor", Json(o.floor));
  return j;
}

FinalizeOptions finalize_options_from_json(const Json& j, std::string_view what) {
  FinalizeOptions o;
  o.rule = value_of(kBandwidths, j.get_string("rule", what), what, "bandwidth rule");
  o.fixed_bandwidth = num(j, "fixed_bandwidth", o.fixed_bandwidth, what);
  o.min_bandwidth = num(j, "min_bandwidth", o.min_bandwidth, what);
  o.floor = num(j, "floor", o.floor, what);
  return o;
}

Json to_json(const WpmOptions& o) {
  Json j = Json::object();
  j.set("kind", Json(name_of(kKinds, o.kind)));
  j.set("side", Json(name_of(kSides, o.side)));
  j.set("eps", Json(o.eps));
  j.set("smooth_sigma", Json(o.smooth_sigma));
  return j;
}

WpmOptions wpm_options_from_json(const Json& j, std::string_view what) {
  WpmOptions o;
  o.kind = value_of(kKinds, j.get_string("kind", what), what, "map kind");
  o.side = value_of(kSides, j.get_string("side", what), what, "map side");
  o.eps = num(j, "eps", o.eps, what);
  o.smooth_sigma = num(j, "smooth_sigma", o.smooth_sigma, what);
  return o;
}

// ---------------------------------------------------------------- Calibration

Json Calibration::to_json() const {
  Json j = Json::object();
  j.set("score", anomaly::to_json(score));
  j.set("detect", anomaly::to_json(detect));
  j.set("image", image.to_json());
  j.set("circles", circles.to_json());
  return j;
}

Calibration Calibration::from_json(const Json& j, std::string_view what) {
  Calibration c;
  c.score = score_options_from_json(j.get_object("score", what), what);
  c.detect = detect_options_from_json(j.get_object("detect", what), what);
  c.image = NormalTail::from_json(j.get_object("image", what), what);
  c.circles = NormalTail::from_json(j.get_object("circles", what), what);
  LAI_CHECK_FORMAT(c.image.images() == c.circles.images(), what, ": image scores of ", c.image.images(),
                   " images but circles of ", c.circles.images());
  LAI_CHECK_FORMAT(int64_t(c.image.values().size()) == c.image.images(), what, ": ", c.image.values().size(),
                   " image scores for ", c.image.images(), " images");
  return c;
}

Calibrator::Calibrator(const ScoreOptions& score, const DetectOptions& detect) : score_(score), detect_(detect) {
  detect_.validate();
  score_.spots.validate();
}

void Calibrator::add(const Image& map) {
  const std::vector<Detection> circles = detect_circles(map, detect_);
  const bool same = score_.method == ScoreMethod::Spot && score_.spots == detect_;  // one detection pass for both
  image_scores_.push_back(same ? (circles.empty() ? 0.0 : circles.front().score) : image_score(map, score_));
  for (const Detection& d : circles) circle_scores_.push_back(d.score);
  ++images_;
}

Calibration Calibrator::finish() const {
  LAI_CHECK(images_ > 0, "calibration: no normal maps were added");
  Calibration c;
  c.score = score_;
  c.detect = detect_;
  c.image = NormalTail(image_scores_, images_);
  c.circles = NormalTail(circle_scores_, images_);
  return c;
}

void OperatingPoint::validate() const { check_rate(fp_per_image, level); }

Assessment assess(const Image& map, const Calibration& c, const OperatingPoint& op) {
  op.validate();
  Assessment a;
  std::vector<Detection> circles = detect_circles(map, c.detect);
  a.score = c.score.method == ScoreMethod::Spot && c.score.spots == c.detect
                ? (circles.empty() ? 0.0 : circles.front().score)
                : image_score(map, c.score);
  if (c.empty()) {
    a.circles = std::move(circles);
    return a;
  }
  a.p_value = c.p_value(a.score);
  a.flagged = a.score > c.image_threshold(op.fp_per_image, op.level);
  a.circle_threshold = c.circle_threshold(op.fp_per_image, op.level);
  for (Detection& d : circles)
    if (d.score > a.circle_threshold) {
      d.confidence = c.circle_confidence(d.score);
      a.circles.push_back(d);
    }
  return a;
}

std::vector<size_t> holdout_indices(size_t n, double share) {
  LAI_CHECK(share >= 0 && share < 1, "holdout: share must be in [0, 1), got ", share);
  std::vector<size_t> out;
  if (share <= 0 || n < 2) return out;
  for (size_t i = 0; i < n; ++i)
    if (std::floor(double(i + 1) * share) > std::floor(double(i) * share)) out.push_back(i);
  if (out.empty()) out.push_back(n / 2);
  if (out.size() == n) out.pop_back();
  return out;
}

std::vector<size_t> complement_indices(size_t n, const std::vector<size_t>& sorted) {
  std::vector<size_t> out;
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (k < sorted.size() && sorted[k] == i) {
      ++k;
      continue;
    }
    out.push_back(i);
  }
  return out;
}

// ---------------------------------------------------------------- ProbMat

Json ProbMatCalibration::to_json() const {
  Json j = Json::object();
  j.set("finalize", anomaly::to_json(finalize));
  j.set("wpm", anomaly::to_json(wpm));
  j.set("scores", scores.to_json());
  return j;
}

ProbMatCalibration ProbMatCalibration::from_json(const Json& j, std::string_view what) {
  ProbMatCalibration c;
  c.finalize = finalize_options_from_json(j.get_object("finalize", what), what);
  c.wpm = wpm_options_from_json(j.get_object("wpm", what), what);
  c.scores = Calibration::from_json(j.get_object("scores", what), what);
  return c;
}

DetectOptions wpm_detect_options() {
  DetectOptions o;
  o.source = CircleSource::Hough;
  return o;
}

ScoreOptions wpm_score_options() {
  ScoreOptions o;
  o.spots = wpm_detect_options();
  return o;
}

ProbMatCalibration calibrate_probmat(const ProbMat& pm, const std::vector<Image>& normal_images,
                                     const FinalizeOptions& finalize, const WpmOptions& wpm_options,
                                     const ScoreOptions& score, const DetectOptions& detect) {
  LAI_CHECK(!normal_images.empty(), "calibrate_probmat: no normal images");
  const ProbTable table = pm.finalize(finalize);
  Calibrator cal(score, detect);
  for (const Image& im : normal_images) cal.add(wpm(table, im, wpm_options));
  ProbMatCalibration c;
  c.finalize = finalize;
  c.wpm = wpm_options;
  c.scores = cal.finish();
  return c;
}

}  // namespace liteai::anomaly
