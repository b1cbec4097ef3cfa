#include "liteai/nn/checkpoint.hpp"

#include "liteai/autograd/autograd.hpp"
#include "liteai/nn/layers.hpp"

namespace liteai::nn {

namespace {
void collect_dropouts(Module& m, std::vector<Dropout*>* out) {
  if (auto* d = dynamic_cast<Dropout*>(&m)) out->push_back(d);
  for (const auto& [name, c] : m.children()) collect_dropouts(*c, out);
}

// What a recomputation must replay: the Dropout generators as they were before the first pass.
struct RandomState {
  std::vector<Dropout*> layers;
  std::vector<Dropout::RngState> states;
  explicit RandomState(Module& m) {
    collect_dropouts(m, &layers);
    for (Dropout* d : layers) states.push_back(d->rng_state());
  }
  std::vector<Dropout::RngState> swap_in(const std::vector<Dropout::RngState>& s) const {
    std::vector<Dropout::RngState> now;
    for (size_t i = 0; i < layers.size(); ++i) {
      now.push_back(layers[i]->rng_state());
      layers[i]->set_rng_state(s[i]);
    }
    return now;
  }
};
}  // namespace

Tensor checkpoint(Module& m, const Tensor& x) {
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : m.parameters())
    if (p.requires_grad()) inputs.push_back(p);
  if (!autograd::needs_grad(inputs)) return m.forward(x);
  // Keep the module alive until backward; a module not owned by a shared_ptr is the caller's to keep.
  std::shared_ptr<Module> keep = m.weak_from_this().lock();
  Module* mod = &m;
  auto random = std::make_shared<RandomState>(m);
  // The first pass is recorded too, so its output is the same bits as an ordinary forward pass
  // (some layers take other kernels when nothing is recorded); dropping its graph frees the inner
  // activations right away.
  Tensor y;
  {
    Tensor xr = x.detach();
    if (x.requires_grad()) xr.set_requires_grad(true);
    y = m.forward(xr).detach();
  }
  const bool gx = x.requires_grad();
  const size_t n_inputs = inputs.size();
  return autograd::record("checkpoint", y, std::move(inputs),
                          [x, keep, mod, random, gx, n_inputs](const Tensor& g) {
                            Tensor xr = x.detach();
                            if (gx) xr.set_requires_grad(true);
                            // Replay the first pass's randomness; keep the running statistics it set.
                            NamedTensors buffers = mod->named_buffers();
                            std::vector<Tensor> saved;
                            for (const auto& [name, b] : buffers) saved.push_back(b.clone());
                            const auto after = random->swap_in(random->states);
                            Tensor yr;
                            {
                              autograd::EnableGrad on;
                              yr = mod->forward(xr);
                            }
                            random->swap_in(after);
                            for (size_t i = 0; i < buffers.size(); ++i) buffers[i].second.copy_from(saved[i]);
                            std::vector<Tensor> grads(n_inputs);
                            if (yr.requires_grad()) yr.backward(g);
                            if (gx) grads[0] = xr.grad();
                            return grads;
                          });
}

}  // namespace liteai::nn
