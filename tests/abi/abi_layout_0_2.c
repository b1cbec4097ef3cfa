/* Layout of the structs added in liteai.h 0.2 (see abi_layout.c for v0.1). Compiled against the
 * frozen capi/abi/v0.2/liteai.h and the current capi/liteai.h; the ctest test capi_abi_layout_0_2
 * requires identical output. Sizes of structs with struct_size are not compared (they may grow). */
#include <stddef.h>
#include <stdio.h>

#include "liteai.h"

#define OFF(T, f) printf("%s.%s %zu %zu\n", #T, #f, offsetof(T, f), sizeof(((T*)0)->f))

int main(void) {
  OFF(lai_score_options, struct_size); OFF(lai_score_options, score); OFF(lai_score_options, percentile);
  OFF(lai_score_options, top_fraction);
  OFF(lai_autoencoder_options, struct_size); OFF(lai_autoencoder_options, size); OFF(lai_autoencoder_options, width);
  OFF(lai_autoencoder_options, epochs); OFF(lai_autoencoder_options, batch_size);
  OFF(lai_autoencoder_options, learning_rate); OFF(lai_autoencoder_options, seed);
  OFF(lai_autoencoder_options, smooth_sigma); OFF(lai_autoencoder_options, calibration_floor);
  OFF(lai_autoencoder_options, max_images); OFF(lai_autoencoder_options, label);
  OFF(lai_autoencoder_options, skip_bad_files); OFF(lai_autoencoder_options, verbose);
  OFF(lai_autoencoder_options, progress); OFF(lai_autoencoder_options, user_data);
  OFF(lai_eval_summary, struct_size); OFF(lai_eval_summary, classes); OFF(lai_eval_summary, multi_label);
  OFF(lai_eval_summary, samples); OFF(lai_eval_summary, threshold); OFF(lai_eval_summary, accuracy);
  OFF(lai_eval_summary, exact_match); OFF(lai_eval_summary, macro_precision); OFF(lai_eval_summary, macro_recall);
  OFF(lai_eval_summary, macro_f1); OFF(lai_eval_summary, macro_auroc); OFF(lai_eval_summary, auroc_classes);
  OFF(lai_class_metrics, struct_size); OFF(lai_class_metrics, support); OFF(lai_class_metrics, predicted);
  OFF(lai_class_metrics, tp); OFF(lai_class_metrics, fp); OFF(lai_class_metrics, fn); OFF(lai_class_metrics, tn);
  OFF(lai_class_metrics, precision); OFF(lai_class_metrics, recall); OFF(lai_class_metrics, f1);
  OFF(lai_class_metrics, auroc);
  return 0;
}
