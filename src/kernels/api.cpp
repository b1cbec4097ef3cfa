// Public entry points of kernels.hpp: argument checks, splitting of large element-wise work
// over threads, then the table of the active ISA (detail.hpp).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdlib>
#include <new>
#include <vector>

#include "kernels/detail.hpp"
#include "kernels/kernels.hpp"
#include "kernels/ref.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/storage.hpp"

namespace liteai::kernels {
namespace detail {

const Table& table_for(Isa isa) {
  switch (isa) {
    case Isa::avx512bf16: return table_avx512bf16();
    case Isa::avx512: return table_avx512();
    case Isa::avx2: return table_avx2();
    case Isa::sse: return table_sse();
    default: return table_scalar();
  }
}

float* scratch(int slot, size_t floats) {
  struct Buf {
    float* p = nullptr;
    size_t n = 0;
    size_t bytes = 0;
    ~Buf() { release(); }
    void release() {
      std::free(p);
      memory_track(MemoryCategory::workspace, -static_cast<int64_t>(bytes));
      p = nullptr;
      n = bytes = 0;
    }
  };
  thread_local Buf bufs[4];
  Buf& b = bufs[slot];
  if (b.n < floats) {
    b.release();
    const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    b.p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!b.p) throw std::bad_alloc();
    b.n = floats;
    b.bytes = bytes;
    memory_track(MemoryCategory::workspace, static_cast<int64_t>(bytes));
  }
  return b.p;
}

}  // namespace detail

using detail::active_table;

namespace {
// Element-wise work below this many floats stays on the calling thread.
constexpr int64_t kEltGrain = 1 << 15;

template <class F>
void split(int64_t n, F f) {
  if (n <= kEltGrain) {
    if (n > 0) f(int64_t(0), n);
    return;
  }
  parallel_for(0, n, kEltGrain, [&](int64_t b, int64_t e) { f(b, e); });
}

void check_conv(const Conv2dShape& p, const char* op) {
  LAI_CHECK(p.N >= 0 && p.C >= 0 && p.H >= 0 && p.W >= 0 && p.K >= 0, op, ": negative size N=", p.N,
            " C=", p.C, " H=", p.H, " W=", p.W, " K=", p.K);
  LAI_CHECK(p.R > 0 && p.S > 0, op, ": kernel must be at least 1x1, got ", p.R, "x", p.S);
  LAI_CHECK(p.stride_h > 0 && p.stride_w > 0, op, ": stride must be positive, got ", p.stride_h, "x",
            p.stride_w);
  LAI_CHECK(p.dil_h > 0 && p.dil_w > 0, op, ": dilation must be positive, got ", p.dil_h, "x", p.dil_w);
  LAI_CHECK(p.pad_h >= 0 && p.pad_w >= 0, op, ": padding must be >= 0, got ", p.pad_h, "x", p.pad_w);
  LAI_CHECK(p.OH() > 0 && p.OW() > 0, op, ": kernel ", p.R, "x", p.S, " (dilation ", p.dil_h, "x",
            p.dil_w, ") does not fit input ", p.H, "x", p.W, " with padding ", p.pad_h, "x", p.pad_w);
}

void check_pool(const Pool2dShape& p, const char* op) {
  LAI_CHECK(p.N >= 0 && p.C >= 0 && p.H >= 0 && p.W >= 0, op, ": negative size");
  LAI_CHECK(p.kh > 0 && p.kw > 0 && p.sh > 0 && p.sw > 0, op, ": window ", p.kh, "x", p.kw,
            " and stride ", p.sh, "x", p.sw, " must be positive");
  LAI_CHECK(p.kh <= p.H && p.kw <= p.W, op, ": window ", p.kh, "x", p.kw, " larger than input ", p.H,
            "x", p.W);
  LAI_CHECK(p.H * p.W <= INT32_MAX, op, ": plane of ", p.H, "x", p.W, " too large for int32 argmax");
}
}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  LAI_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  LAI_CHECK(ldc >= N, "sgemm: ldc=", ldc, " < N=", N);
  LAI_CHECK(lda >= (ta ? M : K) && ldb >= (tb ? K : N), "sgemm: lda=", lda, " or ldb=", ldb,
            " too small for M=", M, " N=", N, " K=", K);
  active_table().sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_bf16b(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const uint16_t* B, int64_t ldb,
                 float* C, int64_t ldc) {
  LAI_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm_bf16b: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  LAI_CHECK(ldc >= N && lda >= K && ldb >= N, "sgemm_bf16b: lda=", lda, " ldb=", ldb, " or ldc=", ldc,
            " too small for M=", M, " N=", N, " K=", K);
  active_table().sgemm_bf16b(M, N, K, A, lda, B, ldb, C, ldc);
}

void conv2d_forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                    float* y, Act act) {
  check_conv(p, "conv2d_forward");
  if (p.N == 0 || p.K == 0) return;
  active_table().conv2d_forward(p, x, w, bias, y, act);
}
void conv2d_forward_avgpool2(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                             float* y, Act act) {
  check_conv(p, "conv2d_forward_avgpool2");
  LAI_CHECK(p.OH() >= 2 && p.OW() >= 2, "conv2d_forward_avgpool2: output ", p.OH(), "x", p.OW(),
            " is smaller than the 2x2 pool window");
  if (p.N == 0 || p.K == 0) return;
  const detail::Table& t = detail::active_table();
  if (t.conv2d_forward_avgpool2) return t.conv2d_forward_avgpool2(p, x, w, bias, y, act);
  // Portable fallback: the full activation, then the pool.
  std::vector<float> full(size_t(p.N * p.K * p.OH() * p.OW()));
  t.conv2d_forward(p, x, w, bias, full.data(), act);
  avg_pool2d_forward(Pool2dShape{p.N, p.K, p.OH(), p.OW(), 2, 2, 2, 2}, full.data(), y);
}

void conv2d_backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx) {
  check_conv(p, "conv2d_backward_data");
  if (p.N * p.C * p.H * p.W == 0) return;
  active_table().conv2d_backward_data(p, dy, w, dx);
}
void conv2d_backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                            float* dbias) {
  check_conv(p, "conv2d_backward_weight");
  if (p.K == 0) return;
  active_table().conv2d_backward_weight(p, x, dy, dw, dbias);
}

// ---- bf16 products ----
bool bf16_dot_products() { return active_table().bf16_dot; }

void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  LAI_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm_bf16: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  LAI_CHECK(ldc >= N, "gemm_bf16: ldc=", ldc, " < N=", N);
  LAI_CHECK(lda >= (ta ? M : K) && ldb >= (tb ? K : N), "gemm_bf16: lda=", lda, " or ldb=", ldb,
            " too small for M=", M, " N=", N, " K=", K);
  active_table().gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

namespace {
// The tables without bf16 convolutions (scalar) widen whole operands into the fp32 kernels.
std::vector<float> widened(int64_t n, const uint16_t* x) {
  std::vector<float> out(static_cast<size_t>(n));
  bf16_to_f32(n, x, out.data());
  return out;
}
int64_t weight_size(const Conv2dShape& p) { return p.K * p.C * p.R * p.S; }
}  // namespace

void conv2d_forward_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                         Act act) {
  check_conv(p, "conv2d_forward_bf16");
  if (p.N == 0 || p.K == 0) return;
  const detail::Table& t = active_table();
  if (t.conv2d_forward_bf16) return t.conv2d_forward_bf16(p, x, w, bias, y, act);
  conv2d_forward(p, widened(p.N * p.C * p.H * p.W, x).data(), widened(weight_size(p), w).data(), bias, y, act);
}
void conv2d_forward_avgpool2_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* w, const float* bias,
                                  float* y, Act act) {
  check_conv(p, "conv2d_forward_avgpool2_bf16");
  LAI_CHECK(p.OH() >= 2 && p.OW() >= 2, "conv2d_forward_avgpool2_bf16: output ", p.OH(), "x", p.OW(),
            " is smaller than the 2x2 pool window");
  if (p.N == 0 || p.K == 0) return;
  const detail::Table& t = active_table();
  if (t.conv2d_forward_avgpool2_bf16) return t.conv2d_forward_avgpool2_bf16(p, x, w, bias, y, act);
  conv2d_forward_avgpool2(p, widened(p.N * p.C * p.H * p.W, x).data(), widened(weight_size(p), w).data(), bias, y,
                          act);
}
void conv2d_backward_data_bf16(const Conv2dShape& p, const uint16_t* dy, const uint16_t* w, float* dx) {
  check_conv(p, "conv2d_backward_data_bf16");
  if (p.N * p.C * p.H * p.W == 0) return;
  const detail::Table& t = active_table();
  if (t.conv2d_backward_data_bf16) return t.conv2d_backward_data_bf16(p, dy, w, dx);
  conv2d_backward_data(p, widened(p.N * p.K * p.OH() * p.OW(), dy).data(), widened(weight_size(p), w).data(), dx);
}
void conv2d_backward_weight_bf16(const Conv2dShape& p, const uint16_t* x, const uint16_t* dy, float* dw) {
  check_conv(p, "conv2d_backward_weight_bf16");
  if (p.K == 0) return;
  const detail::Table& t = active_table();
  if (t.conv2d_backward_weight_bf16) return t.conv2d_backward_weight_bf16(p, x, dy, dw);
  conv2d_backward_weight(p, widened(p.N * p.C * p.H * p.W, x).data(), widened(p.N * p.K * p.OH() * p.OW(), dy).data(),
                         dw, nullptr);
}

void bias_grad(int64_t N, int64_t K, int64_t P, const float* dy, float* db) {
  LAI_CHECK(N >= 0 && K >= 0 && P >= 0, "bias_grad: negative size N=", N, " K=", K, " P=", P);
  const auto sum = active_table().vsum;
  parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double acc = 0;
      for (int64_t n = 0; n < N; ++n) acc += P > 0 ? sum(P, dy + (n * K + k) * P) : 0.0;
      db[k] = static_cast<float>(acc);
    }
  });
}

// ---- pooling: memory bound; plain loops split over planes ----
// The 2x2 stride-2 window (the compact net's pooling) gets straight-line loops.
static bool is_2x2s2(const Pool2dShape& p) { return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2; }

void avg_pool2d_forward(const Pool2dShape& p, const float* x, float* y) {
  check_pool(p, "avg_pool2d_forward");
  const int64_t OH = p.OH(), OW = p.OW(), HW = p.H * p.W;
  const float inv = 1.f / float(p.kh * p.kw);
  if (is_2x2s2(p)) {
    parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc)
        for (int64_t oh = 0; oh < OH; ++oh) {
          const float* r0 = x + nc * HW + 2 * oh * p.W;
          const float* r1 = r0 + p.W;
          float* yr = y + (nc * OH + oh) * OW;
          for (int64_t ow = 0; ow < OW; ++ow)
            yr[ow] = ((r0[2 * ow] + r0[2 * ow + 1]) + (r1[2 * ow] + r1[2 * ow + 1])) * 0.25f;
        }
    });
    return;
  }
  parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x + nc * HW;
      float* yp = y + nc * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* yr = yp + oh * OW;
        std::fill(yr, yr + OW, 0.f);
        for (int64_t i = 0; i < p.kh; ++i) {
          const float* xr = xp + (oh * p.sh + i) * p.W;
          for (int64_t j = 0; j < p.kw; ++j)
            for (int64_t ow = 0; ow < OW; ++ow) yr[ow] += xr[ow * p.sw + j];
        }
        for (int64_t ow = 0; ow < OW; ++ow) yr[ow] *= inv;
      }
    }
  });
}

void avg_pool2d_backward(const Pool2dShape& p, const float* dy, float* dx) {
  check_pool(p, "avg_pool2d_backward");
  const int64_t OH = p.OH(), OW = p.OW(), HW = p.H * p.W;
  const float inv = 1.f / float(p.kh * p.kw);
  if (is_2x2s2(p)) {  // disjoint windows: every dx element written once (odd edges zeroed)
    parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        float* xp = dx + nc * HW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const float* g = dy + (nc * OH + oh) * OW;
          float* r0 = xp + 2 * oh * p.W;
          float* r1 = r0 + p.W;
          for (int64_t ow = 0; ow < OW; ++ow) {
            const float v = g[ow] * 0.25f;
            r0[2 * ow] = v, r0[2 * ow + 1] = v, r1[2 * ow] = v, r1[2 * ow + 1] = v;
          }
          for (int64_t w = 2 * OW; w < p.W; ++w) r0[w] = 0.f, r1[w] = 0.f;
        }
        for (int64_t h = 2 * OH; h < p.H; ++h) std::fill(xp + h * p.W, xp + (h + 1) * p.W, 0.f);
      }
    });
    return;
  }
  parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      float* xp = dx + nc * HW;
      const float* yp = dy + nc * OH * OW;
      std::fill(xp, xp + HW, 0.f);
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t i = 0; i < p.kh; ++i) {
          float* xr = xp + (oh * p.sh + i) * p.W;
          for (int64_t j = 0; j < p.kw; ++j)
            for (int64_t ow = 0; ow < OW; ++ow) xr[ow * p.sw + j] += yp[oh * OW + ow] * inv;
        }
    }
  });
}

void max_pool2d_forward(const Pool2dShape& p, const float* x, float* y, int32_t* argmax) {
  check_pool(p, "max_pool2d_forward");
  const int64_t OH = p.OH(), OW = p.OW(), HW = p.H * p.W;
  if (is_2x2s2(p)) {
    const auto row = detail::active_table().max_pool2x2_row;
    parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc)
        for (int64_t oh = 0; oh < OH; ++oh) {
          const float* r0 = x + nc * HW + 2 * oh * p.W;
          const float* r1 = r0 + p.W;
          float* yr = y + (nc * OH + oh) * OW;
          int32_t* ar = argmax ? argmax + (nc * OH + oh) * OW : nullptr;
          const int32_t i0 = static_cast<int32_t>(2 * oh * p.W), i1 = static_cast<int32_t>(i0 + p.W);
          row(OW, r0, r1, yr, ar, i0, i1);
        }
    });
    return;
  }
  parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x + nc * HW;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t bi = oh * p.sh * p.W + ow * p.sw;
          float best = xp[bi];
          for (int64_t i = 0; i < p.kh; ++i)
            for (int64_t j = 0; j < p.kw; ++j) {
              const int64_t idx = (oh * p.sh + i) * p.W + ow * p.sw + j;
              const float v = xp[idx];
              // First maximum wins; a NaN is taken and kept so it propagates.
              if (v > best || (v != v && best == best)) best = v, bi = idx;
            }
          y[nc * OH * OW + oh * OW + ow] = best;
          if (argmax) argmax[nc * OH * OW + oh * OW + ow] = static_cast<int32_t>(bi);
        }
    }
  });
}

void max_pool2d_backward(const Pool2dShape& p, const float* dy, const int32_t* argmax, float* dx) {
  check_pool(p, "max_pool2d_backward");
  LAI_CHECK(argmax != nullptr, "max_pool2d_backward: argmax is null");
  const int64_t OH = p.OH(), OW = p.OW(), HW = p.H * p.W;
  parallel_for(0, p.N * p.C, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, HW)), [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      float* xp = dx + nc * HW;
      std::fill(xp, xp + HW, 0.f);
      const int32_t* am = argmax + nc * OH * OW;
      const float* g = dy + nc * OH * OW;
      for (int64_t o = 0; o < OH * OW; ++o) {
        LAI_CHECK(am[o] >= 0 && am[o] < HW, "max_pool2d_backward: argmax ", am[o], " outside plane of ", HW);
        xp[am[o]] += g[o];
      }
    }
  });
}

// ---- element-wise ----
#define LAI_ELT2(name)                                                               \
  void name(int64_t n, const float* a, const float* b, float* y) {                   \
    const auto f = active_table().name;                                              \
    split(n, [&](int64_t s, int64_t e) { f(e - s, a + s, b + s, y + s); });          \
  }
#define LAI_ELT1(name)                                                               \
  void name(int64_t n, const float* x, float* y) {                                   \
    const auto f = active_table().name;                                              \
    split(n, [&](int64_t s, int64_t e) { f(e - s, x + s, y + s); });                 \
  }
LAI_ELT2(vadd)
LAI_ELT2(vsub)
LAI_ELT2(vmul)
LAI_ELT2(vdiv)
LAI_ELT1(vexp)
LAI_ELT1(vlog)
LAI_ELT1(vsigmoid)
LAI_ELT1(vtanh)
LAI_ELT1(vrelu)
LAI_ELT1(vswish)
#undef LAI_ELT1
#undef LAI_ELT2

void vscale(int64_t n, float alpha, const float* x, float* y) {
  const auto f = active_table().vscale;
  split(n, [&](int64_t s, int64_t e) { f(e - s, alpha, x + s, y + s); });
}
void vswish_save_bf16(int64_t n, float* x, uint16_t* saved) {
  const detail::Table& t = detail::active_table();
  split(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i += 4096) {  // chunks that stay in L1 between the two passes
      const int64_t c = std::min<int64_t>(4096, e - i);
      t.f32_to_bf16(c, x + i, saved + i);
      t.vswish(c, x + i, x + i);
    }
  });
}

void vswish_backward_bf16(int64_t n, const uint16_t* saved, const float* dy, float* dx) {
  const detail::Table& t = detail::active_table();
  split(n, [&](int64_t b, int64_t e) {
    float* z = detail::scratch(0, 4096);
    for (int64_t i = b; i < e; i += 4096) {
      const int64_t c = std::min<int64_t>(4096, e - i);
      t.bf16_to_f32(c, saved + i, z);
      t.vswish_backward(c, z, dy + i, dx + i);
    }
  });
}

void adam_update(int64_t n, const AdamStep& s, const float* g, float* w, float* m, float* v) {
  const auto f = detail::active_table().adam_update;
  split(n, [&](int64_t b, int64_t e) { f(e - b, s, g + b, w + b, m + b, v + b); });
}

void vaxpy(int64_t n, float alpha, const float* x, float* y) {
  const auto f = active_table().vaxpy;
  split(n, [&](int64_t s, int64_t e) { f(e - s, alpha, x + s, y + s); });
}
void vswish_backward(int64_t n, const float* x, const float* dy, float* dx) {
  const auto f = active_table().vswish_backward;
  split(n, [&](int64_t s, int64_t e) { f(e - s, x + s, dy + s, dx + s); });
}
void vrelu_backward(int64_t n, const float* y, const float* dy, float* dx) {
  const auto f = active_table().vrelu_backward;
  split(n, [&](int64_t s, int64_t e) { f(e - s, y + s, dy + s, dx + s); });
}
// Reductions stay on one thread: their result must not depend on the thread count.
double vsum(int64_t n, const float* x) { return n > 0 ? active_table().vsum(n, x) : 0.0; }
float vdot(int64_t n, const float* a, const float* b) {
  return n > 0 ? static_cast<float>(active_table().vdot(n, a, b)) : 0.f;
}
void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) {
  LAI_CHECK(rows >= 0 && cols >= 0, "softmax_rows: negative size ", rows, "x", cols);
  const auto f = active_table().softmax_rows;
  parallel_for(0, rows, std::max<int64_t>(1, kEltGrain / std::max<int64_t>(1, cols)),
               [&](int64_t b, int64_t e) { f(e - b, cols, x + b * cols, y + b * cols); });
}
void log_softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) {
  LAI_CHECK(rows >= 0 && cols >= 0, "log_softmax_rows: negative size ", rows, "x", cols);
  const auto f = active_table().log_softmax_rows;
  parallel_for(0, rows, std::max<int64_t>(1, kEltGrain / std::max<int64_t>(1, cols)),
               [&](int64_t b, int64_t e) { f(e - b, cols, x + b * cols, y + b * cols); });
}
bool all_finite(int64_t n, const float* x) {
  // Finite floats have an exponent below all ones; NaN and infinities set every exponent bit. A
  // sum over |x| would overflow on large finite values, so test the bits, a block at a time.
  std::atomic<bool> ok{true};
  split(n, [&](int64_t b, int64_t e) {
    uint32_t worst = 0;
    for (int64_t i = b; i < e && ok.load(std::memory_order_relaxed); i += 4096) {
      const int64_t c = std::min<int64_t>(4096, e - i);
      for (int64_t j = 0; j < c; ++j) {
        uint32_t u;
        std::memcpy(&u, x + i + j, 4);
        worst = std::max(worst, u & 0x7f800000u);
      }
      if (worst == 0x7f800000u) ok.store(false, std::memory_order_relaxed);
    }
  });
  return ok.load();
}

void f32_to_bf16(int64_t n, const float* x, uint16_t* y) {
  const auto f = active_table().f32_to_bf16;
  split(n, [&](int64_t s, int64_t e) { f(e - s, x + s, y + s); });
}
void bf16_to_f32(int64_t n, const uint16_t* x, float* y) {
  const auto f = active_table().bf16_to_f32;
  split(n, [&](int64_t s, int64_t e) { f(e - s, x + s, y + s); });
}

}  // namespace liteai::kernels
