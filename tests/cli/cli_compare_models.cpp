// cli_compare_models A.lai B.lai TOL: prints the largest absolute difference between the two
// models' tensors (same architecture required) relative to the largest magnitude, and exits 0
// when it is at most TOL, 1 when above, 2 when the files do not match in structure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "liteai/nn/model_io.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cli_compare_models A.lai B.lai TOL\n");
    return 2;
  }
  try {
    const auto a = liteai::nn::load_model(argv[1], false).model, b = liteai::nn::load_model(argv[2], false).model;
    const auto sa = a->net->state(), sb = b->net->state();
    if (sa.size() != sb.size()) {
      std::fprintf(stderr, "different tensor counts: %zu and %zu\n", sa.size(), sb.size());
      return 2;
    }
    double worst = 0, scale = 0;
    for (size_t i = 0; i < sa.size(); ++i) {
      if (sa[i].first != sb[i].first || sa[i].second.shape() != sb[i].second.shape()) {
        std::fprintf(stderr, "tensor %zu differs in name or shape: %s, %s\n", i, sa[i].first.c_str(), sb[i].first.c_str());
        return 2;
      }
      const auto va = sa[i].second.to_vector(), vb = sb[i].second.to_vector();
      for (size_t k = 0; k < va.size(); ++k) {
        worst = std::max(worst, double(std::abs(va[k] - vb[k])));
        scale = std::max(scale, double(std::abs(va[k])));
      }
    }
    const double rel = worst / std::max(scale, 1e-30);
    std::printf("max abs difference %.3g, largest magnitude %.3g, relative %.3g\n", worst, scale, rel);
    return rel <= std::atof(argv[3]) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cli_compare_models: %s\n", e.what());
    return 2;
  }
}
