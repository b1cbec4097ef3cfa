// liteai hough: circle Hough transform on images (or on their WPM against a ProbMat).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "anomaly_common.hpp"
#include "command.hpp"
#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/probmat.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/data/codec.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;
namespace ac = liteai::cli::anomaly_common;

const char* kHelp =
    "usage: liteai hough [options] IMAGE|DIR...\n"
    "\n"
    "Finds circles (gradient-based Hough transform: Sobel + Canny-like edges, centre votes along the\n"
    "gradient, radius per centre, non-maximum suppression) and prints CSV lines\n"
    "'path,x,y,radius,votes,support' (support = fraction of the circumference with edges).\n"
    "Images are scaled to [0, 1] by their bit depth. With --probmat the transform runs on the\n"
    "image's WPM (resized to the ProbMat's size; coordinates are then in that size).\n"
    "  --min-radius R (3)  --max-radius R (30)  --min-dist D (= min radius)\n"
    "  --polarity bright|dark|both (bright)  --blur SIGMA (1)  --low F (0.1)  --high F (0.25)\n"
    "  --noise-factor K (5)  --min-votes V (10)  --min-support F (0.35)  --max-circles N (100)\n"
    "  --probmat PM.lpm (vote on -log p maps, smoothed by --smooth SIGMA, default 1)\n"
    "  --out DIR (writes <name>_circles.png: the input with the circles drawn; a file name met twice\n"
    "  gets <name>_2_circles.png...)   --threads N\n";

void draw_circles(const std::string& path, const data::Image& img, const std::vector<Circle>& cs) {
  float lo = INFINITY, hi = -INFINITY;
  for (float v : img.pixels) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > lo)) hi = lo + 1;
  std::vector<uint8_t> px(img.pixels.size() * 3);
  for (size_t i = 0; i < img.pixels.size(); ++i)
    px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = uint8_t(std::lround((img.pixels[i] - lo) / (hi - lo) * 255.f));
  for (const Circle& c : cs)
    for (int k = 0; k < 720; ++k) {
      const float a = float(k) * float(M_PI) / 360.f;
      const int x = int(std::lround(c.x + c.radius * std::cos(a))), y = int(std::lround(c.y + c.radius * std::sin(a)));
      if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
      uint8_t* p = &px[(size_t(y) * size_t(img.width) + size_t(x)) * 3];
      p[0] = 0, p[1] = 255, p[2] = 0;
    }
  data::write_png(path, px.data(), img.width, img.height, 3);
}

}  // namespace

LAI_COMMAND(hough, "find circles (round foreign bodies) in images or their WPM") {
  cli::Options o(args,
                 {"min-radius", "max-radius", "min-dist", "polarity", "blur", "low", "high", "noise-factor",
                  "min-votes", "min-support", "max-circles", "probmat", "smooth", "out", "threads"},
                 {});
  if (o.has("help") || o.positional().empty()) {
    std::printf("%s", kHelp);
    return o.has("help") ? 0 : 2;
  }
  if (o.has("threads")) set_num_threads(int(o.get_int("threads", 0)));
  HoughOptions h;
  h.min_radius = float(o.get_double("min-radius", 3));
  h.max_radius = float(o.get_double("max-radius", 30));
  h.min_dist = float(o.get_double("min-dist", 0));
  h.blur_sigma = float(o.get_double("blur", 1));
  h.low_threshold = float(o.get_double("low", 0.1));
  h.high_threshold = float(o.get_double("high", 0.25));
  h.noise_factor = float(o.get_double("noise-factor", 5));
  h.min_votes = float(o.get_double("min-votes", 10));
  h.min_support = float(o.get_double("min-support", 0.35));
  h.max_circles = int(o.get_int("max-circles", 100));
  const std::string pol = o.get("polarity", "bright");
  LAI_CHECK(pol == "bright" || pol == "dark" || pol == "both", "hough: --polarity must be bright, dark or both, got '", pol, "'");
  h.polarity = pol == "dark" ? Polarity::Dark : pol == "both" ? Polarity::Both : Polarity::Bright;
  ProbTable table;
  WpmOptions wo;
  wo.smooth_sigma = float(o.get_double("smooth", 1.0));
  if (o.has("probmat")) table = ProbMat::load(o.get("probmat")).finalize();
  namespace fs = std::filesystem;
  if (o.has("out")) {
    std::error_code ec;
    fs::create_directories(o.get("out"), ec);
    LAI_CHECK(fs::is_directory(o.get("out"), ec), "hough: cannot create output folder ", o.get("out"));
  }
  std::printf("path,x,y,radius,votes,support\n");
  std::set<std::string> used;  // inputs with the same file name from different folders get _2, _3...
  for (const std::string& path : ac::expand_images(o.positional(), "hough")) {
    data::Image img;
    if (o.has("probmat")) {
      img = ac::load_unit(path, table.config().width, table.config().height);
    } else {
      img = data::decode_image(path);
      const float s = 1.f / img.max_value;
      for (float& v : img.pixels) v *= s;
    }
    const data::Image target = o.has("probmat") ? wpm(table, img, wo) : img;
    const auto cs = hough_circles(target, h);
    for (const Circle& c : cs)
      std::printf("%s,%.2f,%.2f,%.2f,%.0f,%.3f\n", path.c_str(), c.x, c.y, c.radius, c.votes, c.support);
    if (o.has("out")) {
      std::string name = ac::stem_of(path);
      for (int k = 2; used.count(name); ++k) name = ac::stem_of(path) + "_" + std::to_string(k);
      used.insert(name);
      draw_circles((fs::path(o.get("out")) / (name + "_circles.png")).string(), img, cs);
    }
    std::fflush(stdout);
  }
  return 0;
}
