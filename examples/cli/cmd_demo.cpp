// liteai demo: the main job. Fits a tiny model end to end with the autograd engine and prints
// its loss falling (later: trains compact_cxr on synthetic phantoms).
#include <cmath>
#include <cstdio>

#include "command.hpp"
#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"

LAI_COMMAND(demo, "end-to-end demo on the embedded synthetic data") {
  using namespace liteai;
  cli::Options o(args, {"steps", "seed"}, {});
  if (o.has("help")) {
    std::printf("usage: liteai demo [--steps N] [--seed K]\n");
    return 0;
  }
  const int steps = static_cast<int>(o.get_int("steps", 300));
  Generator g(static_cast<uint64_t>(o.get_int("seed", 1)));
  // Two interleaved spirals-like clusters: a 2-16-2 MLP separates them.
  const int n = 256;
  Tensor x = Tensor::empty({n, 2}), y = Tensor::empty({n});
  for (int i = 0; i < n; ++i) {
    int cls = i % 2;
    float r = g.uniform(0.2f, 1.f), t = g.uniform(0.f, 3.f) + cls * 3.14159f;
    x.data()[2 * i] = r * std::cos(t) + g.normal(0, 0.05f);
    x.data()[2 * i + 1] = r * std::sin(t) + g.normal(0, 0.05f);
    y.data()[i] = static_cast<float>(cls);
  }
  Tensor w1 = (randn({2, 32}, 0, 1, g) * 0.7f).detach().set_requires_grad();
  Tensor b1 = Tensor::zeros({32}).set_requires_grad();
  Tensor w2 = (randn({32, 2}, 0, 1, g) * 0.2f).detach().set_requires_grad();
  Tensor b2 = Tensor::zeros({2}).set_requires_grad();
  std::vector<Tensor*> params{&w1, &b1, &w2, &b2};
  std::printf("liteai demo: a 2-32-2 MLP on two noisy spirals (%d points), plain SGD\n", n);
  for (int s = 1; s <= steps; ++s) {
    Tensor logits = ops::linear(ops::tanh(ops::linear(x, w1, b1)), w2, b2);
    Tensor loss = ops::cross_entropy(logits, y);
    for (Tensor* p : params) p->zero_grad();
    loss.backward();
    for (Tensor* p : params)
      for (int64_t k = 0; k < p->numel(); ++k) p->data()[k] -= 0.5f * p->grad().data()[k];
    if (s == 1 || s % 50 == 0 || s == steps) {
      autograd::NoGrad ng;
      Tensor pred = ops::argmax(logits, 1);
      int correct = 0;
      for (int i = 0; i < n; ++i) correct += pred.data()[i] == y.data()[i];
      std::printf("step %4d  loss %.4f  accuracy %.3f\n", s, loss.item(), correct / double(n));
    }
  }
  return 0;
}
