// ROI selection and crops (data/roi.hpp): the regions sit on the map's hot spots at any map
// resolution, do not overlap more than allowed, crop the full-resolution pixels exactly, and the
// whole image comes downscaled beside them.
#include <catch2/catch.hpp>

#include <cmath>

#include "liteai/data/dataset.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/data/roi.hpp"
#include "liteai/data/transforms.hpp"

using namespace liteai;
using namespace liteai::data;

namespace {
Image ramp_image(int w, int h) {
  Image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) im.at(x, y) = float(x + 1000 * y);
  return im;
}
void hot(Image& m, int cx, int cy, int r, float v) {
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x)
      if (std::abs(x - cx) <= r && std::abs(y - cy) <= r) m.at(x, y) = v;
}
}  // namespace

TEST_CASE("roi: regions centre on the hottest spots of a lower-resolution map, strongest first") {
  Image map(64, 64);  // for a 512 x 512 image: 8 image pixels per map pixel
  hot(map, 40, 10, 2, 5.f);
  hot(map, 12, 50, 2, 9.f);
  RoiOptions o;
  o.k = 2;
  o.size = 64;
  const std::vector<Roi> r = select_rois(map, 512, 512, o);
  REQUIRE(r.size() == 2);
  CHECK(r[0].score > r[1].score);
  // Spot centres in image pixels: (12.5 * 8, 50.5 * 8) = (100, 404) and (324, 84).
  CHECK(std::abs(r[0].x0 + 32 - 100) <= 8);
  CHECK(std::abs(r[0].y0 + 32 - 404) <= 8);
  CHECK(std::abs(r[1].x0 + 32 - 324) <= 8);
  CHECK(std::abs(r[1].y0 + 32 - 84) <= 8);
  for (const Roi& x : r) CHECK(x.size == 64);
  CHECK(select_rois(map, 512, 512, o)[1].x0 == r[1].x0);  // deterministic
}

TEST_CASE("roi: overlap is bounded, regions stay in the image, there are always k") {
  Image map(32, 32);
  hot(map, 16, 16, 3, 1.f);  // one hot spot only
  RoiOptions o;
  o.k = 3;
  o.size = 48;  // on a 128 image: 12 map pixels
  o.max_overlap = 0.25f;
  const std::vector<Roi> r = select_rois(map, 128, 128, o);
  REQUIRE(r.size() == 3);
  for (size_t i = 0; i < r.size(); ++i) {
    CHECK(r[i].x0 >= 0);
    CHECK(r[i].y0 >= 0);
    CHECK(r[i].x0 + r[i].size <= 128);
    CHECK(r[i].y0 + r[i].size <= 128);
    for (size_t j = 0; j < i; ++j) {
      const int ox = std::max(0, std::min(r[i].x0, r[j].x0) + 48 - std::max(r[i].x0, r[j].x0));
      const int oy = std::max(0, std::min(r[i].y0, r[j].y0) + 48 - std::max(r[i].y0, r[j].y0));
      CHECK(double(ox) * oy <= 0.25 * 48 * 48 + 2 * 48 * 4);  // up to rounding to map pixels
    }
  }
  // More regions than fit without overlap: still k (the best remaining ones).
  o.k = 5;
  o.size = 128;
  CHECK(select_rois(map, 128, 128, o).size() == 5);
  // A region larger than the image is centred on it.
  o.k = 1;
  o.size = 200;
  const Roi big = select_rois(map, 128, 128, o)[0];
  CHECK(big.x0 == -36);
  CHECK(big.y0 == -36);
}

TEST_CASE("roi: crops are the full-resolution pixels, edges replicated; the whole image is downscaled") {
  const Image im = ramp_image(300, 200);
  Roi r;
  r.x0 = 290, r.y0 = -2, r.size = 16;
  const Image c = crop(im, r);
  REQUIRE(c.width == 16);
  CHECK(c.at(0, 2) == im.at(290, 0));
  CHECK(c.at(9, 5) == im.at(299, 3));
  CHECK(c.at(15, 0) == im.at(299, 0));  // replicated right and top edges
  Image map(30, 20);
  hot(map, 5, 5, 1, 3.f);
  RoiOptions o;
  o.k = 2;
  o.size = 32;
  const RoiSample s = make_roi_sample(im, map, 64, 48, o);
  CHECK(s.whole.width == 64);
  CHECK(s.whole.height == 48);
  CHECK(s.whole.pixels == resize(im, 64, 48).pixels);
  REQUIRE(s.crops.size() == 2);
  CHECK(s.crops[0].pixels == crop(im, s.rois[0]).pixels);
  CHECK(std::abs(s.rois[0].x0 + 16 - 55) <= 10);
}

TEST_CASE("roi: bad options and maps are refused") {
  Image map(8, 8);
  RoiOptions o;
  o.k = 0;
  CHECK_THROWS_WITH(select_rois(map, 64, 64, o), Catch::Contains("k must be"));
  o = RoiOptions();
  o.max_overlap = 2;
  CHECK_THROWS_WITH(select_rois(map, 64, 64, o), Catch::Contains("max_overlap"));
  CHECK_THROWS_WITH(select_rois(Image(), 64, 64), Catch::Contains("empty"));
  map.pixels[3] = NAN;
  CHECK_THROWS_WITH(select_rois(map, 64, 64), Catch::Contains("non-finite"));
  CHECK_THROWS_WITH(select_rois(Image(8, 8), 0, 64), Catch::Contains("image size"));
}

TEST_CASE("roi: the input planes are the whole image and the crops, scaled like the whole plane") {
  Image im = ramp_image(64, 64);
  im.max_value = 65535.f;
  RoiInput in;
  in.regions.k = 2;
  in.regions.size = 16;
  in.map = [](const Image& image) {  // hot spots at fixed places of a 32 x 32 map
    Image m(32, 32);
    hot(m, 8, 8, 1, 5.f);
    hot(m, 24, 20, 1, 9.f);
    CHECK(image.width == 64);
    return m;
  };
  CHECK(in.planes() == 3);
  for (bool standardize : {true, false}) {
    std::vector<float> out(size_t(3 * 16 * 16));
    const std::vector<Roi> rois = roi_planes_into(im, in, 16, 16, standardize, out.data());
    REQUIRE(rois.size() == 2);
    CHECK(std::abs(rois[0].x0 + 8 - 48) <= 2);  // the hotter spot first: map (24, 20) -> image (49, 41)
    std::vector<float> whole(16 * 16);
    Preprocess p;
    p.width = p.height = 16;
    p.standardize = standardize;
    preprocess_into(im, p, nullptr, whole.data());
    // The scaling of plane 0 (data::standardize's, or the full scale) applied to the raw crops.
    std::vector<float> raw(16 * 16);
    resize_into(im, raw.data(), 16, 16);
    double mean = 0, var = 0;
    for (float v : raw) mean += v / 256.0;
    for (float v : raw) var += (v - mean) * (v - mean) / 256.0;
    const double s = standardize ? 1 / std::sqrt(var) : 1 / 65535.0, off = standardize ? -mean * s : 0;
    for (size_t i = 0; i < whole.size(); ++i) CHECK(out[i] == Approx(whole[i]).margin(1e-4));
    for (size_t r = 0; r < 2; ++r) {
      const Image c = crop(im, rois[r]);  // 16 x 16: taken as is
      for (size_t i = 0; i < c.pixels.size(); ++i)
        CHECK(out[(r + 1) * 256 + i] == Approx(s * c.pixels[i] + off).margin(1e-3));
    }
  }
}

TEST_CASE("roi: a loader with ROI input gives [N, 1 + k, H, W] batches of the same planes") {
  std::vector<Image> images;
  for (int i = 0; i < 5; ++i) {
    Image im = ramp_image(48, 48);
    im.at(10 + 5 * i, 30) = 3e5f;  // a bright pixel the map finds
    images.push_back(im);
  }
  auto ds = std::make_shared<MemoryDataset>(images, std::vector<std::vector<int>>{{0}, {1}, {0}, {1}, {0}},
                                            std::vector<std::string>{"a", "b"});
  LoaderOptions o;
  o.batch_size = 4;
  o.width = o.height = 8;
  o.shuffle = false;
  o.roi.regions.k = 3;
  o.roi.regions.size = 8;
  o.roi.map = [](const Image& image) { return image; };  // the image is its own map
  Loader loader(ds, o);
  auto b = loader.next();
  REQUIRE(b);
  CHECK(b->images.shape() == Shape{4, 4, 8, 8});
  std::vector<float> one(size_t(o.sample_floats()));
  roi_planes_into(images[1], o.roi, 8, 8, true, one.data());
  for (size_t i = 0; i < one.size(); ++i) CHECK(b->images.data()[one.size() + i] == Approx(one[i]));
  b = loader.next();
  REQUIRE(b);
  CHECK(b->images.shape() == Shape{1, 4, 8, 8});
  o.augment.hflip = true;
  CHECK_THROWS_WITH(Loader(ds, o), Catch::Contains("ROI input takes no augmentation"));
}
