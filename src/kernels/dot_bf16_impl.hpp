#pragma once
// bf16 GEMM and stride-1 convolution on AVX512_BF16 dot products (kernels_avx512bf16.cpp only).
// vdpbf16ps adds a[2i] b[2i] + a[2i+1] b[2i+1] to fp32 lane i: both operands hold pairs of bf16
// values that are consecutive along the sum, low half first, in 32-bit words. The packing
// routines build those pairs; the drivers (GemmDriver::run, DirectConv::forward_loop) are the
// fp32 ones, counting the sum in pairs:
//   GEMM:            A panels [k/2][MR] and B panels [k/2][NR] of words (pairs along k).
//   conv forward:    tile planes of words = pairs of input channels (c, c+1) at the same pixel,
//                    so a step (channel pair, r, s) is one unaligned load of 16 pixels; a
//                    1-channel input pairs horizontally adjacent taps (s, s+1) instead.
//   backward data:   the forward of dy with flipped weights (its channels are the K outputs).
//   backward weight: the sum runs over pixels: a word of the plain bf16 input tile is two
//                    neighbouring pixels (read in place), dy is transposed into pixel pairs.
// Other strides widen to fp32 through the avx512 table (the same products).
#include <immintrin.h>

#include "kernels/simd_impl.hpp"

namespace liteai::kernels::detail {
namespace {

inline float pair_word(uint16_t lo, uint16_t hi) { return std::bit_cast<float>(uint32_t(lo) | uint32_t(hi) << 16); }
inline int32_t load_word(const void* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// MR rows x NV vectors of 16 fp32 sums in registers; k counts pairs. Packed operands are words in
// float-typed buffers (the drivers' panels and tiles); they are only moved, never computed on.
template <int MR_, int NV>
struct DotUK {
  static constexpr int W = 16, MR = MR_, NR = NV * W;
  using Fp = XsimdUK<xsimd::avx512bw, MR_, NV>;  // fp32 epilogue and sums

  struct PackedB {
    const float* b;
    __m512i load(int64_t k, int v) const { return _mm512_load_si512(b + k * NR + v * W); }
  };
  struct StridedB {
    const float* b;
    int64_t ld;
    __m512i load(int64_t k, int v) const { return _mm512_loadu_si512(b + k * ld + v * W); }
  };
  struct GatherB {
    const float* b;
    const int64_t* off;
    __m512i load(int64_t k, int v) const { return _mm512_loadu_si512(b + off[k] + v * W); }
  };
  struct PackedA {
    const float* a;
    int32_t get(int64_t k, int i) const { return load_word(a + k * MR + i); }
  };
  // Row i read in place: the pair of bf16 values at base + off[i] + 2k (neighbouring pixels).
  struct RowsA {
    const uint16_t* base;
    const int64_t* off;
    int32_t get(int64_t k, int i) const { return load_word(base + off[i] + 2 * k); }
  };

  template <int M, class AL, class BL>
  static void kern(int64_t kc, const AL& al, const BL& bl, float* c, int64_t ldc, bool accumulate) {
    __m512 acc[M][NV];
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
      for (int l = 0; l < NR; l += 16) __builtin_prefetch(c + i * ldc + l, 1, 3);
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
      __m512i bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = bl.load(k, v);
#pragma GCC unroll 32
      for (int i = 0; i < M; ++i) {
        const __m512bh av = (__m512bh)_mm512_set1_epi32(al.get(k, i));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, (__m512bh)bv[v]);
      }
    }
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * ldc + v * W;
        _mm512_storeu_ps(p, accumulate ? _mm512_add_ps(acc[i][v], _mm512_loadu_ps(p)) : acc[i][v]);
      }
  }

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
  static void full(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    kern<MR>(kc, PackedA{a}, PackedB{b}, c, ldc, accumulate);
  }
  static void act_row(float* row, int64_t n, float bias, Act act) { Fp::act_row(row, n, bias, act); }
  static double sum(int64_t n, const float* x) { return Fp::sum(n, x); }
};

using DotUk = DotUK<8, 3>;  // 24 zmm accumulators, like the fp32 8 x 48 tile

// ---------------- GEMM ----------------
// op(X) of bf16 as a matrix view: element (i, k) at p[i*rs + k*cs], K elements along the sum.
struct Bf16View {
  const uint16_t* p;
  int64_t rs, cs, K;
  uint16_t at(int64_t i, int64_t k) const { return k < K ? p[i * rs + k * cs] : uint16_t(0); }
  // The pair (k, k+1) of row i; a word load when both are in place and adjacent.
  float pair(int64_t i, int64_t k) const {
    if (cs == 1 && k + 1 < K) return std::bit_cast<float>(load_word(p + i * rs + k));
    return pair_word(at(i, k), at(i, k + 1));
  }
};

struct PackAPairs {  // A (M x K) -> MR-row panels [kp][MR] of words
  Bf16View a;
  void operator()(int64_t i0, int64_t mc, int64_t kp0, int64_t kpc, float* dst) const {
    constexpr int MR = DotUk::MR;
    for (int64_t i = 0; i < mc; i += MR) {
      const int64_t m = std::min<int64_t>(MR, mc - i);
      for (int64_t k = 0; k < kpc; ++k)
        for (int ii = 0; ii < MR; ++ii) dst[k * MR + ii] = ii < m ? a.pair(i0 + i + ii, 2 * (kp0 + k)) : 0.f;
      dst += kpc * MR;
    }
  }
};

struct PackBPairs {  // B (K x N, as a view of B^T: row j, column k) -> NR-wide panels [kp][NR]
  Bf16View bt;
  void operator()(int64_t kp0, int64_t kpc, int64_t j0, int64_t nc, float* dst) const {
    constexpr int NR = DotUk::NR;
    for (int64_t j = 0; j < nc; j += NR) {
      const int64_t n = std::min<int64_t>(NR, nc - j);
      for (int64_t k = 0; k < kpc; ++k)
        for (int jj = 0; jj < NR; ++jj) dst[k * NR + jj] = jj < n ? bt.pair(j0 + j + jj, 2 * (kp0 + k)) : 0.f;
      dst += kpc * NR;
    }
  }
};

void gemm_bf16_dot(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
                   const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  using G = GemmDriver<DotUk>;
  if (M <= 0 || N <= 0) return;
  if (K == 0 || alpha == 0.f) {
    if (beta != 1.f) G::scale_block(M, N, beta, C, ldc);
    return;
  }
  const Bf16View a{A, ta ? 1 : lda, ta ? lda : 1, K}, bt{B, tb ? ldb : 1, tb ? 1 : ldb, K};
  const G::TaskGrid g = G::task_grid(M, N);
  // The products are summed unscaled; alpha and a general beta apply to the finished tile.
  const bool in_place = alpha == 1.f && (beta == 0.f || beta == 1.f);
  const double flops = 2.0 * double(M) * double(N) * double(K);
  parallel_for(0, g.mT * g.nT, flops < 4e6 ? g.mT * g.nT : 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = (t / g.nT) * g.mstep, j0 = (t % g.nT) * g.nstep;
      const int64_t m = std::min(g.mstep, M - i0), n = std::min(g.nstep, N - j0);
      const PackAPairs pa{{a.p + i0 * a.rs, a.rs, a.cs, K}};
      const PackBPairs pb{{bt.p + j0 * bt.rs, bt.rs, bt.cs, K}};
      float* c = C + i0 * ldc + j0;
      if (in_place) {
        G::run(m, n, ceil_div(K, 2), pa, pb, c, ldc, beta != 0.f);
        continue;
      }
      std::vector<float> tile(size_t(m * n));
      G::run(m, n, ceil_div(K, 2), pa, pb, tile.data(), n, false);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float& o = c[i * ldc + j];
          o = beta == 0.f ? alpha * tile[size_t(i * n + j)] : alpha * tile[size_t(i * n + j)] + beta * o;
        }
    }
  });
}

// ---------------- convolution ----------------
using DC = DirectConv<xsimd::avx512bw, DotUk>;

// A tile plane of words: (x[a][row][t], b >= 0 ? x[b][row][t + shift] : 0) at padded column t.
struct PairPlane {
  int64_t a, b, shift;
};
// A reduction step: tile plane and tap (r, s); the weights of the pair are w[k][wa] and w[k][wb]
// (indices into the C*R*S taps of output k; wb < 0: zero).
struct PairStep {
  int64_t plane, r, s, wa, wb;
};
struct PairLayout {
  std::vector<PairPlane> planes;
  std::vector<PairStep> steps;
};
PairLayout pair_layout(const Conv2dShape& p) {
  PairLayout l;
  const int64_t RS = p.R * p.S;
  if (p.C == 1 && p.S >= 2) {  // one channel: pairs of horizontally adjacent taps
    l.planes.push_back({0, 0, p.dil_w});
    if (p.S % 2) l.planes.push_back({0, -1, 0});
    for (int64_t r = 0; r < p.R; ++r) {
      for (int64_t s = 0; s + 1 < p.S; s += 2) l.steps.push_back({0, r, s, r * p.S + s, r * p.S + s + 1});
      if (p.S % 2) l.steps.push_back({1, r, p.S - 1, r * p.S + p.S - 1, -1});
    }
    return l;
  }
  for (int64_t c = 0; c < p.C; c += 2) l.planes.push_back({c, c + 1 < p.C ? c + 1 : -1, 0});
  for (int64_t cp = 0; cp < int64_t(l.planes.size()); ++cp)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        const PairPlane& pl = l.planes[size_t(cp)];
        l.steps.push_back({cp, r, s, pl.a * RS + r * p.S + s, pl.b >= 0 ? pl.b * RS + r * p.S + s : -1});
      }
  return l;
}

// Row ih of a bf16 plane into d[0, n): padded columns t (x column t - pad_w), zero outside.
void bf16_row(const Conv2dShape& p, const uint16_t* plane, int64_t ih, int64_t n, uint16_t* d) {
  std::fill(d, d + n, uint16_t(0));
  if (ih < 0 || ih >= p.H) return;
  const int64_t lo = std::clamp<int64_t>(p.pad_w, 0, n), hi = std::clamp<int64_t>(p.W + p.pad_w, lo, n);
  std::memcpy(d + lo, plane + ih * p.W + (lo - p.pad_w), sizeof(uint16_t) * (hi - lo));
}

template <bool Pool>
void forward_dot(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias, float* y, Act act) {
  const PairLayout l = pair_layout(p);
  const int64_t steps = int64_t(l.steps.size()), CRS = p.C * p.R * p.S;
  DC::ForwardPlan f = DC::plan_forward(p, Pool, int64_t(l.planes.size()), steps);
  // Weights: MR-row panels per K block of steps (G::pack_a's layout), words of weight pairs.
  const int64_t KB = GemmDriver<DotUk>::k_block(steps), Kr = round_up(p.K, DotUk::MR);
  for (int64_t pc = 0; pc < steps; pc += KB) {
    const int64_t kc = std::min(KB, steps - pc);
    for (int64_t k = 0; k < Kr; ++k)
      for (int64_t st = pc; st < pc + kc; ++st) {
        const PairStep& s = l.steps[size_t(st)];
        const uint16_t* wk = w + k * CRS;
        f.wp[size_t(Kr * pc + (k / DotUk::MR) * DotUk::MR * kc + (st - pc) * DotUk::MR + k % DotUk::MR)] =
            k < p.K ? pair_word(wk[s.wa], s.wb >= 0 ? wk[s.wb] : uint16_t(0)) : 0.f;
      }
  }
  f.off.resize(size_t(steps));
  for (int64_t st = 0; st < steps; ++st) {
    const PairStep& s = l.steps[size_t(st)];
    f.off[size_t(st)] = s.plane * f.geo.plane + s.r * p.dil_h * f.geo.Wp + s.s * p.dil_w;
  }
  const int64_t image = p.C * p.H * p.W, Wp = f.geo.Wp;
  DC::forward_loop<Pool>(
      p, f,
      [&](int64_t n, int64_t oh0, float* tile) {
        thread_local std::vector<uint16_t> ra, rb;
        int64_t shift = 0;
        for (const PairPlane& pl : l.planes) shift = std::max(shift, pl.shift);
        ra.resize(size_t(Wp + shift)), rb.resize(size_t(Wp + shift));
        const uint16_t* xn = x + n * image;
        for (size_t cp = 0; cp < l.planes.size(); ++cp) {
          const PairPlane& pl = l.planes[cp];
          for (int64_t i = 0; i < f.geo.rows_in; ++i) {
            const int64_t ih = oh0 - p.pad_h + i;
            bf16_row(p, xn + pl.a * p.H * p.W, ih, Wp, ra.data());
            if (pl.b >= 0) bf16_row(p, xn + pl.b * p.H * p.W, ih, Wp + pl.shift, rb.data());
            float* d = tile + int64_t(cp) * f.geo.plane + i * Wp;
            for (int64_t t = 0; t < Wp; ++t) d[t] = pair_word(ra[size_t(t)], pl.b >= 0 ? rb[size_t(t + pl.shift)] : uint16_t(0));
          }
        }
        std::fill(tile + int64_t(l.planes.size()) * f.geo.plane, tile + f.geo.floats, 0.f);
      },
      bias, y, act);
}

bool strided(const Conv2dShape& p) { return p.stride_h != 1 || p.stride_w != 1 || p.C * p.R * p.S == 0; }

void conv2d_forward_dot(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                        Act act) {
  if (strided(p)) return table_avx512().conv2d_forward_bf16(p, x, w, bias, y, act);
  forward_dot<false>(p, x, w, bias, y, act);
}
void conv2d_forward_avgpool2_dot(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias,
                                 float* y, Act act) {
  if (strided(p)) return table_avx512().conv2d_forward_avgpool2_bf16(p, x, w, bias, y, act);
  forward_dot<true>(p, x, w, bias, y, act);
}
void conv2d_backward_data_dot(const Conv2dShape& p, const uint16_t* dy, const uint16_t* w, float* dx) {
  if (p.stride_h != 1 || p.stride_w != 1) return table_avx512().conv2d_backward_data_bf16(p, dy, w, dx);
  const std::vector<uint16_t> wt = DC::flipped_weights(p, w);
  conv2d_forward_dot(DC::backward_data_as_forward(p), dy, wt.data(), nullptr, dx, Act::none);
}

// The plain bf16 tile of the weight gradient: [c][rows_in][Wp] plus zero slack.
struct Bf16Tile {
  int64_t rows_in, Wp, plane, size;
};
Bf16Tile bf16_tile(const Conv2dShape& p, int64_t rb) {
  const DC::Tile t = DC::tile_geometry(p, rb, p.OW(), p.C);
  const int64_t data = p.C * t.plane;
  return {t.rows_in, t.Wp, t.plane, data + 2 * (t.floats - data)};  // the fp32 tile's slack twice over
}
void fill_bf16_tile(const Conv2dShape& p, const uint16_t* x, int64_t oh0, const Bf16Tile& t, uint16_t* tile) {
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t i = 0; i < t.rows_in; ++i)
      bf16_row(p, x + c * p.H * p.W, oh0 - p.pad_h + i, t.Wp, tile + c * t.plane + i * t.Wp);
  std::fill(tile + p.C * t.plane, tile + t.size, uint16_t(0));
}
uint16_t* bf16_scratch(int slot, int64_t n) { return reinterpret_cast<uint16_t*>(scratch(slot, size_t(ceil_div(n, 2)))); }

// Few taps (CRS < 24): dot products along pixels, 32 bf16 per vdpbf16ps, dy and the input tile
// both in the padded tile's pixel order (dy zero in the pad columns).
void backward_weight_dot_few(const Conv2dShape& p, const uint16_t* x, const uint16_t* dy, float* dw) {
  const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, CRS = p.C * p.R * p.S;
  const int64_t rb = DC::rows_per_block(p, OH, OW, env_or("LAI_BWPIX", 2048), p.C);
  const Bf16Tile geo = bf16_tile(p, rb);
  const DC::Tile fgeo = DC::tile_geometry(p, rb, OW, p.C);
  std::vector<int64_t> off;
  DC::offsets(p, fgeo, off);  // the same offsets in elements
  const int64_t Qp = round_up(rb * geo.Wp, 32), total = p.K * CRS;
  constexpr int KT = 8, CT = 3;
  const std::vector<float> partial = DC::weight_grad_groups(p, rb, total, [&](float* out, int64_t n, int64_t oh0, int64_t rows) {
    uint16_t* tile = bf16_scratch(2, geo.size);
    uint16_t* dyp = bf16_scratch(3, p.K * Qp);
    fill_bf16_tile(p, x + n * p.C * p.H * p.W, oh0, geo, tile);
    const uint16_t* dys = dy + n * p.K * P + oh0 * OW;
    for (int64_t k = 0; k < p.K; ++k) {
      uint16_t* d = dyp + k * Qp;
      std::fill(d, d + Qp, uint16_t(0));
      for (int64_t r = 0; r < rows; ++r) std::memcpy(d + r * geo.Wp, dys + k * P + r * OW, sizeof(uint16_t) * OW);
    }
    auto dot = [&]<int KN, int CN>(int64_t k0, int64_t c0) {
      __m512 acc[KN][CN];
      for (int i = 0; i < KN; ++i)
        for (int j = 0; j < CN; ++j) acc[i][j] = _mm512_setzero_ps();
      for (int64_t o = 0; o < Qp; o += 32) {
        __m512i xv[CN];
#pragma GCC unroll 4
        for (int j = 0; j < CN; ++j) xv[j] = _mm512_loadu_si512(tile + off[size_t(c0 + j)] + o);
#pragma GCC unroll 8
        for (int i = 0; i < KN; ++i) {
          const __m512bh dv = (__m512bh)_mm512_loadu_si512(dyp + (k0 + i) * Qp + o);
#pragma GCC unroll 4
          for (int j = 0; j < CN; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], dv, (__m512bh)xv[j]);
        }
      }
      for (int i = 0; i < KN; ++i)
        for (int j = 0; j < CN; ++j) out[(k0 + i) * CRS + c0 + j] += _mm512_reduce_add_ps(acc[i][j]);
    };
    for (int64_t c0 = 0; c0 < CRS; c0 += CT)
      for (int64_t k0 = 0; k0 < p.K; k0 += KT) {
        if (k0 + KT <= p.K && c0 + CT <= CRS) {
          dot.template operator()<KT, CT>(k0, c0);
        } else {
          for (int64_t k = k0; k < std::min(p.K, k0 + KT); ++k)
            for (int64_t c = c0; c < std::min(CRS, c0 + CT); ++c) dot.template operator()<1, 1>(k, c);
        }
      }
  });
  DC::sum_groups(total, partial, dw);
}

// dW^T[crs][k] += sum over pixel pairs of (tile pair at off[crs] + 2q) . (dy^T pair row q)[k]: the
// fp32 GEMM's structure (6 rows of taps read in place x NV vectors across K) on pixel pairs.
template <int NV>
void backward_weight_dot_gemm(const Conv2dShape& p, const uint16_t* x, const uint16_t* dy, float* dw) {
  using U = DotUK<6, NV>;
  constexpr int NRb = U::NR;
  const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, CRS = p.C * p.R * p.S;
  const int64_t Kp = round_up(p.K, NRb);
  const int64_t rb = DC::rows_per_block(p, OH, OW, env_or("LAI_BWPIX", 2048), p.C);
  const Bf16Tile geo = bf16_tile(p, rb);
  std::vector<int64_t> off;
  DC::offsets(p, DC::tile_geometry(p, rb, OW, p.C), off);
  const int64_t total = CRS * Kp;
  const std::vector<float> partial = DC::weight_grad_groups(p, rb, total, [&](float* out, int64_t n, int64_t oh0, int64_t rows) {
    uint16_t* tile = bf16_scratch(2, geo.size);
    const int64_t Q = (rows - 1) * geo.Wp + OW, Qh = ceil_div(Q, 2);
    float* dyt = scratch(3, size_t(Qh * Kp));
    fill_bf16_tile(p, x + n * p.C * p.H * p.W, oh0, geo, tile);
    const uint16_t* dyn = dy + n * p.K * P + oh0 * OW;
    // dy of channel k in the padded pixel order (zero in the pad columns and past Q), then its
    // pixel pairs into column k of dy^T.
    thread_local std::vector<uint16_t> row;
    row.assign(size_t(2 * Qh), 0);
    for (int64_t k = 0; k < p.K; ++k) {
      for (int64_t r = 0; r < rows; ++r) std::memcpy(row.data() + r * geo.Wp, dyn + k * P + r * OW, sizeof(uint16_t) * OW);
      for (int64_t q = 0; q < Qh; ++q) dyt[q * Kp + k] = pair_word(row[size_t(2 * q)], row[size_t(2 * q + 1)]);
    }
    for (int64_t q = 0; q < Qh; ++q) std::fill(dyt + q * Kp + p.K, dyt + (q + 1) * Kp, 0.f);
    for (int64_t c0 = 0; c0 < CRS; c0 += U::MR) {
      const int m = int(std::min<int64_t>(U::MR, CRS - c0));
      const typename U::RowsA al{tile, off.data() + c0};
      for (int64_t jr = 0; jr < Kp; jr += NRb)
        U::rows_of(m, Qh, al, typename U::StridedB{dyt + jr, Kp}, out + c0 * Kp + jr, Kp, true);
    }
  });
  DC::sum_groups_transposed(p, Kp, partial, dw);
}

void conv2d_backward_weight_dot(const Conv2dShape& p, const uint16_t* x, const uint16_t* dy, float* dw) {
  const int64_t CRS = p.C * p.R * p.S;
  if (p.stride_h != 1 || p.stride_w != 1 || p.K * CRS == 0 || p.N * p.OH() * p.OW() == 0)
    return table_avx512().conv2d_backward_weight_bf16(p, x, dy, dw);
  if (CRS < 24) return backward_weight_dot_few(p, x, dy, dw);
  const int64_t w4 = round_up(p.K, 64), w3 = round_up(p.K, 48), w2 = round_up(p.K, 32);
  if (w4 <= w3 && w4 <= w2) return backward_weight_dot_gemm<4>(p, x, dy, dw);
  if (w3 <= w2) return backward_weight_dot_gemm<3>(p, x, dy, dw);
  return backward_weight_dot_gemm<2>(p, x, dy, dw);
}

}  // namespace
}  // namespace liteai::kernels::detail
