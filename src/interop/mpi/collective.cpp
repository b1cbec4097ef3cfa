// The C API only (Open MPI and MPICH otherwise pull in their deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "liteai/core/error.hpp"
#include "liteai/interop/mpi.hpp"

namespace liteai::interop {
namespace {

constexpr int64_t kPiece = int64_t(1) << 30;  // elements per MPI call (counts are int)

void finalize_at_exit() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Finalize();
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(ErrorKind::io, str_cat("MPI: ", what, " failed: ", std::string(msg, size_t(len))));
}

class MpiCollective : public optim::Collective {
 public:
  MpiCollective() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // Errors come back as codes (and become exceptions) instead of ending the process silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(float* data, int64_t n) override {
    for (int64_t at = 0; at < n; at += kPiece)
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(kPiece, n - at)), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce");
    bytes_sent_ += n * int64_t(sizeof(float));
  }
  void all_reduce_sum(double* data, int64_t n) override {
    for (int64_t at = 0; at < n; at += kPiece)
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(kPiece, n - at)), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce");
    bytes_sent_ += n * int64_t(sizeof(double));
  }
  void broadcast(float* data, int64_t n, int root) override {
    for (int64_t at = 0; at < n; at += kPiece)
      check(MPI_Bcast(data + at, int(std::min(kPiece, n - at)), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
    if (rank_ == root) bytes_sent_ += n * int64_t(sizeof(float));
  }
  Tensor all_gather_rows(const Tensor& local_in) override {
    const Tensor local = local_in.contiguous();
    LAI_CHECK(local.dim() == 2 && local.dtype() == DType::f32, "MPI: all_gather_rows needs an f32 matrix, got ",
              to_string(local.shape()));
    long long mine[2] = {(long long)local.size(0), (long long)local.size(1)};
    std::vector<long long> all(static_cast<size_t>(2 * size_));
    check(MPI_Allgather(mine, 2, MPI_LONG_LONG, all.data(), 2, MPI_LONG_LONG, MPI_COMM_WORLD), "MPI_Allgather");
    int64_t rows = 0;
    std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      LAI_CHECK(all[size_t(2 * r + 1)] == mine[1], "MPI: rank ", r, " sends rows of ", all[size_t(2 * r + 1)],
                " columns, rank ", rank_, " of ", mine[1]);
      const int64_t elems = int64_t(all[size_t(2 * r)]) * mine[1], at = rows * mine[1];
      LAI_CHECK(elems < INT_MAX && at < INT_MAX, "MPI: a gather of ", at + elems, " elements is too large (2^31)");
      counts[size_t(r)] = int(elems);
      displs[size_t(r)] = int(at);
      rows += all[size_t(2 * r)];
    }
    Tensor out = Tensor::empty({rows, local.size(1)});
    check(MPI_Allgatherv(local.data(), int(local.numel()), MPI_FLOAT, out.data(), counts.data(), displs.data(),
                         MPI_FLOAT, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    bytes_sent_ += local.numel() * int64_t(sizeof(float)) + 16;
    return out;
  }
  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "liteai: rank %d of %d failed: %s; ending the job (MPI_Abort)\n", rank_, size_,
                 message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();
  }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_launched() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

std::shared_ptr<optim::Collective> mpi_world() {
  static std::mutex mu;
  static std::shared_ptr<optim::Collective> world;
  std::lock_guard<std::mutex> lk(mu);
  if (world) return world;
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  LAI_CHECK(!fin, "MPI: already finalized in this process");
  if (!init) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
  }
  world = std::make_shared<MpiCollective>();
  return world;
}

}  // namespace liteai::interop
