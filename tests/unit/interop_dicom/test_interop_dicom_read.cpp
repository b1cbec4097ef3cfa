// DICOM in: files the test writes from SYNTHETIC phantoms (each photometric interpretation, bit
// depth, sign, rescale, window and VOI LUT; every transfer syntax DCMTK encodes) and the sample
// files Debian's python3-pydicom ships, checked against independent decodes: the documented
// formulas applied to the known stored values, pydicom, and DCMTK's dcm2pnm.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "data_fixtures.hpp"
#include "dicom_fixtures.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/codec.hpp"
#include "liteai/data/dataset.hpp"
#include "liteai/data/loader.hpp"
#include "liteai/interop/dicom.hpp"

namespace fs = std::filesystem;
namespace dcm = liteai::interop::dicom;
namespace fx = liteai::test::dicom;
using liteai::Error;
using liteai::ErrorKind;

namespace {

const std::string kPydicomScript = std::string(LITEAI_TEST_SOURCE_DIR) + "/pydicom_reference.py";
const std::string kPydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data";

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

struct Reference {
  std::string status, reason;
  std::vector<float> values;
};

// pydicom's decodes of the files, in one Python run (tests/unit/interop_dicom/pydicom_reference.py).
std::vector<Reference> pydicom_references(const std::vector<std::string>& paths, const std::string& dir) {
  const std::string out = dir + "/pydicom";
  fs::remove_all(out);
  fs::create_directories(out);
  std::string cmd = "/usr/bin/python3 " + kPydicomScript + " " + out;
  for (const std::string& p : paths) cmd += " '" + p + "'";
  std::system((cmd + " >" + out + "/verdicts.txt 2>/dev/null").c_str());
  std::vector<Reference> refs(paths.size());
  std::ifstream in(out + "/verdicts.txt");
  size_t k;
  while (in >> k) {
    REQUIRE(k < refs.size());
    in >> refs[k].status;
    std::getline(in, refs[k].reason);
    if (refs[k].status == "image") refs[k].values = liteai::data::read_npy(out + "/" + std::to_string(k) + ".npy", nullptr);
  }
  return refs;
}

// DCMTK's own rendering: dcm2pnm to a 16-bit PNG with the VOI the reader chose (its default,
// no windowing, is the full range). Not for VOI LUTs: dcm2pnm widens an n-bit LUT's output to
// 16 bits by a shift (255 -> 65280), not onto the whole range.
std::vector<float> dcm2pnm_reference(const std::string& path, const dcm::SourceInfo& info, const std::string& dir) {
  if (info.voi == "VOI LUT") return {};
  const std::string voi = info.voi.rfind("window", 0) == 0 ? "+Wi 1" : "";
  const std::string png = dir + "/ref.png";
  fs::remove(png);
  if (fx::run("dcm2pnm +on2 " + voi + " '" + path + "' " + png) != 0 || !fs::exists(png)) return {};
  return liteai::data::decode_image(png).pixels;
}

// How far dcm2pnm may be from us: it rounds to integers and rounds rescaled values to whole
// modality units before the window; its full range differs from ours by up to a stored level
// at the ends.
double dcm2pnm_tolerance(const dcm::SourceInfo& info) {
  if (info.voi == "full range") return 1.5 * 65535.0 / ((1 << info.bits_stored) - 1);
  const bool whole_units = info.rescale_slope == std::round(info.rescale_slope);
  return 1.5 + (whole_units ? 0 : 65535.0 / (info.window_width - 1));
}

ErrorKind kind_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  FAIL("no error was thrown");
  return ErrorKind::internal;
}

struct Case {
  const char* name;
  fx::Spec spec;
  bool pydicom = true;  // pydicom reads it the same way (not so for a high bit above bits stored - 1)
};

std::vector<Case> photometric_cases() {
  std::vector<Case> cs;
  auto add = [&](const char* name, auto edit, bool py = true) {
    fx::Spec s;
    edit(s);
    cs.push_back({name, s, py});
  };
  add("8-bit MONOCHROME2, full range", [](fx::Spec& s) { s.bits_allocated = s.bits_stored = 8; });
  add("8-bit MONOCHROME1, full range", [](fx::Spec& s) {
    s.bits_allocated = s.bits_stored = 8;
    s.photometric = "MONOCHROME1";
  });
  add("12-bit MONOCHROME2, window", [](fx::Spec& s) { s.window = {{2000, 3000}}; });
  add("12-bit MONOCHROME1, window", [](fx::Spec& s) {
    s.window = {{2000, 3000}};
    s.photometric = "MONOCHROME1";
  });
  add("10-bit MONOCHROME2 with Presentation LUT Shape INVERSE, full range", [](fx::Spec& s) {
    s.bits_stored = 10;
    s.presentation_lut_shape = "INVERSE";
  });
  add("16-bit unsigned, rescale 0.5/-1024, window", [](fx::Spec& s) {
    s.bits_stored = 16;
    s.rescale = {{0.5, -1024}};
    s.window = {{14000, 20000}};
  });
  add("16-bit unsigned, rescale 2/100, full range", [](fx::Spec& s) {
    s.bits_stored = 16;
    s.rescale = {{2, 100}};
  });
  add("12-bit signed, intercept 2048, LINEAR_EXACT window", [](fx::Spec& s) {
    s.is_signed = true;
    s.rescale = {{1, 2048}};
    s.window = {{2048, 3000}};
    s.voi_function = "LINEAR_EXACT";
  });
  add("16-bit signed, SIGMOID window", [](fx::Spec& s) {
    s.bits_stored = 16;
    s.is_signed = true;
    s.rescale = {{1, 32768}};
    s.window = {{30000, 20000}};
    s.voi_function = "SIGMOID";
  });
  add("12-bit signed, full range", [](fx::Spec& s) { s.is_signed = true; });
  add("8-bit signed MONOCHROME1, window", [](fx::Spec& s) {
    s.bits_allocated = s.bits_stored = 8;
    s.is_signed = true;
    s.photometric = "MONOCHROME1";
    s.window = {{-10, 180}};
  });
  add("12-bit VOI LUT Sequence", [](fx::Spec& s) {
    s.voi_lut = true;
    s.window = {{100, 200}};  // present too: the LUT wins
  });
  // pydicom 2.3 indexes an 8-bit LUT through uint8 and wraps above 255 entries: formulas only.
  add("12-bit VOI LUT Sequence of 8-bit entries", [](fx::Spec& s) {
    s.voi_lut = true;
    s.voi_lut_bits = 8;
  }, /*pydicom=*/false);
  add("12-bit signed, VOI LUT Sequence", [](fx::Spec& s) {
    s.is_signed = true;
    s.voi_lut = true;
  });
  add("12-bit Modality LUT Sequence, window", [](fx::Spec& s) {
    s.modality_lut = true;
    s.window = {{32000, 40000}};
  });
  add("12-bit Modality LUT Sequence, full range", [](fx::Spec& s) { s.modality_lut = true; });
  add("12 bits stored at high bit 15", [](fx::Spec& s) {
    s.high_bit = 15;
    s.window = {{2000, 3000}};
  }, /*pydicom=*/false);
  return cs;
}

// The formulas of dicom_fixtures.hpp cover rescale and windows; the LUT cases are computed here.
std::vector<float> expected(const fx::Spec& s, const std::vector<int32_t>& v) {
  if (!s.voi_lut && !s.modality_lut) return fx::expected_display(s, v);
  const double umax = double((1 << s.bits_stored) - 1);
  const double smin = s.is_signed ? -(umax + 1) / 2 : 0;
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double x = s.modality_lut ? double(std::lround(65535.0 * std::sqrt(v[i] / umax))) : v[i];
    double y;
    if (s.voi_lut) {
      const double top = double((1 << s.voi_lut_bits) - 1);
      y = double(std::lround(top * std::pow((x - smin) / umax, 0.6))) / top;
    } else if (s.window) {
      const double c = s.window->first, w = s.window->second;
      y = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    } else {
      y = x / 65535.0;  // the LUT's 16-bit output range
    }
    out[i] = float(std::clamp(y, 0.0, 1.0) * 65535.0);
  }
  return out;
}

}  // namespace

TEST_CASE("dicom read: photometric interpretations, bit depths, signs, rescales, windows and LUTs") {
  const std::string dir = liteai::test::temp_dir("dicom_photometric");
  const bool py = fx::have_pydicom();
  if (!py) WARN("python3-pydicom not found: values checked against the formulas only");
  const std::vector<Case> cases = photometric_cases();
  std::vector<std::string> paths;
  for (size_t k = 0; k < cases.size(); ++k) {
    paths.push_back(dir + "/" + std::to_string(k) + ".dcm");
    fx::write(paths.back(), cases[k].spec);
  }
  const std::vector<Reference> refs = py ? pydicom_references(paths, dir) : std::vector<Reference>(cases.size());
  for (size_t k = 0; k < cases.size(); ++k) {
    const fx::Spec& s = cases[k].spec;
    INFO(cases[k].name);
    const dcm::Decoded d = dcm::read(paths[k]);
    CHECK(d.image.width == s.width);
    CHECK(d.image.height == s.height);
    CHECK(d.image.max_value == 65535.f);
    CHECK(d.info.photometric_interpretation == s.photometric);
    CHECK(d.info.bits_stored == s.bits_stored);
    CHECK(d.info.is_signed == s.is_signed);
    CHECK(d.info.inverted == (s.photometric == "MONOCHROME1" || s.presentation_lut_shape == "INVERSE"));
    CHECK(d.info.voi == (s.voi_lut  ? "VOI LUT"
                         : s.window ? "window " + (s.voi_function.empty() ? "LINEAR" : s.voi_function)
                                    : "full range"));
    // The display values the formulas give for the known stored values, to the nearest level.
    CHECK(max_abs_diff(d.image.pixels, expected(s, fx::stored_values(s))) <= 0.5);
    CHECK(std::all_of(d.image.pixels.begin(), d.image.pixels.end(), [](float v) { return v == std::round(v); }));
    // Not flat: the phantom's anatomy spans much of the display range.
    const auto [lo, hi] = std::minmax_element(d.image.pixels.begin(), d.image.pixels.end());
    CHECK(*hi - *lo > 10000.f);
    if (py && cases[k].pydicom) {
      INFO("pydicom: " << refs[k].status << refs[k].reason);
      REQUIRE(refs[k].status == "image");
      CHECK(max_abs_diff(d.image.pixels, refs[k].values) <= 0.5);
    }
  }
}

TEST_CASE("dicom read: MONOCHROME1 and signed twins display like their MONOCHROME2 unsigned originals") {
  const std::string dir = liteai::test::temp_dir("dicom_twins");
  fx::Spec base;
  base.window = {{2000, 3000}};
  fx::write(dir + "/base.dcm", base);
  const std::vector<float> want = dcm::read(dir + "/base.dcm").image.pixels;
  fx::Spec mono1 = base;
  mono1.photometric = "MONOCHROME1";  // stored values inverted, shown inverted
  mono1.window = {{4096 - 2000, 3000}};  // the mirrored window (LINEAR's centre sits half a level low)
  fx::write(dir + "/mono1.dcm", mono1);
  CHECK(max_abs_diff(dcm::read(dir + "/mono1.dcm").image.pixels, want) <= 1);  // each rounds to a level
  fx::Spec sign = base;
  sign.is_signed = true;  // stored values shifted down, the intercept shifts them back
  sign.rescale = {{1, 2048}};
  fx::write(dir + "/signed.dcm", sign);
  CHECK(max_abs_diff(dcm::read(dir + "/signed.dcm").image.pixels, want) == 0);
  fx::Spec high = base;
  high.high_bit = 15;  // the same 12 bits, stored at the top of the word
  fx::write(dir + "/high.dcm", high);
  CHECK(max_abs_diff(dcm::read(dir + "/high.dcm").image.pixels, want) == 0);
}

double psnr(const std::vector<float>& a, const std::vector<float>& b) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += double(a[i] - b[i]) * double(a[i] - b[i]);
  return 10 * std::log10(65535.0 * 65535.0 / (se / double(a.size())));
}

TEST_CASE("dicom read: every transfer syntax DCMTK encodes decodes to the native pixels") {
  const std::string dir = liteai::test::temp_dir("dicom_syntaxes");
  const bool py = fx::have_pydicom();
  struct Syntax {
    E_TransferSyntax xfer;
    double tolerance;  // in display levels of 65535; 0 = lossless; < 0: lossy JPEG, by PSNR
  };
  // The window is 3000 wide over 12 bits: one stored level is 65535 / 2999 = 21.85 display
  // levels; JPEG-LS near-lossless may move a stored value by 2, and each side rounds (1 level).
  const std::vector<Syntax> syntaxes = {
      {EXS_LittleEndianImplicit, 0}, {EXS_BigEndianExplicit, 0}, {EXS_DeflatedLittleEndianExplicit, 0},
      {EXS_RLELossless, 0},           {EXS_JPEGProcess14SV1, 0},  {EXS_JPEGProcess14, 0},
      {EXS_JPEGLSLossless, 0},        {EXS_JPEGLSLossy, 2 * 65535.0 / 2999 + 1}, {EXS_JPEGProcess2_4, -1},
  };
  // pydicom decodes the native variants and RLE itself: a second, independent decoder.
  auto pydicom_decodes = [](E_TransferSyntax x) {
    return x == EXS_LittleEndianImplicit || x == EXS_BigEndianExplicit || x == EXS_DeflatedLittleEndianExplicit ||
           x == EXS_RLELossless;
  };
  struct Coded {
    std::string name, path;
    Syntax syntax;
    std::vector<float> native;
  };
  std::vector<Coded> coded;
  for (bool is_signed : {false, true}) {
    fx::Spec s;
    s.window = {{2000, 3000}};
    s.is_signed = is_signed;
    if (is_signed) s.rescale = {{1, 2048}};
    const std::string native = dir + (is_signed ? "/native_signed.dcm" : "/native.dcm");
    fx::write(native, s);
    const std::vector<float> pixels = dcm::read(native).image.pixels;
    for (const Syntax& x : syntaxes) {
      // DCMTK's JPEG-LS encoder aborts on signed samples (a CharLS assertion): unsigned only.
      if (is_signed && (x.xfer == EXS_JPEGLSLossless || x.xfer == EXS_JPEGLSLossy)) continue;
      const std::string name = std::string(DcmXfer(x.xfer).getXferName()) + (is_signed ? ", signed" : ", unsigned");
      coded.push_back({name, dir + "/" + std::to_string(coded.size()) + ".dcm", x, pixels});
      fx::write(coded.back().path, s, x.xfer);
    }
  }
  std::vector<std::string> paths;
  for (const Coded& c : coded) paths.push_back(c.path);
  const std::vector<Reference> refs = py ? pydicom_references(paths, dir) : std::vector<Reference>(coded.size());
  for (size_t k = 0; k < coded.size(); ++k) {
    const Coded& c = coded[k];
    INFO(c.name);
    const dcm::Decoded d = dcm::read(c.path);
    CHECK(d.info.transfer_syntax_uid == DcmXfer(c.syntax.xfer).getXferID());
    if (c.syntax.tolerance == 0) {
      CHECK(max_abs_diff(d.image.pixels, c.native) == 0);
    } else if (c.syntax.tolerance > 0) {
      CHECK(max_abs_diff(d.image.pixels, c.native) <= c.syntax.tolerance);
    } else {
      INFO("PSNR " << psnr(d.image.pixels, c.native) << " dB");
      CHECK(psnr(d.image.pixels, c.native) > 35);
    }
    if (py && pydicom_decodes(c.syntax.xfer)) {
      INFO("pydicom: " << refs[k].status << refs[k].reason);
      REQUIRE(refs[k].status == "image");
      CHECK(max_abs_diff(d.image.pixels, refs[k].values) <= 0.5);
    }
  }
  // JPEG baseline is 8-bit only.
  fx::Spec s8;
  s8.bits_allocated = s8.bits_stored = 8;
  fx::write(dir + "/native8.dcm", s8);
  fx::write(dir + "/baseline.dcm", s8, EXS_JPEGProcess1);
  const double db = psnr(dcm::read(dir + "/baseline.dcm").image.pixels, dcm::read(dir + "/native8.dcm").image.pixels);
  INFO("JPEG baseline PSNR " << db << " dB");
  CHECK(db > 35);
  CHECK(db < 80);  // lossy: identical pixels would mean nothing was compressed
}

TEST_CASE("dicom read: DCMTK's dcm2pnm renders the windows the same way") {
  if (!fx::have_program("/usr/bin/dcm2pnm")) {
    WARN("dcm2pnm not found (Debian package dcmtk): skipped");
    return;
  }
  const std::string dir = liteai::test::temp_dir("dicom_dcm2pnm");
  for (const Case& c : photometric_cases()) {
    if (!c.spec.voi_function.empty() || c.spec.voi_lut) continue;  // LINEAR windows only, no LUTs
    SECTION(c.name) {
      fx::write(dir + "/image.dcm", c.spec);
      const dcm::Decoded d = dcm::read(dir + "/image.dcm");
      const std::vector<float> ref = dcm2pnm_reference(dir + "/image.dcm", d.info, dir);
      REQUIRE(ref.size() == d.image.pixels.size());
      CHECK(max_abs_diff(d.image.pixels, ref) < dcm2pnm_tolerance(d.info));
    }
  }
}

TEST_CASE("dicom read: the metadata the result writers need") {
  const std::string dir = liteai::test::temp_dir("dicom_meta");
  fx::Spec s;
  fx::write(dir + "/a.dcm", s);
  const dcm::SourceInfo i = dcm::read(dir + "/a.dcm").info;
  CHECK(i.study_instance_uid == "1.2.826.0.1.3680043.10.1234.1");
  CHECK(i.series_instance_uid == "1.2.826.0.1.3680043.10.1234.1.2");
  CHECK(!i.sop_instance_uid.empty());
  CHECK(i.sop_class_uid == UID_DigitalXRayImageStorageForPresentation);
  CHECK(i.patient_name == "Phantom^Synthetic");
  CHECK(i.patient_id == "SYN-0001");
  CHECK(i.patient_birth_date == "19700101");
  CHECK(i.study_date == "20240102");
  CHECK(i.accession_number == "ACC1");
  CHECK(i.referring_physician_name == "Doe^Jane");
  CHECK(i.modality == "DX");
  CHECK(i.rows == 80);
  CHECK(i.columns == 96);
  CHECK(i.row_spacing_mm == Approx(0.2));
  CHECK(i.column_spacing_mm == Approx(0.25));
  const dcm::SourceInfo p = dcm::probe_memory(liteai::test::read_bytes(dir + "/a.dcm").data(),
                                              liteai::test::read_bytes(dir + "/a.dcm").size(), "a.dcm");
  CHECK(p.sop_instance_uid == i.sop_instance_uid);
  CHECK(p.rows == 80);
}

TEST_CASE("dicom read: objects it cannot read are refused naming the file and the tag") {
  const std::string dir = liteai::test::temp_dir("dicom_refused");
  std::string msg;
  auto refused = [&](const fx::Spec& s, const std::string& file) {
    fx::write(dir + "/" + file, s);
    return kind_of([&] { dcm::read(dir + "/" + file); }, &msg);
  };
  SECTION("several frames") {
    fx::Spec s;
    s.frames = 2;
    CHECK(refused(s, "frames.dcm") == ErrorKind::not_supported);
    CHECK_THAT(msg, Catch::Contains("frames.dcm") && Catch::Contains("(0028,0008)"));
  }
  SECTION("RGB") {
    fx::Spec s;
    s.bits_allocated = s.bits_stored = 8;
    s.samples_per_pixel = 3;
    s.photometric = "RGB";
    CHECK(refused(s, "rgb.dcm") == ErrorKind::not_supported);
    CHECK_THAT(msg, Catch::Contains("rgb.dcm") && Catch::Contains("(0028,0002)") && Catch::Contains("RGB"));
  }
  SECTION("PALETTE COLOR") {
    fx::Spec s;
    s.bits_allocated = s.bits_stored = 8;
    s.photometric = "PALETTE COLOR";
    CHECK(refused(s, "palette.dcm") == ErrorKind::not_supported);
    CHECK_THAT(msg, Catch::Contains("palette.dcm") && Catch::Contains("(0028,0004)"));
  }
  SECTION("no pixel data (a structured report)") {
    DcmFileFormat ff;
    ff.getDataset()->putAndInsertString(DCM_SOPClassUID, UID_BasicTextSRStorage);
    ff.getDataset()->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4");
    ff.saveFile((dir + "/report.dcm").c_str(), EXS_LittleEndianExplicit);
    CHECK(kind_of([&] { dcm::read(dir + "/report.dcm"); }, &msg) == ErrorKind::not_supported);
    CHECK_THAT(msg, Catch::Contains("report.dcm") && Catch::Contains("(7FE0,0010)") && Catch::Contains("BasicTextSR"));
  }
  SECTION("Bits Stored above Bits Allocated") {
    fx::Spec s;
    s.bits_allocated = 8;
    s.bits_stored = 12;
    CHECK(refused(s, "bits.dcm") == ErrorKind::format);
    CHECK_THAT(msg, Catch::Contains("bits.dcm") && Catch::Contains("(0028,0101)"));
  }
  SECTION("Window Width 0") {
    fx::Spec s;
    s.window = {{2000, 0}};
    CHECK(refused(s, "width.dcm") == ErrorKind::format);
    CHECK_THAT(msg, Catch::Contains("(0028,1051)"));
  }
  SECTION("Rescale Slope 0") {
    fx::Spec s;
    s.rescale = {{0, 10}};
    CHECK(refused(s, "slope.dcm") == ErrorKind::format);
    CHECK_THAT(msg, Catch::Contains("(0028,1053)"));
  }
  SECTION("JPEG 2000 (DCMTK here has no decoder for it)") {
    const std::string j2k = kPydicomFiles + "/test_files/MR_small_jp2klossless.dcm";
    if (!fs::exists(j2k)) {
      WARN("python3-pydicom's sample files not found: skipped");
      return;
    }
    CHECK(kind_of([&] { dcm::read(j2k); }, &msg) == ErrorKind::not_supported);
    CHECK_THAT(msg, Catch::Contains("MR_small_jp2klossless.dcm") && Catch::Contains("JPEG 2000") &&
                        Catch::Contains("1.2.840.10008.1.2.4.90"));
  }
  SECTION("not DICOM at all") {
    const std::vector<uint8_t> png = liteai::data::encode_png(std::vector<uint8_t>(16, 7).data(), 4, 4, 1);
    CHECK(kind_of([&] { dcm::read_memory(png.data(), png.size(), "x.png"); }, &msg) == ErrorKind::format);
    CHECK_THAT(msg, Catch::Contains("x.png: not a DICOM file"));
  }
}

TEST_CASE("dicom read: damaged and hostile files fail cleanly within fixed limits") {
  const std::string dir = liteai::test::temp_dir("dicom_hostile");
  fx::Spec s;
  fx::write(dir + "/good.dcm", s);
  const std::vector<uint8_t> good = liteai::test::read_bytes(dir + "/good.dcm");
  // Where the Pixel Data element starts (explicit VR little endian: tag, "OW", 0, length).
  const uint8_t tag[] = {0xE0, 0x7F, 0x10, 0x00, 'O', 'W'};
  const auto at = std::search(good.begin(), good.end(), std::begin(tag), std::end(tag));
  REQUIRE(at != good.end());
  const size_t px = size_t(at - good.begin());
  std::string msg;
  SECTION("truncated in the pixel data") {
    for (size_t keep : {good.size() - 1, px + 200, px + 10, px + 3, size_t(200), size_t(140)}) {
      const std::vector<uint8_t> cut(good.begin(), good.begin() + long(keep));
      const ErrorKind k = kind_of([&] { dcm::read_memory(cut.data(), cut.size(), "cut.dcm"); }, &msg);
      INFO(keep << " bytes: " << msg);
      CHECK(k == ErrorKind::format);
    }
  }
  SECTION("a forged 4 GB Pixel Data length allocates nothing of it") {
    std::vector<uint8_t> bad = good;
    for (int k = 0; k < 4; ++k) bad[px + 8 + size_t(k)] = 0xF0 | uint8_t(k);
    CHECK(kind_of([&] { dcm::read_memory(bad.data(), bad.size(), "forged.dcm"); }, &msg) == ErrorKind::format);
    CHECK_THAT(msg, Catch::Contains("forged.dcm"));
  }
  SECTION("a forged length in the header") {
    std::vector<uint8_t> bad = good;
    // Patient Name (0010,0010) PN: a 2-byte length; make it 0xFFFE.
    const uint8_t pn[] = {0x10, 0x00, 0x10, 0x00, 'P', 'N'};
    const auto p = std::search(bad.begin(), bad.end(), std::begin(pn), std::end(pn));
    REQUIRE(p != bad.end());
    p[6] = 0xFE;
    p[7] = 0xFF;
    CHECK(kind_of([&] { dcm::read_memory(bad.data(), bad.size(), "forged.dcm"); }) == ErrorKind::format);
  }
  SECTION("sequences nested 20,000 deep (400 KB) are refused before DCMTK recurses") {
    std::vector<uint8_t> deep(good.begin(), good.begin() + long(px));  // header up to Pixel Data
    const uint8_t open[] = {0x40, 0x00, 0x30, 0xA7, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
                            0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF};
    for (int i = 0; i < 20000; ++i) deep.insert(deep.end(), std::begin(open), std::end(open));
    CHECK(kind_of([&] { dcm::read_memory(deep.data(), deep.size(), "deep.dcm"); }, &msg) == ErrorKind::format);
    CHECK_THAT(msg, Catch::Contains("nested"));
  }
  SECTION("nesting within the limit still reads") {
    std::vector<uint8_t> ok(good.begin(), good.begin() + long(px));
    const uint8_t open[] = {0x40, 0x00, 0x30, 0xA7, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
                            0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF};
    const uint8_t close[] = {0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0};
    for (int i = 0; i < 20; ++i) ok.insert(ok.end(), std::begin(open), std::end(open));
    for (int i = 0; i < 20; ++i) ok.insert(ok.end(), std::begin(close), std::end(close));
    ok.insert(ok.end(), good.begin() + long(px), good.end());
    CHECK(dcm::read_memory(ok.data(), ok.size(), "ok.dcm").image.width == s.width);
  }
  SECTION("garbage after the preamble") {
    std::vector<uint8_t> bad(good.begin(), good.begin() + 132);
    for (int i = 0; i < 4000; ++i) bad.push_back(uint8_t(i * 37 + 11));
    CHECK(kind_of([&] { dcm::read_memory(bad.data(), bad.size(), "junk.dcm"); }) != ErrorKind::internal);
  }
  SECTION("empty") {
    CHECK(kind_of([&] { dcm::read_memory(good.data(), 0, "empty.dcm"); }) == ErrorKind::format);
  }
}

TEST_CASE("dicom read: the sample files of Debian's python3-pydicom against pydicom") {
  if (!fs::exists(kPydicomFiles + "/test_files") || !fx::have_pydicom()) {
    WARN("python3-pydicom not found (apt install python3-pydicom): its sample files are not checked");
    return;
  }
  const std::string dir = liteai::test::temp_dir("dicom_pydicom");
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(kPydicomFiles))
    if (e.path().extension() == ".dcm") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() > 50);
  const std::vector<Reference> refs = pydicom_references(files, dir);
  std::map<std::string, int> tally;
  for (size_t k = 0; k < files.size(); ++k) {
    const std::string& f = files[k];
    const Reference& r = refs[k];
    INFO(fs::path(f).filename().string() << ": pydicom says " << r.status << r.reason);
    std::string msg;
    dcm::Decoded d;
    ErrorKind kind = ErrorKind::internal;
    bool ok = true;
    try {
      d = dcm::read(f);
    } catch (const Error& e) {
      ok = false;
      kind = e.kind();
      msg = e.what();
    }
    INFO("liteai: " << (ok ? "read " + std::to_string(d.image.width) + "x" + std::to_string(d.image.height) : msg));
    if (!ok) CHECK_THAT(msg, Catch::Contains(f));
    if (r.status == "image") {
      // A gray one-frame image pydicom decodes: the same display values.
      REQUIRE(ok);
      CHECK(max_abs_diff(d.image.pixels, r.values) <= 0.5);
    } else if (r.status == "undecodable") {
      // JPEG and JPEG-LS, which pydicom cannot decode here: DCMTK's dcm2pnm is the reference.
      REQUIRE(ok);
      const std::vector<float> ref = dcm2pnm_reference(f, d.info, dir);
      if (!ref.empty()) CHECK(max_abs_diff(d.image.pixels, ref) < dcm2pnm_tolerance(d.info));
    } else if (r.status == "unsupported") {
      // Refused: not an image, colour, several frames, JPEG 2000, ... (or damaged, when DCMTK
      // finds the file damaged before it looks at the pixels).
      CHECK(!ok);
      CHECK((kind == ErrorKind::not_supported || kind == ErrorKind::format));
    } else {
      REQUIRE(r.status == "damaged");  // our reads may differ here: a named error, or a read
      if (!ok) CHECK((kind == ErrorKind::not_supported || kind == ErrorKind::format));
    }
    ++tally[r.status + (ok ? " / read" : " / refused")];
  }
  std::string summary;
  for (const auto& [k, n] : tally) summary += k + ": " + std::to_string(n) + "; ";
  WARN("pydicom sample files (pydicom / liteai): " << summary);
}

TEST_CASE("dicom read: wherever images are read (decode_image, folders, CSV, the loader)") {
  namespace data = liteai::data;
  dcm::register_reader();  // done at start-up already; registering again is harmless
  const std::string dir = liteai::test::temp_dir("dicom_everywhere");
  fs::create_directories(dir + "/set/normal");
  fs::create_directories(dir + "/set/finding");
  fx::Spec s;
  s.window = {{2000, 3000}};
  fx::write(dir + "/set/normal/a.dcm", s);
  s.seed = 8;
  fx::write(dir + "/set/normal/IM000002", s);  // no extension, as PACS exports name them
  s.seed = 9;
  s.photometric = "MONOCHROME1";
  fx::write(dir + "/set/finding/b.DCM", s);
  liteai::test::write_text(dir + "/set/finding/README", "not an image");  // no extension, not DICOM: ignored
  const std::vector<uint8_t> png = data::encode_png(std::vector<uint8_t>(96 * 80, 100).data(), 96, 80, 1);
  liteai::test::write_bytes(dir + "/set/finding/c.png", png);

  const data::Image a = data::decode_image(dir + "/set/normal/a.dcm");
  CHECK(a.pixels == dcm::read(dir + "/set/normal/a.dcm").image.pixels);
  const data::ImageInfo info = data::probe_image(dir + "/set/normal/IM000002");
  CHECK(info.format == "dicom");
  CHECK(info.width == 96);
  CHECK(info.height == 80);
  CHECK(info.bit_depth == 16);

  auto ds = data::FileDataset::from_folder(dir + "/set");
  REQUIRE(ds->size() == 4);
  std::set<std::string> names;
  for (size_t i = 0; i < ds->size(); ++i) names.insert(fs::path(ds->path(i)).filename().string());
  CHECK(names == std::set<std::string>{"a.dcm", "IM000002", "b.DCM", "c.png"});
  for (size_t i = 0; i < ds->size(); ++i) CHECK(ds->get(i).image.width == 96);

  liteai::test::write_text(dir + "/manifest.csv", "path,label\nset/normal/a.dcm,normal\nset/finding/b.DCM,finding\n");
  auto csv = data::FileDataset::from_csv(dir + "/manifest.csv");
  REQUIRE(csv->size() == 2);
  CHECK(csv->get(1).image.pixels == dcm::read(dir + "/set/finding/b.DCM").image.pixels);

  data::LoaderOptions lo;
  lo.batch_size = 4;
  lo.width = lo.height = 32;
  lo.shuffle = false;
  data::Loader loader(ds, lo);
  auto batch = loader.next();
  REQUIRE(batch);
  CHECK(batch->images.shape() == liteai::Shape{4, 1, 32, 32});
}
