#pragma once
// Benchmark plumbing: suites register with LAI_BENCH_SUITE, measure the thing and its reference
// in the same run, and report records {name, value, unit, reference, ratio} (DESIGN.md).
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace liteai::bench {

struct Record {
  std::string name;
  double value = 0;
  std::string unit;
  std::string reference;  // empty when there is none
  double ratio = 0;       // this / reference, oriented so that higher is better (0 if none)
};

class Report {
 public:
  // Prints one line and keeps the record for --json.
  void add(const Record& r);
  void note(const std::string& line);  // a free-form line (skips, breakdowns)
  const std::vector<Record>& records() const { return records_; }
  void write_json(const std::string& path) const;

 private:
  std::vector<Record> records_;
};

struct SuiteArgs {
  int threads = 0;      // 0 = every configured count (1 and 2 here)
  int repeats = 5;      // median of this many runs
  bool quick = false;   // smaller problems (CI smoke runs)
  int seed = 0;         // 0 = each suite's fixed data seeds; else a shift of them (spread over seeds)
};

using SuiteFn = std::function<void(const SuiteArgs&, Report&)>;
std::map<std::string, std::pair<std::string, SuiteFn>>& suites();
struct SuiteRegistrar {
  SuiteRegistrar(const std::string& name, const std::string& summary, SuiteFn fn) {
    suites()[name] = {summary, std::move(fn)};
  }
};

// Median wall seconds of `repeats` calls of fn (after one warm-up call).
double median_seconds(int repeats, const std::function<void()>& fn);
// Median wall seconds of each fn over `repeats` rounds that run every fn once in turn (after one
// warm-up round): load from other processes falls on all of them alike.
std::vector<double> median_seconds_alternating(int repeats, const std::vector<std::function<void()>>& fns);
double now_seconds();
// Peak resident set size of this process in MB (VmHWM), and a reset where the kernel allows it.
double peak_rss_mb();
double current_rss_mb();
void reset_peak_rss();
// Runs /usr/bin/python3 with a script; returns false (and a reason) when python3-torch is absent.
bool torch_available(std::string* why = nullptr);

// Child processes: one configuration alone in a fresh process, so its peak RSS is its own.
// run_child(name, args) re-runs this program as `liteai-bench --child name args...`, which calls
// the function registered under `name` (LAI_BENCH_CHILD). The child prints "key value" lines
// (numbers) and "# text" notes on stdout; the result holds them, plus "child_peak_rss_mb" from
// the kernel's accounting of the finished child (wait4's ru_maxrss, its VmHWM).
struct ChildResult {
  std::map<std::string, double> values;
  std::vector<std::string> notes;
  int status = -1;  // exit status (0 = fine)
};
using ChildFn = std::function<int(const std::vector<std::string>& args)>;
std::map<std::string, ChildFn>& child_functions();
ChildResult run_child(const std::string& name, const std::vector<std::string>& args);
struct ChildRegistrar {
  ChildRegistrar(const std::string& name, ChildFn fn) { child_functions()[name] = std::move(fn); }
};

}  // namespace liteai::bench

#define LAI_BENCH_CHILD(name)                                                                   \
  static int LAI_BENCH_CAT(child_, name)(const std::vector<std::string>&);                    \
  static ::liteai::bench::ChildRegistrar LAI_BENCH_CAT(creg_, name)(#name, LAI_BENCH_CAT(child_, name)); \
  static int LAI_BENCH_CAT(child_, name)(const std::vector<std::string>& args)

#define LAI_BENCH_CAT2(a, b) a##b
#define LAI_BENCH_CAT(a, b) LAI_BENCH_CAT2(a, b)
#define LAI_BENCH_SUITE(name, summary)                                                      \
  static void LAI_BENCH_CAT(suite_, name)(const ::liteai::bench::SuiteArgs&, ::liteai::bench::Report&); \
  static ::liteai::bench::SuiteRegistrar LAI_BENCH_CAT(breg_, name)(#name, summary, LAI_BENCH_CAT(suite_, name)); \
  static void LAI_BENCH_CAT(suite_, name)(const ::liteai::bench::SuiteArgs& args, ::liteai::bench::Report& report)
