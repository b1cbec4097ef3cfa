#pragma once
// Convolution as implicit GEMM on top of GemmDriver: the im2col matrix is never built whole;
// its pieces are written straight into the packed B panels (bounded by KC x NC per thread).
//   forward:         y[n] (K x P)  = W (K x CRS) * col[n] (CRS x P)       (+ bias, act)
//   backward data:   stride 1 -> a forward conv of dy with flipped, transposed weights;
//                    otherwise col tile = W^T * dy tile, scattered back (col2im) per tile.
//   backward weight: dW (K x CRS) = sum_n dy[n] (K x P) * col[n]^T, in fixed groups summed in
//                    a fixed order (deterministic for any thread count).
#include "kernels/gemm_impl.hpp"

namespace liteai::kernels::detail {

// One run of consecutive pixels inside an output row.
struct PixSeg {
  int64_t off, len, oh, ow;
};

inline int split_pixels(int64_t pix, int64_t n, int64_t OW, PixSeg* segs) {
  int count = 0;
  for (int64_t done = 0; done < n;) {
    const int64_t oh = (pix + done) / OW, ow = (pix + done) % OW;
    const int64_t len = std::min(n - done, OW - ow);
    segs[count++] = {done, len, oh, ow};
    done += len;
  }
  return count;
}

// Copies `len` input pixels of one output-row segment for kernel tap (r, s) of channel plane
// `plane` into d[0..len) (stride dstride), zero outside the image.
inline void gather_row(const Conv2dShape& p, const float* plane, const PixSeg& sg, int64_t r,
                       int64_t s, float* d, int64_t dstride) {
  const int64_t ih = sg.oh * p.stride_h - p.pad_h + r * p.dil_h;
  if (ih < 0 || ih >= p.H) {
    for (int64_t t = 0; t < sg.len; ++t) d[t * dstride] = 0.f;
    return;
  }
  const float* row = plane + ih * p.W;
  const int64_t iw0 = sg.ow * p.stride_w - p.pad_w + s * p.dil_w;
  if (p.stride_w == 1) {
    const int64_t lo = std::clamp<int64_t>(-iw0, 0, sg.len);
    const int64_t hi = std::clamp<int64_t>(p.W - iw0, lo, sg.len);
    if (dstride == 1) {
      std::fill(d, d + lo, 0.f);
      std::memcpy(d + lo, row + iw0 + lo, sizeof(float) * (hi - lo));
      std::fill(d + hi, d + sg.len, 0.f);
    } else {
      for (int64_t t = 0; t < lo; ++t) d[t * dstride] = 0.f;
      for (int64_t t = lo; t < hi; ++t) d[t * dstride] = row[iw0 + t];
      for (int64_t t = hi; t < sg.len; ++t) d[t * dstride] = 0.f;
    }
  } else {
    for (int64_t t = 0; t < sg.len; ++t) {
      const int64_t iw = iw0 + t * p.stride_w;
      d[t * dstride] = (iw >= 0 && iw < p.W) ? row[iw] : 0.f;
    }
  }
}

template <class UK>
struct ConvImpl {
  using G = GemmDriver<UK>;
  static constexpr int MR = UK::MR, NR = UK::NR;

  // B = col (CRS x P) of one image, starting at pixel pix0.
  struct Im2colPack {
    const Conv2dShape* p;
    const float* x;  // image base [C, H, W]
    int64_t pix0, OW;
    void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* dst) const {
      const int64_t RS = p->R * p->S, HW = p->H * p->W;
      PixSeg segs[NR];
      for (int64_t j = 0; j < nc; j += NR) {
        const int64_t n = std::min<int64_t>(NR, nc - j);
        const int ns = split_pixels(pix0 + j0 + j, n, OW, segs);
        for (int64_t kk = 0; kk < kc; ++kk) {
          const int64_t crs = k0 + kk, c = crs / RS, r = (crs % RS) / p->S, s = crs % p->S;
          float* d = dst + kk * NR;
          for (int g = 0; g < ns; ++g) gather_row(*p, x + c * HW, segs[g], r, s, d + segs[g].off, 1);
          for (int64_t t = n; t < NR; ++t) d[t] = 0.f;
        }
        dst += kc * NR;
      }
    }
  };

  // B = col^T (P x CRS) of one image: rows are pixels (from pix0), columns kernel taps.
  struct Im2colTPack {
    const Conv2dShape* p;
    const float* x;
    int64_t pix0, OW;
    void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* dst) const {
      const int64_t RS = p->R * p->S, HW = p->H * p->W;
      std::vector<PixSeg>& segs = seg_buffer(kc);
      const int ns = split_pixels(pix0 + k0, kc, OW, segs.data());
      for (int64_t j = 0; j < nc; j += NR) {
        const int64_t n = std::min<int64_t>(NR, nc - j);
        for (int64_t jj = 0; jj < NR; ++jj) {
          if (jj >= n) {
            for (int64_t kk = 0; kk < kc; ++kk) dst[kk * NR + jj] = 0.f;
            continue;
          }
          const int64_t crs = j0 + j + jj, c = crs / RS, r = (crs % RS) / p->S, s = crs % p->S;
          for (int g = 0; g < ns; ++g)
            gather_row(*p, x + c * HW, segs[g], r, s, dst + segs[g].off * NR + jj, NR);
        }
        dst += kc * NR;
      }
    }
    static std::vector<PixSeg>& seg_buffer(int64_t kc) {
      thread_local std::vector<PixSeg> v;
      if (int64_t(v.size()) < kc + 2) v.resize(size_t(kc + 2));
      return v;
    }
  };

  struct BiasAct {
    const float* bias;
    Act act;
    void operator()(int64_t i, int64_t, int64_t m, int64_t n, float* c, int64_t ldc) const {
      if (!bias && act == Act::none) return;
      for (int64_t ii = 0; ii < m; ++ii) UK::act_row(c + ii * ldc, n, bias ? bias[i + ii] : 0.f, act);
    }
  };

  static void forward(const Conv2dShape& p, const float* x, const float* w, const float* bias,
                      float* y, Act act) {
    const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, CRS = p.C * p.R * p.S;
    const int64_t pt = std::min(round_up(P, NR), G::TN);  // pixels per task
    const int64_t tiles = ceil_div(P, pt);
    parallel_for(0, p.N * tiles, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / tiles, j0 = (t % tiles) * pt, m = std::min(pt, P - j0);
        float* yn = y + n * p.K * P + j0;
        if (CRS == 0) {
          for (int64_t k = 0; k < p.K; ++k) {
            std::fill(yn + k * P, yn + k * P + m, 0.f);
            BiasAct{bias, act}(k, 0, 1, m, yn + k * P, P);
          }
          continue;
        }
        typename G::PackA pa{MatA{w, CRS, 1, 1.f}};
        Im2colPack pb{&p, x + n * p.C * p.H * p.W, j0, OW};
        G::run(p.K, m, CRS, pa, pb, yn, P, false, BiasAct{bias, act});
      }
    });
  }

  static void backward_data(const Conv2dShape& p, const float* dy, const float* w, float* dx) {
    const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, RS = p.R * p.S, CRS = p.C * RS;
    if (p.stride_h == 1 && p.stride_w == 1) {
      // dx = conv(dy, w') with w'[c][k][R-1-r][S-1-s] = w[k][c][r][s] and the mirrored padding.
      std::vector<float> wt(size_t(p.K * CRS));
      for (int64_t k = 0; k < p.K; ++k)
        for (int64_t c = 0; c < p.C; ++c)
          for (int64_t rs = 0; rs < RS; ++rs)
            wt[size_t((c * p.K + k) * RS + (RS - 1 - rs))] = w[(k * p.C + c) * RS + rs];
      Conv2dShape q{p.N, p.K, OH, OW, p.C, p.R, p.S};
      q.pad_h = p.dil_h * (p.R - 1) - p.pad_h;
      q.pad_w = p.dil_w * (p.S - 1) - p.pad_w;
      q.dil_h = p.dil_h, q.dil_w = p.dil_w;
      if (q.OH() == p.H && q.OW() == p.W) {
        forward(q, dy, wt.data(), nullptr, dx, Act::none);
        return;
      }
    }
    // General stride: column tiles through GEMM, then col2im. Parallel over images.
    const int64_t pt = std::min(round_up(P, NR), int64_t(1024));
    parallel_for(0, p.N, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        float* dxn = dx + n * p.C * p.H * p.W;
        std::fill(dxn, dxn + p.C * p.H * p.W, 0.f);
        if (p.K == 0 || P == 0) continue;
        float* col = scratch(2, size_t(CRS * pt));
        for (int64_t j0 = 0; j0 < P; j0 += pt) {
          const int64_t m = std::min(pt, P - j0);
          typename G::PackA pa{MatA{w, 1, CRS, 1.f}};
          typename G::PackB pb{MatB{dy + n * p.K * P + j0, P, 1}};
          G::run(CRS, m, p.K, pa, pb, col, m, false);
          for (int64_t crs = 0; crs < CRS; ++crs) {
            const int64_t c = crs / RS, r = (crs % RS) / p.S, s = crs % p.S;
            const float* src = col + crs * m;
            float* plane = dxn + c * p.H * p.W;
            for (int64_t t = 0; t < m; ++t) {
              const int64_t oh = (j0 + t) / OW, ow = (j0 + t) % OW;
              const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
              const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
              if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) plane[ih * p.W + iw] += src[t];
            }
          }
        }
      }
    });
  }

  static void backward_weight(const Conv2dShape& p, const float* x, const float* dy, float* dw,
                              float* dbias) {
    const int64_t OH = p.OH(), OW = p.OW(), P = OH * OW, CRS = p.C * p.R * p.S;
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
    // Work items: (image, pixel chunk); a fixed number of groups, each with its own partial dW.
    const int64_t chunk = 8192;
    const int64_t per_image = std::max<int64_t>(1, ceil_div(P, chunk));
    const int64_t items = p.N * per_image;
    const int64_t groups = std::min<int64_t>(items, 16);
    std::vector<float> partial(size_t(groups > 1 ? groups * p.K * CRS : 0));
    parallel_for(0, groups, 1, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        float* out = groups > 1 ? partial.data() + g * p.K * CRS : dw;
        bool acc = false;
        for (int64_t it = g * items / groups; it < (g + 1) * items / groups; ++it) {
          const int64_t n = it / per_image, j0 = (it % per_image) * chunk;
          const int64_t m = std::min(chunk, P - j0);
          if (m <= 0) continue;
          typename G::PackA pa{MatA{dy + n * p.K * P + j0, P, 1, 1.f}};
          Im2colTPack pb{&p, x + n * p.C * p.H * p.W, j0, OW};
          G::run(p.K, CRS, m, pa, pb, out, CRS, acc);
          acc = true;
        }
        if (!acc) std::fill(out, out + p.K * CRS, 0.f);
      }
    });
    if (groups > 1) {
      const int64_t total = p.K * CRS;
      parallel_for(0, total, 4096, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          float s = partial[size_t(i)];
          for (int64_t g = 1; g < groups; ++g) s += partial[size_t(g * total + i)];
          dw[i] = s;
        }
      });
    }
  }
};

}  // namespace liteai::kernels::detail
