#include "liteai/autograd/gradcheck.hpp"

#include <cmath>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/random.hpp"

namespace liteai::autograd {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          const GradcheckOptions& opt) {
  GradcheckResult res;
  for (Tensor& t : inputs) {
    LAI_CHECK(t.dtype() == DType::f32, "gradcheck: inputs must be f32");
    t = t.contiguous().detach().clone();
    t.set_requires_grad(true);
  }
  Generator gen(opt.seed);
  Tensor y = f(inputs);
  Tensor r = rand_uniform(y.shape(), -1.f, 1.f, gen);
  const std::vector<float> rv = r.to_vector();
  auto loss = [&]() {
    NoGrad ng;
    std::vector<float> v = f(inputs).to_vector();
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += double(v[i]) * rv[i];
    return s;
  };
  y.backward(r);

  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    Tensor g = x.grad();
    const int64_t n = x.numel();
    std::vector<float> analytic = g.defined() ? g.to_vector() : std::vector<float>(size_t(n), 0.f);
    std::vector<int64_t> idx;
    if (n <= opt.max_checks_per_input) {
      for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    } else {
      for (int64_t i = 0; i < opt.max_checks_per_input; ++i) idx.push_back(static_cast<int64_t>(gen.below(n)));
    }
    float* p = x.data();
    for (int64_t i : idx) {
      const float orig = p[i];
      p[i] = static_cast<float>(orig + opt.eps);
      const double up = loss();
      p[i] = static_cast<float>(orig - opt.eps);
      const double down = loss();
      p[i] = orig;
      const double numeric = (up - down) / (2 * opt.eps);
      const double err = std::fabs(analytic[i] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (res.ok && !(err <= opt.atol + opt.rtol * std::fabs(numeric))) {
        res.ok = false;
        res.message = str_cat("input ", k, " ", to_string(x.shape()), " element ", i, ": analytic ", analytic[i],
                              " vs numeric ", numeric);
      }
    }
  }
  return res;
}

}  // namespace liteai::autograd
