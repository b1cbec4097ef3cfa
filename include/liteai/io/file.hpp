#pragma once
// Files as every reader and writer of the library opens them, so that no path can hang it or make
// it read without bound:
// - Reading opens only regular files: a FIFO, socket, device or directory is refused before any
//   blocking open (stat, then open with O_NONBLOCK and fstat), with an io error naming the path and
//   what it is ("in.png: is a FIFO (named pipe), not a regular file"). A whole-file read is capped
//   by a limit (core/limits.hpp) checked against the file's length before anything is allocated.
// - Writing is atomic (a temp file in the same folder, then rename) under an exclusive lock on the
//   output path (OutputLock): a second writer of the same path, in another process, gets a busy
//   error naming the holder's PID instead of silently losing one of the two results. A durable
//   write also removes the temp files that killed writers left behind for that path.
// All functions are thread-safe.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "liteai/core/limits.hpp"

namespace liteai::io {

// "a directory", "a FIFO (named pipe)", "a socket", "a character device", "a block device",
// "a symbolic link" (lstat modes) or "" for a regular file.
std::string describe_file_type(unsigned mode);

// A regular file open for reading at any offset. Throws io errors: "<path>: cannot open (...)",
// "<path>: is a directory, not a regular file".
class ReadFile {
 public:
  explicit ReadFile(const std::string& path);
  ~ReadFile();
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }  // as it was when opened
  int fd() const { return fd_; }           // for mmap (io::map_model_file)
  // Exactly n bytes at `offset` (the caller checked the range against size()); a file that shrank
  // meanwhile is a format error ("truncated while reading").
  void read(uint64_t offset, void* dst, size_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A whole regular file, refused (out_of_memory, naming the limit) when it holds more bytes than
// limit `cap` allows.
std::vector<uint8_t> read_file(const std::string& path, Limit cap = Limit::file_bytes);
void read_file_into(const std::string& path, std::vector<uint8_t>& out, Limit cap = Limit::file_bytes);
std::string read_text_file(const std::string& path, Limit cap = Limit::file_bytes);

// For output paths named in options, before a long task starts (not after its first hour): the
// folder exists and is writable, and the path is not a directory or a special file. Throws io
// errors naming `what` ("checkpoint 'runs/x.lai': folder 'runs' does not exist").
void check_writable(const std::string& path, const std::string& what);

// An exclusive claim on an output path: `<path>.lock` in the same folder, flock'ed and holding the
// owner's PID, from construction until destruction (then removed; a killed owner's lock is freed
// by the kernel). Another process claiming the same path gets Error(busy):
//   "m.lai: being written by process 4242 (lock file m.lai.lock)".
// Claims are per process: a second claim from the same process shares the first (a task that holds
// its --out while it trains, and the save that writes it). Hold one for the whole run of a task
// whose result goes to a path, so two runs writing the same file cannot both succeed.
class OutputLock {
 public:
  explicit OutputLock(const std::string& path);
  ~OutputLock();
  OutputLock(OutputLock&&) noexcept;
  OutputLock& operator=(OutputLock&&) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  struct Held;

 private:
  std::shared_ptr<Held> held_;
};

// ---- atomic files ----
// Receives successive chunks of the file's bytes.
using ByteSink = std::function<void(const void* data, size_t size)>;
// Creates `path` atomically under its OutputLock: `produce` writes the content through the sink
// into a temp file `<path>.tmpXXXXXX` in the same folder, which is then renamed over `path`. If
// `produce` throws or any step fails, the temp file is removed, `path` is left as it was, and an
// Error is thrown. durable: fsync the file before the rename and the folder after it (survives a
// power loss; milliseconds per file), and first remove stale temp files of `path` whose writer
// died (kill -9 during a save). Not durable: for many small outputs (heatmaps, phantom sets).
void atomic_write_file(const std::string& path, const std::function<void(const ByteSink&)>& produce,
                       bool durable = true);
void atomic_write_file(const std::string& path, const void* data, size_t size, bool durable = true);

// The folder of a path ("." for a bare name).
std::string dir_of(const std::string& path);

}  // namespace liteai::io
