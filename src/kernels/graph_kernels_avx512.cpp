// AVX-512 instantiation of graph_kernels_impl.hpp; compiled with those flags only.
// xsimd 8.1 starts some AVX-512 values from _mm512_undefined_*(): GCC warns, harmlessly.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define LITEAI_GRAPH_KERNELS_XSIMD
#include "kernels/graph_kernels_impl.hpp"

namespace liteai::kernels::detail {
const GraphTable& graph_table_avx512() {
  static const GraphTable t = make_graph_table<XsimdLanes<xsimd::avx512bw>>();
  return t;
}
}  // namespace liteai::kernels::detail
