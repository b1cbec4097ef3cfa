#pragma once
// Sub-commands of the `liteai` program register themselves with LAI_COMMAND so each lives in its
// own file: LAI_COMMAND(train, "train a model on a data folder or manifest") { ...; return 0; }
// The body sees `args` (the arguments after the sub-command name). A command translates its
// arguments into a task of the library's task layer (include/liteai/app/): the options come from
// the task's OptionSet, parsed by app::parse_args, so the CLI, the C API and Python share names,
// defaults and ranges.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "liteai/app/options.hpp"

namespace liteai::cli {

using Args = std::vector<std::string>;
using CommandFn = std::function<int(const Args&)>;

struct Command {
  std::string summary;
  CommandFn run;
};
std::map<std::string, Command>& commands();

struct Registrar {
  Registrar(const std::string& name, const std::string& summary, CommandFn fn) {
    commands()[name] = Command{summary, std::move(fn)};
  }
};

// Parses args against a task's options. With --help, prints the usage line(s) and the option
// table to stdout and returns nullopt (the command then exits 0).
std::optional<app::ParsedArgs> parse(const app::OptionSet& set, const Args& args, const std::string& usage,
                                     const std::string& epilog = "");
// Refuses positional arguments when a command takes none.
void no_positional(const app::ParsedArgs& p, const std::string& cmd);
bool stderr_is_tty();

// Minimal option parser of the commands not yet moved to an OptionSet: --key value, --flag,
// positional arguments. Unknown options are errors.
class Options {
 public:
  Options(const Args& args, const std::vector<std::string>& with_value, const std::vector<std::string>& flags);
  bool has(const std::string& key) const;
  std::string get(const std::string& key, const std::string& def = "") const;
  long long get_int(const std::string& key, long long def) const;
  double get_double(const std::string& key, double def) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace liteai::cli

#define LAI_CMD_CAT2(a, b) a##b
#define LAI_CMD_CAT(a, b) LAI_CMD_CAT2(a, b)
#define LAI_COMMAND(name, summary)                                                        \
  static int LAI_CMD_CAT(cmd_, name)(const ::liteai::cli::Args& args);                    \
  static ::liteai::cli::Registrar LAI_CMD_CAT(reg_, name)(#name, summary, LAI_CMD_CAT(cmd_, name)); \
  static int LAI_CMD_CAT(cmd_, name)(const ::liteai::cli::Args& args)
