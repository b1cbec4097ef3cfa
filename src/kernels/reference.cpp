// Naive reference kernels: the definition of correct. Slow on purpose (plain loops, doubles).
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ref.hpp"

namespace liteai::kernels::ref {

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[k * lda + i] : A[i * lda + k];
        const double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      const double prev = beta == 0.f ? 0.0 : double(beta) * C[i * ldc + j];
      C[i * ldc + j] = static_cast<float>(double(alpha) * acc + prev);
    }
}

float apply_act(float v, Act act) {
  switch (act) {
    case Act::relu: return v > 0.f ? v : 0.f;
    case Act::swish: return v / (1.f + std::exp(-v));
    default: return v;
  }
}

void conv2d_forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                    float* y, Act act) {
  const int64_t OH = p.OH(), OW = p.OW();
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = bias ? bias[k] : 0.0;
          for (int64_t c = 0; c < p.C; ++c)
            for (int64_t r = 0; r < p.R; ++r) {
              const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                acc += double(x[((n * p.C + c) * p.H + ih) * p.W + iw]) *
                       w[((k * p.C + c) * p.R + r) * p.S + s];
              }
            }
          y[((n * p.K + k) * OH + oh) * OW + ow] = apply_act(static_cast<float>(acc), act);
        }
}

void conv2d_backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx) {
  const int64_t OH = p.OH(), OW = p.OW();
  // Gather form: each dx element sums the dy elements it contributed to, in double.
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw) {
          double acc = 0;
          for (int64_t r = 0; r < p.R; ++r) {
            const int64_t th = ih + p.pad_h - r * p.dil_h;
            if (th < 0 || th % p.stride_h) continue;
            const int64_t oh = th / p.stride_h;
            if (oh >= OH) continue;
            for (int64_t s = 0; s < p.S; ++s) {
              const int64_t tw = iw + p.pad_w - s * p.dil_w;
              if (tw < 0 || tw % p.stride_w) continue;
              const int64_t ow = tw / p.stride_w;
              if (ow >= OW) continue;
              for (int64_t k = 0; k < p.K; ++k)
                acc += double(dy[((n * p.K + k) * OH + oh) * OW + ow]) *
                       w[((k * p.C + c) * p.R + r) * p.S + s];
            }
          }
          dx[((n * p.C + c) * p.H + ih) * p.W + iw] = static_cast<float>(acc);
        }
}

void conv2d_backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                            float* dbias) {
  const int64_t OH = p.OH(), OW = p.OW();
  for (int64_t k = 0; k < p.K; ++k) {
    if (dbias) {
      double acc = 0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < OH * OW; ++i) acc += dy[(n * p.K + k) * OH * OW + i];
      dbias[k] = static_cast<float>(acc);
    }
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s) {
          double acc = 0;
          for (int64_t n = 0; n < p.N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
                if (iw < 0 || iw >= p.W) continue;
                acc += double(x[((n * p.C + c) * p.H + ih) * p.W + iw]) *
                       dy[((n * p.K + k) * OH + oh) * OW + ow];
              }
            }
          dw[((k * p.C + c) * p.R + r) * p.S + s] = static_cast<float>(acc);
        }
  }
}

void avg_pool2d_forward(const Pool2dShape& p, const float* x, float* y) {
  const int64_t OH = p.OH(), OW = p.OW();
  const double inv = 1.0 / double(p.kh * p.kw);
  for (int64_t nc = 0; nc < p.N * p.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double acc = 0;
        for (int64_t i = 0; i < p.kh; ++i)
          for (int64_t j = 0; j < p.kw; ++j)
            acc += x[(nc * p.H + oh * p.sh + i) * p.W + ow * p.sw + j];
        y[(nc * OH + oh) * OW + ow] = static_cast<float>(acc * inv);
      }
}

void avg_pool2d_backward(const Pool2dShape& p, const float* dy, float* dx) {
  const int64_t OH = p.OH(), OW = p.OW();
  const float inv = 1.f / float(p.kh * p.kw);
  std::memset(dx, 0, sizeof(float) * p.N * p.C * p.H * p.W);
  for (int64_t nc = 0; nc < p.N * p.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float g = dy[(nc * OH + oh) * OW + ow] * inv;
        for (int64_t i = 0; i < p.kh; ++i)
          for (int64_t j = 0; j < p.kw; ++j) dx[(nc * p.H + oh * p.sh + i) * p.W + ow * p.sw + j] += g;
      }
}

void max_pool2d_forward(const Pool2dShape& p, const float* x, float* y, int32_t* argmax) {
  const int64_t OH = p.OH(), OW = p.OW();
  for (int64_t nc = 0; nc < p.N * p.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        int64_t bi = (oh * p.sh) * p.W + ow * p.sw;
        bool have = false;
        for (int64_t i = 0; i < p.kh; ++i)
          for (int64_t j = 0; j < p.kw; ++j) {
            const int64_t idx = (oh * p.sh + i) * p.W + ow * p.sw + j;
            const float v = x[nc * p.H * p.W + idx];
            // First maximum wins; a NaN is taken (and kept) so it propagates.
            if (have && (std::isnan(best) || !(v > best || std::isnan(v)))) continue;
            best = v, bi = idx, have = true;
          }
        y[(nc * OH + oh) * OW + ow] = best;
        if (argmax) argmax[(nc * OH + oh) * OW + ow] = static_cast<int32_t>(bi);
      }
}

void max_pool2d_backward(const Pool2dShape& p, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t OH = p.OH(), OW = p.OW(), HW = p.H * p.W;
  std::memset(dx, 0, sizeof(float) * p.N * p.C * HW);
  for (int64_t nc = 0; nc < p.N * p.C; ++nc)
    for (int64_t o = 0; o < OH * OW; ++o) dx[nc * HW + argmax[nc * OH * OW + o]] += dy[nc * OH * OW + o];
}

void vadd(int64_t n, const float* a, const float* b, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i]; }
void vsub(int64_t n, const float* a, const float* b, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i]; }
void vmul(int64_t n, const float* a, const float* b, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i]; }
void vdiv(int64_t n, const float* a, const float* b, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i]; }
void vscale(int64_t n, float alpha, const float* x, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i]; }
void vaxpy(int64_t n, float alpha, const float* x, float* y) { for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i]; }
void vexp(int64_t n, const float* x, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]); }
void vlog(int64_t n, const float* x, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]); }
void vsigmoid(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(1.0 / (1.0 + std::exp(-double(x[i]))));
}
void vtanh(int64_t n, const float* x, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]); }
void vrelu(int64_t n, const float* x, float* y) { for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f; }
void vswish(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] / (1.0 + std::exp(-double(x[i]))));
}
void vswish_backward(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-double(x[i])));
    dx[i] = static_cast<float>(dy[i] * (s + x[i] * s * (1.0 - s)));
  }
}
void vrelu_backward(int64_t n, const float* y, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}
double vsum(int64_t n, const float* x) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += x[i];
  return acc;
}
float vdot(int64_t n, const float* a, const float* b) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += double(a[i]) * b[i];
  return static_cast<float>(acc);
}
void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, xr[j]);
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += std::exp(double(xr[j]) - mx);
    for (int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(std::exp(double(xr[j]) - mx) / s);
  }
}
void log_softmax_rows(int64_t rows, int64_t cols, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, xr[j]);
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += std::exp(double(xr[j]) - mx);
    const double lse = std::log(s) + mx;
    for (int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(xr[j] - lse);
  }
}

// Round to nearest even; NaN stays a (quiet) NaN.
void f32_to_bf16(int64_t n, const float* x, uint16_t* y) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      y[i] = static_cast<uint16_t>((u >> 16) | 0x40u);
      continue;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    y[i] = static_cast<uint16_t>(u >> 16);
  }
}
void bf16_to_f32(int64_t n, const uint16_t* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = uint32_t(x[i]) << 16;
    std::memcpy(&y[i], &u, 4);
  }
}

void adam_update(int64_t n, const AdamStep& s, const float* g, float* w, float* m, float* v) {
  for (int64_t k = 0; k < n; ++k) {
    const float gk = g[k] + s.l2 * w[k];
    const float mk = s.beta1 * m[k] + (1.f - s.beta1) * gk;
    const float vk = s.beta2 * v[k] + ((1.f - s.beta2) * gk) * gk;
    m[k] = mk;
    v[k] = vk;
    w[k] = w[k] * s.decay - (s.lr * (mk * s.c1)) / (std::sqrt(vk) * s.c2 + s.eps);
  }
}

}  // namespace liteai::kernels::ref
