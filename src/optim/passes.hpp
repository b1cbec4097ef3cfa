#pragma once
// The forward and backward passes of one training step, without the update: what the Trainer runs
// and what the memory planner measures (so both are the same code).
//
// A batch is run whole, or in micro-batches ("pieces") two ways:
//   network: each piece goes through the whole network, forward and backward, its loss weighted
//            by its share of the batch; the gradients add up to the batch's.
//   prefix:  for a Sequential network whose first huge (streamed) layer comes after other layers:
//            the pieces run only through the layers before it (without autograd), their outputs
//            are joined, the rest of the network runs forward and backward on the whole batch,
//            and then the prefix is run again piece by piece, recorded, and backward is taken
//            through it from the joined gradient. One more forward pass of the prefix, but the huge
//            layer (whose weights are read per pass) runs once per batch instead of once per
//            piece, and the tail sees the whole batch (BatchNorm there uses the batch's statistics).
#include <cstdint>
#include <functional>
#include <vector>

#include "liteai/nn/zoo.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::optim::detail {

// Rows [b, e) of a batch (views: dimension 0 of contiguous tensors).
TrainBatch piece_of(const TrainBatch& t, int64_t b, int64_t e);

// The index of the first child of a Sequential network that holds one of `huge` (streamed
// weights), when layers come before it: where prefix pieces stop. 0 when there is none.
size_t prefix_split(nn::Module& net, const std::vector<const TensorImpl*>& huge);

struct Passes {
  int64_t piece = 0;  // samples per piece; 0 or >= the batch: the whole batch at once
  size_t split = 0;   // > 0: prefix pieces (children [0, split) of the Sequential network)
  // Called before the backward pass that covers rows [begin, begin + rows) of a `batch`-row batch
  // (a streamed Dense layer's factors arrive for those rows).
  std::function<void(int64_t begin, int64_t rows, int64_t batch)> on_rows;
  bool measure = false;  // fill the peaks below
};

struct PassResult {
  double loss = 0;  // the data loss (weighted over the pieces), without regularization
  int64_t correct = 0, counted = 0;
  // With measure: the most bytes (memory_stats) above what was live at the start, in the whole
  // run (peak); for prefix pieces also in the phase that runs the whole batch through the tail
  // (tail_peak) and in the one that runs the prefix again (prefix_peak), and the bytes of the
  // joined prefix outputs (joined_bytes, held through both).
  int64_t peak = 0, tail_peak = 0, prefix_peak = 0, joined_bytes = 0;
};

// Forward and backward passes of `batch` through the model in training mode; gradients land in the
// parameters (or their streaming sinks). The loss is o.loss or the head's loss.
PassResult run_passes(nn::Model& model, const TrainOptions& o, const TrainBatch& batch, const Passes& p);

}  // namespace liteai::optim::detail
