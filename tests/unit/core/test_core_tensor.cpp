#include <catch2/catch.hpp>

#include "liteai/autograd/autograd.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/core/tensor.hpp"

using namespace liteai;

TEST_CASE("factories and storage alignment") {
  Tensor t = Tensor::zeros({2, 3});
  REQUIRE(t.numel() == 6);
  REQUIRE(t.dim() == 2);
  REQUIRE(t.is_contiguous());
  REQUIRE(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  for (float v : t.to_vector()) REQUIRE(v == 0.f);
  Tensor f = Tensor::full({4}, 2.5f);
  REQUIRE(f.to_vector() == std::vector<float>{2.5f, 2.5f, 2.5f, 2.5f});
  REQUIRE(Tensor::scalar(3.f).item() == 3.f);
  REQUIRE_THROWS_WITH(Tensor::from_vector({1, 2, 3}, {2, 2}), Catch::Contains("[2, 2]"));
  REQUIRE_THROWS_AS(Tensor::zeros({2, -1}), Error);
}

TEST_CASE("views share storage and index correctly") {
  Tensor a = Tensor::arange(24).reshape({2, 3, 4});
  REQUIRE(a.at({1, 2, 3}) == 23.f);
  Tensor t = a.transpose(0, 2);  // [4, 3, 2]
  REQUIRE(t.shape() == Shape{4, 3, 2});
  REQUIRE(!t.is_contiguous());
  REQUIRE(t.storage() == a.storage());
  REQUIRE(t.at({3, 2, 1}) == a.at({1, 2, 3}));
  Tensor c = t.contiguous();
  REQUIRE(c.is_contiguous());
  REQUIRE(c.storage() != a.storage());
  REQUIRE(c.at({3, 2, 1}) == 23.f);

  Tensor p = a.permute({2, 0, 1});
  REQUIRE(p.shape() == Shape{4, 2, 3});
  REQUIRE(p.at({3, 1, 2}) == a.at({1, 2, 3}));

  Tensor s = a.slice(2, 1, 4, 2);  // columns 1 and 3
  REQUIRE(s.shape() == Shape{2, 3, 2});
  REQUIRE(s.at({1, 2, 1}) == 23.f);
  REQUIRE(s.at({0, 0, 0}) == 1.f);
  Tensor neg = a.slice(0, -1, 2);
  REQUIRE(neg.shape() == Shape{1, 3, 4});
  REQUIRE(neg.at({0, 0, 0}) == 12.f);

  Tensor e = Tensor::arange(3).reshape({3, 1}).expand({3, 4});
  REQUIRE(e.strides()[1] == 0);
  REQUIRE(e.at({2, 3}) == 2.f);

  REQUIRE(a.reshape({-1, 4}).shape() == Shape{6, 4});
  REQUIRE(t.reshape({24}).at({1}) == a.at({1, 0, 0}));  // non-contiguous reshape copies in logical order
  REQUIRE(a.unsqueeze(1).shape() == Shape{2, 1, 3, 4});
  REQUIRE(a.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  REQUIRE(a.unsqueeze(0).squeeze(0).shape() == a.shape());
  REQUIRE(a.flatten(1).shape() == Shape{2, 12});
}

TEST_CASE("shape errors name the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3});
  REQUIRE_THROWS_WITH(a.reshape({4, 2}), Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  REQUIRE_THROWS_WITH(a.transpose(0, 5), Catch::Contains("transpose"));
  REQUIRE_THROWS_WITH(a.expand({3, 3}), Catch::Contains("expand"));
  REQUIRE_THROWS_WITH(a.squeeze(0), Catch::Contains("squeeze"));
  REQUIRE_THROWS_WITH(a.transpose(0, 1).view({6}), Catch::Contains("not contiguous"));
  REQUIRE_THROWS_WITH(broadcast_shapes({2, 3}, {4, 3}, "add"), Catch::Contains("add") && Catch::Contains("[4, 3]"));
  REQUIRE(broadcast_shapes({2, 1, 3}, {4, 1}, "x") == Shape{2, 4, 3});
  REQUIRE_THROWS_AS(Tensor().shape().at(0), std::out_of_range);
  REQUIRE_THROWS_WITH(Tensor().data(), Catch::Contains("undefined"));
}

TEST_CASE("copy_from and fill into strided views") {
  Tensor a = Tensor::zeros({3, 4});
  a.slice(1, 1, 3).fill_(7.f);
  REQUIRE(a.at({2, 1}) == 7.f);
  REQUIRE(a.at({2, 3}) == 0.f);
  Tensor src = Tensor::arange(6).reshape({3, 2});
  a.slice(1, 2, 4).copy_from(src);
  REQUIRE(a.at({2, 3}) == 5.f);
  REQUIRE(a.at({0, 2}) == 0.f);
  REQUIRE_THROWS_WITH(a.copy_from(src), Catch::Contains("copy_from"));
}

TEST_CASE("bf16 round trip keeps ~3 significant digits") {
  Tensor a = randn({1000});
  Tensor b = a.to(DType::bf16);
  REQUIRE(b.dtype() == DType::bf16);
  REQUIRE(b.storage()->bytes() == 2000);
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  for (size_t i = 0; i < x.size(); ++i) REQUIRE(std::fabs(x[i] - y[i]) <= std::fabs(x[i]) * (1.f / 256) + 1e-30f);
  REQUIRE(f32_to_bf16(1.0f) == 0x3f80);
  REQUIRE(bf16_to_f32(f32_to_bf16(-2.5f)) == -2.5f);
}

TEST_CASE("generator: same seed, same bits; sane moments") {
  Generator g1(42), g2(42), g3(43);
  for (int i = 0; i < 100; ++i) REQUIRE(g1.next_u64() == g2.next_u64());
  REQUIRE(g1.next_u64() != g3.next_u64());
  Generator g(1);
  Tensor n = randn({20000}, 0.f, 1.f, g);
  double m = 0, v = 0;
  for (float x : n.to_vector()) m += x;
  m /= 20000;
  for (float x : n.to_vector()) v += (x - m) * (x - m);
  v /= 20000;
  REQUIRE(std::fabs(m) < 0.03);
  REQUIRE(std::fabs(v - 1) < 0.05);
  Generator ga(5), gb(5);
  REQUIRE(kaiming_uniform({64, 32, 3, 3}, ga).to_vector() == kaiming_uniform({64, 32, 3, 3}, gb).to_vector());
  Tensor k = kaiming_uniform({16, 8, 3, 3}, g);  // bound sqrt(6/72)
  for (float x : k.to_vector()) REQUIRE(std::fabs(x) <= std::sqrt(6.0 / 72) + 1e-6);
  for (int i = 0; i < 1000; ++i) REQUIRE(g.below(7) < 7);
}

TEST_CASE("parallel_for covers the range exactly once and honours the thread count") {
  set_num_threads(2);
  REQUIRE(num_threads() == 2);
  std::vector<int> hits(10007, 0);
  parallel_for(0, 10007, 100, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  for (int h : hits) REQUIRE(h == 1);
  set_num_threads(1);
  REQUIRE(num_threads() == 1);
  set_num_threads(0);
}

TEST_CASE("storage accounting returns to its start") {
  size_t before = storage_bytes_in_use();
  {
    Tensor a = Tensor::zeros({1000});
    REQUIRE(storage_bytes_in_use() == before + 4000);
  }
  REQUIRE(storage_bytes_in_use() == before);
}

TEST_CASE("Large blocks are reused from the cache, and zeros() is zero even then", "[core][storage]") {
  const Shape big{3, 1000, 1000};  // 12 MB: a large block
  storage_release_cache();
  {
    Tensor a = Tensor::full(big, 7.f);
  }
#if !defined(__SANITIZE_ADDRESS__)
  REQUIRE(storage_cached_bytes() >= 12000000);  // the freed block waits for reuse
#endif
  Tensor z = Tensor::zeros(big);
  const float* p = z.data();
  bool all_zero = true;
  for (int64_t i = 0; i < z.numel(); ++i) all_zero = all_zero && p[i] == 0.f;
  REQUIRE(all_zero);
  z = Tensor();
  storage_set_cache_limit(0);  // disabled: freed blocks go straight back
  REQUIRE(storage_cached_bytes() == 0);
  {
    Tensor b = Tensor::full(big, 1.f);
  }
  REQUIRE(storage_cached_bytes() == 0);
  storage_set_cache_limit(size_t(1) << 30);
  REQUIRE(storage_release_cache() == 0);
}

#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("The block cache splits blocks to size and merges freed neighbours", "[core][storage]") {
  storage_release_cache();
  const int64_t two_mb = (int64_t(2) << 20) / 4;  // floats
  { Tensor a = Tensor::empty({2 * two_mb}); }     // one 4 MB block, cached when freed
  REQUIRE(storage_cached_bytes() == (size_t(4) << 20));
  {
    Tensor b = Tensor::empty({two_mb}), c = Tensor::empty({two_mb});  // both halves of it
    REQUIRE(storage_cached_bytes() == 0);
  }
  REQUIRE(storage_cached_bytes() == (size_t(4) << 20));  // back, merged into one run...
  Tensor d = Tensor::empty({2 * two_mb});
  REQUIRE(storage_cached_bytes() == 0);  // ...that serves a 4 MB request again
}
#endif
