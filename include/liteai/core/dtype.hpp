#pragma once
#include <cstdint>
#include <cstring>

namespace liteai {

// f32 is the compute and master-weight type; bf16 stores activations/weights compactly. The
// integer types hold raw values that are stored, copied and saved but never computed on: u8 the
// codes of 8-bit quantized optimizer state, u16/u32 counts (a ProbMat's histograms).
enum class DType : uint8_t { f32 = 0, bf16 = 1, u8 = 2, u16 = 3, u32 = 4 };

inline bool is_integer(DType t) { return t == DType::u8 || t == DType::u16 || t == DType::u32; }
inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::u32: return 4;
    case DType::bf16: case DType::u16: return 2;
    case DType::u8: return 1;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::u8: return "u8";
    case DType::u16: return "u16";
    case DType::u32: return "u32";
  }
  return "?";
}

// bf16 <-> f32 with round-to-nearest-even (NaN kept quiet).
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace liteai
