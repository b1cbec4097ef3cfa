// C API: Hough circle detection on an image or a map.
#include <cmath>
#include <cstring>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/anomaly/hough.hpp"

using namespace liteai;
using namespace liteai::capi;

extern "C" {

LAI_API void lai_hough_options_init(lai_hough_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  anomaly::HoughOptions h;
  o->min_radius = h.min_radius;
  o->max_radius = h.max_radius;
  o->min_dist = h.min_dist;
  o->blur_sigma = h.blur_sigma;
  o->low_threshold = h.low_threshold;
  o->high_threshold = h.high_threshold;
  o->noise_factor = h.noise_factor;
  o->min_votes = h.min_votes;
  o->min_support = h.min_support;
  o->polarity = LAI_POLARITY_BRIGHT;
}

LAI_API lai_status lai_hough_circles(const void* pixels, lai_pixel_type type, int32_t width, int32_t height,
                                     size_t stride_bytes, const lai_hough_options* options, lai_circle* circles,
                                     size_t capacity, size_t* found) {
  const char* fn = "lai_hough_circles";
  return guarded(fn, [&] {
    require_ptr(found, fn, "found");
    require(circles || capacity == 0, fn, ": circles is NULL but capacity is ", capacity);
    const lai_hough_options o = read_options(options, lai_hough_options_init, fn, "options");
    for (float v : {o.min_radius, o.max_radius, o.min_dist, o.blur_sigma, o.low_threshold, o.high_threshold,
                    o.noise_factor, o.min_votes, o.min_support})
      require(std::isfinite(v) && v >= 0, fn, ": options must be finite and >= 0");
    require(o.min_radius >= 1 && o.max_radius >= o.min_radius && o.max_radius <= 4096, fn,
            ": radii must satisfy 1 <= min_radius <= max_radius <= 4096, got ", o.min_radius, "..", o.max_radius);
    require(o.blur_sigma <= 100, fn, ": blur_sigma must be <= 100");
    require(ev(o.polarity) >= LAI_POLARITY_BRIGHT && ev(o.polarity) <= LAI_POLARITY_BOTH, fn, ": unknown polarity ",
            int(ev(o.polarity)));
    data::Image img = image_from_buffer(fn, pixels, ev(type), width, height, stride_bytes);
    anomaly::HoughOptions h;
    h.min_radius = o.min_radius;
    h.max_radius = o.max_radius;
    h.min_dist = o.min_dist;
    h.blur_sigma = o.blur_sigma;
    h.low_threshold = o.low_threshold;
    h.high_threshold = o.high_threshold;
    h.noise_factor = o.noise_factor;
    h.min_votes = o.min_votes;
    h.min_support = o.min_support;
    h.polarity = ev(o.polarity) == LAI_POLARITY_DARK   ? anomaly::Polarity::Dark
                 : ev(o.polarity) == LAI_POLARITY_BOTH ? anomaly::Polarity::Both
                                                   : anomaly::Polarity::Bright;
    h.max_circles = 1 << 20;
    std::vector<anomaly::Circle> cs = anomaly::hough_circles(img, h);
    *found = cs.size();
    for (size_t i = 0; i < cs.size() && i < capacity; ++i)
      circles[i] = lai_circle{cs[i].x, cs[i].y, cs[i].radius, cs[i].votes, cs[i].support};
  });
}

}  // extern "C"
