/* liteai_c_predict: a saved model used from plain C, one line per image: the path, the top
 * class and every class probability. Usage: liteai_c_predict MODEL.lai IMAGE...
 * (`liteai demo` runs it on the model it saved; compiled as C99 with -Werror -pedantic). */
#include <stdio.h>
#include <stdlib.h>

#include "liteai.h"

int main(int argc, char** argv) {
  lai_model* model = NULL;
  lai_model_info info;
  float* probs;
  char name[128];
  int a, c, best, failed = 0;
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.lai IMAGE...\n", argv[0]);
    return 2;
  }
  if (lai_model_load(argv[1], &model) != LAI_OK) {
    fprintf(stderr, "%s\n", lai_last_error());
    return 1;
  }
  lai_model_info_init(&info);
  if (lai_model_get_info(model, &info) != LAI_OK || info.output_size <= 0 ||
      (probs = (float*)malloc((size_t)info.output_size * sizeof(float))) == NULL) {
    fprintf(stderr, "%s: cannot read the model's output size\n", argv[1]);
    lai_model_free(model);
    return 1;
  }
  for (a = 2; a < argc; ++a) {
    if (lai_model_predict_file(model, argv[a], probs, (size_t)info.output_size) != LAI_OK) {
      fprintf(stderr, "%s\n", lai_last_error()); /* the message names the file and the problem */
      failed = 1;
      continue;
    }
    for (best = 0, c = 1; c < (int)info.output_size; ++c)
      if (probs[c] > probs[best]) best = c;
    if (lai_model_class_name(model, best, name, sizeof name, NULL) != LAI_OK) sprintf(name, "%d", best);
    printf("%s\t%s", argv[a], name);
    for (c = 0; c < (int)info.output_size; ++c) printf("\t%.9g", probs[c]);
    printf("\n");
  }
  free(probs);
  lai_model_free(model);
  return failed;
}
