// C API (0.4): DICOM in (lai_dicom: display pixels + what results copy) and out (the SR and the
// overlay Secondary Capture), translating into app/dicom_tasks and interop/dicom.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "capi_internal.hpp"
#include "liteai/app/dicom_tasks.hpp"
#include "liteai/interop/dicom.hpp"

using namespace liteai;
using namespace liteai::capi;
namespace dcm = liteai::interop::dicom;

// Immutable once read: every call but _free is thread-safe.
struct lai_dicom {
  dcm::Decoded decoded;
  std::vector<uint16_t> pixels;  // the display values (whole levels) as 16-bit pixels
};

namespace {

void require_dicom(const char* fn) {
  if (!app::dicom_available())
    fail(LAI_ERR_NOT_SUPPORTED, fn, ": this build of liteai has no DICOM module (it needs DCMTK: libdcmtk-dev)");
}

const lai_dicom& dicom_of(const lai_dicom* d, const char* fn) {
  require_ptr(d, fn, "dicom");
  return *d;
}

lai_dicom* wrap(dcm::Decoded d) {
  auto h = std::make_unique<lai_dicom>();
  h->decoded = std::move(d);
  const std::vector<float>& px = h->decoded.image.pixels;
  h->pixels.resize(px.size());
  for (size_t i = 0; i < px.size(); ++i) h->pixels[i] = uint16_t(px[i]);  // already whole levels in 0..65535
  return h.release();
}

// The caller's findings: malformed JSON is a bad argument here, not a damaged file.
dcm::Findings findings_arg(const char* fn, const char* json) {
  require_ptr(json, fn, "findings_json");
  try {
    return app::findings_from_json(io::Json::parse(json, str_cat(fn, ": findings_json")));
  } catch (const Error& e) {
    fail(LAI_ERR_INVALID_ARGUMENT, e.what());
  }
}

void give_bytes(const std::vector<uint8_t>& b, uint8_t** bytes, size_t* size) {
  auto* p = static_cast<uint8_t*>(std::malloc(b.size()));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, b.data(), b.size());
  *bytes = p;
  *size = b.size();
}

}  // namespace

extern "C" {

LAI_API int32_t lai_dicom_available(void) { return app::dicom_available() ? 1 : 0; }

LAI_API lai_status lai_dicom_read_file(const char* path, lai_dicom** out) {
  const char* fn = "lai_dicom_read_file";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    const std::string p = require_path(path, fn);
    require_dicom(fn);
#ifdef LITEAI_HAVE_DICOM
    *out = wrap(dcm::read(p));
#endif
  });
}

LAI_API lai_status lai_dicom_read_memory(const void* bytes, size_t size, lai_dicom** out) {
  const char* fn = "lai_dicom_read_memory";
  return guarded(fn, [&] {
    require_ptr(out, fn, "out");
    *out = nullptr;
    require_ptr(bytes, fn, "bytes");
    require(size > 0, fn, ": size is 0");
    require_dicom(fn);
#ifdef LITEAI_HAVE_DICOM
    *out = wrap(dcm::read_memory(bytes, size, "<memory>"));
#endif
  });
}

LAI_API void lai_dicom_free(lai_dicom* dicom) { delete dicom; }

LAI_API lai_status lai_dicom_image(const lai_dicom* dicom, lai_image* image) {
  const char* fn = "lai_dicom_image";
  return guarded(fn, [&] {
    const lai_dicom& d = dicom_of(dicom, fn);
    require_ptr(image, fn, "image");
    image->data = d.pixels.data();
    image->type = LAI_PIXEL_U16;
    image->width = d.decoded.image.width;
    image->height = d.decoded.image.height;
    image->stride_bytes = 0;
  });
}

LAI_API lai_status lai_dicom_describe(const lai_dicom* dicom, char** json) {
  const char* fn = "lai_dicom_describe";
  return guarded(fn, [&] {
    const dcm::SourceInfo& s = dicom_of(dicom, fn).decoded.info;
    require_ptr(json, fn, "json");
    *json = nullptr;
    io::Json j = io::Json::object();
    j.set("kind", "dicom");
    for (const auto& [key, value] : std::initializer_list<std::pair<const char*, const std::string*>>{
             {"sop_class_uid", &s.sop_class_uid},
             {"sop_instance_uid", &s.sop_instance_uid},
             {"study_instance_uid", &s.study_instance_uid},
             {"series_instance_uid", &s.series_instance_uid},
             {"frame_of_reference_uid", &s.frame_of_reference_uid},
             {"specific_character_set", &s.specific_character_set},
             {"patient_name", &s.patient_name},
             {"patient_id", &s.patient_id},
             {"issuer_of_patient_id", &s.issuer_of_patient_id},
             {"patient_birth_date", &s.patient_birth_date},
             {"patient_sex", &s.patient_sex},
             {"patient_age", &s.patient_age},
             {"study_date", &s.study_date},
             {"study_time", &s.study_time},
             {"study_id", &s.study_id},
             {"accession_number", &s.accession_number},
             {"referring_physician_name", &s.referring_physician_name},
             {"study_description", &s.study_description},
             {"modality", &s.modality},
             {"body_part_examined", &s.body_part_examined},
             {"series_number", &s.series_number},
             {"instance_number", &s.instance_number},
             {"transfer_syntax_uid", &s.transfer_syntax_uid},
             {"transfer_syntax_name", &s.transfer_syntax_name},
             {"photometric_interpretation", &s.photometric_interpretation},
             {"modality_transform", &s.modality_transform},
             {"voi", &s.voi}})
      j.set(key, *value);
    j.set("rows", s.rows);
    j.set("columns", s.columns);
    j.set("row_spacing_mm", s.row_spacing_mm);
    j.set("column_spacing_mm", s.column_spacing_mm);
    j.set("bits_allocated", s.bits_allocated);
    j.set("bits_stored", s.bits_stored);
    j.set("high_bit", s.high_bit);
    j.set("signed", s.is_signed);
    j.set("rescale_slope", s.rescale_slope);
    j.set("rescale_intercept", s.rescale_intercept);
    j.set("window_center", s.window_center);
    j.set("window_width", s.window_width);
    j.set("inverted", s.inverted);
    give_string(j.dump(), json);
  });
}

LAI_API lai_status lai_dicom_encode_sr(const lai_dicom* source, const char* findings_json, uint8_t** bytes,
                                       size_t* size) {
  const char* fn = "lai_dicom_encode_sr";
  return guarded(fn, [&] {
    const lai_dicom& d = dicom_of(source, fn);
    require_ptr(bytes, fn, "bytes");
    require_ptr(size, fn, "size");
    *bytes = nullptr;
    *size = 0;
    const dcm::Findings f = findings_arg(fn, findings_json);
    require_dicom(fn);
#ifdef LITEAI_HAVE_DICOM
    give_bytes(dcm::encode_sr(d.decoded.info, f), bytes, size);
#else
    (void)d;
#endif
  });
}

LAI_API lai_status lai_dicom_encode_overlay(const lai_dicom* source, const lai_image* map, float threshold,
                                            const char* findings_json, uint8_t** bytes, size_t* size) {
  const char* fn = "lai_dicom_encode_overlay";
  return guarded(fn, [&] {
    const lai_dicom& d = dicom_of(source, fn);
    require_ptr(bytes, fn, "bytes");
    require_ptr(size, fn, "size");
    *bytes = nullptr;
    *size = 0;
    const data::Image m = image_from_arg(fn, map, "map");
    require(std::isfinite(threshold), fn, ": threshold must be finite");
    const dcm::Findings f = findings_arg(fn, findings_json);
    require_dicom(fn);
#ifdef LITEAI_HAVE_DICOM
    const data::Image& img = d.decoded.image;
    const std::vector<uint8_t> rgb = app::overlay_of(img, m, threshold, -1.f);
    give_bytes(dcm::encode_secondary_capture(d.decoded.info, f, rgb.data(), img.width, img.height), bytes, size);
#else
    (void)d;
#endif
  });
}

LAI_API void lai_bytes_free(uint8_t* bytes) { std::free(bytes); }

LAI_API lai_status lai_model_findings(const lai_model* model, const float* probabilities, size_t count, char** json) {
  const char* fn = "lai_model_findings";
  return guarded(fn, [&] {
    const nn::Model& m = model_of(model, fn);
    require_ptr(json, fn, "json");
    *json = nullptr;
    require_ptr(probabilities, fn, "probabilities");
    require(int64_t(count) == m.num_classes(), fn, ": count is ", count, ", the model has ", m.num_classes(),
            " classes");
    ReadAccess access(model, fn);
    std::string version;
    {
      std::lock_guard<std::mutex> lock(model->version_mutex);
      if (model->version.empty()) model->version = app::model_version(m);
      version = model->version;
    }
    std::vector<float> p(probabilities, probabilities + count);
    for (float v : p) require(std::isfinite(v), fn, ": probabilities must be finite");
    give_string(app::findings_to_json(app::classifier_findings(m, version, p)).dump(), json);
  });
}

}  // extern "C"
