#pragma once
// xsimd templates shared by the SIMD translation units (kernels_sse/avx2/avx512.cpp): the GEMM
// micro-kernel, element-wise kernels, reductions, softmax. Arch is the xsimd architecture the
// including file is compiled for.
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/conv_impl.hpp"

namespace liteai::kernels::detail {

template <class Arch>
struct Vec {
  using B = xsimd::batch<float, Arch>;
  static constexpr int W = static_cast<int>(B::size);
  static B load(const float* p) { return B::load_unaligned(p); }
  static void store(float* p, const B& v) { v.store_unaligned(p); }
  static B sigmoid(const B& x) { return B(1.f) / (B(1.f) + xsimd::exp(-x)); }
};

// Register-blocked micro-kernel: MR rows x NV vectors, accumulators live in registers.
template <class Arch, int MR_, int NV>
struct XsimdUK {
  using V = Vec<Arch>;
  using B = typename V::B;
  static constexpr int W = V::W, MR = MR_, NR = NV * W;
  // For driver code that is also compiled without xsimd (kernels_scalar.cpp).
  static B fma(const B& a, const B& b, const B& c) { return xsimd::fma(a, b, c); }
  static float hsum(const B& v) { return xsimd::hadd(v); }

  // B rows from a packed panel ([k][NR]).
  struct PackedB {
    const float* b;
    B load(int64_t k, int v) const { return B::load_aligned(b + k * NR + v * W); }
  };
  // B read in place from a row-major matrix (row stride ld): no packing pass over B.
  struct StridedB {
    const float* b;
    int64_t ld;
    B load(int64_t k, int v) const { return B::load_unaligned(b + k * ld + v * W); }
  };
  // B rows read in place: row k starts at b + off[k] (direct convolution on a padded tile).
  struct GatherB {
    const float* b;
    const int64_t* off;
    B load(int64_t k, int v) const { return B::load_unaligned(b + off[k] + v * W); }
  };

  // C[M x NR] (+)= A[M rows of an MR-wide panel] * B; M <= MR rows are computed and stored.
  // A from a packed panel ([k][MR]).
  struct PackedA {
    const float* a;
    float get(int64_t k, int i) const { return a[k * MR + i]; }
  };
  // A row i read in place at base + off[i] (weight-gradient GEMM on a padded input tile).
  struct RowsA {
    const float* base;
    const int64_t* off;
    float get(int64_t k, int i) const { return base[off[i] + k]; }
  };

  template <int M, class AL, class BL>
  static void kern(int64_t kc, const AL& al, const BL& bl, float* c, int64_t ldc, bool accumulate) {
    B acc[M][NV];
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = B(0.f);
    // Bring the C tile in (for writing) while the k loop runs.
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
      for (int l = 0; l < NR; l += 16) __builtin_prefetch(c + i * ldc + l, 1, 3);
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      B bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = bl.load(k, v);
#pragma GCC unroll 32
      for (int i = 0; i < M; ++i) {
        const B av(al.get(k, i));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = xsimd::fma(av, bv[v], acc[i][v]);
      }
    }
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * ldc + v * W;
        if (accumulate) V::store(p, acc[i][v] + V::load(p));
        else V::store(p, acc[i][v]);
      }
  }

  // kern for a run-time row count m in [1, MR].
  template <class AL, class BL, int M = MR>
  static void rows_of(int m, int64_t kc, const AL& al, const BL& bl, float* c, int64_t ldc, bool acc) {
    if constexpr (M >= 1) {
      if (m == M) return kern<M>(kc, al, bl, c, ldc, acc);
      return rows_of<AL, BL, M - 1>(m, kc, al, bl, c, ldc, acc);
    }
  }
  template <class BL>
  static void rows(int m, int64_t kc, const float* a, const BL& bl, float* c, int64_t ldc, bool acc) {
    rows_of(m, kc, PackedA{a}, bl, c, ldc, acc);
  }

  static void full(int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                   int64_t ldc, bool accumulate) {
    kern<MR>(kc, PackedA{a}, PackedB{b}, c, ldc, accumulate);
  }

  static void act_row(float* row, int64_t n, float bias, Act act) {
    const B bb(bias), zero(0.f);
    int64_t j = 0;
    for (; j + W <= n; j += W) {
      B v = V::load(row + j) + bb;
      if (act == Act::relu) v = xsimd::max(v, zero);
      else if (act == Act::swish) v = v * V::sigmoid(v);
      V::store(row + j, v);
    }
    if (j < n) {  // the tail through the same vector code: every element gets the same bits
      alignas(64) float t[W] = {};
      std::memcpy(t, row + j, sizeof(float) * size_t(n - j));
      act_row(t, W, bias, act);
      std::memcpy(row + j, t, sizeof(float) * size_t(n - j));
    }
  }

  static double sum(int64_t n, const float* x);
};

// Sum in float vectors over blocks of 1024, blocks added in double: accurate and fast.
template <class Arch>
double vsum_impl(int64_t n, const float* x) {
  using V = Vec<Arch>;
  using B = typename V::B;
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    const int64_t end = std::min(n, i + 1024);
    B a0(0.f), a1(0.f);
    for (; i + 2 * V::W <= end; i += 2 * V::W) a0 += V::load(x + i), a1 += V::load(x + i + V::W);
    float s = xsimd::hadd(a0 + a1);
    for (; i < end; ++i) s += x[i];
    total += s;
  }
  return total;
}

template <class Arch, int MR_, int NV>
double XsimdUK<Arch, MR_, NV>::sum(int64_t n, const float* x) { return vsum_impl<Arch>(n, x); }

template <class Arch>
double vdot_impl(int64_t n, const float* a, const float* b) {
  using V = Vec<Arch>;
  using B = typename V::B;
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    const int64_t end = std::min(n, i + 1024);
    B a0(0.f), a1(0.f);
    for (; i + 2 * V::W <= end; i += 2 * V::W) {
      a0 = xsimd::fma(V::load(a + i), V::load(b + i), a0);
      a1 = xsimd::fma(V::load(a + i + V::W), V::load(b + i + V::W), a1);
    }
    float s = xsimd::hadd(a0 + a1);
    for (; i < end; ++i) s += a[i] * b[i];
    total += s;
  }
  return total;
}

// y[i] = f(vector) on full vectors, the tail through a padded vector (same math everywhere).
template <class Arch, class F>
inline void map1(int64_t n, const float* x, float* y, F f) {
  using V = Vec<Arch>;
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, f(V::load(x + i)));
  if (i < n) {
    alignas(64) float buf[V::W] = {};
    std::memcpy(buf, x + i, sizeof(float) * (n - i));
    V::store(buf, f(V::load(buf)));
    std::memcpy(y + i, buf, sizeof(float) * (n - i));
  }
}
template <class Arch, class F>
inline void map2(int64_t n, const float* a, const float* b, float* y, F f) {
  using V = Vec<Arch>;
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, f(V::load(a + i), V::load(b + i)));
  if (i < n) {
    alignas(64) float ba[V::W] = {}, bb[V::W] = {};
    for (int t = 0; t < V::W; ++t) bb[t] = 1.f;  // keeps padding lanes finite (vdiv)
    std::memcpy(ba, a + i, sizeof(float) * (n - i));
    std::memcpy(bb, b + i, sizeof(float) * (n - i));
    V::store(ba, f(V::load(ba), V::load(bb)));
    std::memcpy(y + i, ba, sizeof(float) * (n - i));
  }
}

template <class Arch>
struct Elt {
  using V = Vec<Arch>;
  using B = typename V::B;
  static void vadd(int64_t n, const float* a, const float* b, float* y) { map2<Arch>(n, a, b, y, [](B u, B v) { return u + v; }); }
  static void vsub(int64_t n, const float* a, const float* b, float* y) { map2<Arch>(n, a, b, y, [](B u, B v) { return u - v; }); }
  static void vmul(int64_t n, const float* a, const float* b, float* y) { map2<Arch>(n, a, b, y, [](B u, B v) { return u * v; }); }
  static void vdiv(int64_t n, const float* a, const float* b, float* y) { map2<Arch>(n, a, b, y, [](B u, B v) { return u / v; }); }
  static void vscale(int64_t n, float alpha, const float* x, float* y) {
    const B al(alpha);
    map1<Arch>(n, x, y, [al](B u) { return al * u; });
  }
  static void vaxpy(int64_t n, float alpha, const float* x, float* y) {
    const B al(alpha);
    map2<Arch>(n, x, y, y, [al](B u, B v) { return xsimd::fma(al, u, v); });
  }
  static void vexp(int64_t n, const float* x, float* y) { map1<Arch>(n, x, y, [](B u) { return xsimd::exp(u); }); }
  static void vlog(int64_t n, const float* x, float* y) { map1<Arch>(n, x, y, [](B u) { return xsimd::log(u); }); }
  static void vtanh(int64_t n, const float* x, float* y) { map1<Arch>(n, x, y, [](B u) { return xsimd::tanh(u); }); }
  static void vsigmoid(int64_t n, const float* x, float* y) { map1<Arch>(n, x, y, [](B u) { return V::sigmoid(u); }); }
  static void vrelu(int64_t n, const float* x, float* y) {
    map1<Arch>(n, x, y, [](B u) { return xsimd::select(u > B(0.f), u, B(0.f)); });
  }
  static void vswish(int64_t n, const float* x, float* y) { map1<Arch>(n, x, y, [](B u) { return u * V::sigmoid(u); }); }
  static void vrelu_backward(int64_t n, const float* y, const float* dy, float* dx) {
    map2<Arch>(n, y, dy, dx, [](B u, B g) { return xsimd::select(u > B(0.f), g, B(0.f)); });
  }
  static void vswish_backward(int64_t n, const float* x, const float* dy, float* dx) {
    map2<Arch>(n, x, dy, dx, [](B u, B g) {
      const B s = V::sigmoid(u);
      return g * (s + u * s * (B(1.f) - s));
    });
  }
  static double vsum(int64_t n, const float* x) { return vsum_impl<Arch>(n, x); }
  static void adam_update(int64_t n, const AdamStep& s, const float* g, float* w, float* m, float* v) {
    const B b1(s.beta1), b2(s.beta2), one_b1(1.f - s.beta1), one_b2(1.f - s.beta2), lr(s.lr), eps(s.eps);
    const B c1(s.c1), c2(s.c2), decay(s.decay), l2(s.l2);
    int64_t k = 0;
    for (; k + V::W <= n; k += V::W) {
      const B wk = V::load(w + k), gk = V::load(g + k) + l2 * wk;
      const B mk = b1 * V::load(m + k) + one_b1 * gk;
      const B vk = b2 * V::load(v + k) + (one_b2 * gk) * gk;
      V::store(m + k, mk);
      V::store(v + k, vk);
      V::store(w + k, wk * decay - (lr * (mk * c1)) / (xsimd::sqrt(vk) * c2 + eps));
    }
    if (k < n) ref::adam_update(n - k, s, g + k, w + k, m + k, v + k);
  }
  static double vdot(int64_t n, const float* a, const float* b) { return vdot_impl<Arch>(n, a, b); }

  static float row_max(int64_t n, const float* x) {
    int64_t i = 0;
    float m = -std::numeric_limits<float>::infinity();
    if (n >= V::W) {
      B mv = V::load(x);
      for (i = V::W; i + V::W <= n; i += V::W) mv = xsimd::max(mv, V::load(x + i));
      alignas(64) float buf[V::W];
      V::store(buf, mv);
      for (int t = 0; t < V::W; ++t) m = std::max(m, buf[t]);
    }
    for (; i < n; ++i) m = std::max(m, x[i]);
    return m;
  }
  // y = exp(x - mx); returns the sum (double over blocks).
  static double exp_shift(int64_t n, const float* x, float mx, float* y) {
    const B mb(mx);
    map1<Arch>(n, x, y, [mb](B u) { return xsimd::exp(u - mb); });
    return vsum_impl<Arch>(n, y);
  }
  static void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      const float mx = row_max(cols, xr);
      const double s = exp_shift(cols, xr, mx, yr);
      vscale(cols, static_cast<float>(1.0 / s), yr, yr);
    }
  }
  static void log_softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      const float mx = row_max(cols, xr);
      const double s = exp_shift(cols, xr, mx, yr);  // y as scratch
      const B lse(static_cast<float>(std::log(s) + mx));
      map1<Arch>(cols, xr, yr, [lse](B u) { return u - lse; });
    }
  }
};

// Branch-free so the compiler vectorizes it under the unit's flags.
inline void f32_to_bf16_loop(int64_t n, const float* x, uint16_t* y) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    const uint32_t quiet = (u >> 16) | 0x40u;
    y[i] = static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);
  }
}
inline void bf16_to_f32_loop(int64_t n, const uint16_t* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = uint32_t(x[i]) << 16;
    std::memcpy(y + i, &u, 4);
  }
}

}  // namespace liteai::kernels::detail

#include "kernels/direct_conv_impl.hpp"

namespace liteai::kernels::detail {

template <class Arch, class UK>
Table make_table(Isa isa) {
  using E = Elt<Arch>;
  using C = DirectConv<Arch, UK>;
  Table t{};
  t.isa = isa;
  t.mr = UK::MR, t.nr = UK::NR;
  t.sgemm = &GemmDriver<UK>::sgemm;
  t.sgemm_bf16b = &GemmDriver<UK>::sgemm_bf16b;
  t.conv2d_forward = &C::forward;
  t.conv2d_forward_avgpool2 = &C::forward_avgpool2;
  t.conv2d_backward_data = &C::backward_data;
  t.max_pool2x2_row = &max_pool2x2_row_scalar;
  t.conv2d_backward_weight = &C::backward_weight;
  t.vadd = &E::vadd, t.vsub = &E::vsub, t.vmul = &E::vmul, t.vdiv = &E::vdiv;
  t.vscale = &E::vscale, t.vaxpy = &E::vaxpy;
  t.vexp = &E::vexp, t.vlog = &E::vlog, t.vsigmoid = &E::vsigmoid, t.vtanh = &E::vtanh;
  t.vrelu = &E::vrelu, t.vswish = &E::vswish, t.vswish_backward = &E::vswish_backward;
  t.vrelu_backward = &E::vrelu_backward;
  t.vsum = &E::vsum, t.vdot = &E::vdot;
  t.softmax_rows = &E::softmax_rows, t.log_softmax_rows = &E::log_softmax_rows;
  t.adam_update = &E::adam_update;
  t.f32_to_bf16 = &f32_to_bf16_loop, t.bf16_to_f32 = &bf16_to_f32_loop;
  t.bf16_dot = false;
  t.gemm_bf16 = &GemmDriver<UK>::gemm_bf16;
  t.conv2d_forward_bf16 = &C::forward_bf16;
  t.conv2d_forward_avgpool2_bf16 = &C::forward_avgpool2_bf16;
  t.conv2d_backward_data_bf16 = &C::backward_data_bf16;
  t.conv2d_backward_weight_bf16 = &C::backward_weight_bf16;
  return t;
}

}  // namespace liteai::kernels::detail
