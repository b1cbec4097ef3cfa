#pragma once
// One options description per task, from which every front end is driven: the `liteai` command
// parses its arguments against it (--name VALUE), the C API's lai_options handles set values by
// the same names (lai_options_set(o, "epochs", "5")), Python passes keyword arguments through
// them, and --help / lai_options_describe print it. One description means one default, one range
// and one meaning everywhere, and a new option is reachable from all three the day it is declared.
//
//   const OptionSet& set = task_options("train");   // declared once, in the task's .cpp
//   Options o(set);
//   o.set("epochs", "5");                            // parsed and range-checked as the CLI does
//   int64_t epochs = o.get_int("epochs");            // the value or the declared default
//
// Errors (invalid_argument) name the option the way the caller wrote it: "--batch must be in
// 1..65536, got 0" from the CLI, "option 'batch' must be in 1..65536, got 0" from the C API.
// Thread-safety: an OptionSet is immutable once built; an Options is used by one thread at a time.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "liteai/io/json.hpp"

namespace liteai::app {

enum class OptionType : uint8_t {
  flag,     // a switch: CLI --name (on) and --no-name (off); C/Python true/false
  boolean,  // CLI --name yes|no (also true/false, on/off, 1/0)
  integer,  // int64 within [min, max]
  bytes,    // a size in bytes, written 512M, 1G, 1.5G, 768MB or plain bytes; within [min, max]
  number,   // finite double within [min, max]
  text,     // any non-empty text
  path,     // a file or folder path (non-empty)
  choice,   // one of `choices`
  list,     // comma-separated items ("a,b,c"); numbers when min/max are set
};
const char* to_string(OptionType t);
using liteai::to_string;  // keep Shape printing visible beside the overload above

struct OptionSpec {
  std::string name;  // lower-case, words joined by '-': "val-split"
  OptionType type = OptionType::text;
  std::string default_text;  // "" = no default (unset unless given; the task decides)
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;
  std::string help;
  std::string group;  // heading in --help ("data", "model", "training", ...)
  std::string metavar;  // what the value stands for in --help and messages ("MODEL.lai"); default by type
  bool hidden = false;  // kept for scripts, not listed in --help
};

// How a value was given, for messages.
enum class OptionStyle : uint8_t { cli, api };

class OptionSet {
 public:
  OptionSet(std::string task, std::string summary);
  const std::string& task() const { return task_; }
  const std::string& summary() const { return summary_; }

  // ---- declaring (chainable; names must be unique) ----
  OptionSet& group(std::string heading);  // heading of the options declared after it
  OptionSet& flag(const std::string& name, const std::string& help, bool on_by_default = false);
  OptionSet& boolean(const std::string& name, std::optional<bool> def, const std::string& help);
  OptionSet& integer(const std::string& name, std::optional<int64_t> def, int64_t min, int64_t max,
                     const std::string& help);
  OptionSet& bytes(const std::string& name, std::optional<int64_t> def, int64_t min, int64_t max,
                   const std::string& help);
  OptionSet& number(const std::string& name, std::optional<double> def, double min, double max,
                    const std::string& help);
  OptionSet& text(const std::string& name, std::optional<std::string> def, const std::string& help);
  OptionSet& path(const std::string& name, const std::string& help, const std::string& metavar = "PATH");
  OptionSet& choice(const std::string& name, std::optional<std::string> def, std::vector<std::string> choices,
                    const std::string& help);
  OptionSet& list(const std::string& name, const std::string& help);
  OptionSet& add(OptionSpec spec);
  // Every option of `other` (e.g. the data-source options shared by train, eval, distill).
  OptionSet& include(const OptionSet& other);
  OptionSet& hide(const std::string& name);

  // ---- reading ----
  const OptionSpec* find(const std::string& name) const;
  const OptionSpec& at(const std::string& name) const;  // throws naming the task and the option
  const std::vector<OptionSpec>& specs() const { return specs_; }
  // --help text: "usage" line(s) given by the caller, the summary, then the options by group.
  std::string help(const std::string& usage) const;
  // The description as JSON (lai_options_describe, Python): [{"name", "type", "default", "min",
  // "max", "choices", "help", "group"}, ...].
  io::Json describe() const;

 private:
  std::string task_, summary_, group_;
  std::vector<OptionSpec> specs_;
};

// Values for one task, each checked against its spec when it is set.
class Options {
 public:
  explicit Options(const OptionSet& set);
  const OptionSet& spec() const { return *set_; }

  // Parses `text` as the option's type and range ("yes", "1G", "0.5", "a,b").
  void set(const std::string& name, const std::string& text, OptionStyle style = OptionStyle::api);
  void set_int(const std::string& name, int64_t v, OptionStyle style = OptionStyle::api);
  void set_number(const std::string& name, double v, OptionStyle style = OptionStyle::api);
  void set_bool(const std::string& name, bool v, OptionStyle style = OptionStyle::api);
  void unset(const std::string& name);

  bool has(const std::string& name) const;  // given by the caller (not only defaulted)
  // The value, else the declared default; throws "<task>: --name is required" when neither exists.
  bool get_bool(const std::string& name) const;
  int64_t get_int(const std::string& name) const;  // integer and bytes
  double get_number(const std::string& name) const;
  std::string get_text(const std::string& name) const;  // text, path, choice (and any value as given)
  std::vector<std::string> get_list(const std::string& name) const;
  std::vector<double> get_numbers(const std::string& name) const;
  // Same with a fallback when neither a value nor a default exists.
  int64_t get_int_or(const std::string& name, int64_t fallback) const;
  double get_number_or(const std::string& name, double fallback) const;
  std::string get_text_or(const std::string& name, const std::string& fallback) const;
  // Throws "<task>: --name is required (help)" unless given.
  void require(const std::string& name, OptionStyle style = OptionStyle::cli) const;

  // Every value given (names -> text as normalized), for provenance and logs.
  io::Json to_json() const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  const OptionSpec& spec_of(const std::string& name) const;
  std::string raw(const std::string& name) const;  // value or default; throws when neither
  const OptionSet* set_;
  std::map<std::string, std::string> values_;  // normalized text per given option
};

// "--batch" (cli) or "option 'batch'" (api).
std::string option_label(const std::string& name, OptionStyle style);

// Command-line arguments against a set: --name VALUE, --name=VALUE, flags (--name / --no-name),
// positional arguments kept in order. "--" ends the options. Unknown options are errors.
struct ParsedArgs {
  Options options;
  std::vector<std::string> positional;
  bool help = false;  // --help or -h was given
};
ParsedArgs parse_args(const OptionSet& set, const std::vector<std::string>& args);

// Byte counts as people write them: "512M", "1G", "1.5GB", "768 MiB", "4096". Throws on junk.
int64_t parse_bytes(const std::string& text);
std::string format_bytes(int64_t bytes);  // "1.0 GiB", "512 MiB"

}  // namespace liteai::app
