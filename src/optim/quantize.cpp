#include "liteai/optim/quantize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/quant_kernels_impl.hpp"
#include "liteai/core/parallel.hpp"

namespace liteai::optim {

namespace {

// A map's values and the kernels' table over the top 16 bits of a float (kernels/quant_kernels.hpp):
// for each bucket, the nearest value of its smallest float and, when a midpoint between two values
// falls inside the bucket, the key from which on the next value is nearer. No bucket holds two
// midpoints (checked when the table is built), so the nearest value is one table read and one
// integer comparison.
struct Map {
  std::array<float, 256> value{};
  std::vector<uint32_t> buckets;  // 65536 entries
  kernels::QuantTable table{};

  explicit Map(bool is_signed) {
    // Decade d = 10^(i - 6), i = 0..6, holds 2^i (signed) or 2^(i+1) (unsigned) values at the
    // centres of equal steps of [0.1, 1] * d: the number of values doubles with each decade.
    std::vector<double> v;
    for (int i = 0; i < 7; ++i) {
      const int count = is_signed ? 1 << i : 1 << (i + 1);
      const double decade = std::pow(10.0, i - 6);
      for (int k = 0; k < count; ++k) {
        const double centre = decade * (0.1 + 0.9 * (k + 0.5) / count);
        v.push_back(centre);
        if (is_signed) v.push_back(-centre);
      }
    }
    v.push_back(0.0);
    v.push_back(1.0);
    std::sort(v.begin(), v.end());
    for (size_t i = 0; i < 256; ++i) value[i] = static_cast<float>(v[i]);
    // Midpoints between neighbouring (float) values, exact in double; mid[255] = +inf.
    std::array<double, 256> mid{};
    for (size_t i = 0; i + 1 < 256; ++i) mid[i] = 0.5 * (double(value[i]) + double(value[i + 1]));
    mid[255] = std::numeric_limits<double>::infinity();
    const uint32_t zero_code = static_cast<uint32_t>(std::lower_bound(value.begin(), value.end(), 0.f) - value.begin());
    buckets.resize(65536);
    for (uint32_t b = 0; b < 65536; ++b) {
      const bool negative = b & 0x8000u;
      // The float of bucket b with key k (the key grows with the value, for either sign).
      auto at = [&](uint32_t k) { return bits((b << 16) | (negative ? 0xffffu - k : k)); };
      const float lo = at(0), hi = at(0xffff);
      if (std::isnan(lo) || std::isnan(hi)) {
        buckets[b] = zero_code | 0x10000u << 8;
        continue;
      }
      // Nearest, ties to the lower index: the index is the number of midpoints below the float.
      const size_t c = static_cast<size_t>(std::lower_bound(mid.begin(), mid.end(), double(lo)) - mid.begin());
      uint32_t threshold = 0x10000u;
      if (c < 255 && mid[c] < double(hi)) {
        LAI_CHECK_KIND(ErrorKind::internal, !(mid[c + 1] < double(hi)),
                       "quantization map: two midpoints in one float bucket");
        uint32_t a = 0, z = 0xffff;  // the smallest key whose float lies above mid[c]
        while (a < z) {
          const uint32_t m = (a + z) / 2;
          if (double(at(m)) > mid[c]) z = m;
          else a = m + 1;
        }
        threshold = a;
      }
      buckets[b] = static_cast<uint32_t>(std::min<size_t>(c, 255)) | threshold << 8;
    }
    table = {value.data(), buckets.data()};
  }
  static float bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

const Map& map_of(QuantMap m) {
  static const Map signed_map(true), unsigned_map(false);
  return m == QuantMap::signed_dynamic ? signed_map : unsigned_map;
}

}  // namespace

const float* quant_values(QuantMap map) { return map_of(map).value.data(); }

uint8_t quantize_normalized(QuantMap map, float y) { return kernels::detail::q8_code(map_of(map).table, y); }

float quantize_block(QuantMap map, const float* x, int64_t n, uint8_t* codes) {
  return kernels::q8_encode(n, map_of(map).table, x, codes);
}

void dequantize_block(QuantMap map, const uint8_t* codes, float absmax, int64_t n, float* x) {
  kernels::q8_decode(n, map_of(map).table, codes, absmax, x);
}

Quantized quantize(QuantMap map, const Tensor& x_in) {
  Tensor x = x_in.contiguous();
  const int64_t n = x.numel(), blocks = quant_blocks(n);
  Quantized q{Tensor::empty(x.shape(), DType::u8), Tensor::empty({blocks})};
  const float* src = x.data();
  uint8_t* codes = q.codes.data_u8();
  float* absmax = q.absmax.data();
  parallel_for(0, blocks, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t off = i * kQuantBlock, len = std::min(kQuantBlock, n - off);
      absmax[i] = quantize_block(map, src + off, len, codes + off);
    }
  });
  return q;
}

Tensor dequantize(QuantMap map, const Quantized& q) {
  const int64_t n = q.codes.numel(), blocks = quant_blocks(n);
  LAI_CHECK(q.codes.dtype() == DType::u8 && q.codes.is_contiguous() && q.absmax.dtype() == DType::f32 &&
                q.absmax.numel() == blocks,
            "dequantize: expects u8 codes and ", blocks, " f32 block maxima, got ", q.codes.describe(), " and ",
            q.absmax.describe());
  Tensor out = Tensor::empty(q.codes.shape());
  const uint8_t* codes = q.codes.data_u8();
  Tensor absmax = q.absmax.contiguous();
  const float* am = absmax.data();
  float* dst = out.data();
  parallel_for(0, blocks, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t off = i * kQuantBlock;
      dequantize_block(map, codes + off, am[i], std::min(kQuantBlock, n - off), dst + off);
    }
  });
  return out;
}

}  // namespace liteai::optim
