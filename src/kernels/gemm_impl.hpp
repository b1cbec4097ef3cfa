#pragma once
// GEMM and convolution templates, compiled once per ISA (included by kernels_<isa>.cpp, whose
// flags decide the instructions). UK supplies the register-blocked micro-kernel:
//   UK::MR, UK::NR, UK::full(kc, Apanel, Bpanel, C, ldc, accumulate)  C[MR x NR] (+)= A*B
//   UK::act_row(row, n, bias, act)   row[j] = act(row[j] + bias)
// Packed layouts: A panels [k][MR], B panels [k][NR], zero padded, 64-byte aligned.
#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/detail.hpp"
#include "kernels/ref.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::kernels::detail {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// An element as fp32: bf16 (uint16_t) widens exactly.
inline float to_f32(float v) { return v; }
inline float to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// op(A) as an M x K view: element (i, k) at p[i*rs + k*cs], scaled by alpha when packed.
// T: float, or uint16_t (bf16, widened to fp32 as it is packed).
template <class T>
struct MatAT {
  const T* p;
  int64_t rs, cs;
  float alpha;
};
// op(B) as a K x N view: element (k, j) at p[k*rs + j*cs].
template <class T>
struct MatBT {
  const T* p;
  int64_t rs, cs;
};
using MatA = MatAT<float>;
using MatB = MatBT<float>;

// Tuning hook: blocking sizes can be overridden from the environment (LAI_KC, LAI_MC, LAI_L2B).
inline int64_t env_or(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v && std::atol(v) > 0 ? std::atol(v) : def;
}

struct NoEpilogue {
  void operator()(int64_t, int64_t, int64_t, int64_t, float*, int64_t) const {}
};

template <class UK>
struct GemmDriver {
  static constexpr int MR = UK::MR, NR = UK::NR;
  // Cache blocking. K is cut into equal blocks of at most KC (no thin last block). The packed
  // B block (kc x nc) is sized to stay in L2 while the MR x kc A micro-panel sits in L1;
  // the micro-kernel loop walks B micro-panels (jr inner) against one A micro-panel.
  static inline const int64_t KC = env_or("LAI_KC", 384);
  static inline const int64_t MC = (env_or("LAI_MC", 144) / MR) * MR;
  static inline const int64_t L2B = env_or("LAI_L2B", 640 * 1024);  // bytes for the B block
  static constexpr int64_t TN = (1536 / NR) * NR;  // columns per parallel task (sgemm, conv)
  static int64_t k_block(int64_t K) { return ceil_div(K, ceil_div(K, KC)); }
  static int64_t n_block(int64_t kc) { return std::max<int64_t>(NR, (L2B / (kc * 4)) / NR * NR); }

  // Packs rows [i0, i0+mc) x k [k0, k0+kc) of A into MR-row panels.
  template <class T>
  static void pack_a(const MatAT<T>& a, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
    for (int64_t i = 0; i < mc; i += MR) {
      const int64_t m = std::min<int64_t>(MR, mc - i);
      const T* src = a.p + (i0 + i) * a.rs + k0 * a.cs;
      if (a.rs == 1 && m == MR) {  // column-major A: MR contiguous floats per k
        for (int64_t k = 0; k < kc; ++k)
          for (int ii = 0; ii < MR; ++ii) dst[k * MR + ii] = a.alpha * to_f32(src[k * a.cs + ii]);
      } else if (m == MR && a.cs == 1) {  // row-major A: MR sequential row streams, contiguous writes
        const T* rows[MR];
        for (int ii = 0; ii < MR; ++ii) rows[ii] = src + ii * a.rs;
        for (int64_t k = 0; k < kc; ++k)
          for (int ii = 0; ii < MR; ++ii) dst[k * MR + ii] = a.alpha * to_f32(rows[ii][k]);
      } else if (m == MR) {
        for (int ii = 0; ii < MR; ++ii) {
          const T* row = src + ii * a.rs;
          for (int64_t k = 0; k < kc; ++k) dst[k * MR + ii] = a.alpha * to_f32(row[k * a.cs]);
        }
      } else {
        for (int64_t k = 0; k < kc; ++k)
          for (int ii = 0; ii < MR; ++ii)
            dst[k * MR + ii] = ii < m ? a.alpha * to_f32(src[ii * a.rs + k * a.cs]) : 0.f;
      }
      dst += kc * MR;
    }
  }

  template <class T>
  struct PackBT {
    MatBT<T> b;
    void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* dst) const {
      for (int64_t j = 0; j < nc; j += NR) {
        const int64_t n = std::min<int64_t>(NR, nc - j);
        const T* src = b.p + k0 * b.rs + (j0 + j) * b.cs;
        if (b.cs == 1 && n == NR) {
          for (int64_t k = 0; k < kc; ++k) {
            if constexpr (std::is_same_v<T, float>)
              std::memcpy(dst + k * NR, src + k * b.rs, NR * sizeof(float));
            else
              for (int jj = 0; jj < NR; ++jj) dst[k * NR + jj] = to_f32(src[k * b.rs + jj]);
          }
        } else if (b.rs == 1 && n == NR && NR % 8 == 0) {
          // Transposed B: 8 x 8 blocks, read along columns, written as 8-float rows.
          for (int j8 = 0; j8 < NR; j8 += 8)
            for (int64_t k0 = 0; k0 < kc; k0 += 8) {
              const int64_t kn = std::min<int64_t>(8, kc - k0);
              for (int64_t kk = 0; kk < kn; ++kk)
                for (int jj = 0; jj < 8; ++jj) dst[(k0 + kk) * NR + j8 + jj] = to_f32(src[(j8 + jj) * b.cs + k0 + kk]);
            }
        } else if (b.rs == 1) {  // transposed B: each column is contiguous over k
          for (int jj = 0; jj < NR; ++jj) {
            if (jj < n) {
              const T* col = src + jj * b.cs;
              for (int64_t k = 0; k < kc; ++k) dst[k * NR + jj] = to_f32(col[k]);
            } else {
              for (int64_t k = 0; k < kc; ++k) dst[k * NR + jj] = 0.f;
            }
          }
        } else {
          for (int64_t k = 0; k < kc; ++k)
            for (int jj = 0; jj < NR; ++jj) dst[k * NR + jj] = jj < n ? to_f32(src[k * b.rs + jj * b.cs]) : 0.f;
        }
        dst += kc * NR;
      }
    }
  };
  using PackB = PackBT<float>;

  // B packed once for the whole call (shared by every row task): K blocks of kc x Nr, each a
  // run of NR-wide panels. j0 is the task's first column (a multiple of NR).
  struct PrepackedB {
    const float* base;
    int64_t Nr, j0;
    const float* panels(int64_t pc, int64_t kc, int64_t jc) const { return base + pc * Nr + (j0 + jc) * kc; }
  };

  template <class T>
  struct PackAT {
    MatAT<T> a;
    void operator()(int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) const {
      pack_a(a, i0, mc, k0, kc, dst);
    }
  };
  using PackA = PackAT<float>;

  // Single-threaded C[M,N] (+)= A[M,K] B[K,N] through packers (K > 0). accumulate=false
  // overwrites C (its old contents are never read). epi(i, j, m, n, Ctile, ldc) runs on each
  // finished tile while it is still in cache.
  template <class PA, class PB, class Epi = NoEpilogue>
  static void run(int64_t M, int64_t N, int64_t K, const PA& pa, const PB& pb, float* C,
                  int64_t ldc, bool accumulate, const Epi& epi = Epi()) {
    const int64_t KB = k_block(K), NC = n_block(KB);
    float* bbuf = scratch(0, size_t(KB * round_up(std::min(N, NC), NR)));
    float* abuf = scratch(1, size_t(KB * round_up(std::min(M, MC), MR)));
    alignas(64) float tmp[MR * NR];
    for (int64_t jc = 0; jc < N; jc += NC) {
      const int64_t nc = std::min(NC, N - jc);
      for (int64_t pc = 0; pc < K; pc += KB) {
        const int64_t kc = std::min(KB, K - pc);
        const bool acc = accumulate || pc > 0, last = pc + kc >= K;
        const float* bp = bbuf;
        if constexpr (requires { pb.panels(pc, kc, jc); })
          bp = pb.panels(pc, kc, jc);
        else
          pb(pc, kc, jc, nc, bbuf);
        for (int64_t ic = 0; ic < M; ic += MC) {
          const int64_t mc = std::min(MC, M - ic);
          pa(ic, mc, pc, kc, abuf);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const float* ap = abuf + ir * kc;
            for (int64_t jr = 0; jr < nc; jr += NR) {
              const int64_t nr = std::min<int64_t>(NR, nc - jr);
              float* c = C + (ic + ir) * ldc + jc + jr;
              if (mr == MR && nr == NR) {
                UK::full(kc, ap, bp + jr * kc, c, ldc, acc);
              } else {
                UK::full(kc, ap, bp + jr * kc, tmp, NR, false);
                for (int64_t ii = 0; ii < mr; ++ii)
                  for (int64_t jj = 0; jj < nr; ++jj)
                    c[ii * ldc + jj] = (acc ? c[ii * ldc + jj] : 0.f) + tmp[ii * NR + jj];
              }
              if (last) epi(ic + ir, jc + jr, mr, nr, c, ldc);
            }
          }
        }
      }
    }
  }

  // Small M with row-major B: A (M x K) is packed once and B is read in place, panel by panel,
  // with the next panel prefetched. Packing B would cost a full extra pass over it (from DRAM
  // when N is large) for only M/MR uses of each panel; this is the conv-shaped case.
  static void run_direct_b(int64_t M, int64_t N, int64_t K, const MatA& a, const float* b,
                           int64_t ldb, float* C, int64_t ldc, bool accumulate) {
    if constexpr (requires { typename UK::StridedB; }) {
      const int64_t KB = k_block(K), nkb = ceil_div(K, KB), Mr = round_up(M, MR);
      float* abuf = scratch(1, size_t(Mr * K));
      for (int64_t bk = 0; bk < nkb; ++bk) {
        const int64_t pc = bk * KB, kc = std::min(KB, K - pc);
        pack_a(a, 0, M, pc, kc, abuf + Mr * pc);
      }
      float* edge = scratch(0, size_t(KB * NR));
      alignas(64) float tmp[MR * NR];
      for (int64_t jr = 0; jr < N; jr += NR) {
        const int64_t nr = std::min<int64_t>(NR, N - jr);
        if (jr + NR < N)  // warm the next panel while this one computes
          for (int64_t k = 0; k < K; ++k)
            for (int64_t l = 0; l < NR; l += 16) __builtin_prefetch(b + k * ldb + jr + NR + l, 0, 2);
        for (int64_t bk = 0; bk < nkb; ++bk) {
          const int64_t pc = bk * KB, kc = std::min(KB, K - pc);
          const bool acc = accumulate || bk > 0;
          if (nr < NR) {  // ragged last panel: pack it, zero padded
            typename GemmDriver::PackB{MatB{b, ldb, 1}}(pc, kc, jr, nr, edge);
          }
          for (int64_t ir = 0; ir < M; ir += MR) {
            const int m = int(std::min<int64_t>(MR, M - ir));
            const float* ap = abuf + Mr * pc + ir * kc;
            float* c = C + ir * ldc + jr;
            if (nr == NR) {
              UK::rows(m, kc, ap, typename UK::StridedB{b + pc * ldb + jr, ldb}, c, ldc, acc);
            } else {
              UK::full(kc, ap, edge, tmp, NR, false);
              for (int ii = 0; ii < m; ++ii)
                for (int64_t jj = 0; jj < nr; ++jj)
                  c[ii * ldc + jj] = (acc ? c[ii * ldc + jj] : 0.f) + tmp[ii * NR + jj];
            }
          }
        }
      }
    }
  }

  // Small M (at most MR rows) with row-major B: a dense layer's forward on a small batch, where
  // B (the weights) is far larger than A and C and must be streamed from memory exactly once.
  // Packing B would add a pass and a full MR-row tile would waste (MR - M) / MR of the FMAs, so
  // B is read in place in chunks of rows that stay in L2 while each NR-wide panel of the chunk
  // is used against all M rows.
  static void run_small_m(int64_t M, int64_t N, int64_t K, const MatA& a, const float* b, int64_t ldb,
                          float* C, int64_t ldc, bool accumulate) {
    if constexpr (requires { typename UK::StridedB; }) {
      const int64_t KCH = std::clamp<int64_t>(L2B / 2 / (N * 4), 16, 256);
      float* abuf = scratch(1, size_t(KCH * MR));
      float* edge = scratch(0, size_t(KCH * NR));
      alignas(64) float tmp[MR * NR];
      for (int64_t pc = 0; pc < K; pc += KCH) {
        const int64_t kc = std::min(KCH, K - pc);
        const bool acc = accumulate || pc > 0;
        pack_a(a, 0, M, pc, kc, abuf);
        // Stream the next chunk in, in order, a slice per panel: the panels below read each row
        // a few lines at a time, which the hardware prefetchers follow less well.
        const int64_t next = std::min(KCH, K - pc - kc), npan = ceil_div(N, NR);
        const int64_t slice = ceil_div(next, npan);
        for (int64_t jr = 0, pi = 0; jr < N; jr += NR, ++pi) {
          for (int64_t k = pi * slice; k < std::min(next, (pi + 1) * slice); ++k)
            for (int64_t l = 0; l < N; l += 16) __builtin_prefetch(b + (pc + kc + k) * ldb + l, 0, 2);
          const int64_t nr = std::min<int64_t>(NR, N - jr);
          if (nr == NR) {
            UK::rows(int(M), kc, abuf, typename UK::StridedB{b + pc * ldb + jr, ldb}, C + jr, ldc, acc);
          } else {
            typename GemmDriver::PackB{MatB{b, ldb, 1}}(pc, kc, jr, nr, edge);
            UK::full(kc, abuf, edge, tmp, NR, false);
            for (int64_t ii = 0; ii < M; ++ii)
              for (int64_t jj = 0; jj < nr; ++jj)
                C[ii * ldc + jr + jj] = (acc ? C[ii * ldc + jr + jj] : 0.f) + tmp[ii * NR + jj];
          }
        }
      }
    }
  }
  static constexpr bool has_small_m = requires { typename UK::StridedB; };

  // C[M,N] = A[M,K] * B[K,N] with B stored as bf16 (row-major, ld ldb) and A, C fp32 row-major.
  // For weights that are streamed from memory (a dense layer's inference): B is widened to fp32
  // in L2-sized chunks right before use, so memory traffic halves while every product and sum
  // stays fp32. Tasks are (K slice, column block) pairs fixed by the shape; K slices are summed
  // in slice order, so the bits do not depend on the thread count.
  static void sgemm_bf16b(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B,
                          int64_t ldb, float* C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K == 0) return scale_block(M, N, 0.f, C, ldc);
    int64_t ns = K >= 32768 ? std::min<int64_t>(16, K / 8192) : 1;
    const int64_t kstep = round_up(ceil_div(K, ns), 64);
    ns = ceil_div(K, kstep);
    const int64_t colw = std::min(round_up(N, NR), int64_t(16) * NR), ncb = ceil_div(N, colw);
    std::vector<float> part(size_t(ns > 1 ? ns * M * N : 0));
    parallel_for(0, ns * ncb, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t sl = t / ncb, j0 = (t % ncb) * colw, nw = std::min(colw, N - j0);
        const int64_t k0 = sl * kstep, ks = std::min(kstep, K - k0);
        float* out = ns > 1 ? part.data() + sl * M * N + j0 : C + j0;
        const int64_t ldo = ns > 1 ? N : ldc;
        const int64_t KCH = std::clamp<int64_t>(L2B / 2 / (nw * 4), 16, 256);
        float* wide = scratch(3, size_t(KCH * nw));
        for (int64_t pc = 0; pc < ks; pc += KCH) {
          const int64_t kc = std::min(KCH, ks - pc);
          for (int64_t k = 0; k < kc; ++k) {
            const uint16_t* src = B + (k0 + pc + k) * ldb + j0;
            float* dst = wide + k * nw;
            for (int64_t j = 0; j < nw; ++j) dst[j] = std::bit_cast<float>(uint32_t(src[j]) << 16);  // exact
          }
          const MatA as{A + k0 + pc, lda, 1, 1.f};
          if (has_small_m && M <= MR)
            run_small_m(M, nw, kc, as, wide, nw, out, ldo, pc > 0);
          else
            run(M, nw, kc, PackA{as}, PackB{MatB{wide, nw, 1}}, out, ldo, pc > 0);
        }
      }
    });
    if (ns > 1)
      parallel_for(0, M, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = 0; j < N; ++j) {
            float acc = part[size_t(i * N + j)];
            for (int64_t sl = 1; sl < ns; ++sl) acc += part[size_t((sl * M + i) * N + j)];
            C[i * ldc + j] = acc;
          }
      });
  }

  // Tasks are blocks of C (mT x nT of mstep x nstep); every element is summed in the same k order
  // whatever the thread count, so results do not depend on it.
  struct TaskGrid {
    int64_t mT, nT, mstep, nstep;
  };
  static TaskGrid task_grid(int64_t M, int64_t N) {
    const int threads = num_threads();
    int64_t nT = ceil_div(N, TN), mT = 1;
    const int64_t want = threads > 1 ? 2 * threads : 1;
    while (nT * mT < want && ceil_div(M, mT * 2) >= 2 * MR) mT *= 2;
    while (nT * mT < want && ceil_div(N, nT + 1) >= 2 * NR) ++nT;
    // parallel_for deals at most 4 chunks per thread: a task count that divides evenly into
    // them keeps both cores busy to the end.
    const int64_t chunks = 4 * int64_t(threads);
    if (threads > 1 && mT == 1 && nT > chunks && ceil_div(N, round_up(nT, chunks)) >= NR)
      nT = round_up(nT, chunks);
    const int64_t mstep = round_up(ceil_div(M, mT), MR), nstep = round_up(ceil_div(N, nT), NR);
    return {ceil_div(M, mstep), ceil_div(N, nstep), mstep, nstep};
  }

  // C = alpha op(A) op(B) + beta C with bf16 A and B, widened to fp32 as they are packed: the fp32
  // micro-kernel sums the exact products of the bf16 values (kernels.hpp). Blocks of C as tasks.
  static void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A,
                        int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K == 0 || alpha == 0.f) {
      if (beta != 1.f) scale_block(M, N, beta, C, ldc);
      return;
    }
    const MatAT<uint16_t> a{A, ta ? 1 : lda, ta ? lda : 1, alpha};
    const MatBT<uint16_t> b{B, tb ? 1 : ldb, tb ? ldb : 1};
    const TaskGrid g = task_grid(M, N);
    const double flops = 2.0 * double(M) * double(N) * double(K);
    parallel_for(0, g.mT * g.nT, flops < 4e6 ? g.mT * g.nT : 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t i0 = (t / g.nT) * g.mstep, j0 = (t % g.nT) * g.nstep;
        const int64_t m = std::min(g.mstep, M - i0), n = std::min(g.nstep, N - j0);
        float* c = C + i0 * ldc + j0;
        if (beta != 0.f && beta != 1.f) scale_block(m, n, beta, c, ldc);
        const MatAT<uint16_t> as{a.p + i0 * a.rs, a.rs, a.cs, a.alpha};
        const MatBT<uint16_t> bs{b.p + j0 * b.cs, b.rs, b.cs};
        run(m, n, K, PackAT<uint16_t>{as}, PackBT<uint16_t>{bs}, c, ldc, beta != 0.f);
      }
    });
  }

  static void scale_block(int64_t m, int64_t n, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < m; ++i) {
      float* r = C + i * ldc;
      if (beta == 0.f)
        std::fill(r, r + n, 0.f);
      else
        for (int64_t j = 0; j < n; ++j) r[j] *= beta;
    }
  }

  // C = alpha A B^T + beta C for a few rows of A (M <= 8) and B stored [N, K] row-major: a dense
  // layer's input gradient g W^T on a small batch, W being the big operand. Each row of B is read
  // once, in order, and dotted with every row of A (vectors along k, summed across at the end):
  // no transposing pack of W and no MR-row waste.
  template <int MM>
  static void small_m_bt_rows(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if constexpr (MM > 1) {
      if (M < MM) return small_m_bt_rows<MM - 1>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    if constexpr (requires { typename UK::V; }) {
      using V = typename UK::V;
      using Bv = typename V::B;
      constexpr int W = V::W, R = MM <= 4 ? 4 : 2;  // B rows per step: MM x R accumulators
      const int64_t Kv = K / W * W;
      auto store = [&](int64_t i, int64_t n, float dot) {
        float& c = C[i * ldc + n];
        c = beta == 0.f ? alpha * dot : alpha * dot + beta * c;
      };
      parallel_for(0, ceil_div(N, R), std::max<int64_t>(1, 16384 / std::max<int64_t>(1, K)), [&](int64_t t0, int64_t t1) {
        for (int64_t n0 = t0 * R; n0 < std::min(N, t1 * R); n0 += R) {
          const int64_t rn = std::min<int64_t>(R, N - n0);
          if (rn < R) {  // ragged end: one row at a time
            for (int64_t n = n0; n < n0 + rn; ++n)
              for (int64_t i = 0; i < M; ++i) {
                double dot = 0;
                for (int64_t k = 0; k < K; ++k) dot += double(A[i * lda + k]) * B[n * ldb + k];
                store(i, n, float(dot));
              }
            continue;
          }
          Bv acc[MM][R];
#pragma GCC unroll 8
          for (int i = 0; i < MM; ++i)
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) acc[i][r] = Bv(0.f);
          for (int64_t k = 0; k < Kv; k += W) {
            Bv bv[R];
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) bv[r] = V::load(B + (n0 + r) * ldb + k);
#pragma GCC unroll 8
            for (int i = 0; i < MM; ++i) {
              const Bv av = V::load(A + i * lda + k);
#pragma GCC unroll 4
              for (int r = 0; r < R; ++r) acc[i][r] = UK::fma(av, bv[r], acc[i][r]);
            }
          }
          for (int i = 0; i < MM; ++i)
            for (int r = 0; r < R; ++r) {
              float dot = UK::hsum(acc[i][r]);
              for (int64_t k = Kv; k < K; ++k) dot += A[i * lda + k] * B[(n0 + r) * ldb + k];
              store(i, n0 + r, dot);
            }
        }
      });
    }
  }

  static void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                    int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K == 0 || alpha == 0.f) {
      if (beta != 1.f) scale_block(M, N, beta, C, ldc);
      return;
    }
    if constexpr (requires { typename UK::V; }) {
      if (!ta && tb && M <= 8 && N >= 64 && K >= 2 * UK::V::W)
        return small_m_bt_rows<8>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    const MatA a{A, ta ? 1 : lda, ta ? lda : 1, alpha};
    const MatB b{B, tb ? 1 : ldb, tb ? ldb : 1};
    const int threads = num_threads();
    const TaskGrid grid = task_grid(M, N);
    const int64_t mT = grid.mT, nT = grid.nT;
    const int64_t mstep = grid.mstep, nstep = grid.nstep;
    const double flops = 2.0 * double(M) * double(N) * double(K);
    bool direct_b = false;
    if constexpr (requires { typename UK::StridedB; })
      // Only with wide panels: with 64-byte rows per panel (AVX2) the in-place reads touch too
      // many pages per flop and lose to packing (measured 30 vs 60 GFLOP/s per core here).
      direct_b = !tb && NR >= 48 && M <= 64 && N >= 8 * NR;
    // Small C with a long K (a dense layer's forward on a small batch): split K into slices whose
    // partial products are summed in slice order. The slice count depends on the shape only,
    // so the bits do not depend on the thread count.
    if (M * N <= 65536 && K >= 32768 && mT * nT < 2 * int64_t(threads)) {
      const int64_t slices = std::min<int64_t>(16, K / 8192), kstep = round_up(ceil_div(K, slices), 64);
      const int64_t ns = ceil_div(K, kstep);
      std::vector<float> part(size_t(ns * M * N));
      const bool small_m = has_small_m && M <= MR && !tb;
      parallel_for(0, ns, 1, [&](int64_t s0, int64_t s1) {
        for (int64_t sl = s0; sl < s1; ++sl) {
          const int64_t k0 = sl * kstep, kc = std::min(kstep, K - k0);
          const MatA as{a.p + k0 * a.cs, a.rs, a.cs, a.alpha};
          const MatB bs{b.p + k0 * b.rs, b.rs, b.cs};
          if (small_m)
            run_small_m(M, N, kc, as, bs.p, ldb, part.data() + sl * M * N, N, false);
          else
            run(M, N, kc, PackA{as}, PackB{bs}, part.data() + sl * M * N, N, false);
        }
      });
      parallel_for(0, M, std::max<int64_t>(1, 4096 / N), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = 0; j < N; ++j) {
            float acc = part[size_t(i * N + j)];
            for (int64_t sl = 1; sl < ns; ++sl) acc += part[size_t((sl * M + i) * N + j)];
            float& c = C[i * ldc + j];
            c = beta == 0.f ? acc : acc + beta * c;
          }
      });
      return;
    }
    // Several row tasks would each pack the same B: pack it once, in parallel, and share it.
    const int64_t Nr = round_up(N, NR);
    float* prepacked = nullptr;
    if (mT > 1 && !direct_b && K * Nr <= (int64_t(1) << 22)) {
      prepacked = scratch(3, size_t(K * Nr));
      const int64_t KB = k_block(K), nkb = ceil_div(K, KB), npan = Nr / NR;
      const int64_t pgroup = std::max<int64_t>(1, std::min<int64_t>(npan, 8));
      const int64_t ngroups = ceil_div(npan, pgroup);
      parallel_for(0, nkb * ngroups, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t it = i0; it < i1; ++it) {
          const int64_t pc = (it / ngroups) * KB, kc = std::min(KB, K - pc);
          const int64_t jg = (it % ngroups) * pgroup * NR, jn = std::min(pgroup * NR, N - jg);
          PackB{b}(pc, kc, jg, jn, prepacked + pc * Nr + jg * kc);
        }
      });
    }
    const int64_t grain = flops < 4e6 ? mT * nT : 1;
    parallel_for(0, mT * nT, grain, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t i0 = (t / nT) * mstep, j0 = (t % nT) * nstep;
        const int64_t m = std::min(mstep, M - i0), n = std::min(nstep, N - j0);
        float* c = C + i0 * ldc + j0;
        if (beta != 0.f && beta != 1.f) scale_block(m, n, beta, c, ldc);
        const MatA as{a.p + i0 * a.rs, a.rs, a.cs, a.alpha};
        const MatB bs{b.p + j0 * b.cs, b.rs, b.cs};
        if (direct_b)
          run_direct_b(m, n, K, as, bs.p, ldb, c, ldc, beta != 0.f);
        else if (prepacked)
          run(m, n, K, PackA{as}, PrepackedB{prepacked, Nr, j0}, c, ldc, beta != 0.f);
        else
          run(m, n, K, PackA{as}, PackB{bs}, c, ldc, beta != 0.f);
      }
    });
  }
};

}  // namespace liteai::kernels::detail
