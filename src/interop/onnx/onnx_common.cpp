#include "interop/onnx/onnx_common.hpp"

#include <fcntl.h>
#include <onnx/checker.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "liteai/core/error.hpp"

namespace liteai::interop::onnx {

namespace {
// An open regular file: O_NONBLOCK so a FIFO cannot block the open, then fstat.
struct File {
  int fd = -1;
  uint64_t size = 0;
  File(const std::string& path, const std::string& what) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    LAI_CHECK_IO(fd >= 0, what, ": cannot open (", std::strerror(errno), ")");
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw_error(ErrorKind::io, str_cat(what, ": not a regular file"));
    }
    size = static_cast<uint64_t>(st.st_size);
  }
  ~File() { ::close(fd); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  std::vector<uint8_t> read(uint64_t offset, uint64_t n, const std::string& what) const {
    std::vector<uint8_t> out(static_cast<size_t>(n));
    uint64_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd, out.data() + done, std::min<uint64_t>(n - done, uint64_t(1) << 30),
                                static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      LAI_CHECK_IO(r > 0, what, ": read error at offset ", offset + done,
                   r < 0 ? str_cat(" (", std::strerror(errno), ")") : std::string(" (the file shrank while reading)"));
      done += static_cast<uint64_t>(r);
    }
    return out;
  }
};
}  // namespace

std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& what) {
  File f(path, what);
  LAI_CHECK_FORMAT(f.size <= max_bytes, what, ": ", f.size, " bytes, more than the ", max_bytes, " allowed");
  return f.read(0, f.size, what);
}

std::vector<uint8_t> read_file_range(const std::string& path, uint64_t offset, int64_t length, uint64_t max_bytes,
                                     const std::string& what) {
  File f(path, what);
  LAI_CHECK_FORMAT(offset <= f.size, what, ": offset ", offset, " is past the end of the file (", f.size, " bytes)");
  const uint64_t n = length < 0 ? f.size - offset : static_cast<uint64_t>(length);
  LAI_CHECK_FORMAT(n <= f.size - offset, what, ": ", n, " bytes at offset ", offset, " run past the end of the file (",
                   f.size, " bytes)");
  LAI_CHECK_FORMAT(n <= max_bytes, what, ": ", n, " bytes, more than the ", max_bytes, " allowed");
  return f.read(offset, n, what);
}

void check_onnx(const ox::ModelProto& m, const std::string& what, const std::string& path) {
  try {
    if (path.empty()) ox::checker::check_model(m);
    else ox::checker::check_model(path);
  } catch (const ox::checker::ValidationError& e) {
    std::string msg = e.what();
    if (const size_t cut = msg.find("\n\n==> Context:"); cut != std::string::npos) msg.resize(cut);
    throw_error(ErrorKind::format, str_cat(what, ": the ONNX checker refuses it: ", msg));
  } catch (const std::exception& e) {
    throw_error(ErrorKind::format, str_cat(what, ": the ONNX checker refuses it: ", e.what()));
  }
}

}  // namespace liteai::interop::onnx
