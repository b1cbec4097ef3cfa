// Convolution forward / backward-data / backward-weight and pooling of every ISA against the
// double-accumulating references, on odd shapes, strides, paddings, dilations.
#include <sstream>

#include "kernels/ref.hpp"
#include "kernels_test_util.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

using namespace liteai::kernels;

namespace {

struct Case {
  int64_t N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw;
};

Conv2dShape shape_of(const Case& c) {
  Conv2dShape p{c.N, c.C, c.H, c.W, c.K, c.R, c.S};
  p.stride_h = c.sh, p.stride_w = c.sw, p.pad_h = c.ph, p.pad_w = c.pw, p.dil_h = c.dh, p.dil_w = c.dw;
  return p;
}

const Case kCases[] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1},      // everything 1
    {2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1},     // odd, same padding
    {1, 1, 17, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1},   // the compact net's first layer, small
    {2, 8, 13, 7, 17, 3, 3, 2, 2, 1, 1, 1, 1},    // stride 2
    {1, 4, 12, 15, 6, 3, 5, 1, 2, 2, 0, 2, 1},    // dilation, mixed stride/pad
    {1, 5, 6, 6, 3, 1, 1, 1, 1, 0, 0, 1, 1},      // 1x1
    {1, 2, 5, 5, 4, 5, 5, 1, 1, 0, 0, 1, 1},      // kernel as large as the input
    {1, 3, 8, 8, 2, 2, 2, 3, 3, 3, 3, 1, 1},      // padding larger than the kernel reach
    {2, 16, 23, 50, 24, 3, 3, 1, 1, 1, 1, 1, 1},  // more channels, several packed panels
    {1, 3, 10, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2},    // stride 1, dilation 2 (direct path)
    {1, 2, 6, 7, 3, 3, 3, 1, 1, 3, 2, 1, 1},      // stride 1, padding past the kernel reach
    {2, 40, 9, 70, 3, 3, 3, 1, 1, 1, 1, 1, 1},    // CRS = 360: two K blocks; K < MR; OW > NR
    {1, 2, 5, 5, 11, 1, 3, 1, 1, 0, 1, 1, 1},     // 1x3 kernel
    {1, 8, 6, 20, 64, 3, 3, 1, 1, 1, 1, 1, 1},    // K = 64: 6x64 weight-gradient tiles
    {2, 4, 5, 17, 48, 3, 3, 1, 1, 1, 1, 1, 1},    // K = 48: 6x48 tiles
    {1, 3, 4, 33, 130, 3, 3, 1, 1, 1, 1, 1, 1},   // K = 130: padded K
};

// Conv sums C*R*S terms: tolerance in proportion.
double tol_for(int64_t terms) { return 2e-6 * (4 + std::sqrt(double(terms))); }

}  // namespace

TEST_CASE("conv2d forward (with bias and activations) matches the reference", "[kernels][conv]") {
  kt::IsaGuard guard;
  liteai::Generator g(11);
  for (const Case& c : kCases) {
    const Conv2dShape p = shape_of(c);
    auto x = kt::random_vec(g, p.N * p.C * p.H * p.W);
    auto w = kt::random_vec(g, p.K * p.C * p.R * p.S);
    auto b = kt::random_vec(g, p.K);
    for (Act act : {Act::none, Act::relu, Act::swish}) {
      std::vector<float> want(size_t(p.N * p.K * p.OH() * p.OW()));
      ref::conv2d_forward(p, x.data(), w.data(), act == Act::none ? nullptr : b.data(), want.data(), act);
      for (Isa isa : kt::isas()) {
        set_isa(isa);
        std::vector<float> got(want.size(), std::nanf(""));
        conv2d_forward(p, x.data(), w.data(), act == Act::none ? nullptr : b.data(), got.data(), act);
        INFO("isa " << isa_name(isa) << " act " << int(act) << " C " << c.C << " H " << c.H << " K " << c.K);
        kt::require_close(got, want, tol_for(p.C * p.R * p.S), 1e-5, "conv2d_forward");
      }
    }
  }
}

TEST_CASE("conv2d fused with a 2x2 average pool: the same bits as conv then pool", "[kernels][conv][pool]") {
  kt::IsaGuard guard;
  liteai::Generator g(12);
  for (const Case& c : kCases) {
    const Conv2dShape p = shape_of(c);
    if (p.OH() < 2 || p.OW() < 2) continue;
    auto x = kt::random_vec(g, p.N * p.C * p.H * p.W);
    auto w = kt::random_vec(g, p.K * p.C * p.R * p.S);
    auto b = kt::random_vec(g, p.K);
    const Pool2dShape q{p.N, p.K, p.OH(), p.OW(), 2, 2, 2, 2};
    for (Act act : {Act::none, Act::swish}) {
      // The reference in double, then the pool: a check independent of the unfused kernels.
      std::vector<float> conv_ref(size_t(p.N * p.K * p.OH() * p.OW())), want(size_t(p.N * p.K * q.OH() * q.OW()));
      ref::conv2d_forward(p, x.data(), w.data(), b.data(), conv_ref.data(), act);
      ref::avg_pool2d_forward(q, conv_ref.data(), want.data());
      for (Isa isa : kt::isas()) {
        set_isa(isa);
        std::vector<float> got(want.size(), std::nanf("")), full(conv_ref.size()), unfused(want.size());
        conv2d_forward_avgpool2(p, x.data(), w.data(), b.data(), got.data(), act);
        INFO("isa " << isa_name(isa) << " case N" << p.N << " C" << p.C << " " << p.H << "x" << p.W << " K" << p.K);
        kt::require_close(got, want, tol_for(p.C * p.R * p.S), 1e-5, "conv2d_forward_avgpool2");
        conv2d_forward(p, x.data(), w.data(), b.data(), full.data(), act);
        avg_pool2d_forward(q, full.data(), unfused.data());
        REQUIRE(got == unfused);
      }
    }
  }
}

TEST_CASE("conv2d backward data matches the reference", "[kernels][conv]") {
  kt::IsaGuard guard;
  liteai::Generator g(12);
  for (const Case& c : kCases) {
    const Conv2dShape p = shape_of(c);
    auto dy = kt::random_vec(g, p.N * p.K * p.OH() * p.OW());
    auto w = kt::random_vec(g, p.K * p.C * p.R * p.S);
    std::vector<float> want(size_t(p.N * p.C * p.H * p.W));
    ref::conv2d_backward_data(p, dy.data(), w.data(), want.data());
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      std::vector<float> got(want.size(), std::nanf(""));
      conv2d_backward_data(p, dy.data(), w.data(), got.data());
      INFO("isa " << isa_name(isa) << " C " << c.C << " H " << c.H << " K " << c.K << " stride " << c.sh);
      kt::require_close(got, want, tol_for(p.K * p.R * p.S), 1e-5, "conv2d_backward_data");
    }
  }
}

TEST_CASE("conv2d backward weight and bias match the reference", "[kernels][conv]") {
  kt::IsaGuard guard;
  liteai::Generator g(13);
  for (const Case& c : kCases) {
    const Conv2dShape p = shape_of(c);
    auto x = kt::random_vec(g, p.N * p.C * p.H * p.W);
    auto dy = kt::random_vec(g, p.N * p.K * p.OH() * p.OW());
    std::vector<float> want_w(size_t(p.K * p.C * p.R * p.S)), want_b(size_t(p.K));
    ref::conv2d_backward_weight(p, x.data(), dy.data(), want_w.data(), want_b.data());
    const int64_t terms = p.N * p.OH() * p.OW();
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      std::vector<float> got_w(want_w.size(), std::nanf("")), got_b(want_b.size(), std::nanf(""));
      conv2d_backward_weight(p, x.data(), dy.data(), got_w.data(), got_b.data());
      INFO("isa " << isa_name(isa) << " C " << c.C << " H " << c.H << " K " << c.K);
      kt::require_close(got_w, want_w, tol_for(terms), 1e-5, "dw");
      kt::require_close(got_b, want_b, tol_for(terms), 1e-5, "dbias");
      conv2d_backward_weight(p, x.data(), dy.data(), got_w.data(), nullptr);  // bias optional
      kt::require_close(got_w, want_w, tol_for(terms), 1e-5, "dw without bias");
    }
  }
}

TEST_CASE("conv2d on a larger image: many tiles, several weight-gradient groups, thread counts",
          "[kernels][conv]") {
  liteai::Generator g(14);
  Conv2dShape p{3, 4, 70, 130, 8, 3, 3};
  p.pad_h = p.pad_w = 1;
  auto x = kt::random_vec(g, p.N * p.C * p.H * p.W);
  auto w = kt::random_vec(g, p.K * p.C * 9);
  auto dy = kt::random_vec(g, p.N * p.K * p.OH() * p.OW());
  std::vector<float> y_ref(size_t(p.N * p.K * p.OH() * p.OW())), dw_ref(w.size()), db_ref(size_t(p.K));
  ref::conv2d_forward(p, x.data(), w.data(), nullptr, y_ref.data(), Act::none);
  ref::conv2d_backward_weight(p, x.data(), dy.data(), dw_ref.data(), db_ref.data());
  std::vector<float> y(y_ref.size()), dw1(w.size()), dw2(w.size()), db(size_t(p.K));
  conv2d_forward(p, x.data(), w.data(), nullptr, y.data(), Act::none);
  kt::require_close(y, y_ref, tol_for(36), 1e-5, "forward");
  std::vector<float> dx(x.size()), dx_ref(x.size());
  conv2d_backward_data(p, dy.data(), w.data(), dx.data());
  ref::conv2d_backward_data(p, dy.data(), w.data(), dx_ref.data());
  kt::require_close(dx, dx_ref, tol_for(72), 1e-5, "backward data");
  liteai::set_num_threads(1);
  conv2d_backward_weight(p, x.data(), dy.data(), dw1.data(), db.data());
  liteai::set_num_threads(2);
  conv2d_backward_weight(p, x.data(), dy.data(), dw2.data(), db.data());
  liteai::set_num_threads(0);
  kt::require_close(dw1, dw_ref, tol_for(p.N * p.OH() * p.OW()), 1e-5, "dw");
  REQUIRE(dw1 == dw2);  // deterministic whatever the thread count
}

// ---- bf16 operands (fp32 sums) ----
namespace {
// The shapes above, plus the pairings of the vdpbf16ps layout: one channel (pairs of taps along
// the row, S even and odd, dilated), an odd channel count, a wide dilated kernel.
std::vector<Case> bf16_cases() {
  std::vector<Case> v(std::begin(kCases), std::end(kCases));
  v.push_back({2, 1, 9, 12, 5, 3, 4, 1, 1, 1, 2, 1, 2});     // C = 1, S = 4, dilation 2 along the row
  v.push_back({1, 1, 8, 40, 33, 2, 5, 1, 1, 1, 2, 1, 1});    // C = 1, S = 5
  v.push_back({1, 3, 11, 10, 9, 3, 3, 1, 1, 1, 1, 1, 1});    // C = 3: a last channel without a partner
  v.push_back({1, 2, 6, 60, 7, 1, 7, 1, 1, 0, 9, 1, 3});     // 1x7 taps dilated 3 (reach 18 along the row)
  return v;
}
// Rounded operands for the kernels, their fp32 values for the reference.
struct Bf16Conv {
  kt::Bf16Data x, w, dy;
  std::vector<float> b;
};
Bf16Conv bf16_operands(liteai::Generator& g, const Conv2dShape& p) {
  return {kt::to_bf16(kt::random_vec(g, p.N * p.C * p.H * p.W)), kt::to_bf16(kt::random_vec(g, p.K * p.C * p.R * p.S)),
          kt::to_bf16(kt::random_vec(g, p.N * p.K * p.OH() * p.OW())), kt::random_vec(g, p.K)};
}
std::string describe(const Case& c) {
  std::ostringstream os;
  os << "N" << c.N << " C" << c.C << " " << c.H << "x" << c.W << " K" << c.K << " " << c.R << "x" << c.S << " stride "
     << c.sh << "x" << c.sw << " dil " << c.dh << "x" << c.dw;
  return os.str();
}
}  // namespace

TEST_CASE("bf16 conv2d forward and fused pool: the reference on bf16-rounded operands, within bf16 rounding of fp32",
          "[kernels][conv][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(31);
  for (const Case& c : bf16_cases()) {
    const Conv2dShape p = shape_of(c);
    const Bf16Conv o = bf16_operands(g, p);
    const size_t ny = size_t(p.N * p.K * p.OH() * p.OW());
    // Without activation, fp32 operands rounded to bf16 against the fp32 result: within the bf16
    // rounding of each product, (2^-7 + 2^-16) sum |x||w|.
    const auto x32 = kt::random_vec(g, p.N * p.C * p.H * p.W), w32 = kt::random_vec(g, p.K * p.C * p.R * p.S);
    std::vector<float> exact(ny), bound(ny);
    ref::conv2d_forward(p, x32.data(), w32.data(), nullptr, exact.data(), Act::none);
    ref::conv2d_forward(p, kt::abs_of(x32).data(), kt::abs_of(w32).data(), nullptr, bound.data(), Act::none);
    for (float& v : bound) v *= kt::kBf16ProductError;
    const kt::Bf16Data x_from32 = kt::to_bf16(x32), w_from32 = kt::to_bf16(w32);
    for (Act act : {Act::none, Act::relu, Act::swish}) {
      std::vector<float> want(ny);
      const float* bias = act == Act::none ? nullptr : o.b.data();
      ref::conv2d_forward(p, o.x.f32.data(), o.w.f32.data(), bias, want.data(), act);
      for (Isa isa : kt::isas()) {
        set_isa(isa);
        INFO("isa " << isa_name(isa) << " act " << int(act) << " " << describe(c));
        std::vector<float> got(ny, std::nanf(""));
        conv2d_forward_bf16(p, o.x.bf16.data(), o.w.bf16.data(), bias, got.data(), act);
        kt::require_close(got, want, tol_for(p.C * p.R * p.S), 1e-5, "conv2d_forward_bf16");
        if (act == Act::none) {
          conv2d_forward_bf16(p, x_from32.bf16.data(), w_from32.bf16.data(), nullptr, got.data(), act);
          kt::require_within(got, exact, bound, tol_for(p.C * p.R * p.S), "conv2d_forward_bf16 vs fp32 operands");
        }
        if (p.OH() >= 2 && p.OW() >= 2) {
          const Pool2dShape q{p.N, p.K, p.OH(), p.OW(), 2, 2, 2, 2};
          std::vector<float> pooled_ref(size_t(p.N * p.K * q.OH() * q.OW())), pooled(pooled_ref.size(), std::nanf(""));
          ref::avg_pool2d_forward(q, want.data(), pooled_ref.data());
          conv2d_forward_avgpool2_bf16(p, o.x.bf16.data(), o.w.bf16.data(), bias, pooled.data(), act);
          kt::require_close(pooled, pooled_ref, tol_for(p.C * p.R * p.S), 1e-5, "conv2d_forward_avgpool2_bf16");
        }
      }
    }
  }
}

TEST_CASE("bf16 conv2d backward data and weight: the reference on bf16-rounded operands", "[kernels][conv][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(32);
  for (const Case& c : bf16_cases()) {
    const Conv2dShape p = shape_of(c);
    const Bf16Conv o = bf16_operands(g, p);
    std::vector<float> want_dx(size_t(p.N * p.C * p.H * p.W)), want_dw(o.w.f32.size()), db(size_t(p.K));
    ref::conv2d_backward_data(p, o.dy.f32.data(), o.w.f32.data(), want_dx.data());
    ref::conv2d_backward_weight(p, o.x.f32.data(), o.dy.f32.data(), want_dw.data(), db.data());
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      INFO("isa " << isa_name(isa) << " " << describe(c));
      std::vector<float> dx(want_dx.size(), std::nanf("")), dw(want_dw.size(), std::nanf(""));
      conv2d_backward_data_bf16(p, o.dy.bf16.data(), o.w.bf16.data(), dx.data());
      kt::require_close(dx, want_dx, tol_for(p.K * p.R * p.S), 1e-5, "conv2d_backward_data_bf16");
      conv2d_backward_weight_bf16(p, o.x.bf16.data(), o.dy.bf16.data(), dw.data());
      kt::require_close(dw, want_dw, tol_for(p.N * p.OH() * p.OW()), 1e-5, "conv2d_backward_weight_bf16");
    }
  }
}

TEST_CASE("bf16 conv2d on larger images: the same bits for 1 and 2 threads on every ISA; bias_grad",
          "[kernels][conv][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(33);
  for (const Case& c : {Case{3, 4, 70, 130, 8, 3, 3, 1, 1, 1, 1, 1, 1}, Case{2, 1, 64, 90, 32, 3, 3, 1, 1, 1, 1, 1, 1},
                        Case{2, 32, 30, 40, 64, 3, 3, 1, 1, 1, 1, 1, 1}}) {
    const Conv2dShape p = shape_of(c);
    const Bf16Conv o = bf16_operands(g, p);
    std::vector<float> want(size_t(p.N * p.K * p.OH() * p.OW())), want_dw(o.w.f32.size()), want_db(size_t(p.K));
    ref::conv2d_forward(p, o.x.f32.data(), o.w.f32.data(), o.b.data(), want.data(), Act::swish);
    ref::conv2d_backward_weight(p, o.x.f32.data(), o.dy.f32.data(), want_dw.data(), want_db.data());
    std::vector<float> db(size_t(p.K)), dy32 = o.dy.f32;
    bias_grad(p.N, p.K, p.OH() * p.OW(), dy32.data(), db.data());
    kt::require_close(db, want_db, tol_for(p.N * p.OH() * p.OW()), 1e-5, "bias_grad");
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      INFO("isa " << isa_name(isa) << " " << describe(c));
      std::vector<float> y[2], dx[2], dw[2];
      for (int t = 0; t < 2; ++t) {
        liteai::set_num_threads(t + 1);
        y[t].assign(want.size(), 0.f), dx[t].assign(size_t(p.N * p.C * p.H * p.W), 0.f), dw[t].assign(want_dw.size(), 0.f);
        conv2d_forward_bf16(p, o.x.bf16.data(), o.w.bf16.data(), o.b.data(), y[t].data(), Act::swish);
        conv2d_backward_data_bf16(p, o.dy.bf16.data(), o.w.bf16.data(), dx[t].data());
        conv2d_backward_weight_bf16(p, o.x.bf16.data(), o.dy.bf16.data(), dw[t].data());
      }
      liteai::set_num_threads(0);
      kt::require_close(y[0], want, tol_for(p.C * 9), 1e-5, "forward");
      kt::require_close(dw[0], want_dw, tol_for(p.N * p.OH() * p.OW()), 1e-5, "dw");
      REQUIRE(y[0] == y[1]);
      REQUIRE(dx[0] == dx[1]);
      REQUIRE(dw[0] == dw[1]);
    }
  }
}

TEST_CASE("conv2d with an empty batch writes zero gradients", "[kernels][conv]") {
  kt::IsaGuard guard;
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    for (int64_t stride : {1, 2}) {
      Conv2dShape p{0, 2, 5, 5, 3, 3, 3};
      p.stride_h = p.stride_w = stride;
      std::vector<float> dw(2 * 3 * 9, 7.f), db(3, 7.f);
      float dummy = 0.f;
      conv2d_backward_weight(p, &dummy, &dummy, dw.data(), db.data());
      for (float v : dw) REQUIRE(v == 0.f);
      for (float v : db) REQUIRE(v == 0.f);
      std::fill(dw.begin(), dw.end(), 7.f);
      uint16_t none = 0;
      conv2d_backward_weight_bf16(p, &none, &none, dw.data());
      for (float v : dw) REQUIRE(v == 0.f);
    }
  }
}

TEST_CASE("conv2d rejects bad shapes", "[kernels][conv]") {
  std::vector<float> buf(64);
  Conv2dShape p{1, 1, 2, 2, 1, 3, 3};  // 3x3 kernel on 2x2 input, no padding
  REQUIRE_THROWS_AS(conv2d_forward(p, buf.data(), buf.data(), nullptr, buf.data()), liteai::Error);
  Conv2dShape q{1, 1, 4, 4, 1, 3, 3};
  q.stride_h = 0;
  REQUIRE_THROWS_AS(conv2d_backward_data(q, buf.data(), buf.data(), buf.data()), liteai::Error);
}

TEST_CASE("pooling matches the reference", "[kernels][pool]") {
  liteai::Generator g(15);
  const Pool2dShape shapes[] = {{2, 3, 8, 8, 2, 2, 2, 2}, {1, 2, 7, 9, 3, 2, 2, 3}, {1, 1, 1, 1, 1, 1, 1, 1},
                                {2, 2, 5, 6, 2, 3, 1, 1}, {1, 2, 7, 9, 2, 2, 2, 2}, {1, 1, 2, 3, 2, 2, 2, 2}};
  for (const Pool2dShape& p : shapes) {
    const size_t in = size_t(p.N * p.C * p.H * p.W), out = size_t(p.N * p.C * p.OH() * p.OW());
    auto x = kt::random_vec(g, int64_t(in)), dy = kt::random_vec(g, int64_t(out));
    std::vector<float> y(out), y_ref(out), dx(in), dx_ref(in);
    std::vector<int32_t> am(out), am_ref(out);
    avg_pool2d_forward(p, x.data(), y.data());
    ref::avg_pool2d_forward(p, x.data(), y_ref.data());
    kt::require_close(y, y_ref, 1e-6, 1e-6, "avg fwd");
    std::fill(dx.begin(), dx.end(), std::nanf(""));  // every element must be written
    avg_pool2d_backward(p, dy.data(), dx.data());
    ref::avg_pool2d_backward(p, dy.data(), dx_ref.data());
    kt::require_close(dx, dx_ref, 1e-6, 1e-6, "avg bwd");
    max_pool2d_forward(p, x.data(), y.data(), am.data());
    ref::max_pool2d_forward(p, x.data(), y_ref.data(), am_ref.data());
    REQUIRE(y == y_ref);
    REQUIRE(am == am_ref);
    std::fill(dx.begin(), dx.end(), std::nanf(""));
    max_pool2d_backward(p, dy.data(), am.data(), dx.data());
    ref::max_pool2d_backward(p, dy.data(), am_ref.data(), dx_ref.data());
    kt::require_close(dx, dx_ref, 1e-6, 1e-6, "max bwd");
  }
  // Ties pick the first element; NaN propagates.
  const Pool2dShape p{1, 1, 2, 2, 2, 2, 2, 2};
  float x[4] = {1.f, 3.f, 3.f, 0.f}, y;
  int32_t am;
  max_pool2d_forward(p, x, &y, &am);
  REQUIRE(y == 3.f);
  REQUIRE(am == 1);
  x[2] = std::nanf("");
  max_pool2d_forward(p, x, &y, &am);
  REQUIRE(std::isnan(y));
  REQUIRE(am == 2);
  std::vector<float> buf(4);
  REQUIRE_THROWS_AS(avg_pool2d_forward(Pool2dShape{1, 1, 2, 2, 3, 3, 1, 1}, buf.data(), buf.data()), liteai::Error);
}

TEST_CASE("2x2 max pool of every ISA: values and argmax with ties and NaNs as the reference", "[kernels][pool]") {
  kt::IsaGuard guard;
  liteai::Generator g(16);
  const Pool2dShape p{2, 3, 6, 75, 2, 2, 2, 2};  // 37 outputs per row: vector steps and a tail
  const size_t in = size_t(p.N * p.C * p.H * p.W), out = size_t(p.N * p.C * p.OH() * p.OW());
  auto x = kt::random_vec(g, int64_t(in));
  for (size_t i = 0; i < in; ++i) {  // ReLU-like zeros (ties), repeated values and a few NaNs
    const float u = g.uniform(0.f, 1.f);
    if (u < 0.3f) x[i] = 0.f;
    else if (u < 0.35f) x[i] = 0.5f;
    else if (u < 0.37f) x[i] = std::nanf("");
  }
  std::vector<float> y_ref(out);
  std::vector<int32_t> am_ref(out);
  ref::max_pool2d_forward(p, x.data(), y_ref.data(), am_ref.data());
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    std::vector<float> y(out);
    std::vector<int32_t> am(out, -1);
    max_pool2d_forward(p, x.data(), y.data(), am.data());
    INFO("isa " << isa_name(isa));
    REQUIRE(am == am_ref);
    for (size_t i = 0; i < out; ++i) REQUIRE((y[i] == y_ref[i] || (std::isnan(y[i]) && std::isnan(y_ref[i]))));
    std::vector<float> y2(out);
    max_pool2d_forward(p, x.data(), y2.data(), nullptr);  // without argmax (inference)
    for (size_t i = 0; i < out; ++i) REQUIRE((y2[i] == y[i] || (std::isnan(y2[i]) && std::isnan(y[i]))));
  }
}
