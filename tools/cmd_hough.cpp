// liteai hough: circle Hough transform on images (or on their WPM against a ProbMat).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "command.hpp"
#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/data/codec.hpp"

namespace {

using namespace liteai;
using namespace liteai::anomaly;

const char* kUsage = "usage: liteai hough [options] IMAGE|DIR...\n";

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
  auto p = cli::parse(app::hough_options(), args, kUsage);
  if (!p) return 0;
  if (p->positional.empty()) {
    std::printf("%s", app::hough_options().help(kUsage).c_str());
    return 2;
  }
  const app::Options& o = p->options;
  app::apply_common(o);
  const HoughOptions h = app::hough_settings(o);
  ProbTable table;
  WpmOptions wo;
  wo.smooth_sigma = float(o.get_number("smooth"));
  const bool on_wpm = o.has("probmat");
  if (on_wpm) table = ProbMat::load(o.get_text("probmat")).finalize();
  namespace fs = std::filesystem;
  if (o.has("out")) {
    std::error_code ec;
    fs::create_directories(o.get_text("out"), ec);
    LAI_CHECK_IO(fs::is_directory(o.get_text("out"), ec), "hough: cannot create output folder ", o.get_text("out"));
  }
  std::printf("path,x,y,radius,votes,support\n");
  std::set<std::string> used;  // inputs with the same file name from different folders get _2, _3...
  for (const std::string& path : app::expand_image_paths(p->positional, "hough")) {
    const data::Image img = on_wpm ? app::probmat_units(table.config(),
                                                        app::load_unit_image(path, table.config().width,
                                                                             table.config().height))
                                   : app::to_unit(data::decode_image(path), -1, -1);
    const data::Image target = on_wpm ? wpm(table, img, wo) : img;
    const auto cs = hough_circles(target, h);
    for (const Circle& c : cs)
      std::printf("%s,%.2f,%.2f,%.2f,%.0f,%.3f\n", path.c_str(), c.x, c.y, c.radius, c.votes, c.support);
    if (o.has("out")) {
      const std::string stem = fs::path(path).stem().string();
      std::string name = stem;
      for (int k = 2; used.count(name); ++k) name = stem + "_" + std::to_string(k);
      used.insert(name);
      draw_circles((fs::path(o.get_text("out")) / (name + "_circles.png")).string(), img, cs);
    }
    std::fflush(stdout);
  }
  return 0;
}
