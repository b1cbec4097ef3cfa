// AVX2 + FMA instantiation of graph_kernels_impl.hpp; compiled with those flags only.
#define LITEAI_GRAPH_KERNELS_XSIMD
#include "kernels/graph_kernels_impl.hpp"

namespace liteai::kernels::detail {
const GraphTable& graph_table_avx2() {
  static const GraphTable t = make_graph_table<XsimdLanes<xsimd::fma3<xsimd::avx2>>>();
  return t;
}
}  // namespace liteai::kernels::detail
