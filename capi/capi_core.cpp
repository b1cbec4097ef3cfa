// C API: errors, version, threads, image decoding, phantoms, shared helpers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "capi_internal.hpp"
#include "liteai/app/data.hpp"
#include "liteai/app/data_tasks.hpp"
#include "liteai/app/tasks.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/phantom.hpp"

#define LAI_STR2(x) #x
#define LAI_STR(x) LAI_STR2(x)

namespace liteai::capi {

namespace {
thread_local std::string t_error;
thread_local const char* t_error_fallback = "";

}  // namespace

void set_error(lai_status status, const char* message) noexcept {
  try {
    t_error = message ? message : "";
    if (t_error.empty()) t_error = lai_status_string(status);
    t_error_fallback = nullptr;
  } catch (...) {
    t_error_fallback = "out of memory while recording an error message";
  }
}

lai_status status_of(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::invalid_argument: return LAI_ERR_INVALID_ARGUMENT;
    case ErrorKind::io: return LAI_ERR_IO;
    case ErrorKind::format: return LAI_ERR_FORMAT;
    case ErrorKind::out_of_memory: return LAI_ERR_OUT_OF_MEMORY;
    case ErrorKind::not_supported: return LAI_ERR_NOT_SUPPORTED;
    case ErrorKind::cancelled: return LAI_ERR_CANCELLED;
    case ErrorKind::busy: return LAI_ERR_BUSY;
    case ErrorKind::internal: return LAI_ERR_INTERNAL;
  }
  return LAI_ERR_INTERNAL;
}

size_t checked_stride(const char* fn, const void* base, size_t row_bytes, int32_t rows, size_t stride_bytes) {
  if (stride_bytes == 0) stride_bytes = row_bytes;
  // size_t carries a signed stride as a huge value: a .NET Bitmap's Stride is negative for
  // bottom-up rows.
  require(stride_bytes <= size_t(PTRDIFF_MAX), fn, ": stride_bytes is negative (", ptrdiff_t(stride_bytes),
          "): bottom-up buffers are not supported; pass the top row's address and a positive stride (a top-down copy)");
  require(stride_bytes >= row_bytes, fn, ": stride_bytes ", stride_bytes, " is smaller than a row (", row_bytes,
          " bytes)");
  // The buffer spans (rows - 1) strides and one row: that must not overflow, wrap the address
  // space, or exceed what any one array may be.
  const size_t before_last = size_t(rows - 1);
  require(before_last == 0 || stride_bytes <= (SIZE_MAX - row_bytes) / before_last, fn, ": stride_bytes ", stride_bytes,
          " x ", rows, " rows overflows the address space");
  const size_t span = before_last * stride_bytes + row_bytes;
  const uint64_t max = uint64_t(limit(Limit::tensor_bytes));
  require(span <= max, fn, ": stride_bytes ", stride_bytes, " x ", rows, " rows spans ", describe_bytes(span),
          ", more than one pixel buffer may (", describe_bytes(max), ", ", env_name(Limit::tensor_bytes), ")");
  require(uintptr_t(base) <= UINTPTR_MAX - span, fn, ": stride_bytes ", stride_bytes, " x ", rows,
          " rows runs past the end of the address space");
  return stride_bytes;
}

data::Image image_from_buffer(const char* fn, const void* pixels, int type, int32_t width, int32_t height,
                              size_t stride_bytes) {
  require_ptr(pixels, fn, "pixels");
  require(width > 0 && height > 0, fn, ": image size must be positive, got ", width, "x", height);
  const uint64_t count = uint64_t(width) * uint64_t(height), max_pixels = uint64_t(limit(Limit::image_pixels));
  require(count <= max_pixels, fn, ": image of ", width, "x", height, " is too large (", count,
          " pixels, more than the limit of ", max_pixels, " per image, ", env_name(Limit::image_pixels), ")");
  size_t bpp = 0;
  float max_value = 1.f;
  switch (type) {
    case LAI_PIXEL_U8: bpp = 1; max_value = 255.f; break;
    case LAI_PIXEL_U16: bpp = 2; max_value = 65535.f; break;
    case LAI_PIXEL_F32: bpp = 4; max_value = 1.f; break;
    default: fail(LAI_ERR_INVALID_ARGUMENT, fn, ": unknown pixel type ", int(type), " (LAI_PIXEL_U8, _U16 or _F32)");
  }
  const size_t row = size_t(width) * bpp;
  stride_bytes = checked_stride(fn, pixels, row, height, stride_bytes);
  data::Image img(width, height);
  img.max_value = max_value;
  const auto* base = static_cast<const unsigned char*>(pixels);
  for (int32_t y = 0; y < height; ++y) {
    const unsigned char* r = base + size_t(y) * stride_bytes;
    float* dst = img.pixels.data() + size_t(y) * size_t(width);
    if (type == LAI_PIXEL_U8) {
      for (int32_t x = 0; x < width; ++x) dst[x] = float(r[x]);
    } else if (type == LAI_PIXEL_U16) {
      for (int32_t x = 0; x < width; ++x) {
        uint16_t v;
        std::memcpy(&v, r + size_t(x) * 2, 2);  // rows need not be aligned
        dst[x] = float(v);
      }
    } else {
      std::memcpy(dst, r, row);
      for (int32_t x = 0; x < width; ++x)
        require(std::isfinite(dst[x]), fn, ": pixel (", x, ", ", y, ") is not a finite number");
    }
  }
  return img;
}

data::Image image_from_arg(const char* fn, const lai_image* v, const char* what) {
  require_ptr(v, fn, what);
  try {
    return image_from_view(fn, *v);
  } catch (const CapiError& e) {
    fail(e.status, e.what(), " (", what, ")");
  }
}

void copy_text(const char* fn, const std::string& text, char* buf, size_t size, size_t* needed) {
  if (needed) *needed = text.size() + 1;
  if (!buf && size == 0 && needed) return;  // size query
  require_ptr(buf, fn, "buf");
  require(size >= text.size() + 1, fn, ": buffer of ", size, " bytes is too small, ", text.size() + 1, " needed");
  std::memcpy(buf, text.c_str(), text.size() + 1);
}

}  // namespace liteai::capi

using namespace liteai;
using namespace liteai::capi;

extern "C" {

LAI_API const char* lai_last_error(void) {
  if (t_error_fallback) return t_error_fallback;
  return t_error.c_str();
}

LAI_API const char* lai_status_string(lai_status s) {
  switch (ev(s)) {
    case LAI_OK: return "LAI_OK";
    case LAI_ERR_INVALID_ARGUMENT: return "LAI_ERR_INVALID_ARGUMENT";
    case LAI_ERR_IO: return "LAI_ERR_IO";
    case LAI_ERR_FORMAT: return "LAI_ERR_FORMAT";
    case LAI_ERR_OUT_OF_MEMORY: return "LAI_ERR_OUT_OF_MEMORY";
    case LAI_ERR_CANCELLED: return "LAI_ERR_CANCELLED";
    case LAI_ERR_BUSY: return "LAI_ERR_BUSY";
    case LAI_ERR_NOT_SUPPORTED: return "LAI_ERR_NOT_SUPPORTED";
    case LAI_ERR_INTERNAL: return "LAI_ERR_INTERNAL";
  }
  return "unknown status";
}

LAI_API const char* lai_version(int32_t* major, int32_t* minor, int32_t* patch) {
  if (major) *major = LAI_VERSION_MAJOR;
  if (minor) *minor = LAI_VERSION_MINOR;
  if (patch) *patch = LAI_VERSION_PATCH;
  return LAI_STR(LAI_VERSION_MAJOR) "." LAI_STR(LAI_VERSION_MINOR) "." LAI_STR(LAI_VERSION_PATCH);
}

LAI_API lai_status lai_set_num_threads(int32_t n) {
  return guarded("lai_set_num_threads", [&] {
    require(n <= kMaxThreads, "lai_set_num_threads: ", n, " threads is out of range (1..", kMaxThreads,
            ", or <= 0 for the default)");
    set_num_threads(n < 0 ? 0 : n);  // this ABI documents every n <= 0 as the default
  });
}

LAI_API lai_status lai_set_limit(const char* name, int64_t value) {
  const char* fn = "lai_set_limit";
  return guarded(fn, [&] {
    require_ptr(name, fn, "name");
    require(value >= 1, fn, ": ", name, " must be >= 1, got ", value);
    app::apply_limits({str_cat(name, "=", value)}, fn);
  });
}

LAI_API lai_status lai_get_limit(const char* name, int64_t* value) {
  const char* fn = "lai_get_limit";
  return guarded(fn, [&] {
    require_ptr(name, fn, "name");
    require_ptr(value, fn, "value");
    for (Limit l : {Limit::image_pixels, Limit::file_bytes, Limit::tensor_bytes, Limit::total_bytes, Limit::header_bytes})
      if (std::strcmp(name, to_string(l)) == 0) {
        *value = limit(l);
        return;
      }
    require(false, fn, ": unknown limit '", name, "' (max_image_pixels, max_file_bytes, max_tensor_bytes, "
            "max_total_bytes or max_header_bytes)");
  });
}

LAI_API int32_t lai_get_num_threads(void) {
  try {
    return num_threads();
  } catch (...) {
    return 1;
  }
}

static void decode_common(const char* fn, const data::Image& img, float* pixels, size_t capacity, int32_t* width,
                          int32_t* height) {
  if (width) *width = img.width;
  if (height) *height = img.height;
  if (!pixels) return;
  const size_t n = size_t(img.width) * size_t(img.height);
  require(capacity >= n, fn, ": capacity ", capacity, " is smaller than the image (", img.width, "x", img.height,
          " = ", n, " floats)");
  std::memcpy(pixels, img.pixels.data(), n * sizeof(float));
}

LAI_API lai_status lai_image_decode_memory(const void* bytes, size_t size, float* pixels, size_t capacity,
                                           int32_t* width, int32_t* height) {
  const char* fn = "lai_image_decode_memory";
  return guarded(fn, [&] {
    require_ptr(bytes, fn, "bytes");
    require(size > 0, fn, ": size is 0");
    require(pixels || (width && height), fn, ": pixels, width and height are all NULL: nothing to return");
    if (!pixels) {
      data::ImageInfo info = data::probe_image_memory(bytes, size, "<memory>");
      *width = info.width;
      *height = info.height;
      return;
    }
    decode_common(fn, data::decode_image_memory(bytes, size, "<memory>"), pixels, capacity, width, height);
  });
}

LAI_API lai_status lai_image_decode_file(const char* path, float* pixels, size_t capacity, int32_t* width,
                                         int32_t* height) {
  const char* fn = "lai_image_decode_file";
  return guarded(fn, [&] {
    const std::string p = require_path(path, fn);
    require(pixels || (width && height), fn, ": pixels, width and height are all NULL: nothing to return");
    if (!pixels) {
      data::ImageInfo info = data::probe_image(p);
      *width = info.width;
      *height = info.height;
      return;
    }
    decode_common(fn, data::decode_image(p), pixels, capacity, width, height);
  });
}

LAI_API lai_status lai_image_to_unit(const lai_image* image, int32_t width, int32_t height, float* out,
                                     size_t count) {
  const char* fn = "lai_image_to_unit";
  return guarded(fn, [&] {
    const data::Image img = image_from_arg(fn, image, "image");
    require(width > 0 && height > 0 && width <= 65536 && height <= 65536, fn, ": size ", width, "x", height,
            " (1..65536 each)");
    require_ptr(out, fn, "out");
    require(count >= size_t(width) * size_t(height), fn, ": out has room for ", count, " floats, ", width, "x", height,
            " needs ", size_t(width) * size_t(height));
    const data::Image u = app::to_unit(img, width, height);
    std::memcpy(out, u.pixels.data(), u.pixels.size() * sizeof(float));
  });
}

LAI_API lai_status lai_phantom_render(uint64_t seed, uint64_t index, int32_t size, uint8_t* pixels,
                                      size_t stride_bytes, int32_t* label) {
  const char* fn = "lai_phantom_render";
  return guarded(fn, [&] {
    require_ptr(pixels, fn, "pixels");
    require(size >= 32 && size <= 4096, fn, ": size must be in 32..4096, got ", size);
    stride_bytes = checked_stride(fn, pixels, size_t(size), size, stride_bytes);
    data::PhantomOptions o;
    o.size = size;
    data::Phantom ph = data::make_phantom(seed, index, o);
    for (int32_t y = 0; y < size; ++y)
      for (int32_t x = 0; x < size; ++x)
        pixels[size_t(y) * stride_bytes + size_t(x)] =
            uint8_t(std::clamp(std::lround(ph.image.at(x, y)), 0L, 255L));
    if (label) *label = ph.label;
  });
}

LAI_API lai_status lai_phantom_write_set(const char* dir, int32_t count, uint64_t seed, int32_t size) {
  const char* fn = "lai_phantom_write_set";
  return guarded(fn, [&] {
    const std::string d = require_path(dir, fn, "dir");
    require(count > 0, fn, ": count must be positive, got ", count);
    require(size >= 32 && size <= 4096, fn, ": size must be in 32..4096, got ", size);
    data::PhantomOptions o;
    o.size = size;
    data::write_phantom_set(d, size_t(count), seed, o);
  });
}

LAI_API lai_status lai_phantom_write_set_with(const lai_options* options) {
  const char* fn = "lai_phantom_write_set_with";
  return guarded(fn, [&] { app::write_phantoms(options_of(options, "synth", fn), hooks_of(options)); });
}

}  // extern "C"
