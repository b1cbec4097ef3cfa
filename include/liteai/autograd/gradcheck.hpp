#pragma once
// Gradient check: the analytic (float) backward against central finite differences evaluated
// in double. The function's output is reduced with fixed random weights r, L = sum(r * f(x)),
// so every output element's gradient is exercised, not just a sum.
#include <functional>
#include <string>
#include <vector>

#include "liteai/core/tensor.hpp"

namespace liteai::autograd {

struct GradcheckOptions {
  double eps = 1e-2;   // finite-difference step (float forward: not too small)
  double atol = 2e-3;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 2e-2;
  uint64_t seed = 7;
  int64_t max_checks_per_input = 256;  // elements checked per input (sampled if larger)
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // the first mismatch: input, element, analytic, numeric
};

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          const GradcheckOptions& options = {});

}  // namespace liteai::autograd
