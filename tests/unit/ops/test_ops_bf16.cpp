// Convolutions with bf16 products (ops::Conv2dOptions::compute): outputs and gradients against the
// fp32 ops on bf16-rounded operands. What bf16 changes is exactly known: x and w are rounded for
// the forward pass; backward rounds the pre-activation gradient dz once more (for dx and dw), while
// the bias gradient sums the fp32 dz.
#include <catch2/catch.hpp>

#include <cmath>

#include "kernels/kernels.hpp"
#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"

using namespace liteai;

namespace {

Tensor rounded(const Tensor& t) { return ops::cast(ops::cast(t, DType::bf16), DType::f32); }

struct Result {
  Tensor y, dx, dw, db;
};
// y = f(x, w, b) and the gradients of sum(y * r).
template <class F>
Result run(F f, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& r) {
  Tensor x = x0.clone().detach(), w = w0.clone().detach(), b = b0.clone().detach();
  x.set_requires_grad(), w.set_requires_grad(), b.set_requires_grad();
  Tensor y = f(x, w, b);
  ops::sum(ops::mul(y, r)).backward();
  return {y.detach(), x.grad(), w.grad(), b.grad()};
}

// |got - want| <= atol + bound elementwise.
void require_within(const Tensor& got, const Tensor& want, const Tensor& bound, double atol, const char* what) {
  const auto g = got.to_vector(), w = want.to_vector(), b = bound.to_vector();
  REQUIRE(g.size() == w.size());
  for (size_t i = 0; i < g.size(); ++i) {
    INFO(what << " index " << i << " got " << g[i] << " want " << w[i] << " bound " << b[i]);
    REQUIRE(std::fabs(double(g[i]) - w[i]) <= atol + b[i]);
  }
}
Tensor scaled_abs(const Tensor& t, float s) { return ops::mul_scalar(ops::abs(t), s); }

}  // namespace

TEST_CASE("cast: bf16 rounds to nearest even, back to f32 exactly; not recorded", "[ops][bf16]") {
  Tensor x = Tensor::from_vector({1.f, 1.f + 0x1p-8f, 1.f + 0x1p-7f + 0x1p-8f, -3.25f, 1e30f}, {5});
  x.set_requires_grad();
  Tensor h = ops::cast(x, DType::bf16);
  REQUIRE(h.dtype() == DType::bf16);
  REQUIRE_FALSE(h.requires_grad());
  // ties to even: 1 + 2^-8 -> 1; 1 + 3 * 2^-8 -> 1 + 2^-6
  CHECK(ops::cast(h, DType::f32).to_vector() == std::vector<float>{1.f, 1.f, 1.f + 0x1p-6f, -3.25f, bf16_to_f32(f32_to_bf16(1e30f))});
  CHECK(ops::cast(x, DType::f32).impl()->storage == x.impl()->storage);  // already f32: no copy
}

TEST_CASE("conv2d with bf16 products: the fp32 op on bf16-rounded operands, gradients included", "[ops][bf16]") {
  Generator g(5);
  for (int64_t stride : {1, 2}) {
    INFO("stride " << stride);
    const Tensor x = randn({2, 6, 11, 13}, 0, 1, g), w = randn({5, 6, 3, 3}, 0, 0.3f, g);
    const Tensor b = randn({5}, 0, 0.1f, g);
    ops::Conv2dOptions o32;
    o32.stride = stride, o32.padding = 1;
    ops::Conv2dOptions o16 = o32;
    o16.compute = DType::bf16;
    const int64_t OH = (11 + 2 - 3) / stride + 1, OW = (13 + 2 - 3) / stride + 1;
    const Tensor r = randn({2, 5, OH, OW}, 0, 1, g);
    const Tensor xr = rounded(x), wr = rounded(w);

    // No activation: dz = r, so every gradient has an exact reference.
    const Result got = run([&](const Tensor& a, const Tensor& k, const Tensor& c) { return ops::conv2d(a, k, c, o16); },
                           x, w, b, r);
    const Result ref = run([&](const Tensor& a, const Tensor& k, const Tensor& c) { return ops::conv2d(a, k, c, o32); },
                           xr, wr, b, rounded(r));
    const double tol = 1e-5;
    require_within(got.y, ref.y, ops::mul_scalar(ops::abs(ref.y), 1e-5f), tol, "y");
    require_within(got.dx, ref.dx, ops::mul_scalar(ops::abs(ref.dx), 1e-5f), tol, "dx");
    require_within(got.dw, ref.dw, ops::mul_scalar(ops::abs(ref.dw), 1e-5f), 4e-5, "dw");
    const Result ref_db = run([&](const Tensor& a, const Tensor& k, const Tensor& c) { return ops::conv2d(a, k, c, o32); },
                              xr, wr, b, r);
    require_within(got.db, ref_db.db, ops::mul_scalar(ops::abs(ref_db.db), 1e-5f), 1e-4, "db: the fp32 sum of dz");
    // The rounding is visible: the fp32 op on the unrounded operands differs.
    const Tensor y32 = ops::conv2d(x, w, b, o32);
    REQUIRE(ops::max(ops::abs(ops::sub(y32, got.y)).reshape({-1}), 0).item() > 1e-3f);

    // Fused activations: the same forward as fp32 on rounded operands; dx and dw within the
    // rounding of dz (2^-8 relative per term: 2^-8 sum |dz| |w| and 2^-8 sum |x| |dz|).
    for (int variant = 0; variant < 3; ++variant) {
      INFO("variant " << variant);
      auto op = [&](const ops::Conv2dOptions& o) {
        return [&, o](const Tensor& a, const Tensor& k, const Tensor& c) {
          return variant == 0 ? ops::conv2d_relu(a, k, c, o) : ops::conv2d_swish(a, k, c, o, variant == 2);
        };
      };
      const Result g16 = run(op(o16), x, w, b, r);
      const Result g32 = run(op(o32), xr, wr, b, r);
      require_within(g16.y, g32.y, ops::mul_scalar(ops::abs(g32.y), 1e-5f), tol, "fused y");
      // |dz| from the fp32 run: dz = dy * act'(z), and |act'| <= 1.1 for relu and swish.
      const Tensor dz_abs = ops::mul_scalar(ops::abs(r), 1.1f);
      Tensor bx = Tensor::empty(x.shape()), bw = Tensor::empty(w.shape());
      kernels::Conv2dShape p{2, 6, 11, 13, 5, 3, 3};
      p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = 1;
      const Tensor wa = ops::abs(wr), xa = ops::abs(xr);
      kernels::conv2d_backward_data(p, dz_abs.data(), wa.data(), bx.data());
      kernels::conv2d_backward_weight(p, xa.data(), dz_abs.data(), bw.data(), nullptr);
      require_within(g16.dx, g32.dx, scaled_abs(bx, 0x1p-8f), tol, "fused dx");
      require_within(g16.dw, g32.dw, scaled_abs(bw, 0x1p-8f), 4e-5, "fused dw");
      require_within(g16.db, g32.db, ops::mul_scalar(ops::abs(g32.db), 1e-5f), 1e-4, "fused db");
    }

    // Inference: the fused conv + 2x2 average pool gives the pool of the bf16 conv.
    const Tensor pooled = ops::conv2d_avgpool2(x, w, b, o16, ops::ConvAct::swish);
    const Tensor want = ops::avg_pool2d(ops::conv2d_swish(x.detach(), w.detach(), b.detach(), o16), 2);
    require_within(pooled, want, ops::mul_scalar(ops::abs(want), 1e-5f), tol, "conv2d_avgpool2 bf16");
  }
}
