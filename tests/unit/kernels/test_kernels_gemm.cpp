// SGEMM of every ISA against the double-accumulating reference: transposes, leading dimensions,
// alpha/beta, odd and degenerate sizes, thread-count independence.
#include "kernels/ref.hpp"
#include "kernels_test_util.hpp"
#include "liteai/core/dtype.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"

using namespace liteai::kernels;

namespace {

void check_gemm(liteai::Generator& g, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                float beta, int64_t pad) {
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  auto A = kt::random_vec(g, (ta ? K : M) * lda);
  auto B = kt::random_vec(g, (tb ? N : K) * ldb);
  auto C0 = kt::random_vec(g, M * ldc);
  auto want = C0;
  ref::sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(), ldc);
  // The reference is computed once and every ISA is compared with it.
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    auto got = C0;
    sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, got.data(), ldc);
    // float accumulation over K terms of size <= 1: error grows like sqrt(K) ulps.
    const double tol = 1e-5 * (1 + std::sqrt(double(K))) * (std::fabs(alpha) + 1);
    INFO("isa " << isa_name(isa) << " ta " << ta << " tb " << tb << " M " << M << " N " << N
                << " K " << K << " alpha " << alpha << " beta " << beta << " pad " << pad);
    kt::require_close(got, want, tol, 1e-5, "sgemm");
  }
}

}  // namespace

TEST_CASE("sgemm matches the reference on odd shapes for every ISA", "[kernels][gemm]") {
  kt::IsaGuard guard;
  liteai::Generator g(42);
  const int64_t sizes[] = {1, 3, 7, 17, 48, 65};
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : {1, 5, 33}) {
        const int t = int((M * 7 + N * 3 + K) % 4);
        check_gemm(g, t & 1, t & 2, M, N, K, 1.f, 0.f, (M + N) % 3);
      }
}

TEST_CASE("sgemm: all transposes, alpha, beta, strides, sizes past the cache blocks", "[kernels][gemm]") {
  kt::IsaGuard guard;
  liteai::Generator g(7);
  for (int t = 0; t < 4; ++t) {
    check_gemm(g, t & 1, t & 2, 161, 1601, 300, 0.5f, 0.f, 3);   // several NC/KC blocks on N, K
    check_gemm(g, t & 1, t & 2, 300, 97, 511, -1.25f, 1.f, 0);   // several MC blocks, beta 1
    check_gemm(g, t & 1, t & 2, 33, 65, 17, 2.f, -0.5f, 1);      // general beta
    check_gemm(g, t & 1, t & 2, 61, 1001, 290, 1.f, 0.f, 2);     // small M, wide N (B in place)
  }
}

TEST_CASE("sgemm: small output with a long K (split-K) in every transpose", "[kernels][gemm]") {
  kt::IsaGuard guard;
  liteai::Generator g(8);
  check_gemm(g, false, false, 3, 5, 40000, 1.f, 0.f, 0);
  check_gemm(g, true, true, 2, 7, 33000, 0.5f, 1.f, 1);
  check_gemm(g, false, true, 1, 1, 50001, 1.f, -2.f, 0);
  check_gemm(g, false, false, 1, 113, 40000, 1.f, 0.f, 3);  // B streamed in place, ragged panel
  check_gemm(g, false, false, 8, 96, 33000, -1.f, 1.f, 0);   // a full micro-tile of rows
}

TEST_CASE("sgemm: a few rows times a transposed B (dense input gradient), ragged ends", "[kernels][gemm]") {
  kt::IsaGuard guard;
  liteai::Generator g(9);
  check_gemm(g, false, true, 1, 100, 40, 1.f, 0.f, 0);
  check_gemm(g, false, true, 8, 257, 300, 0.5f, 1.f, 3);   // odd N: a ragged block of B rows
  check_gemm(g, false, true, 5, 67, 33, -2.f, -0.5f, 1);   // K tail past the vectors
  check_gemm(g, false, true, 3, 1030, 256, 1.f, 0.f, 0);
}

TEST_CASE("sgemm_bf16b (bf16 B widened on the fly) matches the reference for every ISA", "[kernels][gemm]") {
  kt::IsaGuard guard;
  liteai::Generator g(11);
  struct Case { int64_t M, N, K, pad; };
  for (const Case c : {Case{1, 1, 1, 0}, Case{3, 17, 5, 1}, Case{1, 256, 40000, 0}, Case{5, 113, 33000, 2},
                       Case{8, 96, 700, 0}, Case{13, 50, 300, 1}, Case{20, 900, 40, 0}}) {
    const int64_t lda = c.K + c.pad, ldb = c.N + c.pad, ldc = c.N + c.pad;
    auto A = kt::random_vec(g, c.M * lda), Bf = kt::random_vec(g, c.K * ldb);
    std::vector<uint16_t> B(Bf.size());
    for (size_t i = 0; i < B.size(); ++i) B[i] = liteai::f32_to_bf16(Bf[i]), Bf[i] = liteai::bf16_to_f32(B[i]);
    std::vector<float> want(size_t(c.M * ldc), 0.f);
    ref::sgemm(false, false, c.M, c.N, c.K, 1.f, A.data(), lda, Bf.data(), ldb, 0.f, want.data(), ldc);
    for (Isa isa : kt::isas()) {
      set_isa(isa);
      std::vector<float> got(want.size(), 0.f), got1(want.size(), 0.f);
      sgemm_bf16b(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, got.data(), ldc);
      INFO("isa " << isa_name(isa) << " M " << c.M << " N " << c.N << " K " << c.K);
      kt::require_close(got, want, 1e-5 * (1 + std::sqrt(double(c.K))), 1e-5, "sgemm_bf16b");
      liteai::set_num_threads(1);
      sgemm_bf16b(c.M, c.N, c.K, A.data(), lda, B.data(), ldb, got1.data(), ldc);
      liteai::set_num_threads(0);
      REQUIRE(got1 == got);  // the same bits whatever the thread count
    }
  }
  std::vector<float> X(4);
  std::vector<uint16_t> Y(4);
  REQUIRE_THROWS_AS(sgemm_bf16b(2, 2, 2, X.data(), 1, Y.data(), 2, X.data(), 2), liteai::Error);
}

TEST_CASE("sgemm: degenerate sizes and beta == 0 ignores NaN", "[kernels][gemm]") {
  kt::IsaGuard guard;
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    std::vector<float> C(12, std::nanf(""));
    std::vector<float> A(12, 1.f), B(12, 2.f);
    sgemm(false, false, 3, 4, 0, 1.f, A.data(), 1, B.data(), 4, 0.f, C.data(), 4);  // K == 0
    for (float v : C) REQUIRE(v == 0.f);
    std::fill(C.begin(), C.end(), std::nanf(""));
    sgemm(false, false, 3, 4, 2, 1.f, A.data(), 2, B.data(), 4, 0.f, C.data(), 4);
    for (float v : C) REQUIRE(v == 4.f);
    sgemm(false, false, 3, 4, 2, 1.f, A.data(), 2, B.data(), 4, 1.f, C.data(), 4);
    for (float v : C) REQUIRE(v == 8.f);
    sgemm(false, false, 0, 4, 2, 1.f, A.data(), 2, B.data(), 4, 0.f, C.data(), 4);  // M == 0: no-op
    for (float v : C) REQUIRE(v == 8.f);
  }
  std::vector<float> X(4);
  REQUIRE_THROWS_AS(sgemm(false, false, -1, 2, 2, 1.f, X.data(), 2, X.data(), 2, 0.f, X.data(), 2),
                    liteai::Error);
  REQUIRE_THROWS_AS(sgemm(false, false, 2, 2, 2, 1.f, X.data(), 1, X.data(), 2, 0.f, X.data(), 2),
                    liteai::Error);
}

TEST_CASE("sgemm gives the same bits for 1 and 2 threads", "[kernels][gemm]") {
  liteai::Generator g(3);
  const int64_t M = 200, N = 700, K = 300;
  auto A = kt::random_vec(g, M * K), B = kt::random_vec(g, K * N);
  std::vector<float> C1(M * N), C2(M * N);
  liteai::set_num_threads(1);
  sgemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C1.data(), N);
  liteai::set_num_threads(2);
  sgemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C2.data(), N);
  liteai::set_num_threads(0);
  REQUIRE(C1 == C2);
}

namespace {
// gemm_bf16 on bf16-rounded operands against the double reference on the same values: the
// products are exact, so only the fp32 rounding of the sums may differ (the sgemm tolerance).
// And against the fp32 reference on the unrounded operands: within the bf16 rounding of each
// product (8 significant bits, each operand within 2^-8: the product within 2^-7 + 2^-16).
void check_gemm_bf16(liteai::Generator& g, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     float beta, int64_t pad) {
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const auto A32 = kt::random_vec(g, (ta ? K : M) * lda), B32 = kt::random_vec(g, (tb ? N : K) * ldb);
  const kt::Bf16Data A = kt::to_bf16(A32), B = kt::to_bf16(B32);
  const auto C0 = kt::random_vec(g, M * ldc);
  auto want = C0, exact = C0, bound = std::vector<float>(C0.size(), 0.f);
  ref::sgemm(ta, tb, M, N, K, alpha, A.f32.data(), lda, B.f32.data(), ldb, beta, want.data(), ldc);
  ref::sgemm(ta, tb, M, N, K, alpha, A32.data(), lda, B32.data(), ldb, beta, exact.data(), ldc);
  ref::sgemm(ta, tb, M, N, K, std::fabs(alpha) * kt::kBf16ProductError, kt::abs_of(A32).data(), lda,
             kt::abs_of(B32).data(), ldb, 0.f, bound.data(), ldc);
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    auto got = C0;
    gemm_bf16(ta, tb, M, N, K, alpha, A.bf16.data(), lda, B.bf16.data(), ldb, beta, got.data(), ldc);
    const double tol = 1e-5 * (1 + std::sqrt(double(K))) * (std::fabs(alpha) + 1);
    INFO("isa " << isa_name(isa) << " ta " << ta << " tb " << tb << " M " << M << " N " << N << " K " << K
                << " alpha " << alpha << " beta " << beta << " pad " << pad);
    kt::require_close(got, want, tol, 1e-5, "gemm_bf16 vs bf16-rounded inputs");
    kt::require_within(got, exact, bound, tol, "gemm_bf16 vs fp32 inputs");
  }
}
}  // namespace

TEST_CASE("gemm_bf16 matches the reference on odd shapes, transposes, alpha, beta for every ISA",
          "[kernels][gemm][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(21);
  const int64_t sizes[] = {1, 3, 17, 48, 65};
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : {1, 2, 5, 34}) {  // odd K: the last bf16 pair is half empty
        const int t = int((M * 7 + N * 3 + K) % 4);
        check_gemm_bf16(g, t & 1, t & 2, M, N, K, 1.f, 0.f, (M + N) % 3);
      }
  for (int t = 0; t < 4; ++t) {
    check_gemm_bf16(g, t & 1, t & 2, 161, 1601, 301, 0.5f, 0.f, 3);  // several NC/KC blocks, odd K
    check_gemm_bf16(g, t & 1, t & 2, 300, 97, 511, -1.25f, 1.f, 0);  // several MC blocks, beta 1
    check_gemm_bf16(g, t & 1, t & 2, 33, 65, 17, 2.f, -0.5f, 1);     // general alpha and beta
  }
}

TEST_CASE("gemm_bf16: degenerate sizes, beta == 0 ignores NaN, the same bits for 1 and 2 threads",
          "[kernels][gemm][bf16]") {
  kt::IsaGuard guard;
  liteai::Generator g(22);
  const int64_t M = 150, N = 500, K = 301;
  const kt::Bf16Data A = kt::to_bf16(kt::random_vec(g, M * K)), B = kt::to_bf16(kt::random_vec(g, K * N));
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    INFO("isa " << isa_name(isa));
    std::vector<float> C(12, std::nanf(""));
    const std::vector<uint16_t> one(12, liteai::f32_to_bf16(1.f)), two(12, liteai::f32_to_bf16(2.f));
    gemm_bf16(false, false, 3, 4, 0, 1.f, one.data(), 1, two.data(), 4, 0.f, C.data(), 4);  // K == 0
    for (float v : C) REQUIRE(v == 0.f);
    std::fill(C.begin(), C.end(), std::nanf(""));
    gemm_bf16(false, false, 3, 4, 2, 1.f, one.data(), 2, two.data(), 4, 0.f, C.data(), 4);
    for (float v : C) REQUIRE(v == 4.f);
    gemm_bf16(false, false, 3, 4, 2, 1.f, one.data(), 2, two.data(), 4, 1.f, C.data(), 4);
    for (float v : C) REQUIRE(v == 8.f);
    std::vector<float> C1(M * N), C2(M * N);
    liteai::set_num_threads(1);
    gemm_bf16(false, true, M, N, K, 1.f, A.bf16.data(), K, B.bf16.data(), K, 0.f, C1.data(), N);
    liteai::set_num_threads(2);
    gemm_bf16(false, true, M, N, K, 1.f, A.bf16.data(), K, B.bf16.data(), K, 0.f, C2.data(), N);
    liteai::set_num_threads(0);
    REQUIRE(C1 == C2);
  }
  std::vector<uint16_t> X(4);
  std::vector<float> Y(4);
  REQUIRE_THROWS_AS(gemm_bf16(false, false, 2, 2, 2, 1.f, X.data(), 1, X.data(), 2, 0.f, Y.data(), 2), liteai::Error);
}

TEST_CASE("ISA selection", "[kernels][isa]") {
  kt::IsaGuard guard;
  REQUIRE(isa_supported(Isa::scalar));
  REQUIRE(isa_supported(active_isa()));
  for (Isa isa : kt::isas()) {
    set_isa(isa);
    REQUIRE(active_isa() == isa);
  }
  for (Isa isa : {Isa::sse, Isa::avx2, Isa::avx512, Isa::avx512bf16})
    if (!isa_supported(isa)) REQUIRE_THROWS_AS(set_isa(isa), liteai::Error);
  REQUIRE(std::string(isa_name(Isa::avx2)) == "avx2");
  REQUIRE(std::string(isa_name(Isa::avx512bf16)) == "avx512bf16");
  if (isa_supported(Isa::avx512bf16)) REQUIRE(isa_supported(Isa::avx512));
  for (Isa isa : kt::isas()) {  // only the avx512bf16 table multiplies bf16 pairs in hardware
    set_isa(isa);
    REQUIRE(bf16_dot_products() == (isa == Isa::avx512bf16));
  }
}
