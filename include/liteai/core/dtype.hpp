#pragma once
#include <cstdint>
#include <cstring>

namespace liteai {

// f32 is the compute and master-weight type; bf16 stores activations/weights compactly; u8 holds
// raw bytes (the codes of 8-bit quantized optimizer state): stored, copied and saved, never computed on.
enum class DType : uint8_t { f32 = 0, bf16 = 1, u8 = 2 };

inline size_t dtype_size(DType t) { return t == DType::f32 ? 4 : t == DType::bf16 ? 2 : 1; }
inline const char* dtype_name(DType t) { return t == DType::f32 ? "f32" : t == DType::bf16 ? "bf16" : "u8"; }

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
