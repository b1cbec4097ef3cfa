// torchvision networks (seeded random weights, exported to ONNX by PyTorch at test time by
// make_onnx_models.py): liteai's outputs equal PyTorch's within 1e-4 relative. Release builds
// only (the ctest fixture that runs PyTorch is not registered under the sanitizers).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "liteai/autograd/autograd.hpp"
#include "liteai/interop/onnx.hpp"
#include "liteai/nn/graph.hpp"
#include "train_fixtures.hpp"

using namespace liteai;
namespace lo = liteai::interop::onnx;

namespace {
std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}
Shape parse_shape(const std::string& s) {
  Shape out;
  std::stringstream ss(s);
  for (std::string d; std::getline(ss, d, ',');) out.push_back(std::stoll(d));
  return out;
}
}  // namespace

TEST_CASE("onnx import: torchvision densenet121, resnet50, mobilenet_v3_small, efficientnet_b0 equal PyTorch",
          "[onnx][torch]") {
  if (const char* why = std::getenv("LITEAI_ONNX_TORCH_SKIP")) {
    std::printf("SKIP: %s\n", why);
    return;
  }
  // PyTorch writes the models now (exit status 77: it is not installed).
  const char* script = std::getenv("LITEAI_ONNX_MAKE_MODELS");
  if (!script) {
    std::printf("SKIP: LITEAI_ONNX_MAKE_MODELS (make_onnx_models.py) is not set\n");
    return;
  }
  const std::string dir = train_fixtures::tmp_path("onnx_models");
  std::remove((dir + "/manifest.txt").c_str());  // written last: its presence means the script succeeded
  // (torch's tracer warnings filtered out of the log)
  std::system(str_cat("/usr/bin/python3 ", script, " ", dir, " 2>&1 | grep -v -i warn").c_str());
  std::ifstream in(dir + "/manifest.txt");
  if (!in.good()) {
    std::printf("SKIP: make_onnx_models.py wrote no models (python3-torch and python3-torchvision missing?)\n");
    return;
  }
  int cases = 0;
  for (std::string line; std::getline(in, line);) {
    std::stringstream ss(line);
    std::string name, xs, ys;
    ss >> name >> xs >> ys;
    INFO(name);
    lo::ImportOptions o;  // the graph exactly as the file says
    o.gray = false, o.preprocess = lo::Preprocess::unit, o.head = nn::Head::none;
    const auto t0 = std::chrono::steady_clock::now();
    auto model = lo::import_model(dir + "/" + name + ".onnx", o);
    const auto t1 = std::chrono::steady_clock::now();
    Tensor x = Tensor::from_vector(read_f32(dir + "/" + name + ".input.f32"), parse_shape(xs));
    const std::vector<float> want = read_f32(dir + "/" + name + ".output.f32");
    std::vector<float> got;
    {
      autograd::NoGrad ng;
      got = model->forward(x).to_vector();
    }
    const auto t2 = std::chrono::steady_clock::now();
    REQUIRE(got.size() == want.size());
    REQUIRE(int64_t(want.size()) == numel(parse_shape(ys)));
    double diff = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      diff = std::max(diff, std::fabs(double(got[i]) - want[i]));
      scale = std::max(scale, std::fabs(double(want[i])));
    }
    std::printf("%-28s %4zu nodes  max |liteai - torch| / max |torch| = %.2e  (import %.2f s, forward %.2f s)\n",
                name.c_str(), dynamic_cast<nn::Graph&>(*model->net).nodes().size(), diff / scale,
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
    CHECK(scale > 0);
    CHECK(diff <= 1e-4 * scale);
    ++cases;
  }
  CHECK(cases == 8);
}
