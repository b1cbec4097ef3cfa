#pragma once
// The task layer's table of contents: every task the front ends offer, by name, with its options
// (app/options.hpp). The `liteai` command has one sub-command per task (or per group: `probmat
// build` is the task "probmat-build"), lai_options_create(name) makes options for it, Python's
// keyword arguments are checked against it.
//
// A task is added once: declare its OptionSet and its function in app/, list it in tasks.cpp, and
// translate it in tools/ (arguments) and capi/ (handles and buffers).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/io/file.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::app {

// Options every long task has: threads, quiet, progress (threads_option(): threads alone).
const OptionSet& common_options();
const OptionSet& threads_option();
// Applies the common options (thread count, --limits) before a task runs.
void apply_common(const Options& o);
// Sets resource limits (core/limits.hpp) from NAME=VALUE texts ("max_image_pixels=256M"): what
// --limits, lai_set_limit and liteai.set_limit do. Errors name `what` and the setting.
void apply_limits(const std::vector<std::string>& settings, const std::string& what);
// Whether progress lines go to the log: -1 auto (on a terminal), 0 off, 1 on.
int progress_mode(const Options& o);
// The file a task writes when it ends (option `name`, e.g. --out), checked writable and claimed
// for the whole run (io::OutputLock) before the work starts: a second run writing the same file
// fails at once naming the first one's PID, instead of both succeeding and one result being lost.
// Empty when the option is not given.
std::optional<io::OutputLock> claim_output(const Options& o, const std::string& name = "out");

// The options of a task by name; throws listing the known tasks.
const OptionSet& task_options(const std::string& task);
std::vector<std::string> task_names();

// What a running task reports back and how it is asked to stop (the C API's progress callback,
// Python's, the CLI's none): return false to cancel after the current step.
struct Hooks {
  optim::ProgressCallback progress;
};

}  // namespace liteai::app
