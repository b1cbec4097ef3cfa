/* A program written against the v0.1 header (capi/abi/v0.1/liteai.h, a frozen copy) and linked
 * against the current libliteai.so: everything it uses must keep working in every 0.x release.
 * Usage: liteai_abi_old_program WORK_DIR. Exit status 0 = compatible. */
#include <stdio.h>
#include <string.h>

#include "liteai.h"

#define S 32
#define CHECK(call)                                                                           \
  do {                                                                                        \
    lai_status s_ = (call);                                                                   \
    if (s_ != LAI_OK) {                                                                       \
      fprintf(stderr, "%s: %s: %s\n", #call, lai_status_string(s_), lai_last_error());       \
      return 1;                                                                               \
    }                                                                                         \
  } while (0)
#define EXPECT(cond)                                        \
  do {                                                      \
    if (!(cond)) {                                          \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                             \
    }                                                       \
  } while (0)

static int stop_after_two(const lai_progress* p, void* user) {
  (void)user;
  return p->phase == LAI_PHASE_TRAIN && p->step >= 2;
}

int main(int argc, char** argv) {
  char dir[512], manifest[600], path[600];
  int32_t major = -1, minor = -1, label = 0;
  static uint8_t img[S * S];
  static float probs[8], map[S * S], data[40];
  lai_model *m = NULL, *back = NULL;
  lai_model_info info;
  lai_train_options opt;
  lai_train_result res;
  lai_probmat_config pc;
  lai_probmat* pm = NULL;
  lai_som_options so;
  lai_som* som = NULL;
  lai_hough_options ho;
  lai_circle circles[4];
  lai_image view;
  size_t found = 0;
  double score = 0;
  int32_t bmu[10], i;

  if (argc < 2 || strlen(argv[1]) > 400) return 2;
  snprintf(dir, sizeof dir, "%s", argv[1]);
  snprintf(manifest, sizeof manifest, "%s/manifest.csv", dir);
  lai_version(&major, &minor, NULL);
  EXPECT(major == LAI_VERSION_MAJOR && minor >= LAI_VERSION_MINOR);

  CHECK(lai_phantom_write_set(dir, 10, 1, S));
  CHECK(lai_model_create("compact_cxr", S, 5, 1, &m));
  lai_model_info_init(&info);
  CHECK(lai_model_get_info(m, &info));
  EXPECT(info.struct_size == sizeof info && info.classes == 5 && info.output_size == 5 && info.input_width == S);

  lai_train_options_init(&opt);
  EXPECT(opt.struct_size == sizeof opt && opt.epochs == 1 && opt.batch_size == 16);
  opt.batch_size = 2;
  opt.progress = stop_after_two;
  lai_train_result_init(&res);
  EXPECT(lai_model_train(m, manifest, &opt, &res) == LAI_ERR_CANCELLED);
  EXPECT(res.cancelled == 1 && res.steps == 2);
  opt.progress = NULL;
  opt.max_steps_per_epoch = 1;
  CHECK(lai_model_train(m, manifest, &opt, &res));
  EXPECT(res.steps == 1 && res.epochs_done == 1);

  snprintf(path, sizeof path, "%s/m.lai", dir);
  CHECK(lai_model_save(m, path));
  CHECK(lai_model_load(path, &back));
  CHECK(lai_phantom_render(1, 3, S, img, 0, &label));
  view.data = img;
  view.type = LAI_PIXEL_U8;
  view.width = S;
  view.height = S;
  view.stride_bytes = 0;
  CHECK(lai_model_predict_batch(back, &view, 1, probs, 8));
  EXPECT(probs[0] + probs[1] + probs[2] + probs[3] + probs[4] > 0.999f);
  EXPECT(lai_model_predict(back, NULL, LAI_PIXEL_U8, S, S, 0, probs, 8) == LAI_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(lai_last_error(), "pixels") != NULL);

  lai_probmat_config_init(&pc, S, S);
  pc.bins = 32;
  CHECK(lai_probmat_create(&pc, &pm));
  for (i = 0; i < 5; ++i) {
    CHECK(lai_phantom_render(2, (uint64_t)i * 5, S, img, 0, &label));
    CHECK(lai_probmat_add(pm, img, LAI_PIXEL_U8, S, S, 0));
  }
  CHECK(lai_probmat_wpm(pm, img, LAI_PIXEL_U8, S, S, 0, NULL, map, S * S, &score));
  lai_hough_options_init(&ho);
  CHECK(lai_hough_circles(map, LAI_PIXEL_F32, S, S, 0, &ho, circles, 4, &found));

  for (i = 0; i < 40; ++i) data[i] = (float)(i % 4) + (i >= 20 ? 10.f : 0.f);
  lai_som_options_init(&so);
  so.rows = 2;
  so.cols = 2;
  so.epochs = 3;
  CHECK(lai_som_train(data, 10, 4, &so, &som));
  CHECK(lai_som_map(som, data, 10, 4, bmu, NULL));
  EXPECT(bmu[0] != bmu[9]);

  lai_som_free(som);
  lai_probmat_free(pm);
  lai_model_free(back);
  lai_model_free(m);
  printf("v%d.%d program ran against library %s\n", LAI_VERSION_MAJOR, LAI_VERSION_MINOR, lai_version(NULL, NULL, NULL));
  return 0;
}
