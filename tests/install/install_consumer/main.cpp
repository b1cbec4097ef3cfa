// Fits y = 2x + 1 with the installed library's autograd and checks the result.
#include <cmath>
#include <cstdio>

#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"

int main() {
  using namespace liteai;
  Tensor x = Tensor::from_vector({0, 1, 2, 3}, {4, 1});
  Tensor y = Tensor::from_vector({1, 3, 5, 7}, {4, 1});
  Tensor w = Tensor::zeros({1, 1}).set_requires_grad(), b = Tensor::zeros({1}).set_requires_grad();
  for (int i = 0; i < 500; ++i) {
    Tensor loss = ops::mse(ops::linear(x, w, b), y);
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    for (Tensor* p : {&w, &b})
      for (int64_t k = 0; k < p->numel(); ++k) p->data()[k] -= 0.05f * p->grad().data()[k];
  }
  std::printf("w=%.3f b=%.3f\n", w.item(), b.item());
  return (std::fabs(w.item() - 2) < 1e-2 && std::fabs(b.item() - 1) < 1e-2) ? 0 : 1;
}
