// Runtime ISA selection: CPU features (CPUID through __builtin_cpu_supports), overridable with
// LITEAI_ISA=avx512bf16|avx512|avx2|sse|scalar or set_isa().
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.hpp"
#include "liteai/core/error.hpp"

namespace liteai::kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::sse: return "sse";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512bf16: return "avx512bf16";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::sse: return __builtin_cpu_supports("sse4.2");
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
    case Isa::avx512bf16: return isa_supported(Isa::avx512) && __builtin_cpu_supports("avx512bf16");
  }
  return false;
#else
  return isa == Isa::scalar;
#endif
}

static Isa best_isa() {
  // vdpbf16ps pays only where it runs at full rate (kernels.hpp): AMD's AVX-512 cores. A fixed
  // rule, not a timing, so the choice (and with it every bf16 result) is the same on every run.
#if defined(__x86_64__) || defined(__i386__)
  if (isa_supported(Isa::avx512bf16) && __builtin_cpu_is("amd")) return Isa::avx512bf16;
#endif
  for (Isa i : {Isa::avx512, Isa::avx2, Isa::sse})
    if (isa_supported(i)) return i;
  return Isa::scalar;
}

static Isa initial_isa() {
  const char* env = std::getenv("LITEAI_ISA");
  if (env && *env) {
    for (Isa i : {Isa::avx512bf16, Isa::avx512, Isa::avx2, Isa::sse, Isa::scalar})
      if (std::strcmp(env, isa_name(i)) == 0) {
        // An ISA the CPU lacks would crash; fall back to the best available instead.
        return isa_supported(i) ? i : best_isa();
      }
  }
  return best_isa();
}

static std::atomic<int>& isa_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

Isa active_isa() { return static_cast<Isa>(isa_slot().load(std::memory_order_relaxed)); }

void set_isa(Isa isa) {
  LAI_CHECK(static_cast<int>(isa) >= 0 && static_cast<int>(isa) <= 4, "set_isa: unknown ISA ",
            static_cast<int>(isa));
  LAI_CHECK(isa_supported(isa), "set_isa: this CPU does not support ", isa_name(isa));
  isa_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace liteai::kernels
