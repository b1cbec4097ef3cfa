// DICOM to a gray data::Image of display values (see liteai/interop/dicom.hpp for the chain).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "liteai/io/file.hpp"
#include "liteai/core/error.hpp"
#include "liteai/data/decoders.hpp"
#include "liteai/interop/dicom.hpp"
#include "memory_input.hpp"

namespace liteai::interop::dicom {
namespace {

// Values longer than this are not read while parsing but loaded when asked for, from the bytes
// (see memory_input.hpp): no forged length allocates more than the file holds.
constexpr Uint32 kMaxReadLength = 4096;
constexpr int64_t kMaxPixels = int64_t(1) << 26;

void register_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
  });
}

// "Rows (0028,0010)": the keyword and the tag as the standard writes them.
std::string label(const DcmTagKey& key) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "(%04X,%04X)", unsigned(key.getGroup()), unsigned(key.getElement()));
  return str_cat(DcmTag(key).getTagName(), " ", hex);
}

std::string get_string(DcmItem& item, const DcmTagKey& key, unsigned long pos = 0) {
  OFString v;
  if (item.findAndGetOFString(key, v, pos).bad()) return "";
  return v.c_str();
}

// Every value of a string attribute, backslashes kept (for verbatim copies).
std::string get_all(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v).bad()) return "";
  return v.c_str();
}

bool has(DcmItem& item, const DcmTagKey& key) { return item.tagExistsWithValue(key); }

// An unsigned integer attribute that must be present (US).
int get_required_us(DcmItem& item, const DcmTagKey& key) {
  Uint16 v = 0;
  OFCondition c = item.findAndGetUint16(key, v);
  LAI_CHECK_FORMAT(c.good(), "corrupt data (", label(key), " is missing or unreadable: ", c.text(), ")");
  return v;
}

// A decimal string attribute (DS), `fallback` when absent; present but not a finite number is an error.
double get_ds(DcmItem& item, const DcmTagKey& key, double fallback, unsigned long pos = 0) {
  if (!has(item, key)) return fallback;
  Float64 v = 0;
  OFCondition c = item.findAndGetFloat64(key, v, pos);
  LAI_CHECK_FORMAT(c.good() && std::isfinite(v), "corrupt data (", label(key), " = '", get_all(item, key),
                   "' is not a number)");
  return v;
}

// A LUT from a Modality or VOI LUT Sequence item: descriptor (entries, first mapped, bits) + data.
struct Lut {
  int64_t first = 0;
  int bits = 16;
  std::vector<uint16_t> values;
  uint16_t operator()(double x) const {
    const double i = std::floor(x + 0.5) - double(first);
    const double last = double(values.size() - 1);
    return values[size_t(i < 0 ? 0 : i > last ? last : i)];
  }
};

Lut read_lut(DcmItem& item, const std::string& what, bool first_signed) {
  DcmElement* desc = nullptr;
  LAI_CHECK_FORMAT(item.findAndGetElement(DCM_LUTDescriptor, desc).good() && desc->getVM() == 3, "corrupt data (",
                   what, ": ", label(DCM_LUTDescriptor), " must hold 3 values)");
  // Entries and bits are unsigned whatever the VR; the first mapped value is signed when the VR
  // says SS, or (for the ambiguous US) when the input can be negative.
  uint16_t d[3];
  bool ss = desc->ident() == EVR_SS;
  for (unsigned long k = 0; k < 3; ++k) {
    Sint16 v = 0;
    LAI_CHECK_FORMAT(ss ? desc->getSint16(v, k).good() : desc->getUint16(d[k], k).good(), "corrupt data (", what,
                     ": ", label(DCM_LUTDescriptor), " unreadable)");
    if (ss) d[k] = uint16_t(v);
  }
  Lut lut;
  const size_t entries = d[0] == 0 ? 65536 : size_t(d[0]);
  lut.first = ss || first_signed ? int64_t(int16_t(d[1])) : int64_t(d[1]);
  lut.bits = int(d[2]);
  LAI_CHECK_FORMAT(lut.bits >= 1 && lut.bits <= 16, "corrupt data (", what, ": ", label(DCM_LUTDescriptor),
                   " gives ", lut.bits, " bits per entry, 1 to 16 are valid)");
  const Uint16* data = nullptr;
  unsigned long count = 0;
  LAI_CHECK_FORMAT(item.findAndGetUint16Array(DCM_LUTData, data, &count).good() && data, "corrupt data (", what,
                   ": ", label(DCM_LUTData), " is missing or unreadable)");
  if (lut.bits <= 8 && count * 2 == entries) {  // 8-bit entries packed two to a word
    for (unsigned long k = 0; k < count; ++k) {
      lut.values.push_back(data[k] & 0xFF);
      lut.values.push_back(data[k] >> 8);
    }
  } else {
    LAI_CHECK_FORMAT(count >= entries, "corrupt data (", what, ": ", label(DCM_LUTData), " holds ", count,
                     " entries, ", label(DCM_LUTDescriptor), " says ", entries, ")");
    lut.values.assign(data, data + entries);
  }
  return lut;
}

// How stored values become display values in [0, 1], checked and ready to tabulate.
struct Transform {
  SourceInfo info;
  bool modality_lut = false, voi_lut = false;
  Lut mod, voi;
  enum class Function { linear, linear_exact, sigmoid, full_range } function = Function::full_range;
  double lo = 0, hi = 0;  // full range bounds (modality units)

  double modality(int32_t s) const {
    return modality_lut ? double(mod(s)) : double(s) * info.rescale_slope + info.rescale_intercept;
  }
  double display(int32_t s) const {  // in [0, 1], brighter = denser
    const double x = modality(s);
    double y = 0;
    const double c = info.window_center, w = info.window_width;
    if (voi_lut) {
      y = double(voi(x)) / double((1 << voi.bits) - 1);
    } else if (function == Function::linear) {  // PS3.3 C.11.2.1.2.1
      if (x <= c - 0.5 - (w - 1) / 2)
        y = 0;
      else if (x > c - 0.5 + (w - 1) / 2)
        y = 1;
      else
        y = (x - (c - 0.5)) / (w - 1) + 0.5;
    } else if (function == Function::linear_exact) {  // C.11.2.1.3.2
      y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
    } else if (function == Function::sigmoid) {  // C.11.2.1.3.1
      y = 1 / (1 + std::exp(-4 * (x - c) / w));
    } else {
      y = hi > lo ? (x - lo) / (hi - lo) : 0;
    }
    y = y < 0 ? 0 : y > 1 ? 1 : y;
    return info.inverted ? 1 - y : y;
  }
};

std::string transfer_syntax_label(const DcmXfer& x, const std::string& uid) {
  return str_cat(x.getXferName(), " (", uid, ")");
}

struct Parsed {
  DcmFileFormat file;
  DcmDataset* data = nullptr;
  Transform t;
};

// Parses the bytes and checks everything needed to decode; throws without the name prefix.
void parse(const uint8_t* p, size_t n, Parsed& out) {
  register_codecs();
  LAI_CHECK_FORMAT(n > 0, "empty file (0 bytes)");
  LAI_CHECK_FORMAT(is_dicom(p, n), "not a DICOM file (no 'DICM' at byte 128 and no data set at the start)");
  LAI_CHECK_SUPPORTED(dcmDataDict.isDictionaryLoaded(),
                      "unsupported (DCMTK's data dictionary is not loaded: install libdcmtk17 or set DCMDICTPATH)");
  check_nesting(p, n);
  MemoryInput in(Bytes{p, n, nullptr});
  out.file.transferInit();
  OFCondition c = out.file.read(in, EXS_Unknown, EGL_noChange, kMaxReadLength);
  out.file.transferEnd();
  if (!in.failure().empty()) LAI_FAIL(format, in.failure());
  if (c.bad()) {
    const bool ended = c == EC_StreamNotifyClient || c == EC_InvalidStream || c == EC_EndOfStream ||
                       c == EC_PrematureSequDelimitationItem || in.eos();
    LAI_FAIL(format, ended ? "truncated file" : "corrupt data", " (DCMTK: ", c.text(), ")");
  }
  DcmDataset& d = *out.file.getDataset();
  out.data = &d;
  SourceInfo& s = out.t.info;

  // Identification and what the result writers copy.
  s.sop_class_uid = get_string(d, DCM_SOPClassUID);
  s.sop_instance_uid = get_string(d, DCM_SOPInstanceUID);
  s.study_instance_uid = get_string(d, DCM_StudyInstanceUID);
  s.series_instance_uid = get_string(d, DCM_SeriesInstanceUID);
  s.frame_of_reference_uid = get_string(d, DCM_FrameOfReferenceUID);
  s.specific_character_set = get_all(d, DCM_SpecificCharacterSet);
  s.patient_name = get_all(d, DCM_PatientName);
  s.patient_id = get_string(d, DCM_PatientID);
  s.issuer_of_patient_id = get_string(d, DCM_IssuerOfPatientID);
  s.patient_birth_date = get_string(d, DCM_PatientBirthDate);
  s.patient_sex = get_string(d, DCM_PatientSex);
  s.patient_age = get_string(d, DCM_PatientAge);
  s.study_date = get_string(d, DCM_StudyDate);
  s.study_time = get_string(d, DCM_StudyTime);
  s.study_id = get_string(d, DCM_StudyID);
  s.accession_number = get_string(d, DCM_AccessionNumber);
  s.referring_physician_name = get_all(d, DCM_ReferringPhysicianName);
  s.study_description = get_string(d, DCM_StudyDescription);
  s.modality = get_string(d, DCM_Modality);
  s.body_part_examined = get_string(d, DCM_BodyPartExamined);
  s.series_number = get_string(d, DCM_SeriesNumber);
  s.instance_number = get_string(d, DCM_InstanceNumber);

  const E_TransferSyntax xfer = d.getOriginalXfer();
  const DcmXfer x(xfer);
  s.transfer_syntax_uid = get_string(*out.file.getMetaInfo(), DCM_TransferSyntaxUID);
  if (s.transfer_syntax_uid.empty() || xfer != EXS_Unknown) s.transfer_syntax_uid = x.getXferID();
  s.transfer_syntax_name = x.getXferName();

  // An image at all, one frame, gray.
  if (!has(d, DCM_PixelData)) {
    for (const DcmTagKey& k : {DCM_FloatPixelData, DCM_DoubleFloatPixelData})
      LAI_CHECK_SUPPORTED(!has(d, k), "unsupported (", label(k), ": floating-point pixels are not read)");
    const char* sop = dcmFindNameOfUID(s.sop_class_uid.c_str(), "unknown SOP class");
    LAI_FAIL(not_supported, "not an image (no ", label(DCM_PixelData), "; ", label(DCM_SOPClassUID), " = ",
             s.sop_class_uid.empty() ? "missing" : s.sop_class_uid, ", ", sop, ")");
  }
  LAI_CHECK_SUPPORTED(xfer != EXS_Unknown, "unsupported (transfer syntax ", s.transfer_syntax_uid,
                      " is unknown to DCMTK)");
  if (x.isEncapsulated())
    LAI_CHECK_SUPPORTED(DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit), "unsupported (transfer syntax ",
                        transfer_syntax_label(x, s.transfer_syntax_uid), ": this build's DCMTK has no decoder for it)");
  Sint32 frames = 1;
  if (has(d, DCM_NumberOfFrames) && d.findAndGetSint32(DCM_NumberOfFrames, frames).good())
    LAI_CHECK_SUPPORTED(frames <= 1, "unsupported (multi-frame: ", label(DCM_NumberOfFrames), " = ", frames,
                        "; one-frame images are read)");
  const int spp = has(d, DCM_SamplesPerPixel) ? get_required_us(d, DCM_SamplesPerPixel) : 1;
  s.photometric_interpretation = get_string(d, DCM_PhotometricInterpretation);
  LAI_CHECK_SUPPORTED(spp == 1, "unsupported (colour image: ", label(DCM_SamplesPerPixel), " = ", spp, ", ",
                      label(DCM_PhotometricInterpretation), " = ", s.photometric_interpretation,
                      "; gray MONOCHROME1/MONOCHROME2 images are read)");
  LAI_CHECK_FORMAT(!s.photometric_interpretation.empty(), "corrupt data (", label(DCM_PhotometricInterpretation),
                   " is missing)");
  const bool mono1 = s.photometric_interpretation == "MONOCHROME1";
  LAI_CHECK_SUPPORTED(mono1 || s.photometric_interpretation == "MONOCHROME2", "unsupported (colour image: ",
                      label(DCM_PhotometricInterpretation), " = ", s.photometric_interpretation,
                      "; MONOCHROME1 and MONOCHROME2 are read)");

  // Size and sample layout.
  s.rows = get_required_us(d, DCM_Rows);
  s.columns = get_required_us(d, DCM_Columns);
  LAI_CHECK_FORMAT(s.rows > 0 && s.columns > 0, "corrupt data (", label(DCM_Rows), " x ", label(DCM_Columns), " = ",
                   s.rows, " x ", s.columns, ")");
  LAI_CHECK_SUPPORTED(int64_t(s.rows) * s.columns <= kMaxPixels, "unsupported (", s.columns, " x ", s.rows,
                      " pixels; at most 2^26 are read)");
  s.bits_allocated = get_required_us(d, DCM_BitsAllocated);
  LAI_CHECK_SUPPORTED(s.bits_allocated == 8 || s.bits_allocated == 16, "unsupported (", label(DCM_BitsAllocated),
                      " = ", s.bits_allocated, "; 8 and 16 are read)");
  s.bits_stored = has(d, DCM_BitsStored) ? get_required_us(d, DCM_BitsStored) : s.bits_allocated;
  LAI_CHECK_FORMAT(s.bits_stored >= 1 && s.bits_stored <= s.bits_allocated, "corrupt data (", label(DCM_BitsStored),
                   " = ", s.bits_stored, " with ", label(DCM_BitsAllocated), " = ", s.bits_allocated, ")");
  s.high_bit = has(d, DCM_HighBit) ? get_required_us(d, DCM_HighBit) : s.bits_stored - 1;
  LAI_CHECK_FORMAT(s.high_bit + 1 >= s.bits_stored && s.high_bit < s.bits_allocated, "corrupt data (",
                   label(DCM_HighBit), " = ", s.high_bit, " with ", label(DCM_BitsStored), " = ", s.bits_stored, ")");
  const int representation = has(d, DCM_PixelRepresentation) ? get_required_us(d, DCM_PixelRepresentation) : 0;
  LAI_CHECK_FORMAT(representation == 0 || representation == 1, "corrupt data (", label(DCM_PixelRepresentation),
                   " = ", representation, ")");
  s.is_signed = representation == 1;

  // Pixel spacing: the patient-plane one if given, else the detector's.
  for (const DcmTagKey& k : {DCM_PixelSpacing, DCM_ImagerPixelSpacing}) {
    if (!has(d, k)) continue;
    const double row = get_ds(d, k, 0, 0), col = get_ds(d, k, 0, 1);
    LAI_CHECK_FORMAT(row > 0 && col > 0, "corrupt data (", label(k), " = '", get_all(d, k), "')");
    s.row_spacing_mm = row;
    s.column_spacing_mm = col;
    break;
  }

  // Modality transform.
  Transform& t = out.t;
  DcmItem* item = nullptr;
  if (d.findAndGetSequenceItem(DCM_ModalityLUTSequence, item, 0).good() && item) {
    t.mod = read_lut(*item, label(DCM_ModalityLUTSequence), s.is_signed);
    t.modality_lut = true;
    s.modality_transform = "modality LUT";
  } else {
    s.rescale_slope = get_ds(d, DCM_RescaleSlope, 1);
    s.rescale_intercept = get_ds(d, DCM_RescaleIntercept, 0);
    LAI_CHECK_FORMAT(s.rescale_slope != 0, "corrupt data (", label(DCM_RescaleSlope), " = 0)");
    s.modality_transform = "rescale";
  }

  // VOI: a LUT, else a window, else the full range the stored bits can hold.
  const int64_t smin = s.is_signed ? -(int64_t(1) << (s.bits_stored - 1)) : 0;
  const int64_t smax = s.is_signed ? (int64_t(1) << (s.bits_stored - 1)) - 1 : (int64_t(1) << s.bits_stored) - 1;
  if (d.findAndGetSequenceItem(DCM_VOILUTSequence, item, 0).good() && item) {
    t.voi = read_lut(*item, label(DCM_VOILUTSequence), s.is_signed);
    t.voi_lut = true;
    s.voi = "VOI LUT";
  } else if (has(d, DCM_WindowCenter) && has(d, DCM_WindowWidth)) {
    s.window_center = get_ds(d, DCM_WindowCenter, 0);
    s.window_width = get_ds(d, DCM_WindowWidth, 0);
    const std::string fn = has(d, DCM_VOILUTFunction) ? get_string(d, DCM_VOILUTFunction) : "LINEAR";
    if (fn == "LINEAR") {
      t.function = Transform::Function::linear;
      LAI_CHECK_FORMAT(s.window_width >= 1, "corrupt data (", label(DCM_WindowWidth), " = ", s.window_width,
                       "; LINEAR needs at least 1)");
    } else if (fn == "LINEAR_EXACT" || fn == "SIGMOID") {
      t.function = fn == "SIGMOID" ? Transform::Function::sigmoid : Transform::Function::linear_exact;
      LAI_CHECK_FORMAT(s.window_width > 0, "corrupt data (", label(DCM_WindowWidth), " = ", s.window_width, " with ",
                       fn, ")");
    } else {
      LAI_FAIL(not_supported, "unsupported (", label(DCM_VOILUTFunction), " = ", fn,
               "; LINEAR, LINEAR_EXACT and SIGMOID are applied)");
    }
    s.voi = "window " + fn;
  } else if (t.modality_lut) {  // what the LUT's entries can hold
    t.hi = double((1 << t.mod.bits) - 1);
  } else {  // what the stored bits can hold, rescaled
    t.lo = std::min(t.modality(int32_t(smin)), t.modality(int32_t(smax)));
    t.hi = std::max(t.modality(int32_t(smin)), t.modality(int32_t(smax)));
  }
  if (s.voi.empty()) {
    s.window_center = (t.lo + t.hi) / 2;
    s.window_width = t.hi - t.lo;
    s.voi = "full range";
  }
  const bool inverse_shape = get_string(d, DCM_PresentationLUTShape) == "INVERSE";
  s.inverted = mono1 || inverse_shape;
}

// DCMTK 3.6.7's RLE decoder reads past a fragment whose header names segments outside it (fixed
// upstream in 2024-2026; found here by fuzz_dicom_reader): the header is checked first. One
// fragment per frame (PS3.5 G.2), a 64-byte header, the segment count of one gray sample, offsets
// from 64 increasing within the fragment.
void check_rle(DcmPixelData& px, const SourceInfo& s) {
  DcmPixelSequence* seq = nullptr;
  LAI_CHECK_FORMAT(px.getEncapsulatedRepresentation(EXS_RLELossless, nullptr, seq).good() && seq, "corrupt data (",
                   label(DCM_PixelData), ": no RLE fragments)");
  LAI_CHECK_FORMAT(seq->card() == 2, "corrupt data (", label(DCM_PixelData), ": ", seq->card() ? seq->card() - 1 : 0,
                   " RLE fragments for one frame; DICOM requires one)");
  DcmPixelItem* item = nullptr;
  Uint8* bytes = nullptr;
  LAI_CHECK_FORMAT(seq->getItem(item, 1).good() && item && item->getUint8Array(bytes).good() && bytes, "corrupt data (",
                   label(DCM_PixelData), ": RLE fragment unreadable)");
  const uint32_t n = item->getLength();
  LAI_CHECK_FORMAT(n >= 64, "corrupt data (RLE fragment of ", n, " bytes has no complete 64-byte header)");
  auto u32 = [&](int k) {
    uint32_t v;
    std::memcpy(&v, bytes + 4 * k, 4);
    return v;  // little endian (as every host DCMTK builds on here)
  };
  const uint32_t segments = u32(0), want = uint32_t(s.bits_allocated / 8);
  LAI_CHECK_FORMAT(segments == want, "corrupt data (RLE header has ", segments, " segments, ", s.bits_allocated,
                   "-bit gray pixels need ", want, ")");
  for (uint32_t k = 1; k <= segments; ++k) {
    const uint32_t at = u32(int(k)), before = k == 1 ? 0 : u32(int(k) - 1);
    LAI_CHECK_FORMAT(at < n && (k == 1 ? at == 64 : at > before), "corrupt data (RLE segment ", k, " at byte ", at,
                     " of a ", n, "-byte fragment)");
  }
}

void decode_pixels(Parsed& ps, data::Image& out) {
  const SourceInfo& s = ps.t.info;
  DcmElement* e = nullptr;
  ps.data->findAndGetElement(DCM_PixelData, e);
  auto* px = dynamic_cast<DcmPixelData*>(e);
  LAI_CHECK_FORMAT(px != nullptr, "corrupt data (", label(DCM_PixelData), " unreadable)");
  const size_t count = size_t(s.rows) * size_t(s.columns);
  const size_t frame_bytes = count * size_t(s.bits_allocated / 8);
  if (!DcmXfer(ps.data->getOriginalXfer()).isEncapsulated())
    LAI_CHECK_FORMAT(px->getLength() >= frame_bytes, "truncated file (", label(DCM_PixelData), " holds ",
                     px->getLength(), " bytes, ", s.columns, " x ", s.rows, " x ", s.bits_allocated, " bits need ",
                     frame_bytes, ")");
  if (ps.data->getOriginalXfer() == EXS_RLELossless) check_rle(*px, s);
  thread_local std::vector<uint8_t> frame;  // kept per thread: the loader decodes many
  frame.resize(frame_bytes + 2);
  Uint32 fragment = 0;
  OFString colour;
  OFCondition c = px->getUncompressedFrame(ps.data, 0, fragment, frame.data(), Uint32(frame.size()), colour);
  LAI_CHECK_FORMAT(c.good(), "corrupt data (", label(DCM_PixelData), " cannot be decoded from ", s.transfer_syntax_name,
                   ": ", c.text(), ")");

  // Display value of every possible stored value, then one lookup per pixel.
  const int bits = s.bits_stored, shift = s.high_bit + 1 - bits;
  const uint32_t mask = (uint32_t(1) << bits) - 1;
  thread_local std::vector<float> table;
  table.resize(size_t(mask) + 1);
  for (uint32_t i = 0; i <= mask; ++i) {
    const int32_t v = s.is_signed && (i >> (bits - 1)) ? int32_t(i) - (int32_t(1) << bits) : int32_t(i);
    table[i] = float(std::round(ps.t.display(v) * 65535.0));
  }
  out.width = s.columns;
  out.height = s.rows;
  out.max_value = 65535.f;
  out.pixels.resize(count);
  if (s.bits_allocated == 8) {
    for (size_t i = 0; i < count; ++i) out.pixels[i] = table[(frame[i] >> shift) & mask];
  } else {
    for (size_t i = 0; i < count; ++i) {
      uint16_t w;
      std::memcpy(&w, frame.data() + 2 * i, 2);  // host order (DCMTK swaps)
      out.pixels[i] = table[(uint32_t(w) >> shift) & mask];
    }
  }
  if (frame.capacity() > (size_t(64) << 20)) std::vector<uint8_t>().swap(frame);
}

// Runs fn, prefixing its message with the name.
template <class F>
void named(const std::string& name, F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    throw Error(e.kind(), str_cat(name, ": ", e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::out_of_memory, str_cat(name, ": out of memory while decoding"));
  }
}

data::ImageInfo image_info(const SourceInfo& s) {
  data::ImageInfo i;
  i.width = s.columns;
  i.height = s.rows;
  i.channels = 1;
  i.bit_depth = s.bits_stored > 8 ? 16 : 8;
  i.format = "dicom";
  return i;
}

// Runs register_reader() when the program starts, so linking this module is enough.
const bool registered_at_start = (register_reader(), true);

}  // namespace

bool is_dicom(const void* bytes, size_t size) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  if (size >= 132 && std::memcmp(p + 128, "DICM", 4) == 0) return true;
  if (size < 8) return false;
  // A bare data set starts with a group 0002 or 0008 element of a small element number, either
  // byte order, then a VR (explicit) or a 4-byte length (implicit).
  const bool le = (p[0] == 0x02 || p[0] == 0x08) && p[1] == 0 && p[3] == 0;
  const bool be = p[0] == 0 && (p[1] == 0x02 || p[1] == 0x08) && p[2] == 0;
  if (!le && !be) return false;
  const bool vr = p[4] >= 'A' && p[4] <= 'Z' && p[5] >= 'A' && p[5] <= 'Z';
  const bool small_length = le ? p[7] == 0 && p[6] == 0 : p[4] == 0 && p[5] == 0;
  return vr || small_length;
}

SourceInfo probe_memory(const void* bytes, size_t size, const std::string& name) {
  Parsed ps;
  named(name, [&] { parse(static_cast<const uint8_t*>(bytes), size, ps); });
  return ps.t.info;
}

void read_memory_into(const void* bytes, size_t size, const std::string& name, data::Image& out, SourceInfo* info) {
  Parsed ps;
  named(name, [&] {
    parse(static_cast<const uint8_t*>(bytes), size, ps);
    decode_pixels(ps, out);
  });
  if (info) *info = std::move(ps.t.info);
}

Decoded read_memory(const void* bytes, size_t size, const std::string& name) {
  Decoded d;
  read_memory_into(bytes, size, name, d.image, &d.info);
  return d;
}

Decoded read(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return read_memory(bytes.data(), bytes.size(), path);
}

void register_reader() {
  (void)registered_at_start;
  data::ImageDecoder d;
  d.name = "dicom";
  d.sniff_bytes = 132;
  d.sniff = [](const uint8_t* p, size_t n) { return is_dicom(p, n); };
  d.decode = [](const uint8_t* p, size_t n, const std::string& name, data::Image& out) {
    read_memory_into(p, n, name, out);
  };
  d.probe = [](const uint8_t* p, size_t n, const std::string& name) { return image_info(probe_memory(p, n, name)); };
  data::register_image_decoder(std::move(d));
}

}  // namespace liteai::interop::dicom
