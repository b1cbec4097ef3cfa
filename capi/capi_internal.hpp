#pragma once
// Internal helpers of the C API: error translation (nothing throws across the boundary),
// argument checks, struct_size-aware option reading, pixel buffer conversion, handle guards.
// The C API only translates; the work is done by the C++ library.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "liteai.h"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/options.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/image.hpp"
#include "liteai/nn/metrics.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::optim {
struct Progress;
}

namespace liteai::capi {

// An error with a chosen status (argument checks, busy handles, cancellation).
struct CapiError : std::runtime_error {
  lai_status status;
  CapiError(lai_status s, const std::string& m) : std::runtime_error(m), status(s) {}
};

void set_error(lai_status status, const char* message) noexcept;

// The status of an error kind (set where the problem was found).
lai_status status_of(liteai::ErrorKind kind) noexcept;

// Runs fn (returning void) and turns every exception into a status + message.
template <class F>
lai_status guarded(const char* fn_name, F&& fn) noexcept {
  try {
    fn();
    return LAI_OK;
  } catch (const CapiError& e) {
    set_error(e.status, e.what());
    return e.status;
  } catch (const liteai::Error& e) {
    const lai_status s = status_of(e.kind());
    set_error(s, e.what());
    return s;
  } catch (const std::bad_alloc&) {
    set_error(LAI_ERR_OUT_OF_MEMORY, fn_name);
    return LAI_ERR_OUT_OF_MEMORY;
  } catch (const std::length_error& e) {
    set_error(LAI_ERR_OUT_OF_MEMORY, fn_name);
    return LAI_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_error(LAI_ERR_INTERNAL, e.what());
    return LAI_ERR_INTERNAL;
  } catch (...) {
    set_error(LAI_ERR_INTERNAL, fn_name);
    return LAI_ERR_INTERNAL;
  }
}

template <class... Args>
[[noreturn]] void fail(lai_status s, const Args&... args) {
  throw CapiError(s, str_cat(args...));
}
template <class... Args>
void require(bool cond, const Args&... args) {
  if (!cond) fail(LAI_ERR_INVALID_ARGUMENT, args...);
}
inline void require_ptr(const void* p, const char* fn, const char* what) {
  if (!p) fail(LAI_ERR_INVALID_ARGUMENT, fn, ": ", what, " is NULL");
}
inline std::string require_path(const char* p, const char* fn, const char* what = "path") {
  require_ptr(p, fn, what);
  require(p[0] != '\0', fn, ": ", what, " is empty");
  return std::string(p);
}

// Reads a caller's options struct: defaults from `init`, then the bytes the caller's
// struct_size covers (older callers pass smaller structs, newer ones larger).
template <class T>
T read_options(const T* in, void (*init)(T*), const char* fn, const char* what) {
  T out;
  init(&out);
  if (!in) return out;
  size_t n = 0;
  std::memcpy(&n, in, sizeof(size_t));
  require(n >= sizeof(size_t) && n <= (1u << 20), fn, ": ", what, "->struct_size is ", n,
          " (initialize the struct with its _init function)");
  std::memcpy(static_cast<void*>(&out), in, n < sizeof(T) ? n : sizeof(T));
  out.struct_size = sizeof(T);
  return out;
}
// Writes a result struct: as many bytes as the caller's struct_size covers.
template <class T>
void write_result(T* dst, const T& src, const char* fn, const char* what) {
  if (!dst) return;
  size_t n = 0;
  std::memcpy(&n, dst, sizeof(size_t));
  require(n >= sizeof(size_t) && n <= (1u << 20), fn, ": ", what, "->struct_size is ", n,
          " (initialize the struct with its _init function)");
  T copy = src;
  copy.struct_size = n < sizeof(T) ? n : sizeof(T);
  std::memcpy(static_cast<void*>(dst), &copy, copy.struct_size);
}

// The value of a caller's enum as an int, read without an enum-typed load: a caller may pass any
// int (C allows it), and loading an out-of-range value through the C++ enum type is undefined
// behaviour (UBSan -fsanitize=enum). Every enum coming from a caller is read through this.
template <class E>
int ev(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// The row stride of a caller's buffer of `rows` rows of `row_bytes` bytes at `base` (0: packed).
// Refuses, naming stride_bytes, a negative stride (a bottom-up bitmap), one smaller than a row, and
// a span ((rows - 1) x stride + row) that overflows, wraps the address space or is more than
// limits().max_tensor_bytes.
size_t checked_stride(const char* fn, const void* base, size_t row_bytes, int32_t rows, size_t stride_bytes);

// Copies a caller pixel buffer into a gray float image (source units; max_value 255 for u8,
// 65535 for u16, 1 for f32). Checks every argument; width x height within limits().max_image_pixels.
data::Image image_from_buffer(const char* fn, const void* pixels, int type, int32_t width, int32_t height,
                              size_t stride_bytes);
inline data::Image image_from_view(const char* fn, const lai_image& v) {
  return image_from_buffer(fn, v.data, ev(v.type), v.width, v.height, v.stride_bytes);
}

// A lai_image given by pointer (argument `what`): checked like image_from_buffer, with `what`
// named in the message.
data::Image image_from_arg(const char* fn, const lai_image* v, const char* what);

// The C progress record of a trainer progress report.
void fill_progress(const optim::Progress& p, lai_progress& c);

// Copies text into a caller buffer (the C convention of this API: *needed = length + 1).
void copy_text(const char* fn, const std::string& text, char* buf, size_t size, size_t* needed);

// A checked lai_wpm_options (NULL = defaults) in the task layer's terms, and the WPM of an image
// with a ProbMat handle (in the ProbMat's intensity units; its finalized table cached as
// lai_probmat_wpm does). Shared by lai_probmat_wpm and lai_senafas_fit_probmat.
app::WpmSettings wpm_request(const char* fn, const lai_wpm_options* options);
data::Image probmat_wpm(const char* fn, lai_probmat* pm, const data::Image& img, const app::WpmSettings& r);

}  // namespace liteai::capi

// ---- handles ----
// A model: the network plus an access counter. Inference calls are readers (any number at once);
// training, evaluation and renaming are exclusive; neither blocks: a conflict is LAI_ERR_BUSY.
struct lai_model {
  std::shared_ptr<liteai::nn::Model> model;
  mutable std::atomic<int64_t> readers{0};
  mutable std::atomic<bool> exclusive{false};
  // lai_model_set_training_precision (TrainOptions::precision).
  std::atomic<int> training_precision{LAI_PRECISION_BF16};
  // app::model_version (a pass over the weights) for lai_model_findings, made on first use and
  // forgotten when an exclusive call may change the weights.
  mutable std::mutex version_mutex;
  mutable std::string version;
};

// Options of one task (app::OptionSet) and the progress callback task calls report to.
struct lai_options {
  explicit lai_options(const liteai::app::OptionSet& set) : values(set) {}
  liteai::app::Options values;
  lai_progress_fn progress = nullptr;
  void* user_data = nullptr;
};

// An evaluation report (immutable once made: every getter is thread-safe).
struct lai_eval_report {
  liteai::nn::ClassificationReport report;
};

namespace liteai::capi {

class ReadAccess {
 public:
  ReadAccess(const lai_model* m, const char* fn) : m_(m) {
    m_->readers.fetch_add(1);
    if (m_->exclusive.load()) {
      m_->readers.fetch_sub(1);
      fail(LAI_ERR_BUSY, fn, ": the model is being trained or modified by another call");
    }
  }
  ~ReadAccess() { m_->readers.fetch_sub(1); }
  ReadAccess(const ReadAccess&) = delete;
  ReadAccess& operator=(const ReadAccess&) = delete;

 private:
  const lai_model* m_;
};

class ExclusiveAccess {
 public:
  ExclusiveAccess(lai_model* m, const char* fn) : m_(m) {
    if (m_->exclusive.exchange(true)) fail(LAI_ERR_BUSY, fn, ": the model is already being trained or modified");
    {
      std::lock_guard<std::mutex> lock(m_->version_mutex);
      m_->version.clear();
    }
    const int64_t r = m_->readers.load();
    if (r > 0) {
      m_->exclusive.store(false);
      fail(LAI_ERR_BUSY, fn, ": the model is in use by ", r, " concurrent call(s); it needs exclusive access");
    }
  }
  ~ExclusiveAccess() { m_->exclusive.store(false); }
  ExclusiveAccess(const ExclusiveAccess&) = delete;
  ExclusiveAccess& operator=(const ExclusiveAccess&) = delete;

 private:
  lai_model* m_;
};

// The values of a task call's options (NULL: the task's defaults); refuses options of another task.
liteai::app::Options options_of(const lai_options* o, const char* task, const char* fn);
// The task layer's hooks for an options handle's progress callback (cancel = non-zero return).
liteai::app::Hooks hooks_of(const lai_options* o);
// A library-owned copy of text for a char** output (NULL out: nothing).
void give_string(const std::string& text, char** out);

inline const liteai::nn::Model& model_of(const lai_model* m, const char* fn) {
  require_ptr(m, fn, "model");
  return *m->model;
}
// A new handle for a model (put in eval mode: handles are, except while they train).
lai_model* wrap_model(std::shared_ptr<liteai::nn::Model> m);

// Training keeps no bf16 inference copy (lai_model_set_inference_precision): validation inside a
// training is fp32, and the copy is not rebuilt after every step. The handle's precision comes
// back (one rebuild) when the training or trainer ends; nothing can predict in between (the model
// is exclusive), so nobody sees the temporary fp32.
// lai_precision values and the library's: F32, BF16 (bf16 storage, 0.3), BF16_COMPUTE (0.4).
inline liteai::nn::Precision precision_of(int p) {
  return p == LAI_PRECISION_BF16_COMPUTE ? liteai::nn::Precision::bf16_compute
         : p == LAI_PRECISION_BF16       ? liteai::nn::Precision::bf16_storage
                                         : liteai::nn::Precision::f32;
}
inline lai_precision to_lai(liteai::nn::Precision p) {
  return p == liteai::nn::Precision::bf16_compute   ? LAI_PRECISION_BF16_COMPUTE
         : p == liteai::nn::Precision::bf16_storage ? LAI_PRECISION_BF16
                                                    : LAI_PRECISION_F32;
}

class Fp32WhileTraining {
 public:
  explicit Fp32WhileTraining(liteai::nn::Module& net) : net_(net), saved_(net.inference_precision()) {
    net_.set_inference_precision(liteai::nn::Precision::f32);
  }
  // Back to inference mode with the caller's precision; may throw (no memory for the copy).
  void finish() {
    net_.eval();
    net_.set_inference_precision(saved_);
    done_ = true;
  }
  ~Fp32WhileTraining() {
    if (done_) return;
    try {
      finish();
    } catch (...) {  // out of memory for the copy: fp32 inference still works
      try {
        net_.set_inference_precision(liteai::nn::Precision::f32);
        net_.eval();
      } catch (...) {
      }
    }
  }
  Fp32WhileTraining(const Fp32WhileTraining&) = delete;
  Fp32WhileTraining& operator=(const Fp32WhileTraining&) = delete;

 private:
  liteai::nn::Module& net_;
  liteai::nn::Precision saved_;
  bool done_ = false;
};

}  // namespace liteai::capi
