// Element-wise kernels, reductions, softmax and bf16 conversion of every ISA against the
// references (which use double or libm), including tails of every length and special values.
#include <cstring>
#include <limits>

#include "kernels/ref.hpp"
#include "kernels_test_util.hpp"

using namespace liteai::kernels;

namespace {
const int64_t kLengths[] = {0, 1, 3, 15, 16, 17, 33, 100, 511, 70000};
}

TEST_CASE("binary and scaling element-wise kernels", "[kernels][eltwise]") {
  kt::IsaGuard guard;
  liteai::Generator g(21);
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    for (int64_t n : kLengths) {
      auto a = kt::random_vec(g, n), b = kt::random_vec(g, n, 0.5f, 2.f), y0 = kt::random_vec(g, n);
      std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
      INFO("isa " << isa_name(isa) << " n " << n);
      vadd(n, a.data(), b.data(), got.data()), ref::vadd(n, a.data(), b.data(), want.data());
      REQUIRE(got == want);
      vsub(n, a.data(), b.data(), got.data()), ref::vsub(n, a.data(), b.data(), want.data());
      REQUIRE(got == want);
      vmul(n, a.data(), b.data(), got.data()), ref::vmul(n, a.data(), b.data(), want.data());
      REQUIRE(got == want);
      vdiv(n, a.data(), b.data(), got.data()), ref::vdiv(n, a.data(), b.data(), want.data());
      kt::require_close(got, want, 0, 1e-6, "vdiv");
      vscale(n, 1.5f, a.data(), got.data()), ref::vscale(n, 1.5f, a.data(), want.data());
      REQUIRE(got == want);
      got = y0, want = y0;
      vaxpy(n, -0.75f, a.data(), got.data()), ref::vaxpy(n, -0.75f, a.data(), want.data());
      kt::require_close(got, want, 1e-7, 1e-6, "vaxpy");
      vrelu(n, a.data(), got.data()), ref::vrelu(n, a.data(), want.data());
      REQUIRE(got == want);
      // in place
      got = a;
      vadd(n, got.data(), b.data(), got.data());
      ref::vadd(n, a.data(), b.data(), want.data());
      REQUIRE(got == want);
    }
  }
}

TEST_CASE("transcendental kernels are accurate over wide ranges", "[kernels][eltwise]") {
  kt::IsaGuard guard;
  liteai::Generator g(22);
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    for (int64_t n : kLengths) {
      auto x = kt::random_vec(g, n, -30.f, 30.f);
      auto pos = kt::random_vec(g, n, 1e-6f, 1e6f);
      std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
      INFO("isa " << isa_name(isa) << " n " << n);
      vexp(n, x.data(), got.data()), ref::vexp(n, x.data(), want.data());
      kt::require_close(got, want, 0, 4e-7, "vexp");
      vlog(n, pos.data(), got.data()), ref::vlog(n, pos.data(), want.data());
      kt::require_close(got, want, 1e-7, 4e-7, "vlog");
      vtanh(n, x.data(), got.data()), ref::vtanh(n, x.data(), want.data());
      kt::require_close(got, want, 1e-7, 4e-7, "vtanh");
      vsigmoid(n, x.data(), got.data()), ref::vsigmoid(n, x.data(), want.data());
      kt::require_close(got, want, 1e-7, 4e-7, "vsigmoid");
      vswish(n, x.data(), got.data()), ref::vswish(n, x.data(), want.data());
      kt::require_close(got, want, 1e-7, 4e-7, "vswish");
      auto dy = kt::random_vec(g, n);
      vswish_backward(n, x.data(), dy.data(), got.data()), ref::vswish_backward(n, x.data(), dy.data(), want.data());
      kt::require_close(got, want, 1e-6, 1e-5, "vswish_backward");
    }
    // Special values: overflow, underflow, NaN, infinities.
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> s = {100.f, -100.f, -inf, inf, 88.f, -87.f, 0.f};
    std::vector<float> y(s.size());
    vexp(int64_t(s.size()), s.data(), y.data());
    REQUIRE(y[0] == inf);
    REQUIRE(y[1] >= 0.f);
    REQUIRE(y[1] < 1e-30f);
    REQUIRE(y[2] == 0.f);
    REQUIRE(y[3] == inf);
    REQUIRE(y[4] == Approx(std::exp(88.f)).epsilon(1e-6));
    REQUIRE(y[5] == Approx(std::exp(-87.f)).epsilon(1e-6));
    REQUIRE(y[6] == 1.f);
    float nan = std::nanf(""), out;
    vexp(1, &nan, &out);
    REQUIRE(std::isnan(out));
    vsigmoid(int64_t(s.size()), s.data(), y.data());
    REQUIRE(y[0] == 1.f);
    REQUIRE(y[1] == Approx(0.f).margin(1e-30));
    REQUIRE(y[2] == 0.f);
  }
}

TEST_CASE("reductions are accurate", "[kernels][eltwise]") {
  kt::IsaGuard guard;
  liteai::Generator g(23);
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    for (int64_t n : kLengths) {
      auto a = kt::random_vec(g, n), b = kt::random_vec(g, n);
      INFO("isa " << isa_name(isa) << " n " << n);
      REQUIRE(vsum(n, a.data()) == Approx(ref::vsum(n, a.data())).margin(1e-6 * (1 + std::sqrt(double(n)))));
      REQUIRE(vdot(n, a.data(), b.data()) == Approx(ref::vdot(n, a.data(), b.data())).margin(1e-6 * (1 + std::sqrt(double(n)))));
    }
    // A large constant array: a naive float running sum would drift far away.
    std::vector<float> ones(3'000'000, 0.1f);
    REQUIRE(vsum(int64_t(ones.size()), ones.data()) == Approx(300000.0).epsilon(1e-6));
  }
}

TEST_CASE("softmax and log_softmax rows are stable and accurate", "[kernels][eltwise]") {
  kt::IsaGuard guard;
  liteai::Generator g(24);
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    for (int64_t cols : {1, 2, 10, 17, 1000}) {
      const int64_t rows = 7;
      auto x = kt::random_vec(g, rows * cols, -20.f, 20.f);
      x[0] = 1000.f;  // large values must not overflow
      std::vector<float> got(x.size()), want(x.size());
      INFO("isa " << isa_name(isa) << " cols " << cols);
      softmax_rows(rows, cols, x.data(), got.data());
      ref::softmax_rows(rows, cols, x.data(), want.data());
      kt::require_close(got, want, 1e-7, 1e-5, "softmax");
      log_softmax_rows(rows, cols, x.data(), got.data());
      ref::log_softmax_rows(rows, cols, x.data(), want.data());
      kt::require_close(got, want, 2e-6, 1e-6, "log_softmax");
    }
  }
}

TEST_CASE("bf16 conversion rounds to nearest even and keeps NaN", "[kernels][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(25);
  auto x = kt::random_vec(g, 1001, -1e5f, 1e5f);
  const float inf = std::numeric_limits<float>::infinity();
  x.insert(x.end(), {0.f, -0.f, inf, -inf, std::nanf(""), 1.00390625f /* tie: 1 + 2^-8 */, 1.01171875f});
  const int64_t n = int64_t(x.size());
  std::vector<uint16_t> want(x.size());
  ref::f32_to_bf16(n, x.data(), want.data());
  REQUIRE(want[want.size() - 2] == 0x3f80);  // tie rounds to even (down)
  REQUIRE(want[want.size() - 1] == 0x3f82);  // tie rounds to even (up)
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    std::vector<uint16_t> got(x.size());
    f32_to_bf16(n, x.data(), got.data());
    REQUIRE(got == want);
    std::vector<float> back(x.size());
    bf16_to_f32(n, got.data(), back.data());
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i])) {
        REQUIRE(std::isnan(back[i]));
        continue;
      }
      if (std::isinf(x[i])) REQUIRE(back[i] == x[i]);
      else REQUIRE(std::fabs(back[i] - x[i]) <= std::fabs(x[i]) * (1.0 / 256));
    }
  }
}

TEST_CASE("adam_update matches the scalar reference on every ISA", "[kernels][optim]") {
  kt::IsaGuard guard;
  liteai::Generator g(21);
  const int64_t n = 100003;  // several threads' chunks and a vector tail
  auto grad = kt::random_vec(g, n), w0 = kt::random_vec(g, n), m0 = kt::random_vec(g, n, -0.1f, 0.1f);
  auto v0 = kt::random_vec(g, n, 0.f, 0.01f);
  const AdamStep s{1e-3f, 0.9f, 0.999f, 1e-7f, 1.9f, 3.1f, 0.9999f, 0.01f};
  auto w_ref = w0, m_ref = m0, v_ref = v0;
  ref::adam_update(n, s, grad.data(), w_ref.data(), m_ref.data(), v_ref.data());
  REQUIRE(w_ref != w0);
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    auto w = w0, m = m0, v = v0;
    adam_update(n, s, grad.data(), w.data(), m.data(), v.data());
    INFO("isa " << isa_name(isa));
    // The compiler may fuse multiply-adds in the SIMD units: a rounding apart, not more.
    kt::require_close(w, w_ref, 1e-7, 1e-6, "adam w");
    kt::require_close(m, m_ref, 1e-8, 1e-6, "adam m");
    kt::require_close(v, v_ref, 1e-9, 1e-6, "adam v");
  }
}

TEST_CASE("vswish_save_bf16 and vswish_backward_bf16 on every ISA", "[kernels][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(22);
  const int64_t n = 70001;
  auto x0 = kt::random_vec(g, n, -6.f, 6.f), dy = kt::random_vec(g, n);
  std::vector<uint16_t> want_saved(static_cast<size_t>(n));
  ref::f32_to_bf16(n, x0.data(), want_saved.data());
  std::vector<float> want_y(static_cast<size_t>(n)), widened(static_cast<size_t>(n)), want_dx(static_cast<size_t>(n));
  ref::vswish(n, x0.data(), want_y.data());
  ref::bf16_to_f32(n, want_saved.data(), widened.data());
  ref::vswish_backward(n, widened.data(), dy.data(), want_dx.data());
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    auto x = x0;
    std::vector<uint16_t> saved(static_cast<size_t>(n));
    vswish_save_bf16(n, x.data(), saved.data());
    INFO("isa " << isa_name(isa));
    REQUIRE(saved == want_saved);
    kt::require_close(x, want_y, 1e-6, 1e-5, "swish");
    std::vector<float> dx(static_cast<size_t>(n));
    vswish_backward_bf16(n, saved.data(), dy.data(), dx.data());
    kt::require_close(dx, want_dx, 1e-6, 1e-5, "swish backward from bf16");
  }
}

TEST_CASE("vrelu_backward on every ISA", "[kernels]") {
  kt::IsaGuard guard;
  liteai::Generator g(23);
  for (int64_t n : kLengths) {
    auto y = kt::random_vec(g, n), dy = kt::random_vec(g, n);
    for (int64_t i = 0; i < n; i += 3) y[size_t(i)] = 0.f;  // the kink: no gradient
    std::vector<float> want(static_cast<size_t>(n));
    ref::vrelu_backward(n, y.data(), dy.data(), want.data());
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      std::vector<float> got(static_cast<size_t>(n), std::nanf(""));
      vrelu_backward(n, y.data(), dy.data(), got.data());
      INFO("isa " << isa_name(isa) << " n " << n);
      REQUIRE(got == want);
    }
  }
}
