// liteai: the command-line front end (train, eval, predict, synth, probmat, som, hough, bench, demo).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include <unistd.h>

#include "command.hpp"
#include "liteai/core/error.hpp"

namespace liteai::cli {

std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> table;
  return table;
}

std::optional<app::ParsedArgs> parse(const app::OptionSet& set, const Args& args, const std::string& usage,
                                     const std::string& epilog) {
  app::ParsedArgs p = app::parse_args(set, args);
  if (p.help) {
    std::printf("%s%s", set.help(usage).c_str(), epilog.empty() ? "" : ("\n" + epilog).c_str());
    return std::nullopt;
  }
  return p;
}

void no_positional(const app::ParsedArgs& p, const std::string& cmd) {
  LAI_CHECK(p.positional.empty(), cmd, ": unexpected argument '", p.positional.empty() ? "" : p.positional[0],
            "' (options start with --)");
}

bool stderr_is_tty() { return ::isatty(2) != 0; }

Options::Options(const Args& args, const std::vector<std::string>& with_value,
                 const std::vector<std::string>& flags) {
  auto in = [](const std::vector<std::string>& v, const std::string& k) {
    for (auto& x : v)
      if (x == k) return true;
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string key = a.substr(2), value;
      auto eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
        LAI_CHECK(in(with_value, key), "unknown option --", key, " (try --help)");
      } else if (in(with_value, key)) {
        LAI_CHECK(i + 1 < args.size(), "option --", key, " needs a value");
        value = args[++i];
      } else {
        LAI_CHECK(in(flags, key) || key == "help", "unknown option --", key, " (try --help)");
        value = "1";
      }
      values_[key] = value;
    } else {
      positional_.push_back(a);
    }
  }
}
bool Options::has(const std::string& key) const { return values_.count(key) != 0; }
std::string Options::get(const std::string& key, const std::string& def) const {
  auto it = values_.find(key);
  return it == values_.end() ? def : it->second;
}
long long Options::get_int(const std::string& key, long long def) const {
  if (!has(key)) return def;
  const std::string v = get(key);
  char* end = nullptr;
  long long r = std::strtoll(v.c_str(), &end, 10);
  LAI_CHECK(end && *end == '\0' && !v.empty(), "option --", key, " expects an integer, got '", v, "'");
  return r;
}
double Options::get_double(const std::string& key, double def) const {
  if (!has(key)) return def;
  const std::string v = get(key);
  char* end = nullptr;
  double r = std::strtod(v.c_str(), &end);
  LAI_CHECK(end && *end == '\0' && !v.empty(), "option --", key, " expects a number, got '", v, "'");
  return r;
}

}  // namespace liteai::cli

static void usage() {
  std::fprintf(stderr, "usage: liteai <command> [options]   (liteai <command> --help for details)\n\ncommands:\n");
  for (auto& [name, cmd] : liteai::cli::commands())
    std::fprintf(stderr, "  %-10s %s\n", name.c_str(), cmd.summary.c_str());
}

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  auto& table = liteai::cli::commands();
  auto it = table.find(argv[1]);
  if (it == table.end()) {
    std::fprintf(stderr, "liteai: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
  }
  liteai::cli::Args args(argv + 2, argv + argc);
  try {
    return it->second.run(args);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "liteai %s: error: out of memory (try a smaller --size, --batch or fewer images)\n", argv[1]);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "liteai %s: error: %s\n", argv[1], e.what());
    return 1;
  }
}
