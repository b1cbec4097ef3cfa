/* Layout of the structs and enum values added in liteai.h 0.3 (see abi_layout.c for v0.1).
 * Compiled against the frozen capi/abi/v0.3/liteai.h and the current capi/liteai.h; the ctest test
 * capi_abi_layout_0_3 requires identical output. Sizes of structs with struct_size are not
 * compared (they may grow). */
#include <stddef.h>
#include <stdio.h>

#include "liteai.h"

#define OFF(T, f) printf("%s.%s %zu %zu\n", #T, #f, offsetof(T, f), sizeof(((T*)0)->f))
#define VAL(E) printf("%s %d\n", #E, (int)(E))

int main(void) {
  OFF(lai_senafas_options, struct_size); OFF(lai_senafas_options, patch); OFF(lai_senafas_options, max_features);
  OFF(lai_senafas_options, rows); OFF(lai_senafas_options, cols); OFF(lai_senafas_options, sd_floor);
  OFF(lai_senafas_options, log_scale); OFF(lai_senafas_options, epochs); OFF(lai_senafas_options, seed);
  OFF(lai_senafas_options, progress); OFF(lai_senafas_options, user_data);
  OFF(lai_senafas_info, struct_size); OFF(lai_senafas_info, map_width); OFF(lai_senafas_info, map_height);
  OFF(lai_senafas_info, channel_width); OFF(lai_senafas_info, channel_height); OFF(lai_senafas_info, patch);
  OFF(lai_senafas_info, features); OFF(lai_senafas_info, rows); OFF(lai_senafas_info, cols);
  OFF(lai_senafas_info, log_scale); OFF(lai_senafas_info, floor);
  VAL(LAI_PRECISION_F32); VAL(LAI_PRECISION_BF16);
  return 0;
}
