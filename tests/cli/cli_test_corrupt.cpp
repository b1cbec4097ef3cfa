// cli_test_corrupt: damaged and hostile files for the `liteai` error tests (run_cli_errors.cmake,
// run_cli_hostile.cmake); CMake scripts cannot write arbitrary bytes, FIFOs or locks.
//   cli_test_corrupt flip IN OUT OFFSET      copy with the byte at OFFSET inverted (OFFSET < 0: from the end)
//   cli_test_corrupt truncate IN OUT BYTES   the first BYTES bytes
//   cli_test_corrupt hex OUT HEX             the bytes given in hex ("00ff...")
//   cli_test_corrupt blackpng OUT W H [C]    an all-black 8-bit PNG (C = 1 gray, 3 RGB) with real pixel data
//   cli_test_corrupt hugepng OUT W H         a PNG whose (valid) header claims W x H over one row of data
//   cli_test_corrupt npy OUT SHAPE BYTES     a float32 .npy header with SHAPE ("(4, 2)") and BYTES data bytes
//   cli_test_corrupt fifo PATH               a named pipe
//   cli_test_corrupt dupclass IN OUT         a model file whose class names repeat (its CRCs valid)
//   cli_test_corrupt hold-output PATH CMD... runs CMD while holding PATH's output lock (io::OutputLock)
//   cli_test_corrupt hold-flock PATH CMD...  runs CMD while holding an flock on PATH (a live writer's temp file)
// hold-* exit with CMD's status (its stdout and stderr pass through).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "liteai/io/file.hpp"
#include "liteai/io/model_file.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

int fail(const std::string& why) {
  std::fprintf(stderr, "cli_test_corrupt: %s\n", why.c_str());
  return 1;
}

bool save(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return out.good();
}

void put_be32(Bytes& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
void chunk(Bytes& out, const char* type, const Bytes& data) {
  put_be32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, uint32_t(crc32(0L, out.data() + start, uInt(out.size() - start))));
}

// A PNG whose IHDR says w x h x channels and whose pixel data is `rows` zero rows (filter 0).
Bytes black_png(uint32_t w, uint32_t h, int channels, uint32_t rows) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Bytes ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr.insert(ihdr.end(), {8, uint8_t(channels == 3 ? 2 : 0), 0, 0, 0});
  chunk(out, "IHDR", ihdr);
  z_stream zs{};
  deflateInit(&zs, 9);
  const Bytes row(size_t(w) * size_t(channels) + 1, 0);
  Bytes z(1 << 20);
  size_t have = 0;
  for (uint32_t y = 0; y <= rows; ++y) {
    const bool last = y == rows;
    zs.next_in = const_cast<uint8_t*>(row.data());
    zs.avail_in = last ? 0 : uInt(row.size());
    do {
      if (z.size() - have < (1 << 16)) z.resize(z.size() * 2);
      zs.next_out = z.data() + have;
      zs.avail_out = uInt(z.size() - have);
      deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      have = z.size() - zs.avail_out;
    } while (zs.avail_in > 0 || (last && zs.avail_out == 0));
  }
  deflateEnd(&zs);
  z.resize(have);
  chunk(out, "IDAT", z);
  chunk(out, "IEND", {});
  return out;
}

// Runs argv[from..] and returns its exit status (128 + signal when killed).
int run(char** argv, int from) {
  const pid_t pid = ::fork();
  if (pid < 0) return fail("fork failed");
  if (pid == 0) {
    ::execvp(argv[from], argv + from);
    std::perror("cli_test_corrupt: exec");
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: see the comment at the top of cli_test_corrupt.cpp");
  const std::string mode = argv[1];
  try {
    if (mode == "hold-output" && argc >= 4) {
      liteai::io::OutputLock lock(argv[2]);
      return run(argv, 3);
    }
    if (mode == "hold-flock" && argc >= 4) {
      const int fd = ::open(argv[2], O_RDWR | O_CREAT, 0644);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) return fail(std::string("cannot lock ") + argv[2]);
      const int rc = run(argv, 3);
      ::close(fd);
      return rc;
    }
    if (mode == "fifo") return ::mkfifo(argv[2], 0644) == 0 ? 0 : fail(std::string("mkfifo ") + argv[2]);
    if (mode == "hex" && argc == 4) {
      const std::string hex = argv[3];
      Bytes b;
      for (size_t i = 0; i + 1 < hex.size(); i += 2) b.push_back(uint8_t(std::stoul(hex.substr(i, 2), nullptr, 16)));
      return save(argv[2], b) ? 0 : fail("cannot write");
    }
    if ((mode == "blackpng" || mode == "hugepng") && (argc == 5 || argc == 6)) {
      const uint32_t w = uint32_t(std::stoul(argv[3])), h = uint32_t(std::stoul(argv[4]));
      const int c = argc == 6 ? std::atoi(argv[5]) : 1;
      return save(argv[2], black_png(w, h, c, mode == "blackpng" ? h : 1)) ? 0 : fail("cannot write");
    }
    if (mode == "npy" && argc == 5) {
      std::string h = std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + argv[3] + ", }";
      h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
      h.push_back('\n');
      Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size() & 0xFF), uint8_t(h.size() >> 8)};
      b.insert(b.end(), h.begin(), h.end());
      b.resize(b.size() + std::stoul(argv[4]), 0);
      return save(argv[2], b) ? 0 : fail("cannot write");
    }
    if (mode == "dupclass" && argc == 4) {
      liteai::io::ModelFile f = liteai::io::load_model_file(argv[2]);
      liteai::io::Json& names = f.header["class_names"];
      if (names.size() < 2) return fail("the model has fewer than 2 class names");
      names[1] = names[0];
      liteai::io::save_model_file(argv[3], f.header, f.tensors);
      return 0;
    }
    if ((mode == "flip" || mode == "truncate") && argc == 5) {
      std::ifstream in(argv[2], std::ios::binary);
      if (!in) return fail(std::string("cannot read ") + argv[2]);
      Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const long long n = std::atoll(argv[4]), size = static_cast<long long>(bytes.size());
      if (mode == "flip") {
        const long long at = n < 0 ? size + n : n;
        if (at < 0 || at >= size) return fail("offset outside the file");
        bytes[size_t(at)] = uint8_t(~bytes[size_t(at)]);
      } else {
        if (n < 0 || n > size) return fail("cannot truncate to that length");
        bytes.resize(size_t(n));
      }
      return save(argv[3], bytes) ? 0 : fail("cannot write");
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return fail("unknown mode or wrong arguments: " + mode);
}
