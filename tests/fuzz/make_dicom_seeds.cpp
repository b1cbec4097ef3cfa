// Writes seed DICOMs for fuzz_dicom_reader into DIR: small SYNTHETIC phantoms in every transfer
// syntax DCMTK encodes, gray variants (MONOCHROME1, signed, LUTs, windows) and refused kinds
// (colour, several frames).
#include <cstdio>
#include <string>

#include "dicom_fixtures.hpp"

namespace fx = liteai::test::dicom;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_dicom_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  int n = 0;
  auto seed = [&](const fx::Spec& s, E_TransferSyntax x) { fx::write(dir + "/seed" + std::to_string(n++) + ".dcm", s, x); };
  fx::Spec s;
  s.width = 40;  // small (the phantom's least size is 32)
  s.height = 32;
  s.window = {{2000, 3000}};
  for (E_TransferSyntax x : {EXS_LittleEndianExplicit, EXS_LittleEndianImplicit, EXS_BigEndianExplicit,
                             EXS_DeflatedLittleEndianExplicit, EXS_RLELossless, EXS_JPEGProcess14SV1,
                             EXS_JPEGProcess2_4, EXS_JPEGLSLossless, EXS_JPEGLSLossy})
    seed(s, x);
  fx::Spec b = s;
  b.bits_allocated = b.bits_stored = 8;
  b.photometric = "MONOCHROME1";
  seed(b, EXS_JPEGProcess1);
  seed(b, EXS_RLELossless);
  fx::Spec v = s;
  v.voi_lut = true;
  v.modality_lut = false;
  seed(v, EXS_LittleEndianExplicit);
  fx::Spec m = s;
  m.modality_lut = true;
  m.is_signed = true;
  seed(m, EXS_LittleEndianImplicit);
  fx::Spec c = b;
  c.photometric = "RGB";
  c.samples_per_pixel = 3;
  seed(c, EXS_LittleEndianExplicit);
  fx::Spec f = s;
  f.frames = 2;
  seed(f, EXS_RLELossless);
  return 0;
}
