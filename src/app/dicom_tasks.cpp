// DICOM results of the tasks (see liteai/app/dicom_tasks.hpp).
#include "liteai/io/file.hpp"
#include "liteai/app/dicom_tasks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "liteai/anomaly/hough.hpp"
#include "liteai/anomaly/wpm.hpp"
#include "liteai/core/error.hpp"
#include "liteai/core/version.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/transforms.hpp"
#include "liteai/io/hash.hpp"

namespace liteai::app {

namespace dcm = interop::dicom;

bool dicom_available() {
#ifdef LITEAI_HAVE_DICOM
  return true;
#else
  return false;
#endif
}

std::string model_version(const nn::Model& model) {
  io::Sha256 h;
  for (const auto& [name, t] : model.net->named_parameters()) {
    const Tensor c = (t.dtype() == DType::f32 ? t : t.to(DType::f32)).contiguous();
    h.update(name);
    h.update(c.data(), size_t(c.numel()) * sizeof(float));
  }
  // The calibration changes the probabilities as much as the weights do.
  if (!model.temperature.empty()) h.update(model.temperature.data(), model.temperature.size() * sizeof(float));
  return str_cat("weights sha256 ", h.hex().substr(0, 16), ", liteai ", version());
}

dcm::Findings classifier_findings(const nn::Model& model, const std::string& version,
                                  const std::vector<float>& probabilities) {
  dcm::Findings f;
  f.model_name = model.arch.name;
  f.model_version = version;
  for (size_t c = 0; c < probabilities.size(); ++c)
    f.classes.push_back({c < model.class_names.size() ? model.class_names[c] : "class" + std::to_string(c),
                         double(probabilities[c])});
  return f;
}

std::string probmat_version(const anomaly::ProbMat& pm) {
  return str_cat("ProbMat of ", pm.images(), " images, ", pm.config().describe());
}

dcm::Findings assessment_findings(const std::string& name, const std::string& version, const anomaly::Assessment& a,
                                  int map_w, int map_h, int source_w, int source_h, int max_circles) {
  dcm::Findings f;
  f.model_name = name;
  f.model_version = version;
  f.has_anomaly_score = true;
  f.anomaly_score = a.score;
  for (const anomaly::Detection& raw : a.circles) {
    if (int(f.circles.size()) >= max_circles) break;
    const anomaly::Detection d = anomaly::scale_detection(raw, map_w, map_h, source_w, source_h);
    f.circles.push_back({d.x, d.y, d.radius, d.score});
  }
  return f;
}

io::Json findings_to_json(const dcm::Findings& f) {
  io::Json j = io::Json::object();
  j.set("model_name", f.model_name);
  j.set("model_version", f.model_version);
  io::Json classes = io::Json::array();
  for (const auto& c : f.classes) {
    io::Json o = io::Json::object();
    o.set("name", c.name);
    o.set("probability", c.probability);
    classes.push_back(std::move(o));
  }
  j.set("classes", std::move(classes));
  if (f.has_anomaly_score) j.set("anomaly_score", f.anomaly_score);
  io::Json circles = io::Json::array();
  for (const auto& c : f.circles) {
    io::Json o = io::Json::object();
    o.set("x", c.x);
    o.set("y", c.y);
    o.set("radius", c.radius);
    o.set("score", c.score);
    circles.push_back(std::move(o));
  }
  j.set("circles", std::move(circles));
  return j;
}

namespace {
void merge_findings(const io::Json& j, dcm::Findings& f, const std::string& what) {
  LAI_CHECK(j.is_object(), what, ": must be an object of findings, got ", j.type_name());
  static const char* const kMembers[] = {"model_name", "model_version", "classes", "anomaly_score", "circles"};
  for (const auto& [key, value] : j.as_object())
    LAI_CHECK(std::find(std::begin(kMembers), std::end(kMembers), key) != std::end(kMembers), what, ": unknown member '",
              key, "' (model_name, model_version, classes, anomaly_score, circles)");
  if (j.contains("model_name")) f.model_name = j.get_string("model_name", what);
  if (j.contains("model_version")) f.model_version = j.get_string("model_version", what);
  if (j.contains("anomaly_score")) {
    f.has_anomaly_score = true;
    f.anomaly_score = j.get_number("anomaly_score", what);
  }
  if (j.contains("classes"))
    for (size_t i = 0; i < j.at("classes").size(); ++i) {
      const io::Json& c = j.at("classes")[i];
      const std::string w = str_cat(what, ".classes[", i, "]");
      const double p = c.get_number("probability", w);
      LAI_CHECK(std::isfinite(p), w, ".probability must be finite");
      f.classes.push_back({c.get_string("name", w), p});
    }
  if (j.contains("circles"))
    for (size_t i = 0; i < j.at("circles").size(); ++i) {
      const io::Json& c = j.at("circles")[i];
      const std::string w = str_cat(what, ".circles[", i, "]");
      dcm::Circle k{c.get_number("x", w), c.get_number("y", w), c.get_number("radius", w), c.get_number_or("score", 0, w)};
      LAI_CHECK(std::isfinite(k.x) && std::isfinite(k.y) && std::isfinite(k.score) && std::isfinite(k.radius) &&
                    k.radius >= 0,
                w, ": x, y and score must be finite and radius >= 0");
      f.circles.push_back(k);
    }
}
}  // namespace

dcm::Findings findings_from_json(const io::Json& j) {
  dcm::Findings f;
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) merge_findings(j[i], f, str_cat("findings[", i, "]"));
  } else {
    merge_findings(j, f, "findings");
  }
  return f;
}

std::vector<uint8_t> overlay_of(const data::Image& source, const data::Image& map, float threshold, float hi) {
  const data::Image m =
      map.width == source.width && map.height == source.height ? map : data::resize(map, source.width, source.height);
  return anomaly::overlay_rgb(source, m, threshold, hi);
}

DicomWriter::DicomWriter(const std::string& dir) : dir_(dir) {
  LAI_CHECK_SUPPORTED(dicom_available(), "DICOM output: this build has no DICOM module (configure with DCMTK: "
                                         "libdcmtk-dev)");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  LAI_CHECK_IO(std::filesystem::is_directory(dir, ec), "DICOM output: cannot create the folder ", dir);
}

DicomWritten DicomWriter::write(const std::string& source, const DicomResults& r) {
#ifdef LITEAI_HAVE_DICOM
  const std::vector<uint8_t> bytes = io::read_file(source);
  LAI_CHECK_SUPPORTED(dcm::is_dicom(bytes.data(), bytes.size()), source,
                      ": DICOM results need a DICOM source (this file is not DICOM)");
  const dcm::Decoded src = dcm::read_memory(bytes.data(), bytes.size(), source);
  const std::string stem = std::filesystem::path(source).stem().string();
  std::string name = stem;
  for (int k = 2; std::find(used_.begin(), used_.end(), name) != used_.end(); ++k) name = stem + "_" + std::to_string(k);
  used_.push_back(name);
  const std::string base = (std::filesystem::path(dir_) / name).string();
  DicomWritten w;
  w.sr = base + "_sr.dcm";
  dcm::write_sr(w.sr, src.info, r.findings);
  if (r.map) {
    const std::vector<uint8_t> rgb = overlay_of(src.image, *r.map, r.threshold, r.map_hi);
    w.sc = base + "_sc.dcm";
    dcm::write_secondary_capture(w.sc, src.info, r.findings, rgb.data(), src.image.width, src.image.height);
  }
  return w;
#else
  (void)source;
  (void)r;
  LAI_FAIL(not_supported, "DICOM output: this build has no DICOM module");
#endif
}

}  // namespace liteai::app
