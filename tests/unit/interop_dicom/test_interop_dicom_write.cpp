// DICOM out: the TID 1500 structured report and the RGB Secondary Capture, written from a
// SYNTHETIC phantom source and read back by DCMTK's dsrdump/dcmdump/dcm2pnm and its API.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data_fixtures.hpp"
#include "dicom_fixtures.hpp"
#include "dcmtk/dcmsr/dsrdoc.h"
#include "liteai/core/error.hpp"
#include "liteai/interop/dicom.hpp"

namespace fs = std::filesystem;
namespace dcm = liteai::interop::dicom;
namespace fx = liteai::test::dicom;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a DCMTK tool; its stdout and stderr.
struct Output {
  int rc = -1;
  std::string out, err;
};
Output tool(const std::string& cmd, const std::string& dir) {
  Output o;
  o.rc = std::system((cmd + " >" + dir + "/out.txt 2>" + dir + "/err.txt").c_str());
  o.out = read_text(dir + "/out.txt");
  o.err = read_text(dir + "/err.txt");
  return o;
}

std::string get(DcmItem& d, const DcmTagKey& k) {
  OFString v;
  d.findAndGetOFStringArray(k, v);
  return v.c_str();
}

dcm::Findings example_findings() {
  dcm::Findings f;
  f.model_name = "compact_cxr";
  f.model_version = "liteai 0.1 / 5f3a9c";
  f.classes = {{"normal", 0.125}, {"foreign_body", 0.75}, {"effusion", 0.125}};
  f.has_anomaly_score = true;
  f.anomaly_score = 3.5;
  f.circles = {{40.25, 30.5, 6.0, 12.5}, {70, 50, 4.5, 8}};
  return f;
}

struct Source {
  std::string dir, path;
  dcm::SourceInfo info;
};
Source make_source(const std::string& name) {
  Source s;
  s.dir = liteai::test::temp_dir(name);
  s.path = s.dir + "/source.dcm";
  fx::Spec spec;
  spec.window = {{2000, 3000}};
  fx::write(s.path, spec);
  s.info = dcm::read(s.path).info;
  return s;
}

}  // namespace

TEST_CASE("dicom write: the SR links to the source study and holds the TID 1500 report") {
  const Source src = make_source("dicom_sr");
  const dcm::Findings f = example_findings();
  const std::string sr = src.dir + "/result_sr.dcm";
  dcm::write_sr(sr, src.info, f);

  // DCMTK's API: the header.
  DcmFileFormat ff;
  REQUIRE(ff.loadFile(sr.c_str()).good());
  DcmDataset& d = *ff.getDataset();
  CHECK(get(d, DCM_SOPClassUID) == UID_ComprehensiveSRStorage);
  CHECK(get(d, DCM_Modality) == "SR");
  CHECK(get(d, DCM_StudyInstanceUID) == src.info.study_instance_uid);
  CHECK(get(d, DCM_SeriesInstanceUID) != src.info.series_instance_uid);
  CHECK(get(d, DCM_SeriesInstanceUID).rfind("2.25.", 0) == 0);
  CHECK(get(d, DCM_SOPInstanceUID).rfind("2.25.", 0) == 0);
  CHECK(get(d, DCM_SOPInstanceUID).size() <= 64);
  CHECK(get(d, DCM_PatientName) == "Phantom^Synthetic");
  CHECK(get(d, DCM_PatientID) == "SYN-0001");
  CHECK(get(d, DCM_AccessionNumber) == "ACC1");
  CHECK(get(d, DCM_StudyDate) == "20240102");
  CHECK(get(d, DCM_Manufacturer) == "liteai");
  CHECK(get(d, DCM_SeriesDescription) == "liteai compact_cxr results");
  // The source in the evidence: study, series and instance.
  DcmItem* ev = nullptr;
  REQUIRE(d.findAndGetSequenceItem(DCM_CurrentRequestedProcedureEvidenceSequence, ev, 0).good());
  CHECK(get(*ev, DCM_StudyInstanceUID) == src.info.study_instance_uid);
  DcmItem* series = nullptr;
  REQUIRE(ev->findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good());
  CHECK(get(*series, DCM_SeriesInstanceUID) == src.info.series_instance_uid);
  DcmItem* inst = nullptr;
  REQUIRE(series->findAndGetSequenceItem(DCM_ReferencedSOPSequence, inst, 0).good());
  CHECK(get(*inst, DCM_ReferencedSOPInstanceUID) == src.info.sop_instance_uid);
  CHECK(get(*inst, DCM_ReferencedSOPClassUID) == src.info.sop_class_uid);
  // DCMTK reads it back as a valid Comprehensive SR document.
  DSRDocument doc;
  REQUIRE(doc.read(d).good());
  CHECK(doc.isValid());
  CHECK(doc.getDocumentType() == DSRTypes::DT_ComprehensiveSR);

  // dsrdump: the tree, item by item.
  if (!fx::have_program("/usr/bin/dsrdump")) {
    WARN("dsrdump not found (Debian package dcmtk): the SR tree is not checked");
    return;
  }
  // Every code, UID and value printed in full, with the template identification.
  const Output o = tool("dsrdump +Pc +Pu +Pl +Psu +Pt '" + sr + "'", src.dir);
  INFO(o.out << o.err);
  REQUIRE(o.rc == 0);
  CHECK(o.err.find("E:") == std::string::npos);
  CHECK(o.err.find("W:") == std::string::npos);
  const std::string& t = o.out;
  CHECK_THAT(t, Catch::Contains("<CONTAINER:(126000,DCM,\"Imaging Measurement Report\")=SEPARATE>  # TID 1500 (DCMR)"));
  CHECK_THAT(t, Catch::Contains("(121005,DCM,\"Observer Type\")=(121007,DCM,\"Device\")"));
  CHECK_THAT(t, Catch::Contains("(121013,DCM,\"Device Observer Name\")=\"liteai\""));
  CHECK_THAT(t, Catch::Contains("(121015,DCM,\"Device Observer Model Name\")=\"compact_cxr\""));
  const std::string image = "IMAGE:=(\"" + src.info.sop_class_uid + "\",\"" + src.info.sop_instance_uid + "\")>";
  CHECK_THAT(t, Catch::Contains("<contains " + image));
  CHECK_THAT(t, Catch::Contains("(121071,DCM,\"Finding\")=(foreign_body,99LITEAI,\"foreign_body\")"));
  CHECK_THAT(t, Catch::Contains("NUM:(122157,DCM,\"Probability\")=\"0.75\" (1,UCUM,\"no units\")"));
  CHECK_THAT(t, Catch::Contains("NUM:(122157,DCM,\"Probability\")=\"0.125\" (1,UCUM,\"no units\")"));
  CHECK_THAT(t, Catch::Contains("(111001,DCM,\"Algorithm Name\")=\"compact_cxr\""));
  CHECK_THAT(t, Catch::Contains("(111003,DCM,\"Algorithm Version\")=\"liteai 0.1 / 5f3a9c\""));
  CHECK_THAT(t, Catch::Contains("(anomaly-score,99LITEAI,\"Anomaly score\")=\"3.5\""));
  // Circle 1: centre (40.25, 30.5) + half a pixel, radius 6; diameter 12 px x mean spacing 0.225 mm.
  CHECK_THAT(t, Catch::Contains("SCOORD:(111030,DCM,\"Image Region\")=(CIRCLE,40.75/31,46.75/31)>"));
  CHECK_THAT(t, Catch::Contains("(81827009,SCT,\"Diameter\")=\"2.7\" (mm,UCUM,\"millimeter\")"));
  CHECK_THAT(t, Catch::Contains("(circle-score,99LITEAI,\"Circle detection score\")=\"12.5\""));
  CHECK_THAT(t, Catch::Contains("SCOORD:(111030,DCM,\"Image Region\")=(CIRCLE,70.5/50.5,75/50.5)>"));
  CHECK_THAT(t, Catch::Contains("<selected from " + image));
  // One measurement group per class, anomaly score and circle.
  size_t groups = 0;
  for (size_t p = t.find("\"Measurement Group\""); p != std::string::npos; p = t.find("\"Measurement Group\"", p + 1))
    ++groups;
  CHECK(groups == f.classes.size() + 1 + f.circles.size());
}

TEST_CASE("dicom write: UIDs are derived by name: the same results give the same instance") {
  const Source src = make_source("dicom_uids");
  dcm::Findings f = example_findings();
  auto uids = [&](const std::vector<uint8_t>& bytes) {
    const std::string p = src.dir + "/x.dcm";
    liteai::test::write_bytes(p, bytes);
    DcmFileFormat ff;
    REQUIRE(ff.loadFile(p.c_str()).good());
    return std::make_pair(get(*ff.getDataset(), DCM_SeriesInstanceUID), get(*ff.getDataset(), DCM_SOPInstanceUID));
  };
  const auto a = uids(dcm::encode_sr(src.info, f));
  CHECK(uids(dcm::encode_sr(src.info, f)) == a);
  f.classes[1].probability = 0.5;
  const auto b = uids(dcm::encode_sr(src.info, f));
  CHECK(b.first == a.first);    // same series: same model on the same source series
  CHECK(b.second != a.second);  // another result: another instance
  dcm::OutputOptions o;
  o.sop_instance_uid = "1.2.3.4.5";
  o.series_instance_uid = "1.2.3.4";
  CHECK(uids(dcm::encode_sr(src.info, f, o)) == std::make_pair(std::string("1.2.3.4"), std::string("1.2.3.4.5")));
  const std::vector<uint8_t> rgb(size_t(8) * 6 * 3, 9);
  const auto sc = uids(dcm::encode_secondary_capture(src.info, f, rgb.data(), 8, 6));
  CHECK(sc.first != a.first);    // its own series
  CHECK(sc.second != b.second);
}

TEST_CASE("dicom write: the Secondary Capture holds the overlay's pixels and links to the source") {
  const Source src = make_source("dicom_sc");
  const dcm::Findings f = example_findings();
  const int w = 37, h = 21;  // odd sizes: rows of 111 bytes
  const int stride = w * 3 + 5;
  std::vector<uint8_t> rgb(size_t(stride) * h, 0xEE);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) rgb[size_t(y) * stride + size_t(x) * 3 + size_t(c)] = uint8_t(x * 7 + y * 3 + c * 80);
  const std::string sc = src.dir + "/overlay_sc.dcm";
  dcm::write_secondary_capture(sc, src.info, f, rgb.data(), w, h, stride);

  DcmFileFormat ff;
  REQUIRE(ff.loadFile(sc.c_str()).good());
  DcmDataset& d = *ff.getDataset();
  CHECK(get(d, DCM_SOPClassUID) == UID_SecondaryCaptureImageStorage);
  CHECK(get(d, DCM_StudyInstanceUID) == src.info.study_instance_uid);
  CHECK(get(d, DCM_SeriesInstanceUID) != src.info.series_instance_uid);
  CHECK(get(d, DCM_PatientName) == "Phantom^Synthetic");
  CHECK(get(d, DCM_ImageType) == "DERIVED\\SECONDARY");
  CHECK(get(d, DCM_PhotometricInterpretation) == "RGB");
  CHECK(get(d, DCM_Modality) == "OT");
  DcmItem* ref = nullptr;
  REQUIRE(d.findAndGetSequenceItem(DCM_SourceImageSequence, ref, 0).good());
  CHECK(get(*ref, DCM_ReferencedSOPInstanceUID) == src.info.sop_instance_uid);
  const Uint8* px = nullptr;
  unsigned long n = 0;
  REQUIRE(d.findAndGetUint8Array(DCM_PixelData, px, &n).good());
  REQUIRE(n >= size_t(w) * h * 3);
  bool same = true;
  for (int y = 0; y < h; ++y)
    for (int i = 0; i < w * 3; ++i) same = same && px[size_t(y) * w * 3 + size_t(i)] == rgb[size_t(y) * stride + size_t(i)];
  CHECK(same);
  // The reader refuses it as what it is: a colour image.
  std::string msg;
  try {
    dcm::read(sc);
  } catch (const liteai::Error& e) {
    msg = e.what();
  }
  CHECK_THAT(msg, Catch::Contains("colour"));

  // pydicom (an independent parser) reads the same pixels.
  if (fx::have_pydicom()) {
    const std::string raw = src.dir + "/sc.raw";
    REQUIRE(tool("/usr/bin/python3 -c \"import pydicom,sys; d=pydicom.dcmread(sys.argv[1]); "
                 "open(sys.argv[2],'wb').write(d.pixel_array.tobytes()); print(d.StudyInstanceUID)\" '" + sc + "' " + raw,
                 src.dir)
                .rc == 0);
    const std::vector<uint8_t> got = liteai::test::read_bytes(raw);
    REQUIRE(got.size() == size_t(w) * h * 3);
    same = true;
    for (int y = 0; y < h; ++y)
      for (int i = 0; i < w * 3; ++i) same = same && got[size_t(y) * w * 3 + size_t(i)] == rgb[size_t(y) * stride + size_t(i)];
    CHECK(same);
  }
  // dcm2pnm decodes it to the same RGB (DCMTK's image toolkit, not the dataset API above).
  if (!fx::have_program("/usr/bin/dcm2pnm")) {
    WARN("dcm2pnm not found (Debian package dcmtk): the Secondary Capture's pixels are not decoded by DCMTK");
    return;
  }
  REQUIRE(tool("dcm2pnm +op '" + sc + "' " + src.dir + "/sc.ppm", src.dir).rc == 0);
  const std::vector<uint8_t> ppm = liteai::test::read_bytes(src.dir + "/sc.ppm");
  const std::string header = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  REQUIRE(ppm.size() == header.size() + size_t(w) * h * 3);
  CHECK(std::string(ppm.begin(), ppm.begin() + long(header.size())) == header);
  same = true;
  for (int y = 0; y < h; ++y)
    for (int i = 0; i < w * 3; ++i)
      same = same && ppm[header.size() + size_t(y) * w * 3 + size_t(i)] == rgb[size_t(y) * stride + size_t(i)];
  CHECK(same);
}

TEST_CASE("dicom write: results without a source identity, or with bad pixels, are refused") {
  Source src = make_source("dicom_write_errors");
  const dcm::Findings f = example_findings();
  dcm::SourceInfo none = src.info;
  none.study_instance_uid.clear();
  CHECK_THROWS_WITH(dcm::encode_sr(none, f), Catch::Contains("Study Instance UID"));
  const std::vector<uint8_t> rgb(300, 1);
  CHECK_THROWS_WITH(dcm::encode_secondary_capture(src.info, f, rgb.data(), 10, 10, 20), Catch::Contains("stride"));
  CHECK_THROWS_WITH(dcm::encode_secondary_capture(src.info, f, nullptr, 10, 10), Catch::Contains("no pixels"));
  CHECK_THROWS_WITH(dcm::encode_secondary_capture(src.info, f, rgb.data(), 0, 10), Catch::Contains("size"));
  // No findings at all still make a valid (empty) report.
  const std::vector<uint8_t> empty = dcm::encode_sr(src.info, dcm::Findings{});
  CHECK(empty.size() > 132);
}
