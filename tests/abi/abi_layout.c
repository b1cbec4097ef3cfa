/* Prints the layout of every struct and the value of every enum constant of liteai.h v0.1.
 * Compiled twice (against capi/abi/v0.1/liteai.h and the current capi/liteai.h); the ctest
 * test capi_abi_layout requires identical output: a field moved, retyped or renumbered is an
 * ABI break. Only v0.1 names appear here, so later headers (which append fields) still compile.
 * Sizes of structs with struct_size are not compared (they may grow). */
#include <stddef.h>
#include <stdio.h>

#include "liteai.h"

#define OFF(T, f) printf("%s.%s %zu %zu\n", #T, #f, offsetof(T, f), sizeof(((T*)0)->f))
#define SIZE(T) printf("sizeof %s %zu\n", #T, sizeof(T))
#define VAL(E) printf("%s %d\n", #E, (int)(E))

int main(void) {
  SIZE(lai_image);
  OFF(lai_image, data); OFF(lai_image, type); OFF(lai_image, width); OFF(lai_image, height);
  OFF(lai_image, stride_bytes);
  SIZE(lai_circle);
  OFF(lai_circle, x); OFF(lai_circle, y); OFF(lai_circle, radius); OFF(lai_circle, votes); OFF(lai_circle, support);
  OFF(lai_model_info, struct_size); OFF(lai_model_info, input_width); OFF(lai_model_info, input_height);
  OFF(lai_model_info, channels); OFF(lai_model_info, classes); OFF(lai_model_info, multi_label);
  OFF(lai_model_info, standardize); OFF(lai_model_info, parameters); OFF(lai_model_info, output_size);
  OFF(lai_progress, struct_size); OFF(lai_progress, phase); OFF(lai_progress, epoch); OFF(lai_progress, epochs);
  OFF(lai_progress, step); OFF(lai_progress, steps_per_epoch); OFF(lai_progress, global_step);
  OFF(lai_progress, loss); OFF(lai_progress, metric); OFF(lai_progress, images_per_second);
  OFF(lai_progress, val_loss); OFF(lai_progress, val_metric); OFF(lai_progress, eta_seconds);
  OFF(lai_train_options, struct_size); OFF(lai_train_options, epochs); OFF(lai_train_options, batch_size);
  OFF(lai_train_options, learning_rate); OFF(lai_train_options, optimizer); OFF(lai_train_options, weight_decay);
  OFF(lai_train_options, momentum); OFF(lai_train_options, seed); OFF(lai_train_options, validation_fraction);
  OFF(lai_train_options, max_steps_per_epoch); OFF(lai_train_options, limit); OFF(lai_train_options, augment_hflip);
  OFF(lai_train_options, augment_shift); OFF(lai_train_options, skip_bad_files); OFF(lai_train_options, verbose);
  OFF(lai_train_options, checkpoint_path); OFF(lai_train_options, metrics_csv); OFF(lai_train_options, progress);
  OFF(lai_train_options, user_data);
  OFF(lai_train_result, struct_size); OFF(lai_train_result, epochs_done); OFF(lai_train_result, steps);
  OFF(lai_train_result, loss); OFF(lai_train_result, metric); OFF(lai_train_result, val_loss);
  OFF(lai_train_result, val_metric); OFF(lai_train_result, seconds); OFF(lai_train_result, images_per_second);
  OFF(lai_train_result, cancelled);
  OFF(lai_eval_result, struct_size); OFF(lai_eval_result, loss); OFF(lai_eval_result, metric);
  OFF(lai_eval_result, samples);
  OFF(lai_probmat_config, struct_size); OFF(lai_probmat_config, width); OFF(lai_probmat_config, height);
  OFF(lai_probmat_config, bins); OFF(lai_probmat_config, count_bits); OFF(lai_probmat_config, scale);
  OFF(lai_probmat_config, tolerance); OFF(lai_probmat_config, lo); OFF(lai_probmat_config, hi);
  OFF(lai_wpm_options, struct_size); OFF(lai_wpm_options, kind); OFF(lai_wpm_options, eps);
  OFF(lai_wpm_options, smooth_sigma); OFF(lai_wpm_options, score); OFF(lai_wpm_options, percentile);
  OFF(lai_wpm_options, top_fraction); OFF(lai_wpm_options, bandwidth); OFF(lai_wpm_options, fixed_bandwidth);
  OFF(lai_wpm_options, floor);
  OFF(lai_som_options, struct_size); OFF(lai_som_options, rows); OFF(lai_som_options, cols);
  OFF(lai_som_options, topology); OFF(lai_som_options, toroidal); OFF(lai_som_options, neighborhood);
  OFF(lai_som_options, batch); OFF(lai_som_options, epochs); OFF(lai_som_options, lr_start);
  OFF(lai_som_options, lr_end); OFF(lai_som_options, radius_start); OFF(lai_som_options, radius_end);
  OFF(lai_som_options, pca_init); OFF(lai_som_options, seed); OFF(lai_som_options, progress);
  OFF(lai_som_options, user_data);
  OFF(lai_hough_options, struct_size); OFF(lai_hough_options, min_radius); OFF(lai_hough_options, max_radius);
  OFF(lai_hough_options, min_dist); OFF(lai_hough_options, blur_sigma); OFF(lai_hough_options, low_threshold);
  OFF(lai_hough_options, high_threshold); OFF(lai_hough_options, noise_factor); OFF(lai_hough_options, min_votes);
  OFF(lai_hough_options, min_support); OFF(lai_hough_options, polarity);
  VAL(LAI_OK); VAL(LAI_ERR_INVALID_ARGUMENT); VAL(LAI_ERR_IO); VAL(LAI_ERR_FORMAT); VAL(LAI_ERR_OUT_OF_MEMORY);
  VAL(LAI_ERR_CANCELLED); VAL(LAI_ERR_BUSY); VAL(LAI_ERR_NOT_SUPPORTED); VAL(LAI_ERR_INTERNAL);
  VAL(LAI_PIXEL_U8); VAL(LAI_PIXEL_U16); VAL(LAI_PIXEL_F32);
  VAL(LAI_PHASE_TRAIN); VAL(LAI_PHASE_EPOCH); VAL(LAI_PHASE_EVALUATE);
  VAL(LAI_OPTIMIZER_ADAM); VAL(LAI_OPTIMIZER_SGD); VAL(LAI_OPTIMIZER_ADAMW);
  VAL(LAI_WPM_NEGLOG); VAL(LAI_WPM_ONE_MINUS_REL);
  VAL(LAI_SCORE_TOPK_MEAN); VAL(LAI_SCORE_PERCENTILE); VAL(LAI_SCORE_MAX); VAL(LAI_SCORE_MEAN);
  VAL(LAI_BANDWIDTH_SILVERMAN); VAL(LAI_BANDWIDTH_SCOTT); VAL(LAI_BANDWIDTH_FIXED);
  VAL(LAI_SOM_RECTANGULAR); VAL(LAI_SOM_HEXAGONAL); VAL(LAI_SOM_GAUSSIAN); VAL(LAI_SOM_BUBBLE);
  VAL(LAI_SOM_MEXICAN_HAT); VAL(LAI_POLARITY_BRIGHT); VAL(LAI_POLARITY_DARK); VAL(LAI_POLARITY_BOTH);
  VAL(LAI_VERSION_MAJOR);
  return 0;
}
