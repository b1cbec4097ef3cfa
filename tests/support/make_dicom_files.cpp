// Writes SYNTHETIC phantom DICOMs for the tests that cannot write them themselves (the C API and
// command-line tests, the fuzz seeds, the Orthanc plugin's test):
//   make_dicom_files DIR [--size S] [--count N] [--seed K] [--refused]
// N gray images DIR/NNN_<variant>.dcm of S x S (default 64, 9), cycling through the variants
// (MONOCHROME1/2, 8/12/16 bits, signed, windows, LUTs; native, implicit, big endian, deflated,
// RLE, JPEG lossless and lossy, JPEG-LS), class normal for even N, foreign body for odd; with
// --refused also colour and multi-frame objects the reader must refuse.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dicom_fixtures.hpp"

namespace fx = liteai::test::dicom;

namespace {
struct Variant {
  const char* name;
  E_TransferSyntax xfer;
  void (*edit)(fx::Spec&);
};
const Variant kVariants[] = {
    {"dx12_window", EXS_LittleEndianExplicit, [](fx::Spec& s) { s.window = {{2000, 3000}}; }},
    {"cr12_mono1", EXS_LittleEndianImplicit, [](fx::Spec& s) { s.photometric = "MONOCHROME1"; s.modality = "CR"; }},
    {"dx16_rescale_rle", EXS_RLELossless, [](fx::Spec& s) { s.bits_stored = 16; s.rescale = {{0.5, -1024}}; s.window = {{14000, 20000}}; }},
    {"dx12_jpeg_lossless", EXS_JPEGProcess14SV1, [](fx::Spec& s) { s.window = {{2048, 4096}}; }},
    {"dx12_signed_bigendian", EXS_BigEndianExplicit, [](fx::Spec& s) { s.is_signed = true; s.rescale = {{1, 2048}}; }},
    {"dx8_jpeg_baseline", EXS_JPEGProcess1, [](fx::Spec& s) { s.bits_allocated = s.bits_stored = 8; }},
    {"dx12_jpegls", EXS_JPEGLSLossless, [](fx::Spec& s) { s.voi_lut = true; }},
    {"dx12_deflated_sigmoid", EXS_DeflatedLittleEndianExplicit, [](fx::Spec& s) { s.window = {{2000, 2500}}; s.voi_function = "SIGMOID"; }},
    {"cr12_modality_lut_jpeg_extended", EXS_JPEGProcess2_4, [](fx::Spec& s) { s.modality_lut = true; s.modality = "CR"; }},
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_dicom_files DIR [--size S] [--count N] [--seed K] [--refused]\n");
    return 2;
  }
  const std::string dir = argv[1];
  int size = 64, count = 9;
  uint64_t seed = 7;
  bool refused = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--refused") {
      refused = true;
    } else if (i + 1 < argc && a == "--size") {
      size = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--count") {
      count = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--seed") {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "make_dicom_files: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  try {
    std::filesystem::create_directories(dir);
    for (int i = 0; i < count; ++i) {
      const Variant& v = kVariants[i % (sizeof kVariants / sizeof kVariants[0])];
      fx::Spec s;
      s.width = s.height = size;
      s.seed = seed;
      s.index = uint64_t(i);
      s.phantom_class = i % 2;
      v.edit(s);
      char name[256];
      std::snprintf(name, sizeof name, "%s/%03d_%s.dcm", dir.c_str(), i, v.name);
      fx::write(name, s, v.xfer);
    }
    if (refused) {
      fx::Spec c;
      c.width = c.height = size;
      c.bits_allocated = c.bits_stored = 8;
      c.photometric = "RGB";
      c.samples_per_pixel = 3;
      fx::write(dir + "/refused_rgb.dcm", c);
      fx::Spec f;
      f.width = f.height = size;
      f.frames = 2;
      fx::write(dir + "/refused_frames.dcm", f, EXS_RLELossless);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_dicom_files: %s\n", e.what());
    return 1;
  }
  return 0;
}
