// libFuzzer target for the ONNX importer: any byte string must import or throw liteai::Error,
// never crash, hang or allocate more than the input could justify. A model that imports must also
// run (when small), export, and import again from its export.
#include <cstddef>
#include <cstdint>

#include "liteai/autograd/autograd.hpp"
#include "liteai/interop/onnx.hpp"
#include "liteai/nn/graph.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace lo = liteai::interop::onnx;
  if (size < 1) return 0;
  // The first byte picks the options (gray/keep channels, preprocessing, head).
  lo::ImportOptions o;
  o.gray = (data[0] & 1) == 0;
  o.preprocess = (data[0] & 2) ? lo::Preprocess::unit : lo::Preprocess::imagenet;
  o.head = (data[0] & 4) ? liteai::nn::Head::none : liteai::nn::Head::softmax;
  try {
    auto m = lo::import_model_from_bytes(data + 1, size - 1, o, "fuzz.onnx");
    auto& g = dynamic_cast<liteai::nn::Graph&>(*m->net);
    int64_t macs = 0;
    for (const auto& r : g.report()) macs += r.macs;
    liteai::Shape in = g.inputs()[0].shape;
    in[0] = 1;
    if (g.inputs().size() == 1 && liteai::numel(in) <= (1 << 16) && macs <= (int64_t(1) << 24) &&
        g.parameter_count() <= (1 << 20)) {
      liteai::autograd::NoGrad ng;
      g.forward(liteai::Tensor::zeros(in));
    }
    const std::vector<uint8_t> again = lo::export_model_to_bytes(*m);
    lo::import_model_from_bytes(again.data(), again.size(), o, "fuzz-export.onnx");
  } catch (const liteai::Error&) {
  }
  return 0;
}
