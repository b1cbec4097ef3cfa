// liteai-bench: the benchmark suites (`liteai bench <suite>` runs this program). A program of its
// own so that the reference code (OpenBLAS, PyTorch through python3) never links into `liteai`.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {
void usage(FILE* f) {
  std::fprintf(f, "usage: liteai bench <suite>...|all [--json FILE] [--threads N] [--repeats R] [--quick] [--seed K]\nsuites:\n");
  for (auto& [name, s] : liteai::bench::suites()) std::fprintf(f, "  %-12s %s\n", name.c_str(), s.first.c_str());
}
int parse_int(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  const long r = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || r < 0 || r > 1000000) {
    std::fprintf(stderr, "liteai bench: %s expects an integer in 0..1000000, got '%s'\n", opt.c_str(), v.c_str());
    std::exit(2);
  }
  return static_cast<int>(r);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace liteai;
  // A child process of run_child: one configuration, results on stdout.
  if (argc >= 3 && std::string(argv[1]) == "--child") {
    auto& table = bench::child_functions();
    auto it = table.find(argv[2]);
    if (it == table.end()) {
      std::fprintf(stderr, "liteai bench: unknown child '%s'\n", argv[2]);
      return 2;
    }
    try {
      return it->second(std::vector<std::string>(argv + 3, argv + argc));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "liteai bench: child %s: %s\n", argv[2], e.what());
      return 1;
    }
  }
  bench::SuiteArgs sa;
  std::string json;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "liteai bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--json") {
      json = value();
    } else if (a == "--threads") {
      sa.threads = parse_int(a, value());
    } else if (a == "--repeats") {
      sa.repeats = parse_int(a, value());
    } else if (a == "--quick") {
      sa.quick = true;
    } else if (a == "--seed") {
      sa.seed = parse_int(a, value());
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "liteai bench: unknown option %s (try --help)\n", a.c_str());
      return 2;
    } else {
      names.push_back(a);
    }
  }
  if (names.empty()) {
    usage(stderr);
    return 2;
  }
  auto& table = bench::suites();
  for (const std::string& n : names)
    if (n != "all" && !table.count(n)) {
      std::fprintf(stderr, "liteai bench: unknown suite '%s'\n", n.c_str());
      usage(stderr);
      return 2;
    }
  try {
    bench::Report report;
    for (const std::string& n : names) {
      if (n == "all") {
        for (auto& [k, s] : table) s.second(sa, report);
      } else {
        table.at(n).second(sa, report);
      }
    }
    if (!json.empty()) report.write_json(json);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "liteai bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
