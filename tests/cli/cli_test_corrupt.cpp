// cli_test_corrupt: damaged copies of files for the `liteai` error tests (tests/run_cli_errors.cmake);
// CMake scripts cannot write arbitrary bytes.
//   cli_test_corrupt flip IN OUT OFFSET     copy with the byte at OFFSET inverted (OFFSET < 0: from the end)
//   cli_test_corrupt truncate IN OUT BYTES  the first BYTES bytes
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: cli_test_corrupt flip|truncate IN OUT N\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cli_test_corrupt: cannot read %s\n", argv[2]);
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const long long n = std::atoll(argv[4]), size = static_cast<long long>(bytes.size());
  if (mode == "flip") {
    const long long at = n < 0 ? size + n : n;
    if (at < 0 || at >= size) {
      std::fprintf(stderr, "cli_test_corrupt: offset %lld outside %s (%lld bytes)\n", n, argv[2], size);
      return 1;
    }
    bytes[static_cast<size_t>(at)] = static_cast<char>(~bytes[static_cast<size_t>(at)]);
  } else if (mode == "truncate") {
    if (n < 0 || n > size) {
      std::fprintf(stderr, "cli_test_corrupt: cannot truncate %s (%lld bytes) to %lld\n", argv[2], size, n);
      return 1;
    }
    bytes.resize(static_cast<size_t>(n));
  } else {
    std::fprintf(stderr, "cli_test_corrupt: unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  std::ofstream out(argv[3], std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out.good() ? 0 : 1;
}
