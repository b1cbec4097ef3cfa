// libFuzzer target: lai_model_load_memory on any bytes returns a status (never crashes, leaks
// or throws); a model that loads answers info and predict consistently and saves again.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "liteai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lai_model* m = nullptr;
  if (lai_model_load_memory(data, size, &m) != LAI_OK) {
    if (m != nullptr || lai_last_error()[0] == '\0') __builtin_trap();
    return 0;
  }
  lai_model_info info;
  lai_model_info_init(&info);
  if (lai_model_get_info(m, &info) != LAI_OK) __builtin_trap();
  // Predict only on small networks (a mutated header may describe a huge but valid one).
  if (info.output_size > 0 && info.output_size < 100000 && info.parameters < 2000000 && info.input_width <= 64 &&
      info.input_height <= 64) {
    std::vector<float> out(size_t(info.output_size));
    uint8_t px[16 * 16];
    for (int i = 0; i < 256; ++i) px[i] = uint8_t(i * 37);
    lai_model_predict(m, px, LAI_PIXEL_U8, 16, 16, 0, out.data(), out.size());
  }
  char buf[256];
  lai_model_architecture(m, buf, sizeof buf, nullptr);
  for (int32_t i = 0; i < info.classes && i < 64; ++i) lai_model_class_name(m, i, buf, sizeof buf, nullptr);
  lai_model_free(m);
  return 0;
}
