#include "bench.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "liteai/core/error.hpp"

namespace liteai::bench {

std::map<std::string, std::pair<std::string, SuiteFn>>& suites() {
  static std::map<std::string, std::pair<std::string, SuiteFn>> table;
  return table;
}

void Report::add(const Record& r) {
  records_.push_back(r);
  if (r.reference.empty())
    std::printf("%-40s %12.3f %-9s\n", r.name.c_str(), r.value, r.unit.c_str());
  else
    std::printf("%-40s %12.3f %-9s vs %-16s ratio %.3f\n", r.name.c_str(), r.value, r.unit.c_str(),
                r.reference.c_str(), r.ratio);
  std::fflush(stdout);
}

void Report::note(const std::string& line) {
  std::printf("# %s\n", line.c_str());
  std::fflush(stdout);
}

static std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o;
}

void Report::write_json(const std::string& path) const {
  std::ostringstream os;
  os << "[\n";
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    char num[64], rat[64];
    std::snprintf(num, sizeof num, "%.6g", r.value);
    std::snprintf(rat, sizeof rat, "%.6g", r.ratio);
    os << "  {\"name\": \"" << json_escape(r.name) << "\", \"value\": " << num << ", \"unit\": \""
       << json_escape(r.unit) << "\", \"reference\": "
       << (r.reference.empty() ? std::string("null") : "\"" + json_escape(r.reference) + "\"")
       << ", \"ratio\": " << (r.reference.empty() ? std::string("null") : std::string(rat)) << "}"
       << (i + 1 < records_.size() ? "," : "") << "\n";
  }
  os << "]\n";
  std::ofstream f(path, std::ios::binary);
  LAI_CHECK(f.good(), "bench: cannot write ", path);
  f << os.str();
}

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

double median_seconds(int repeats, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    double t0 = now_seconds();
    fn();
    t.push_back(now_seconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<double> median_seconds_alternating(int repeats, const std::vector<std::function<void()>>& fns) {
  for (const auto& f : fns) f();
  std::vector<std::vector<double>> t(fns.size());
  for (int i = 0; i < std::max(1, repeats); ++i)
    for (size_t k = 0; k < fns.size(); ++k) {
      const double t0 = now_seconds();
      fns[k]();
      t[k].push_back(now_seconds() - t0);
    }
  std::vector<double> out;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    out.push_back(v[v.size() / 2]);
  }
  return out;
}

static double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::string(key).size()) / 1024.0;
  return 0;
}
double peak_rss_mb() { return status_mb("VmHWM:"); }
double current_rss_mb() { return status_mb("VmRSS:"); }
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (f.good()) f << "5";
}

bool torch_available(std::string* why) {
  int rc = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1");
  if (rc != 0 && why) *why = "python3-torch is not installed (apt-get install python3-torch)";
  return rc == 0;
}

std::map<std::string, ChildFn>& child_functions() {
  static std::map<std::string, ChildFn> table;
  return table;
}

ChildResult run_child(const std::string& name, const std::vector<std::string>& args) {
  ChildResult r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  std::vector<std::string> argv_s{"liteai-bench", "--child", name};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return r;
  }
  FILE* f = fdopen(fds[0], "r");
  char line[4096];
  while (f && std::fgets(line, sizeof line, f)) {
    std::string l(line);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    if (l.rfind("# ", 0) == 0) {
      r.notes.push_back(l.substr(2));
      continue;
    }
    char key[256];
    double v = 0;
    if (std::sscanf(l.c_str(), "%255s %lf", key, &v) == 2) r.values[key] = v;
  }
  if (f) std::fclose(f);
  int status = 0;
  rusage u{};
  if (wait4(pid, &status, 0, &u) == pid) {
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r.values["child_peak_rss_mb"] = u.ru_maxrss / 1024.0;  // kilobytes on Linux
  }
  return r;
}

}  // namespace liteai::bench
