#include "liteai/nn/calibration.hpp"

#include <algorithm>
#include <cmath>

#include "liteai/core/error.hpp"

namespace liteai::nn {
namespace {

// Mean NLL of column c (sigmoid) or of the whole row (softmax) at temperature t, in double.
double nll_softmax(const std::vector<float>& z, const std::vector<float>& y, int64_t n, int64_t c, double t) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = z.data() + i * c;
    double mx = -1e300;
    for (int64_t k = 0; k < c; ++k) mx = std::max(mx, double(row[k]) / t);
    double s = 0;
    for (int64_t k = 0; k < c; ++k) s += std::exp(double(row[k]) / t - mx);
    sum += std::log(s) + mx - double(row[int64_t(y[size_t(i)])]) / t;
  }
  return sum / double(n);
}

double nll_binary(const std::vector<float>& z, const std::vector<float>& y, int64_t n, int64_t c, int64_t col, double t) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = double(z[size_t(i * c + col)]) / t, target = y[size_t(i * c + col)];
    sum += std::max(x, 0.0) - x * target + std::log1p(std::exp(-std::fabs(x)));  // BCE with logits
  }
  return sum / double(n);
}

template <class F>
double golden_log_search(F f) {
  double a = std::log(0.05), b = std::log(20.0);
  const double r = (std::sqrt(5.0) - 1) / 2;
  double x1 = b - r * (b - a), x2 = a + r * (b - a), f1 = f(std::exp(x1)), f2 = f(std::exp(x2));
  for (int it = 0; it < 80; ++it) {
    if (f1 < f2) {
      b = x2, x2 = x1, f2 = f1, x1 = b - r * (b - a), f1 = f(std::exp(x1));
    } else {
      a = x1, x1 = x2, f1 = f2, x2 = a + r * (b - a), f2 = f(std::exp(x2));
    }
  }
  return std::exp(0.5 * (a + b));
}

void check(Head head, const Tensor& logits, const Tensor& labels, const Tensor& targets, int64_t* n, int64_t* c) {
  LAI_CHECK(head != Head::none, "calibration: a model without classes (head none) has no probabilities to calibrate");
  LAI_CHECK(logits.dim() == 2 && logits.size(0) > 0, "calibration: logits must be [N, C] with N > 0, got ",
            to_string(logits.shape()));
  *n = logits.size(0), *c = logits.size(1);
  if (head == Head::softmax)
    LAI_CHECK(labels.defined() && labels.numel() == *n, "calibration: a softmax head needs ", *n, " class labels");
  else
    LAI_CHECK(targets.defined() && targets.shape() == logits.shape(), "calibration: a sigmoid head needs targets ",
              to_string(logits.shape()));
}

}  // namespace

double temperature_nll(Head head, const Tensor& logits, const Tensor& labels, const Tensor& targets,
                       const std::vector<float>& temperature) {
  int64_t n = 0, c = 0;
  check(head, logits, labels, targets, &n, &c);
  const std::vector<float> z = logits.to_vector();
  auto t_of = [&](int64_t k) { return temperature.empty() ? 1.0 : double(temperature[temperature.size() == 1 ? 0 : size_t(k)]); };
  if (head == Head::softmax) return nll_softmax(z, labels.to_vector(), n, c, t_of(0));
  const std::vector<float> y = targets.to_vector();
  double s = 0;
  for (int64_t k = 0; k < c; ++k) s += nll_binary(z, y, n, c, k, t_of(k));
  return s / double(c);
}

std::vector<float> fit_temperature(Head head, const Tensor& logits, const Tensor& labels, const Tensor& targets) {
  int64_t n = 0, c = 0;
  check(head, logits, labels, targets, &n, &c);
  const std::vector<float> z = logits.to_vector();
  if (head == Head::softmax) {
    const std::vector<float> y = labels.to_vector();
    for (float v : y) LAI_CHECK(v >= 0 && v < float(c), "calibration: label ", v, " outside 0..", c - 1);
    return {float(golden_log_search([&](double t) { return nll_softmax(z, y, n, c, t); }))};
  }
  const std::vector<float> y = targets.to_vector();
  std::vector<float> out(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k)
    out[size_t(k)] = float(golden_log_search([&](double t) { return nll_binary(z, y, n, c, k, t); }));
  return out;
}

}  // namespace liteai::nn
