#pragma once
// Internal plumbing of the kernels: the per-ISA function table and scratch buffers.
// Each ISA's translation unit (kernels_<isa>.cpp) fills one Table with the same templates
// compiled under its own flags; api.cpp picks the table of active_isa() per call.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "kernels/kernels.hpp"
#include "liteai/core/storage.hpp"

namespace liteai::kernels::detail {

struct Table {
  Isa isa;
  int mr, nr;  // GEMM micro-tile (for tests and benches)
  void (*sgemm)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                int64_t, float, float*, int64_t);
  void (*sgemm_bf16b)(int64_t, int64_t, int64_t, const float*, int64_t, const uint16_t*, int64_t, float*,
                      int64_t);
  void (*conv2d_forward)(const Conv2dShape&, const float*, const float*, const float*, float*, Act);
  void (*conv2d_forward_avgpool2)(const Conv2dShape&, const float*, const float*, const float*, float*, Act);
  // One output row of a 2x2 stride-2 max pool: rows r0, r1 of the input, OW outputs, argmax (may
  // be null) as flat indices i0 + column (row r0) and i1 + column (row r1).
  void (*max_pool2x2_row)(int64_t OW, const float* r0, const float* r1, float* y, int32_t* argmax, int32_t i0,
                          int32_t i1);
  void (*conv2d_backward_data)(const Conv2dShape&, const float*, const float*, float*);
  void (*conv2d_backward_weight)(const Conv2dShape&, const float*, const float*, float*, float*);
  // Element-wise on a contiguous chunk (api.cpp splits large arrays over threads).
  void (*vadd)(int64_t, const float*, const float*, float*);
  void (*vsub)(int64_t, const float*, const float*, float*);
  void (*vmul)(int64_t, const float*, const float*, float*);
  void (*vdiv)(int64_t, const float*, const float*, float*);
  void (*vscale)(int64_t, float, const float*, float*);
  void (*vaxpy)(int64_t, float, const float*, float*);
  void (*vexp)(int64_t, const float*, float*);
  void (*vlog)(int64_t, const float*, float*);
  void (*vsigmoid)(int64_t, const float*, float*);
  void (*vtanh)(int64_t, const float*, float*);
  void (*vrelu)(int64_t, const float*, float*);
  void (*vswish)(int64_t, const float*, float*);
  void (*vswish_backward)(int64_t, const float*, const float*, float*);
  void (*vrelu_backward)(int64_t, const float*, const float*, float*);
  double (*vsum)(int64_t, const float*);
  double (*vdot)(int64_t, const float*, const float*);
  void (*softmax_rows)(int64_t, int64_t, const float*, float*);
  void (*log_softmax_rows)(int64_t, int64_t, const float*, float*);
  void (*adam_update)(int64_t, const AdamStep&, const float*, float*, float*, float*);
  void (*f32_to_bf16)(int64_t, const float*, uint16_t*);
  void (*bf16_to_f32)(int64_t, const uint16_t*, float*);
  // bf16 operands, fp32 sums (kernels.hpp): widening into the fp32 micro-kernels, or vdpbf16ps.
  bool bf16_dot;
  void (*gemm_bf16)(bool, bool, int64_t, int64_t, int64_t, float, const uint16_t*, int64_t, const uint16_t*,
                    int64_t, float, float*, int64_t);
  void (*conv2d_forward_bf16)(const Conv2dShape&, const uint16_t*, const uint16_t*, const float*, float*, Act);
  void (*conv2d_forward_avgpool2_bf16)(const Conv2dShape&, const uint16_t*, const uint16_t*, const float*, float*,
                                       Act);
  void (*conv2d_backward_data_bf16)(const Conv2dShape&, const uint16_t*, const uint16_t*, float*);
  void (*conv2d_backward_weight_bf16)(const Conv2dShape&, const uint16_t*, const uint16_t*, float*);
};

// The portable 2x2 max-pool row (first maximum wins; a NaN is taken and kept).
inline void max_pool2x2_row_scalar(int64_t OW, const float* r0, const float* r1, float* y, int32_t* am, int32_t i0,
                                   int32_t i1) {
  for (int64_t ow = 0; ow < OW; ++ow) {
    float best = r0[2 * ow];
    int32_t idx = i0 + int32_t(2 * ow);
    auto take = [&](float v, int32_t i) {
      const bool t = (v > best) | ((v != v) & (best == best));
      best = t ? v : best;
      idx = t ? i : idx;
    };
    take(r0[2 * ow + 1], i0 + int32_t(2 * ow + 1));
    take(r1[2 * ow], i1 + int32_t(2 * ow));
    take(r1[2 * ow + 1], i1 + int32_t(2 * ow + 1));
    y[ow] = best;
    if (am) am[ow] = idx;
  }
}

const Table& table_scalar();
const Table& table_sse();
const Table& table_avx2();
const Table& table_avx512();
const Table& table_avx512bf16();
const Table& table_for(Isa isa);
inline const Table& active_table() { return table_for(active_isa()); }

// A per-thread, 64-byte aligned scratch area that only grows (packing panels, tiles).
// slot selects one of a few independent buffers so nested users do not collide.
float* scratch(int slot, size_t floats);

// 64-byte aligned allocator for std::vector (packed panels shared between threads).
template <class T>
struct AlignedAlloc {
  using value_type = T;
  AlignedAlloc() = default;
  template <class U>
  AlignedAlloc(const AlignedAlloc<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes ? bytes : 64);
    if (!p) throw std::bad_alloc();
    memory_track(MemoryCategory::workspace, static_cast<int64_t>(n * sizeof(T)));
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    memory_track(MemoryCategory::workspace, -static_cast<int64_t>(n * sizeof(T)));
    std::free(p);
  }
  template <class U>
  bool operator==(const AlignedAlloc<U>&) const { return true; }
};

}  // namespace liteai::kernels::detail
