#pragma once
// Data-parallel training over MPI (Open MPI from Debian: openmpi-bin, libopenmpi-dev). Built when
// MPI is found (CMake option LITEAI_WITH_MPI); code above the optim layer tests LITEAI_HAVE_MPI
// before using it.
//
//   mpirun -np 2 liteai train --data ... --distributed
//
// mpi_world() initializes MPI on first use (MPI_THREAD_FUNNELED: every call comes from the
// training thread) and finalizes it when the program ends; it returns the Collective of
// MPI_COMM_WORLD that optim::TrainOptions::collective takes. Sums are MPI_Allreduce (Open MPI
// gives every rank the same result), gathers MPI_Allgatherv; payloads over 2^30 elements go in
// pieces. abort() prints "liteai: rank R of N failed: <message>" and calls MPI_Abort, which ends
// every rank of the job.
#include <memory>

#include "liteai/optim/collective.hpp"

namespace liteai::interop {

std::shared_ptr<optim::Collective> mpi_world();
// True when the process was started by mpirun/mpiexec (Open MPI's, or a PMI launcher's variables).
bool mpi_launched();

}  // namespace liteai::interop
