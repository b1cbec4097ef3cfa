// C API (since 0.4): task options (lai_options over app::Options), library-owned strings and the
// log callback.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "capi_internal.hpp"
#include "liteai/core/log.hpp"

using namespace liteai;
using namespace liteai::capi;

namespace liteai::capi {

app::Options options_of(const lai_options* o, const char* task, const char* fn) {
  const app::OptionSet& want = app::task_options(task);
  if (!o) return app::Options(want);
  require(&o->values.spec() == &want, fn, ": the options are for the task '", o->values.spec().task(), "', not '",
          task, "' (lai_options_create(\"", task, "\", ...))");
  return o->values;
}

app::Hooks hooks_of(const lai_options* o) {
  app::Hooks h;
  if (o && o->progress) {
    const lai_progress_fn fn = o->progress;
    void* user = o->user_data;
    h.progress = [fn, user](const optim::Progress& p) {
      lai_progress c;
      fill_progress(p, c);
      return fn(&c, user) == 0;
    };
  }
  return h;
}

void give_string(const std::string& text, char** out) {
  if (!out) return;
  char* s = static_cast<char*>(std::malloc(text.size() + 1));
  if (!s) throw std::bad_alloc();
  std::memcpy(s, text.c_str(), text.size() + 1);
  *out = s;
}

}  // namespace liteai::capi

namespace {

lai_options* options_arg(lai_options* o, const char* fn) {
  require_ptr(o, fn, "options");
  return o;
}

std::string name_arg(const char* name, const char* fn) { return require_path(name, fn, "name"); }

}  // namespace

extern "C" {

LAI_API void lai_string_free(char* s) { std::free(s); }

LAI_API lai_status lai_set_log_callback(lai_log_fn fn, void* user_data) {
  return guarded("lai_set_log_callback", [&] {
    if (!fn) {
      set_log_sink({});
      return;
    }
    set_log_sink([fn, user_data](LogLevel level, const std::string& message) {
      fn(static_cast<lai_log_level>(static_cast<int>(level)), message.c_str(), user_data);
    });
  });
}

LAI_API lai_status lai_set_log_level(lai_log_level level) {
  const char* fn = "lai_set_log_level";
  return guarded(fn, [&] {
    const int l = ev(level);
    require(l >= LAI_LOG_ERROR && l <= LAI_LOG_DEBUG, fn, ": unknown level ", l, " (LAI_LOG_ERROR..LAI_LOG_DEBUG)");
    set_log_level(static_cast<LogLevel>(l));
  });
}

LAI_API lai_status lai_options_create(const char* task, lai_options** out) {
  const char* fn = "lai_options_create";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string t = require_path(task, fn, "task");
    *out = new lai_options(app::task_options(t));
  });
}

LAI_API void lai_options_free(lai_options* options) { delete options; }

LAI_API lai_status lai_options_set(lai_options* options, const char* name, const char* value) {
  const char* fn = "lai_options_set";
  return guarded(fn, [&] {
    options_arg(options, fn);
    const std::string n = name_arg(name, fn);
    require_ptr(value, fn, "value");
    options->values.set(n, value, app::OptionStyle::api);
  });
}

LAI_API lai_status lai_options_set_int(lai_options* options, const char* name, int64_t value) {
  const char* fn = "lai_options_set_int";
  return guarded(fn, [&] {
    options_arg(options, fn);
    options->values.set_int(name_arg(name, fn), value, app::OptionStyle::api);
  });
}

LAI_API lai_status lai_options_set_double(lai_options* options, const char* name, double value) {
  const char* fn = "lai_options_set_double";
  return guarded(fn, [&] {
    options_arg(options, fn);
    options->values.set_number(name_arg(name, fn), value, app::OptionStyle::api);
  });
}

LAI_API lai_status lai_options_unset(lai_options* options, const char* name) {
  const char* fn = "lai_options_unset";
  return guarded(fn, [&] {
    options_arg(options, fn);
    options->values.unset(name_arg(name, fn));
  });
}

LAI_API lai_status lai_options_set_progress(lai_options* options, lai_progress_fn progress, void* user_data) {
  const char* fn = "lai_options_set_progress";
  return guarded(fn, [&] {
    options_arg(options, fn);
    options->progress = progress;
    options->user_data = user_data;
  });
}

LAI_API lai_status lai_options_get(const lai_options* options, const char* name, char* buf, size_t size,
                                   size_t* needed) {
  const char* fn = "lai_options_get";
  return guarded(fn, [&] {
    require_ptr(options, fn, "options");
    copy_text(fn, options->values.get_text(name_arg(name, fn)), buf, size, needed);
  });
}

LAI_API lai_status lai_options_to_json(const lai_options* options, char** json) {
  const char* fn = "lai_options_to_json";
  return guarded(fn, [&] {
    require_ptr(options, fn, "options");
    require_ptr(json, fn, "json");
    *json = nullptr;
    give_string(options->values.to_json().dump(), json);
  });
}

LAI_API lai_status lai_options_describe(const char* task, char** json) {
  const char* fn = "lai_options_describe";
  return guarded(fn, [&] {
    require_ptr(json, fn, "json");
    *json = nullptr;
    if (!task) {
      give_string(io::Json::array_of(app::task_names()).dump(), json);
      return;
    }
    give_string(app::task_options(task).describe().dump(), json);
  });
}

}  // extern "C"
