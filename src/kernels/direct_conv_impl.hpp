#pragma once
// Direct (pack-free) convolution for stride 1, the compact net's case, on SIMD units.
// Each task copies a block of input rows, zero padded, into a small per-thread tile (bounded:
// a few hundred KB, L2-resident) and runs the GEMM micro-kernel straight on it: row k = (c,r,s)
// of the implicit im2col matrix is the padded tile shifted by off[k], so nothing is packed.
//   forward:         y tile [MR x NR] = Wpacked * tile rows at off[]      (+ bias, act)
//   backward data:   the forward of dy with flipped, transposed weights (stride 1)
//   backward weight: dW^T[crs][k] += tile rows (broadcast, in place) * dy^T (transposed per block),
//                    per-group partial sums added in a fixed order (deterministic for any
//                    thread count).
// Other strides fall back to ConvImpl (implicit GEMM with packing).
// The *_bf16 entry points take bf16 activations and weights and widen them to fp32 where they
// are copied anyway (tile fills, weight packing, the dy transposes): the same fp32 micro-kernels,
// half the bytes read. The forward loop is shared with the vdpbf16ps kernels (dot_bf16_impl.hpp),
// which fill their tiles with bf16 pairs instead.
#include "kernels/conv_impl.hpp"

namespace liteai::kernels::detail {

template <class Arch, class UK>
struct DirectConv {
  using V = Vec<Arch>;
  using B = typename V::B;
  using G = GemmDriver<UK>;
  static constexpr int MR = UK::MR, NR = UK::NR, W = V::W;

  // Geometry of the padded input tile for output rows [oh0, oh0 + rb): `planes` planes of
  // rows_in x Wp 32-bit elements (input channels; channel pairs for vdpbf16ps).
  struct Tile {
    int64_t rows_in, Wp, plane, floats;
  };
  static Tile tile_geometry(const Conv2dShape& p, int64_t rb, int64_t OW, int64_t planes) {
    Tile t;
    t.rows_in = rb + p.dil_h * (p.R - 1);
    t.Wp = OW + p.dil_w * (p.S - 1);
    t.plane = t.rows_in * t.Wp;
    // Slack: strips and vectors that run past the last row read (and discard) beyond it, up to
    // a strip or vector plus the kernel's reach along the row.
    t.floats = planes * t.plane + NR + 2 * W + p.dil_w * (p.S - 1);
    return t;
  }

  // Copies row ih of a plane into the tile row d (Wp long): zero outside the image.
  template <class T>
  static void fill_row(const Conv2dShape& p, const T* plane, int64_t ih, int64_t Wp, float* d) {
    if (ih < 0 || ih >= p.H) {
      std::fill(d, d + Wp, 0.f);
      return;
    }
    const T* src = plane + ih * p.W;
    const int64_t lo = std::clamp<int64_t>(p.pad_w, 0, Wp);         // first t inside
    const int64_t hi = std::clamp<int64_t>(p.W + p.pad_w, lo, Wp);  // one past the last
    std::fill(d, d + lo, 0.f);
    if constexpr (std::is_same_v<T, float>)
      std::memcpy(d + lo, src + (lo - p.pad_w), sizeof(float) * (hi - lo));
    else
      for (int64_t t = lo; t < hi; ++t) d[t] = to_f32(src[t - p.pad_w]);
    std::fill(d + hi, d + Wp, 0.f);
  }

  // tile[c][i][t] = x[c][oh0 - pad_h + i][t - pad_w], zero outside the image (bf16 widened).
  template <class T>
  static void fill_tile(const Conv2dShape& p, const T* x, int64_t oh0, const Tile& t, float* tile) {
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t i = 0; i < t.rows_in; ++i)
        fill_row(p, x + c * p.H * p.W, oh0 - p.pad_h + i, t.Wp, tile + c * t.plane + i * t.Wp);
    std::fill(tile + p.C * t.plane, tile + t.floats, 0.f);
  }

  static void offsets(const Conv2dShape& p, const Tile& t, std::vector<int64_t>& off) {
    off.resize(size_t(p.C * p.R * p.S));
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s)
          off[size_t((c * p.R + r) * p.S + s)] = c * t.plane + r * p.dil_h * t.Wp + s * p.dil_w;
  }

  // Output rows per task: enough pixels to amortize, a tile that stays in L2.
  static int64_t rows_per_block(const Conv2dShape& p, int64_t OH, int64_t OW, int64_t min_pixels,
                                int64_t planes) {
    int64_t rb = std::clamp<int64_t>(ceil_div(min_pixels, OW), 1, OH);
    while (rb > 1 && tile_geometry(p, rb, OW, planes).floats * 4 > 384 * 1024) --rb;
    return rb;
  }

  // A stride-1 forward with its operands prepared: `steps` reduction steps (taps (c, r, s), or
  // bf16 pairs of them), the weights in MR-row panels per K block of steps (G::pack_a's layout),
  // the tile geometry and each step's offset in the tile. fill(n, oh0, tile) writes image n's
  // padded input rows from oh0.
  struct ForwardPlan {
    int64_t steps = 0, rb = 0;
    Tile geo{};
    std::vector<float, AlignedAlloc<float>> wp;
    std::vector<int64_t> off;
  };
  static ForwardPlan plan_forward(const Conv2dShape& p, bool pool, int64_t planes, int64_t steps) {
    const int64_t OH = p.OH(), OW = p.OW();
    ForwardPlan f;
    f.steps = steps;
    f.rb = rows_per_block(p, OH, OW, env_or("LAI_FWPIX", 2048), planes);
    if (pool) f.rb = std::min(round_up(f.rb, 2), round_up(OH, 2));  // blocks hold whole row pairs
    f.geo = tile_geometry(p, f.rb, OW, planes);
    f.wp.resize(size_t(round_up(p.K, MR) * steps));
    return f;
  }
  // Packs w[K][steps] (row-major fp32) into f.wp.
  static void pack_weights(const Conv2dShape& p, const float* w, ForwardPlan& f) {
    const int64_t KB = G::k_block(f.steps), Kr = round_up(p.K, MR);
    for (int64_t pc = 0; pc < f.steps; pc += KB)
      G::pack_a(MatA{w, f.steps, 1, 1.f}, 0, p.K, pc, std::min(KB, f.steps - pc), f.wp.data() + Kr * pc);
  }

  static void forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                      float* y, Act act) {
    if (p.stride_h != 1 || p.stride_w != 1 || p.C * p.R * p.S == 0) return ConvImpl<UK>::forward(p, x, w, bias, y, act);
    run_forward<false>(p, x, w, bias, y, act);
  }
  // y = 2x2 stride-2 average pool (floor) of act(conv + bias): each pair of output rows is
  // computed into a register-sized tile and pooled there, so the full-size activation is never
  // written to memory (the compact net's conv -> swish -> pool stages in inference).
  static void forward_avgpool2(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                               float* y, Act act) {
    if (p.stride_h != 1 || p.stride_w != 1 || p.C * p.R * p.S == 0) return forward_then_pool(p, x, w, bias, y, act);
    run_forward<true>(p, x, w, bias, y, act);
  }

  // bf16 activations and weights, widened to fp32 in the tile fill and the weight packing.
  // Other strides widen the whole input and run the fp32 kernels (the same products).
  static void forward_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                           Act act) {
    forward_bf16_impl<false>(p, x, w, bias, y, act);
  }
  static void forward_avgpool2_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias,
                                    float* y, Act act) {
    forward_bf16_impl<true>(p, x, w, bias, y, act);
  }
  template <bool Pool>
  static void forward_bf16_impl(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias,
                                float* y, Act act) {
    const std::vector<float> wf = widen(p.K * p.C * p.R * p.S, w);
    if (p.stride_h != 1 || p.stride_w != 1 || p.C * p.R * p.S == 0) {
      const std::vector<float> xf = widen(p.N * p.C * p.H * p.W, x);
      if constexpr (Pool) return forward_avgpool2(p, xf.data(), wf.data(), bias, y, act);
      else return forward(p, xf.data(), wf.data(), bias, y, act);
    }
    run_forward<Pool>(p, x, wf.data(), bias, y, act);
  }
  template <class T>
  static std::vector<float> widen(int64_t n, const T* src) {
    std::vector<float> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = to_f32(src[i]);
    return out;
  }

  template <bool Pool, class T>
  static void run_forward(const Conv2dShape& p, const T* x, const float* w, const float* bias, float* y, Act act) {
    ForwardPlan f = plan_forward(p, Pool, p.C, p.C * p.R * p.S);
    pack_weights(p, w, f);
    offsets(p, f.geo, f.off);
    const int64_t image = p.C * p.H * p.W;
    forward_loop<Pool>(p, f, [&](int64_t n, int64_t oh0, float* tile) { fill_tile(p, x + n * image, oh0, f.geo, tile); },
                       bias, y, act);
  }

  template <bool Pool, class Fill>
  static void forward_loop(const Conv2dShape& p, const ForwardPlan& f, const Fill& fill, const float* bias, float* y,
                           Act act) {
    const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, steps = f.steps, rb = f.rb;
    const int64_t KB = G::k_block(steps), nkb = ceil_div(steps, KB), Kr = round_up(p.K, MR);
    const int64_t blocks = ceil_div(OH, rb);
    const Tile& geo = f.geo;
    const float* wp = f.wp.data();
    const int64_t* off = f.off.data();
    const typename ConvImpl<UK>::BiasAct epi{bias, act};
    const int64_t PW = OW / 2, PP = (OH / 2) * PW;  // pooled plane
    // Row strips waste the ragged end of each row: past a quarter, run strips across rows.
    const bool flat = !Pool && round_up(OW, NR) * 3 > OW * 4;
    parallel_for(0, p.N * blocks, 1, [&](int64_t t0, int64_t t1) {
      float* tile = scratch(2, size_t(geo.floats));
      alignas(64) float tmp[2][MR * NR];
      // C[m x nn] of output row oh, strip ow0, channels k0.. into c (ldc).
      auto conv_strip = [&](int64_t oh, int64_t oh0, int64_t ow0, int64_t k0, int m, float* c, int64_t ldc) {
        const float* base = tile + (oh - oh0) * geo.Wp + ow0;
        for (int64_t b = 0; b < nkb; ++b) {
          const int64_t pc = b * KB, kc = std::min(KB, steps - pc);
          UK::rows(m, kc, wp + Kr * pc + k0 * kc, typename UK::GatherB{base, off + pc}, c, ldc, b > 0);
        }
      };
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / blocks, oh0 = (t % blocks) * rb, rows = std::min(rb, OH - oh0);
        fill(n, oh0, tile);
        // Weight panel outer: its MR x kc floats stay in L1 while the tile streams from L2.
        for (int64_t k0 = 0; k0 < p.K; k0 += MR) {
          const int m = int(std::min<int64_t>(MR, p.K - k0));
          if constexpr (Pool) {
            float* yn = y + n * p.K * PP;
            for (int64_t oh = oh0; oh + 1 < oh0 + rows; oh += 2)
              for (int64_t ow0 = 0; ow0 < OW; ow0 += NR) {
                const int64_t nn = std::min<int64_t>(NR, OW - ow0);
                for (int r = 0; r < 2; ++r) {
                  conv_strip(oh + r, oh0, ow0, k0, m, tmp[r], NR);
                  epi(k0, 0, m, nn, tmp[r], NR);
                }
                for (int i = 0; i < m; ++i) {
                  const float* a = tmp[0] + i * NR;
                  const float* b = tmp[1] + i * NR;
                  float* dst = yn + (k0 + i) * PP + (oh / 2) * PW + ow0 / 2;
                  for (int64_t j = 0; j < nn / 2; ++j)
                    dst[j] = 0.25f * ((a[2 * j] + a[2 * j + 1]) + (b[2 * j] + b[2 * j + 1]));
                }
              }
          } else if (flat) {
            // Narrow images: output pixel (oh, ow) of the block sits at q = (oh - oh0) * Wp + ow of
            // the padded tile's row-major order, and tap (c, r, s) reads tile[off + q] for every q,
            // so strips of NR run across row ends. The Wp - OW pad columns per row are computed
            // and dropped (2 of 16 at 14x14) instead of most of a strip (34 of 48).
            float* yn = y + n * p.K * P + oh0 * OW;
            const int64_t Q = (rows - 1) * geo.Wp + OW;
            for (int64_t q0 = 0; q0 < Q; q0 += NR) {
              conv_strip(oh0, oh0, q0, k0, m, tmp[0], NR);
              epi(k0, 0, m, NR, tmp[0], NR);
              const int64_t qn = std::min<int64_t>(NR, Q - q0);
              for (int i = 0; i < m; ++i) {
                const float* src = tmp[0] + i * NR;
                float* dst = yn + (k0 + i) * P;
                for (int64_t j = 0; j < qn;) {  // runs of valid columns
                  const int64_t q = q0 + j, r = q / geo.Wp, ow = q % geo.Wp;
                  const int64_t run = std::min(qn - j, ow < OW ? OW - ow : geo.Wp - ow);
                  if (ow < OW) std::memcpy(dst + r * OW + ow, src + j, sizeof(float) * run);
                  j += run;
                }
              }
            }
          } else {
            float* yn = y + n * p.K * P;
            for (int64_t oh = oh0; oh < oh0 + rows; ++oh)
              for (int64_t ow0 = 0; ow0 < OW; ow0 += NR) {
                const int64_t nn = std::min<int64_t>(NR, OW - ow0);
                float* c = nn == NR ? yn + k0 * P + oh * OW + ow0 : tmp[0];
                const int64_t ldc = nn == NR ? P : NR;
                conv_strip(oh, oh0, ow0, k0, m, c, ldc);
                if (nn != NR) {
                  float* dst = yn + k0 * P + oh * OW + ow0;
                  for (int i = 0; i < m; ++i) std::memcpy(dst + i * P, tmp[0] + i * NR, sizeof(float) * nn);
                }
                epi(k0, 0, m, nn, yn + k0 * P + oh * OW + ow0, P);
              }
          }
        }
      }
    });
  }

  // Strided convolutions: the full activation through ConvImpl, then the pool.
  static void forward_then_pool(const Conv2dShape& p, const float* x, const float* w, const float* bias, float* y,
                                Act act) {
    const int64_t OH = p.OH(), OW = p.OW();
    std::vector<float, AlignedAlloc<float>> full(size_t(p.N * p.K * OH * OW));
    ConvImpl<UK>::forward(p, x, w, bias, full.data(), act);
    const int64_t PH = OH / 2, PW = OW / 2;
    for (int64_t pl = 0; pl < p.N * p.K; ++pl)
      for (int64_t oh = 0; oh < PH; ++oh) {
        const float* r0 = full.data() + (pl * OH + 2 * oh) * OW;
        const float* r1 = r0 + OW;
        for (int64_t ow = 0; ow < PW; ++ow)
          y[(pl * PH + oh) * PW + ow] = 0.25f * ((r0[2 * ow] + r0[2 * ow + 1]) + (r1[2 * ow] + r1[2 * ow + 1]));
      }
  }

  // Backward data of a stride-1 conv is the forward of dy with w'[c][k][R-1-r][S-1-s] =
  // w[k][c][r][s] and the mirrored padding (which may be negative: the tile fill handles it).
  template <class T>
  static std::vector<T> flipped_weights(const Conv2dShape& p, const T* w) {
    const int64_t RS = p.R * p.S, CRS = p.C * RS;
    std::vector<T> wt(size_t(p.K * CRS));
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t c = 0; c < p.C; ++c)
        for (int64_t rs = 0; rs < RS; ++rs)
          wt[size_t((c * p.K + k) * RS + (RS - 1 - rs))] = w[(k * p.C + c) * RS + rs];
    return wt;
  }
  static Conv2dShape backward_data_as_forward(const Conv2dShape& p) {
    Conv2dShape q{p.N, p.K, p.OH(), p.OW(), p.C, p.R, p.S};
    q.pad_h = p.dil_h * (p.R - 1) - p.pad_h;
    q.pad_w = p.dil_w * (p.S - 1) - p.pad_w;
    q.dil_h = p.dil_h, q.dil_w = p.dil_w;
    return q;
  }

  static void backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx) {
    if (p.stride_h != 1 || p.stride_w != 1) return ConvImpl<UK>::backward_data(p, dy, w, dx);
    const std::vector<float> wt = flipped_weights(p, w);
    forward(backward_data_as_forward(p), dy, wt.data(), nullptr, dx, Act::none);
  }
  static void backward_data_bf16(const Conv2dShape& p, const uint16_t* dy, const uint16_t* w, float* dx) {
    if (p.stride_h != 1 || p.stride_w != 1) {
      const std::vector<float> dyf = widen(p.N * p.K * p.OH() * p.OW(), dy), wf = widen(p.K * p.C * p.R * p.S, w);
      return ConvImpl<UK>::backward_data(p, dyf.data(), wf.data(), dx);
    }
    const std::vector<uint16_t> wt = flipped_weights(p, w);
    forward_bf16(backward_data_as_forward(p), dy, wt.data(), nullptr, dx, Act::none);
  }

  // out[i][j] += sum_q dy[i][q] * x[off[j] + q], q < n (a multiple of W): KT x CT dot products
  // sharing their loads. Vector part: KT*CT accumulators stay in registers.
  template <int KT, int CT>
  static void dot_tile(int64_t n, const float* dyb, int64_t ldd, const float* xb, const int64_t* off, float* out,
                       int64_t ldo) {
    B acc[KT][CT];
#pragma GCC unroll 8
    for (int i = 0; i < KT; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < CT; ++j) acc[i][j] = B(0.f);
    const float* xs[CT];
#pragma GCC unroll 4
    for (int j = 0; j < CT; ++j) xs[j] = xb + off[j];
    for (int64_t o = 0; o < n; o += W) {
      B xv[CT];
#pragma GCC unroll 4
      for (int j = 0; j < CT; ++j) xv[j] = B::load_unaligned(xs[j] + o);
#pragma GCC unroll 8
      for (int i = 0; i < KT; ++i) {
        const B dv = B::load_unaligned(dyb + i * ldd + o);
#pragma GCC unroll 4
        for (int j = 0; j < CT; ++j) acc[i][j] = xsimd::fma(dv, xv[j], acc[i][j]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < KT; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < CT; ++j) out[i * ldo + j] += xsimd::hadd(acc[i][j]);
  }

  // The weight gradient's work split: (image, row block) items in a fixed number of groups, each
  // group summing into its own partial buffer of `total` floats, body(out, n, oh0, rows) per item
  // (the caller adds the partials in group order: deterministic for any thread count).
  template <class Body>
  static std::vector<float> weight_grad_groups(const Conv2dShape& p, int64_t rb, int64_t total, const Body& body) {
    const int64_t blocks = ceil_div(p.OH(), rb), items = p.N * blocks;
    const int64_t groups = std::min<int64_t>(items, 16);
    std::vector<float> partial(size_t(groups * total), 0.f);
    parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g)
        for (int64_t it = g * items / groups; it < (g + 1) * items / groups; ++it) {
          const int64_t n = it / blocks, oh0 = (it % blocks) * rb;
          body(partial.data() + g * total, n, oh0, std::min(rb, p.OH() - oh0));
        }
    });
    return partial;
  }

  // Few taps (CRS small, e.g. a 1-channel first layer): a dot-product kernel, 8 x 3 tiles
  // vectorized along pixels, beats transposing dy for so little reuse.
  template <class T>
  static void backward_weight_dot(const Conv2dShape& p, const T* x, const T* dy, float* dw) {
    const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, CRS = p.C * p.R * p.S;
    const int64_t rb = rows_per_block(p, OH, OW, env_or("LAI_BWPIX", 2048), p.C);
    const Tile geo = tile_geometry(p, rb, OW, p.C);
    std::vector<int64_t> off;
    offsets(p, geo, off);
    const int64_t total = p.K * CRS;
    constexpr int KT = 8, CT = 3;
    const int64_t Qp = round_up(rb * geo.Wp, W);
    const std::vector<float> partial = weight_grad_groups(p, rb, total, [&](float* out, int64_t n, int64_t oh0, int64_t rows) {
      float* tile = scratch(2, size_t(geo.floats));
      float* dyp = scratch(3, size_t(p.K * Qp));
      fill_tile(p, x + n * p.C * p.H * p.W, oh0, geo, tile);
      // dy in the padded tile's pixel order q = r * Wp + ow, zero in the pad columns and up to
      // a whole vector: every dot product runs over full vectors (no scalar row tails).
      const T* dys = dy + n * p.K * P + oh0 * OW;
      for (int64_t k = 0; k < p.K; ++k) {
        float* d = dyp + k * Qp;
        std::fill(d, d + Qp, 0.f);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = 0; o < OW; ++o) d[r * geo.Wp + o] = to_f32(dys[k * P + r * OW + o]);
      }
      // Taps outer: the few input rows of a tap triple stay in L1 while dy streams from L2.
      for (int64_t c0 = 0; c0 < CRS; c0 += CT) {
        const int64_t cm = std::min<int64_t>(CT, CRS - c0);
        for (int64_t k0 = 0; k0 < p.K; k0 += KT) {
          const int64_t km = std::min<int64_t>(KT, p.K - k0);
          float* o = out + k0 * CRS + c0;
          if (km == KT && cm == CT) {
            dot_tile<KT, CT>(Qp, dyp + k0 * Qp, Qp, tile, off.data() + c0, o, CRS);
          } else {
            for (int64_t i = 0; i < km; ++i)
              for (int64_t j = 0; j < cm; ++j)
                dot_tile<1, 1>(Qp, dyp + (k0 + i) * Qp, Qp, tile, off.data() + c0 + j, o + i * CRS + j, CRS);
          }
        }
      }
    });
    sum_groups(total, partial, dw);
  }

  // dw[i] = sum over groups of partial[g * total + i], in group order.
  static void sum_groups(int64_t total, const std::vector<float>& partial, float* dw) {
    const int64_t groups = int64_t(partial.size()) / total;
    parallel_for(0, total, 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float s = partial[size_t(i)];
        for (int64_t g = 1; g < groups; ++g) s += partial[size_t(g * total + i)];
        dw[i] = s;
      }
    });
  }

  // Weight gradient as a GEMM per row block: dW^T[crs][k] += sum_p tile[off[crs] + p] * dyT[p][k].
  // A rows are read in place from the padded tile (broadcasts, no packing); dy is transposed once
  // per block into dyT [pixels][Kp] (K * pixels floats, reused by every tap). The pixel sum is the
  // micro-kernel's inner loop, so no horizontal reductions. NV (vectors across K) is picked to
  // waste the least padding on K.
  template <int NV, class T>
  static void backward_weight_gemm(const Conv2dShape& p, const T* x, const T* dy, float* dw) {
    using U = XsimdUK<Arch, 6, NV>;
    constexpr int NRb = U::NR;
    const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, CRS = p.C * p.R * p.S;
    const int64_t Kp = round_up(p.K, NRb);
    const int64_t rb = rows_per_block(p, OH, OW, env_or("LAI_BWPIX", 2048), p.C);
    const Tile geo = tile_geometry(p, rb, OW, p.C);
    std::vector<int64_t> off;
    offsets(p, geo, off);
    const int64_t total = CRS * Kp;
    const std::vector<float> partial = weight_grad_groups(p, rb, total, [&](float* out, int64_t n, int64_t oh0, int64_t rows) {
      float* tile = scratch(2, size_t(geo.floats));
      float* dyt = scratch(3, size_t(rb * geo.Wp * Kp));
      fill_tile(p, x + n * p.C * p.H * p.W, oh0, geo, tile);
      const T* dyn = dy + n * p.K * P + oh0 * OW;
      // dy^T in the padded tile's pixel order q = r * Wp + ow, zero in the pad columns: then
      // tap (c, r, s) is tile[off + q] for every q and one GEMM runs over the whole block
      // (k = q), not one short GEMM per output row (14 steps per call at 14x14).
      const int64_t Q = (rows - 1) * geo.Wp + OW;
      for (int64_t r = 0; r < rows; ++r) {
        float* dr = dyt + r * geo.Wp * Kp;
        for (int64_t o0 = 0; o0 < OW; o0 += 64) {  // transpose in 64-pixel strips (cache friendly)
          const int64_t o1 = std::min(OW, o0 + 64);
          for (int64_t k = 0; k < p.K; ++k) {
            const T* src = dyn + k * P + r * OW;
            for (int64_t o = o0; o < o1; ++o) dr[o * Kp + k] = to_f32(src[o]);
          }
          for (int64_t o = o0; o < o1; ++o) std::fill(dr + o * Kp + p.K, dr + (o + 1) * Kp, 0.f);
        }
        if (r + 1 < rows) std::fill(dr + OW * Kp, dr + geo.Wp * Kp, 0.f);  // pad columns
      }
      for (int64_t c0 = 0; c0 < CRS; c0 += U::MR) {
        const int m = int(std::min<int64_t>(U::MR, CRS - c0));
        const typename U::RowsA al{tile, off.data() + c0};
        for (int64_t jr = 0; jr < Kp; jr += NRb)
          U::rows_of(m, Q, al, typename U::StridedB{dyt + jr, Kp}, out + c0 * Kp + jr, Kp, true);
      }
    });
    sum_groups_transposed(p, Kp, partial, dw);
  }
  // dw[k][crs] = sum over groups of partial[g][crs][k] (rows of Kp), in group order.
  static void sum_groups_transposed(const Conv2dShape& p, int64_t Kp, const std::vector<float>& partial, float* dw) {
    const int64_t CRS = p.C * p.R * p.S, total = CRS * Kp, groups = int64_t(partial.size()) / total;
    parallel_for(0, p.K, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k)
        for (int64_t crs = 0; crs < CRS; ++crs) {
          float s = partial[size_t(crs * Kp + k)];
          for (int64_t g = 1; g < groups; ++g) s += partial[size_t(g * total + crs * Kp + k)];
          dw[k * CRS + crs] = s;
        }
    });
  }

  // Stride 1, K * CRS > 0 and N * P > 0: the dot kernel for few taps, else the GEMM.
  template <class T>
  static void backward_weight_direct(const Conv2dShape& p, const T* x, const T* dy, float* dw) {
    if (p.C * p.R * p.S < 24) return backward_weight_dot(p, x, dy, dw);
    if constexpr (W == 16) {  // 24 zmm accumulators: 6 x (4|3|2) vectors
      const int64_t w4 = round_up(p.K, 64), w3 = round_up(p.K, 48), w2 = round_up(p.K, 32);
      if (w4 <= w3 && w4 <= w2) return backward_weight_gemm<4>(p, x, dy, dw);
      if (w3 <= w2) return backward_weight_gemm<3>(p, x, dy, dw);
      return backward_weight_gemm<2>(p, x, dy, dw);
    } else {  // 16 registers: 6 x 2 vectors
      return backward_weight_gemm<2>(p, x, dy, dw);
    }
  }

  static void backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                              float* dbias) {
    if (p.stride_h != 1 || p.stride_w != 1) return ConvImpl<UK>::backward_weight(p, x, dy, dw, dbias);
    const int64_t P = p.OH() * p.OW(), CRS = p.C * p.R * p.S;
    if (dbias) {
      parallel_for(0, p.K, 1, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
          double acc = 0;
          for (int64_t n = 0; n < p.N; ++n) acc += UK::sum(P, dy + (n * p.K + k) * P);
          dbias[k] = static_cast<float>(acc);
        }
      });
    }
    if (p.K * CRS == 0) return;
    if (p.N * P == 0) {  // nothing to sum over
      std::fill(dw, dw + p.K * CRS, 0.f);
      return;
    }
    backward_weight_direct(p, x, dy, dw);
  }
  static void backward_weight_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* dy, float* dw) {
    const int64_t P = p.OH() * p.OW(), CRS = p.C * p.R * p.S;
    if (p.K * CRS == 0) return;
    if (p.N * P == 0) return std::fill(dw, dw + p.K * CRS, 0.f);
    if (p.stride_h != 1 || p.stride_w != 1) {
      const std::vector<float> xf = widen(p.N * p.C * p.H * p.W, x), dyf = widen(p.N * p.K * P, dy);
      return ConvImpl<UK>::backward_weight(p, xf.data(), dyf.data(), dw, nullptr);
    }
    backward_weight_direct(p, x, dy, dw);
  }
};

}  // namespace liteai::kernels::detail
