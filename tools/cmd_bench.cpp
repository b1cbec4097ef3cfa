// liteai bench: runs the benchmark program (liteai-bench, beside this one or on PATH) with the
// same arguments. The suites live in their own program so that `liteai` links no reference code.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "command.hpp"

LAI_COMMAND(bench, "measure speed and memory against references (gemm, conv, train, loader, ...)") {
  std::vector<std::string> candidates;
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/') + 1);
    candidates.push_back(dir + "liteai-bench");
  }
  candidates.push_back("liteai-bench");  // PATH
  std::vector<char*> argv;
  std::string prog = "liteai-bench";
  argv.push_back(prog.data());
  std::vector<std::string> copy(args.begin(), args.end());
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (const std::string& c : candidates) {
    if (c.find('/') != std::string::npos) ::execv(c.c_str(), argv.data());
    else ::execvp(c.c_str(), argv.data());
  }
  std::fprintf(stderr,
               "liteai bench: the benchmark program liteai-bench was not found beside liteai or on PATH (%s); "
               "build it with -DLITEAI_BUILD_BENCH=ON\n",
               std::strerror(errno));
  return 2;
}
