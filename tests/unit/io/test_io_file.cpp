// Files as the library opens them (io/file.hpp): special files refused before a blocking open,
// capped whole-file reads, output checks, the output lock across processes, atomic writes that
// clean up after killed writers.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "liteai/core/error.hpp"
#include "liteai/core/limits.hpp"
#include "liteai/io/file.hpp"
#include "liteai/io/model_file.hpp"

using namespace liteai;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) {
  const char* env = std::getenv("LITEAI_TEST_TMP");
  const fs::path p = fs::path(env && *env ? env : "/tmp") / ("io_file_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::pair<ErrorKind, std::string> error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::internal, "no error"};
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("io files: special files are refused at once, naming the path and what it is") {
  const std::string dir = fresh_dir("special");
  const std::string fifo = dir + "/in.png", sock = dir + "/s.sock";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  const int sfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(sfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const auto t0 = std::chrono::steady_clock::now();
  struct Case {
    std::string path, what;
  };
  for (const Case& c : {Case{fifo, "is a FIFO (named pipe), not a regular file"},
                        Case{"/dev/zero", "is a character device, not a regular file"},
                        Case{dir, "is a directory, not a regular file"},
                        Case{sock, "is a socket, not a regular file"}}) {
    INFO(c.path);
    for (auto f : std::vector<std::function<void()>>{[&] { io::read_file(c.path); },
                                                     [&] { io::ReadFile r(c.path); },
                                                     [&] { io::load_model_file(c.path); },
                                                     [&] { io::read_json_file(c.path); }}) {
      auto [kind, text] = error_of(f);
      CHECK(kind == ErrorKind::io);
      CHECK(text == c.path + ": " + c.what);
    }
  }
  CHECK(seconds_since(t0) < 5);  // nothing blocked on the FIFO
  ::close(sfd);
  auto [kind, text] = error_of([&] { io::read_file(dir + "/missing"); });
  CHECK(kind == ErrorKind::io);
  CHECK(text == dir + "/missing: cannot open (No such file or directory)");
}

TEST_CASE("io files: whole-file reads are capped by a limit checked before reading") {
  const std::string dir = fresh_dir("cap");
  write(dir + "/a.txt", std::string(5000, 'x'));
  CHECK(io::read_text_file(dir + "/a.txt").size() == 5000);
  const Limits saved = limits();
  Limits l = saved;
  l.max_file_bytes = 4096;
  set_limits(l);
  auto [kind, text] = error_of([&] { io::read_file(dir + "/a.txt"); });
  set_limits(saved);
  CHECK(kind == ErrorKind::out_of_memory);
  CHECK(text.find("a.txt: the file (4.9 KiB) is over the limit of 4.0 KiB per file read (LITEAI_MAX_FILE_BYTES") !=
        std::string::npos);
}

TEST_CASE("io files: check_writable refuses what cannot be written before any work") {
  const std::string dir = fresh_dir("writable");
  write(dir + "/file", "x");
  io::check_writable(dir + "/new.lai", "checkpoint");
  io::check_writable(dir + "/file", "checkpoint");  // replaced atomically
  auto check = [&](const std::string& path, const std::string& expect) {
    auto [kind, text] = error_of([&] { io::check_writable(path, "checkpoint"); });
    CHECK(kind == ErrorKind::io);
    CHECK(text == expect);
  };
  check(dir, "checkpoint '" + dir + "': is a directory, not a file that can be written");
  check(dir + "/no/x.lai", "checkpoint '" + dir + "/no/x.lai': folder '" + dir + "/no' does not exist");
  check(dir + "/file/x.lai", "checkpoint '" + dir + "/file/x.lai': cannot be written (Not a directory)");
  CHECK(error_of([&] { io::check_writable("/dev/null", "log"); }).second == "log '/dev/null': is a character device, not a file that can be written");
}

TEST_CASE("io files: a second process writing the same output gets busy naming the holder's PID") {
  const std::string dir = fresh_dir("lock");
  const std::string out = dir + "/m.lai";
  int ready[2], done[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(done) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // holds the lock until the parent says stop
    try {
      io::OutputLock lock(out);
      char c = 1;
      (void)!::write(ready[1], &c, 1);
      (void)!::read(done[0], &c, 1);
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  auto [kind, text] = error_of([&] { io::atomic_write_file(out, "abc", 3); });
  CHECK(kind == ErrorKind::busy);
  CHECK(text == out + ": being written by process " + std::to_string(child) + " (lock file " + out +
                    ".lock); wait for it to finish or write to another path");
  CHECK(error_of([&] { io::OutputLock again(out); }).first == ErrorKind::busy);
  CHECK(!fs::exists(out));
  (void)!::write(done[1], &c, 1);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // Released: the write goes through, and no lock file is left.
  io::atomic_write_file(out, "abc", 3);
  CHECK(names_in(dir) == std::vector<std::string>{"m.lai"});
  // In one process a claim is shared: a task holding its output can save it.
  {
    io::OutputLock held(out);
    io::OutputLock again(dir + "/../" + fs::path(dir).filename().string() + "/m.lai");  // same file, other spelling
    io::atomic_write_file(out, "defg", 4);
    CHECK(fs::exists(out + ".lock"));
  }
  CHECK(names_in(dir) == std::vector<std::string>{"m.lai"});
  CHECK(fs::file_size(out) == 4);
}

TEST_CASE("io files: a killed writer's lock is freed by the kernel and its temp file removed by the next save") {
  const std::string dir = fresh_dir("stale");
  const std::string out = dir + "/m.lai";
  // A writer killed in the middle of a save: lock file and temp file left behind.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    io::atomic_write_file(out, [](const io::ByteSink& sink) {
      sink("partial", 7);
      ::kill(::getpid(), SIGKILL);
    });
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  std::vector<std::string> left = names_in(dir);
  REQUIRE(left.size() == 2);  // m.lai.lock and m.lai.tmpXXXXXX
  CHECK(left[0] == "m.lai.lock");
  CHECK(left[1].rfind("m.lai.tmp", 0) == 0);
  // A live writer's temp file (locked by its writer) is not touched; an unrelated name neither.
  const std::string live = dir + "/m.lai.tmpLIVE01";
  write(live, "live");
  const int live_fd = ::open(live.c_str(), O_RDONLY);
  REQUIRE(::flock(live_fd, LOCK_EX) == 0);
  write(dir + "/m.lai.tmp.notes", "keep");
  io::atomic_write_file(out, "whole", 5);
  CHECK(names_in(dir) == std::vector<std::string>{"m.lai", "m.lai.tmp.notes", "m.lai.tmpLIVE01"});
  ::close(live_fd);
  io::atomic_write_file(out, "again", 5);  // now that writer is gone too
  CHECK(names_in(dir) == std::vector<std::string>{"m.lai", "m.lai.tmp.notes"});
  // Writing over a directory or a special file is refused before anything is created.
  auto [kind, text] = error_of([&] { io::atomic_write_file(dir, "x", 1); });
  CHECK(kind == ErrorKind::io);
  CHECK(text == dir + ": is a directory, cannot write a file there");
}
