#pragma once
// Shared helpers of the kernel tests: random data, ISA loops, tolerant comparisons.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "liteai/core/dtype.hpp"
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
  for (Isa i : {Isa::scalar, Isa::sse, Isa::avx2, Isa::avx512, Isa::avx512bf16})
    if (liteai::kernels::isa_supported(i)) out.push_back(i);
  return out;
}

// Relative error of a product of two values rounded to bf16 (8 significant bits: 2^-8 each).
constexpr float kBf16ProductError = 0x1p-7f + 0x1p-16f;

// x rounded to bf16 (the kernels' operands) and the same values back in fp32 (the reference's).
struct Bf16Data {
  std::vector<uint16_t> bf16;
  std::vector<float> f32;
};
inline Bf16Data to_bf16(const std::vector<float>& x) {
  Bf16Data d{std::vector<uint16_t>(x.size()), std::vector<float>(x.size())};
  for (size_t i = 0; i < x.size(); ++i) d.bf16[i] = liteai::f32_to_bf16(x[i]), d.f32[i] = liteai::bf16_to_f32(d.bf16[i]);
  return d;
}
inline std::vector<float> abs_of(std::vector<float> x) {
  for (float& v : x) v = std::fabs(v);
  return x;
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

// |got - want| <= atol + bound[i]: elementwise bounds (e.g. bf16 rounding of each product).
inline void require_within(const std::vector<float>& got, const std::vector<float>& want,
                           const std::vector<float>& bound, double atol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - want[i]);
    if (!(d <= atol + bound[i])) {
      INFO(what << ": index " << i << " got " << got[i] << " want " << want[i] << " bound " << bound[i]);
      REQUIRE(d <= atol + bound[i]);
    }
  }
}

}  // namespace kt
