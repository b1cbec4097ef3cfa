// liteai bench <suite>|all [--json FILE] [--threads N] [--repeats R] [--quick]
#include <cstdio>

#include "bench.hpp"
#include "command.hpp"
#include "liteai/core/error.hpp"

LAI_COMMAND(bench, "measure speed and memory against references (gemm, conv, train, loader, ...)") {
  using namespace liteai;
  cli::Options o(args, {"json", "threads", "repeats"}, {"quick"});
  auto& table = bench::suites();
  if (o.has("help") || o.positional().empty()) {
    std::printf("usage: liteai bench <suite>|all [--json FILE] [--threads N] [--repeats R] [--quick]\nsuites:\n");
    for (auto& [name, s] : table) std::printf("  %-10s %s\n", name.c_str(), s.first.c_str());
    return o.has("help") ? 0 : 2;
  }
  bench::SuiteArgs sa;
  sa.threads = static_cast<int>(o.get_int("threads", 0));
  sa.repeats = static_cast<int>(o.get_int("repeats", 5));
  sa.quick = o.has("quick");
  bench::Report report;
  for (const std::string& name : o.positional()) {
    if (name == "all") {
      for (auto& [n, s] : table) s.second(sa, report);
      continue;
    }
    auto it = table.find(name);
    LAI_CHECK(it != table.end(), "unknown suite '", name, "' (liteai bench --help lists them)");
    it->second.second(sa, report);
  }
  if (o.has("json")) report.write_json(o.get("json"));
  return 0;
}
