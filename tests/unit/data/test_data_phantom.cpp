// Synthetic phantoms: determinism, class cycle, masks that mark where the finding changed the
// image, foreign bodies that stand out, and the written set (PNGs, masks, manifest).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data_fixtures.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/data/phantom.hpp"

using namespace liteai;
using namespace liteai::data;

namespace {
double mask_mean(const Image& img, const Image& mask, bool inside) {
  double s = 0;
  size_t n = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i)
    if ((mask.pixels[i] > 0) == inside) {
      s += img.pixels[i];
      ++n;
    }
  return n ? s / double(n) : 0;
}
size_t mask_count(const Image& m) { return size_t(std::count_if(m.pixels.begin(), m.pixels.end(), [](float v) { return v > 0; })); }
}  // namespace

TEST_CASE("phantoms are deterministic for (seed, index) and vary with them") {
  PhantomOptions o;
  o.size = 128;
  Phantom a = make_phantom(7, 3, o), b = make_phantom(7, 3, o), c = make_phantom(7, 4, o), d = make_phantom(8, 3, o);
  CHECK(a.image.pixels == b.image.pixels);
  CHECK(a.mask.pixels == b.mask.pixels);
  CHECK(a.image.pixels != c.image.pixels);
  CHECK(a.image.pixels != d.image.pixels);
  CHECK(a.label == 3);
  CHECK(c.label == 4);
  for (float v : a.image.pixels) REQUIRE((v >= 0 && v <= 255 && v == std::round(v)));
  // classes cycle through the given list
  o.classes = {0, 2};
  CHECK(phantom_label(0, o) == 0);
  CHECK(phantom_label(5, o) == 2);
  CHECK(make_phantom(7, 5, o).label == 2);
  CHECK(phantom_class_names().size() == 5);
}

TEST_CASE("each finding's mask marks where the finding changed the image") {
  // Anatomy is drawn before the finding, so the same (seed, index) with class 0 is the same
  // patient without the finding: the difference must sit inside the mask.
  PhantomOptions o;
  o.size = 256;
  for (uint64_t index = 0; index < 12; ++index) {
    PhantomOptions normal = o;
    normal.classes = {0};
    const Phantom base = make_phantom(11, index, normal);
    CHECK(mask_count(base.mask) == 0);
    CHECK(base.findings.empty());
    for (int label = 1; label <= 4; ++label) {
      PhantomOptions with = o;
      with.classes = {label};
      const Phantom p = make_phantom(11, index, with);
      INFO("index " << index << " label " << label);
      REQUIRE(p.label == label);
      REQUIRE(!p.findings.empty());
      const size_t area = mask_count(p.mask);
      REQUIRE(area > 20);
      Image diff(256, 256);
      for (size_t i = 0; i < diff.pixels.size(); ++i) diff.pixels[i] = p.image.pixels[i] - base.image.pixels[i];
      const double in = mask_mean(diff, p.mask, true), out = mask_mean(diff, p.mask, false);
      CHECK(std::fabs(out) < 1.5);  // elsewhere only the noise differs
      CHECK(in > (label == 1 ? 50.0 : 30.0));  // findings are denser: brighter on the radiograph
      for (const auto& f : p.findings) {
        CHECK(f.label == label);
        CHECK(f.x0 < f.x1);
        CHECK(f.y0 < f.y1);
        CHECK(f.cx >= f.x0 - 1);
        CHECK(f.cx <= f.x1 + 1);
        if (label == 1 || label == 2) CHECK(p.mask.at(int(f.cx), int(f.cy)) == 1.f);
      }
      if (label == 2 || label == 3 || label == 4) CHECK((p.findings[0].side == "left" || p.findings[0].side == "right"));
    }
  }
}

TEST_CASE("foreign bodies stand out against the population at their position") {
  // Per-pixel statistics over normal phantoms (what ProbMat does): a foreign body's pixels sit far
  // in the upper tail of the normal population at the same place.
  const int S = 128, n_normal = 40;
  PhantomOptions normal;
  normal.size = S;
  normal.classes = {0};
  std::vector<double> mean(size_t(S) * S, 0), sq(size_t(S) * S, 0);
  for (int i = 0; i < n_normal; ++i) {
    Phantom p = make_phantom(5, uint64_t(i), normal);
    for (size_t k = 0; k < mean.size(); ++k) {
      mean[k] += p.image.pixels[k];
      sq[k] += double(p.image.pixels[k]) * p.image.pixels[k];
    }
  }
  PhantomOptions fb = normal;
  fb.classes = {1};
  int stand_out = 0, total = 0;
  for (int i = 1000; i < 1020; ++i) {
    Phantom p = make_phantom(5, uint64_t(i), fb);
    double z = 0;
    size_t n = 0;
    for (size_t k = 0; k < mean.size(); ++k)
      if (p.mask.pixels[k] > 0) {
        const double m = mean[k] / n_normal, sd = std::sqrt(std::max(1.0, sq[k] / n_normal - m * m));
        z += (p.image.pixels[k] - m) / sd;
        ++n;
      }
    ++total;
    if (n && z / double(n) > 2.0) ++stand_out;
  }
  CHECK(stand_out >= total * 3 / 4);
}

TEST_CASE("write_phantom_set writes PNGs equal to the in-memory phantoms and a loadable manifest") {
  const std::string dir = test::temp_dir("phantom_set");
  PhantomOptions o;
  o.size = 64;
  size_t calls = 0;
  SynthSummary s = write_phantom_set(dir, 11, 21, o, [&](size_t done, size_t total) {
    ++calls;
    CHECK(total == 11);
    CHECK(done <= 11);
  });
  CHECK(s.images == 11);
  CHECK(calls >= 1);
  CHECK(s.per_class == std::vector<size_t>{3, 2, 2, 2, 2});
  CHECK(std::filesystem::exists(dir + "/README.txt"));
  std::ifstream readme(dir + "/README.txt");
  std::string first;
  std::getline(readme, first);
  CHECK(first.find("SYNTHETIC") != std::string::npos);

  CsvOptions csv;
  csv.class_names = phantom_class_names();
  auto ds = FileDataset::from_csv(s.manifest, csv);
  REQUIRE(ds->size() == 11);
  for (size_t i = 0; i < 11; ++i) {
    Phantom p = make_phantom(21, i, o);
    CHECK(ds->labels(i) == std::vector<int>{p.label});
    Sample smp = ds->get(i);
    CHECK(smp.image.pixels == p.image.pixels);
    Image mask = decode_image(dir + "/masks/" + std::string(6 - std::to_string(i).size(), '0') + std::to_string(i) + "_mask.png");
    for (size_t k = 0; k < mask.pixels.size(); ++k) REQUIRE(mask.pixels[k] == p.mask.pixels[k] * 255.f);
  }
  // The geometry columns parse as a second manifest view (label from the kind column).
  CsvOptions kinds;
  kinds.label_column = "kind";
  kinds.multi_label = "yes";
  auto kd = FileDataset::from_csv(s.manifest, kinds);
  CHECK(kd->labels(0).empty());  // normal: no kind
  CHECK(kd->class_names().size() >= 3);
}

TEST_CASE("PhantomDataset renders on demand and feeds the loader") {
  PhantomOptions o;
  o.size = 64;
  auto ds = std::make_shared<PhantomDataset>(12, 3, o);
  CHECK(ds->size() == 12);
  CHECK(ds->labels(7) == std::vector<int>{2});
  CHECK(ds->get(7).image.pixels == make_phantom(3, 7, o).image.pixels);
  LoaderOptions lo;
  lo.batch_size = 5;
  lo.width = 32;
  lo.height = 32;
  Loader loader(ds, lo);
  int rows = 0;
  while (auto b = loader.next()) rows += int(b->size());
  CHECK(rows == 12);
}
