/*
 * liteai.h - the stable C API of liteai (C99; usable from C, C++, C#, Java, Python ctypes).
 *
 * Conventions
 *   - Every function returns lai_status (LAI_OK = 0) unless it is a free, a getter of a constant
 *     or an options initializer. On failure lai_last_error() gives a message for this thread.
 *   - Handles are opaque. Functions ending in _create/_load/_train create one (the caller owns it)
 *     and the matching _free releases it; _free(NULL) is a no-op.
 *   - Input buffers are caller-owned and only read during the call; output buffers are caller-
 *     owned, given with their capacity in elements, and written only on success.
 *   - Pixels: lai_pixel_type, width, height and stride_bytes (bytes from one row to the next;
 *     0 = packed). Values are read in their own units (uint8 0..255, uint16 0..65535, float32
 *     as is) and the model's preprocessing (resize + standardization) is applied by the library.
 *   - Paths are UTF-8, NUL-terminated.
 *   - Options structs start with struct_size: initialize them with the matching _init function
 *     (which sets struct_size and the defaults); the library reads and writes only the bytes a
 *     caller's struct_size covers. An _init function writes the whole struct of its own version,
 *     so structs are not grown in place: later settings come as new functions (e.g.
 *     lai_model_set_training_precision in 0.3) or new structs.
 *   - NULL handles, NULL or too-small buffers and out-of-range values give
 *     LAI_ERR_INVALID_ARGUMENT and a message; nothing throws or aborts across this boundary.
 *   - Thread-safety is stated per function. "Thread-safe" means: may be called concurrently
 *     from any number of threads on the same handle.
 *
 * Layout: grouped by topic (library, options, images, models, training, ProbMat and WPM, map
 * scores, autoencoder, senafas, SOM, Hough, detections, DICOM); a section added after 0.1 says
 * "since 0.N" in its title, and a later addition inside an older section is preceded by
 * "since 0.N:".
 *
 * Versioning: LAI_VERSION_MAJOR is the ABI major (the SONAME is libliteai.so.<major>); minor
 * versions only add functions and never change an existing struct's layout (frozen copies of
 * each earlier header live in tests/abi/v0.N/). Version 0.2 added the autoencoder anomaly
 * detector, map scores, heatmap and overlay PNGs and per-class evaluation reports; 0.3 the
 * senafas anomaly channel, bf16 inference and mixed-precision training; 0.4 task options
 * (lai_options: every setting of the `liteai` command, no struct has to grow), the tasks that
 * take them (train, evaluate, distill, calibrate, merge, repack, ONNX import/export, explain,
 * ProbMat build and assessment, detection evaluation), descriptions, a log callback, resource
 * limits, bf16 products and DICOM.
 */
#ifndef LITEAI_H
#define LITEAI_H

#include <stddef.h>
#include <stdint.h>

#define LAI_VERSION_MAJOR 0
#define LAI_VERSION_MINOR 4
#define LAI_VERSION_PATCH 0

#if defined(_WIN32)
#  if defined(LAI_STATIC)
#    define LAI_API
#  elif defined(LAI_BUILDING_LIBRARY)
#    define LAI_API __declspec(dllexport)
#  else
#    define LAI_API __declspec(dllimport)
#  endif
#else
#  define LAI_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- status, errors, version, threads */

typedef enum lai_status {
  LAI_OK = 0,
  LAI_ERR_INVALID_ARGUMENT = 1, /* NULL handle/buffer, short buffer, bad value, wrong image size */
  LAI_ERR_IO = 2,               /* a file cannot be opened, read or written */
  LAI_ERR_FORMAT = 3,           /* a file is corrupt, truncated or of an unknown format/version */
  LAI_ERR_OUT_OF_MEMORY = 4,
  LAI_ERR_CANCELLED = 5,        /* a progress callback returned non-zero */
  LAI_ERR_BUSY = 6,             /* the handle is in use by a call that needs it exclusively */
  LAI_ERR_NOT_SUPPORTED = 7,    /* valid request this build or model cannot serve */
  LAI_ERR_INTERNAL = 100        /* a bug: please report with lai_last_error() */
} lai_status;

/* The message of the last failed call on the calling thread ("" if none). The pointer stays
 * valid until the next failing call on the same thread. Thread-safe (thread-local). */
LAI_API const char* lai_last_error(void);
/* A constant name for a status ("LAI_ERR_IO"); "unknown status" for other values. */
LAI_API const char* lai_status_string(lai_status status);
/* The library's version as "MAJOR.MINOR.PATCH" (static string); the numbers through the
 * optional out parameters (NULL allowed). Compare with the LAI_VERSION_* macros of the header
 * a program was compiled with. Thread-safe. */
LAI_API const char* lai_version(int32_t* major, int32_t* minor, int32_t* patch);

/* Threads of the library's pool (shared by all handles). n <= 0: the default
 * (LITEAI_NUM_THREADS, else all hardware threads); more than 1024 is LAI_ERR_INVALID_ARGUMENT.
 * Call it while no other liteai call runs. */
LAI_API lai_status lai_set_num_threads(int32_t n);
LAI_API int32_t lai_get_num_threads(void);

/* ------------------------------------------------------------ library-owned strings (since 0.4) */

/* Releases a string the library returned through a char** (JSON descriptions and reports).
 * NULL is a no-op. Thread-safe. */
LAI_API void lai_string_free(char* s);

/* ------------------------------------------------------------------ log messages (since 0.4) */

typedef enum lai_log_level { LAI_LOG_ERROR = 0, LAI_LOG_WARNING = 1, LAI_LOG_INFO = 2, LAI_LOG_DEBUG = 3 } lai_log_level;
/* Receives one message (without a newline; valid during the call). It may be called from any
 * library thread, one message at a time, and must not call liteai functions. */
typedef void (*lai_log_fn)(lai_log_level level, const char* message, void* user_data);
/* The library's messages (progress lines, skipped files, warnings) go to fn instead of stderr;
 * fn NULL restores stderr. Process-wide; call it while no other liteai call runs. */
LAI_API lai_status lai_set_log_callback(lai_log_fn fn, void* user_data);
/* Messages above `level` are dropped (default LAI_LOG_INFO). Thread-safe. */
LAI_API lai_status lai_set_log_level(lai_log_level level);

/* ------------------------------------------------------------------ resource limits (since 0.4) */

/* The process's resource limits (include/liteai/core/limits.hpp): how much one input may make the
 * library read or allocate before it refuses with LAI_ERR_OUT_OF_MEMORY naming the limit. Names:
 * "max_image_pixels", "max_file_bytes", "max_tensor_bytes", "max_total_bytes",
 * "max_header_bytes"; values >= 1 (e.g. 268435456). Defaults: the LITEAI_MAX_* environment
 * variables, else the built-in ones. The same as the tasks' "limits" option. Set them while no
 * other liteai call runs. */
LAI_API lai_status lai_set_limit(const char* name, int64_t value);
LAI_API lai_status lai_get_limit(const char* name, int64_t* value);

/* ------------------------------------------------------------------ progress callbacks */

typedef enum lai_phase { LAI_PHASE_TRAIN = 0, LAI_PHASE_EPOCH = 1, LAI_PHASE_EVALUATE = 2 } lai_phase;

/* Passed to progress callbacks (read-only, valid during the call). */
typedef struct lai_progress {
  size_t struct_size;
  lai_phase phase;          /* TRAIN: after a step; EPOCH: an epoch ended (validation filled) */
  int32_t epoch;            /* 1-based */
  int32_t epochs;
  int64_t step;             /* 1-based within the epoch */
  int64_t steps_per_epoch;  /* -1 when unknown */
  int64_t global_step;
  double loss;              /* running mean over the epoch */
  double metric;            /* running accuracy (NaN when not defined) */
  double images_per_second;
  double val_loss;          /* at LAI_PHASE_EPOCH with validation, else -1 */
  double val_metric;
  double eta_seconds;       /* -1 when unknown */
} lai_progress;
/* Return 0 to continue, non-zero to cancel: the call stops after the current step and returns
 * LAI_ERR_CANCELLED. Runs on the calling thread. It must not call lai_model_* on the same model. */
typedef int (*lai_progress_fn)(const lai_progress* progress, void* user_data);

/* ------------------------------------------------------------------ task options (since 0.4) */

/* The options of one task ("train", "evaluate", "predict", "probmat-build", "probmat-score",
 * "anomaly-train", "anomaly-score", "som-train", "hough", ...), by the names, defaults, ranges and
 * meanings of the `liteai` command's long options (`liteai train --help` lists train's; "epochs"
 * is --epochs). Values are checked when set: a name the task does not take, a value of the wrong
 * type or outside the option's range gives LAI_ERR_INVALID_ARGUMENT naming the option and the
 * accepted range, and changes nothing. An options handle is used by one thread at a time; a task
 * call only reads it. Options structs of older versions (lai_train_options...) keep working;
 * settings added since 0.4 are reachable only here, so no struct ever has to grow. */
typedef struct lai_options lai_options;
/* *out receives new options for `task` with every option at its default. */
LAI_API lai_status lai_options_create(const char* task, lai_options** out);
LAI_API void lai_options_free(lai_options* options);
/* A value as text, parsed as the command line parses it ("5", "1e-3", "yes", "512M", "a,b"). */
LAI_API lai_status lai_options_set(lai_options* options, const char* name, const char* value);
LAI_API lai_status lai_options_set_int(lai_options* options, const char* name, int64_t value);
LAI_API lai_status lai_options_set_double(lai_options* options, const char* name, double value);
/* Back to the default. */
LAI_API lai_status lai_options_unset(lai_options* options, const char* name);
/* The callback task calls give progress to (phase, step, loss, ...; non-zero cancels). */
LAI_API lai_status lai_options_set_progress(lai_options* options, lai_progress_fn progress, void* user_data);
/* The value as text (the default when unset), copied like lai_model_architecture; an option
 * without a value or default gives LAI_ERR_INVALID_ARGUMENT. */
LAI_API lai_status lai_options_get(const lai_options* options, const char* name, char* buf, size_t size,
                                   size_t* needed);
/* The values that were set, as a JSON object, into *json (free with lai_string_free). */
LAI_API lai_status lai_options_to_json(const lai_options* options, char** json);
/* The description of a task's options as JSON (an array of {"name", "type", "default", "min",
 * "max", "choices", "help", "group"}); task NULL: the array of task names. *json: free with
 * lai_string_free. Thread-safe. */
LAI_API lai_status lai_options_describe(const char* task, char** json);

/* ------------------------------------------------------------------ images */

typedef enum lai_pixel_type { LAI_PIXEL_U8 = 1, LAI_PIXEL_U16 = 2, LAI_PIXEL_F32 = 3 } lai_pixel_type;

/* A caller-owned gray image view (for batch calls). stride_bytes 0 = packed rows. */
typedef struct lai_image {
  const void* data;
  lai_pixel_type type;
  int32_t width;
  int32_t height;
  size_t stride_bytes;
} lai_image;

/* Decodes an image file held in memory (PNG 8/16-bit, JPEG, BMP, PGM/PPM; since 0.4 DICOM when
 * lai_dicom_available(): display values 0..65535, see lai_dicom) to gray float32 in source units
 * (0..255 or 0..65535). Writes width/height; with pixels == NULL only probes the
 * size. capacity (floats) must be >= width*height. Thread-safe. */
LAI_API lai_status lai_image_decode_memory(const void* bytes, size_t size, float* pixels, size_t capacity,
                                           int32_t* width, int32_t* height);
/* Same for a file. Thread-safe. */
LAI_API lai_status lai_image_decode_file(const char* path, float* pixels, size_t capacity, int32_t* width,
                                         int32_t* height);

/* since 0.4: */
/* An image resized to width x height (the library's bilinear resize; the size unchanged when it
 * matches) and scaled to [0, 1] by its type's full scale (255 for U8, 65535 for U16, 1 for F32)
 * into out (count >= width * height floats): exactly what `liteai probmat score` gives a ProbMat,
 * so lai_probmat_wpm_with on it (as LAI_PIXEL_F32) reproduces the command's maps. Thread-safe. */
LAI_API lai_status lai_image_to_unit(const lai_image* image, int32_t width, int32_t height, float* out,
                                     size_t count);

/* Synthetic chest-radiograph phantoms (SYNTHETIC: drawn by formula, no patient data; for demos
 * and tests only). Renders phantom `index` of the set `seed` as size x size (32..4096) 8-bit gray into
 * pixels (stride_bytes 0 = packed); label (NULL allowed) receives its class: 0 normal,
 * 1 foreign_body, 2 nodule, 3 opacity, 4 effusion. Thread-safe. */
LAI_API lai_status lai_phantom_render(uint64_t seed, uint64_t index, int32_t size, uint8_t* pixels,
                                      size_t stride_bytes, int32_t* label);
/* Writes `count` phantoms as PNGs to folder `dir` (created) with dir/manifest.csv (columns
 * path,label,...; usable as training data). Thread-safe. */
LAI_API lai_status lai_phantom_write_set(const char* dir, int32_t count, uint64_t seed, int32_t size);

/* since 0.4: */
/* Writes SYNTHETIC phantoms with options of the task "synth" (out, n, size, seed, classes, noise),
 * as `liteai synth` does. Thread-safe. */
LAI_API lai_status lai_phantom_write_set_with(const lai_options* options);

/* ----------------------------------------------------------- heatmap / overlay PNGs (since 0.2) */

/* Writes an 8-bit RGB PNG of a map through a dark-to-bright colour ramp: values lo..hi span the
 * ramp (lo >= hi: the map's own min..max). `map` is read in its own units (any pixel type).
 * Errors: LAI_ERR_IO when the file cannot be written. Thread-safe. */
LAI_API lai_status lai_write_heatmap_png(const char* path, const lai_image* map, float lo, float hi);
/* Writes the radiograph `image` in gray (scaled by its own min..max) as an RGB PNG of the image's
 * size, with the colour ramp blended in where the map exceeds `threshold`: opacity grows from
 * 0.35 * max_alpha at the threshold to max_alpha at `hi` (hi <= threshold: the map's maximum).
 * A map of another size (e.g. an autoencoder map at the network's size) is resized to the
 * image's size (bilinear) first. max_alpha in [0, 1] (0.7 is a good default). Thread-safe. */
LAI_API lai_status lai_write_overlay_png(const char* path, const lai_image* image, const lai_image* map,
                                         float threshold, float hi, float max_alpha);

/* ------------------------------------------------------------------ models */

typedef struct lai_model lai_model;

/* Builds a freshly initialized model. `architecture` is a zoo name ("compact_cxr", "small_cnn",
 * "teacher_cxr", "autoencoder") or a JSON object ({"name": "compact_cxr", "size": 64,
 * "classes": 5, "head": "sigmoid"}); input_size/classes > 0 override the JSON's values.
 * Weights come from `seed`. *out receives a new handle (free with lai_model_free).
 * Thread-safe. */
LAI_API lai_status lai_model_create(const char* architecture, int32_t input_size, int32_t classes, uint64_t seed,
                                    lai_model** out);
/* Loads a .lai model file (or the same bytes from memory). *out receives a new handle.
 * Errors: LAI_ERR_IO (cannot read), LAI_ERR_FORMAT (corrupt, truncated, unknown). Thread-safe. */
LAI_API lai_status lai_model_load(const char* path, lai_model** out);
LAI_API lai_status lai_model_load_memory(const void* bytes, size_t size, lai_model** out);
/* Writes the model atomically (temp file + rename: a crash never leaves half a file).
 * Thread-safe with inference; LAI_ERR_BUSY while the model trains. */
LAI_API lai_status lai_model_save(const lai_model* model, const char* path);
/* Releases the model. NULL is a no-op. No other call may use the handle during or after. */
LAI_API void lai_model_free(lai_model* model);

typedef struct lai_model_info {
  size_t struct_size;    /* set by lai_model_info_init */
  int32_t input_width;   /* the network's input size: images are resized to it */
  int32_t input_height;
  int32_t channels;      /* input channels (1: gray) */
  int32_t classes;       /* number of outputs per image for classification heads */
  int32_t multi_label;   /* 1: sigmoid head (independent probabilities), 0: softmax or none */
  int32_t standardize;   /* 1: per-image standardization, 0: scaled to [0, 1] */
  int64_t parameters;    /* number of trainable weights */
  int64_t output_size;   /* floats written per image by lai_model_predict* */
} lai_model_info;
LAI_API void lai_model_info_init(lai_model_info* info);
/* Fills *info (fields covered by info->struct_size). Thread-safe. */
LAI_API lai_status lai_model_get_info(const lai_model* model, lai_model_info* info);
/* Copies the architecture as a JSON object into buf (NUL-terminated). *needed (NULL allowed)
 * receives the length including the NUL; a too-small buf gives LAI_ERR_INVALID_ARGUMENT with
 * *needed set (buf may be NULL with size 0 to ask). Thread-safe. */
LAI_API lai_status lai_model_architecture(const lai_model* model, char* buf, size_t size, size_t* needed);
/* Class name `index` (0..classes-1), copied like lai_model_architecture. Thread-safe. */
LAI_API lai_status lai_model_class_name(const lai_model* model, int32_t index, char* buf, size_t size,
                                        size_t* needed);
/* Sets the class names (count must equal classes). Exclusive: LAI_ERR_BUSY when other calls
 * use the model at the same time. */
LAI_API lai_status lai_model_set_class_names(lai_model* model, const char* const* names, int32_t count);

/* Inference on one image: probabilities (softmax / sigmoid; raw outputs for head "none") into
 * out[0 .. output_size-1]; out_count is out's capacity in floats. The image is resized to the
 * model's input and standardized as in training. Thread-safe: any number of threads may
 * predict on the same model at once. LAI_ERR_BUSY while the model trains. */
LAI_API lai_status lai_model_predict(const lai_model* model, const void* pixels, lai_pixel_type type, int32_t width,
                                     int32_t height, size_t stride_bytes, float* out, size_t out_count);
/* A batch (images may differ in size and type): out is count x output_size, row-major.
 * Thread-safe like lai_model_predict. */
LAI_API lai_status lai_model_predict_batch(const lai_model* model, const lai_image* images, size_t count, float* out,
                                           size_t out_count);
/* Decodes an image file and predicts on it. Thread-safe like lai_model_predict. */
LAI_API lai_status lai_model_predict_file(const lai_model* model, const char* path, float* out, size_t out_count);

/* since 0.4: */
/* Every handle describes itself the same way: a JSON object into *json (free with
 * lai_string_free), with what a server needs to know of it, memory included. A model: its
 * architecture, class names, preprocessing, head, parameters, "memory": {"parameter_bytes",
 * "buffer_bytes", "inference_copy_bytes" (bf16 weights when set)}, and the provenance its file
 * carries. A ProbMat: its config, images, "memory": {"count_bytes", "table_bytes"}. Thread-safe. */
LAI_API lai_status lai_model_describe(const lai_model* model, char** json);

/* ------------------------------------------------- inference and training precision (since 0.3) */

typedef enum lai_precision {
  LAI_PRECISION_F32 = 0,
  LAI_PRECISION_BF16 = 1,         /* bf16 storage, fp32 products (described below) */
  LAI_PRECISION_BF16_COMPUTE = 2  /* since 0.4: bf16 products (described below) */
} lai_precision;

/* The precision of the dense (fully connected) layers' weights in lai_model_predict* and
 * lai_model_evaluate*. LAI_PRECISION_BF16: the library builds a bf16 copy of the dense weights
 * (rebuilt by this call) and infers from it, halving the memory traffic of weight-bound layers;
 * the copy costs half the fp32 dense weights in memory, on top of them. Training always uses the
 * fp32 weights and validates in fp32; the copy is dropped while a lai_model_train runs or a
 * trainer exists, and rebuilt from the trained weights when it returns / at lai_trainer_free.
 * Products and sums stay fp32: the outputs differ from fp32 only by the weight rounding
 * (relative 2^-8 per weight), typically by 1e-3 in a probability. LAI_PRECISION_F32 (the default)
 * drops the copy and gives the fp32 results bit for bit again. Not stored in model files
 * (lai_model_load gives F32). Exclusive: it must not be called while other threads predict on the
 * handle or while it trains; such a call gets LAI_ERR_BUSY (nothing changed). */
LAI_API lai_status lai_model_set_inference_precision(lai_model* model, lai_precision precision);
/* The current inference precision into *precision. Thread-safe; LAI_ERR_BUSY while the model
 * trains or changes precision. */
LAI_API lai_status lai_model_get_inference_precision(const lai_model* model, lai_precision* precision);

/* The precision of the activations that training keeps for the backward pass
 * (lai_model_train, and trainers created after this call by lai_trainer_create).
 * LAI_PRECISION_BF16 (the default): mixed precision - swish conv layers keep their pre-activation
 * in bf16 instead of recomputing it (about a quarter fewer FLOPs per compact_cxr step, a little
 * more memory before the peak); the gradients see those activations rounded to bf16 (relative
 * 2^-8). Weights, gradients and optimizer state stay fp32 either way. LAI_PRECISION_F32: exact
 * fp32 activations, recomputed where that saves memory. Each setting is deterministic (same seed
 * and threads: same bits). Not stored in model files. (A setter rather than a field of
 * lai_train_options: the library's _init functions write their whole struct, so appending a field
 * would overrun the smaller struct of a program built against an older header.)
 * Exclusive: LAI_ERR_BUSY while the model trains, has a trainer, or other calls use it. */
LAI_API lai_status lai_model_set_training_precision(lai_model* model, lai_precision precision);
/* The training activation precision into *precision. Thread-safe. */
LAI_API lai_status lai_model_get_training_precision(const lai_model* model, lai_precision* precision);

/* since 0.4: */
/* LAI_PRECISION_BF16_COMPUTE (lai_precision) is accepted by lai_model_set_inference_precision and
 * lai_model_set_training_precision, on top of what LAI_PRECISION_BF16 does there: the
 * convolutions round their inputs and weights to bf16 and sum the products in fp32 (AVX512_BF16
 * dot products on CPUs that run them at full rate, AMD Zen 4 and later; elsewhere the same
 * products widened to fp32: the same results up to the rounding of the sums), and training keeps
 * bf16 copies of the conv inputs for the backward pass (less memory). Dense layers keep fp32
 * products (they are bound by reading their weights, which inference reads as bf16). Training
 * keeps fp32 weights and optimizer state and fails with LAI_ERR_INVALID_ARGUMENT naming the
 * parameter if a gradient becomes NaN or infinite. The outputs differ from fp32 by the bf16
 * rounding of the operands (each product within 2^-7 relative), typically by a few 1e-3 in a
 * probability. Each setting is deterministic (same seed and threads: same bits). */

/* ------------------------------------------------------------------ repacking (since 0.4) */

/* Repacks a model file with options of the task "repack": "in" (the model, zoo or graph), "out"
 * (the file to write, required), "gray" (a net trained on RGB copies of gray images gets a
 * 1-channel first conv, its per-channel normalization folded in; exact), "fold" (BatchNorm into
 * the conv/dense before it, Dropout/Identity removed, constant subgraphs evaluated, linear layers
 * with no nonlinearity between merged; exact), "bf16" (conv/dense weights stored as bf16: half the
 * file; inference keeps them bf16 with fp32 sums), "check" (a folder or manifest the outputs are
 * compared on; default SYNTHETIC phantoms), "check-count", "runs", "json". The file carries
 * provenance (task "repack", the options, the source file's SHA-256). *out (NULL allowed) receives
 * the written model; *report (NULL allowed; free with lai_string_free) the figures as JSON:
 * {"in", "out", "changes": [...], "before"/"after": {"parameters", "buffers", "file_bytes",
 * "inference_rss_growth_mb", "inference_peak_rss_mb", "latency_ms_batch1"}, "check": {"source",
 * "images", "max_abs_diff", "max_rel_diff"}, "exact", "runs"}. A transform that does not apply
 * (e.g. "gray" on a model whose first conv reads 1 channel) gives LAI_ERR_INVALID_ARGUMENT naming
 * the option and the node; nothing is written. Thread-safe (memory figures are the process's). */
LAI_API lai_status lai_model_repack(const lai_options* options, lai_model** out, char** report);

/* ----------------------------------------------------------- ONNX import and export (since 0.4) */

/* ONNX import and export (LAI_ERR_NOT_SUPPORTED in a build without ONNX support).
 * lai_model_import_onnx imports with options of the task "import": "onnx" (the file; initializers
 * stored as external data are read from its folder), "classes", "head", "size", "preprocess",
 * "keep-channels", and saves the model to "out" when set; *out receives it (a graph model). An
 * operator or attribute liteai does not take gives LAI_ERR_NOT_SUPPORTED naming the node, its
 * operator and the attribute; a damaged file LAI_ERR_FORMAT. Thread-safe.
 * lai_model_export_onnx writes any model (zoo or graph) as ONNX (opset 14: the network's outputs,
 * class names, head and preprocessing as metadata), checked by the ONNX checker before anything is
 * written; concurrent like lai_model_save. */
LAI_API lai_status lai_model_import_onnx(const lai_options* options, lai_model** out);
LAI_API lai_status lai_model_export_onnx(const lai_model* model, const char* path);

/* ------------------------------------------------------------------ explanations (since 0.4) */

/* Grad-CAM (Selvaraju et al. 2017) of a classifier for one image (the model's preprocessing
 * applies): where it found the evidence for a class, as `liteai explain` computes it. out receives
 * image->width x image->height floats (row-major, count at least that) in [0, 1]: the ReLU of the
 * activation of the explained layer weighted by the spatial mean of the class logit's gradient
 * (before softmax/sigmoid), upsampled bilinearly and divided by its maximum (all 0 when nothing
 * speaks for the class). options: of the task "explain" (NULL: defaults): "class" (a class name or
 * index; default the most probable class), "layer" (a module path such as "conv3" or a graph value
 * or node; default the last convolution's activation). class_index and probability (NULL allowed)
 * receive the class explained and its probability. The model is not changed (no gradients are
 * kept). Concurrent like lai_model_predict. Errors name the option, the class or the layer. */
LAI_API lai_status lai_model_explain(const lai_model* model, const lai_image* image, const lai_options* options,
                                     float* out, size_t count, int32_t* class_index, float* probability);

/* ------------------------------------------------------------------ training */

typedef enum lai_optimizer { LAI_OPTIMIZER_ADAM = 0, LAI_OPTIMIZER_SGD = 1, LAI_OPTIMIZER_ADAMW = 2 } lai_optimizer;

typedef struct lai_train_options {
  size_t struct_size;             /* set by lai_train_options_init */
  int32_t epochs;                 /* 1 */
  int32_t batch_size;             /* 16 */
  float learning_rate;            /* 1e-3 */
  lai_optimizer optimizer;        /* ADAM */
  float weight_decay;             /* 0 */
  float momentum;                 /* 0.9 (SGD only) */
  uint64_t seed;                  /* 1: shuffling and augmentation */
  float validation_fraction;      /* 0: none; else a seeded random split of the data */
  int64_t max_steps_per_epoch;    /* 0: whole data set */
  int64_t limit;                  /* 0: all samples; else the first `limit` of the data set */
  int32_t augment_hflip;          /* 0 */
  float augment_shift;            /* 0: max translation as a fraction of the size */
  int32_t skip_bad_files;         /* 0: a corrupt image stops training with LAI_ERR_FORMAT */
  int32_t verbose;                /* 0: quiet; 1: progress lines on stderr */
  const char* checkpoint_path;    /* NULL: none; else model + optimizer saved after every epoch */
  const char* metrics_csv;        /* NULL: none; else one row per epoch */
  lai_progress_fn progress;       /* NULL: none */
  void* user_data;                /* passed to progress */
} lai_train_options;
LAI_API void lai_train_options_init(lai_train_options* options);

typedef struct lai_train_result {
  size_t struct_size;  /* set by lai_train_result_init */
  int32_t epochs_done;
  int64_t steps;
  double loss, metric;          /* last finished epoch (training) */
  double val_loss, val_metric;  /* -1 without validation */
  double seconds;
  double images_per_second;
  int32_t cancelled;
} lai_train_result;
LAI_API void lai_train_result_init(lai_train_result* result);

/* Trains `model` on a data set: a folder with one sub-folder per class, or a CSV manifest
 * (columns path,label; several labels separated by '|' for multi-label models). Images are
 * decoded, resized and standardized on the fly. The data set's classes must number the model's;
 * a model with default names ("class0"...) takes the data set's names. options NULL = defaults;
 * result may be NULL. On LAI_ERR_CANCELLED the model keeps the weights of the steps done and
 * *result is filled. Exclusive: LAI_ERR_BUSY if any other call uses the model concurrently;
 * other calls on the model get LAI_ERR_BUSY while it trains. */
LAI_API lai_status lai_model_train(lai_model* model, const char* data, const lai_train_options* options,
                                   lai_train_result* result);

typedef struct lai_eval_result {
  size_t struct_size;  /* set by lai_eval_result_init */
  double loss;         /* mean loss (without regularization) */
  double metric;       /* accuracy (NaN when not defined) */
  int64_t samples;
} lai_eval_result;
LAI_API void lai_eval_result_init(lai_eval_result* result);
/* Evaluates on a data set (as lai_model_train reads it; uses options' batch_size, limit and
 * skip_bad_files; NULL = defaults). Exclusive like lai_model_train. */
LAI_API lai_status lai_model_evaluate(lai_model* model, const char* data, const lai_train_options* options,
                                      lai_eval_result* result);

/* Step-by-step training on caller buffers (images already in memory, e.g. from a PACS):
 * a trainer holds the model exclusively (predictions on it get LAI_ERR_BUSY) and keeps the
 * optimizer state between steps. Uses options' learning_rate, optimizer, weight_decay and
 * momentum (NULL = defaults). *out receives a new trainer; free it with lai_trainer_free,
 * which returns the model to inference. A trainer is used from one thread at a time. */
typedef struct lai_trainer lai_trainer;
LAI_API lai_status lai_trainer_create(lai_model* model, const lai_train_options* options, lai_trainer** out);
/* One optimization step on `count` images (preprocessed like lai_model_predict's). Softmax
 * models take labels[count] (class indices, targets NULL); sigmoid (multi-label) models take
 * targets[count * classes] (0/1, labels NULL); autoencoders take neither. *loss (NULL allowed)
 * receives the step's loss (data + L2 regularization). */
LAI_API lai_status lai_trainer_step(lai_trainer* trainer, const lai_image* images, size_t count, const int32_t* labels,
                                    const float* targets, size_t targets_count, double* loss);
LAI_API void lai_trainer_free(lai_trainer* trainer);

/* --------------------------------------------------------------- evaluation reports (since 0.2) */

/* Per-class metrics of a classifier on a data set (the figures of `liteai eval`): precision,
 * recall, F1, one-vs-rest AUROC, counts, and the confusion matrix of single-label models.
 * Conventions as scikit-learn's defaults: single-label prediction is the arg-max, multi-label
 * prediction is probability >= threshold; precision is 0 for a class never predicted, recall is
 * 0 for a class without positives; AUROC is NaN when a class has no positives or no negatives. */
typedef struct lai_eval_report lai_eval_report;

/* Evaluates like lai_model_evaluate (same options; *result may be NULL) and returns the report
 * in *out (free with lai_eval_report_free). threshold: multi-label decision threshold in (0, 1)
 * (0.5 usual; not used by softmax models). options->progress, when set, is called after every
 * batch (phase LAI_PHASE_EVALUATE); non-zero cancels (LAI_ERR_CANCELLED, *out NULL).
 * Autoencoders (no classes) give LAI_ERR_NOT_SUPPORTED. Exclusive like lai_model_evaluate. */
LAI_API lai_status lai_model_evaluate_report(lai_model* model, const char* data, const lai_train_options* options,
                                             double threshold, lai_eval_result* result, lai_eval_report** out);
/* A report from a caller's predictions: scores is n x classes (row-major; probabilities or any
 * monotonic score). Single-label: labels[n] class indices, targets NULL. Multi-label: targets
 * n x classes (0 or 1), labels NULL. Class names are "class0"... *out receives a new report.
 * Thread-safe. */
LAI_API lai_status lai_eval_report_from_scores(const float* scores, int64_t n, int32_t classes, const int32_t* labels,
                                               const float* targets, double threshold, lai_eval_report** out);

typedef struct lai_eval_summary {
  size_t struct_size;  /* set by lai_eval_summary_init */
  int32_t classes;
  int32_t multi_label;
  int64_t samples;
  double threshold;    /* multi-label decision threshold */
  double accuracy;     /* single-label: top-1; multi-label: correct (sample, label) decisions */
  double exact_match;  /* fraction of samples with every label right */
  double macro_precision, macro_recall, macro_f1;  /* over classes present in labels or predictions */
  double macro_auroc;  /* over classes where AUROC is defined; NaN when none */
  int32_t auroc_classes;  /* classes averaged into macro_auroc */
} lai_eval_summary;
LAI_API void lai_eval_summary_init(lai_eval_summary* summary);
/* Fills *summary (fields covered by summary->struct_size). Thread-safe. */
LAI_API lai_status lai_eval_report_get_summary(const lai_eval_report* report, lai_eval_summary* summary);

typedef struct lai_class_metrics {
  size_t struct_size;  /* set by lai_class_metrics_init */
  int64_t support;     /* samples whose label is this class */
  int64_t predicted;   /* samples predicted as this class */
  int64_t tp, fp, fn, tn;
  double precision, recall, f1;
  double auroc;        /* one-vs-rest; NaN when undefined */
} lai_class_metrics;
LAI_API void lai_class_metrics_init(lai_class_metrics* metrics);
/* Metrics of class `index` (0..classes-1). Thread-safe. */
LAI_API lai_status lai_eval_report_get_class(const lai_eval_report* report, int32_t index, lai_class_metrics* metrics);
/* Name of class `index`, copied like lai_model_class_name. Thread-safe. */
LAI_API lai_status lai_eval_report_class_name(const lai_eval_report* report, int32_t index, char* buf, size_t size,
                                              size_t* needed);
/* The confusion matrix (single-label only) into out[classes * classes]: out[t * classes + p] counts
 * samples of true class t predicted as p. Multi-label reports: LAI_ERR_NOT_SUPPORTED. Thread-safe. */
LAI_API lai_status lai_eval_report_confusion(const lai_eval_report* report, int64_t* out, size_t out_count);
/* The whole report as a JSON object (what `liteai eval --json` writes), copied like
 * lai_model_architecture. Thread-safe. */
LAI_API lai_status lai_eval_report_json(const lai_eval_report* report, char* buf, size_t size, size_t* needed);
/* Releases the report. NULL is a no-op. */
LAI_API void lai_eval_report_free(lai_eval_report* report);

/* ------------------------------------------------------- training with task options (since 0.4) */

/* Trains a new model made from options of the task "train" (model, size, head, l2, standardize,
 * the data's classes) on its data (data, format, val-split, ...), with everything `liteai train`
 * offers (schedule, warmup, clip, patience, resume, checkpoint, log, columns, image root...), and
 * saves it to "out" when set. *out receives the model (NULL allowed: then "out" must be set);
 * *report (NULL allowed) the run's figures as JSON (free with lai_string_free). On
 * LAI_ERR_CANCELLED *out still receives the model with the weights of the steps done.
 * Thread-safe (independent of other handles). */
LAI_API lai_status lai_train(const lai_options* options, lai_model** out, char** report);
/* Trains an existing model with options of the task "train" (model options are refused: the
 * model exists). A model with real class names reads the data in its class order; one with the
 * default names ("class0"...) takes the data's. Exclusive like lai_model_train. */
LAI_API lai_status lai_model_train_with(lai_model* model, const lai_options* options, char** report);
/* Evaluates with options of the task "evaluate" (data, format, split, limit, batch, threshold,
 * and the json/csv/confusion files to write). *out (NULL allowed) receives the report handle,
 * *report_json (NULL allowed) the report as JSON. Exclusive like lai_model_evaluate. */
LAI_API lai_status lai_model_evaluate_with(lai_model* model, const lai_options* options, lai_eval_report** out,
                                           char** report_json);

/* Knowledge distillation with options of the task "distill": every option of "train", plus
 * "teacher" (a .lai model run in inference mode beside the student) or "teacher-logits" (a logits
 * file computed elsewhere: CSV image_id,<class>,... or .npy [N, C] + <name>.ids.txt), "temperature"
 * (4), "alpha" (0.9) and "student" (a zoo name, default compact_cxr, or a .lai file). Loss:
 * alpha T^2 KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) CE(y, s); the per-finding binary form
 * for sigmoid heads. lai_distill makes the student, like lai_train (*out and *report as there);
 * lai_model_distill trains a given student (exclusive like lai_model_train). */
LAI_API lai_status lai_distill(const lai_options* options, lai_model** out, char** report);
LAI_API lai_status lai_model_distill(lai_model* student, const lai_options* options, char** report);

/* Fits temperature scaling with options of the task "calibrate" (the validation data: data,
 * format, split, limit, ..., batch) and keeps it in the model: every later prediction,
 * evaluation and lai_model_save uses the calibrated probabilities (accuracy and AUROC do not
 * change). *report (NULL allowed): {"temperature", "nll_before", "nll_after", "before": {"ece",
 * "brier"}, "after": {...}} (free with lai_string_free). Exclusive like lai_model_train. */
LAI_API lai_status lai_model_calibrate(lai_model* model, const lai_options* options, char** report);

/* -------------------------------------------------------------- federated averaging (since 0.4) */

/* Federated averaging (FedAvg) of `count` (>= 2) site model files with options of the task
 * "merge" (weights: "1200,800,400", default each file's recorded training samples; bn: "average" or
 * "local" (FedBN); base, clip-update, noise-multiplier, seed: DP-FedAvg; out). Architectures, class
 * names and preprocessing must be identical (the error names the first difference). Memory: one
 * model plus the file being read. *out (NULL allowed when "out" is set) receives the merged model,
 * *report the weights used. Thread-safe. */
LAI_API lai_status lai_models_merge(const char* const* paths, size_t count, const lai_options* options,
                                    lai_model** out, char** report);

/* ------------------------------------------------------------------ ProbMat and WPM */

typedef struct lai_probmat lai_probmat;

typedef struct lai_probmat_config {
  size_t struct_size;  /* set by lai_probmat_config_init */
  int32_t width;       /* image size the ProbMat is built for */
  int32_t height;
  int32_t bins;        /* 256 (default), 128, 64, 32 */
  int32_t count_bits;  /* 32 (default) or 16 */
  int32_t scale;       /* 1 (default): one cell pools scale x scale pixels */
  int32_t tolerance;   /* 0: alignment tolerance in pixels */
  float lo, hi;        /* intensity range mapped onto the bins: 0, 255 */
} lai_probmat_config;
LAI_API void lai_probmat_config_init(lai_probmat_config* config, int32_t width, int32_t height);

/* A new, empty ProbMat. Memory: cells x bins x count_bits/8 bytes. Thread-safe. */
LAI_API lai_status lai_probmat_create(const lai_probmat_config* config, lai_probmat** out);
/* Adds images (must be width x height; values in the config's lo..hi units). Streaming: call as
 * often as needed. Thread-safe (adds are serialized internally). */
LAI_API lai_status lai_probmat_add(lai_probmat* pm, const void* pixels, lai_pixel_type type, int32_t width,
                                   int32_t height, size_t stride_bytes);
LAI_API lai_status lai_probmat_add_batch(lai_probmat* pm, const lai_image* images, size_t count);
/* Decodes and adds image files (in batches; memory does not grow with count). Thread-safe. */
LAI_API lai_status lai_probmat_add_files(lai_probmat* pm, const char* const* paths, size_t count);
/* Adds other's counts to pm (configs must be equal; pm != other). Thread-safe. */
LAI_API lai_status lai_probmat_merge(lai_probmat* pm, const lai_probmat* other);
/* The config and the number of images added (either pointer may be NULL). Thread-safe. */
LAI_API lai_status lai_probmat_get_info(const lai_probmat* pm, lai_probmat_config* config, uint64_t* images);
/* .lpm files (checked, atomic). Thread-safe. */
LAI_API lai_status lai_probmat_save(const lai_probmat* pm, const char* path);
LAI_API lai_status lai_probmat_load(const char* path, lai_probmat** out);
LAI_API void lai_probmat_free(lai_probmat* pm);

typedef enum lai_wpm_kind { LAI_WPM_NEGLOG = 0, LAI_WPM_ONE_MINUS_REL = 1 } lai_wpm_kind;
typedef enum lai_score_method {
  LAI_SCORE_TOPK_MEAN = 0, LAI_SCORE_PERCENTILE = 1, LAI_SCORE_MAX = 2, LAI_SCORE_MEAN = 3
} lai_score_method;
typedef enum lai_bandwidth { LAI_BANDWIDTH_SILVERMAN = 0, LAI_BANDWIDTH_SCOTT = 1, LAI_BANDWIDTH_FIXED = 2 } lai_bandwidth;

typedef struct lai_wpm_options {
  size_t struct_size;          /* set by lai_wpm_options_init */
  lai_wpm_kind kind;           /* NEGLOG: -log(p + eps) in nats; ONE_MINUS_REL: 1 - p/max p */
  float eps;                   /* 0 */
  float smooth_sigma;          /* 0: Gaussian smoothing of the map, in pixels */
  lai_score_method score;      /* TOPK_MEAN */
  double percentile;           /* 99.9 (PERCENTILE) */
  double top_fraction;         /* 0.001 (TOPK_MEAN) */
  lai_bandwidth bandwidth;     /* SILVERMAN: KDE bandwidth rule used to finalize the counts */
  float fixed_bandwidth;       /* 4 grey levels (FIXED); a level is 1/256 of the config's lo..hi range */
  float floor;                 /* 1e-5: probability mass spread uniformly */
} lai_wpm_options;
LAI_API void lai_wpm_options_init(lai_wpm_options* options);

/* The weighted probability map of an image (width x height = the ProbMat's) into
 * map[0 .. width*height-1] (row-major, packed; map may be NULL when only the score is wanted)
 * and its image score into *score (NULL allowed). options NULL = defaults. The finalized table is
 * computed on first use and cached until the next add/merge. Thread-safe. */
LAI_API lai_status lai_probmat_wpm(lai_probmat* pm, const void* pixels, lai_pixel_type type, int32_t width,
                                   int32_t height, size_t stride_bytes, const lai_wpm_options* options, float* map,
                                   size_t map_count, double* score);

/* since 0.4: */
/* Builds a ProbMat from the images of a data spec with options of the task "probmat-build"
 * (data, label, limit, size, bins, counts, scale, tolerance, batch; in unit intensities: images
 * scaled to [0, 1] by their bit depth), as `liteai probmat build` does. Thread-safe. */
LAI_API lai_status lai_probmat_build(const lai_options* options, lai_probmat** out);
/* The WPM of an image with options of the task "probmat-score" (kind, side, smooth, eps,
 * bandwidth, floor, score incl. "circles", top, percentile, min-radius, max-radius), as
 * lai_probmat_wpm does with its struct. Thread-safe. */
LAI_API lai_status lai_probmat_wpm_with(lai_probmat* pm, const lai_image* image, const lai_options* options,
                                        float* map, size_t map_count, double* score);

/* What a reader gets for one image, with options of the task "probmat-score" (the map, score and
 * circle options: those of the ProbMat's calibration apply unless given) and its operating point
 * ("fp-per-image" 0.125, "level" 0.9): *json (free with lai_string_free) receives {"score",
 * "p_value" (the share of normal images scoring at least as high; null when the ProbMat is not
 * calibrated or other settings were given), "flagged", "circle_threshold", "circles": [{"x", "y",
 * "radius", "score", "confidence"}]}, circles in the image's pixels, past the operating point,
 * strongest first; confidence = exp(-false circles per normal image at that score). A ProbMat
 * from lai_probmat_build (holdout, calibrate) or a calibrated file carries its calibration; adding
 * images or merging drops it. Thread-safe like lai_probmat_wpm. */
LAI_API lai_status lai_probmat_assess(lai_probmat* pm, const lai_image* image, const lai_options* options,
                                      char** json);

/* Its description as JSON, as lai_model_describe gives a model's. */
LAI_API lai_status lai_probmat_describe(const lai_probmat* pm, char** json);

/* ------------------------------------------------------------------ map scores (since 0.2) */

/* How an anomaly map (WPM or autoencoder map) becomes one image score. */
typedef struct lai_score_options {
  size_t struct_size;      /* set by lai_score_options_init */
  lai_score_method score;  /* TOPK_MEAN */
  double percentile;       /* 99.9 (PERCENTILE) */
  double top_fraction;     /* 0.001 (TOPK_MEAN: mean of the top max(1, fraction * N) values) */
} lai_score_options;
LAI_API void lai_score_options_init(lai_score_options* options);
/* The image score of a caller's map (any lai_pixel_type; usually LAI_PIXEL_F32) into *score.
 * options NULL = defaults. Thread-safe. */
LAI_API lai_status lai_map_score(const lai_image* map, const lai_score_options* options, double* score);

/* --------------------------------------------------------- autoencoder anomaly maps (since 0.2) */

/* A convolutional autoencoder trained on NORMAL images only (Baur et al. 2021): what it cannot
 * reconstruct (a coin, an electrode) shows up as squared reconstruction error, divided per pixel
 * by the mean error on the training images (so always-hard edges do not dominate) and smoothed.
 * The map is size x size (the network's input; lai_autoencoder_get_info) whatever the image's
 * size, higher = more anomalous, the same form as a WPM. Files are .lai model files. */
typedef struct lai_autoencoder lai_autoencoder;

typedef struct lai_autoencoder_options {
  size_t struct_size;       /* set by lai_autoencoder_options_init */
  int32_t size;             /* 128: network input and map size (multiple of 4, 8..1024) */
  int32_t width;            /* 16: channels of the first encoder stage (1..256) */
  int32_t epochs;           /* 10 */
  int32_t batch_size;       /* 16 */
  float learning_rate;      /* 2e-3 (Adam) */
  uint64_t seed;            /* 1: weights and shuffling */
  float smooth_sigma;       /* 2: Gaussian smoothing of the map in pixels (0 = none) */
  float calibration_floor;  /* 0.05: added to the mean normal error before dividing by it */
  int64_t max_images;       /* 2000: training images are held in memory, resized to size x size */
  const char* label;        /* NULL: every image of the data set; else only samples whose one
                               label is this class name (e.g. "normal") */
  int32_t skip_bad_files;   /* 0: a corrupt image stops training with LAI_ERR_FORMAT */
  int32_t verbose;          /* 0: quiet; 1: progress lines on stderr */
  lai_progress_fn progress; /* NULL; called after every step and epoch; non-zero cancels */
  void* user_data;          /* passed to progress */
} lai_autoencoder_options;
LAI_API void lai_autoencoder_options_init(lai_autoencoder_options* options);

/* Trains a new detector on the images of `data`: a flat folder of images, a folder with one
 * sub-folder per class, or a CSV manifest (path,label); with `label` set, only that class is
 * used. Images are decoded and resized to size x size as they are read (at most max_images are
 * kept). options NULL = defaults. *out receives a new handle (free with lai_autoencoder_free);
 * NULL when cancelled (LAI_ERR_CANCELLED). Thread-safe (independent of other handles). */
LAI_API lai_status lai_autoencoder_train(const char* data, const lai_autoencoder_options* options,
                                         lai_autoencoder** out);
/* Same from caller buffers (`count` normal images of any size and type; options' label,
 * max_images and skip_bad_files are not used). Thread-safe. */
LAI_API lai_status lai_autoencoder_train_images(const lai_image* images, size_t count,
                                                const lai_autoencoder_options* options, lai_autoencoder** out);
/* The anomaly map of an image into map[0 .. size*size-1] (row-major, packed; map may be NULL
 * when only the score is wanted; map_count is its capacity in floats) and its image score into
 * *score (NULL allowed; options NULL = defaults). The image may have any size: it is resized to
 * the network's input. Thread-safe: any number of threads may score with one handle. */
LAI_API lai_status lai_autoencoder_score(const lai_autoencoder* ae, const void* pixels, lai_pixel_type type,
                                         int32_t width, int32_t height, size_t stride_bytes,
                                         const lai_score_options* options, float* map, size_t map_count,
                                         double* score);
/* Decodes an image file and scores it like lai_autoencoder_score. Thread-safe. */
LAI_API lai_status lai_autoencoder_score_file(const lai_autoencoder* ae, const char* path,
                                              const lai_score_options* options, float* map, size_t map_count,
                                              double* score);
/* The map's width and height (= the network's input size; NULL allowed). Thread-safe. */
LAI_API lai_status lai_autoencoder_get_info(const lai_autoencoder* ae, int32_t* map_width, int32_t* map_height);
/* A .lai model file holding the network, the calibration map and the smoothing (atomic write).
 * Thread-safe. */
LAI_API lai_status lai_autoencoder_save(const lai_autoencoder* ae, const char* path);
/* Loads a file written by lai_autoencoder_save (or `liteai anomaly train`). *out receives a new
 * handle. Errors: LAI_ERR_IO, LAI_ERR_FORMAT (corrupt, or not an autoencoder). Thread-safe. */
LAI_API lai_status lai_autoencoder_load(const char* path, lai_autoencoder** out);
/* Releases the detector. NULL is a no-op. No other call may use the handle during or after. */
LAI_API void lai_autoencoder_free(lai_autoencoder* ae);

/* since 0.4: */
/* The same for an autoencoder (options of "anomaly-score"; detectors trained since 0.4 hold back
 * a share of their normals, "holdout" 0.2, and carry their calibration). Thread-safe. */
LAI_API lai_status lai_autoencoder_assess(const lai_autoencoder* ae, const lai_image* image, const lai_options* options,
                                          char** json);

/* Its description as JSON, as lai_model_describe gives a model's. */
LAI_API lai_status lai_autoencoder_describe(const lai_autoencoder* ae, char** json);

/* ---------------------------------------------------------- senafas anomaly channel (since 0.3) */

/* "Reduce resolution while still telling the CNN there is an anomaly here": fitted on the anomaly
 * maps (WPMs, or autoencoder maps) of NORMAL images, a senafas model turns a map into a small
 * channel ((W/patch) x (H/patch)) whose cells are ~0 on ordinary anatomy and high where a patch
 * holds something no normal patch looks like (a coin, an electrode). Each patch is average-pooled
 * to at most max_features values, matched to a SOM of normal patch shapes, and its distance to
 * the best prototype is calibrated per cell against the normal maps (z = (qe - mean) / (sd +
 * floor), clipped at 0, log1p-compressed by default). Feed the channel to a compact network as a
 * second input at the reduced size; its maximum is an image score. Files: .lsnf (checked). */
typedef struct lai_senafas lai_senafas;

typedef struct lai_senafas_options {
  size_t struct_size;      /* set by lai_senafas_options_init */
  int32_t patch;           /* 8: reduction factor (1..256): the channel is ceil(W/patch) x ceil(H/patch) */
  int32_t max_features;    /* 64: pooled values kept per patch (>= 1) */
  int32_t rows, cols;      /* 6 x 6: SOM grid (1..64 each) */
  float sd_floor;          /* 0.5: added to each cell's sd, as a fraction of the mean sd (>= 0) */
  int32_t log_scale;       /* 1: channel = log1p(max(0, z)); 0: max(0, z) */
  int32_t epochs;          /* 20: batch SOM epochs (PCA initialization) */
  uint64_t seed;           /* 1 */
  lai_progress_fn progress;  /* NULL; called per SOM epoch (phase EPOCH, loss = quantization error);
                                non-zero cancels (LAI_ERR_CANCELLED, no handle) */
  void* user_data;
} lai_senafas_options;
LAI_API void lai_senafas_options_init(lai_senafas_options* options);

/* Fits on `count` (>= 2) maps of normal images, all of one size, any pixel type (usually
 * LAI_PIXEL_F32 WPMs from lai_probmat_wpm); values must be finite. options NULL = defaults.
 * *out receives a new handle (free with lai_senafas_free). Thread-safe. */
LAI_API lai_status lai_senafas_fit(const lai_image* maps, size_t count, const lai_senafas_options* options,
                                   lai_senafas** out);
/* Fits on the WPMs of `count` (>= 2) normal images computed with `pm` (images must be the
 * ProbMat's size; wpm_options as lai_probmat_wpm's, NULL = defaults): the same as calling
 * lai_probmat_wpm on each and lai_senafas_fit on the maps. Thread-safe like lai_probmat_wpm. */
LAI_API lai_status lai_senafas_fit_probmat(lai_probmat* pm, const lai_image* images, size_t count,
                                           const lai_wpm_options* wpm_options, const lai_senafas_options* options,
                                           lai_senafas** out);
/* The channel of one map (the size of the training maps) into out[0 .. cw*ch-1] (row-major,
 * packed; out_count is its capacity in floats; out may be NULL to ask only the size or score).
 * *width / *height receive the channel's size (cw, ch), *score its maximum (the image score);
 * each may be NULL. Thread-safe: any number of threads may use one handle. */
LAI_API lai_status lai_senafas_channel(const lai_senafas* senafas, const lai_image* map, float* out,
                                       size_t out_count, int32_t* width, int32_t* height, double* score);

typedef struct lai_senafas_info {
  size_t struct_size;      /* set by lai_senafas_info_init */
  int32_t map_width, map_height;          /* the size of the maps it was fitted on */
  int32_t channel_width, channel_height;  /* the channel's size */
  int32_t patch;
  int32_t features;        /* pooled values per patch */
  int32_t rows, cols;      /* SOM grid */
  int32_t log_scale;
  float floor;             /* absolute sd floor */
} lai_senafas_info;
LAI_API void lai_senafas_info_init(lai_senafas_info* info);
/* Fills *info (fields covered by info->struct_size). Thread-safe. */
LAI_API lai_status lai_senafas_get_info(const lai_senafas* senafas, lai_senafas_info* info);
/* .lsnf files (checked container, atomic write). Load checks every size and value and names the
 * problem: LAI_ERR_IO (cannot read), LAI_ERR_FORMAT (corrupt, truncated, unknown version).
 * Thread-safe. */
LAI_API lai_status lai_senafas_save(const lai_senafas* senafas, const char* path);
LAI_API lai_status lai_senafas_load(const char* path, lai_senafas** out);
/* Releases the handle. NULL is a no-op. No other call may use the handle during or after. */
LAI_API void lai_senafas_free(lai_senafas* senafas);

/* since 0.4: */
/* Its description as JSON, as lai_model_describe gives a model's. */
LAI_API lai_status lai_senafas_describe(const lai_senafas* senafas, char** json);

/* ------------------------------------------------------------------ SOM */

typedef struct lai_som lai_som;

typedef enum lai_som_topology { LAI_SOM_RECTANGULAR = 0, LAI_SOM_HEXAGONAL = 1 } lai_som_topology;
typedef enum lai_som_neighborhood { LAI_SOM_GAUSSIAN = 0, LAI_SOM_BUBBLE = 1, LAI_SOM_MEXICAN_HAT = 2 } lai_som_neighborhood;

typedef struct lai_som_options {
  size_t struct_size;  /* set by lai_som_options_init */
  int32_t rows, cols;  /* 10 x 10 */
  lai_som_topology topology;
  int32_t toroidal;    /* 0 */
  lai_som_neighborhood neighborhood;
  int32_t batch;       /* 1: batch training (default), 0: online */
  int32_t epochs;      /* 20 */
  float lr_start, lr_end;          /* online only: 0.5 -> 0.01 */
  float radius_start, radius_end;  /* 0 (= max(rows, cols) / 2) -> 1 */
  int32_t pca_init;    /* 1: PCA initialization, 0: random */
  uint64_t seed;       /* 1 */
  lai_progress_fn progress;  /* NULL; called per epoch (phase EPOCH, loss = quantization error) */
  void* user_data;
} lai_som_options;
LAI_API void lai_som_options_init(lai_som_options* options);

/* Trains a new SOM on n vectors of length dim (data: n x dim floats, row-major). *out receives
 * the new handle (NULL when cancelled: LAI_ERR_CANCELLED). Thread-safe. */
LAI_API lai_status lai_som_train(const float* data, int64_t n, int32_t dim, const lai_som_options* options,
                                 lai_som** out);
/* Best-matching unit (index row*cols + col) of each of n vectors into bmu[0..n-1]; the distance
 * to it into dist[0..n-1] (NULL allowed). Thread-safe. */
LAI_API lai_status lai_som_map(const lai_som* som, const float* data, int64_t n, int32_t dim, int32_t* bmu,
                               float* dist);
/* Grid size and vector length (NULL allowed for any). Thread-safe. */
LAI_API lai_status lai_som_get_info(const lai_som* som, int32_t* rows, int32_t* cols, int32_t* dim);
/* Copies the units' weights (rows*cols x dim floats). Thread-safe. */
LAI_API lai_status lai_som_weights(const lai_som* som, float* out, size_t out_count);
/* Mean quantization error (distance to the BMU) of n vectors. Thread-safe. */
LAI_API lai_status lai_som_quantization_error(const lai_som* som, const float* data, int64_t n, int32_t dim,
                                              double* error);
/* .lsom files (checked, atomic). Thread-safe. */
LAI_API lai_status lai_som_save(const lai_som* som, const char* path);
LAI_API lai_status lai_som_load(const char* path, lai_som** out);
LAI_API void lai_som_free(lai_som* som);

/* since 0.4: */
/* Its description as JSON, as lai_model_describe gives a model's. */
LAI_API lai_status lai_som_describe(const lai_som* som, char** json);

/* ------------------------------------------------------------------ Hough circles */

typedef struct lai_circle {
  float x, y, radius;
  float votes;    /* accumulator value at the centre */
  float support;  /* fraction of the circumference backed by edge pixels */
} lai_circle;

typedef enum lai_polarity { LAI_POLARITY_BRIGHT = 0, LAI_POLARITY_DARK = 1, LAI_POLARITY_BOTH = 2 } lai_polarity;

typedef struct lai_hough_options {
  size_t struct_size;  /* set by lai_hough_options_init */
  float min_radius, max_radius;  /* 3, 30 pixels */
  float min_dist;                /* 0: min_radius */
  float blur_sigma;              /* 1 */
  float low_threshold, high_threshold;  /* 0.1, 0.25 of the largest gradient */
  float noise_factor;            /* 5 */
  float min_votes;               /* 10 */
  float min_support;             /* 0.35 */
  lai_polarity polarity;         /* BRIGHT */
} lai_hough_options;
LAI_API void lai_hough_options_init(lai_hough_options* options);

/* Circles in an image (or a WPM passed as LAI_PIXEL_F32), strongest first, into
 * circles[0 .. min(found, capacity)-1]; *found receives how many were found (may exceed
 * capacity). circles may be NULL when capacity is 0. Thread-safe. */
LAI_API lai_status lai_hough_circles(const void* pixels, lai_pixel_type type, int32_t width, int32_t height,
                                     size_t stride_bytes, const lai_hough_options* options, lai_circle* circles,
                                     size_t capacity, size_t* found);

/* ------------------------------------------------------------- detection evaluation (since 0.4) */

/* Image AUROC and FROC (object-CXR: a hit is a detection whose centre lies in a ground-truth
 * object; mean sensitivity at 0.125..8 false positives per image) with options of the task
 * "eval-detections" ("truth" manifest with mask paths; "detections" file or "maps" folder; "out"
 * folder for evaluation.json, froc.csv/png/svg): *json receives the summary (free with
 * lai_string_free). Thread-safe. */
LAI_API lai_status lai_eval_detections(const lai_options* options, char** json);

/* ------------------------------------------------------------------ DICOM (since 0.4) */

/* Non-zero when the library was built with its DICOM module (DCMTK); without it every
 * lai_dicom_* function returns LAI_ERR_NOT_SUPPORTED and the image functions refuse DICOM. */
LAI_API int32_t lai_dicom_available(void);

/* A read DICOM image: its display pixels and what the result writers copy from it. Read: one-frame
 * gray images (CR, DX, any MONOCHROME1/2), 8..16 bits stored, signed or not, native, deflated,
 * RLE, JPEG (baseline, extended, lossless) or JPEG-LS. Display values: stored values through the
 * modality transform (rescale or Modality LUT), the first VOI LUT, else the first window (LINEAR,
 * LINEAR_EXACT, SIGMOID), else the full range the stored bits hold, MONOCHROME1 inverted, onto
 * whole levels 0..65535: what a viewer shows, as a 16-bit image. lai_image_decode_file and
 * lai_image_decode_memory give the same values for a DICOM file (as floats), so a model or a
 * ProbMat sees the same numbers through either. Refused with LAI_ERR_NOT_SUPPORTED (the message
 * names the file and the tag): objects without pixel data, several frames, colour, Bits Allocated
 * other than 8/16, syntaxes DCMTK cannot decode here (JPEG 2000); LAI_ERR_FORMAT: damaged files.
 * Immutable once read: every call but _free is thread-safe. */
typedef struct lai_dicom lai_dicom;
LAI_API lai_status lai_dicom_read_file(const char* path, lai_dicom** out);
LAI_API lai_status lai_dicom_read_memory(const void* bytes, size_t size, lai_dicom** out);
LAI_API void lai_dicom_free(lai_dicom* dicom);
/* A view of its display pixels (LAI_PIXEL_U16, packed), owned by the handle: valid until
 * lai_dicom_free. Pass it to lai_model_predict, lai_probmat_wpm_with, ... as any image. */
LAI_API lai_status lai_dicom_image(const lai_dicom* dicom, lai_image* image);
/* What it says about itself, as JSON into *json (free with lai_string_free): the UIDs, patient
 * and study attributes, modality, rows, columns, pixel spacing, transfer syntax, photometric
 * interpretation, bits, and how the display values were made ("voi", window centre/width). */
LAI_API lai_status lai_dicom_describe(const lai_dicom* dicom, char** json);

/* Results for a source, as DICOM files in memory (*bytes: free with lai_bytes_free): new series
 * in the source's study (name-based UIDs: the same results give the same instance), patient and
 * study attributes copied, the source referenced. findings_json: an object
 *   {"model_name": "...", "model_version": "...", "classes": [{"name": "...", "probability": p}],
 *    "anomaly_score": s, "circles": [{"x": .., "y": .., "radius": .., "score": ..}]}
 * (every member optional; circles in the source's pixels, x the column, the centre of the top-left
 * pixel at 0,0), or an array of such objects merged in order (classes and circles appended), so
 * lai_model_findings' output and a map's can be joined without editing JSON.
 * The SR: a Comprehensive SR with a TID 1500 measurement report (device observer "liteai").
 * Thread-safe. */
LAI_API lai_status lai_dicom_encode_sr(const lai_dicom* source, const char* findings_json, uint8_t** bytes,
                                       size_t* size);
/* The Secondary Capture (RGB) of the source's display image with `map` (any size; resized to the
 * source) coloured where it exceeds `threshold`, as `liteai probmat score` draws overlays.
 * Thread-safe. */
LAI_API lai_status lai_dicom_encode_overlay(const lai_dicom* source, const lai_image* map, float threshold,
                                            const char* findings_json, uint8_t** bytes, size_t* size);
LAI_API void lai_bytes_free(uint8_t* bytes);
/* The findings of an anomaly map `map` (the WPM of lai_probmat_wpm_with at the ProbMat's size,
 * LAI_PIXEL_F32) with options of the task "probmat-score" (NULL: defaults): its image score and
 * the circles past the operating point, as lai_probmat_assess gives them (calibrated when the
 * ProbMat is), converted to the pixels of a source of source_width x source_height; name
 * "liteai probmat", version naming the ProbMat. The same findings `liteai probmat score
 * --dicom-out` reports and the same score its CSV line prints.
 * Thread-safe. */
LAI_API lai_status lai_probmat_findings(lai_probmat* pm, const lai_image* map, const lai_options* options,
                                        int32_t source_width, int32_t source_height, char** json);
/* A classifier's probabilities (count = its classes) as findings JSON for the functions above:
 * the model's architecture name, a version naming its weights (computed once per handle), its
 * class names. Concurrent like lai_model_predict. */
LAI_API lai_status lai_model_findings(const lai_model* model, const float* probabilities, size_t count,
                                      char** json);

#ifdef __cplusplus
}
#endif

#endif /* LITEAI_H */
