// AVX-512 with AVX512_BF16: the avx512 table, its bf16 kernels replaced by vdpbf16ps ones
// (dot_bf16_impl.hpp). Compiled with the avx512 flags plus -mavx512bf16; the fp32 templates it
// shares with kernels_avx512.cpp use no bf16 instruction, so either copy serves both tables.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/dot_bf16_impl.hpp"

namespace liteai::kernels::detail {

const Table& table_avx512bf16() {
  static const Table t = [] {
    Table t = table_avx512();
    t.isa = Isa::avx512bf16;
    t.bf16_dot = true;
    t.gemm_bf16 = &gemm_bf16_dot;
    t.conv2d_forward_bf16 = &conv2d_forward_dot;
    t.conv2d_forward_avgpool2_bf16 = &conv2d_forward_avgpool2_dot;
    t.conv2d_backward_data_bf16 = &conv2d_backward_data_dot;
    t.conv2d_backward_weight_bf16 = &conv2d_backward_weight_dot;
    return t;
  }();
  return t;
}

}  // namespace liteai::kernels::detail
