#pragma once
// The task layer's table of contents: every task the front ends offer, by name, with its options
// (app/options.hpp). The `liteai` command has one sub-command per task (or per group: `probmat
// build` is the task "probmat-build"), lai_options_create(name) makes options for it, Python's
// keyword arguments are checked against it.
//
// A task is added once: declare its OptionSet and its function in app/, list it in tasks.cpp, and
// translate it in tools/ (arguments) and capi/ (handles and buffers).
#include <functional>
#include <string>
#include <vector>

#include "liteai/app/options.hpp"
#include "liteai/optim/trainer.hpp"

namespace liteai::app {

// Options every long task has: threads, quiet, progress (threads_option(): threads alone).
const OptionSet& common_options();
const OptionSet& threads_option();
// Applies the common options (thread count) before a task runs.
void apply_common(const Options& o);
// Whether progress lines go to the log: -1 auto (on a terminal), 0 off, 1 on.
int progress_mode(const Options& o);

// The options of a task by name; throws listing the known tasks.
const OptionSet& task_options(const std::string& task);
std::vector<std::string> task_names();

// What a running task reports back and how it is asked to stop (the C API's progress callback,
// Python's, the CLI's none): return false to cancel after the current step.
struct Hooks {
  optim::ProgressCallback progress;
};

}  // namespace liteai::app
