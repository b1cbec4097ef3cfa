#pragma once
// DICOM in and out through DCMTK. Built when DCMTK is found (CMake option LITEAI_WITH_DCMTK);
// code above the data layer tests LITEAI_HAVE_DICOM before using it.
//
// In: a one-frame gray image (CR, DX, or any MONOCHROME1/MONOCHROME2 object with Pixel Data)
// becomes a data::Image of display values, the intensities a viewer shows:
//   stored values (8 to 16 bits stored, signed or unsigned; native, deflated, or compressed as
//   JPEG baseline/extended/lossless, JPEG-LS or RLE)
//   -> modality transform: Modality LUT Sequence, else Rescale Slope/Intercept (default 1, 0)
//   -> VOI: the first VOI LUT Sequence item, else the first Window Center/Width with its VOI LUT
//      Function (LINEAR, LINEAR_EXACT, SIGMOID), else the full range the stored bits can hold
//   -> polarity: MONOCHROME1 (and MONOCHROME2 with Presentation LUT Shape INVERSE) is inverted,
//      so dense structures are bright whatever the source
//   -> linearly onto [0, 65535], rounded to whole levels (max_value 65535): a 16-bit image.
// Why this scale: the model's per-image standardization is blind to scale and offset, and the
// loader and the ProbMat tools divide by max_value, so a DICOM reads as its 16-bit PNG export
// would (`dcm2pnm +on2` with the same window), on the same [0, 1] range as 8-bit PNGs. Whole
// levels make the image exactly representable as 16-bit pixels (the C API's LAI_PIXEL_U16), so
// every front end feeds a model the same numbers; half a level of 65535 is far below any
// window's resolution (a 400-wide window on 16-bit data spans 164 levels per input value).
//
// Limits (hostile files): at most 2^26 pixels; element lengths are checked against the bytes
// present before anything is allocated; deflated data sets inflate to at most 256 MB.
// Errors name the file and, where one is at fault, the tag:
//   not_supported: a non-image object (no Pixel Data), several frames, colour (Samples per Pixel,
//     Photometric Interpretation), Bits Allocated other than 8 or 16, a transfer syntax DCMTK
//     cannot decode here (JPEG 2000, ...: the message names it);
//   format: damaged or truncated files, inconsistent attributes (Bits Stored above Bits Allocated,
//     Pixel Data shorter than Rows x Columns, a zero Rescale Slope, Window Width below 1, ...).
//
// After register_reader() (run when the program starts whenever this module is linked, and
// harmless to call again) data::decode_image, data::probe_image, folder and CSV data sets and
// the Loader read DICOM: files named .dcm, and any file with "DICM" at offset 128 or starting
// like a bare data set.
//
// Out: results as DICOM objects linked to the source study (same Study Instance UID, a new
// series, references to the source instance): a Comprehensive SR holding a TID 1500 measurement
// report, and an RGB Secondary Capture (the heatmap overlay, for viewers that show nothing else).
//
// Thread-safety: every function may be called from several threads at once.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "liteai/data/codec.hpp"
#include "liteai/data/image.hpp"

namespace liteai::interop::dicom {

// What a read instance says about itself and how its pixels were turned into display values.
// The identification and Patient/Study fields are what the result writers copy.
struct SourceInfo {
  std::string sop_class_uid, sop_instance_uid, study_instance_uid, series_instance_uid;
  std::string frame_of_reference_uid;
  std::string specific_character_set;  // (0008,0005), copied so names keep their meaning
  std::string patient_name, patient_id, issuer_of_patient_id, patient_birth_date, patient_sex, patient_age;
  std::string study_date, study_time, study_id, accession_number, referring_physician_name, study_description;
  std::string modality, body_part_examined, series_number, instance_number;
  int rows = 0, columns = 0;
  // mm between pixel centres (row spacing, column spacing) from Pixel Spacing, else Imager Pixel
  // Spacing; 0 when neither is present.
  double row_spacing_mm = 0, column_spacing_mm = 0;

  std::string transfer_syntax_uid, transfer_syntax_name;
  std::string photometric_interpretation;  // MONOCHROME1 or MONOCHROME2
  int bits_allocated = 0, bits_stored = 0, high_bit = 0;
  bool is_signed = false;
  // The modality transform ("rescale" or "modality LUT") and the VOI applied ("VOI LUT",
  // "window LINEAR", "window LINEAR_EXACT", "window SIGMOID" or "full range"); for a window,
  // its centre and width, for the full range its bounds as centre/width, in modality units.
  std::string modality_transform, voi;
  double rescale_slope = 1, rescale_intercept = 0;
  double window_center = 0, window_width = 0;
  bool inverted = false;  // display values were inverted (MONOCHROME1)
};

struct Decoded {
  data::Image image;
  SourceInfo info;
};

// True when the bytes look like DICOM: "DICM" at offset 128, or a bare data set (no preamble)
// starting with a group 0002 or 0008 element. Needs at most the first 132 bytes.
bool is_dicom(const void* bytes, size_t size);

Decoded read(const std::string& path);
Decoded read_memory(const void* bytes, size_t size, const std::string& name = "<memory>");
// Into an existing image, reusing its memory; info may be null.
void read_memory_into(const void* bytes, size_t size, const std::string& name, data::Image& out,
                      SourceInfo* info = nullptr);
// The header only (no pixel decoding): rows, columns, how it would be read. Checks everything
// read_memory checks except the pixel data itself.
SourceInfo probe_memory(const void* bytes, size_t size, const std::string& name = "<memory>");

// Registers the reader with the data layer (data::register_image_decoder, name "dicom").
void register_reader();

// ---------------------------------------------------------------- out

struct ClassProbability {
  std::string name;  // the model's class name
  double probability = 0;
};

// A round object found (e.g. by the Hough transform on a WPM), in the source image's pixels:
// x the column, y the row, the centre of the top-left pixel at (0, 0).
struct Circle {
  double x = 0, y = 0, radius = 0;
  double score = 0;  // the detector's confidence (votes x support for liteai's Hough)
};

// What the model and the anomaly maps said about one source image.
struct Findings {
  std::string model_name;     // the algorithm's name (Algorithm Name, Device Observer Model Name)
  std::string model_version;  // its version (Algorithm Version), e.g. the model file's hash
  std::vector<ClassProbability> classes;
  bool has_anomaly_score = false;
  double anomaly_score = 0;  // the WPM's image score
  std::vector<Circle> circles;
};

struct OutputOptions {
  // The new series and instance. Empty: derived by name (2.25.<128 bits of a SHA-256>): the series from
  // the source series, the object kind and the model, so one model's results on one series share
  // a series; the instance from the source instance, the kind, the model and the findings, so
  // writing the same results twice gives the same instance (a PACS keeps one).
  std::string series_instance_uid, sop_instance_uid;
  int series_number = 0;           // 0: 9901 for the SR, 9902 for the Secondary Capture
  std::string series_description;  // empty: "liteai <model> results" / "liteai <model> overlay"
  std::string content_date, content_time;  // empty: now (DA YYYYMMDD, TM HHMMSS)
};

// A Comprehensive SR holding a TID 1500 Imaging Measurement Report: the device observer
// "liteai" (the marker by which results are recognized) with the model as its model name; the
// source image in the Image Library; one Measurement Group per class (Finding: the class, a
// 99LITEAI code; Probability (122157, DCM) in UCUM "1"), one for the anomaly score, and one per
// circle (an Image Region SCOORD CIRCLE on the source image, its Diameter (81827009, SCT) in mm
// when the source has a pixel spacing, else in pixels, and its score); each measurement carries
// the model as Algorithm Name and Version (TID 4019). Patient and study attributes are copied
// from the source; the source instance is in the Current Requested Procedure Evidence.
// Throws invalid_argument naming the field when the source lacks a UID a result needs.
std::vector<uint8_t> encode_sr(const SourceInfo& source, const Findings& findings, const OutputOptions& options = {});
// A Secondary Capture (RGB, 8 bits) of `rgb` (width x height interleaved RGB bytes, stride 0 =
// packed): the overlay for viewers that show no SR. Same linking as the SR; Image Type
// DERIVED\SECONDARY, the source in Source Image Sequence.
std::vector<uint8_t> encode_secondary_capture(const SourceInfo& source, const Findings& findings, const uint8_t* rgb,
                                              int width, int height, int stride = 0,
                                              const OutputOptions& options = {});
// The same written atomically to `path`.
void write_sr(const std::string& path, const SourceInfo& source, const Findings& findings,
              const OutputOptions& options = {});
void write_secondary_capture(const std::string& path, const SourceInfo& source, const Findings& findings,
                             const uint8_t* rgb, int width, int height, int stride = 0,
                             const OutputOptions& options = {});

}  // namespace liteai::interop::dicom
