// SSE4.2 instantiation of graph_kernels_impl.hpp; compiled with that flag only.
#define LITEAI_GRAPH_KERNELS_XSIMD
#include "kernels/graph_kernels_impl.hpp"

namespace liteai::kernels::detail {
const GraphTable& graph_table_sse() {
  static const GraphTable t = make_graph_table<XsimdLanes<xsimd::sse4_2>>();
  return t;
}
}  // namespace liteai::kernels::detail
