#pragma once
// Shared helpers of the kernel tests: random data, ISA loops, tolerant comparisons.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "liteai/core/random.hpp"

namespace kt {

using liteai::kernels::Isa;

inline std::vector<float> random_vec(liteai::Generator& g, int64_t n, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(size_t(std::max<int64_t>(n, 0)));
  for (auto& x : v) x = g.uniform(lo, hi);
  return v;
}

// Every ISA this machine runs, restoring the active one afterwards.
inline std::vector<Isa> isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::scalar, Isa::sse, Isa::avx2, Isa::avx512})
    if (liteai::kernels::isa_supported(i)) out.push_back(i);
  return out;
}

struct IsaGuard {
  Isa saved = liteai::kernels::active_isa();
  ~IsaGuard() { liteai::kernels::set_isa(saved); }
};

// |got - want| <= atol + rtol * |want|, elementwise; reports the first mismatch.
inline void require_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                          double rtol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - want[i]);
    if (!(d <= atol + rtol * std::fabs(double(want[i])))) {
      INFO(what << ": index " << i << " got " << got[i] << " want " << want[i]);
      REQUIRE(d <= atol + rtol * std::fabs(double(want[i])));
    }
  }
}

}  // namespace kt
