/* Writes seed corpora for the fuzzers into DIR/{capi_model,capi_anomaly_files,capi_image,
 * model_file,npy,manifest,idx,onnx_import}: a tiny valid model, ProbMat, SOM, autoencoder and
 * senafas file, small images, .npy arrays, CSV manifests, IDX files (plain and gzip'ed) and small
 * ONNX exports (when the library has ONNX). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "liteai.h"

static int write_bytes(const char* path, const void* data, size_t n) {
  FILE* f = fopen(path, "wb");
  if (!f) return 1;
  if (fwrite(data, 1, n, f) != n) {
    fclose(f);
    return 1;
  }
  return fclose(f) != 0;
}

/* A float32 C-order .npy of `count` values with the given shape text, e.g. "(2, 3)". */
static int write_npy(const char* path, const char* shape, int count) {
  char h[128];
  unsigned char b[256 + 64 * 4];
  int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape), i;
  while ((10 + n + 1) % 64) h[n++] = ' ';
  h[n++] = '\n';
  memcpy(b, "\x93NUMPY\x01\x00", 8);
  b[8] = (unsigned char)n;
  b[9] = 0;
  memcpy(b + 10, h, (size_t)n);
  for (i = 0; i < count; ++i) {
    float v = (float)i * 0.5f;
    memcpy(b + 10 + n + 4 * i, &v, 4);
  }
  return write_bytes(path, b, (size_t)(10 + n + 4 * count));
}

/* IDX seeds: a prefix byte (1 images, 0 labels) then the file, plain or gzip'ed. */
static int write_idx(const char* dir) {
  unsigned char img[16 + 3 * 2 * 2] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
  unsigned char lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 7, 9};
  unsigned char buf[256];
  char p[1024];
  gzFile g;
  int i;
  for (i = 0; i < 12; ++i) img[16 + i] = (unsigned char)(i * 20);
  buf[0] = 1;
  memcpy(buf + 1, img, sizeof img);
  snprintf(p, sizeof p, "%s/idx/images", dir);
  if (write_bytes(p, buf, 1 + sizeof img)) return 1;
  buf[0] = 0;
  memcpy(buf + 1, lab, sizeof lab);
  snprintf(p, sizeof p, "%s/idx/labels", dir);
  if (write_bytes(p, buf, 1 + sizeof lab)) return 1;
  /* gzip'ed images behind the prefix byte: write the .gz, then prepend the byte */
  snprintf(p, sizeof p, "%s/idx.gz", dir);
  g = gzopen(p, "wb");
  if (!g || gzwrite(g, img, sizeof img) != (int)sizeof img || gzclose(g) != Z_OK) return 1;
  return 0;
}

static int copy_prefixed(const char* src, const char* dst, int prefix) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  int c;
  if (!in || !out) return 1;
  if (prefix >= 0) fputc(prefix, out);
  while ((c = fgetc(in)) != EOF) fputc(c, out);
  fclose(in);
  fclose(out);
  return 0;
}

int main(int argc, char** argv) {
  char p[1024], q[1024];
  lai_model* m = NULL;
  lai_probmat* pm = NULL;
  lai_som* som = NULL;
  lai_autoencoder* ae = NULL;
  lai_autoencoder_options ao;
  lai_senafas* sen = NULL;
  lai_senafas_options sno;
  static float maps[2][12 * 10];
  lai_image map_views[2];
  lai_image view;
  lai_probmat_config c;
  lai_som_options so;
  static unsigned char img[32 * 32];
  float data[24];
  int i;
  const char* d;
  if (argc < 2) return 2;
  d = argv[1];
  if (lai_model_create("{\"name\": \"autoencoder\", \"size\": 8, \"width\": 2}", 0, 0, 1, &m) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/capi_model/tiny.lai", d);
  if (lai_model_save(m, p) != LAI_OK) goto fail;
  snprintf(q, sizeof q, "%s/model_file/tiny.lai", d);
  if (copy_prefixed(p, q, -1)) goto fail;
  lai_model_free(m);
  if (lai_model_create("compact_cxr", 8, 2, 1, &m) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/capi_model/cxr8.lai", d);
  if (lai_model_save(m, p) != LAI_OK) goto fail;
  lai_model_free(m);
  /* ONNX: exports of a tiny autoencoder and teacher (the fuzz target's first byte picks options). */
  {
    const char* nets[2] = {"{\"name\": \"autoencoder\", \"size\": 8, \"width\": 2}",
                           "{\"name\": \"teacher_cxr\", \"size\": 16, \"width\": 1, \"classes\": 2}"};
    for (i = 0; i < 2; ++i) {
      lai_status st;
      if (lai_model_create(nets[i], 0, 0, 1, &m) != LAI_OK) goto fail;
      snprintf(p, sizeof p, "%s/net%d.onnx", d, i);
      st = lai_model_export_onnx(m, p);
      lai_model_free(m);
      if (st == LAI_ERR_NOT_SUPPORTED) break; /* a build without ONNX */
      if (st != LAI_OK) goto fail;
      snprintf(q, sizeof q, "%s/onnx_import/net%d", d, i);
      if (copy_prefixed(p, q, i)) goto fail;
    }
  }

  lai_probmat_config_init(&c, 8, 6);
  c.bins = 32;
  c.count_bits = 16;
  if (lai_probmat_create(&c, &pm) != LAI_OK) goto fail;
  for (i = 0; i < 48; ++i) img[i] = (unsigned char)(i * 5);
  if (lai_probmat_add(pm, img, LAI_PIXEL_U8, 8, 6, 0) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/pm.lpm", d);
  if (lai_probmat_save(pm, p) != LAI_OK) goto fail;
  snprintf(q, sizeof q, "%s/capi_anomaly_files/pm", d);
  if (copy_prefixed(p, q, 0)) goto fail;
  lai_probmat_free(pm);

  for (i = 0; i < 24; ++i) data[i] = (float)(i % 3) + (i >= 12 ? 4.f : 0.f);
  lai_som_options_init(&so);
  so.rows = 2;
  so.cols = 2;
  so.epochs = 2;
  if (lai_som_train(data, 8, 3, &so, &som) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/s.lsom", d);
  if (lai_som_save(som, p) != LAI_OK) goto fail;
  snprintf(q, sizeof q, "%s/capi_anomaly_files/som", d);
  if (copy_prefixed(p, q, 1)) goto fail;
  lai_som_free(som);

  /* An autoencoder with its calibration map (prefix 2 routes it to lai_autoencoder_load). */
  lai_autoencoder_options_init(&ao);
  ao.size = 8;
  ao.width = 2;
  ao.epochs = 1;
  view.data = img;
  view.type = LAI_PIXEL_U8;
  view.width = 8;
  view.height = 6;
  view.stride_bytes = 0;
  if (lai_autoencoder_train_images(&view, 1, &ao, &ae) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/ae.lai", d);
  if (lai_autoencoder_save(ae, p) != LAI_OK) goto fail;
  snprintf(q, sizeof q, "%s/capi_anomaly_files/ae", d);
  if (copy_prefixed(p, q, 2)) goto fail;
  lai_autoencoder_free(ae);

  /* A senafas model on two 12x10 maps (prefix 4 routes it to lai_senafas_load). */
  for (i = 0; i < 12 * 10; ++i) {
    maps[0][i] = (float)(i % 7) * 0.3f;
    maps[1][i] = (float)(i % 5) * 0.4f;
  }
  for (i = 0; i < 2; ++i) {
    map_views[i].data = maps[i];
    map_views[i].type = LAI_PIXEL_F32;
    map_views[i].width = 12;
    map_views[i].height = 10;
    map_views[i].stride_bytes = 0;
  }
  lai_senafas_options_init(&sno);
  sno.patch = 4;
  sno.max_features = 4;
  sno.rows = 2;
  sno.cols = 2;
  sno.epochs = 2;
  if (lai_senafas_fit(map_views, 2, &sno, &sen) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/s.lsnf", d);
  if (lai_senafas_save(sen, p) != LAI_OK) goto fail;
  snprintf(q, sizeof q, "%s/capi_anomaly_files/senafas", d);
  if (copy_prefixed(p, q, 4)) goto fail;
  lai_senafas_free(sen);

  snprintf(p, sizeof p, "%s/phantoms", d);
  if (lai_phantom_write_set(p, 1, 1, 32) != LAI_OK) goto fail;
  snprintf(p, sizeof p, "%s/phantoms/images/000000.png", d);
  snprintf(q, sizeof q, "%s/capi_image/phantom.png", d);
  if (copy_prefixed(p, q, -1)) goto fail;
  {
    FILE* f;
    snprintf(q, sizeof q, "%s/capi_image/small.pgm", d);
    f = fopen(q, "wb");
    if (!f) goto fail;
    fprintf(f, "P5\n4 3\n255\n");
    for (i = 0; i < 12; ++i) fputc(i * 20, f);
    fclose(f);
    snprintf(q, sizeof q, "%s/capi_image/ascii.pgm", d);
    f = fopen(q, "wb");
    if (!f) goto fail;
    fprintf(f, "P2\n2 2\n65535\n0 1000\n65535 7\n");
    fclose(f);
  }
  snprintf(p, sizeof p, "%s/npy/a.npy", d);
  if (write_npy(p, "(2, 3)", 6)) goto fail;
  snprintf(p, sizeof p, "%s/npy/b.npy", d);
  if (write_npy(p, "(4,)", 4)) goto fail;
  snprintf(p, sizeof p, "%s/npy/s.npy", d);
  if (write_npy(p, "()", 1)) goto fail;
  {
    static const char* csvs[] = {
        "\x00path,label\nimages/a.png,normal\nimages/b.png,nodule\n",
        "\x05Image Index,Finding Labels,Patient Age,\n1.png,Effusion|Mass,58\n2.png,No Finding,7\n\"3,x.png\",Mass,1\n",
        "\x02path,label,note\r\n\"a \"\"q\"\".png\",x,\"multi\nline\"\r\n\xef\xbb\xbf" "b.png,y,\r\n"};
    for (i = 0; i < 3; ++i) {
      snprintf(p, sizeof p, "%s/manifest/m%d.csv", d, i);
      if (write_bytes(p, csvs[i], strlen(csvs[i] + 1) + 1)) goto fail;
    }
  }
  if (write_idx(d)) goto fail;
  snprintf(p, sizeof p, "%s/idx.gz", d);
  snprintf(q, sizeof q, "%s/idx/images.gz", d);
  if (copy_prefixed(p, q, 1)) goto fail;
  return 0;
fail:
  fprintf(stderr, "make_seeds: %s\n", lai_last_error());
  return 1;
}
