// The graph operators' kernels of every ISA against naive references: depthwise convolution
// (strides, dilations, asymmetric pads, channel multipliers), padded pooling, batch norm.
#include <cmath>

#include "kernels/graph_kernels.hpp"
#include "kernels_test_util.hpp"
#include "liteai/core/parallel.hpp"

using namespace liteai::kernels;

namespace {

struct DwCase {
  int64_t N, C, H, W, M, R, S, sh, sw, dh, dw, pt, pl, pb, pr;
};

const DwCase kDwCases[] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},        // everything 1
    {2, 3, 9, 11, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},       // 3x3 same
    {1, 16, 17, 23, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},     // stride 2 (MobileNet)
    {2, 5, 15, 40, 1, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},      // 5x5 stride 2 (EfficientNet)
    {1, 4, 12, 13, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      // channel multiplier 2
    {1, 3, 10, 37, 1, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},      // dilation 2
    {1, 2, 11, 14, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},      // TF 'SAME' with stride 2: pad only at the end
    {2, 3, 8, 9, 3, 3, 5, 3, 2, 1, 2, 2, 0, 1, 3},        // mixed everything
    {1, 8, 7, 70, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},       // long rows: several vector blocks
    {1, 2, 5, 5, 1, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0},        // kernel as large as the input
};

DwShape dw_of(const DwCase& c) {
  DwShape p{c.N, c.C, c.H, c.W, c.M, c.R, c.S};
  p.sh = c.sh, p.sw = c.sw, p.dh = c.dh, p.dw = c.dw, p.pt = c.pt, p.pl = c.pl, p.pb = c.pb, p.pr = c.pr;
  return p;
}

}  // namespace

TEST_CASE("depthwise conv: forward, input and weight gradients of every ISA match the reference",
          "[kernels][depthwise]") {
  kt::IsaGuard guard;
  liteai::Generator g(31);
  for (const DwCase& c : kDwCases) {
    const DwShape p = dw_of(c);
    const int64_t xn = p.N * p.C * p.H * p.W, yn = p.N * p.K() * p.OH() * p.OW();
    auto x = kt::random_vec(g, xn), w = kt::random_vec(g, p.K() * p.R * p.S), b = kt::random_vec(g, p.K());
    auto dy = kt::random_vec(g, yn);
    std::vector<float> y_ref(static_cast<size_t>(yn)), dx_ref(static_cast<size_t>(xn)), dw_ref(w.size()), db_ref(b.size());
    ref::dwconv2d_forward(p, x.data(), w.data(), b.data(), y_ref.data());
    ref::dwconv2d_backward_data(p, dy.data(), w.data(), dx_ref.data());
    ref::dwconv2d_backward_weight(p, x.data(), dy.data(), dw_ref.data(), db_ref.data());
    const double tol = 1e-5 * (1 + std::sqrt(double(p.R * p.S)));
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      INFO("isa " << isa_name(isa) << " C " << c.C << " H " << c.H << " W " << c.W << " stride " << c.sh << "x" << c.sw);
      std::vector<float> y(static_cast<size_t>(yn), std::nanf("")), dx(static_cast<size_t>(xn), std::nanf("")), dw(w.size(), std::nanf(""));
      std::vector<float> db(b.size(), std::nanf(""));
      dwconv2d_forward(p, x.data(), w.data(), b.data(), y.data());
      kt::require_close(y, y_ref, tol, 1e-5, "forward");
      dwconv2d_backward_data(p, dy.data(), w.data(), dx.data());
      kt::require_close(dx, dx_ref, tol, 1e-5, "backward data");
      dwconv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
      // Weight gradients sum N * OH * OW terms.
      const double wt = 2e-6 * (4 + std::sqrt(double(p.N * p.OH() * p.OW())));
      kt::require_close(dw, dw_ref, wt, 1e-5, "backward weight");
      kt::require_close(db, db_ref, wt, 1e-5, "backward bias");
    }
  }
}

TEST_CASE("depthwise conv: the same bits for any thread count", "[kernels][depthwise]") {
  liteai::Generator g(32);
  const DwShape p = dw_of({4, 6, 19, 21, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  auto x = kt::random_vec(g, p.N * p.C * p.H * p.W), w = kt::random_vec(g, p.K() * 9);
  auto dy = kt::random_vec(g, p.N * p.K() * p.OH() * p.OW());
  auto run = [&] {
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(static_cast<size_t>(p.K()));
    dwconv2d_forward(p, x.data(), w.data(), nullptr, y.data());
    dwconv2d_backward_data(p, dy.data(), w.data(), dx.data());
    dwconv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dw.begin(), dw.end());
    return y;
  };
  const int saved = liteai::num_threads();
  liteai::set_num_threads(1);
  const auto one = run();
  liteai::set_num_threads(2);
  const auto two = run();
  liteai::set_num_threads(saved);
  CHECK(one == two);
}

namespace {
// Naive pooling: windows clipped to the padded input, PyTorch's divisor rules.
void pool_ref(const PoolShape& p, bool max, bool include_pad, const std::vector<float>& x, std::vector<float>& y) {
  for (int64_t nc = 0; nc < p.N * p.C; ++nc)
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        const int64_t hs = oh * p.sh - p.pt, ws = ow * p.sw - p.pl;
        const int64_t he = std::min(hs + p.kh, p.H + p.pb), we = std::min(ws + p.kw, p.W + p.pr);
        double acc = max ? -INFINITY : 0.0;
        int64_t count = 0;
        for (int64_t h = std::max<int64_t>(hs, 0); h < std::min(he, p.H); ++h)
          for (int64_t w = std::max<int64_t>(ws, 0); w < std::min(we, p.W); ++w) {
            const double v = x[size_t((nc * p.H + h) * p.W + w)];
            acc = max ? std::max(acc, v) : acc + v;
            ++count;
          }
        if (!max) acc /= double(include_pad ? (he - hs) * (we - ws) : count);
        y[size_t((nc * p.OH + oh) * p.OW + ow)] = float(acc);
      }
}
}  // namespace

TEST_CASE("padded pooling matches the reference; gradients sum to the inputs' share", "[kernels][pool]") {
  liteai::Generator g(33);
  struct C {
    int64_t H, W, k, s, pt, pl, pb, pr, OH, OW;
  };
  // OH/OW as floor or ceil mode would give them (the caller decides).
  const C cases[] = {{9, 9, 3, 2, 1, 1, 1, 1, 5, 5},   // ResNet's stem pool
                     {8, 11, 3, 2, 1, 1, 1, 1, 4, 6},  // floor
                     {8, 11, 3, 2, 1, 1, 1, 1, 5, 6},  // ceil: a last window clipped
                     {7, 7, 2, 2, 0, 0, 1, 1, 4, 4},   // pad only at the end
                     {5, 6, 3, 1, 1, 0, 1, 2, 5, 6}};
  for (const C& c : cases) {
    PoolShape p{2, 3, c.H, c.W, c.k, c.k, c.s, c.s};
    p.pt = c.pt, p.pl = c.pl, p.pb = c.pb, p.pr = c.pr, p.OH = c.OH, p.OW = c.OW;
    auto x = kt::random_vec(g, p.N * p.C * p.H * p.W);
    const size_t yn = size_t(p.N * p.C * p.OH * p.OW);
    for (int mode = 0; mode < 3; ++mode) {
      const bool max = mode == 0, include = mode == 1;
      std::vector<float> want(yn), got(yn);
      pool_ref(p, max, include, x, want);
      if (max) {
        std::vector<int32_t> am(yn);
        max_pool_forward(p, x.data(), got.data(), am.data());
        for (size_t i = 0; i < yn; ++i) REQUIRE(x[size_t(am[i]) + (i / size_t(p.OH * p.OW)) * size_t(p.H * p.W)] == got[i]);
      } else {
        avg_pool_forward(p, include, x.data(), got.data());
      }
      kt::require_close(got, want, 1e-6, 1e-6, max ? "max pool" : include ? "avg pool (pad counted)" : "avg pool");
      // Backward: <dy, pool(x)> is linear (avg) / piecewise linear (max) in x, so <dx, x> equals it.
      auto dy = kt::random_vec(g, int64_t(yn));
      std::vector<float> dx(x.size());
      if (max) {
        std::vector<int32_t> am(yn);
        max_pool_forward(p, x.data(), got.data(), am.data());
        max_pool_backward(p, dy.data(), am.data(), dx.data());
      } else {
        avg_pool_backward(p, include, dy.data(), dx.data());
      }
      double lhs = 0, rhs = 0;
      for (size_t i = 0; i < yn; ++i) lhs += double(dy[i]) * got[i];
      for (size_t i = 0; i < x.size(); ++i) rhs += double(dx[i]) * x[i];
      CHECK(std::fabs(lhs - rhs) <= 1e-4 * (1 + std::fabs(lhs)));
    }
  }
}

TEST_CASE("batch norm kernels of every ISA match double-precision formulas", "[kernels][batchnorm]") {
  kt::IsaGuard guard;
  liteai::Generator g(34);
  const int64_t N = 3, C = 5, HW = 37;
  auto x = kt::random_vec(g, N * C * HW, -2.f, 3.f), dy = kt::random_vec(g, N * C * HW);
  auto gamma = kt::random_vec(g, C, 0.5f, 1.5f), scale = kt::random_vec(g, C), shift = kt::random_vec(g, C);
  // Reference statistics and gradients in double.
  std::vector<double> m(static_cast<size_t>(C)), v(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) s += x[size_t((n * C + c) * HW + i)];
    m[size_t(c)] = s / double(N * HW);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) q += std::pow(x[size_t((n * C + c) * HW + i)] - m[size_t(c)], 2);
    v[size_t(c)] = q / double(N * HW);
  }
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    INFO("isa " << isa_name(isa));
    std::vector<float> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C)), invstd(static_cast<size_t>(C));
    bn_stats(N, C, HW, x.data(), mean.data(), var.data());
    for (int64_t c = 0; c < C; ++c) {
      CHECK(std::fabs(mean[size_t(c)] - m[size_t(c)]) < 1e-6);
      CHECK(std::fabs(var[size_t(c)] - v[size_t(c)]) < 1e-5);
      invstd[size_t(c)] = float(1 / std::sqrt(v[size_t(c)] + 1e-5));
    }
    std::vector<float> y(x.size());
    for (bool relu : {false, true}) {
      bn_apply(N, C, HW, x.data(), scale.data(), shift.data(), y.data(), relu);
      for (size_t i = 0; i < x.size(); ++i) {
        const size_t c = (i / size_t(HW)) % size_t(C);
        double want = double(x[i]) * scale[c] + shift[c];
        if (relu) want = std::max(want, 0.0);
        REQUIRE(std::fabs(y[i] - want) < 1e-5);
      }
    }
    std::vector<float> dx(x.size()), dgamma(static_cast<size_t>(C)), dbeta(static_cast<size_t>(C));
    bn_backward(N, C, HW, x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), dx.data(), dgamma.data(),
                dbeta.data());
    for (int64_t c = 0; c < C; ++c) {
      double sdy = 0, sdyx = 0;
      const double is = invstd[size_t(c)], M = double(N * HW);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < HW; ++i) {
          const size_t k = size_t((n * C + c) * HW + i);
          sdy += dy[k];
          sdyx += dy[k] * (x[k] - m[size_t(c)]) * is;
        }
      CHECK(std::fabs(dbeta[size_t(c)] - sdy) < 1e-4);
      CHECK(std::fabs(dgamma[size_t(c)] - sdyx) < 1e-4);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < HW; ++i) {
          const size_t k = size_t((n * C + c) * HW + i);
          const double xhat = (x[k] - m[size_t(c)]) * is;
          const double want = gamma[size_t(c)] * is * (dy[k] - sdy / M - xhat * sdyx / M);
          REQUIRE(std::fabs(dx[k] - want) < 1e-4);
        }
    }
  }
}
