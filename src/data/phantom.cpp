// Synthetic chest-radiograph phantoms. The picture is built as an attenuation map in
// normalized patient coordinates (u across, v down, both 0..1), turned into a radiograph by an
// exposure curve, blurred a little (scatter, focal spot) and given quantum noise.
#include "liteai/data/phantom.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "liteai/core/error.hpp"
#include "liteai/core/parallel.hpp"
#include "liteai/core/random.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/io/file.hpp"

namespace fs = std::filesystem;

namespace liteai::data {

const std::vector<std::string>& phantom_class_names() {
  static const std::vector<std::string> names = {"normal", "foreign_body", "nodule", "opacity", "effusion"};
  return names;
}

namespace {

constexpr float kPi = 3.14159265358979f;

float smoothstep(float e0, float e1, float x) {
  float t = std::clamp((x - e0) / (e1 - e0), 0.f, 1.f);
  return t * t * (3.f - 2.f * t);
}

// Smooth random field: a coarse grid of uniform values, bicubic-smoothed bilinear lookup.
struct ValueNoise {
  int n = 0;
  std::vector<float> g;
  ValueNoise() = default;
  ValueNoise(int cells, Generator& rng) : n(cells + 1), g(size_t(n) * n) {
    for (auto& x : g) x = float(rng.uniform());
  }
  float at(float u, float v) const {
    float x = std::clamp(u, 0.f, 1.f) * (n - 1), y = std::clamp(v, 0.f, 1.f) * (n - 1);
    int i = std::min(int(x), n - 2), j = std::min(int(y), n - 2);
    float fx = x - i, fy = y - j;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    const float* r0 = &g[size_t(j) * n + i];
    const float* r1 = r0 + n;
    return (r0[0] * (1 - fx) + r0[1] * fx) * (1 - fy) + (r1[0] * (1 - fx) + r1[1] * fx) * fy;
  }
};

struct Rib {
  float y0;     // height at the spine
  float a, b;   // centreline y = y0 - b*d + a*d^2, d = lateral distance from the midline
  float dmax;   // lateral end
  float half;   // half thickness
  float dens;
};

struct Vessel {
  float x0, y0, x1, y1, w0, w1, dens;
};

// Per-patient anatomy and exposure, all drawn up front.
struct Anatomy {
  // patient -> image placement
  float cx, cy, scale, rot;
  // body and lungs
  float body_half, neck_half;
  float lung_w[2], lung_apex[2], lung_dome[2], lung_cp[2], lung_medial[2];
  float heart_cx, heart_cy, heart_ax, heart_ay, heart_dens;
  float medi_half, spine_half, knob_y;
  float lung_air;
  float clav_y, clav_drop;
  float bubble_x, bubble_y, bubble_r;
  std::vector<Rib> ribs[2];
  std::vector<Vessel> vessels;
  ValueNoise texture, mottling;
  // exposure
  float k, lo, hi, gamma, noise_sigma, blur;
};

// Lung geometry for side s (0: patient right = image left, 1: patient left = image right).
// Returns a soft inside measure in 0..1 and, through t_lat, the lateral position 0 (medial)..1.
// Half-width of the mediastinal/cardiac silhouette on side s at height v (patient coords):
// the right heart border bulges a little, the left one (aortic knob, left ventricle) a lot.
float mediastinum_half(const Anatomy& A, int s, float v) {
  float w = A.medi_half;
  const float hy = (v - A.heart_cy) / A.heart_ay;
  const float heart = hy < 1.f ? std::sqrt(std::max(0.f, 1.f - hy * hy)) : 0.f;
  if (s == 0) {
    w += (A.heart_ax * 0.55f - (A.heart_cx - 0.5f)) * heart;
  } else {
    w += (A.heart_ax + (A.heart_cx - 0.5f) - A.medi_half) * heart * (1.25f - 0.25f * heart) * (v > A.heart_cy - 0.5f * A.heart_ay ? 1.f : smoothstep(-1.f, -0.5f, hy));
    const float ky = (v - A.knob_y) / 0.05f;  // aortic knob
    w = std::max(w, A.medi_half + 0.022f * std::sqrt(std::max(0.f, 1.f - ky * ky)));
  }
  return w;
}

float lung_inside(const Anatomy& A, int s, float u, float v, float* t_lat = nullptr, float* bottom = nullptr) {
  const float d = s == 0 ? 0.5f - u : u - 0.5f;  // distance from the midline toward this lung
  if (!t_lat && !bottom && (d < A.lung_medial[s] || d > A.lung_w[s] + 0.01f || v < A.lung_apex[s] - 0.01f ||
                            v > A.lung_cp[s] + 0.02f))
    return 0.f;  // outside the lung's bounding box
  const float med = mediastinum_half(A, s, v) + 0.004f;
  // Lateral wall: narrow at the apex, widest at the base.
  const float grow = std::sqrt(std::clamp((v - A.lung_apex[s] + 0.015f) / 0.30f, 0.f, 1.f));
  const float m0 = A.lung_medial[s];
  const float lat = m0 + (A.lung_w[s] - m0) * (0.30f + 0.70f * grow);
  const float t = (d - m0) / std::max(lat - m0, 1e-3f);
  // Apex: a rounded top, highest a little lateral of the middle.
  const float top = A.lung_apex[s] + 0.30f * (t - 0.45f) * (t - 0.45f);
  // Diaphragm: a dome highest at t~0.35, falling to the sharp costophrenic angle laterally.
  const float c1 = (A.lung_cp[s] - A.lung_dome[s]) / (0.65f * 0.65f);
  const float bot = A.lung_dome[s] + c1 * (t - 0.35f) * (t - 0.35f);
  if (t_lat) *t_lat = t;
  if (bottom) *bottom = bot;
  const float e = 0.014f;
  const float m = std::min({(d - med) / (0.5f * e), (lat - d) / e, (v - top) / e, (bot - v) / (0.5f * e)});
  // Thicker in the middle of the lung, thinner at its margins.
  return smoothstep(0.f, 1.f, m) * (0.8f + 0.2f * smoothstep(1.f, 4.f, m));
}

float lungs_depth(const Anatomy& A, float u, float v, int* side = nullptr) {
  float l0 = lung_inside(A, 0, u, v), l1 = lung_inside(A, 1, u, v);
  if (side) *side = l1 > l0 ? 1 : 0;
  return std::max(l0, l1);
}

Anatomy draw_anatomy(Generator& g, const PhantomOptions& opt) {
  Anatomy A;
  A.cx = 0.5f + g.normal(0.f, 0.012f);
  A.cy = 0.5f + g.normal(0.f, 0.015f);
  A.scale = g.uniform(0.92f, 1.04f);
  A.rot = g.normal(0.f, 0.025f);
  A.body_half = g.uniform(0.43f, 0.49f);
  A.neck_half = g.uniform(0.09f, 0.12f);
  const float w = g.uniform(0.33f, 0.39f), apex = g.uniform(0.11f, 0.16f);
  const float dome = g.uniform(0.62f, 0.68f), cp = dome + g.uniform(0.09f, 0.13f);
  for (int s = 0; s < 2; ++s) {
    A.lung_w[s] = w + g.normal(0.f, 0.006f) - (s == 1 ? 0.01f : 0.f);
    A.lung_apex[s] = apex + g.normal(0.f, 0.006f);
    A.lung_dome[s] = dome + (s == 1 ? g.uniform(0.01f, 0.035f) : 0.f);  // left hemidiaphragm lower
    A.lung_cp[s] = cp + (s == 1 ? 0.015f : 0.f) + g.normal(0.f, 0.006f);
    A.lung_medial[s] = g.uniform(0.045f, 0.06f);
  }
  A.heart_cx = 0.5f + g.uniform(0.025f, 0.05f);
  A.heart_cy = dome - g.uniform(0.06f, 0.09f);
  A.heart_ax = g.uniform(0.13f, 0.17f);
  A.heart_ay = g.uniform(0.12f, 0.15f);
  A.heart_dens = g.uniform(0.06f, 0.12f);
  A.medi_half = g.uniform(0.055f, 0.07f);
  A.knob_y = apex + g.uniform(0.13f, 0.17f);
  A.spine_half = g.uniform(0.030f, 0.038f);
  A.lung_air = g.uniform(0.68f, 0.80f);
  A.clav_y = apex + g.uniform(0.02f, 0.05f);
  A.clav_drop = g.uniform(-0.04f, 0.01f);
  A.bubble_x = 0.5f + g.uniform(0.12f, 0.22f);
  A.bubble_y = A.lung_dome[1] + g.uniform(0.04f, 0.07f);
  A.bubble_r = g.uniform(0.025f, 0.045f);
  // Posterior ribs: arches from the spine, rising slightly then falling laterally.
  for (int s = 0; s < 2; ++s) {
    float y = apex - 0.03f + g.uniform(-0.01f, 0.01f);
    const float gap = (cp - apex) / 9.2f;
    for (int k = 0; k < 10; ++k) {
      Rib r;
      r.y0 = y + g.normal(0.f, 0.003f);
      r.b = g.uniform(0.05f, 0.15f);
      r.a = g.uniform(0.9f, 1.3f) * (1.f + 0.04f * k);
      r.dmax = std::min(0.47f, w + 0.06f);
      r.half = g.uniform(0.0085f, 0.011f) * (1.f + 0.03f * k);
      r.dens = g.uniform(0.16f, 0.22f);
      A.ribs[s].push_back(r);
      y += gap * g.uniform(0.92f, 1.08f);
    }
  }
  // Vessel markings: tapered branches radiating from each hilum.
  for (int s = 0; s < 2; ++s) {
    const float hx = 0.5f + (s == 0 ? -1.f : 1.f) * g.uniform(0.09f, 0.12f), hy = g.uniform(0.40f, 0.46f);
    const int trunks = 14 + int(g.below(6));
    for (int tr = 0; tr < trunks; ++tr) {
      float ang = (s == 0 ? kPi : 0.f) + (s == 0 ? 1.f : -1.f) * g.uniform(-1.4f, 1.5f);
      float x = hx + g.normal(0.f, 0.012f), y = hy + g.normal(0.f, 0.025f), width = g.uniform(0.008f, 0.014f);
      const int segs = 5 + int(g.below(4));
      for (int k = 0; k < segs; ++k) {
        const float len = g.uniform(0.025f, 0.05f);
        ang += g.normal(0.f, 0.25f);
        const float nx = x + std::cos(ang) * len, ny = y - std::sin(ang) * len;
        A.vessels.push_back({x, y, nx, ny, width, width * 0.8f, g.uniform(0.04f, 0.07f)});
        if (g.uniform() < 0.35f) {  // side branch
          const float ba = ang + (g.uniform() < 0.5f ? 0.6f : -0.6f);
          A.vessels.push_back({nx, ny, nx + std::cos(ba) * len * 0.8f, ny - std::sin(ba) * len * 0.8f, width * 0.6f,
                               width * 0.4f, g.uniform(0.04f, 0.07f)});
        }
        x = nx;
        y = ny;
        width *= 0.8f;
      }
    }
  }
  A.texture = ValueNoise(24, g);
  A.mottling = ValueNoise(64, g);
  // Exposure and detector
  A.k = g.uniform(1.0f, 1.3f);
  A.lo = g.uniform(0.05f, 0.12f);
  A.hi = g.uniform(0.90f, 0.98f);
  A.gamma = g.uniform(0.85f, 1.2f);
  A.noise_sigma = g.uniform(1.5f, 4.5f) * opt.noise;
  A.blur = g.uniform(0.6f, 1.2f);
  return A;
}

// The part of the attenuation that doesn't depend on the finding.
float anatomy_attenuation(const Anatomy& A, float u, float v, float* lung_out) {
  // Body: an elliptic cylinder narrowing to the neck above the shoulders.
  const float half = A.neck_half + (A.body_half - A.neck_half) * smoothstep(0.0f, 0.13f, v);
  const float dx = u - 0.5f;
  float att = 0.f;
  const float q = 1.f - (dx / half) * (dx / half);
  *lung_out = 0.f;
  if (q <= 0 && v > A.clav_y + 0.12f) return 0.f;  // air beside the body: nothing else reaches here
  if (q > 0) att += 1.0f * std::sqrt(q) * smoothstep(0.f, 0.02f, q * half);
  // Soft-tissue texture (breast, muscles), a few percent.
  att *= 0.94f + 0.12f * A.texture.at(u, v);
  // Mediastinum and heart: one silhouette, denser toward the middle.
  {
    const int ms = dx < 0 ? 0 : 1;
    const float mw = mediastinum_half(A, ms, v);
    const float md = std::fabs(dx) / mw;
    if (md < 1.2f) att += (0.12f + A.heart_dens * (ms == 1 ? 1.f : 0.6f) * smoothstep(A.heart_cy - A.heart_ay, A.heart_cy, v)) *
                          (1.f - smoothstep(0.9f, 1.0f + 0.01f / mw, md)) * smoothstep(0.04f, 0.14f, v) * (0.8f + 0.2f * (1.f - md));
  }
  const float sd = std::fabs(dx) / A.spine_half;
  if (sd < 1.2f) {
    // Vertebral bodies: periodic end plates and pedicles.
    const float ph = std::fmod(v * 17.5f + 10.f, 1.f);
    const float plate = 0.75f + 0.25f * smoothstep(0.78f, 0.92f, ph) * (1.f - smoothstep(0.92f, 1.f, ph));
    att += 0.16f * plate * (1.f - smoothstep(0.85f, 1.2f, sd));
  }
  // Trachea: an air column to the carina.
  const float td = std::fabs(dx + 0.006f) / 0.02f;
  if (td < 1.3f && v < 0.36f) att -= 0.22f * (1.f - smoothstep(0.7f, 1.3f, td)) * (1.f - smoothstep(0.3f, 0.36f, v)) * smoothstep(0.02f, 0.08f, v);
  // Lungs: air lowers the attenuation where they are thick.
  float l0 = lung_inside(A, 0, u, v), l1 = lung_inside(A, 1, u, v);
  const float lung = std::max(l0, l1);
  *lung_out = lung;
  if (lung > 0) att -= A.lung_air * lung * (0.85f + 0.15f * A.mottling.at(u, v));
  // Gastric bubble under the left hemidiaphragm.
  const float bx = (u - A.bubble_x) / A.bubble_r, by = (v - A.bubble_y) / (A.bubble_r * 0.7f);
  const float br = bx * bx + by * by;
  if (br < 1.f && v > A.bubble_y - A.bubble_r * 0.2f) att -= 0.25f * (1.f - smoothstep(0.6f, 1.f, br));
  // Ribs: bands with a denser cortex at their edges.
  const float d = std::fabs(dx);
  const int s = dx < 0 ? 0 : 1;
  for (const Rib& r : A.ribs[s]) {
    if (d < 0.035f || d > r.dmax) continue;
    const float yc = r.y0 - r.b * d + r.a * d * d;
    const float off = std::fabs(v - yc) / r.half;
    if (off < 1.25f) {
      const float body = 1.f - smoothstep(0.85f, 1.15f, off);
      const float cortex = std::exp(-(off - 0.9f) * (off - 0.9f) * 40.f);
      const float fade = (1.f - smoothstep(r.dmax - 0.05f, r.dmax, d)) * (1.f - 0.6f * smoothstep(A.lung_cp[s] - 0.02f, A.lung_cp[s] + 0.08f, v));
      att += r.dens * fade * (0.7f * body + 0.45f * cortex);
    }
    // Anterior rib: fainter, sloping down toward the midline.
    const float ya = r.y0 + 0.10f + 0.25f * (0.40f - d);
    const float offa = std::fabs(v - ya) / (r.half * 1.2f);
    if (offa < 1.2f && d > 0.12f && d < r.dmax - 0.02f) att += 0.06f * (1.f - smoothstep(0.7f, 1.2f, offa));
  }
  // Clavicles: from the sternal notch out and slightly up to the shoulders.
  if (d > 0.03f && d < 0.32f) {
    const float t = (d - 0.03f) / 0.29f;
    const float yc = A.clav_y + 0.04f + A.clav_drop * t - 0.06f * t - 0.012f * std::sin(t * 2.f * kPi);
    const float off = std::fabs(v - yc) / 0.014f;
    if (off < 1.3f) att += 0.32f * (1.f - smoothstep(0.8f, 1.3f, off)) + 0.1f * std::exp(-(off - 0.9f) * (off - 0.9f) * 30.f);
  }
  // Shoulders: humeral heads and scapulae at the upper corners.
  for (int side = 0; side < 2; ++side) {
    const float sx = 0.5f + (side ? 1.f : -1.f) * (A.body_half - 0.035f), sy = A.clav_y + 0.02f;
    const float rx = (u - sx) / 0.065f, ry = (v - sy) / 0.075f;
    const float rr = rx * rx + ry * ry;
    if (rr < 1.2f) att += 0.22f * std::sqrt(std::max(0.f, 1.f - std::min(rr, 1.f))) + 0.1f * (1.f - smoothstep(0.85f, 1.15f, rr));
    const float scx = (u - (0.5f + (side ? 1.f : -1.f) * (A.body_half - 0.10f))) / 0.06f, scy = (v - (sy + 0.12f)) / 0.15f;
    const float sr = scx * scx + scy * scy;
    if (sr < 1.1f) att += 0.08f * (1.f - smoothstep(0.7f, 1.1f, sr));
  }
  return att;
}

// Adds a tapered line segment (in image pixels) to an attenuation map.
void draw_vessel(std::vector<float>& att, const std::vector<float>& lung, int S, const Vessel& ves,
                 const std::function<void(float, float, float&, float&)>& to_px) {
  float x0, y0, x1, y1;
  to_px(ves.x0, ves.y0, x0, y0);
  to_px(ves.x1, ves.y1, x1, y1);
  const float w0 = ves.w0 * S, w1 = ves.w1 * S, pad = std::max(w0, w1) * 2 + 1;
  const int bx0 = std::max(0, int(std::min(x0, x1) - pad)), bx1 = std::min(S - 1, int(std::max(x0, x1) + pad));
  const int by0 = std::max(0, int(std::min(y0, y1) - pad)), by1 = std::min(S - 1, int(std::max(y0, y1) + pad));
  const float ex = x1 - x0, ey = y1 - y0, len2 = std::max(ex * ex + ey * ey, 1e-6f);
  for (int y = by0; y <= by1; ++y)
    for (int x = bx0; x <= bx1; ++x) {
      const float t = std::clamp(((x - x0) * ex + (y - y0) * ey) / len2, 0.f, 1.f);
      const float px = x0 + t * ex - x, py = y0 + t * ey - y;
      const float wdt = std::max(0.5f, (w0 + (w1 - w0) * t) * 0.5f);
      const float r2 = (px * px + py * py) / (wdt * wdt);
      if (r2 < 4.f) {
        const size_t i = size_t(y) * S + x;
        att[i] += ves.dens * std::exp(-r2) * (0.3f + 0.7f * lung[i]);
      }
    }
}

// Separable box blur, run twice (close to a Gaussian).
void blur(std::vector<float>& img, int S, int radius) {
  if (radius <= 0) return;
  std::vector<float> tmp(img.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (int y = 0; y < S; ++y) {
      const float* src = &img[size_t(y) * S];
      float* dst = &tmp[size_t(y) * S];
      float acc = 0;
      for (int k = -radius; k <= radius; ++k) acc += src[std::clamp(k, 0, S - 1)];
      for (int x = 0; x < S; ++x) {
        dst[x] = acc / float(2 * radius + 1);
        acc += src[std::min(x + radius + 1, S - 1)] - src[std::max(x - radius, 0)];
      }
    }
    // Vertical pass row by row with a running sum per column (cache-friendly).
    std::vector<float> acc(size_t(S), 0.f);
    for (int k = -radius; k <= radius; ++k) {
      const float* r = &tmp[size_t(std::clamp(k, 0, S - 1)) * S];
      for (int x = 0; x < S; ++x) acc[size_t(x)] += r[x];
    }
    const float inv = 1.f / float(2 * radius + 1);
    for (int y = 0; y < S; ++y) {
      float* out = &img[size_t(y) * S];
      const float* add = &tmp[size_t(std::min(y + radius + 1, S - 1)) * S];
      const float* sub = &tmp[size_t(std::max(y - radius, 0)) * S];
      for (int x = 0; x < S; ++x) {
        out[x] = acc[size_t(x)] * inv;
        acc[size_t(x)] += add[x] - sub[x];
      }
    }
  }
}

}  // namespace

int phantom_label(uint64_t index, const PhantomOptions& opt) {
  LAI_CHECK(!opt.classes.empty(), "phantom: the class list is empty");
  const int label = opt.classes[index % opt.classes.size()];
  LAI_CHECK(label >= 0 && label < 5, "phantom: class ", label, " is not in 0..4");
  return label;
}

Phantom make_phantom(uint64_t seed, uint64_t index, const PhantomOptions& opt) {
  const int S = opt.size;
  LAI_CHECK(S >= 32 && S <= 8192, "phantom: size ", S, " out of range 32..8192");
  Phantom P;
  P.label = phantom_label(index, opt);
  Generator g(sample_seed(seed, 0x9a4701u, index));
  const Anatomy A = draw_anatomy(g, opt);

  // Image pixel (x, y) -> patient coordinates (u, v): centre shift, scale, small rotation.
  const float cr = std::cos(A.rot), sr = std::sin(A.rot);
  auto to_patient = [&](float x, float y, float& u, float& v) {
    const float ix = (x + 0.5f) / S - A.cx, iy = (y + 0.5f) / S - A.cy;
    u = 0.5f + (cr * ix + sr * iy) / A.scale;
    v = 0.5f + (-sr * ix + cr * iy) / A.scale;
  };
  auto to_pixel = [&](float u, float v, float& x, float& y) {
    const float pu = (u - 0.5f) * A.scale, pv = (v - 0.5f) * A.scale;
    x = (cr * pu - sr * pv + A.cx) * S - 0.5f;
    y = (sr * pu + cr * pv + A.cy) * S - 0.5f;
  };

  const size_t N = size_t(S) * S;
  std::vector<float> att(N), lung(N);
  // The anatomy is smooth at the detector's scale: above 512 px it is rendered at 512 and
  // interpolated (4x cheaper at 1024); vessels, findings and noise are drawn at full size.
  const int R = std::min(S, 512);
  {
    Image a(R, R), l(R, R);
    const float f = float(S) / float(R);
    for (int y = 0; y < R; ++y)
      for (int x = 0; x < R; ++x) {
        float u, v;
        to_patient((x + 0.5f) * f - 0.5f, (y + 0.5f) * f - 0.5f, u, v);
        a.at(x, y) = anatomy_attenuation(A, u, v, &l.at(x, y));
      }
    if (R == S) {
      att.swap(a.pixels);
      lung.swap(l.pixels);
    } else {
      resize_into(a, att.data(), S, S);
      resize_into(l, lung.data(), S, S);
    }
  }
  for (const Vessel& ves : A.vessels) draw_vessel(att, lung, S, ves, to_pixel);

  // ---- the finding ----
  P.mask = Image(S, S);
  P.mask.max_value = 1.f;
  std::vector<float> metal(N, 0.f);  // added after blur: metal edges stay sharp
  auto add_finding_box = [&](PhantomFinding f) {
    int x0 = S, y0 = S, x1 = 0, y1 = 0;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x)
        if (P.mask.at(x, y) > 0) {
          x0 = std::min(x0, x);
          y0 = std::min(y0, y);
          x1 = std::max(x1, x + 1);
          y1 = std::max(y1, y + 1);
        }
    if (x1 <= x0) return;
    f.x0 = x0, f.y0 = y0, f.x1 = x1, f.y1 = y1;
    if (f.r == 0) {
      f.cx = 0.5f * (x0 + x1);
      f.cy = 0.5f * (y0 + y1);
      f.r = 0.5f * std::max(x1 - x0, y1 - y0);
    }
    P.findings.push_back(f);
  };
  // A random point (patient coords) satisfying `ok`, by rejection.
  auto pick = [&](const std::function<bool(float, float)>& ok, float& u, float& v) {
    for (int tries = 0; tries < 2000; ++tries) {
      u = g.uniform(0.08f, 0.92f);
      v = g.uniform(0.10f, 0.90f);
      if (ok(u, v)) return;
    }
    u = 0.3f, v = 0.45f;  // inside the right lung for every drawn anatomy
  };

  if (P.label == 1) {
    // Foreign bodies: a coin, 1-3 buttons or 1-4 ECG electrodes. Drawn in pixels.
    const int kind = int(g.below(3));
    const int count = kind == 0 ? 1 : kind == 1 ? 1 + int(g.below(3)) : 1 + int(g.below(4));
    const char* kinds[] = {"coin", "button", "electrode"};
    std::vector<std::array<float, 3>> placed;
    for (int c = 0; c < count; ++c) {
      const float r = S * (kind == 0 ? g.uniform(0.028f, 0.045f) : kind == 1 ? g.uniform(0.016f, 0.026f) : g.uniform(0.020f, 0.030f));
      float u = 0, v = 0, px = 0, py = 0;
      for (int tries = 0; tries < 50; ++tries) {
        pick([&](float uu, float vv) { return vv > 0.15f && vv < 0.85f && std::fabs(uu - 0.5f) < A.body_half - 0.08f; }, u, v);
        to_pixel(u, v, px, py);
        bool clear = px > r + 2 && py > r + 2 && px < S - r - 2 && py < S - r - 2;
        for (auto& q : placed) clear = clear && std::hypot(px - q[0], py - q[1]) > r + q[2] + 4;
        if (clear) break;
      }
      placed.push_back({px, py, r});
      const float holes_r = r * 0.12f, holes_d = r * 0.3f;
      const int nholes = 2 + 2 * int(g.below(2));
      const float hole_ang = g.uniform(0.f, kPi);
      const float dens = kind == 0 ? g.uniform(3.5f, 5.f) : kind == 1 ? g.uniform(0.9f, 1.3f) : g.uniform(2.5f, 3.5f);
      Image one(S, S);
      for (int y = std::max(0, int(py - r - 2)); y <= std::min(S - 1, int(py + r + 2)); ++y)
        for (int x = std::max(0, int(px - r - 2)); x <= std::min(S - 1, int(px + r + 2)); ++x) {
          const float dd = std::hypot(x - px, y - py);
          // Sub-pixel coverage of the disc edge.
          const float cov = std::clamp(r + 0.5f - dd, 0.f, 1.f);
          if (cov <= 0) continue;
          float a = 0;
          if (kind == 0) {
            a = dens * cov * (0.93f + 0.07f * std::sqrt(std::max(0.f, 1.f - (dd / r) * (dd / r))));  // coin, raised rim
          } else if (kind == 1) {
            a = dens * cov;
            for (int h = 0; h < nholes; ++h) {
              const float ha = hole_ang + h * 2 * kPi / nholes;
              if (std::hypot(x - (px + holes_d * std::cos(ha)), y - (py + holes_d * std::sin(ha))) < holes_r + 0.5f) a *= 0.15f;
            }
            if (dd > r * 0.78f) a *= 1.25f;  // thick rim
          } else {
            const float ring = std::clamp(1.f - std::fabs(dd - r * 0.85f) / (r * 0.15f), 0.f, 1.f);  // metal ring
            const float snap = std::clamp(r * 0.32f + 0.5f - dd, 0.f, 1.f);                           // centre stud
            a = dens * std::max(ring, snap) + 0.25f * cov;                                            // + gel pad
          }
          metal[size_t(y) * S + x] += a;
          if (cov >= 0.5f) {
            P.mask.at(x, y) = 1.f;
            one.at(x, y) = 1.f;
          }
        }
      if (kind == 2) {  // a lead wire leaving the electrode
        float ang = g.uniform(0.f, 2 * kPi), wx = px, wy = py;
        for (int k = 0; k < int(S * 0.25f); ++k) {
          ang += g.normal(0.f, 0.03f);
          wx += std::cos(ang);
          wy += std::sin(ang);
          const int ix = int(wx), iy = int(wy);
          if (ix < 1 || iy < 1 || ix >= S - 1 || iy >= S - 1) break;
          if (std::hypot(wx - px, wy - py) > r) metal[size_t(iy) * S + ix] += 0.5f;
        }
      }
      PhantomFinding f;
      f.label = 1;
      f.kind = kinds[kind];
      f.cx = px;
      f.cy = py;
      f.r = r;
      f.x0 = std::max(0, int(std::floor(px - r)));
      f.y0 = std::max(0, int(std::floor(py - r)));
      f.x1 = std::min(S, int(std::ceil(px + r)) + 1);
      f.y1 = std::min(S, int(std::ceil(py + r)) + 1);
      P.findings.push_back(f);
    }
  } else if (P.label == 2) {
    // Nodule: a soft round density well inside a lung.
    float u, v;
    pick([&](float uu, float vv) { return lungs_depth(A, uu, vv) > 0.99f && lungs_depth(A, uu + 0.04f, vv) > 0.9f && lungs_depth(A, uu - 0.04f, vv) > 0.9f && lungs_depth(A, uu, vv + 0.04f) > 0.9f && lungs_depth(A, uu, vv - 0.04f) > 0.9f; }, u, v);
    int side = 0;
    lungs_depth(A, u, v, &side);
    float px, py;
    to_pixel(u, v, px, py);
    const float r = S * g.uniform(0.014f, 0.03f), dens = g.uniform(0.32f, 0.45f);
    for (int y = std::max(0, int(py - r - 3)); y <= std::min(S - 1, int(py + r + 3)); ++y)
      for (int x = std::max(0, int(px - r - 3)); x <= std::min(S - 1, int(px + r + 3)); ++x) {
        const float q = std::hypot(x - px, y - py) / r;
        if (q < 1.15f) att[size_t(y) * S + x] += dens * std::sqrt(std::max(0.f, 1.f - q * q)) + 0.08f * (1.f - smoothstep(0.9f, 1.15f, q));
        if (q <= 1.f) P.mask.at(x, y) = 1.f;
      }
    PhantomFinding f;
    f.label = 2;
    f.kind = "nodule";
    f.side = side == 0 ? "right" : "left";
    f.cx = px, f.cy = py, f.r = r;
    add_finding_box(f);
  } else if (P.label == 3 || P.label == 4) {
    const int side = int(g.below(2));
    const bool upper = g.uniform() < 0.4f;
    const float fissure0 = g.uniform(0.38f, 0.46f), fissure_slope = g.uniform(0.02f, 0.10f);
    const float fluid_h = g.uniform(0.07f, 0.17f), meniscus = g.uniform(0.03f, 0.07f);
    const float dens = P.label == 3 ? g.uniform(0.45f, 0.62f) : g.uniform(0.72f, 0.85f);
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        float u, v, t, bot;
        to_patient(float(x), float(y), u, v);
        const float in = lung_inside(A, side, u, v, &t, &bot);
        if (in <= 0) continue;
        float w = 0;
        if (P.label == 3) {
          // Lobar opacity: the lung on one side of a fissure, patchy, sharp at the fissure.
          const float fy = fissure0 + fissure_slope * t;
          const float edge = upper ? smoothstep(0.f, 0.006f, fy - v) : smoothstep(0.f, 0.006f, v - fy);
          w = edge * (0.55f + 0.45f * A.mottling.at(u * 0.7f + 0.1f, v * 0.7f));
        } else {
          // Effusion: fluid filling the base, its surface a meniscus climbing the lateral wall.
          const float level = A.lung_cp[side] - fluid_h - meniscus * t * t;
          w = smoothstep(0.f, 0.012f, v - level);
        }
        w *= in;
        if (w > 0) {
          att[size_t(y) * S + x] += dens * w * A.lung_air / 0.75f;
          if (w > 0.3f) P.mask.at(x, y) = 1.f;
        }
      }
    PhantomFinding f;
    f.label = P.label;
    f.kind = P.label == 3 ? "opacity" : "effusion";
    f.side = side == 0 ? "right" : "left";
    add_finding_box(f);
  }

  // ---- radiograph formation ----
  blur(att, S, std::max(1, int(std::lround(A.blur * S / 512.f))));
  P.image = Image(S, S);
  const float range = A.hi - A.lo;
  // Quantum noise is spatially correlated at the detector's scale: draw it at <= 512 px and upsample.
  const int NS = std::min(S, 512);
  Image noise(NS, NS);
  for (auto& n : noise.pixels) n = g.normal();
  const Image noise_full = NS == S ? noise : resize(noise, S, S);
  const float nscale = NS == S ? 1.f : 1.6f;  // keep its strength after interpolation
  // t^gamma through a table (std::pow per pixel was a tenth of the time).
  std::vector<float> gamma_lut(4097);
  for (int i = 0; i <= 4096; ++i) gamma_lut[size_t(i)] = std::pow(float(i) / 4096.f, A.gamma);
  for (size_t i = 0; i < N; ++i) {
    const float a = std::max(0.f, att[i] + metal[i]);
    const float signal = 1.f - std::exp(-A.k * a);
    const float tl = std::clamp((signal - A.lo) / range, 0.f, 1.f) * 4096.f;
    const int ti = std::min(int(tl), 4095);
    const float t = gamma_lut[size_t(ti)] + (gamma_lut[size_t(ti) + 1] - gamma_lut[size_t(ti)]) * (tl - float(ti));
    // Noise is larger where few photons arrive (dark display = many photons here, so scale by t).
    float val = 255.f * t + noise_full.pixels[i] * nscale * A.noise_sigma * (0.5f + 0.8f * t) * (a > 0.02f ? 1.f : 0.4f);
    P.image.pixels[i] = std::clamp(std::round(val), 0.f, 255.f);
  }
  return P;
}

// ------------------------------------------------------------------ PhantomDataset

PhantomDataset::PhantomDataset(size_t count, uint64_t seed, PhantomOptions opt)
    : count_(count), seed_(seed), opt_(std::move(opt)) {
  LAI_CHECK(!opt_.classes.empty(), "PhantomDataset: the class list is empty");
  for (int c : opt_.classes) LAI_CHECK(c >= 0 && c < 5, "PhantomDataset: class ", c, " is not in 0..4");
}

Sample PhantomDataset::get(size_t i) const {
  LAI_CHECK(i < count_, "PhantomDataset: index ", i, " out of range (size ", count_, ")");
  Phantom p = make_phantom(seed_, i, opt_);
  return Sample{std::move(p.image), {p.label}, path(i)};
}
std::string PhantomDataset::path(size_t i) const { return str_cat("phantom#", i); }
std::vector<int> PhantomDataset::labels(size_t i) const { return {phantom_label(i, opt_)}; }

// ------------------------------------------------------------------ writing a set

SynthSummary write_phantom_set(const std::string& dir, size_t count, uint64_t seed, const PhantomOptions& opt,
                               const std::function<void(size_t, size_t)>& progress) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "images", ec);
  LAI_CHECK_IO(!ec, dir, ": cannot create folder (", ec.message(), ")");
  fs::create_directories(fs::path(dir) / "masks", ec);
  LAI_CHECK_IO(!ec, dir, "/masks: cannot create folder (", ec.message(), ")");
  const auto& names = phantom_class_names();
  SynthSummary sum;
  sum.per_class.assign(names.size(), 0);
  std::ostringstream manifest, findings;
  manifest << "path,label,mask,kind,cx,cy,r,x0,y0,x1,y1\n";
  findings << "path,label,kind,side,cx,cy,r,x0,y0,x1,y1\n";
  manifest.setf(std::ios::fixed);
  manifest.precision(1);
  findings.setf(std::ios::fixed);
  findings.precision(1);
  const size_t chunk = std::max<size_t>(4, size_t(num_threads()) * 4);
  std::vector<Phantom> ready;
  std::vector<std::string> error(chunk);
  for (size_t begin = 0; begin < count; begin += chunk) {
    const size_t n = std::min(chunk, count - begin);
    ready.assign(n, Phantom{});
    std::fill(error.begin(), error.end(), std::string());
    parallel_for(0, int64_t(n), 1, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        try {
          const size_t i = begin + size_t(k);
          char stem[32];
          std::snprintf(stem, sizeof stem, "%06zu", i);
          ready[k] = make_phantom(seed, i, opt);
          write_png((fs::path(dir) / "images" / (std::string(stem) + ".png")).string(), ready[k].image);
          write_png((fs::path(dir) / "masks" / (std::string(stem) + "_mask.png")).string(), ready[k].mask, 0.f, 1.f);
          ready[k].image = Image();  // keep only the metadata
          ready[k].mask = Image();
        } catch (const std::exception& ex) {
          error[k] = ex.what();
        }
      }
    });
    for (size_t k = 0; k < n; ++k) {
      LAI_CHECK(error[k].empty(), error[k]);
      char stem[32];
      std::snprintf(stem, sizeof stem, "%06zu", begin + k);
      const Phantom& p = ready[k];
      const std::string img = str_cat("images/", stem, ".png"), mask = str_cat("masks/", stem, "_mask.png");
      manifest << img << ',' << names[p.label] << ',' << mask;
      if (p.findings.empty()) {
        manifest << ",,,,,,,,\n";
      } else {
        const auto& f = p.findings[0];
        manifest << ',' << f.kind << ',' << f.cx << ',' << f.cy << ',' << f.r << ',' << f.x0 << ',' << f.y0 << ','
                 << f.x1 << ',' << f.y1 << '\n';
      }
      for (const auto& f : p.findings)
        findings << img << ',' << names[p.label] << ',' << f.kind << ',' << f.side << ',' << f.cx << ',' << f.cy << ','
                 << f.r << ',' << f.x0 << ',' << f.y0 << ',' << f.x1 << ',' << f.y1 << '\n';
      ++sum.per_class[size_t(p.label)];
    }
    sum.images += n;
    if (progress) progress(sum.images, count);
  }
  const std::string m = manifest.str(), f = findings.str();
  sum.manifest = (fs::path(dir) / "manifest.csv").string();
  io::atomic_write_file(sum.manifest, m.data(), m.size());
  io::atomic_write_file((fs::path(dir) / "findings.csv").string(), f.data(), f.size());
  std::ostringstream readme;
  readme << "SYNTHETIC chest-radiograph phantoms generated by liteai (liteai synth).\n"
         << "These images are drawn by formula; they come from no patient and carry no clinical meaning.\n"
         << "Use them for demos, tests, benchmarks and pipeline checks only.\n\n"
         << "images: " << count << " PNG, " << opt.size << "x" << opt.size << " 8-bit gray, seed " << seed << "\n"
         << "classes: normal, foreign_body (coin/button/ECG electrode), nodule, opacity (lobar), effusion\n"
         << "manifest.csv: path,label,mask + geometry of the first finding (pixels; cx,cy,r = centre and radius,\n"
         << "  x0,y0,x1,y1 = mask bounding box, end exclusive). findings.csv: one row per finding.\n"
         << "masks/: 255 on the finding's pixels, 0 elsewhere (all 0 for normal images).\n"
         << "Regenerate exactly: liteai synth --out DIR --n " << count << " --size " << opt.size << " --seed " << seed;
  if (opt.classes != PhantomOptions{}.classes) {
    readme << " --classes ";
    for (size_t i = 0; i < opt.classes.size(); ++i) readme << (i ? "," : "") << opt.classes[i];
  }
  if (opt.noise != 1.f) readme << " --noise " << opt.noise;
  readme << "\n";
  const std::string r = readme.str();
  io::atomic_write_file((fs::path(dir) / "README.txt").string(), r.data(), r.size());
  return sum;
}

}  // namespace liteai::data
