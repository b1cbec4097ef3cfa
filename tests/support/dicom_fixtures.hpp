#pragma once
// DICOM files the tests write themselves from SYNTHETIC phantoms, through DCMTK's API (native,
// big endian, implicit, deflated; RLE, JPEG and JPEG-LS through DCMTK's encoders), plus the
// independent references: pydicom (/usr/bin/python3 with Debian's python3-pydicom) and DCMTK's
// command-line tools.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcrlerp.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcvrss.h"
#include "dcmtk/dcmdata/dcvrus.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpeg/djrploss.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/dcmjpls/djrparam.h"
#include "liteai/data/phantom.hpp"

namespace liteai::test::dicom {

struct Spec {
  int width = 96, height = 80;
  int bits_allocated = 16, bits_stored = 12, high_bit = -1;  // -1: bits_stored - 1
  bool is_signed = false;
  std::string photometric = "MONOCHROME2";
  std::string sop_class = UID_DigitalXRayImageStorageForPresentation;
  std::string modality = "DX";
  std::optional<std::pair<double, double>> rescale;  // slope, intercept
  std::optional<std::pair<double, double>> window;   // centre, width
  std::string voi_function;                          // empty: none written (LINEAR)
  bool voi_lut = false;       // a VOI LUT Sequence (gamma 0.6 over the modality range)...
  int voi_lut_bits = 16;      // ...with entries of this many bits
  bool modality_lut = false;  // a Modality LUT Sequence (a square root onto 16 bits)
  std::string presentation_lut_shape;
  int frames = 1;
  int samples_per_pixel = 1;
  uint64_t seed = 7;           // the phantom: make_phantom(seed, index) of class phantom_class
  uint64_t index = 0;
  int phantom_class = 1;       // foreign body (round dense discs)
};

// The stored values of a spec: the phantom's anatomy scaled to the unsigned range of the stored
// bits, a small pattern in the low bits, then inverted for MONOCHROME1 (so a MONOCHROME1 file
// shows the same as its MONOCHROME2 twin) and shifted to signed when asked (undone by the
// intercept test specs use). Values in the stored bits only, row-major.
inline std::vector<int32_t> stored_values(const Spec& s) {
  data::PhantomOptions po;
  po.size = std::max(s.width, s.height);
  po.classes = {s.phantom_class};
  const data::Phantom ph = data::make_phantom(s.seed, s.index, po);
  const int32_t umax = (int32_t(1) << s.bits_stored) - 1;
  std::vector<int32_t> v(size_t(s.width) * s.height);
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < s.width; ++x) {
      const double a = ph.image.at(x, y) / 255.0;
      int32_t u = int32_t(std::lround(a * (umax - 6))) + (x * 7 + y * 3) % 5;
      u = std::clamp(u, 0, umax);
      if (s.photometric == "MONOCHROME1") u = umax - u;
      v[size_t(y) * s.width + x] = s.is_signed ? u - (int32_t(1) << (s.bits_stored - 1)) : u;
    }
  return v;
}

inline void put(DcmItem& d, const DcmTagKey& k, const std::string& v) { d.putAndInsertString(k, v.c_str()); }

inline void register_encoders() {
  static std::once_flag once;
  std::call_once(once, [] {
    DcmRLEEncoderRegistration::registerCodecs();
    DJEncoderRegistration::registerCodecs();
    DJLSEncoderRegistration::registerCodecs();
  });
}

// A LUT sequence item: `entries` values from `first`, each f(input) in [0, 2^bits - 1].
template <class F>
void add_lut_item(DcmDataset& d, const DcmTagKey& seq, int entries, int first, int bits, F f) {
  DcmItem* item = nullptr;
  d.findOrCreateSequenceItem(seq, item, -2);
  // US, or SS when the first input mapped is negative (PS3.3 C.11.2.1.1)
  if (first < 0) {
    auto* desc = new DcmSignedShort(DcmTag(DCM_LUTDescriptor, EVR_SS));
    desc->putSint16(Sint16(entries), 0);
    desc->putSint16(Sint16(first), 1);
    desc->putSint16(Sint16(bits), 2);
    item->insert(desc, true);
  } else {
    auto* desc = new DcmUnsignedShort(DcmTag(DCM_LUTDescriptor, EVR_US));
    desc->putUint16(Uint16(entries == 65536 ? 0 : entries), 0);
    desc->putUint16(Uint16(first), 1);
    desc->putUint16(Uint16(bits), 2);
    item->insert(desc, true);
  }
  std::vector<Uint16> lut(static_cast<size_t>(entries));
  for (int i = 0; i < entries; ++i) lut[size_t(i)] = Uint16(f(first + i));
  item->putAndInsertUint16Array(DCM_LUTData, lut.data(), static_cast<unsigned long>(entries));
}

// Writes the spec's image; `xfer` other than the native syntaxes is produced by DCMTK's
// encoders (JPEG lossy is given quality 90, JPEG-LS near-lossless a deviation of 2).
inline void write(const std::string& path, const Spec& s, E_TransferSyntax xfer = EXS_LittleEndianExplicit,
                  const std::vector<int32_t>* values = nullptr) {
  register_encoders();
  const std::vector<int32_t> own = values ? std::vector<int32_t>() : stored_values(s);
  const std::vector<int32_t>& v = values ? *values : own;
  DcmFileFormat ff;
  DcmDataset& d = *ff.getDataset();
  char uid[100];
  put(d, DCM_SOPClassUID, s.sop_class);
  put(d, DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  put(d, DCM_StudyInstanceUID, "1.2.826.0.1.3680043.10.1234.1");
  put(d, DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.10.1234.1.2");
  put(d, DCM_PatientName, "Phantom^Synthetic");
  put(d, DCM_PatientID, "SYN-0001");
  put(d, DCM_PatientBirthDate, "19700101");
  put(d, DCM_PatientSex, "O");
  put(d, DCM_StudyDate, "20240102");
  put(d, DCM_StudyTime, "101500");
  put(d, DCM_StudyID, "S1");
  put(d, DCM_AccessionNumber, "ACC1");
  put(d, DCM_ReferringPhysicianName, "Doe^Jane");
  put(d, DCM_Modality, s.modality);
  put(d, DCM_SeriesNumber, "1");
  put(d, DCM_InstanceNumber, "1");
  put(d, DCM_PixelSpacing, "0.2\\0.25");
  d.putAndInsertUint16(DCM_SamplesPerPixel, Uint16(s.samples_per_pixel));
  put(d, DCM_PhotometricInterpretation, s.photometric);
  if (s.samples_per_pixel > 1) d.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  d.putAndInsertUint16(DCM_Rows, Uint16(s.height));
  d.putAndInsertUint16(DCM_Columns, Uint16(s.width));
  d.putAndInsertUint16(DCM_BitsAllocated, Uint16(s.bits_allocated));
  d.putAndInsertUint16(DCM_BitsStored, Uint16(s.bits_stored));
  const int high_bit = s.high_bit < 0 ? s.bits_stored - 1 : s.high_bit;
  d.putAndInsertUint16(DCM_HighBit, Uint16(high_bit));
  d.putAndInsertUint16(DCM_PixelRepresentation, s.is_signed ? 1 : 0);
  if (s.frames > 1) put(d, DCM_NumberOfFrames, std::to_string(s.frames));
  if (s.rescale) {
    put(d, DCM_RescaleSlope, std::to_string(s.rescale->first));
    put(d, DCM_RescaleIntercept, std::to_string(s.rescale->second));
    put(d, DCM_RescaleType, "US");
  }
  if (s.window) {
    put(d, DCM_WindowCenter, std::to_string(s.window->first));
    put(d, DCM_WindowWidth, std::to_string(s.window->second));
  }
  if (!s.voi_function.empty()) put(d, DCM_VOILUTFunction, s.voi_function);
  if (!s.presentation_lut_shape.empty()) put(d, DCM_PresentationLUTShape, s.presentation_lut_shape);
  const int umax = (1 << s.bits_stored) - 1;
  if (s.modality_lut)  // stored -> 0..65535, a square root
    add_lut_item(d, DCM_ModalityLUTSequence, umax + 1, 0, 16,
                 [&](int i) { return std::lround(65535.0 * std::sqrt(double(i) / umax)); });
  if (s.voi_lut) {  // the modality range -> 0..2^bits-1, gamma 0.6 (no modality LUT here)
    const int first = s.rescale ? int(std::lround(s.rescale->second)) : (s.is_signed ? -(umax + 1) / 2 : 0);
    const double top = double((1 << s.voi_lut_bits) - 1);
    add_lut_item(d, DCM_VOILUTSequence, umax + 1, first, s.voi_lut_bits,
                 [&](int i) { return std::lround(top * std::pow(double(i - first) / umax, 0.6)); });
  }
  // Pixel data: the stored bits at high_bit (signed values sign-extended above it, as writers
  // do), frames repeated, samples interleaved.
  const size_t per_frame = v.size() * size_t(s.samples_per_pixel);
  const int shift = high_bit + 1 - s.bits_stored;
  const uint32_t word = s.bits_allocated == 8 ? 0xFFu : 0xFFFFu;
  const uint32_t keep = s.is_signed ? word : (((uint32_t(1) << s.bits_stored) - 1) << shift);
  auto sample = [&](size_t i) { return (uint32_t(v[(i % per_frame) / size_t(s.samples_per_pixel)]) << shift) & keep; };
  if (s.bits_allocated == 8) {
    std::vector<Uint8> px(per_frame * size_t(s.frames));
    for (size_t i = 0; i < px.size(); ++i) px[i] = Uint8(sample(i));
    d.putAndInsertUint8Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  } else {
    std::vector<Uint16> px(per_frame * size_t(s.frames));
    for (size_t i = 0; i < px.size(); ++i) px[i] = Uint16(sample(i));
    d.putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  }
  const DcmXfer x(xfer);
  if (x.isEncapsulated()) {
    DJ_RPLossless lossless;
    DJ_RPLossy lossy(90);
    DJLSRepresentationParameter ls(xfer == EXS_JPEGLSLossy ? 2 : 0, xfer != EXS_JPEGLSLossy);
    DcmRLERepresentationParameter rle;
    const DcmRepresentationParameter* param = &lossless;
    if (xfer == EXS_JPEGProcess1 || xfer == EXS_JPEGProcess2_4) param = &lossy;
    if (xfer == EXS_JPEGLSLossless || xfer == EXS_JPEGLSLossy) param = &ls;
    if (xfer == EXS_RLELossless) param = &rle;
    OFCondition c = d.chooseRepresentation(xfer, param);
    if (c.bad() || !d.canWriteXfer(xfer))
      throw std::runtime_error(std::string("dicom fixture: cannot encode ") + x.getXferName() + ": " + c.text());
  }
  OFCondition c = ff.saveFile(path.c_str(), xfer);
  if (c.bad()) throw std::runtime_error("dicom fixture: cannot write " + path + ": " + c.text());
}

// What the documented display convention gives for the spec's stored values, computed here in
// plain formulas (no DCMTK, no liteai): modality, VOI, polarity, [0, 65535].
inline std::vector<float> expected_display(const Spec& s, const std::vector<int32_t>& v) {
  const double umax = double((int64_t(1) << s.bits_stored) - 1);
  const double smin = s.is_signed ? -(umax + 1) / 2 : 0, smax = smin + umax;
  const double slope = s.rescale ? s.rescale->first : 1, icpt = s.rescale ? s.rescale->second : 0;
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double x = v[i] * slope + icpt;
    double y;
    if (s.window) {
      const double c = s.window->first, w = s.window->second;
      if (s.voi_function == "SIGMOID")
        y = 1 / (1 + std::exp(-4 * (x - c) / w));
      else if (s.voi_function == "LINEAR_EXACT")
        y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
      else
        y = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    } else {
      const double lo = std::min(smin * slope, smax * slope) + icpt, hi = std::max(smin * slope, smax * slope) + icpt;
      y = (x - lo) / (hi - lo);
    }
    y = std::clamp(y, 0.0, 1.0);
    const bool invert = s.photometric == "MONOCHROME1" || s.presentation_lut_shape == "INVERSE";
    out[i] = float((invert ? 1 - y : y) * 65535.0);
  }
  return out;
}

// ---- references outside the library ----

inline bool have_program(const std::string& path) { return std::filesystem::exists(path); }

// pydicom through Debian's Python; checked once.
inline bool have_pydicom() {
  static const bool ok = have_program("/usr/bin/python3") &&
                         std::system("/usr/bin/python3 -c 'import pydicom, numpy' >/dev/null 2>&1") == 0;
  return ok;
}

inline int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

}  // namespace liteai::test::dicom
