// Dispatch and argument checks of graph_kernels.hpp, the portable instantiation, and the
// memory-bound kernels that need no SIMD unit of their own (padded pooling, activations).
#include <limits>

#include "kernels/graph_kernels_impl.hpp"
#include "kernels/kernels.hpp"
#include "liteai/core/error.hpp"

namespace liteai::kernels {

namespace detail {
const GraphTable& graph_table_scalar() {
  static const GraphTable t = make_graph_table<ScalarLanes>();
  return t;
}
}  // namespace detail

namespace {
const detail::GraphTable& table() {
  switch (active_isa()) {
    case Isa::avx512: return detail::graph_table_avx512();
    case Isa::avx2: return detail::graph_table_avx2();
    case Isa::sse: return detail::graph_table_sse();
    default: return detail::graph_table_scalar();
  }
}

void check_dw(const DwShape& p, const char* op) {
  LAI_CHECK(p.N >= 0 && p.C >= 0 && p.H > 0 && p.W > 0 && p.M >= 1, op, ": bad sizes N=", p.N, " C=", p.C,
            " H=", p.H, " W=", p.W, " multiplier=", p.M);
  LAI_CHECK(p.R > 0 && p.S > 0 && p.sh > 0 && p.sw > 0 && p.dh > 0 && p.dw > 0, op,
            ": kernel, stride and dilation must be positive");
  LAI_CHECK(p.pt >= 0 && p.pl >= 0 && p.pb >= 0 && p.pr >= 0, op, ": padding must be >= 0");
  LAI_CHECK(p.OH() > 0 && p.OW() > 0, op, ": kernel ", p.R, "x", p.S, " does not fit input ", p.H, "x", p.W);
}

void check_pool(const PoolShape& p, const char* op) {
  LAI_CHECK(p.N >= 0 && p.C >= 0 && p.H > 0 && p.W > 0 && p.OH > 0 && p.OW > 0, op, ": bad sizes");
  LAI_CHECK(p.kh > 0 && p.kw > 0 && p.sh > 0 && p.sw > 0, op, ": window and stride must be positive");
  LAI_CHECK(p.pt >= 0 && p.pl >= 0 && p.pb >= 0 && p.pr >= 0, op, ": padding must be >= 0");
  LAI_CHECK(p.H * p.W <= std::numeric_limits<int32_t>::max(), op, ": plane too large for int32 argmax");
}

// The window of output (oh, ow) clipped to the input: [h0, h1) x [w0, w1).
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t padded_size;  // clipped to the padded input instead (count_include_pad)
};
Window window(const PoolShape& p, int64_t oh, int64_t ow) {
  const int64_t hs = oh * p.sh - p.pt, ws = ow * p.sw - p.pl;
  const int64_t he = std::min(hs + p.kh, p.H + p.pb), we = std::min(ws + p.kw, p.W + p.pr);
  return {std::max<int64_t>(hs, 0), std::min(he, p.H), std::max<int64_t>(ws, 0), std::min(we, p.W),
          (he - hs) * (we - ws)};
}

template <class F>
void over_planes(const PoolShape& p, F f) {
  const int64_t HW = p.H * p.W;
  parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) f(nc);
  });
}
}  // namespace

void dwconv2d_forward(const DwShape& p, const float* x, const float* w, const float* bias, float* y) {
  check_dw(p, "dwconv2d_forward");
  if (p.N * p.C == 0) return;
  table().dw_forward(p, x, w, bias, y);
}
void dwconv2d_backward_data(const DwShape& p, const float* dy, const float* w, float* dx) {
  check_dw(p, "dwconv2d_backward_data");
  if (p.N * p.C == 0) return;
  table().dw_backward_data(p, dy, w, dx);
}
void dwconv2d_backward_weight(const DwShape& p, const float* x, const float* dy, float* dw, float* dbias) {
  check_dw(p, "dwconv2d_backward_weight");
  if (p.C == 0) return;
  table().dw_backward_weight(p, x, dy, dw, dbias);
}

void max_pool_forward(const PoolShape& p, const float* x, float* y, int32_t* argmax) {
  check_pool(p, "max_pool_forward");
  over_planes(p, [&](int64_t nc) {
    const float* xp = x + nc * p.H * p.W;
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        const Window win = window(p, oh, ow);
        float best = -std::numeric_limits<float>::infinity();
        int64_t bi = -1;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const float v = xp[h * p.W + w];
            // First maximum wins; a NaN is taken and kept so it propagates.
            if (bi < 0 || v > best || (v != v && best == best)) best = v, bi = h * p.W + w;
          }
        const int64_t o = (nc * p.OH + oh) * p.OW + ow;
        y[o] = best;
        if (argmax) argmax[o] = static_cast<int32_t>(bi);
      }
  });
}

void max_pool_backward(const PoolShape& p, const float* dy, const int32_t* argmax, float* dx) {
  check_pool(p, "max_pool_backward");
  LAI_CHECK(argmax != nullptr, "max_pool_backward: argmax is null");
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  over_planes(p, [&](int64_t nc) {
    float* xp = dx + nc * HW;
    std::fill(xp, xp + HW, 0.f);
    for (int64_t o = 0; o < OHW; ++o) {
      const int32_t i = argmax[nc * OHW + o];
      LAI_CHECK(i >= -1 && i < HW, "max_pool_backward: argmax ", i, " outside plane of ", HW);
      if (i >= 0) xp[i] += dy[nc * OHW + o];
    }
  });
}

void avg_pool_forward(const PoolShape& p, bool count_include_pad, const float* x, float* y) {
  check_pool(p, "avg_pool_forward");
  over_planes(p, [&](int64_t nc) {
    const float* xp = x + nc * p.H * p.W;
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        const Window win = window(p, oh, ow);
        float s = 0.f;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) s += xp[h * p.W + w];
        const int64_t count = count_include_pad ? win.padded_size : (win.h1 - win.h0) * (win.w1 - win.w0);
        y[(nc * p.OH + oh) * p.OW + ow] = count > 0 ? s / float(count) : 0.f;
      }
  });
}

void avg_pool_backward(const PoolShape& p, bool count_include_pad, const float* dy, float* dx) {
  check_pool(p, "avg_pool_backward");
  over_planes(p, [&](int64_t nc) {
    float* xp = dx + nc * p.H * p.W;
    std::fill(xp, xp + p.H * p.W, 0.f);
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        const Window win = window(p, oh, ow);
        const int64_t count = count_include_pad ? win.padded_size : (win.h1 - win.h0) * (win.w1 - win.w0);
        if (count <= 0) continue;
        const float g = dy[(nc * p.OH + oh) * p.OW + ow] / float(count);
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) xp[h * p.W + w] += g;
      }
  });
}

void bn_stats(int64_t N, int64_t C, int64_t HW, const float* x, float* mean, float* var) {
  LAI_CHECK(N >= 0 && C >= 0 && HW >= 0, "bn_stats: negative size");
  LAI_CHECK(N * HW > 0, "bn_stats: no values per channel");
  table().bn_stats(N, C, HW, x, mean, var);
}
void bn_apply(int64_t N, int64_t C, int64_t HW, const float* x, const float* scale, const float* shift, float* y,
              bool relu) {
  LAI_CHECK(N >= 0 && C >= 0 && HW >= 0, "bn_apply: negative size");
  table().bn_apply(N, C, HW, x, scale, shift, y, relu);
}
void bn_backward(int64_t N, int64_t C, int64_t HW, const float* x, const float* dy, const float* mean,
                 const float* invstd, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  LAI_CHECK(N >= 0 && C >= 0 && HW >= 0, "bn_backward: negative size");
  table().bn_backward(N, C, HW, x, dy, mean, invstd, gamma, dx, dgamma, dbeta);
}

// ---- activations: branch-free loops the compiler vectorizes ----
namespace {
constexpr int64_t kGrain = 1 << 15;
template <class F>
void elementwise(int64_t n, F f) {
  if (n <= kGrain) {
    if (n > 0) f(int64_t(0), n);
    return;
  }
  parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { f(b, e); });
}
inline float clamp01(float v) { return std::min(1.f, std::max(0.f, v)); }
}  // namespace

void vhard_sigmoid(int64_t n, float alpha, float beta, const float* x, float* y) {
  elementwise(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = clamp01(alpha * x[i] + beta);
  });
}
void vhard_sigmoid_backward(int64_t n, float alpha, float beta, const float* x, const float* dy, float* dx) {
  elementwise(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float v = alpha * x[i] + beta;
      dx[i] = (v > 0.f && v < 1.f) ? dy[i] * alpha : 0.f;
    }
  });
}
void vhard_swish(int64_t n, const float* x, float* y) {
  elementwise(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] * clamp01(x[i] * (1.f / 6.f) + 0.5f);
  });
}
void vhard_swish_backward(int64_t n, const float* x, const float* dy, float* dx) {
  elementwise(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float v = x[i] * (1.f / 6.f) + 0.5f;
      const float d = v <= 0.f ? 0.f : (v >= 1.f ? 1.f : v + x[i] * (1.f / 6.f));
      dx[i] = dy[i] * d;
    }
  });
}
void vleaky_relu(int64_t n, float alpha, const float* x, float* y) {
  elementwise(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] >= 0.f ? x[i] : alpha * x[i];
  });
}
void vleaky_relu_backward(int64_t n, float alpha, const float* x, const float* dy, float* dx) {
  elementwise(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = x[i] >= 0.f ? dy[i] : alpha * dy[i];
  });
}

// ---- naive references ----
namespace ref {
namespace {
// Input element read by output (oh, ow) through tap (r, s), or -1 when it falls in the padding.
int64_t dw_input(const DwShape& p, int64_t oh, int64_t ow, int64_t r, int64_t s) {
  const int64_t ih = oh * p.sh - p.pt + r * p.dh, iw = ow * p.sw - p.pl + s * p.dw;
  return (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) ? -1 : ih * p.W + iw;
}
}  // namespace

void dwconv2d_forward(const DwShape& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t OH = p.OH(), OW = p.OW(), K = p.K();
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const float* xp = x + (n * p.C + k / p.M) * p.H * p.W;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = bias ? bias[k] : 0.0;
          for (int64_t r = 0; r < p.R; ++r)
            for (int64_t s = 0; s < p.S; ++s) {
              const int64_t i = dw_input(p, oh, ow, r, s);
              if (i >= 0) acc += double(xp[i]) * w[(k * p.R + r) * p.S + s];
            }
          y[((n * K + k) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
    }
}

void dwconv2d_backward_data(const DwShape& p, const float* dy, const float* w, float* dx) {
  const int64_t OH = p.OH(), OW = p.OW(), K = p.K();
  std::vector<double> acc(size_t(p.H * p.W));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t c = 0; c < p.C; ++c) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = c * p.M; k < (c + 1) * p.M; ++k)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow)
            for (int64_t r = 0; r < p.R; ++r)
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t i = dw_input(p, oh, ow, r, s);
                if (i >= 0) acc[size_t(i)] += double(dy[((n * K + k) * OH + oh) * OW + ow]) * w[(k * p.R + r) * p.S + s];
              }
      for (int64_t i = 0; i < p.H * p.W; ++i) dx[(n * p.C + c) * p.H * p.W + i] = static_cast<float>(acc[size_t(i)]);
    }
}

void dwconv2d_backward_weight(const DwShape& p, const float* x, const float* dy, float* dw, float* dbias) {
  const int64_t OH = p.OH(), OW = p.OW(), K = p.K();
  for (int64_t k = 0; k < K; ++k) {
    double db = 0;
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        double acc = 0;
        for (int64_t n = 0; n < p.N; ++n) {
          const float* xp = x + (n * p.C + k / p.M) * p.H * p.W;
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              const int64_t i = dw_input(p, oh, ow, r, s);
              if (i >= 0) acc += double(xp[i]) * dy[((n * K + k) * OH + oh) * OW + ow];
            }
        }
        dw[(k * p.R + r) * p.S + s] = static_cast<float>(acc);
      }
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t i = 0; i < OH * OW; ++i) db += dy[(n * K + k) * OH * OW + i];
    if (dbias) dbias[k] = static_cast<float>(db);
  }
}
}  // namespace ref

}  // namespace liteai::kernels
