/* liteai from plain C: synthetic phantoms -> train a compact model -> save, reload, predict ->
 * ProbMat of normal images -> WPM and score of a phantom with a foreign body -> Hough circles.
 * SYNTHETIC data only (drawn by formula). Usage: liteai_c_example [work_dir]
 * Compiled as C99 with -Wall -Wextra -Werror -pedantic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liteai.h"

#define SIZE 64

#define CHECK(call)                                                                     \
  do {                                                                                  \
    lai_status s_ = (call);                                                             \
    if (s_ != LAI_OK) {                                                                 \
      fprintf(stderr, "%s failed: %s: %s\n", #call, lai_status_string(s_), lai_last_error()); \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)

static int on_progress(const lai_progress* p, void* user) {
  int* calls = (int*)user;
  ++*calls;
  if (p->phase == LAI_PHASE_EPOCH)
    printf("  epoch %d/%d: loss %.4f accuracy %.3f\n", p->epoch, p->epochs, p->loss, p->metric);
  else if (p->step % 2 == 0)
    printf("  step %lld/%lld loss %.4f %.0f img/s\n", (long long)p->step, (long long)p->steps_per_epoch, p->loss,
           p->images_per_second);
  return 0; /* non-zero would cancel */
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "liteai-c-example";
  char data_dir[512], manifest[1024], model_path[1024], image_path[1024], name[64];
  int32_t major, minor, patch, label, i;
  int calls = 0;
  lai_model* model = NULL;
  lai_model* loaded = NULL;
  lai_model_info info;
  lai_train_options opt;
  lai_train_result res;
  lai_probmat_config pc;
  lai_probmat* pm = NULL;
  lai_circle circles[8];
  size_t found = 0;
  static uint8_t img[SIZE * SIZE];
  static float probs[16], probs_file[16], map[SIZE * SIZE];
  double score_normal = 0, score_fb = 0;

  printf("liteai %s (header %d.%d.%d)\n", lai_version(&major, &minor, &patch), LAI_VERSION_MAJOR, LAI_VERSION_MINOR,
         LAI_VERSION_PATCH);
  if (major != LAI_VERSION_MAJOR) {
    fprintf(stderr, "ABI major mismatch\n");
    return 1;
  }
  if (strlen(dir) > 400) {
    fprintf(stderr, "work_dir is too long\n");
    return 2;
  }
  snprintf(data_dir, sizeof data_dir, "%.400s/phantoms", dir);
  snprintf(manifest, sizeof manifest, "%s/manifest.csv", data_dir);
  snprintf(model_path, sizeof model_path, "%.400s/model.lai", dir);

  /* 1. Synthetic training data: 20 phantoms of 64x64 in 5 classes, with a manifest. */
  CHECK(lai_phantom_write_set(data_dir, 20, 7, SIZE));

  /* 2. A compact_cxr for 64x64 gray input and 5 classes, trained one epoch. */
  CHECK(lai_model_create("compact_cxr", SIZE, 5, 42, &model));
  lai_train_options_init(&opt);
  opt.epochs = 1;
  opt.batch_size = 4;
  opt.learning_rate = 1e-3f;
  opt.progress = on_progress;
  opt.user_data = &calls;
  lai_train_result_init(&res);
  CHECK(lai_model_train(model, manifest, &opt, &res));
  printf("trained: %lld steps, loss %.4f, %.0f images/s, %d callbacks\n", (long long)res.steps, res.loss,
         res.images_per_second, calls);
  if (calls == 0 || res.steps != 5) {
    fprintf(stderr, "expected 5 steps with callbacks, got %lld steps, %d callbacks\n", (long long)res.steps, calls);
    return 1;
  }

  /* 3. Save, free, reload, inspect. */
  CHECK(lai_model_save(model, model_path));
  lai_model_free(model);
  CHECK(lai_model_load(model_path, &loaded));
  lai_model_info_init(&info);
  CHECK(lai_model_get_info(loaded, &info));
  printf("model: %dx%dx%d input, %d classes, %lld parameters\n", info.input_width, info.input_height, info.channels,
         info.classes, (long long)info.parameters);
  if (info.classes != 5 || info.output_size != 5 || info.input_width != SIZE) return 1;
  for (i = 0; i < info.classes; ++i) {
    CHECK(lai_model_class_name(loaded, i, name, sizeof name, NULL));
    printf("  class %d: %s\n", i, name);
  }

  /* 4. Predict on a caller buffer (a phantom rendered in memory) and on a PNG file. */
  CHECK(lai_phantom_render(7, 0, SIZE, img, 0, &label));
  CHECK(lai_model_predict(loaded, img, LAI_PIXEL_U8, SIZE, SIZE, 0, probs, 16));
  {
    float sum = 0;
    for (i = 0; i < 5; ++i) sum += probs[i];
    printf("probabilities of phantom 0 (label %d): %.3f %.3f %.3f %.3f %.3f (sum %.4f)\n", label, probs[0], probs[1],
           probs[2], probs[3], probs[4], sum);
    if (sum < 0.999f || sum > 1.001f) return 1;
  }
  snprintf(image_path, sizeof image_path, "%s/images/000000.png", data_dir);
  CHECK(lai_model_predict_file(loaded, image_path, probs_file, 16));
  for (i = 0; i < 5; ++i)
    if (probs_file[i] < probs[i] - 1e-4f || probs_file[i] > probs[i] + 1e-4f) {
      fprintf(stderr, "file and buffer predictions differ at class %d: %f vs %f\n", i, probs_file[i], probs[i]);
      return 1;
    }

  /* 5. ProbMat of 30 normal phantoms (streamed one at a time), WPM of a normal and a foreign-body image. */
  lai_probmat_config_init(&pc, SIZE, SIZE);
  pc.bins = 64;
  CHECK(lai_probmat_create(&pc, &pm));
  for (i = 0; i < 30; ++i) {
    CHECK(lai_phantom_render(100, (uint64_t)i * 5, SIZE, img, 0, &label)); /* every 5th phantom is normal */
    if (label != 0) return 1;
    CHECK(lai_probmat_add(pm, img, LAI_PIXEL_U8, SIZE, SIZE, 0));
  }
  CHECK(lai_phantom_render(200, 0, SIZE, img, 0, &label));
  CHECK(lai_probmat_wpm(pm, img, LAI_PIXEL_U8, SIZE, SIZE, 0, NULL, NULL, 0, &score_normal));
  CHECK(lai_phantom_render(200, 1, SIZE, img, 0, &label)); /* index 1: foreign body */
  CHECK(lai_probmat_wpm(pm, img, LAI_PIXEL_U8, SIZE, SIZE, 0, NULL, map, SIZE * SIZE, &score_fb));
  printf("WPM scores: normal %.3f, foreign body (label %d) %.3f\n", score_normal, label, score_fb);

  /* 6. Round things on the WPM. */
  {
    lai_hough_options ho;
    lai_hough_options_init(&ho);
    ho.min_radius = 2;
    ho.max_radius = 10;
    CHECK(lai_hough_circles(map, LAI_PIXEL_F32, SIZE, SIZE, 0, &ho, circles, 8, &found));
    printf("Hough: %zu circle(s)", found);
    if (found > 0) printf(", strongest at (%.1f, %.1f) r %.1f", circles[0].x, circles[0].y, circles[0].radius);
    printf("\n");
  }

  /* 7. (0.2) The WPM as a heatmap and as an overlay on the radiograph. */
  {
    lai_image iv, mv;
    char png[1100];
    iv.data = img;
    iv.type = LAI_PIXEL_U8;
    iv.width = iv.height = SIZE;
    iv.stride_bytes = 0;
    mv = iv;
    mv.data = map;
    mv.type = LAI_PIXEL_F32;
    snprintf(png, sizeof png, "%s/wpm_heatmap.png", data_dir);
    CHECK(lai_write_heatmap_png(png, &mv, 0.f, -1.f));
    snprintf(png, sizeof png, "%s/wpm_overlay.png", data_dir);
    CHECK(lai_write_overlay_png(png, &iv, &mv, (float)score_normal, -1.f, 0.7f));
    printf("wrote %s\n", png);
  }

  /* 8. (0.2) An autoencoder trained on the normal phantoms of the manifest scores the same image. */
  {
    lai_autoencoder* ae = NULL;
    lai_autoencoder_options ao;
    int32_t mw = 0, mh = 0;
    double ae_score = 0;
    lai_autoencoder_options_init(&ao);
    ao.size = 16;
    ao.width = 4;
    ao.epochs = 2;
    ao.batch_size = 4;
    ao.label = "normal";
    CHECK(lai_autoencoder_train(manifest, &ao, &ae));
    CHECK(lai_autoencoder_get_info(ae, &mw, &mh));
    CHECK(lai_autoencoder_score(ae, img, LAI_PIXEL_U8, SIZE, SIZE, 0, NULL, map, SIZE * SIZE, &ae_score));
    printf("autoencoder: %dx%d map, foreign-body image score %.3f\n", mw, mh, ae_score);
    lai_autoencoder_free(ae);
  }

  /* 9. (0.2) Per-class precision, recall and AUROC of the reloaded model. */
  {
    lai_eval_report* rep = NULL;
    lai_eval_summary sum;
    lai_class_metrics cm;
    int64_t confusion[25];
    CHECK(lai_model_evaluate_report(loaded, manifest, NULL, 0.5, NULL, &rep));
    lai_eval_summary_init(&sum);
    CHECK(lai_eval_report_get_summary(rep, &sum));
    CHECK(lai_eval_report_confusion(rep, confusion, 25));
    printf("report: %lld samples, accuracy %.3f, macro F1 %.3f\n", (long long)sum.samples, sum.accuracy, sum.macro_f1);
    for (i = 0; i < sum.classes; ++i) {
      lai_class_metrics_init(&cm);
      CHECK(lai_eval_report_get_class(rep, i, &cm));
      CHECK(lai_eval_report_class_name(rep, i, name, sizeof name, NULL));
      printf("  %-14s support %lld precision %.3f recall %.3f AUROC %.3f\n", name, (long long)cm.support,
             cm.precision, cm.recall, cm.auroc);
    }
    lai_eval_report_free(rep);
  }

  lai_probmat_free(pm);
  lai_model_free(loaded);
  printf("ok\n");
  return 0;
}
