#pragma once
// The per-ISA bodies of graph_kernels.hpp: templates over a lane type L (an xsimd batch, or one
// float for the portable build), instantiated by graph_kernels_<isa>.cpp under that ISA's flags.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/graph_kernels.hpp"
#include "liteai/core/parallel.hpp"

#ifdef LITEAI_GRAPH_KERNELS_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace liteai::kernels::detail {

// Function table of one ISA (graph_kernels.cpp picks the active one).
struct GraphTable {
  void (*dw_forward)(const DwShape&, const float*, const float*, const float*, float*);
  void (*dw_backward_data)(const DwShape&, const float*, const float*, float*);
  void (*dw_backward_weight)(const DwShape&, const float*, const float*, float*, float*);
  void (*bn_stats)(int64_t, int64_t, int64_t, const float*, float*, float*);
  void (*bn_apply)(int64_t, int64_t, int64_t, const float*, const float*, const float*, float*, bool);
  void (*bn_backward)(int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*,
                      const float*, float*, float*, float*);
};
const GraphTable& graph_table_scalar();
const GraphTable& graph_table_sse();
const GraphTable& graph_table_avx2();
const GraphTable& graph_table_avx512();

// One float as a "vector" of one lane.
struct ScalarLanes {
  using B = float;
  static constexpr int W = 1;
  static B load(const float* p) { return *p; }
  static void store(float* p, B v) { *p = v; }
  static B fma(B a, B b, B c) { return a * b + c; }
  static B max(B a, B b) { return a > b ? a : b; }
  static float hsum(B v) { return v; }
};

#ifdef LITEAI_GRAPH_KERNELS_XSIMD
template <class Arch>
struct XsimdLanes {
  using B = xsimd::batch<float, Arch>;
  static constexpr int W = static_cast<int>(B::size);
  static B load(const float* p) { return B::load_unaligned(p); }
  static void store(float* p, const B& v) { v.store_unaligned(p); }
  static B fma(const B& a, const B& b, const B& c) { return xsimd::fma(a, b, c); }
  static B max(const B& a, const B& b) { return xsimd::max(a, b); }
  static float hsum(const B& v) { return xsimd::hadd(v); }
};
#endif

inline int64_t round_up_to(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// A per-thread buffer that only grows (one per use, so nested uses never share one).
template <int Slot>
float* graph_scratch(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

// ---------------- depthwise convolution ----------------
// Every input plane is first copied into a zero-padded, phase-split plane: with column stride sw,
// phase q holds the padded columns q, q + sw, q + 2 sw, ... so that every kernel tap reads (or,
// for the input gradient, writes) one contiguous run of a phase row, whatever the stride.
template <class L>
struct Dw {
  using B = typename L::B;
  static constexpr int W = L::W;
  static constexpr int U = 4;  // independent accumulators per step (FMA latency)

  struct Geo {
    int64_t Hp, Wq, OH, OW;
    std::vector<int64_t> q, off;  // per tap column s: phase and offset within the phase row
    int64_t plane() const { return Hp * Wq; }
  };
  static Geo geo(const DwShape& p) {
    Geo g;
    g.OH = p.OH(), g.OW = p.OW();
    g.Hp = p.H + p.pt + p.pb;
    int64_t reach = 0;
    for (int64_t s = 0; s < p.S; ++s) {
      g.q.push_back((s * p.dw) % p.sw);
      g.off.push_back((s * p.dw) / p.sw);
      reach = std::max(reach, g.off.back());
    }
    // Room for whole vectors past the last output, and for every padded column.
    g.Wq = std::max(round_up_to(g.OW, U * W) + reach, (p.W + p.pl + p.pr + p.sw - 1) / p.sw) + W;
    return g;
  }
  // P[(q * Hp + i) * Wq + j] = padded x[i][j * sw + q].
  static void split(const DwShape& p, const Geo& g, const float* x, float* P) {
    std::fill(P, P + p.sw * g.plane(), 0.f);
    for (int64_t h = 0; h < p.H; ++h) {
      const float* row = x + h * p.W;
      for (int64_t w = 0; w < p.W; ++w) {
        const int64_t c = w + p.pl;
        P[((c % p.sw) * g.Hp + h + p.pt) * g.Wq + c / p.sw] = row[w];
      }
    }
  }

  static void forward(const DwShape& p, const float* x, const float* w, const float* bias, float* y) {
    const Geo g = geo(p);
    const int64_t RS = p.R * p.S, K = p.K();
    parallel_for(0, p.N * p.C, 1, [&](int64_t b, int64_t e) {
      float* P = graph_scratch<0>(size_t(p.sw * g.plane()));
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t n = nc / p.C, c = nc % p.C;
        split(p, g, x + nc * p.H * p.W, P);
        for (int64_t j = 0; j < p.M; ++j) {
          const int64_t k = c * p.M + j;
          const float* wk = w + k * RS;
          float* yk = y + (n * K + k) * g.OH * g.OW;
          for (int64_t oh = 0; oh < g.OH; ++oh) row(p, g, P, wk, bias ? bias[k] : 0.f, oh, yk + oh * g.OW);
        }
      }
    });
  }
  static void row(const DwShape& p, const Geo& g, const float* P, const float* wk, float bias, int64_t oh,
                  float* out) {
    for (int64_t ow = 0; ow < g.OW; ow += U * W) {
      B acc[U];
      for (int u = 0; u < U; ++u) acc[u] = B(bias);
      for (int64_t r = 0; r < p.R; ++r) {
        const int64_t ih = oh * p.sh + r * p.dh;
        for (int64_t s = 0; s < p.S; ++s) {
          const B wv(wk[r * p.S + s]);
          const float* src = P + (g.q[size_t(s)] * g.Hp + ih) * g.Wq + g.off[size_t(s)] + ow;
          for (int u = 0; u < U; ++u) acc[u] = L::fma(wv, L::load(src + u * W), acc[u]);
        }
      }
      if (ow + U * W <= g.OW) {
        for (int u = 0; u < U; ++u) L::store(out + ow + u * W, acc[u]);
      } else {
        alignas(64) float t[U * W];
        for (int u = 0; u < U; ++u) L::store(t + u * W, acc[u]);
        std::memcpy(out + ow, t, sizeof(float) * size_t(g.OW - ow));
      }
    }
  }

  static void backward_data(const DwShape& p, const float* dy, const float* w, float* dx) {
    const Geo g = geo(p);
    const int64_t RS = p.R * p.S, K = p.K();
    parallel_for(0, p.N * p.C, 1, [&](int64_t b, int64_t e) {
      float* P = graph_scratch<0>(size_t(p.sw * g.plane()));
      float* grow = graph_scratch<1>(size_t(round_up_to(g.OW, W)));
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t n = nc / p.C, c = nc % p.C;
        std::fill(P, P + p.sw * g.plane(), 0.f);
        for (int64_t j = 0; j < p.M; ++j) {
          const int64_t k = c * p.M + j;
          const float* wk = w + k * RS;
          const float* dyk = dy + (n * K + k) * g.OH * g.OW;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            // The row padded with zeros to whole vectors: the extra lanes add 0 to the padding.
            std::memcpy(grow, dyk + oh * g.OW, sizeof(float) * size_t(g.OW));
            std::fill(grow + g.OW, grow + round_up_to(g.OW, W), 0.f);
            for (int64_t r = 0; r < p.R; ++r) {
              const int64_t ih = oh * p.sh + r * p.dh;
              for (int64_t s = 0; s < p.S; ++s) {
                const B wv(wk[r * p.S + s]);
                float* dst = P + (g.q[size_t(s)] * g.Hp + ih) * g.Wq + g.off[size_t(s)];
                for (int64_t ow = 0; ow < g.OW; ow += W) L::store(dst + ow, L::fma(wv, L::load(grow + ow), L::load(dst + ow)));
              }
            }
          }
        }
        float* dxp = dx + nc * p.H * p.W;
        for (int64_t h = 0; h < p.H; ++h)
          for (int64_t wi = 0; wi < p.W; ++wi) {
            const int64_t col = wi + p.pl;
            dxp[h * p.W + wi] = P[((col % p.sw) * g.Hp + h + p.pt) * g.Wq + col / p.sw];
          }
      }
    });
  }

  static void backward_weight(const DwShape& p, const float* x, const float* dy, float* dw, float* dbias) {
    const Geo g = geo(p);
    const int64_t RS = p.R * p.S, K = p.K(), full = g.OW / W * W;
    parallel_for(0, K, 1, [&](int64_t b, int64_t e) {
      float* P = graph_scratch<0>(size_t(p.sw * g.plane()));
      std::vector<double> acc(static_cast<size_t>(RS));
      for (int64_t k = b; k < e; ++k) {
        const int64_t c = k / p.M;
        std::fill(acc.begin(), acc.end(), 0.0);
        double db = 0;
        for (int64_t n = 0; n < p.N; ++n) {
          split(p, g, x + (n * p.C + c) * p.H * p.W, P);
          const float* dyk = dy + (n * K + k) * g.OH * g.OW;
          for (int64_t r = 0; r < p.R; ++r)
            for (int64_t s = 0; s < p.S; ++s) {
              B a0(0.f), a1(0.f);
              float tail = 0.f;
              for (int64_t oh = 0; oh < g.OH; ++oh) {
                const float* src = P + (g.q[size_t(s)] * g.Hp + oh * p.sh + r * p.dh) * g.Wq + g.off[size_t(s)];
                const float* gr = dyk + oh * g.OW;
                int64_t ow = 0;
                for (; ow + 2 * W <= full; ow += 2 * W) {
                  a0 = L::fma(L::load(gr + ow), L::load(src + ow), a0);
                  a1 = L::fma(L::load(gr + ow + W), L::load(src + ow + W), a1);
                }
                for (; ow < full; ow += W) a0 = L::fma(L::load(gr + ow), L::load(src + ow), a0);
                for (; ow < g.OW; ++ow) tail += gr[ow] * src[ow];
              }
              acc[size_t(r * p.S + s)] += double(L::hsum(a0 + a1)) + tail;
            }
          if (dbias)
            for (int64_t i = 0; i < g.OH * g.OW; ++i) db += dyk[i];
        }
        for (int64_t i = 0; i < RS; ++i) dw[k * RS + i] = static_cast<float>(acc[size_t(i)]);
        if (dbias) dbias[k] = static_cast<float>(db);
      }
    });
  }
};

// ---------------- batch normalization ----------------
template <class L>
struct Bn {
  using B = typename L::B;
  static constexpr int W = L::W;

  // sum(x) and sum((x - m)^2) of one plane: float vectors over blocks, blocks added in double.
  static double sum(int64_t n, const float* x) {
    double total = 0;
    for (int64_t i = 0; i < n;) {
      const int64_t end = std::min(n, i + 1024);
      B a(0.f);
      for (; i + W <= end; i += W) a = a + L::load(x + i);
      float s = L::hsum(a);
      for (; i < end; ++i) s += x[i];
      total += s;
    }
    return total;
  }
  static double sq_dev(int64_t n, const float* x, float m) {
    double total = 0;
    const B mv(m);
    for (int64_t i = 0; i < n;) {
      const int64_t end = std::min(n, i + 1024);
      B a(0.f);
      for (; i + W <= end; i += W) {
        const B d = L::load(x + i) - mv;
        a = L::fma(d, d, a);
      }
      float s = L::hsum(a);
      for (; i < end; ++i) s += (x[i] - m) * (x[i] - m);
      total += s;
    }
    return total;
  }
  static double dot_dev(int64_t n, const float* dy, const float* x, float m) {
    double total = 0;
    const B mv(m);
    for (int64_t i = 0; i < n;) {
      const int64_t end = std::min(n, i + 1024);
      B a(0.f);
      for (; i + W <= end; i += W) a = L::fma(L::load(dy + i), L::load(x + i) - mv, a);
      float s = L::hsum(a);
      for (; i < end; ++i) s += dy[i] * (x[i] - m);
      total += s;
    }
    return total;
  }

  static void stats(int64_t N, int64_t C, int64_t HW, const float* x, float* mean, float* var) {
    parallel_for(0, C, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) s += sum(HW, x + (n * C + c) * HW);
        const double count = double(N * HW);
        const float m = static_cast<float>(s / count);
        double v = 0;
        for (int64_t n = 0; n < N; ++n) v += sq_dev(HW, x + (n * C + c) * HW, m);
        mean[c] = m;
        var[c] = static_cast<float>(v / count);
      }
    });
  }

  static void affine(int64_t n, const float* x, float a, float b, float* y, bool relu) {
    const B av(a), bv(b), zero(0.f);
    int64_t i = 0;
    if (relu)
      for (; i + W <= n; i += W) L::store(y + i, L::max(L::fma(L::load(x + i), av, bv), zero));
    else
      for (; i + W <= n; i += W) L::store(y + i, L::fma(L::load(x + i), av, bv));
    for (; i < n; ++i) {
      const float v = x[i] * a + b;
      y[i] = relu ? (v > 0.f ? v : 0.f) : v;
    }
  }

  static void apply(int64_t N, int64_t C, int64_t HW, const float* x, const float* scale, const float* shift,
                    float* y, bool relu) {
    parallel_for(0, N * C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t c = nc % C;
        affine(HW, x + nc * HW, scale[c], shift[c], y + nc * HW, relu);
      }
    });
  }

  static void backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy, const float* mean,
                       const float* invstd, const float* gamma, float* dx, float* dgamma, float* dbeta) {
    parallel_for(0, C, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t o = (n * C + c) * HW;
          sdy += sum(HW, dy + o);
          sdyx += dot_dev(HW, dy + o, x + o, mean[c]);
        }
        const double is = invstd[c], M = double(N * HW);
        dbeta[c] = static_cast<float>(sdy);
        dgamma[c] = static_cast<float>(sdyx * is);
        if (!dx) continue;
        // dx = a dy + bx x + c0 with a = gamma invstd, bx = -gamma invstd^3 sdyx / M,
        // c0 = -a sdy / M - bx mean.
        const double a = double(gamma[c]) * is, bx = -double(gamma[c]) * is * is * is * sdyx / M;
        const double c0 = -a * sdy / M - bx * mean[c];
        const B av(static_cast<float>(a)), bv(static_cast<float>(bx)), cv(static_cast<float>(c0));
        for (int64_t n = 0; n < N; ++n) {
          const int64_t o = (n * C + c) * HW;
          const float* g = dy + o;
          const float* xv = x + o;
          float* d = dx + o;
          int64_t i = 0;
          for (; i + W <= HW; i += W) L::store(d + i, L::fma(L::load(g + i), av, L::fma(L::load(xv + i), bv, cv)));
          for (; i < HW; ++i) d[i] = g[i] * float(a) + (xv[i] * float(bx) + float(c0));
        }
      }
    });
  }
};

template <class L>
GraphTable make_graph_table() {
  GraphTable t{};
  t.dw_forward = &Dw<L>::forward;
  t.dw_backward_data = &Dw<L>::backward_data;
  t.dw_backward_weight = &Dw<L>::backward_weight;
  t.bn_stats = &Bn<L>::stats;
  t.bn_apply = &Bn<L>::apply;
  t.bn_backward = &Bn<L>::backward;
  return t;
}

}  // namespace liteai::kernels::detail
