// SOM against textbook behaviour: a 2-D grid unfolds over uniform points (low topographic error,
// quantization error near the ideal cell radius), known clusters are recovered, GEMM BMUs equal the
// naive search, determinism across thread counts, grid geometry, and the .lsom file checks.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "liteai/anomaly/som.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/io/model_file.hpp"
#include "legacy_anomaly_files.hpp"

using namespace liteai;
using namespace liteai::anomaly;

namespace {

std::string tmp_path(const std::string& name) {
  const char* d = std::getenv("LITEAI_TEST_TMP");
  return std::string(d && *d ? d : "/tmp") + "/anomaly_som_" + name;
}

std::vector<float> uniform_square(int n, uint64_t seed) {
  Generator g(seed);
  std::vector<float> v(size_t(n) * 2);
  for (float& x : v) x = g.uniform(0.f, 1.f);
  return v;
}

// Fraction of grid-adjacent unit pairs whose weights are close: an unfolded map has (nearly) all.
double ordered_fraction(const Som& s, float max_gap) {
  int ok = 0, pairs = 0;
  for (int a = 0; a < s.units(); ++a)
    for (int b = a + 1; b < s.units(); ++b)
      if (s.grid_distance(a, b) < 1.01f) {
        ++pairs;
        const float* wa = s.unit_weights(a);
        const float* wb = s.unit_weights(b);
        ok += std::hypot(wa[0] - wb[0], wa[1] - wb[1]) < max_gap;
      }
  return double(ok) / pairs;
}

}  // namespace

TEST_CASE("som grid geometry: neighbours, hexagons, torus", "[anomaly][som]") {
  Som rect({4, 5, 2});
  CHECK(rect.grid_distance(0, 1) == Approx(1));
  CHECK(rect.grid_distance(0, 5) == Approx(1));
  CHECK(rect.grid_distance(0, 4) == Approx(4));
  Som tor({4, 5, 2, SomTopology::Rectangular, true});
  CHECK(tor.grid_distance(0, 4) == Approx(1));
  CHECK(tor.grid_distance(0, 15) == Approx(1));
  Som hex({6, 6, 2, SomTopology::Hexagonal});
  // Unit (2, 2) = 14 has six neighbours at distance 1 (odd rows shifted right).
  int six = 0;
  for (int u = 0; u < 36; ++u) six += u != 14 && std::abs(hex.grid_distance(14, u) - 1.f) < 1e-5f;
  CHECK(six == 6);
  int six_odd = 0;  // (3, 2) = 20
  for (int u = 0; u < 36; ++u) six_odd += u != 20 && std::abs(hex.grid_distance(20, u) - 1.f) < 1e-5f;
  CHECK(six_odd == 6);
  Som hext({6, 6, 2, SomTopology::Hexagonal, true});
  int corner = 0;
  for (int u = 1; u < 36; ++u) corner += std::abs(hext.grid_distance(0, u) - 1.f) < 1e-4f;
  CHECK(corner == 6);
  CHECK_THROWS_WITH(Som({5, 6, 2, SomTopology::Hexagonal, true}), Catch::Contains("even number of rows"));
  CHECK_THROWS_WITH(Som({5, 6, 0}), Catch::Contains("dimension"));
  // Neighbourhood functions.
  Som g({2, 2, 1}), b({2, 2, 1, SomTopology::Rectangular, false, SomNeighborhood::Bubble}),
      m({2, 2, 1, SomTopology::Rectangular, false, SomNeighborhood::MexicanHat});
  CHECK(g.neighborhood(2.f, 2.f) == Approx(std::exp(-0.5)));
  CHECK(b.neighborhood(2.f, 2.f) == 1.f);
  CHECK(b.neighborhood(2.1f, 2.f) == 0.f);
  CHECK(m.neighborhood(0.f, 2.f) == 1.f);
  CHECK(m.neighborhood(4.f, 2.f) < 0.f);
  CHECK(som_schedule(SomSchedule::Linear, 1.f, 0.f, 0.25f) == Approx(0.75f));
  CHECK(som_schedule(SomSchedule::Exponential, 1.f, 0.01f, 0.5f) == Approx(0.1f));
}

TEST_CASE("som unfolds over uniform points in the unit square (batch, random init)", "[anomaly][som]") {
  const auto x = uniform_square(3000, 1);
  Som s({10, 10, 2});
  SomTrainOptions o;
  o.init = SomInit::Random;
  o.epochs = 40;
  o.radius_end = 0.7f;
  const double te0 = (s.init_random(x.data(), 3000, 1), s.topographic_error(x.data(), 3000));
  s.train(x.data(), 3000, o);
  const double qe = s.quantization_error(x.data(), 3000), te = s.topographic_error(x.data(), 3000);
  INFO("qe " << qe << " te " << te << " te before " << te0);
  // Ideal: 100 square cells of side 0.1, mean distance to the centre ~0.038.
  CHECK(qe < 0.055);
  CHECK(te < 0.05);
  CHECK(te0 > 0.5);  // the random start was disordered
  CHECK(ordered_fraction(s, 0.2f) > 0.97);
  // Every unit is used and covers a similar share.
  const auto hits = s.hit_map(x.data(), 3000);
  for (auto h : hits) CHECK((h > 5 && h < 90));
}

TEST_CASE("som unfolds with online training on a hexagonal grid", "[anomaly][som]") {
  const auto x = uniform_square(1500, 2);
  Som s({8, 8, 2, SomTopology::Hexagonal});
  SomTrainOptions o;
  o.mode = SomMode::Online;
  o.init = SomInit::Random;
  o.epochs = 8;
  o.lr_start = 0.5f;
  o.lr_end = 0.02f;
  o.radius_start = 4.f;
  o.radius_end = 0.5f;
  s.train(x.data(), 1500, o);
  const double qe = s.quantization_error(x.data(), 1500), te = s.topographic_error(x.data(), 1500);
  INFO("qe " << qe << " te " << te);
  CHECK(qe < 0.07);
  CHECK(te < 0.1);
  CHECK(ordered_fraction(s, 0.25f) > 0.95);
}

TEST_CASE("som recovers known clusters", "[anomaly][som]") {
  Generator g(3);
  const int dim = 5, per = 200, k = 4;
  std::vector<float> centres(size_t(k) * dim), x;
  std::vector<int> label;
  for (float& c : centres) c = g.uniform(-10.f, 10.f);
  for (int c = 0; c < k; ++c)
    for (int i = 0; i < per; ++i) {
      for (int j = 0; j < dim; ++j) x.push_back(centres[size_t(c) * dim + size_t(j)] + g.normal(0.f, 0.5f));
      label.push_back(c);
    }
  const int n = per * k;
  for (auto nb : {SomNeighborhood::Gaussian, SomNeighborhood::Bubble, SomNeighborhood::MexicanHat}) {
    INFO("neighbourhood " << int(nb));
    Som s({6, 6, dim, SomTopology::Rectangular, false, nb});
    SomTrainOptions o;
    o.epochs = 25;
    if (nb == SomNeighborhood::MexicanHat) {  // the hat's inhibition is an online-training idea
      o.mode = SomMode::Online;
      o.epochs = 10;
      o.radius_end = 0.5f;
    }
    s.train(x.data(), n, o);
    const auto b = s.bmus(x.data(), n);
    // Each unit's samples come from one cluster, and no two clusters share a unit.
    std::map<int, std::set<int>> unit_labels;
    for (int i = 0; i < n; ++i) unit_labels[b[size_t(i)]].insert(label[size_t(i)]);
    for (auto& [u, ls] : unit_labels) CHECK(ls.size() == 1);
    std::set<int> seen;
    for (auto& [u, ls] : unit_labels) seen.insert(*ls.begin());
    CHECK(seen.size() == size_t(k));
    // Cluster boundaries show in the U-matrix: its maximum stands far above its median.
    const auto um = s.umatrix();
    const auto hits = s.hit_map(x.data(), n);
    float inside = 0, border = 0;
    for (int u = 0; u < s.units(); ++u) {
      if (hits[size_t(u)] >= 10) inside = std::max(inside, um[size_t(u)]);
      border = std::max(border, um[size_t(u)]);
    }
    INFO("u-matrix max inside clusters " << inside << ", overall " << border);
    if (nb == SomNeighborhood::Gaussian) CHECK(border > 2 * inside);
    CHECK(s.quantization_error(x.data(), n) < 1.5);
  }
}

TEST_CASE("som GEMM-style BMUs equal the naive search; results are deterministic", "[anomaly][som]") {
  Generator g(9);
  const int n = 1700, dim = 17;
  std::vector<float> x(size_t(n) * dim);
  for (float& v : x) v = g.normal(3.f, 2.f);
  Som s({7, 9, dim});
  SomTrainOptions o;
  o.epochs = 5;
  s.train(x.data(), n, o);
  std::vector<int> second;
  std::vector<float> d2;
  const auto b = s.bmus(x.data(), n, &second, &d2);
  for (int i = 0; i < n; ++i) {
    const float* xi = x.data() + size_t(i) * dim;
    const int nb = s.bmu(xi);
    // Ties aside, the same unit; and the distance equals the exact one.
    double exact = 0, exact_b = 0;
    for (int j = 0; j < dim; ++j) {
      exact += std::pow(xi[j] - s.unit_weights(nb)[j], 2);
      exact_b += std::pow(xi[j] - s.unit_weights(b[size_t(i)])[j], 2);
    }
    REQUIRE(exact_b == Approx(exact).epsilon(1e-4));
    REQUIRE(d2[size_t(i)] == Approx(exact).epsilon(1e-3));
    REQUIRE(second[size_t(i)] != b[size_t(i)]);
  }
  // Same seed => same bits, for 1 and 2 threads, online and batch.
  for (auto mode : {SomMode::Batch, SomMode::Online}) {
    SomTrainOptions oo;
    oo.mode = mode;
    oo.epochs = 2;
    oo.init = SomInit::Random;
    Som a({7, 9, dim}), c({7, 9, dim});
    set_num_threads(1);
    a.train(x.data(), n, oo);
    set_num_threads(2);
    c.train(x.data(), n, oo);
    set_num_threads(0);
    CHECK(a.weights() == c.weights());
  }
}

TEST_CASE("som PCA init spans the principal plane", "[anomaly][som]") {
  // Points along a tilted line with little spread across it.
  Generator g(4);
  std::vector<float> x;
  for (int i = 0; i < 500; ++i) {
    const float t = g.uniform(-1.f, 1.f), u = g.normal(0.f, 0.05f);
    x.push_back(3.f + 2.f * t - 0.6f * u);
    x.push_back(1.f + 1.2f * t + u);
  }
  Som s({3, 10, 2});
  s.init_pca(x.data(), 500);
  // Along the long grid side the weights move along the line direction (2, 1.2); the corners
  // are symmetric about the mean.
  const float* a = s.unit_weights(10);  // row 1, col 0
  const float* b = s.unit_weights(19);  // row 1, col 9
  const float dx = b[0] - a[0], dy = b[1] - a[1];
  CHECK(std::abs(dx * 1.2f - dy * 2.f) / std::hypot(dx, dy) < 0.1f);
  CHECK((a[0] + b[0]) / 2 == Approx(3.f).margin(0.1));
  CHECK((a[1] + b[1]) / 2 == Approx(1.f).margin(0.1));
}

TEST_CASE("som save/load round trip and corrupted files", "[anomaly][som]") {
  const auto x = uniform_square(300, 5);
  SomTrainOptions o;
  o.epochs = 3;
  const std::string p = tmp_path("rt.lsom"), bad = tmp_path("bad.lsom");
  CHECK_THROWS_WITH(Som({5, 4, 2, SomTopology::Hexagonal, true}), Catch::Contains("even"));
  Som s2({6, 4, 2, SomTopology::Hexagonal, true, SomNeighborhood::MexicanHat});
  s2.train(x.data(), 300, o);
  s2.save(p);
  const Som back = Som::load(p);
  CHECK(back.weights() == s2.weights());
  CHECK(back.config().topology == SomTopology::Hexagonal);
  CHECK(back.config().toroidal);
  CHECK(back.config().neighborhood == SomNeighborhood::MexicanHat);
  {
    // The current layout: the checked container, a JSON header and a "weights" tensor.
    const io::ContainerFormat fmt = {{'L', 'A', 'I', 'S', 'O', 'M', '\0', '\0'}, 2, "som (.lsom)"};
    const io::ModelFile f = io::load_container(fmt, p);
    CHECK(f.header.get_string("topology") == "hexagonal");
    CHECK(f.header.get_string("neighborhood") == "mexican_hat");
    auto resave = [&](const std::function<void(io::Json&, io::NamedTensors&)>& edit) {
      io::Json h = f.header;
      io::NamedTensors t = f.tensors;
      edit(h, t);
      io::save_container(fmt, bad, h, t);
      Som::load(bad);
    };
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("topology", "ring"); }),
                      Catch::Contains("topology 'ring'"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("rows", 5); }), Catch::Contains("even"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("dim", 3); }), Catch::Contains("'weights'"));
    CHECK_THROWS_WITH(resave([](io::Json& h, io::NamedTensors&) { h.set("toroidal", 1); }), Catch::Contains("toroidal"));
    CHECK_THROWS_WITH(resave([](io::Json&, io::NamedTensors& t) {
                        Tensor w = t[0].second.clone();
                        w.data()[5] = NAN;
                        t[0].second = w;
                      }),
                      Catch::Contains("not finite"));
    CHECK_THROWS_WITH(resave([](io::Json&, io::NamedTensors& t) { t[0].second = t[0].second.to(DType::bf16); }),
                      Catch::Contains("f32"));
  }
  // Files of liteai 0.3 (the legacy layout) load, and damaged ones are refused.
  const std::vector<uint8_t> bytes = test::legacy_som(s2);
  test::write_bytes(p, bytes);
  CHECK(Som::load(p).weights() == s2.weights());
  auto load_bad = [&](std::vector<uint8_t> b, bool fix) {
    if (fix && b.size() >= 56) {
      uLong crc = crc32(0L, Z_NULL, 0);
      crc = crc32(crc, b.data() + 32, uInt(b.size() - 32));
      for (int i = 0; i < 4; ++i) b[24 + size_t(i)] = uint8_t(crc >> (8 * i));
    }
    std::ofstream o2(bad, std::ios::binary | std::ios::trunc);
    o2.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    o2.close();
    Som::load(bad);
  };
  for (size_t n = 0; n < bytes.size(); n += 7) REQUIRE_THROWS_AS(load_bad({bytes.begin(), bytes.begin() + long(n)}, false), Error);
  auto b = bytes;
  b[1] = 'x';
  CHECK_THROWS_WITH(load_bad(b, false), Catch::Contains("magic"));
  b = bytes;
  b[bytes.size() - 3] ^= 4;
  CHECK_THROWS_WITH(load_bad(b, false), Catch::Contains("checksum"));
  b = bytes;
  b[8] = 9;
  CHECK_THROWS_WITH(load_bad(b, false), Catch::Contains("version 9"));
  b = bytes;
  b[32 + 8] = 3;  // dim 2 -> 3 with a valid CRC: payload size no longer matches
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("payload"));
  b = bytes;
  b[32 + 12] = 7;  // topology
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("topology"));
  b = bytes;
  b[32 + 0] = 5;  // odd rows on a hexagonal torus
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("even"));
  b = bytes;
  for (int i = 0; i < 4; ++i) b[bytes.size() - 4 + size_t(i)] = 0xff;  // NaN weight
  CHECK_THROWS_WITH(load_bad(b, true), Catch::Contains("not finite"));
  const data::Image um = s2.umatrix_image(4);
  CHECK(um.width == 4 * 4 + 2);
  CHECK(um.height == 6 * 4);
  s2.write_umatrix_png(tmp_path("umatrix.png"));
}
