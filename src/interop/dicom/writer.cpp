// Results as DICOM: a TID 1500 measurement report (Comprehensive SR) and an RGB Secondary
// Capture, both in new series of the source's study (see liteai/interop/dicom.hpp).
#include <cmath>
#include <cstdio>
#include <ctime>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmsr/codes/dcm.h"
#include "dcmtk/dcmsr/codes/ucum.h"
#include "dcmtk/dcmsr/dsrdoc.h"
#include "liteai/io/file.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/io/hash.hpp"
#include "liteai/interop/dicom.hpp"

namespace liteai::interop::dicom {
namespace {

// liteai's own concepts, in a private coding scheme (PS3.16 8.2: designators starting "99").
constexpr const char* kScheme = "99LITEAI";
constexpr const char* kMarker = "liteai";  // Device Observer Name and Manufacturer of every result

// ---- name-based UIDs: 2.25.<the first 128 bits of a SHA-256 as a decimal> (PS3.5 B.2; the
// way UUID version 5 names things, with SHA-256) ----
std::string name_uid(std::initializer_list<std::string> parts) {
  io::Sha256 h;
  for (const std::string& p : parts) {
    h.update(p);
    h.update("\x1f", 1);  // separator: ("ab", "c") and ("a", "bc") differ
  }
  const std::string hex = h.hex();
  unsigned __int128 v = 0;
  for (int i = 0; i < 32; ++i) v = v << 4 | unsigned(std::stoi(hex.substr(size_t(i), 1), nullptr, 16));
  std::string digits;
  do {
    digits.insert(digits.begin(), char('0' + int(v % 10)));
    v /= 10;
  } while (v != 0);
  return "2.25." + digits;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string findings_key(const Findings& f) {
  std::string k = f.model_name + "|" + f.model_version;
  for (const auto& c : f.classes) k += "|" + c.name + "=" + fmt(c.probability);
  if (f.has_anomaly_score) k += "|anomaly=" + fmt(f.anomaly_score);
  for (const auto& c : f.circles) k += "|circle=" + fmt(c.x) + "," + fmt(c.y) + "," + fmt(c.radius) + "," + fmt(c.score);
  return k;
}

// A code value or meaning from free text: no backslashes or control characters, bounded length.
std::string code_text(const std::string& s, size_t max) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) out += (c < 0x20 || c == '\\') ? '_' : char(c);
  return out.empty() ? "_" : out;
}

void check_source(const SourceInfo& s, const char* what) {
  LAI_CHECK(!s.study_instance_uid.empty(), what, ": the source has no Study Instance UID");
  LAI_CHECK(!s.series_instance_uid.empty(), what, ": the source has no Series Instance UID");
  LAI_CHECK(!s.sop_instance_uid.empty() && !s.sop_class_uid.empty(), what,
            ": the source has no SOP Class/Instance UID to refer to");
}

struct Identity {
  std::string series_uid, instance_uid, series_number, description, date, time;
};

Identity identity(const SourceInfo& s, const Findings& f, const OutputOptions& o, const std::string& kind,
                  int default_series, const char* default_word) {
  Identity id;
  id.series_uid = o.series_instance_uid.empty()
                      ? name_uid({"liteai series", s.series_instance_uid, kind, f.model_name, f.model_version})
                      : o.series_instance_uid;
  id.instance_uid = o.sop_instance_uid.empty() ? name_uid({"liteai instance", s.sop_instance_uid, kind, findings_key(f)})
                                               : o.sop_instance_uid;
  id.series_number = std::to_string(o.series_number > 0 ? o.series_number : default_series);
  id.description = !o.series_description.empty() ? o.series_description
                                                 : str_cat("liteai ", f.model_name.empty() ? "model" : f.model_name, " ",
                                                           default_word);
  id.description = code_text(id.description, 64);
  const std::time_t now = std::time(nullptr);
  std::tm t{};
  localtime_r(&now, &t);
  char d[16], h[16];
  std::strftime(d, sizeof d, "%Y%m%d", &t);
  std::strftime(h, sizeof h, "%H%M%S", &t);
  id.date = o.content_date.empty() ? d : o.content_date;
  id.time = o.content_time.empty() ? h : o.content_time;
  return id;
}

void put(DcmItem& d, const DcmTagKey& key, const std::string& value) {
  if (!value.empty()) d.putAndInsertString(key, value.c_str());
}

// Patient, General Study and Patient Study attributes, copied verbatim.
void copy_patient_study(DcmItem& d, const SourceInfo& s) {
  put(d, DCM_SpecificCharacterSet, s.specific_character_set);
  d.putAndInsertString(DCM_PatientName, s.patient_name.c_str());  // type 2: present even when empty
  d.putAndInsertString(DCM_PatientID, s.patient_id.c_str());
  put(d, DCM_IssuerOfPatientID, s.issuer_of_patient_id);
  d.putAndInsertString(DCM_PatientBirthDate, s.patient_birth_date.c_str());
  d.putAndInsertString(DCM_PatientSex, s.patient_sex.c_str());
  put(d, DCM_PatientAge, s.patient_age);
  d.putAndInsertString(DCM_StudyInstanceUID, s.study_instance_uid.c_str());
  d.putAndInsertString(DCM_StudyDate, s.study_date.c_str());
  d.putAndInsertString(DCM_StudyTime, s.study_time.c_str());
  d.putAndInsertString(DCM_StudyID, s.study_id.c_str());
  d.putAndInsertString(DCM_AccessionNumber, s.accession_number.c_str());
  d.putAndInsertString(DCM_ReferringPhysicianName, s.referring_physician_name.c_str());
  put(d, DCM_StudyDescription, s.study_description);
}

void check_dcmtk(const OFCondition& c, const char* what) {
  LAI_CHECK_KIND(ErrorKind::internal, c.good(), what, ": DCMTK: ", c.text());
}

// The whole file (preamble, meta header, data set) as explicit VR little endian bytes.
std::vector<uint8_t> encode_file(DcmFileFormat& ff, const char* what) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 16);
  DcmOutputBufferStream stream(chunk.data(), offile_off_t(chunk.size()));
  auto drain = [&] {
    void* p = nullptr;
    offile_off_t n = 0;
    stream.flushBuffer(p, n);
    if (n > 0) out.insert(out.end(), static_cast<uint8_t*>(p), static_cast<uint8_t*>(p) + n);
  };
  ff.transferInit();
  OFCondition c;
  while ((c = ff.write(stream, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr, EGL_recalcGL, EPD_noChange,
                       0, 0, 0, EWM_createNewMeta)) == EC_StreamNotifyClient)
    drain();
  ff.transferEnd();
  check_dcmtk(c, what);
  stream.flush();
  drain();
  return out;
}

// ---- the SR tree ----

class Report {
 public:
  explicit Report(DSRDocumentTree& tree) : tree_(tree) {}
  void item(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type, const DSRCodedEntryValue& name,
            bool child = false) {
    check_dcmtk(child ? tree_.addChildContentItem(rel, type, name) : tree_.addContentItem(rel, type, name),
                "SR content item");
  }
  void text(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue& name, const std::string& v, bool child = false) {
    item(rel, DSRTypes::VT_Text, name, child);
    check_dcmtk(tree_.getCurrentContentItem().setStringValue(code_text(v, 1024), false), "SR text");
  }
  void uid(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue& name, const std::string& v, bool child = false) {
    item(rel, DSRTypes::VT_UIDRef, name, child);
    check_dcmtk(tree_.getCurrentContentItem().setStringValue(v), "SR UID");
  }
  void code(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue& name, const DSRCodedEntryValue& v,
            bool child = false) {
    item(rel, DSRTypes::VT_Code, name, child);
    check_dcmtk(tree_.getCurrentContentItem().setCodeValue(v), "SR code");
  }
  void num(const DSRCodedEntryValue& name, double v, const DSRCodedEntryValue& unit, bool child = false) {
    item(DSRTypes::RT_contains, DSRTypes::VT_Num, name, child);
    check_dcmtk(tree_.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(fmt(v), unit)), "SR number");
  }
  // The source image, as a child of the current item (image items have no name name).
  void image(DSRTypes::E_RelationshipType rel, const SourceInfo& s) {
    LAI_CHECK_KIND(ErrorKind::internal, tree_.addContentItem(rel, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent) > 0,
                   "SR image reference: DCMTK refused it");
    check_dcmtk(tree_.getCurrentContentItem().setImageReference(DSRImageReferenceValue(s.sop_class_uid, s.sop_instance_uid)),
                "SR image reference");
  }
  void up() { tree_.goUp(); }
  DSRDocumentTree& tree() { return tree_; }

 private:
  DSRDocumentTree& tree_;
};

DSRCodedEntryValue liteai_code(const std::string& value, const std::string& meaning) {
  return DSRCodedEntryValue(code_text(value, 64), kScheme, code_text(meaning, 64));
}

// TID 4019 under the current measurement: which algorithm made it.
void algorithm(Report& r, const Findings& f) {
  r.text(DSRTypes::RT_hasConceptMod, CODE_DCM_AlgorithmName, f.model_name.empty() ? "unnamed" : f.model_name, true);
  r.text(DSRTypes::RT_hasConceptMod, CODE_DCM_AlgorithmVersion, f.model_version.empty() ? "unknown" : f.model_version);
  r.up();
}

// A TID 1501 Measurement Group, the cursor left on its Finding.
void group(Report& r, const std::string& tracking, const std::string& tracking_uid, const DSRCodedEntryValue& finding,
           bool first) {
  r.item(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_MeasurementGroup, first);
  r.text(DSRTypes::RT_hasObsContext, CODE_DCM_TrackingIdentifier, tracking, true);
  r.uid(DSRTypes::RT_hasObsContext, CODE_DCM_TrackingUniqueIdentifier, tracking_uid);
  r.code(DSRTypes::RT_contains, CODE_DCM_Finding, finding);
}

void build_report(DSRDocument& doc, const SourceInfo& s, const Findings& f, const std::string& instance_uid) {
  Report r(doc.getTree());
  DSRDocumentTree& tree = r.tree();
  check_dcmtk(tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container, CODE_DCM_ImagingMeasurementReport),
              "SR root");
  check_dcmtk(tree.getCurrentContentItem().setTemplateIdentification("1500", "DCMR"), "SR template");
  r.code(DSRTypes::RT_hasConceptMod, CODE_DCM_LanguageOfContentItemAndDescendants,
         DSRCodedEntryValue("eng", "RFC5646", "English"), true);
  // TID 1001/1004: the observer is the device liteai, running this model.
  r.code(DSRTypes::RT_hasObsContext, CODE_DCM_ObserverType, CODE_DCM_Device);
  r.uid(DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverUID, name_uid({"liteai device", f.model_name, f.model_version}));
  r.text(DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverName, kMarker);
  r.text(DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverManufacturer, kMarker);
  r.text(DSRTypes::RT_hasObsContext, CODE_DCM_DeviceObserverModelName, f.model_name.empty() ? "unnamed" : f.model_name);
  r.code(DSRTypes::RT_hasConceptMod, CODE_DCM_ProcedureReported,
         DSRCodedEntryValue("363679005", "SCT", "Imaging procedure"));
  // TID 1600: the source image.
  r.item(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibrary);
  r.item(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImageLibraryGroup, true);
  r.image(DSRTypes::RT_contains, s);
  r.up();
  r.up();
  // The measurements.
  r.item(DSRTypes::RT_contains, DSRTypes::VT_Container, CODE_DCM_ImagingMeasurements);
  bool first = true;
  auto next_group = [&](const std::string& tracking, const std::string& key, const DSRCodedEntryValue& finding) {
    group(r, tracking, name_uid({"liteai tracking", instance_uid, key}), finding, first);
    first = false;
  };
  for (const ClassProbability& c : f.classes) {
    next_group("class " + c.name, "class " + c.name, liteai_code(c.name, c.name));
    r.num(CODE_DCM_Probability, c.probability, DSRCodedEntryValue("1", "UCUM", "no units"));
    algorithm(r, f);
    r.up();
  }
  if (f.has_anomaly_score) {
    next_group("anomaly score", "anomaly", liteai_code("anomaly", "Improbable intensities (weighted probability map)"));
    r.num(liteai_code("anomaly-score", "Anomaly score"), f.anomaly_score, DSRCodedEntryValue("1", "UCUM", "no units"));
    algorithm(r, f);
    r.up();
  }
  const bool mm = s.row_spacing_mm > 0 && s.column_spacing_mm > 0;
  for (size_t k = 0; k < f.circles.size(); ++k) {
    const Circle& c = f.circles[k];
    next_group("circle " + std::to_string(k + 1), "circle " + std::to_string(k), liteai_code("round-object", "Round object"));
    // TID 1410: the region, a circle given by its centre and a point on it (SCOORD columns and
    // rows count from the top-left corner of the top-left pixel: add half a pixel).
    r.item(DSRTypes::RT_contains, DSRTypes::VT_SCoord, CODE_DCM_ImageRegion);
    DSRSpatialCoordinatesValue circle(DSRTypes::GT_Circle);
    circle.getGraphicDataList().addItem(Float32(c.x + 0.5), Float32(c.y + 0.5));
    circle.getGraphicDataList().addItem(Float32(c.x + 0.5 + c.radius), Float32(c.y + 0.5));
    check_dcmtk(tree.getCurrentContentItem().setSpatialCoordinates(circle), "SR circle");
    r.image(DSRTypes::RT_selectedFrom, s);
    r.up();
    const double diameter = 2 * c.radius * (mm ? (s.row_spacing_mm + s.column_spacing_mm) / 2 : 1);
    r.num(DSRCodedEntryValue("81827009", "SCT", "Diameter"), diameter, mm ? CODE_UCUM_Millimeter : CODE_UCUM_Pixels);
    algorithm(r, f);
    r.num(liteai_code("circle-score", "Circle detection score"), c.score, DSRCodedEntryValue("1", "UCUM", "no units"));
    algorithm(r, f);
    r.up();
  }
}

}  // namespace

std::vector<uint8_t> encode_sr(const SourceInfo& s, const Findings& f, const OutputOptions& o) {
  check_source(s, "encode_sr");
  const Identity id = identity(s, f, o, "sr", 9901, "results");
  DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
  check_dcmtk(doc.createNewSeriesInStudy(s.study_instance_uid, false), "SR study");
  doc.setManufacturer(kMarker);
  doc.setSeriesDescription(id.description, false);
  doc.setSeriesNumber(id.series_number, false);
  doc.setInstanceNumber("1", false);
  doc.setContentDate(id.date, false);
  doc.setContentTime(id.time, false);
  doc.getCurrentRequestedProcedureEvidence().addItem(s.study_instance_uid, s.series_instance_uid, s.sop_class_uid,
                                                      s.sop_instance_uid, false);
  doc.getCodingSchemeIdentification().addItem(kScheme, name_uid({"liteai coding scheme"}), "liteai concepts", "liteai",
                                              false);
  build_report(doc, s, f, id.instance_uid);
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  check_dcmtk(doc.write(d), "SR document");
  // The study as the source has it; the new series and instance under liteai's UIDs.
  copy_patient_study(d, s);
  d.putAndInsertString(DCM_SeriesInstanceUID, id.series_uid.c_str());
  d.putAndInsertString(DCM_SOPInstanceUID, id.instance_uid.c_str());
  return encode_file(ff, "encode_sr");
}

std::vector<uint8_t> encode_secondary_capture(const SourceInfo& s, const Findings& f, const uint8_t* rgb, int width,
                                              int height, int stride, const OutputOptions& o) {
  check_source(s, "encode_secondary_capture");
  LAI_CHECK(rgb != nullptr, "encode_secondary_capture: no pixels");
  LAI_CHECK(width > 0 && height > 0 && width <= 65535 && height <= 65535, "encode_secondary_capture: size ", width, "x",
            height, " (1 to 65535 each)");
  const size_t row = size_t(width) * 3;
  LAI_CHECK(stride == 0 || size_t(stride) >= row, "encode_secondary_capture: stride ", stride, " below ", row,
            " bytes per row");
  const Identity id = identity(s, f, o, "sc", 9902, "overlay");
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  put(d, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  put(d, DCM_SOPInstanceUID, id.instance_uid);
  copy_patient_study(d, s);
  // General Series, SC Equipment, General Image
  put(d, DCM_Modality, "OT");
  put(d, DCM_SeriesInstanceUID, id.series_uid);
  put(d, DCM_SeriesNumber, id.series_number);
  put(d, DCM_SeriesDescription, id.description);
  put(d, DCM_Manufacturer, kMarker);
  put(d, DCM_ConversionType, "WSD");
  put(d, DCM_InstanceNumber, "1");
  put(d, DCM_ContentDate, id.date);
  put(d, DCM_ContentTime, id.time);
  put(d, DCM_ImageType, "DERIVED\\SECONDARY");
  put(d, DCM_DerivationDescription,
      code_text(str_cat("liteai anomaly overlay, ", f.model_name.empty() ? "model" : f.model_name, " ", f.model_version), 1024));
  put(d, DCM_BurnedInAnnotation, "NO");
  put(d, DCM_LossyImageCompression, "00");
  DcmItem* ref = nullptr;
  check_dcmtk(d.findOrCreateSequenceItem(DCM_SourceImageSequence, ref, -2), "SC source image");
  put(*ref, DCM_ReferencedSOPClassUID, s.sop_class_uid);
  put(*ref, DCM_ReferencedSOPInstanceUID, s.sop_instance_uid);
  if (!s.frame_of_reference_uid.empty()) put(d, DCM_FrameOfReferenceUID, s.frame_of_reference_uid);
  // Image Pixel: RGB, 8 bits, interleaved.
  d.putAndInsertUint16(DCM_SamplesPerPixel, 3);
  put(d, DCM_PhotometricInterpretation, "RGB");
  d.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  d.putAndInsertUint16(DCM_Rows, Uint16(height));
  d.putAndInsertUint16(DCM_Columns, Uint16(width));
  d.putAndInsertUint16(DCM_BitsAllocated, 8);
  d.putAndInsertUint16(DCM_BitsStored, 8);
  d.putAndInsertUint16(DCM_HighBit, 7);
  d.putAndInsertUint16(DCM_PixelRepresentation, 0);
  std::vector<Uint8> px(row * size_t(height) + (row * size_t(height)) % 2);  // even length
  for (int y = 0; y < height; ++y)
    std::copy(rgb + size_t(y) * (stride ? size_t(stride) : row), rgb + size_t(y) * (stride ? size_t(stride) : row) + row,
              px.begin() + long(size_t(y) * row));
  check_dcmtk(d.putAndInsertUint8Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size())), "SC pixels");
  return encode_file(ff, "encode_secondary_capture");
}

void write_sr(const std::string& path, const SourceInfo& s, const Findings& f, const OutputOptions& o) {
  const std::vector<uint8_t> bytes = encode_sr(s, f, o);
  io::atomic_write_file(path, bytes.data(), bytes.size());
}

void write_secondary_capture(const std::string& path, const SourceInfo& s, const Findings& f, const uint8_t* rgb,
                             int width, int height, int stride, const OutputOptions& o) {
  const std::vector<uint8_t> bytes = encode_secondary_capture(s, f, rgb, width, height, stride, o);
  io::atomic_write_file(path, bytes.data(), bytes.size());
}

}  // namespace liteai::interop::dicom
