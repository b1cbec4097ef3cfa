/* liteai plugin for the Orthanc DICOM server.
 *
 * Copyright (C) the liteai authors.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * This program is free software: you can redistribute it and/or modify it under the terms of the
 * GNU General Public License as published by the Free Software Foundation, either version 3 of
 * the License, or (at your option) any later version. It is distributed in the hope that it will
 * be useful, but WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or
 * FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public License for more details.
 * (It is GPL because Orthanc's plugin SDK header is; it uses liteai only through its C API.)
 *
 * For every stored instance of the configured modalities (CR, DX) the plugin decodes the
 * pixels, runs the model (and, when configured, the ProbMat's weighted probability map), and
 * stores the results: as the instance's metadata (LiteaiFindings: probabilities, anomaly score,
 * circles, model name and version; LiteaiSR, LiteaiAnomalySR, LiteaiSC: the result instances),
 * as structured reports (one per algorithm) and a Secondary Capture of the overlay in the same
 * study, and behind the REST routes GET /liteai/instances/{id} and GET /liteai/status. Storage only enqueues the instance: workers
 * do the rest off Orthanc's threads, through a bounded queue. A full queue, an image liteai
 * refuses or a failing model is logged, counted and never stops the server.
 *
 * Configuration (Orthanc's JSON):
 *   "Liteai": { "Model": "m.lai", "ProbMat": "pm.lpm" (optional), "Modalities": "CR,DX",
 *               "QueueSize": 256, "Workers": 1 },
 *   "UserMetadata": { "LiteaiFindings": 4601, "LiteaiSR": 4602, "LiteaiAnomalySR": 4603, "LiteaiSC": 4604 }
 */
#include <orthanc/OrthancCPlugin.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liteai.h"

#define ID_SIZE 64
#define MAX_WORKERS 8

static OrthancPluginContext* context = NULL;
static lai_model* model = NULL;
static lai_probmat* probmat = NULL;
static lai_options* score_options = NULL; /* the probmat-score task's defaults */
static int32_t probmat_width = 0, probmat_height = 0;
static float overlay_threshold = 8.f;
static char modalities[256] = "CR,DX";

/* ---------------------------------------------------------------- the bounded queue */

static struct {
  pthread_mutex_t mutex;
  pthread_cond_t ready;
  char (*ids)[ID_SIZE];
  size_t capacity, head, count;
  int stopping;
  unsigned long long queued, done, failed, skipped, dropped;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static pthread_t workers[MAX_WORKERS];
static int worker_count = 0;

static void log_message(int error, const char* fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  if (error)
    OrthancPluginLogError(context, text);
  else
    OrthancPluginLogWarning(context, text);
}

/* Storage thread: never blocks; a full queue drops the instance and says so. */
static int enqueue(const char* id) {
  int ok = 0;
  pthread_mutex_lock(&queue.mutex);
  if (!queue.stopping && queue.count < queue.capacity && strlen(id) < ID_SIZE) {
    strcpy(queue.ids[(queue.head + queue.count) % queue.capacity], id);
    ++queue.count;
    ++queue.queued;
    ok = 1;
    pthread_cond_signal(&queue.ready);
  } else {
    ++queue.dropped;
  }
  pthread_mutex_unlock(&queue.mutex);
  return ok;
}

/* Worker: the next id, or 0 when stopping. */
static int dequeue(char* id) {
  int ok = 0;
  pthread_mutex_lock(&queue.mutex);
  while (!queue.stopping && queue.count == 0) pthread_cond_wait(&queue.ready, &queue.mutex);
  if (queue.count > 0 && !queue.stopping) {
    strcpy(id, queue.ids[queue.head]);
    queue.head = (queue.head + 1) % queue.capacity;
    --queue.count;
    ok = 1;
  }
  pthread_mutex_unlock(&queue.mutex);
  return ok;
}

static void count(unsigned long long* counter) {
  pthread_mutex_lock(&queue.mutex);
  ++*counter;
  pthread_mutex_unlock(&queue.mutex);
}

/* ---------------------------------------------------------------- small helpers */

/* A growing string. */
typedef struct {
  char* s;
  size_t n, cap;
} text;

static int append(text* t, const char* fmt, ...) {
  va_list args;
  for (;;) {
    size_t room = t->cap - t->n;
    va_start(args, fmt);
    int k = t->s ? vsnprintf(t->s + t->n, room, fmt, args) : -1;
    va_end(args);
    if (k >= 0 && (size_t)k < room) {
      t->n += (size_t)k;
      return 1;
    }
    size_t cap = t->cap ? t->cap * 2 : 1024;
    while (k >= 0 && cap - t->n <= (size_t)k) cap *= 2;
    char* s = realloc(t->s, cap);
    if (!s) return 0;
    t->s = s;
    t->cap = cap;
  }
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The value of a JSON string member `"key": "..."` in json (no escapes inside), into out. */
static int json_string(const char* json, const char* key, char* out, size_t size) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char* p = strstr(json, pattern);
  if (!p) return 0;
  p += strlen(pattern);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') ++p;
  if (*p != '"') return 0;
  const char* end = strchr(++p, '"');
  if (!end || (size_t)(end - p) >= size) return 0;
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = '\0';
  return 1;
}

/* A number member `"key": 12` of json. */
static int json_number(const char* json, const char* key, double* out) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char* p = strstr(json, pattern);
  if (!p) return 0;
  p += strlen(pattern);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') ++p;
  char* end = NULL;
  *out = strtod(p, &end);
  return end != p;
}

/* The "Liteai" section of Orthanc's configuration (a copy; free it), or NULL. */
static char* liteai_section(const char* config) {
  const char* key = strstr(config, "\"Liteai\"");
  const char* open = key ? strchr(key, '{') : NULL;
  if (!open) return NULL;
  const size_t start = (size_t)(open - config), n = strlen(config);
  int depth = 0;
  size_t i = start;
  for (; i < n; ++i) {
    if (config[i] == '"') { /* skip strings, with their escapes */
      for (++i; i < n && config[i] != '"'; ++i)
        if (config[i] == '\\') ++i;
    } else if (config[i] == '{') {
      ++depth;
    } else if (config[i] == '}' && --depth == 0) {
      break;
    }
  }
  if (i >= n) return NULL;
  char* s = malloc(i - start + 2);
  if (!s) return NULL;
  memcpy(s, config + start, i - start + 1);
  s[i - start + 1] = '\0';
  return s;
}

/* Orthanc's REST API from inside (no authentication). */
static OrthancPluginErrorCode put_metadata(const char* id, const char* name, const char* value) {
  char uri[256];
  snprintf(uri, sizeof uri, "/instances/%s/metadata/%s", id, name);
  OrthancPluginMemoryBuffer answer = {NULL, 0};
  OrthancPluginErrorCode e = OrthancPluginRestApiPut(context, &answer, uri, value, (uint32_t)strlen(value));
  if (answer.data) OrthancPluginFreeMemoryBuffer(context, &answer);
  return e;
}

/* Stores a DICOM file; its Orthanc ID into id. */
static int store(const uint8_t* bytes, size_t size, char* id) {
  OrthancPluginMemoryBuffer answer = {NULL, 0};
  id[0] = '\0';
  if (OrthancPluginRestApiPost(context, &answer, "/instances", bytes, (uint32_t)size) != OrthancPluginErrorCode_Success)
    return 0;
  char* json = malloc(answer.size + 1);
  if (json) {
    memcpy(json, answer.data, answer.size);
    json[answer.size] = '\0';
    json_string(json, "ID", id, ID_SIZE);
    free(json);
  }
  OrthancPluginFreeMemoryBuffer(context, &answer);
  return id[0] != '\0';
}

/* ---------------------------------------------------------------- one instance */

/* 1: analyzed, 0: failed, -1: not for us (another modality, or an object liteai does not read). */
static int analyze(const char* id) {
  int result = 0;
  char uri[256], why[512] = "";
  OrthancPluginMemoryBuffer file = {NULL, 0};
  lai_dicom* dicom = NULL;
  char *describe = NULL, *model_json = NULL, *map_json = NULL;
  float *probabilities = NULL, *unit = NULL, *map = NULL;
  uint8_t *sr = NULL, *sc = NULL;
  size_t sr_size = 0, sc_size = 0;
  text findings = {NULL, 0, 0}, record = {NULL, 0, 0};
  const double t0 = now_seconds();

  snprintf(uri, sizeof uri, "/instances/%s/file", id);
  if (OrthancPluginRestApiGet(context, &file, uri) != OrthancPluginErrorCode_Success) {
    snprintf(why, sizeof why, "cannot read the file from Orthanc");
    goto done;
  }
  lai_status s = lai_dicom_read_memory(file.data, file.size, &dicom);
  if (s == LAI_ERR_NOT_SUPPORTED) { /* e.g. our own SR and SC, colour or multi-frame objects */
    OrthancPluginLogInfo(context, lai_last_error());
    result = -1;
    goto done;
  }
  if (s != LAI_OK) {
    snprintf(why, sizeof why, "%s", lai_last_error());
    goto done;
  }
  char modality[32] = "";
  if (lai_dicom_describe(dicom, &describe) != LAI_OK || !json_string(describe, "modality", modality, sizeof modality) ||
      !modality[0] || !strstr(modalities, modality)) {
    result = -1;
    goto done;
  }
  lai_image view;
  lai_model_info info;
  lai_model_info_init(&info);
  if (lai_dicom_image(dicom, &view) != LAI_OK || lai_model_get_info(model, &info) != LAI_OK) {
    snprintf(why, sizeof why, "%s", lai_last_error());
    goto done;
  }
  probabilities = malloc(sizeof(float) * (size_t)info.output_size);
  if (!probabilities ||
      lai_model_predict(model, view.data, view.type, view.width, view.height, 0, probabilities,
                        (size_t)info.output_size) != LAI_OK ||
      lai_model_findings(model, probabilities, (size_t)info.output_size, &model_json) != LAI_OK) {
    snprintf(why, sizeof why, "model: %s", probabilities ? lai_last_error() : "out of memory");
    goto done;
  }
  lai_image map_view = {NULL, LAI_PIXEL_F32, probmat_width, probmat_height, 0};
  if (probmat) {
    /* As `liteai probmat score` does: the image at the ProbMat's size in unit intensities. */
    const size_t n = (size_t)probmat_width * (size_t)probmat_height;
    double score = 0;
    unit = malloc(sizeof(float) * n);
    map = malloc(sizeof(float) * n);
    lai_image unit_view = {unit, LAI_PIXEL_F32, probmat_width, probmat_height, 0};
    map_view.data = map;
    if (!unit || !map || lai_image_to_unit(&view, probmat_width, probmat_height, unit, n) != LAI_OK ||
        lai_probmat_wpm_with(probmat, &unit_view, score_options, map, n, &score) != LAI_OK ||
        lai_probmat_findings(probmat, &map_view, score_options, view.width, view.height, &map_json) != LAI_OK) {
      snprintf(why, sizeof why, "probmat: %s", unit && map ? lai_last_error() : "out of memory");
      goto done;
    }
  }
  /* The result objects in the same study, one SR per algorithm (as `liteai predict --dicom-out`
   * and `liteai probmat score --dicom-out` write them) and the overlay. */
  char sr_id[ID_SIZE] = "", anomaly_sr_id[ID_SIZE] = "", sc_id[ID_SIZE] = "";
  if (lai_dicom_encode_sr(dicom, model_json, &sr, &sr_size) != LAI_OK || !store(sr, sr_size, sr_id)) {
    snprintf(why, sizeof why, "SR: %s", !sr ? lai_last_error() : "Orthanc refused it");
    goto done;
  }
  if (probmat) {
    lai_bytes_free(sr);
    sr = NULL;
    if (lai_dicom_encode_sr(dicom, map_json, &sr, &sr_size) != LAI_OK || !store(sr, sr_size, anomaly_sr_id)) {
      snprintf(why, sizeof why, "anomaly SR: %s", !sr ? lai_last_error() : "Orthanc refused it");
      goto done;
    }
    if (lai_dicom_encode_overlay(dicom, &map_view, overlay_threshold, map_json, &sc, &sc_size) != LAI_OK ||
        !store(sc, sc_size, sc_id)) {
      snprintf(why, sizeof why, "SC: %s", !sc ? lai_last_error() : "Orthanc refused it");
      goto done;
    }
  }
  if (!append(&findings, "{\"classifier\": %s, \"anomaly\": %s}", model_json, map_json ? map_json : "null")) {
    snprintf(why, sizeof why, "out of memory");
    goto done;
  }
  if (put_metadata(id, "LiteaiFindings", findings.s) != OrthancPluginErrorCode_Success ||
      put_metadata(id, "LiteaiSR", sr_id) != OrthancPluginErrorCode_Success ||
      (probmat && (put_metadata(id, "LiteaiAnomalySR", anomaly_sr_id) != OrthancPluginErrorCode_Success ||
                   put_metadata(id, "LiteaiSC", sc_id) != OrthancPluginErrorCode_Success))) {
    snprintf(why, sizeof why,
             "cannot set the metadata (declare LiteaiFindings, LiteaiSR, LiteaiAnomalySR and LiteaiSC in UserMetadata)");
    goto done;
  }
  append(&record, "liteai: %s analyzed in %.3f s (SR %s%s%s%s%s)", id, now_seconds() - t0, sr_id,
         probmat ? ", anomaly SR " : "", anomaly_sr_id, probmat ? ", SC " : "", sc_id);
  OrthancPluginLogInfo(context, record.s ? record.s : "liteai: analyzed");
  result = 1;

done:
  if (result == 0) log_message(1, "liteai: instance %s not analyzed: %s", id, why);
  free(findings.s);
  free(record.s);
  free(probabilities);
  free(unit);
  free(map);
  lai_bytes_free(sr);
  lai_bytes_free(sc);
  lai_string_free(describe);
  lai_string_free(model_json);
  lai_string_free(map_json);
  lai_dicom_free(dicom);
  if (file.data) OrthancPluginFreeMemoryBuffer(context, &file);
  return result;
}

static void* work(void* unused) {
  (void)unused;
  char id[ID_SIZE];
  while (dequeue(id)) {
    const int r = analyze(id);
    count(r > 0 ? &queue.done : r < 0 ? &queue.skipped : &queue.failed);
  }
  return NULL;
}

/* ---------------------------------------------------------------- callbacks */

static OrthancPluginErrorCode on_stored(const OrthancPluginDicomInstance* instance, const char* id) {
  (void)instance;
  if (!enqueue(id)) log_message(0, "liteai: queue full (%zu instances waiting): instance %s is not analyzed", queue.capacity, id);
  return OrthancPluginErrorCode_Success;
}

static void stop_workers(void) {
  pthread_mutex_lock(&queue.mutex);
  queue.stopping = 1;
  pthread_cond_broadcast(&queue.ready);
  pthread_mutex_unlock(&queue.mutex);
  for (int i = 0; i < worker_count; ++i) pthread_join(workers[i], NULL);
  worker_count = 0;
}

static OrthancPluginErrorCode on_change(OrthancPluginChangeType change, OrthancPluginResourceType type, const char* id) {
  (void)type;
  (void)id;
  if (change == OrthancPluginChangeType_OrthancStopped) stop_workers();
  return OrthancPluginErrorCode_Success;
}

static void answer_json(OrthancPluginRestOutput* output, const char* json) {
  OrthancPluginAnswerBuffer(context, output, json, (uint32_t)strlen(json), "application/json");
}

/* GET /liteai/status: the counters. */
static OrthancPluginErrorCode rest_status(OrthancPluginRestOutput* output, const char* url,
                                          const OrthancPluginHttpRequest* request) {
  (void)url;
  if (request->method != OrthancPluginHttpMethod_Get) {
    OrthancPluginSendMethodNotAllowed(context, output, "GET");
    return OrthancPluginErrorCode_Success;
  }
  char json[512];
  pthread_mutex_lock(&queue.mutex);
  snprintf(json, sizeof json,
           "{\"queued\": %llu, \"analyzed\": %llu, \"failed\": %llu, \"skipped\": %llu, \"dropped\": %llu, "
           "\"waiting\": %zu, \"queue_size\": %zu, \"workers\": %d}",
           queue.queued, queue.done, queue.failed, queue.skipped, queue.dropped, queue.count, queue.capacity,
           worker_count);
  pthread_mutex_unlock(&queue.mutex);
  answer_json(output, json);
  return OrthancPluginErrorCode_Success;
}

/* GET /liteai/instances/{id}: the results as JSON, 404 until there are. */
static OrthancPluginErrorCode rest_instance(OrthancPluginRestOutput* output, const char* url,
                                            const OrthancPluginHttpRequest* request) {
  (void)url;
  if (request->method != OrthancPluginHttpMethod_Get) {
    OrthancPluginSendMethodNotAllowed(context, output, "GET");
    return OrthancPluginErrorCode_Success;
  }
  const char* id = request->groups[0];
  const char* names[4] = {"LiteaiFindings", "LiteaiSR", "LiteaiAnomalySR", "LiteaiSC"};
  char* values[4] = {NULL, NULL, NULL, NULL};
  for (int k = 0; k < 4; ++k) {
    char uri[256];
    OrthancPluginMemoryBuffer b = {NULL, 0};
    snprintf(uri, sizeof uri, "/instances/%s/metadata/%s", id, names[k]);
    if (strlen(id) < ID_SIZE && OrthancPluginRestApiGet(context, &b, uri) == OrthancPluginErrorCode_Success) {
      values[k] = malloc(b.size + 1);
      if (values[k]) {
        memcpy(values[k], b.data, b.size);
        values[k][b.size] = '\0';
      }
    }
    if (b.data) OrthancPluginFreeMemoryBuffer(context, &b);
  }
  if (!values[0]) {
    OrthancPluginSendHttpStatusCode(context, output, 404);
  } else {
    /* {"instance", "findings": {"classifier", "anomaly"}, "sr", "anomaly_sr", "sc"} (null when absent) */
    text t = {NULL, 0, 0};
    append(&t, "{\"instance\": \"%s\", \"findings\": %s", id, values[0]);
    const char* keys[3] = {"sr", "anomaly_sr", "sc"};
    for (int k = 1; k < 4; ++k)
      append(&t, values[k] ? ", \"%s\": \"%s\"" : ", \"%s\": null%s", keys[k - 1], values[k] ? values[k] : "");
    append(&t, "}");
    if (t.s)
      answer_json(output, t.s);
    else
      OrthancPluginSendHttpStatusCode(context, output, 500);
    free(t.s);
  }
  for (int k = 0; k < 4; ++k) free(values[k]);
  return OrthancPluginErrorCode_Success;
}

/* ---------------------------------------------------------------- plugin entry points */

ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext* c) {
  context = c;
  if (!OrthancPluginCheckVersion(context)) {
    OrthancPluginLogError(context, "liteai: this Orthanc is older than the plugin SDK it was built with");
    return -1;
  }
  OrthancPluginSetDescription(context, "Runs a liteai model (and ProbMat) on stored CR/DX images; results as "
                                       "metadata, a TID 1500 SR, an overlay Secondary Capture and /liteai/instances/{id}.");
  if (!lai_dicom_available()) {
    OrthancPluginLogError(context, "liteai: this libliteai has no DICOM module (built without DCMTK)");
    return -1;
  }
  char* config = OrthancPluginGetConfiguration(context);
  char* section = config ? liteai_section(config) : NULL;
  OrthancPluginFreeString(context, config);
  char model_path[1024] = "", probmat_path[1024] = "";
  double v = 0;
  size_t capacity = 256;
  int nworkers = 1;
  if (!section || !json_string(section, "Model", model_path, sizeof model_path)) {
    OrthancPluginLogError(context, "liteai: the configuration has no \"Liteai\": {\"Model\": \"path.lai\"}");
    free(section);
    return -1;
  }
  json_string(section, "ProbMat", probmat_path, sizeof probmat_path);
  json_string(section, "Modalities", modalities, sizeof modalities);
  if (json_number(section, "QueueSize", &v) && v >= 1 && v <= 1e6) capacity = (size_t)v;
  if (json_number(section, "Workers", &v) && v >= 1 && v <= MAX_WORKERS) nworkers = (int)v;
  free(section);

  if (lai_model_load(model_path, &model) != LAI_OK) {
    log_message(1, "liteai: cannot load the model: %s", lai_last_error());
    return -1;
  }
  if (probmat_path[0]) {
    lai_probmat_config pc;
    uint64_t images = 0;
    char threshold[64];
    if (lai_probmat_load(probmat_path, &probmat) != LAI_OK || lai_probmat_get_info(probmat, &pc, &images) != LAI_OK ||
        lai_options_create("probmat-score", &score_options) != LAI_OK) {
      log_message(1, "liteai: cannot load the ProbMat: %s", lai_last_error());
      return -1;
    }
    probmat_width = pc.width;
    probmat_height = pc.height;
    /* The overlay threshold: the option's value, else the task's default for its default map
     * kind (neglog: 8). */
    if (lai_options_get(score_options, "threshold", threshold, sizeof threshold, NULL) == LAI_OK)
      overlay_threshold = (float)atof(threshold);
  }
  queue.ids = calloc(capacity, ID_SIZE);
  if (!queue.ids) return -1;
  queue.capacity = capacity;
  for (int i = 0; i < nworkers; ++i)
    if (pthread_create(&workers[worker_count], NULL, work, NULL) == 0) ++worker_count;
  OrthancPluginRegisterOnStoredInstanceCallback(context, on_stored);
  OrthancPluginRegisterOnChangeCallback(context, on_change);
  OrthancPluginRegisterRestCallbackNoLock(context, "/liteai/status", rest_status);
  OrthancPluginRegisterRestCallbackNoLock(context, "/liteai/instances/([^/]+)", rest_instance);
  log_message(0, "liteai: model %s%s%s, %d worker(s), queue of %zu, modalities %s", model_path,
              probmat ? ", ProbMat " : "", probmat_path, worker_count, capacity, modalities);
  return 0;
}

ORTHANC_PLUGINS_API void OrthancPluginFinalize(void) {
  stop_workers();
  lai_options_free(score_options);
  lai_probmat_free(probmat);
  lai_model_free(model);
  free(queue.ids);
}

ORTHANC_PLUGINS_API const char* OrthancPluginGetName(void) { return "liteai"; }

#define LITEAI_STR2(x) #x
#define LITEAI_STR(x) LITEAI_STR2(x)
ORTHANC_PLUGINS_API const char* OrthancPluginGetVersion(void) {
  return LITEAI_STR(LAI_VERSION_MAJOR) "." LITEAI_STR(LAI_VERSION_MINOR) "." LITEAI_STR(LAI_VERSION_PATCH);
}
