// Mapped model files: tensors that view the file (no copy), checked like a load, read-only,
// pages given back on request (resident memory stays bounded), one copy shared between processes;
// u8 tensors in files.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>

#include "liteai/io/model_file.hpp"

using namespace liteai;

namespace {
std::string tmp_file(const std::string& name) {
  const char* env = std::getenv("LITEAI_TEST_TMP");
  return std::string(env ? env : "/tmp") + "/io_mapped_" + std::to_string(::getpid()) + "_" + name;
}

// Resident bytes of this process that are file pages (RssFile in /proc/self/status).
int64_t rss_file_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssFile:", 0) == 0) return std::atoll(line.c_str() + 8) * 1024;
  return -1;
}

double sum_of(const Tensor& t) {
  const float* p = t.data();
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += p[i];
  return s;
}
}  // namespace

TEST_CASE("A mapped model file: views of the file, the same values, read-only, pages given back", "[io][mmap]") {
  const int64_t n = int64_t(16) << 20;  // 64 MB of f32
  Tensor big = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) big.data()[i] = static_cast<float>(i % 1000) * 0.5f;
  Tensor codes = Tensor::empty({5, 7}, DType::u8);
  for (int64_t i = 0; i < 35; ++i) codes.data_u8()[i] = static_cast<uint8_t>(i * 7);
  const std::string path = tmp_file("big.lai");
  io::Json header = io::Json::object();
  header.set("note", "mapped");
  io::save_model_file(path, header, {{"big", big}, {"codes", codes}, {"small", Tensor::full({3}, 2.f)}});
  const double want = sum_of(big);
  big = Tensor();

  const int64_t before = rss_file_bytes();
  io::ModelFile f = io::map_model_file(path);
  // Checking every CRC read the whole file, yet none of it stayed resident.
  CHECK(rss_file_bytes() - before < 8 << 20);
  const Tensor& m = f.tensor("big");
  REQUIRE(m.storage()->read_only());
  CHECK(reinterpret_cast<uintptr_t>(m.raw_data()) % io::kModelDataAlignment == 0);
  CHECK(f.header.get_string("note", "") == "mapped");
  CHECK(sum_of(m) == want);  // read: now resident...
  CHECK(rss_file_bytes() - before > 60 << 20);
  m.storage()->release_pages(0, m.storage()->bytes());
  CHECK(rss_file_bytes() - before < 8 << 20);  // ...and given back
  CHECK(sum_of(m) == want);                     // still readable
  m.storage()->release_pages(0, m.storage()->bytes());
  // u8 codes round-trip through files, mapped or loaded
  CHECK(f.tensor("codes").dtype() == DType::u8);
  CHECK(f.tensor("codes").to_vector() == codes.to_vector());
  CHECK(io::load_model_file(path).tensor("codes").to_vector() == codes.to_vector());
  // Writing is refused with a reason (a crash would be the alternative).
  Tensor w = f.tensor("small");
  CHECK_THROWS_WITH(w.copy_from(Tensor::zeros({3})), Catch::Contains("read-only mapping"));
  CHECK_THROWS_WITH(w.fill_(1.f), Catch::Contains("read-only mapping"));
  // A copy is an ordinary tensor.
  Tensor c = w.clone();
  c.fill_(1.f);
  CHECK(w.to_vector() == std::vector<float>{2.f, 2.f, 2.f});

  // Another process that maps the same file shares the pages: while this one holds them, its
  // proportional share of them (Pss) is about half of what it has resident.
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t pid = fork();
  if (pid == 0) {
    char c;
    if (read(ready[0], &c, 1) != 1) _exit(2);
    io::ModelFile g = io::map_model_file(path);
    const double s = sum_of(g.tensor("big"));
    std::ifstream smaps("/proc/self/smaps_rollup");
    std::string line;
    int64_t pss = 0;
    while (std::getline(smaps, line))
      if (line.rfind("Pss_File:", 0) == 0) pss = std::atoll(line.c_str() + 9) * 1024;
    const int64_t rss = rss_file_bytes();
    _exit(s == want && rss > (60 << 20) && pss < rss * 6 / 10 ? 0 : 1);
  }
  CHECK(sum_of(m) == want);  // resident here while the child maps and reads the file
  REQUIRE(write(ready[1], "x", 1) == 1);
  int status = -1;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  close(ready[0]);
  close(ready[1]);
  m.storage()->release_pages(0, m.storage()->bytes());

  // A damaged tensor is found when mapping, as when loading.
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(-1, std::ios::end);
    file.put('\x7f');
  }
  CHECK_THROWS_WITH(io::map_model_file(path), Catch::Contains("checksum mismatch in tensor"));
  CHECK_THROWS_WITH(io::map_model_file(tmp_file("missing.lai")), Catch::Contains("cannot open"));
  std::remove(path.c_str());
}
