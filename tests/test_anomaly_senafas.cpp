// senafas: the reduced-resolution anomaly channel marks the patches holding hot spots and stays ~0
// elsewhere; the profile SOM separates cells with different intensity distributions.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "liteai/anomaly/senafas.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/random.hpp"

using namespace liteai;
using namespace liteai::anomaly;
using data::Image;

namespace {
Image noise_map(int w, int h, Generator& g) {
  Image m(w, h);
  for (float& v : m.pixels) v = std::abs(g.normal(2.f, 1.f));
  return m;
}
void hot_disc(Image& m, float cx, float cy, float r) {
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x)
      if (std::hypot(x - cx, y - cy) <= r) m.at(x, y) = 15.f;
}
}  // namespace

TEST_CASE("senafas channel marks the patches with hot spots", "[anomaly][senafas]") {
  Generator g(1);
  std::vector<Image> train;
  for (int i = 0; i < 30; ++i) {
    Image m = noise_map(64, 48, g);
    if (i % 3 == 0) hot_disc(m, g.uniform(5, 59), g.uniform(5, 43), 3.f);
    train.push_back(m);
  }
  Senafas s;
  SenafasOptions o;
  o.patch = 8;
  o.rows = 5;
  o.cols = 5;
  s.fit(train, o);
  Image test = noise_map(64, 48, g);
  hot_disc(test, 36.f, 20.f, 3.f);  // inside patch (4, 2)
  const Image ch = s.channel(test);
  REQUIRE((ch.width == 8 && ch.height == 6));
  const float hot = ch.at(4, 2);
  float other = 0;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x)
      if (std::abs(x - 4) > 1 || std::abs(y - 2) > 1) other = std::max(other, ch.at(x, y));
  INFO("hot patch " << hot << ", largest elsewhere " << other);
  CHECK(hot > 2.f);
  CHECK(other < 0.2f * hot);
  const Image plain = s.channel(noise_map(64, 48, g));
  float mx = 0;
  for (float v : plain.pixels) mx = std::max(mx, v);
  CHECK(mx < 0.2f * hot);
  // Sizes not divisible by the patch pad the edge patches.
  Senafas odd;
  odd.fit({noise_map(30, 20, g)}, {7, 64, 2, 2});
  CHECK(odd.channel(noise_map(30, 20, g)).width == 5);
  CHECK_THROWS_WITH(odd.channel(noise_map(31, 20, g)), Catch::Contains("31x20"));
  CHECK_THROWS_WITH(Senafas().channel(test), Catch::Contains("not fitted"));
}

TEST_CASE("profile SOM separates cells with different intensity laws", "[anomaly][senafas]") {
  Generator g(2);
  ProbMat pm({16, 8, 64, 32, 1, 0});
  for (int i = 0; i < 40; ++i) {
    Image im(16, 8);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 16; ++x) im.at(x, y) = x < 8 ? g.normal(50, 5) : g.normal(190, 12);
    pm.add(im);
  }
  const ProbTable t = pm.finalize();
  SomConfig grid;
  grid.rows = 2;
  grid.cols = 2;
  const Som s = train_profile_som(t, grid);
  const Image reg = profile_regions(t, s);
  REQUIRE((reg.width == 16 && reg.height == 8));
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int y2 = 0; y2 < 8; ++y2) REQUIRE(reg.at(x, y) != reg.at(8 + x, y2));
}
