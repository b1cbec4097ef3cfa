#include "liteai/optim/quantize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "liteai/core/parallel.hpp"

namespace liteai::optim {

namespace {

// A map's values, the midpoints between neighbours, and a table over the top 16 bits of a float
// (sign, exponent, 7 mantissa bits) that gives, for every float of that bucket, how many midpoints
// lie below the bucket. No bucket holds two midpoints (checked when the table is built), so the
// nearest value is one table read and one comparison: index = below[bucket] + (y > mid[below]).
struct Map {
  std::array<float, 256> value{};
  std::array<float, 256> mid{};  // mid[i] between value[i] and value[i + 1]; mid[255] = +inf
  std::vector<uint8_t> below;    // 65536 entries

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
    for (size_t i = 0; i + 1 < 256; ++i) mid[i] = static_cast<float>(0.5 * (v[i] + v[i + 1]));
    mid[255] = std::numeric_limits<float>::infinity();
    below.resize(65536);
    for (uint32_t b = 0; b < 65536; ++b) {
      const bool negative = b & 0x8000u;
      // The smallest and largest float of the bucket (negative floats grow in magnitude with the bits).
      const float lo = bits(negative ? (b << 16) | 0xffffu : b << 16);
      const float hi = bits(negative ? b << 16 : (b << 16) | 0xffffu);
      if (std::isnan(lo) || std::isnan(hi)) {
        below[b] = static_cast<uint8_t>(std::lower_bound(value.begin(), value.end(), 0.f) - value.begin());
        continue;
      }
      const size_t n = static_cast<size_t>(std::lower_bound(mid.begin(), mid.end(), lo) - mid.begin());
      LAI_CHECK_KIND(ErrorKind::internal, n + 1 >= 256 || !(mid[n + 1] <= hi),
                     "quantization map: two midpoints in one float bucket");
      below[b] = static_cast<uint8_t>(std::min<size_t>(n, 255));
    }
  }
  static float bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  uint8_t nearest(float y) const {
    uint32_t u;
    std::memcpy(&u, &y, 4);
    const uint8_t i = below[u >> 16];
    return static_cast<uint8_t>(i + (y > mid[i]));
  }
};

const Map& map_of(QuantMap m) {
  static const Map signed_map(true), unsigned_map(false);
  return m == QuantMap::signed_dynamic ? signed_map : unsigned_map;
}

}  // namespace

const float* quant_values(QuantMap map) { return map_of(map).value.data(); }

uint8_t quantize_normalized(QuantMap map, float y) { return map_of(map).nearest(y); }

float quantize_block(QuantMap map, const float* x, int64_t n, uint8_t* codes) {
  const Map& m = map_of(map);
  float absmax = 0.f;
  for (int64_t k = 0; k < n; ++k) absmax = std::max(absmax, std::fabs(x[k]));
  // An all-zero block decodes to zeros whatever its codes; give them the code of 0 all the same.
  const float inv = absmax > 0.f ? 1.f / absmax : 0.f;
  for (int64_t k = 0; k < n; ++k) codes[k] = m.nearest(x[k] * inv);
  return absmax;
}

void dequantize_block(QuantMap map, const uint8_t* codes, float absmax, int64_t n, float* x) {
  const float* v = map_of(map).value.data();
  for (int64_t k = 0; k < n; ++k) x[k] = v[codes[k]] * absmax;
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
