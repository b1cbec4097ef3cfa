// Lean optimizer state: the 8-bit dynamic map and blockwise quantization against brute force,
// 8-bit and factored Adam and 8-bit SGD momentum against f32 references, updates from gradient
// factors, the state's size, and bit-exact save/restore (and conversion between forms).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kernels.hpp"
#include "liteai/core/random.hpp"
#include "liteai/ops/ops.hpp"
#include "liteai/optim/optimizer.hpp"
#include "liteai/optim/quantize.hpp"

using namespace liteai;
using optim::QuantMap;

namespace {
// The index of the map value nearest to y, ties to the lower index (what quantize_normalized promises).
uint8_t brute_nearest(QuantMap map, float y) {
  const float* v = optim::quant_values(map);
  int best = 0;
  for (int i = 1; i < 256; ++i)
    if (std::fabs(double(v[i]) - y) < std::fabs(double(v[best]) - y)) best = i;
  return static_cast<uint8_t>(best);
}

Tensor leaf(const Tensor& t) {
  Tensor c = t.clone().detach();
  c.set_requires_grad(true);
  return c;
}

// Runs `steps` Adam/SGD steps on w with gradients g_t = w - target + noise_t (same for every call).
std::vector<float> train(optim::Optimizer& opt, Tensor& w, int steps, uint64_t seed) {
  Generator g(seed);
  Tensor target = randn(w.shape(), 0, 1, g);
  for (int s = 0; s < steps; ++s) {
    Tensor noise = randn(w.shape(), 0, 0.3f, g);
    std::vector<float> grad = w.to_vector(), t = target.to_vector(), n = noise.to_vector();
    for (size_t i = 0; i < grad.size(); ++i) grad[i] = grad[i] - t[i] + n[i];
    w.set_grad(Tensor::from_vector(grad, w.shape()));
    opt.step();
    opt.zero_grad();
  }
  return w.to_vector();
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 0, d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(double(b[i])));
    d = std::max(d, std::fabs(double(a[i]) - b[i]));
  }
  return d / scale;
}
}  // namespace

TEST_CASE("Dynamic 8-bit maps: 256 ascending values with 0 and 1, the signed one symmetric", "[optim][quant]") {
  for (QuantMap map : {QuantMap::signed_dynamic, QuantMap::unsigned_dynamic}) {
    const float* v = optim::quant_values(map);
    CHECK(std::is_sorted(v, v + 256));
    CHECK(std::adjacent_find(v, v + 256) == v + 256);  // no value twice
    CHECK(std::count(v, v + 256, 0.f) == 1);
    CHECK(v[255] == 1.f);
    CHECK((v[1] > 0.f) == (map == QuantMap::unsigned_dynamic));
    // values per decade double with the decade: most of them in [0.1, 1]
    CHECK(std::count_if(v, v + 256, [](float x) { return x >= 0.1f && x < 1.f; }) ==
          (map == QuantMap::signed_dynamic ? 64 : 128));
    CHECK(*std::find_if(v, v + 256, [](float x) { return x > 0; }) == Approx(map == QuantMap::signed_dynamic ? 5.5e-7 : 3.25e-7));
  }
  const float* s = optim::quant_values(QuantMap::signed_dynamic);
  for (int i = 0; i < 127; ++i) CHECK(s[i] == -s[254 - i]);  // -1 is not a value: 255 is 1.0 alone
}

TEST_CASE("Quantization rounds to the nearest map value, as brute force does", "[optim][quant]") {
  Generator g(11);
  for (QuantMap map : {QuantMap::signed_dynamic, QuantMap::unsigned_dynamic}) {
    const float* v = optim::quant_values(map);
    std::vector<float> ys;
    // every value, its neighbours and the midpoints with theirs (the hard cases), then random ones
    for (int i = 0; i < 256; ++i) {
      ys.push_back(v[i]);
      ys.push_back(std::nextafter(v[i], 2.f));
      ys.push_back(std::nextafter(v[i], -2.f));
      if (i < 255) {
        const float m = 0.5f * (v[i] + v[i + 1]);
        for (float y : {m, std::nextafter(m, 2.f), std::nextafter(m, -2.f)}) ys.push_back(y);
      }
    }
    for (int i = 0; i < 200000; ++i) {
      const float mag = std::pow(10.f, g.uniform(-8.f, 0.f));
      ys.push_back(map == QuantMap::signed_dynamic && g.below(2) ? -mag : mag);
    }
    int64_t wrong = 0;
    for (float y : ys) {
      if (y < -1.f || y > 1.f || (map == QuantMap::unsigned_dynamic && y < 0.f)) continue;
      wrong += optim::quantize_normalized(map, y) != brute_nearest(map, y);
    }
    CHECK(wrong == 0);
    CHECK(optim::quantize_normalized(map, 1.5f) == 255);  // beyond 1: clamps
  }
}

TEST_CASE("Blockwise quantization: per-block absmax, bounded error, zeros, a round trip of tensors", "[optim][quant]") {
  Generator g(12);
  // Two blocks of very different scales and a ragged third: each keeps its own precision.
  const int64_t n = 2 * optim::kQuantBlock + 100;
  Tensor x = randn({n}, 0, 1, g);
  for (int64_t i = optim::kQuantBlock; i < 2 * optim::kQuantBlock; ++i) x.data()[i] *= 1e-4f;
  optim::Quantized q = optim::quantize(QuantMap::signed_dynamic, x);
  CHECK(q.codes.dtype() == DType::u8);
  CHECK(q.codes.shape() == x.shape());
  CHECK(q.absmax.shape() == Shape{3});
  Tensor back = optim::dequantize(QuantMap::signed_dynamic, q);
  const float* v = optim::quant_values(QuantMap::signed_dynamic);
  float gap = 0;  // the widest step of the map (in its top decade)
  for (int i = 0; i < 255; ++i) gap = std::max(gap, v[i + 1] - v[i]);
  CHECK(gap == Approx(0.9 / 64));
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t lo = b * optim::kQuantBlock, hi = std::min(n, lo + optim::kQuantBlock);
    float absmax = 0;
    for (int64_t i = lo; i < hi; ++i) absmax = std::max(absmax, std::fabs(x.data()[i]));
    CHECK(q.absmax.data()[b] == absmax);
    for (int64_t i = lo; i < hi; ++i) {
      // within half a step of the map, at the block's scale
      const float err = std::fabs(back.data()[i] - x.data()[i]);
      REQUIRE(err <= 0.5f * gap * absmax * 1.0001f);
    }
  }
  // a block's positive maximum comes back exactly (it is the value 1 times absmax; the signed map
  // has no -1, as in bitsandbytes: a negative maximum comes back as -0.993 absmax)
  std::vector<float> block(x.data(), x.data() + 100), decoded(100);
  block[7] = 5.f;
  std::vector<uint8_t> c7(100);
  const float am = optim::quantize_block(QuantMap::signed_dynamic, block.data(), 100, c7.data());
  optim::dequantize_block(QuantMap::signed_dynamic, c7.data(), am, 100, decoded.data());
  CHECK(decoded[7] == 5.f);
  std::vector<float> zeros(100, 0.f), out(100, 1.f);
  std::vector<uint8_t> codes(100);
  CHECK(optim::quantize_block(QuantMap::unsigned_dynamic, zeros.data(), 100, codes.data()) == 0.f);
  optim::dequantize_block(QuantMap::unsigned_dynamic, codes.data(), 0.f, 100, out.data());
  CHECK(out == zeros);
}

TEST_CASE("8-bit Adam and SGD momentum follow their f32 versions closely; small tensors stay f32", "[optim][quant]") {
  Generator g(13);
  Tensor w0 = randn({64, 96}, 0, 1, g), bias0 = randn({96}, 0, 1, g);
  for (optim::OptimizerKind kind : {optim::OptimizerKind::adam, optim::OptimizerKind::adamw, optim::OptimizerKind::sgd}) {
    INFO(optim::to_string(kind));
    optim::OptimizerOptions o;
    o.lr = kind == optim::OptimizerKind::sgd ? 0.05f : 0.01f;
    o.momentum = 0.9f;
    Tensor a = leaf(w0), b = leaf(w0), ba = leaf(bias0), bb = leaf(bias0);
    auto full = optim::make_optimizer(kind, {{"w", a}, {"b", ba}}, o);
    o.state = optim::StatePrecision::q8;
    auto lean = optim::make_optimizer(kind, {{"w", b}, {"b", bb}}, o);
    const std::vector<float> wa = train(*full, a, 40, 7), wb = train(*lean, b, 40, 7);
    const double d = max_rel_diff(wb, wa);
    CHECK(d > 0);      // the state really is quantized...
    CHECK(d < 0.02);   // ...and the trajectory stays close
    // 8 bits for the matrix state, f32 for the 96-element bias (below min_compact_elements)
    bool has_codes = false;
    for (const auto& [name, t] : lean->state()) {
      if (name.rfind("w.", 0) == 0 && t.dtype() == DType::u8) has_codes = true;
      if (name.rfind("b.", 0) == 0) CHECK(t.dtype() == DType::f32);
    }
    CHECK(has_codes);
  }
}

TEST_CASE("Factored Adam keeps row and column statistics and matches the formula", "[optim][quant]") {
  // A direct implementation in double: R, C are EMAs of the row and column means of g^2 (+ 1e-30),
  // v = R C / mean(R), then Adam's update with v.
  const int64_t rows = 64, cols = 80;
  Generator g(14);
  Tensor w0 = randn({rows, cols}, 0, 1, g);
  optim::OptimizerOptions o;
  o.lr = 0.01f;
  o.factored = true;
  Tensor w = leaf(w0);
  optim::Adam opt({{"w", w}}, o);
  const std::vector<float> w0v = w0.to_vector();
  std::vector<double> ref(w0v.begin(), w0v.end()), m(w0v.size()), R(static_cast<size_t>(rows)), C(static_cast<size_t>(cols));
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
  for (int t = 1; t <= 3; ++t) {
    Tensor grad = randn({rows, cols}, 0, 1, g);
    w.set_grad(grad);
    opt.step();
    const std::vector<float> gv = grad.to_vector();
    std::vector<double> rs(static_cast<size_t>(rows)), cs(static_cast<size_t>(cols));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const double gg = double(gv[size_t(i * cols + j)]) * gv[size_t(i * cols + j)];
        rs[size_t(i)] += gg / cols;
        cs[size_t(j)] += gg / rows;
      }
    double mean = 0;
    for (int64_t i = 0; i < rows; ++i) mean += (R[size_t(i)] = b2 * R[size_t(i)] + (1 - b2) * (rs[size_t(i)] + 1e-30)) / rows;
    for (int64_t j = 0; j < cols; ++j) C[size_t(j)] = b2 * C[size_t(j)] + (1 - b2) * (cs[size_t(j)] + 1e-30);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const size_t k = size_t(i * cols + j);
        m[k] = b1 * m[k] + (1 - b1) * gv[k];
        const double v = R[size_t(i)] * C[size_t(j)] / mean;
        ref[k] -= o.lr * (m[k] / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
      }
  }
  const std::vector<float> got = w.to_vector();
  for (size_t k = 0; k < got.size(); ++k) REQUIRE(got[k] == Approx(ref[k]).epsilon(1e-5).margin(1e-6));
  bool row = false, col = false;
  for (const auto& [name, t] : opt.state()) {
    row |= name == "w.v.row" && t.shape() == Shape{rows};
    col |= name == "w.v.col" && t.shape() == Shape{cols};
    CHECK(name != "w.v");
  }
  CHECK((row && col));
}

TEST_CASE("update_outer: the gradient as factors x^T g, in row blocks, for every state form", "[optim][quant]") {
  Generator g(15);
  const int64_t in = 300, out = 20;  // 6000 elements: quantized; blocks of 7 rows round up to whole blocks
  Tensor w0 = randn({in, out}, 0, 0.1f, g), x = randn({5, in}, 0, 1, g), gr = randn({5, out}, 0, 1, g);
  Tensor full = ops::matmul(x.transpose(0, 1), gr);
  for (int form = 0; form < 3; ++form) {
    INFO("form " << form);
    optim::OptimizerOptions o;
    o.state = form ? optim::StatePrecision::q8 : optim::StatePrecision::f32;
    o.factored = form == 2;
    Tensor a = leaf(w0), b = leaf(w0);
    optim::Adam oa({{"w", a}}, o), ob({{"w", b}}, o);
    ob.stream_updates("w", false);
    oa.set_l2_grad("w", 0.01f);
    ob.set_l2_grad("w", 0.01f);
    for (int step = 0; step < 3; ++step) {
      a.set_grad(full);
      oa.step();
      ob.update_outer(0, x, gr, 7);
      ob.step();
    }
    CHECK(max_rel_diff(b.to_vector(), a.to_vector()) < 1e-5);
  }
  // misuse is refused with what to do instead
  optim::OptimizerOptions q;
  q.state = optim::StatePrecision::q8;
  Tensor c = leaf(w0);
  optim::Adam oc({{"w", c}}, q);
  CHECK_THROWS_WITH(oc.update_rows(0, 0, full.slice(0, 0, 7)), Catch::Contains("whole blocks of 2048"));
  q.factored = true;
  optim::Adam od({{"w", c}}, q);
  CHECK_THROWS_WITH(od.update_rows(0, 0, full), Catch::Contains("update_outer"));
  CHECK_THROWS_WITH(od.update_outer(0, gr, x), Catch::Contains("do not make the gradient"));
}

TEST_CASE("Optimizer state bytes: the estimate is what the state holds", "[optim][quant]") {
  Generator g(16);
  const std::vector<Shape> shapes{{512, 40}, {40}, {8, 3, 3, 3}};
  for (optim::OptimizerKind kind : {optim::OptimizerKind::adam, optim::OptimizerKind::sgd})
    for (int form = 0; form < 3; ++form) {
      optim::OptimizerOptions o;
      o.momentum = 0.9f;
      o.state = form ? optim::StatePrecision::q8 : optim::StatePrecision::f32;
      o.factored = form == 2;
      optim::NamedTensors params;
      for (size_t i = 0; i < shapes.size(); ++i) params.emplace_back("p" + std::to_string(i), leaf(randn(shapes[i], 0, 1, g)));
      auto opt = optim::make_optimizer(kind, params, o);
      for (auto& [name, t] : params) t.set_grad(randn(t.shape(), 0, 1, g));
      opt->step();
      INFO(optim::to_string(kind) << " form " << form);
      CHECK(opt->state_bytes() == optim::optimizer_state_bytes(kind, o, shapes));
    }
  optim::OptimizerOptions o;
  const std::vector<Shape> big{{524288, 256}};  // compact_cxr 512x512: fc1
  CHECK(optim::optimizer_state_bytes(optim::OptimizerKind::adam, o, big) == 2 * 4 * 524288 * 256);
  o.state = optim::StatePrecision::q8;
  CHECK(optim::optimizer_state_bytes(optim::OptimizerKind::adam, o, big) == 2 * (524288 * 256 + 4 * 65536));
  o.factored = true;
  CHECK(optim::optimizer_state_bytes(optim::OptimizerKind::adam, o, big) == 524288 * 256 + 4 * 65536 + 4 * (524288 + 256));
}

TEST_CASE("Lean state resumes bit for bit; another form is converted on load", "[optim][quant]") {
  Generator g(17);
  Tensor w0 = randn({100, 50}, 0, 1, g);
  for (int form = 0; form < 3; ++form) {
    INFO("form " << form);
    optim::OptimizerOptions o;
    o.lr = 0.01f;
    o.state = form ? optim::StatePrecision::q8 : optim::StatePrecision::f32;
    o.factored = form == 2;
    Tensor a = leaf(w0), b = leaf(w0);
    optim::Adam oa({{"w", a}}, o);
    train(oa, a, 6, 3);
    optim::Adam ob({{"w", b}}, o);
    train(ob, b, 3, 3);
    // copies of the tensors, as a file would give them
    optim::NamedTensors saved;
    for (const auto& [name, t] : ob.state()) saved.emplace_back(name, t.clone());
    Tensor c = leaf(b);
    optim::Adam oc({{"w", c}}, o);
    oc.load_state(saved, ob.state_meta());
    // continue both the original and the restored one with the same last 3 gradients
    Generator g1(3);  // the gradients train() drew: a target, then one noise per step
    Tensor target = randn(w0.shape(), 0, 1, g1);
    for (int s = 0; s < 6; ++s) {
      Tensor noise = randn(w0.shape(), 0, 0.3f, g1);
      if (s < 3) continue;
      for (Tensor* w : {&b, &c}) {
        std::vector<float> grad = w->to_vector(), t = target.to_vector(), n = noise.to_vector();
        for (size_t i = 0; i < grad.size(); ++i) grad[i] = grad[i] - t[i] + n[i];
        w->set_grad(Tensor::from_vector(grad, w->shape()));
      }
      ob.step();
      oc.step();
    }
    CHECK(b.to_vector() == c.to_vector());
    CHECK(b.to_vector() == a.to_vector());  // and both are the straight run
  }
  // an f32 state loaded into an 8-bit (then factored) optimizer: converted, and training goes on close
  optim::OptimizerOptions f32;
  f32.lr = 0.01f;
  Tensor a = leaf(w0), b = leaf(w0);
  optim::Adam oa({{"w", a}}, f32);
  train(oa, a, 4, 5);
  for (int form = 1; form < 3; ++form) {
    optim::OptimizerOptions lean = f32;
    lean.state = optim::StatePrecision::q8;
    lean.factored = form == 2;
    Tensor c = leaf(a);
    optim::Adam oc({{"w", c}}, lean);
    oc.load_state(oa.state(), oa.state_meta());
    CHECK(oc.steps() == 4);
    bool converted = false;
    for (const auto& [name, t] : oc.state()) converted |= name == (form == 2 ? "w.v.row" : "w.m.absmax");
    CHECK(converted);
    Tensor d = leaf(a);
    optim::Adam od({{"w", d}}, f32);
    od.load_state(oa.state(), oa.state_meta());
    CHECK(max_rel_diff(train(oc, c, 2, 6), train(od, d, 2, 6)) < 0.02);
  }
  // damaged state is named
  optim::Adam oe({{"w", leaf(w0)}}, f32);
  optim::NamedTensors bad{{"w.m", Tensor::zeros({100, 50}, DType::u8)}};
  CHECK_THROWS_WITH(oe.load_state(bad, {}), Catch::Contains("w.m.absmax"));
  CHECK_THROWS_WITH(optim::state_precision_from_string("4bit"), Catch::Contains("8bit"));
}

TEST_CASE("8-bit kernels: every ISA gives the same bytes and floats", "[optim][quant][kernels]") {
  Generator g(18);
  const int64_t n = 2000;  // not a multiple of any vector width
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = g.normal(0.f, 1.f) * std::pow(10.f, g.uniform(-7.f, 0.f));
  x[3] = 0.f;
  x[4] = -0.f;
  const kernels::Isa saved = kernels::active_isa();
  std::vector<uint8_t> want(static_cast<size_t>(n));
  std::vector<float> want_back(static_cast<size_t>(n));
  kernels::set_isa(kernels::Isa::scalar);
  for (QuantMap map : {QuantMap::signed_dynamic, QuantMap::unsigned_dynamic}) {
    std::vector<float> in = x;
    if (map == QuantMap::unsigned_dynamic)
      for (auto& v : in) v = std::fabs(v);
    kernels::set_isa(kernels::Isa::scalar);
    const float am = optim::quantize_block(map, in.data(), n, want.data());
    optim::dequantize_block(map, want.data(), am, n, want_back.data());
    for (size_t i = 0; i < in.size(); i += 97) CHECK(want[i] == optim::quantize_normalized(map, in[i] / am));
    for (kernels::Isa isa : {kernels::Isa::sse, kernels::Isa::avx2, kernels::Isa::avx512}) {
      if (!kernels::isa_supported(isa)) continue;
      INFO(kernels::isa_name(isa));
      kernels::set_isa(isa);
      std::vector<uint8_t> got(static_cast<size_t>(n));
      std::vector<float> back(static_cast<size_t>(n));
      CHECK(optim::quantize_block(map, in.data(), n, got.data()) == am);
      optim::dequantize_block(map, got.data(), am, n, back.data());
      CHECK(got == want);
      CHECK(back == want_back);
    }
  }
  kernels::set_isa(saved);
}
