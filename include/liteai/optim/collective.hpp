#pragma once
// What data-parallel training needs from a message-passing engine (TrainOptions::collective).
// The optim layer knows only this interface; src/interop/mpi implements it over MPI
// (liteai/interop/mpi.hpp). Every call is collective: every rank makes the same calls in the same
// order (the Trainer guarantees it), from the training thread.
#include <cstdint>
#include <string>

#include "liteai/core/tensor.hpp"

namespace liteai::optim {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In place: data[i] = the sum over ranks of data[i], the same bits on every rank.
  virtual void all_reduce_sum(float* data, int64_t n) = 0;
  virtual void all_reduce_sum(double* data, int64_t n) = 0;
  // In place: every rank gets rank `root`'s data.
  virtual void broadcast(float* data, int64_t n, int root) = 0;
  // The rows of every rank's `local` ([n_r, cols], n_r may differ and be 0), joined in rank order:
  // [sum n_r, cols].
  virtual Tensor all_gather_rows(const Tensor& local) = 0;
  // Ends every rank of the job with `message` (a rank that failed); does not return.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
  // Bytes this rank handed to the engine so far (all_reduce, gather and broadcast payloads).
  int64_t bytes_sent() const { return bytes_sent_; }

 protected:
  int64_t bytes_sent_ = 0;
};

}  // namespace liteai::optim
