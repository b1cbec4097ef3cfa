// C API 0.3: the senafas anomaly channel through libliteai.so only - fit from maps, channel size
// and score, a hot spot seen where a noisy band is not, save/load round trip (same bits),
// corrupted and truncated files give LAI_ERR_FORMAT naming the problem, fit_probmat equals
// lai_probmat_wpm + lai_senafas_fit, cancellation. (C channel = C++ channel: capi_crosscheck.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "capi_test_util.hpp"

using namespace capi_test;

namespace {

constexpr int W = 32, H = 24, P = 8;

struct Senafas {
  lai_senafas* s = nullptr;
  ~Senafas() { lai_senafas_free(s); }
};

// Deterministic noise without the C++ library (xorshift, uniform in [0, 1)).
struct Noise {
  uint64_t x;
  float next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return float(x >> 40) / float(1 << 24);
  }
};

// A "normal" map: low noise, with rows 8..11 always very noisy (like a body outline in a WPM).
std::vector<float> normal_map(Noise& n) {
  std::vector<float> m(size_t(W) * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) m[size_t(y) * W + size_t(x)] = (y >= 8 && y < 12) ? 6.f * n.next() : n.next();
  return m;
}

lai_senafas_options small_options() {
  lai_senafas_options o;
  lai_senafas_options_init(&o);
  o.patch = P;
  o.max_features = 16;
  o.rows = 3;
  o.cols = 3;
  o.epochs = 5;
  return o;
}

std::vector<float> channel(const lai_senafas* s, std::vector<float>& map, double* score = nullptr) {
  const lai_image v{map.data(), LAI_PIXEL_F32, W, H, 0};
  std::vector<float> out(size_t(W / P) * (H / P));
  int32_t cw = 0, ch = 0;
  const lai_status st = lai_senafas_channel(s, &v, out.data(), out.size(), &cw, &ch, score);
  INFO(lai_last_error());
  REQUIRE(st == LAI_OK);
  REQUIRE((cw == W / P && ch == H / P));
  return out;
}

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

}  // namespace

TEST_CASE("capi senafas: fit, channel, info, hot spot vs noisy band") {
  Noise n{7};
  std::vector<std::vector<float>> maps;
  std::vector<lai_image> views;
  for (int i = 0; i < 10; ++i) maps.push_back(normal_map(n));
  for (auto& m : maps) views.push_back({m.data(), LAI_PIXEL_F32, W, H, 0});
  const lai_senafas_options o = small_options();
  Senafas s;
  REQUIRE(lai_senafas_fit(views.data(), views.size(), &o, &s.s) == LAI_OK);

  lai_senafas_info info;
  lai_senafas_info_init(&info);
  REQUIRE(lai_senafas_get_info(s.s, &info) == LAI_OK);
  CHECK((info.map_width == W && info.map_height == H));
  CHECK((info.channel_width == W / P && info.channel_height == H / P));
  CHECK(info.patch == P);
  CHECK(info.features == 16);  // 8x8 patches pooled 2x2
  CHECK((info.rows == 3 && info.cols == 3));
  CHECK(info.log_scale == 1);
  CHECK(info.floor > 0.f);

  // Size query without an output buffer.
  std::vector<float> test = normal_map(n);
  const lai_image tv{test.data(), LAI_PIXEL_F32, W, H, 0};
  int32_t cw = 0, chh = 0;
  REQUIRE(lai_senafas_channel(s.s, &tv, nullptr, 0, &cw, &chh, nullptr) == LAI_OK);
  CHECK((cw == 4 && chh == 3));

  // A bright disc in cell (2, 2) lights that cell; the always-noisy band (cell row 1) does not.
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      if (std::hypot(x - 20.f, y - 19.f) <= 2.5f) test[size_t(y) * W + size_t(x)] = 9.f;
  double score = -1;
  const std::vector<float> ch = channel(s.s, test, &score);
  const float hot = ch[2 * 4 + 2];
  float other = 0;
  for (int k = 0; k < 12; ++k)
    if (k != 2 * 4 + 2) other = std::max(other, ch[size_t(k)]);
  INFO("hot cell " << hot << ", largest other " << other);
  CHECK(hot > 1.f);
  CHECK(other < 0.5f * hot);
  CHECK(score == double(*std::max_element(ch.begin(), ch.end())));

  // The same map as uint16 (any pixel type is read in its own units) gives the same channel when
  // the values are integers.
  std::vector<float> ints(test.size());
  std::vector<uint16_t> u16(test.size());
  for (size_t i = 0; i < test.size(); ++i) ints[i] = float(u16[i] = uint16_t(std::lround(test[i] * 10)));
  const lai_image iv{ints.data(), LAI_PIXEL_F32, W, H, 0}, uv{u16.data(), LAI_PIXEL_U16, W, H, 0};
  std::vector<float> a(12), b(12);
  REQUIRE(lai_senafas_channel(s.s, &iv, a.data(), a.size(), nullptr, nullptr, nullptr) == LAI_OK);
  REQUIRE(lai_senafas_channel(s.s, &uv, b.data(), b.size(), nullptr, nullptr, nullptr) == LAI_OK);
  CHECK(a == b);

  // Same inputs, same bits.
  Senafas s2;
  REQUIRE(lai_senafas_fit(views.data(), views.size(), &o, &s2.s) == LAI_OK);
  CHECK(channel(s2.s, test) == ch);
}

TEST_CASE("capi senafas: save/load round trip; damaged files are refused with the reason") {
  Noise n{11};
  std::vector<std::vector<float>> maps;
  std::vector<lai_image> views;
  for (int i = 0; i < 6; ++i) maps.push_back(normal_map(n));
  for (auto& m : maps) views.push_back({m.data(), LAI_PIXEL_F32, W, H, 0});
  lai_senafas_options o = small_options();
  o.log_scale = 0;
  Senafas s;
  REQUIRE(lai_senafas_fit(views.data(), views.size(), &o, &s.s) == LAI_OK);
  const std::string dir = temp_dir("senafas");
  const std::string path = dir + "/s.lsnf", bad = dir + "/bad.lsnf";
  REQUIRE(lai_senafas_save(s.s, path.c_str()) == LAI_OK);
  Senafas back;
  REQUIRE(lai_senafas_load(path.c_str(), &back.s) == LAI_OK);
  lai_senafas_info a, b;
  lai_senafas_info_init(&a);
  lai_senafas_info_init(&b);
  REQUIRE(lai_senafas_get_info(s.s, &a) == LAI_OK);
  REQUIRE(lai_senafas_get_info(back.s, &b) == LAI_OK);
  CHECK(std::memcmp(&a, &b, sizeof a) == 0);
  CHECK(b.log_scale == 0);
  std::vector<float> test = normal_map(n);
  test[size_t(5) * W + 5] = 20.f;
  CHECK(channel(back.s, test) == channel(s.s, test));

  const std::vector<uint8_t> bytes = read_bytes(path);
  REQUIRE(bytes.size() > 100);
  lai_senafas* out = reinterpret_cast<lai_senafas*>(0x1);
  auto expect_format = [&](const std::vector<uint8_t>& damaged, const char* reason) {
    write_bytes(bad, damaged);
    const lai_status st = lai_senafas_load(bad.c_str(), &out);
    INFO(reason << ": " << lai_status_string(st) << ": " << lai_last_error());
    CHECK(st == LAI_ERR_FORMAT);
    CHECK(out == nullptr);
    CHECK(std::string(lai_last_error()).find(reason) != std::string::npos);
    CHECK(std::string(lai_last_error()).find(bad) != std::string::npos);  // names the file
  };
  std::vector<uint8_t> d = bytes;
  d[bytes.size() - 7] ^= 0x10;  // a payload bit
  expect_format(d, "checksum");
  expect_format({bytes.begin(), bytes.end() - 4}, "truncated");
  d = bytes;
  d[2] = 'x';
  expect_format(d, "magic");
  // Every truncation is refused (never a crash or a half-read model).
  for (size_t k = 0; k < bytes.size(); k += 13) {
    write_bytes(bad, {bytes.begin(), bytes.begin() + long(k)});
    CHECK(lai_senafas_load(bad.c_str(), &out) == LAI_ERR_FORMAT);
    CHECK(out == nullptr);
  }
  const std::string missing = dir + "/missing.lsnf";
  CHECK(lai_senafas_load(missing.c_str(), &out) == LAI_ERR_IO);
  CHECK(std::string(lai_last_error()).find("missing.lsnf") != std::string::npos);
  // The damaged file does not stop the good one from loading.
  Senafas again;
  REQUIRE(lai_senafas_load(path.c_str(), &again.s) == LAI_OK);
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("capi senafas: fit_probmat = lai_probmat_wpm + lai_senafas_fit; progress cancels") {
  constexpr int S = 32;
  ProbMat pm;
  lai_probmat_config c;
  lai_probmat_config_init(&c, S, S);
  c.bins = 32;
  REQUIRE(lai_probmat_create(&c, &pm.p) == LAI_OK);
  std::vector<std::vector<uint8_t>> px;
  for (uint64_t i = 0; i < 40 && px.size() < 14; ++i) {
    int32_t label = -1;
    std::vector<uint8_t> im = phantom(9, i, S, &label);
    REQUIRE(!im.empty());
    if (label == 0) px.push_back(std::move(im));
  }
  REQUIRE(px.size() >= 8);
  std::vector<lai_image> train, fit;
  for (size_t i = 0; i < px.size(); ++i)
    (i < 6 ? train : fit).push_back({px[i].data(), LAI_PIXEL_U8, S, S, 0});
  REQUIRE(lai_probmat_add_batch(pm.p, train.data(), train.size()) == LAI_OK);
  lai_wpm_options wo;
  lai_wpm_options_init(&wo);
  wo.smooth_sigma = 1.f;
  lai_senafas_options o = small_options();
  o.patch = 4;
  Senafas direct;
  REQUIRE(lai_senafas_fit_probmat(pm.p, fit.data(), fit.size(), &wo, &o, &direct.s) == LAI_OK);

  std::vector<std::vector<float>> maps(fit.size(), std::vector<float>(size_t(S) * S));
  std::vector<lai_image> mv;
  for (size_t i = 0; i < fit.size(); ++i) {
    REQUIRE(lai_probmat_wpm(pm.p, fit[i].data, LAI_PIXEL_U8, S, S, 0, &wo, maps[i].data(), maps[i].size(), nullptr) ==
            LAI_OK);
    mv.push_back({maps[i].data(), LAI_PIXEL_F32, S, S, 0});
  }
  Senafas two_step;
  REQUIRE(lai_senafas_fit(mv.data(), mv.size(), &o, &two_step.s) == LAI_OK);
  std::vector<float> a(64), b(64);
  int32_t cw = 0, ch = 0;
  for (const auto& m : mv) {
    REQUIRE(lai_senafas_channel(direct.s, &m, a.data(), a.size(), &cw, &ch, nullptr) == LAI_OK);
    REQUIRE(lai_senafas_channel(two_step.s, &m, b.data(), b.size(), nullptr, nullptr, nullptr) == LAI_OK);
    CHECK((cw == 8 && ch == 8));
    CHECK(a == b);
  }

  int calls = 0;
  o.progress = [](const lai_progress* p, void* user) {
    ++*static_cast<int*>(user);
    return p->epoch >= 2 ? 1 : 0;
  };
  o.user_data = &calls;
  lai_senafas* cancelled = reinterpret_cast<lai_senafas*>(0x1);
  CHECK(lai_senafas_fit(mv.data(), mv.size(), &o, &cancelled) == LAI_ERR_CANCELLED);
  CHECK(cancelled == nullptr);
  CHECK(calls == 2);

  // SOM and senafas progress count epochs from 1 like every lai_progress (the SOM's own count
  // starts at 0).
  std::vector<int32_t> epochs;
  lai_senafas_options so = small_options();
  so.epochs = 3;
  so.progress = [](const lai_progress* p, void* user) {
    static_cast<std::vector<int32_t>*>(user)->push_back(p->epoch);
    return p->epochs == 3 && p->phase == LAI_PHASE_EPOCH ? 0 : 1;
  };
  so.user_data = &epochs;
  Senafas done;
  REQUIRE(lai_senafas_fit(mv.data(), mv.size(), &so, &done.s) == LAI_OK);
  CHECK(epochs == std::vector<int32_t>{1, 2, 3});
  epochs.clear();
  lai_som_options som_o;
  lai_som_options_init(&som_o);
  som_o.rows = som_o.cols = 2;
  som_o.epochs = 3;
  som_o.progress = so.progress;
  som_o.user_data = &epochs;
  const float vectors[8] = {0, 0, 1, 1, 0, 1, 1, 0};
  Som som;
  REQUIRE(lai_som_train(vectors, 4, 2, &som_o, &som.s) == LAI_OK);
  CHECK(epochs == std::vector<int32_t>{1, 2, 3});
}
