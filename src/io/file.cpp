#include "liteai/io/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "liteai/core/error.hpp"
#include "liteai/core/log.hpp"

namespace liteai::io {

namespace {

std::string why(int err) { return std::strerror(err); }

// Refuses anything but a regular file, naming what it is.
void require_regular(const std::string& path, unsigned mode) {
  if (S_ISREG(mode)) return;
  LAI_FAIL(io, path, ": is ", describe_file_type(mode), ", not a regular file");
}

std::string base_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// ---- output locks: one per lock file (device, inode) in this process ----
using Key = std::pair<dev_t, ino_t>;

}  // namespace

struct OutputLock::Held {
  std::string lock_path;
  int fd = -1;
  Key key{};
  int refs = 1;
};

namespace {

std::mutex g_locks_mu;
std::map<Key, std::unique_ptr<OutputLock::Held>>& locks() {
  static std::map<Key, std::unique_ptr<OutputLock::Held>> m;
  return m;
}

std::string read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s(buf, n > 0 ? size_t(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits ? s : "";
}

void release(OutputLock::Held* h) {
  if (!h) return;
  std::lock_guard<std::mutex> g(g_locks_mu);
  if (--h->refs > 0) return;
  // Remove the lock file while still holding it (a waiting claimant then sees a new inode).
  struct stat now;
  if (::stat(h->lock_path.c_str(), &now) == 0 && now.st_dev == h->key.first && now.st_ino == h->key.second)
    ::unlink(h->lock_path.c_str());
  ::close(h->fd);
  const Key key = h->key;  // erase frees h
  locks().erase(key);
}

// Temp files `<path>.tmpXXXXXX` whose writer is gone: a live writer holds an flock on its temp
// file (atomic_write_file takes it right after creating it), a killed one no longer does. Called
// under the path's OutputLock, so no writer of this path in another process is running.
void remove_stale_temps(const std::string& path) {
  const std::string dir = dir_of(path), prefix = base_of(path) + ".tmp";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> removed;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0 ||
        !std::all_of(name.begin() + long(prefix.size()), name.end(), [](char c) { return std::isalnum(uint8_t(c)); }))
      continue;  // mkstemp's six letters and digits
    const std::string full = path.find('/') == std::string::npos ? name : dir + "/" + name;
    const int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st, now;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        ::lstat(full.c_str(), &now) == 0 && same_file(st, now) && ::unlink(full.c_str()) == 0)
      removed.push_back(name);
    ::close(fd);
  }
  ::closedir(d);
  if (removed.empty()) return;
  std::string names;
  for (size_t i = 0; i < removed.size() && i < 3; ++i) names += (i ? ", " : "") + removed[i];
  if (removed.size() > 3) names += ", ...";
  log(LogLevel::info, str_cat(path, ": removed ", removed.size(), " temporary file", removed.size() == 1 ? "" : "s",
                              " left by an interrupted save (", names, ")"));
}

}  // namespace

std::string describe_file_type(unsigned mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// ---------------------------------------------------------------- reading

ReadFile::ReadFile(const std::string& path) : path_(path) {
  LAI_CHECK(!path.empty(), "open: empty path");
  // stat first: a device is refused without being opened at all; then open without blocking (a
  // FIFO would wait for a writer) and check what was opened, in case the path changed meanwhile.
  struct stat st;
  LAI_CHECK_IO(::stat(path.c_str(), &st) == 0, path, ": cannot open (", why(errno), ")");
  require_regular(path, st.st_mode);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  LAI_CHECK_IO(fd_ >= 0, path, ": cannot open (", why(errno), ")");
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const unsigned mode = st.st_mode;
    ::close(fd_);
    require_regular(path, mode);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

ReadFile::~ReadFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadFile::read(uint64_t offset, void* dst, size_t n) const {
  auto* p = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t r = ::pread(fd_, p, std::min<size_t>(n, size_t(1) << 30), static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    LAI_CHECK_IO(r >= 0, path_, ": read error at offset ", offset, " (", why(errno), ")");
    LAI_CHECK_FORMAT(r > 0, path_, ": truncated while reading (the file shrank to ", offset, " bytes)");
    p += r;
    offset += uint64_t(r);
    n -= size_t(r);
  }
}

void read_file_into(const std::string& path, std::vector<uint8_t>& out, Limit cap) {
  ReadFile f(path);
  check_limit(cap, f.size(), path + ": the file");
  out.resize(static_cast<size_t>(f.size()));
  f.read(0, out.data(), out.size());
}

std::vector<uint8_t> read_file(const std::string& path, Limit cap) {
  std::vector<uint8_t> out;
  read_file_into(path, out, cap);
  return out;
}

std::string read_text_file(const std::string& path, Limit cap) {
  ReadFile f(path);
  check_limit(cap, f.size(), path + ": the file");
  std::string out(static_cast<size_t>(f.size()), '\0');
  f.read(0, out.data(), out.size());
  return out;
}

// ---------------------------------------------------------------- writing

void check_writable(const std::string& path, const std::string& what) {
  LAI_CHECK(!path.empty(), what, ": empty path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    LAI_CHECK_IO(S_ISREG(st.st_mode), what, " '", path, "': is ", describe_file_type(st.st_mode),
                 ", not a file that can be written");
  } else if (errno != ENOENT) {
    LAI_FAIL(io, what, " '", path, "': cannot be written (", why(errno), ")");
  }
  const std::string dir = dir_of(path);
  LAI_CHECK_IO(::stat(dir.c_str(), &st) == 0, what, " '", path, "': folder '", dir, "' does not exist");
  LAI_CHECK_IO(S_ISDIR(st.st_mode), what, " '", path, "': '", dir, "' is ", describe_file_type(st.st_mode),
               ", not a folder");
  LAI_CHECK_IO(::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) == 0, what, " '", path, "': folder '", dir,
               "' is not writable (", why(errno), ")");
}

OutputLock::OutputLock(const std::string& path) {
  LAI_CHECK(!path.empty(), "output lock: empty path");
  const std::string lock_path = path + ".lock";
  std::lock_guard<std::mutex> g(g_locks_mu);
  for (int attempt = 0;; ++attempt) {
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    LAI_CHECK_IO(fd >= 0, path, ": cannot create the lock file '", lock_path, "' (", why(errno), ")");
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      LAI_FAIL(io, path, ": the lock file '", lock_path, "' is not a regular file");
    }
    const Key key{st.st_dev, st.st_ino};
    if (auto it = locks().find(key); it != locks().end()) {  // this process holds it already
      ::close(fd);
      ++it->second->refs;
      held_ = std::shared_ptr<Held>(it->second.get(), [](Held* h) { release(h); });
      return;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string pid = read_pid(fd);
      ::close(fd);
      if (err == EWOULDBLOCK)
        LAI_FAIL(busy, path, ": being written by ", pid.empty() ? std::string("another process") : "process " + pid,
                 " (lock file ", lock_path, "); wait for it to finish or write to another path");
      // A file system without locks (some network mounts): write unprotected rather than not at all.
      if (err != ENOLCK && err != EOPNOTSUPP && err != EINVAL)
        LAI_FAIL(io, path, ": cannot lock '", lock_path, "' (", why(err), ")");
    }
    // The previous holder may have removed the file between our open and our lock: then the lock
    // we hold is on an orphan inode, and the claim starts again on the path's new file.
    struct stat now;
    if (::stat(lock_path.c_str(), &now) != 0 || !same_file(st, now)) {
      ::close(fd);
      LAI_CHECK_IO(attempt < 100, path, ": the lock file '", lock_path, "' keeps changing");
      continue;
    }
    const std::string pid = str_cat(::getpid(), "\n");
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
      // Not fatal: the lock is held; only the PID in a competitor's message would be missing.
    }
    auto h = std::make_unique<Held>();
    h->lock_path = lock_path;
    h->fd = fd;
    h->key = key;
    Held* raw = h.get();
    locks().emplace(key, std::move(h));
    held_ = std::shared_ptr<Held>(raw, [](Held* p) { release(p); });
    return;
  }
}

OutputLock::~OutputLock() = default;
OutputLock::OutputLock(OutputLock&&) noexcept = default;
OutputLock& OutputLock::operator=(OutputLock&&) noexcept = default;

void atomic_write_file(const std::string& path, const std::function<void(const ByteSink&)>& produce, bool durable) {
  LAI_CHECK(!path.empty(), "atomic write: empty path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    LAI_FAIL(io, path, ": is ", describe_file_type(st.st_mode), ", cannot write a file there");
  OutputLock lock(path);
  if (durable) remove_stale_temps(path);
  // The temp file lives in the same folder so that rename() is atomic (same file system).
  std::string tmpl = path + ".tmpXXXXXX";
  std::vector<char> tmp(tmpl.begin(), tmpl.end());
  tmp.push_back('\0');
  const int fd = ::mkstemp(tmp.data());
  LAI_CHECK_IO(fd >= 0, path, ": cannot create a temporary file in '", dir_of(path), "' (", why(errno), ")");
  ::flock(fd, LOCK_EX | LOCK_NB);  // says "being written" to remove_stale_temps, until closed
  bool open = true;
  try {
    ByteSink sink = [&](const void* data, size_t n) {
      const auto* p = static_cast<const uint8_t*>(data);
      while (n > 0) {
        const ssize_t w = ::write(fd, p, std::min<size_t>(n, size_t(1) << 30));
        if (w < 0 && errno == EINTR) continue;
        LAI_CHECK_IO(w > 0, path, ": write failed (", w < 0 ? why(errno) : "no progress", ")");
        p += w;
        n -= size_t(w);
      }
    };
    produce(sink);
    LAI_CHECK_IO(::fchmod(fd, 0644) == 0, path, ": chmod failed (", why(errno), ")");
    if (durable) LAI_CHECK_IO(::fsync(fd) == 0, path, ": fsync failed (", why(errno), ")");
    open = false;
    LAI_CHECK_IO(::close(fd) == 0, path, ": close failed (", why(errno), ")");
    LAI_CHECK_IO(std::rename(tmp.data(), path.c_str()) == 0, path, ": cannot replace the file (", why(errno), ")");
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(tmp.data());
    throw;
  }
  if (!durable) return;
  // Make the rename itself durable.
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void atomic_write_file(const std::string& path, const void* data, size_t size, bool durable) {
  atomic_write_file(path, [&](const ByteSink& sink) { sink(data, size); }, durable);
}

}  // namespace liteai::io
