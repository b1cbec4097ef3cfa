#include "liteai/io/file.hpp"
#include "liteai/anomaly/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"

namespace liteai::anomaly {

namespace fs = std::filesystem;
using data::Image;

namespace {

const std::vector<double> kFrocRates = {0.125, 0.25, 0.5, 1, 2, 4, 8};

// One CSV record (RFC 4180 quotes; no line breaks inside fields).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Lines of a text file, the header first; `what` names it in errors.
std::vector<std::string> read_lines(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  LAI_CHECK_IO(in.good(), path, ": cannot open the ", what);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line != "\r") lines.push_back(line);
  LAI_CHECK_FORMAT(!lines.empty(), path, ": the ", what, " is empty (it needs a header line)");
  return lines;
}

int column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return int(i);
  return -1;
}

double number(const std::string& s, const std::string& where, const char* field) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  LAI_CHECK_FORMAT(!s.empty() && end && *end == '\0' && std::isfinite(v), where, ": field '", field,
                   "' is not a finite number ('", s, "')");
  return v;
}

}  // namespace

// ---------------------------------------------------------------- truth

bool TruthObject::contains(int x, int y) const {
  if (x < x0 || y < y0 || x >= x1 || y >= y1) return false;
  return inside[size_t(y - y0) * size_t(x1 - x0) + size_t(x - x0)] != 0;
}

int64_t TruthObject::area() const {
  int64_t n = 0;
  for (uint8_t v : inside) n += v;
  return n;
}

ImageTruth truth_from_mask(const Image& mask, const std::string& path) {
  const int W = mask.width, H = mask.height;
  LAI_CHECK(W > 0 && H > 0 && mask.pixels.size() == size_t(W) * size_t(H), "truth: empty or inconsistent mask ",
            W, "x", H, path.empty() ? "" : " of ", path);
  ImageTruth t;
  t.path = path;
  t.width = W;
  t.height = H;
  std::vector<int32_t> label(mask.pixels.size(), 0);
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < int64_t(W) * H; ++start) {
    if (label[size_t(start)] || !(mask.pixels[size_t(start)] > 0.5f)) continue;
    const int32_t id = int32_t(t.objects.size()) + 1;
    TruthObject o{W, H, -1, -1, {}};
    std::vector<int64_t> members;
    label[size_t(start)] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      members.push_back(i);
      const int x = int(i % W), y = int(i / W);
      o.x0 = std::min(o.x0, x), o.y0 = std::min(o.y0, y), o.x1 = std::max(o.x1, x + 1), o.y1 = std::max(o.y1, y + 1);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
          const int64_t j = int64_t(ny) * W + nx;
          if (label[size_t(j)] || !(mask.pixels[size_t(j)] > 0.5f)) continue;
          label[size_t(j)] = id;
          stack.push_back(j);
        }
    }
    o.inside.assign(size_t(o.x1 - o.x0) * size_t(o.y1 - o.y0), 0);
    for (int64_t i : members)
      o.inside[size_t(i / W - o.y0) * size_t(o.x1 - o.x0) + size_t(i % W - o.x0)] = 1;
    t.objects.push_back(std::move(o));
  }
  return t;
}

std::vector<ImageTruth> read_truth_manifest(const std::string& manifest) {
  const std::vector<std::string> lines = read_lines(manifest, "truth manifest");
  const std::vector<std::string> header = csv_fields(lines[0]);
  const int pc = column(header, "path"), mc = column(header, "mask");
  LAI_CHECK_FORMAT(pc >= 0 && mc >= 0, manifest, ": the truth manifest needs the columns 'path' and 'mask' (has: ",
                   lines[0], ")");
  const fs::path base = fs::path(manifest).parent_path();
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (base / p).string(); };
  std::vector<ImageTruth> out;
  for (size_t r = 1; r < lines.size(); ++r) {
    const std::vector<std::string> f = csv_fields(lines[r]);
    const std::string where = str_cat(manifest, " line ", r + 1);
    LAI_CHECK_FORMAT(f.size() == header.size(), where, ": ", f.size(), " fields, the header has ", header.size());
    LAI_CHECK_FORMAT(!f[size_t(pc)].empty(), where, ": empty path");
    ImageTruth t;
    if (!f[size_t(mc)].empty()) {
      t = truth_from_mask(data::decode_image(resolve(f[size_t(mc)])), f[size_t(pc)]);
    } else {
      const data::ImageInfo info = data::probe_image(resolve(f[size_t(pc)]));
      t.width = info.width;
      t.height = info.height;
    }
    t.path = f[size_t(pc)];
    t.file = resolve(t.path);
    out.push_back(std::move(t));
  }
  LAI_CHECK_FORMAT(!out.empty(), manifest, ": the truth manifest lists no images");
  return out;
}

// ---------------------------------------------------------------- detection files

void write_detections_csv(const std::string& path, const std::vector<ImageDetections>& rows) {
  std::string s = "path,x,y,radius,score,confidence\n";
  char buf[160];
  for (const ImageDetections& r : rows) {
    const std::string p = csv_quote(r.path);
    if (r.detections.empty()) s += p + ",,,,,\n";
    for (const Detection& d : r.detections) {
      LAI_CHECK(std::isfinite(d.x) && std::isfinite(d.y) && std::isfinite(d.radius) && std::isfinite(d.score),
                "detections: non-finite detection of ", r.path);
      std::snprintf(buf, sizeof buf, ",%.2f,%.2f,%.2f,%.9g,", double(d.x), double(d.y), double(d.radius), d.score);
      s += p + buf;
      if (std::isfinite(d.confidence)) {
        std::snprintf(buf, sizeof buf, "%.6g", d.confidence);
        s += buf;
      }
      s += '\n';
    }
  }
  io::atomic_write_file(path, s.data(), s.size(), false);
}

std::vector<ImageDetections> read_detections_csv(const std::string& path) {
  const std::vector<std::string> lines = read_lines(path, "detections file");
  const std::vector<std::string> header = csv_fields(lines[0]);
  const char* names[] = {"path", "x", "y", "radius", "score", "confidence"};
  int col[6];
  for (int k = 0; k < 6; ++k) {
    col[k] = column(header, names[k]);
    LAI_CHECK_FORMAT(col[k] >= 0, path, ": the detections file needs the columns path,x,y,radius,score,confidence (has: ",
                     lines[0], ")");
  }
  std::vector<ImageDetections> out;
  std::map<std::string, size_t> at;
  for (size_t r = 1; r < lines.size(); ++r) {
    const std::vector<std::string> f = csv_fields(lines[r]);
    const std::string where = str_cat(path, " line ", r + 1);
    LAI_CHECK_FORMAT(f.size() == header.size(), where, ": ", f.size(), " fields, the header has ", header.size());
    const std::string& p = f[size_t(col[0])];
    LAI_CHECK_FORMAT(!p.empty(), where, ": empty path");
    auto [it, fresh] = at.emplace(p, out.size());
    if (fresh) out.push_back({p, {}});
    bool any = false;
    for (int k = 1; k < 6; ++k) any = any || !f[size_t(col[k])].empty();
    if (!any) continue;  // an image without detections
    Detection d;
    d.x = float(number(f[size_t(col[1])], where, "x"));
    d.y = float(number(f[size_t(col[2])], where, "y"));
    d.radius = float(number(f[size_t(col[3])], where, "radius"));
    d.score = number(f[size_t(col[4])], where, "score");
    const std::string& c = f[size_t(col[5])];
    d.confidence = c.empty() ? NAN : number(c, where, "confidence");
    out[it->second].detections.push_back(d);
  }
  return out;
}

std::vector<std::vector<Detection>> match_detections(const std::vector<ImageTruth>& truth,
                                                     const std::vector<ImageDetections>& rows) {
  std::map<std::string, size_t> by_text, by_file, by_name;
  std::map<std::string, int> name_count;
  auto canonical = [](const std::string& p) {
    std::error_code ec;
    const fs::path c = fs::weakly_canonical(fs::path(p), ec);
    return ec ? std::string() : c.string();
  };
  for (size_t i = 0; i < truth.size(); ++i) {
    by_text.emplace(truth[i].path, i);
    if (!truth[i].file.empty()) by_file.emplace(canonical(truth[i].file), i);
    const std::string name = fs::path(truth[i].path).filename().string();
    by_name.emplace(name, i);
    ++name_count[name];
  }
  std::vector<std::vector<Detection>> out(truth.size());
  std::vector<uint8_t> seen(truth.size(), 0);
  for (const ImageDetections& r : rows) {
    size_t i = truth.size();
    if (auto t = by_text.find(r.path); t != by_text.end()) i = t->second;
    else if (auto f = by_file.find(canonical(r.path)); f != by_file.end() && !f->first.empty()) i = f->second;
    else if (const std::string n = fs::path(r.path).filename().string(); name_count[n] == 1) i = by_name[n];
    LAI_CHECK(i < truth.size(), "detections: '", r.path, "' matches no image of the truth");
    LAI_CHECK(!seen[i], "detections: '", r.path, "' and another path both match ", truth[i].path);
    seen[i] = 1;
    out[i] = r.detections;
  }
  return out;
}

// ---------------------------------------------------------------- evaluation

DetectionEvaluation evaluate_detections(const std::vector<ImageTruth>& truth,
                                        const std::vector<std::vector<Detection>>& dets,
                                        const std::vector<double>* image_scores) {
  LAI_CHECK(!truth.empty(), "evaluate_detections: no images");
  LAI_CHECK(dets.size() == truth.size(), "evaluate_detections: ", dets.size(), " detection lists for ", truth.size(),
            " images");
  LAI_CHECK(!image_scores || image_scores->size() == truth.size(), "evaluate_detections: ", image_scores->size(),
            " image scores for ", truth.size(), " images");
  DetectionEvaluation e;
  e.images = int64_t(truth.size());
  struct Hit {
    double score;
    int64_t object;  // global object index, -1 = false positive
  };
  std::vector<Hit> all;
  std::vector<double> scores;
  std::vector<int> labels;
  for (size_t i = 0; i < truth.size(); ++i) {
    const ImageTruth& t = truth[i];
    double best = 0;
    for (const Detection& d : dets[i]) {
      LAI_CHECK(std::isfinite(d.score), "evaluate_detections: a detection of ", t.path, " has a non-finite score");
      best = std::max(best, d.score);
      const int x = int(std::lround(d.x)), y = int(std::lround(d.y));
      int64_t obj = -1;
      for (size_t k = 0; k < t.objects.size() && obj < 0; ++k)
        if (t.objects[k].contains(x, y)) obj = e.objects + int64_t(k);
      all.push_back({d.score, obj});
    }
    e.detections += int64_t(dets[i].size());
    e.objects += int64_t(t.objects.size());
    e.images_with_objects += t.objects.empty() ? 0 : 1;
    scores.push_back(image_scores ? (*image_scores)[i] : best);
    labels.push_back(t.objects.empty() ? 0 : 1);
  }
  if (e.images_with_objects > 0 && e.images_with_objects < e.images) e.image_auroc = auroc(scores, labels);

  std::stable_sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) { return a.score > b.score; });
  std::vector<uint8_t> hit(size_t(e.objects), 0);
  int64_t hits = 0, fps = 0;
  const double n = double(e.images), objects = double(std::max<int64_t>(1, e.objects));
  e.rates = kFrocRates;
  e.curve.push_back({INFINITY, 0, 0});
  size_t next_rate = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    int64_t group_fp = 0, group_hits = 0;
    for (; j < all.size() && all[j].score == all[i].score; ++j) {
      if (all[j].object < 0) ++group_fp;
      else if (!hit[size_t(all[j].object)]) hit[size_t(all[j].object)] = 1, ++group_hits;
    }
    // Rates the false positives of this group reach are read before its hits count.
    while (next_rate < e.rates.size() && double(fps + group_fp) >= e.rates[next_rate] * n) {
      e.sensitivities.push_back(double(hits) / objects);
      ++next_rate;
    }
    fps += group_fp;
    hits += group_hits;
    e.curve.push_back({all[i].score, double(fps) / n, double(hits) / objects});
    i = j;
  }
  while (next_rate++ < e.rates.size()) e.sensitivities.push_back(double(hits) / objects);
  double sum = 0;
  for (double s : e.sensitivities) sum += s;
  e.froc = sum / double(e.sensitivities.size());
  if (e.objects == 0) {
    e.froc = NAN;
    for (double& s : e.sensitivities) s = NAN;
  }
  return e;
}

io::Json DetectionEvaluation::to_json() const {
  io::Json j = io::Json::object();
  j.set("images", io::Json(static_cast<long long>(images)));
  j.set("images_with_objects", io::Json(static_cast<long long>(images_with_objects)));
  j.set("objects", io::Json(static_cast<long long>(objects)));
  j.set("detections", io::Json(static_cast<long long>(detections)));
  j.set("image_auroc", io::Json(image_auroc));  // null when undefined
  j.set("froc", io::Json(froc));
  j.set("fp_per_image", io::Json::array_of(rates));
  j.set("sensitivity", io::Json::array_of(sensitivities));
  return j;
}

std::string DetectionEvaluation::curve_csv() const {
  std::string s = "threshold,fp_per_image,sensitivity\n";
  char buf[96];
  for (const FrocPoint& p : curve) {
    if (std::isfinite(p.threshold)) std::snprintf(buf, sizeof buf, "%.9g,%.6g,%.6g\n", p.threshold, p.fp_per_image, p.sensitivity);
    else std::snprintf(buf, sizeof buf, "inf,%.6g,%.6g\n", p.fp_per_image, p.sensitivity);
    s += buf;
  }
  return s;
}

// ---------------------------------------------------------------- maps

MapDetections detections_from_maps(const std::vector<ImageTruth>& truth, const std::string& dir,
                                   const DetectOptions& detect, const ScoreOptions& score) {
  MapDetections out;
  const bool one_pass = score.method == ScoreMethod::Spot && score.spots == detect;
  for (const ImageTruth& t : truth) {
    const std::string file = (fs::path(dir) / (fs::path(t.path).stem().string() + "_wpm.npy")).string();
    LAI_CHECK_IO(fs::exists(file), "detections: no map ", file, " for ", t.path);
    Shape shape;
    std::vector<float> v = data::read_npy(file, &shape);
    LAI_CHECK_FORMAT(shape.size() == 2 && shape[0] > 0 && shape[1] > 0, file, ": expected a 2-D map, got shape ",
                     to_string(shape));
    Image map{int(shape[1]), int(shape[0])};
    map.pixels = std::move(v);
    map.max_value = 0;
    std::vector<Detection> d = detect_circles(map, detect);
    out.image_scores.push_back(one_pass ? (d.empty() ? 0.0 : d.front().score) : image_score(map, score));
    const int W = t.width > 0 ? t.width : map.width, H = t.height > 0 ? t.height : map.height;
    for (Detection& x : d) x = scale_detection(x, map.width, map.height, W, H);
    out.detections.push_back(std::move(d));
  }
  return out;
}

data::Chart froc_chart(const DetectionEvaluation& e, const std::string& title) {
  data::Chart c;
  c.title = title;
  c.x_label = "false positives per image";
  c.y_label = "sensitivity";
  c.log_x = true;
  c.x_min = 0.125 / 1.5;
  c.x_max = 8 * 1.5;
  c.y_min = 0;
  c.y_max = 1.2;  // room above 1 for the legend (top left)
  char name[64];
  std::snprintf(name, sizeof name, "FROC %.3f", e.froc);
  data::Series curve;
  curve.name = name;
  // A step curve: the sensitivity holds until the next group of detections enters.
  for (size_t i = 0; i < e.curve.size(); ++i) {
    const double x = std::clamp(e.curve[i].fp_per_image, c.x_min, c.x_max);
    if (i > 0) curve.x.push_back(x), curve.y.push_back(e.curve[i - 1].sensitivity);
    curve.x.push_back(x), curve.y.push_back(e.curve[i].sensitivity);
  }
  curve.x.push_back(c.x_max), curve.y.push_back(e.curve.empty() ? 0 : e.curve.back().sensitivity);
  data::Series marks;
  marks.name = "at 1/8 .. 8 FP per image";
  marks.style = data::Series::Style::points;
  marks.color = 0xd62728;
  marks.x = e.rates;
  marks.y = e.sensitivities;
  c.series = {curve, marks};
  return c;
}

}  // namespace liteai::anomaly
