#pragma once
// DICOM results of the classifier and anomaly tasks: the TID 1500 structured report and the
// overlay Secondary Capture (interop/dicom), in new series of the source DICOM's study. The
// library reads DICOM wherever it reads images (when built with DCMTK); this is the way out.
//
//   DicomWriter out("out/");
//   const std::string version = model_version(model);
//   for (const Prediction& p : predict_files(model, {"a.dcm"}, o))            // liteai predict
//     out.write(p.path, {classifier_findings(model, version, p.probabilities)});
//   out.write("a.dcm", {assessment_findings("probmat", version, lines.assess(map), ...), &map, ws.threshold});
//
// Built with DCMTK only (dicom_available()); otherwise the functions that write throw
// not_supported ("this build has no DICOM module").
#include <string>
#include <vector>

#include "liteai/app/anomaly_tasks.hpp"
#include "liteai/app/detection_tasks.hpp"
#include "liteai/data/image.hpp"
#include "liteai/interop/dicom.hpp"
#include "liteai/io/json.hpp"
#include "liteai/nn/zoo.hpp"

namespace liteai::app {

bool dicom_available();

// What names a model in results: its architecture's name, and a version that names its weights
// and calibration ("weights sha256 1a2b3c4d5e6f7081, liteai 0.4.0"). One pass over the
// parameters: compute it once per model, not per image.
std::string model_version(const nn::Model& model);
// The probabilities of a classifier as findings (its class names, its name, `version`).
interop::dicom::Findings classifier_findings(const nn::Model& model, const std::string& version,
                                             const std::vector<float>& probabilities);
// What names a ProbMat in results ("ProbMat of 200 images, 256x256 bins=256 ..."), the version
// beside the name "liteai probmat" that map findings of its WPMs carry.
std::string probmat_version(const anomaly::ProbMat& pm);
// The findings of an assessed anomaly map (ScoreLines::assess: what `probmat score` prints) of
// map_w x map_h pixels made for a source of source_w x source_h (a WPM at the ProbMat's size): its
// image score and the circles past the operating point (strongest first, at most `max_circles`)
// in the source's pixels.
interop::dicom::Findings assessment_findings(const std::string& name, const std::string& version,
                                             const anomaly::Assessment& a, int map_w, int map_h, int source_w,
                                             int source_h, int max_circles = 10);

// Findings as JSON: {"model_name", "model_version", "classes": [{"name", "probability"}],
// "anomaly_score", "circles": [{"x", "y", "radius", "score"}]} (every member optional; circles
// in the source's pixels). From JSON also an array of such objects, merged in order (classes
// and circles appended, names and the score set): so a caller can join a model's findings and a
// map's without editing JSON. Errors name the member.
io::Json findings_to_json(const interop::dicom::Findings& f);
interop::dicom::Findings findings_from_json(const io::Json& j);

struct DicomResults {
  interop::dicom::Findings findings;
  const data::Image* map = nullptr;  // an anomaly map (any size): drawn over the source in the SC
  float threshold = 0;               // map values above it are coloured
  float map_hi = -1;                 // top of the colour ramp (<= threshold: the map's maximum)
};
// The overlay of a map (resized to the source) on the source's display image, as the SC's pixels.
std::vector<uint8_t> overlay_of(const data::Image& source, const data::Image& map, float threshold, float hi);

struct DicomWritten {
  std::string sr, sc;  // the files written ("" for an SC without a map)
};
// For the DICOM file `source`: DIR/<name>_sr.dcm, and with a map DIR/<name>_sc.dcm, <name> being
// the source's file stem (made unique in the folder by _2, _3, ... when another source of the
// same stem was written by this writer). Throws not_supported for a source that is not DICOM.
class DicomWriter {
 public:
  explicit DicomWriter(const std::string& dir);
  DicomWritten write(const std::string& source, const DicomResults& results);

 private:
  std::string dir_;
  std::vector<std::string> used_;
};

}  // namespace liteai::app
