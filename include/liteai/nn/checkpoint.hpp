#pragma once
// Activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"):
// a module's forward pass is recorded as one node that keeps only the module's input; its inner
// activations are freed at once, and backward runs the module's forward again (recorded) and
// goes back through that. The gradients are the same bits as without checkpointing: the
// recomputation runs the same kernels on the same values, with Dropout layers replaying their
// masks and BatchNorm running statistics updated once.
//
//   net->children()[0].second->set_checkpointing(true);  // Module::run() then calls checkpoint()
//
// Memory: the module's activations exist twice as briefly (forward, then once more in backward),
// not from forward until backward. A module the streamed-gradient Dense layer lives in still
// hands its gradient over once (only the recomputed pass is gone through).
#include "liteai/nn/module.hpp"

namespace liteai::nn {

// m.forward(x), recorded as one recomputed node when autograd records it; otherwise the plain call.
Tensor checkpoint(Module& m, const Tensor& x);

}  // namespace liteai::nn
