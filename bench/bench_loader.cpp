// liteai bench loader: the on-the-fly data pipeline.
//  - loader_decode_512_t{1,2}: images/s decoding 1024x1024 8-bit PNGs to 512x512 standardized;
//    loader_decode_512_cpu: the same per CPU-second on one thread (steady on a busy machine)
//  - loader_epoch_vs_ram: an epoch fed by the Loader vs the same batches already in RAM, with a
//    "training" consumer of fixed cost (liteai sgemm, 16 GFLOP per image: about one compact_cxr
//    training step at 512x512, forward + backward ~ 3 x 5.3 GFLOP), using every thread
//  - rss_loader_20k vs rss_loader_1k: peak RSS of a whole epoch over 20k vs 1k distinct files,
//    each in its own fresh process (this program re-executed), so the peaks are separate;
//    median of up to 3 processes each.
// Bench images are synthetic phantoms written to a temporary folder, removed afterwards.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench.hpp"
#include "kernels/kernels.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/data/phantom.hpp"
#include "liteai/io/file.hpp"

namespace fs = std::filesystem;
using namespace liteai;

namespace {

constexpr const char* kChildEnv = "LITEAI_BENCH_LOADER_CHILD";

// Writes `n` phantoms of `size` as PNGs plus a manifest; returns the manifest path.
std::string make_images(const std::string& dir, size_t n, int size, uint64_t seed) {
  data::PhantomOptions o;
  o.size = size;
  return data::write_phantom_set(dir, n, seed, o).manifest;
}

// The child process: one epoch over the manifest, then print peak RSS (MB) on stdout.
int rss_child(const std::string& spec) {
  // spec = "<manifest>;<batch>;<size>"
  const auto a = spec.find(';'), b = spec.find(';', a + 1);
  const std::string manifest = spec.substr(0, a);
  const int batch = std::atoi(spec.substr(a + 1, b - a - 1).c_str()), size = std::atoi(spec.substr(b + 1).c_str());
  data::CsvOptions csv;
  csv.class_names = data::phantom_class_names();
  auto ds = data::FileDataset::from_csv(manifest, csv);
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.width = size;
  lo.height = size;
  lo.prefetch = 4;
  data::Loader loader(ds, lo);
  size_t rows = 0;
  double checksum = 0;
  while (auto bt = loader.next()) {
    rows += size_t(bt->size());
    checksum += bt->images.data()[0];
  }
  std::printf("%zu %.3f %.6f\n", rows, bench::peak_rss_mb(), checksum);
  return rows == ds->size() ? 0 : 3;
}

// Runs this program again as a child measuring one epoch; returns its peak RSS in MB.
double rss_in_child(const std::string& manifest, int batch, int size, size_t expect_rows) {
  int fd[2];
  LAI_CHECK(pipe(fd) == 0, "bench loader: pipe failed");
  const pid_t pid = fork();
  LAI_CHECK(pid >= 0, "bench loader: fork failed");
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    const std::string env = std::string(kChildEnv) + "=" + manifest + ";" + std::to_string(batch) + ";" + std::to_string(size);
    putenv(const_cast<char*>((new std::string(env))->c_str()));
    execl("/proc/self/exe", "liteai", "bench", "loader", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fd[1]);
  std::string out;
  char buf[256];
  ssize_t got;
  while ((got = read(fd[0], buf, sizeof buf)) > 0) out.append(buf, size_t(got));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  LAI_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bench loader: RSS child failed (status ", status, ")");
  size_t rows = 0;
  double mb = 0;
  LAI_CHECK(std::sscanf(out.c_str(), "%zu %lf", &rows, &mb) == 2 && rows == expect_rows,
            "bench loader: bad child output '", out, "'");
  return mb;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// A fixed amount of sgemm work (all threads), standing in for a training step.
struct Trainer {
  int64_t n = 1024;
  std::vector<float> a, b, c;
  Trainer() : a(size_t(n * n), 0.5f), b(size_t(n * n), 0.25f), c(size_t(n * n)) {}
  double gflop_per_call() const { return 2.0 * double(n) * n * n * 1e-9; }
  void run(double gflop) {
    const int calls = std::max(1, int(gflop / gflop_per_call() + 0.5));
    for (int i = 0; i < calls; ++i) kernels::sgemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
  }
};

}  // namespace

LAI_BENCH_SUITE(loader, "data pipeline: decode images/s, epoch via Loader vs in RAM, peak RSS 1k vs 20k images") {
  if (const char* child = std::getenv(kChildEnv)) std::exit(rss_child(child));

  const fs::path root = fs::temp_directory_path() / ("liteai_bench_loader_" + std::to_string(getpid()));
  fs::remove_all(root);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{root};
  const int repeats = std::max(1, std::min(args.repeats, 3));
  const int saved_threads = num_threads();

  // ---- decode + preprocess throughput: 1024x1024 8-bit PNG -> 512x512 standardized ----
  const size_t n_big = args.quick ? 16 : 48;
  double t0 = bench::now_seconds();
  const std::string big = make_images((root / "big").string(), n_big, 1024, 1);
  report.note("loader: wrote " + std::to_string(n_big) + " 1024x1024 phantom PNGs in " +
              std::to_string(bench::now_seconds() - t0).substr(0, 5) + " s");
  data::CsvOptions csv;
  csv.class_names = data::phantom_class_names();
  auto ds_big = data::FileDataset::from_csv(big, csv);
  data::LoaderOptions lo;
  lo.batch_size = 8;
  lo.width = 512;
  lo.height = 512;
  lo.prefetch = 2;
  auto epoch_seconds = [&](const std::function<void(const data::Batch&)>& consume) {
    data::Loader loader(ds_big, lo);
    return bench::median_seconds(repeats, [&] {
      loader.reset(0);
      while (auto b = loader.next()) consume(*b);
    });
  };
  const std::vector<int> counts = args.threads > 0 ? std::vector<int>{args.threads} : std::vector<int>{1, 2};
  double ips1 = 0;
  for (int t : counts) {
    set_num_threads(t);
    const double cpu0 = cpu_seconds();
    const double s = epoch_seconds([](const data::Batch&) {});
    const double ips = double(n_big) / s;
    if (t == 1) {
      ips1 = ips;
      // CPU time per image does not depend on what else the machine runs (shared CI runners).
      const double cpu = cpu_seconds() - cpu0;
      const double epochs = repeats + 1;  // median_seconds: one warm-up call, then `repeats`
      report.add({"loader_decode_512_cpu", double(n_big) * epochs / std::max(cpu, 1e-9), "images/cpu-s", "", 0});
    }
    const std::string name = "loader_decode_512_t" + std::to_string(t);
    if (t == 1 || ips1 == 0)
      report.add({name, ips, "images/s", "", 0});
    else
      report.add({name, ips, "images/s", "loader_decode_512_t1", ips / ips1});
  }
  set_num_threads(args.threads > 0 ? args.threads : saved_threads);

  // ---- an epoch fed by the loader vs the same batches in RAM ----
  {
    const double gflop_per_image = 16.0;
    Trainer trainer;
    auto consume = [&](const data::Batch& b) { trainer.run(gflop_per_image * double(b.size())); };
    std::vector<data::Batch> ram;
    {
      data::Loader loader(ds_big, lo);
      while (auto b = loader.next()) ram.push_back(std::move(*b));
    }
    const double t_ram = bench::median_seconds(repeats, [&] {
      for (const auto& b : ram) consume(b);
    });
    ram.clear();
    const double t_loader = epoch_seconds(consume);
    report.add({"loader_epoch_vs_ram", t_loader, "s", "ram", t_ram / t_loader});
    report.note("loader: epoch of " + std::to_string(n_big) + " images (batch 8, 1024->512), consumer " +
                std::to_string(int(gflop_per_image)) + " GFLOP/image of sgemm on " + std::to_string(num_threads()) +
                " threads: in RAM " + std::to_string(t_ram).substr(0, 6) + " s, via Loader " +
                std::to_string(t_loader).substr(0, 6) + " s");
  }
  fs::remove_all(root / "big");

  // ---- peak RSS: 1k vs 20k distinct files, each epoch in a fresh process ----
  {
    const size_t n_small = args.quick ? 500 : 1000, n_large = args.quick ? 2000 : 20000;
    t0 = bench::now_seconds();
    const std::string large = make_images((root / "rss").string(), n_large, 128, 2);
    // The small set is the first n_small rows of the same files.
    std::vector<uint8_t> text = io::read_file(large);
    size_t lines = 0, cut = 0;
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n' && ++lines == n_small + 1) {
        cut = i + 1;
        break;
      }
    const std::string small = (root / "rss" / "small.csv").string();
    io::atomic_write_file(small, text.data(), cut);
    report.note("loader: wrote " + std::to_string(n_large) + " 128x128 phantom PNGs in " +
                std::to_string(bench::now_seconds() - t0).substr(0, 5) + " s" +
                (args.quick ? " (quick: " + std::to_string(n_small) + " vs " + std::to_string(n_large) + " images)" : ""));
    const int batch = 32, size = 128;
    // Median over fresh processes: thread timing moves a peak by a few hundred KB.
    auto median_rss = [&](const std::string& m, size_t rows) {
      std::vector<double> v;
      for (int r = 0; r < repeats; ++r) v.push_back(rss_in_child(m, batch, size, rows));
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double rss_small = median_rss(small, n_small);
    const double rss_large = median_rss(large, n_large);
    report.add({"rss_loader_1k", rss_small, "MB", "", 0});
    report.add({"rss_loader_20k", rss_large, "MB", "rss_loader_1k", rss_small / rss_large});
  }
}
