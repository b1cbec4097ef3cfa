#!/usr/bin/python3
"""Independent reference for liteai's DICOM reader (tests/unit/interop_dicom).

Usage: pydicom_reference.py OUTDIR IN.dcm...
Decodes each IN.dcm with pydicom, applies pydicom's modality and VOI transforms, and writes the
display values on liteai's documented scale (float32 OUTDIR/<k>.npy for the k-th file, from 0): the VOI output normalized to [0, 1]
over its output range (a VOI LUT: 0..2^bits-1; a window or no VOI: the rescaled range of the
stored bits, as pydicom's apply_windowing takes it), inverted for MONOCHROME1 (and MONOCHROME2
with Presentation LUT Shape INVERSE), times 65535. Prints one line per file: its index, a
status and a reason:
  image        <k>.npy written
  unsupported  pydicom reads the file, but liteai must refuse it (no pixel data, colour,
               several frames, a syntax DCMTK cannot decode here)
  undecodable  a gray one-frame image pydicom has no decoder for here (JPEG, JPEG-LS)
  damaged      pydicom cannot read or decode it
"""
import sys

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut

# Syntaxes DCMTK (Debian's 3.6.7, no OpenJPEG) cannot decode.
JPEG2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"}
PYDICOM_NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
                  "1.2.840.10008.1.2.5"}


class Verdict(Exception):
    def __init__(self, status, reason=""):
        super().__init__(f"{status} {reason}")


def say(status, reason=""):
    raise Verdict(status, reason)


def output_range(ds):
    """The (lo, hi) the VOI output spans, as pydicom's apply_windowing defines it."""
    if ds.get("VOILUTSequence"):
        return 0.0, float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    if ds.get("ModalityLUTSequence"):
        return 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    bits = int(ds.BitsStored)
    lo, hi = (0, 2 ** bits - 1) if int(ds.get("PixelRepresentation", 0)) == 0 else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        s, b = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        lo, hi = sorted((lo * s + b, hi * s + b))
    return float(lo), float(hi)


def main():
    out_dir = sys.argv[1]
    for k, src in enumerate(sys.argv[2:]):
        try:
            classify_and_decode(src, f"{out_dir}/{k}.npy")
            verdict = "damaged no verdict"
        except Verdict as v:
            verdict = str(v)
        except Exception as e:  # noqa: BLE001 - any failure to read a value is what we report
            verdict = f"damaged pydicom cannot read it: {type(e).__name__}: {e}"
        print(k, verdict.replace("\n", " "), flush=True)


def classify_and_decode(src, out):
    ds = pydicom.dcmread(src, force=True)
    ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else ""
    if "PixelData" not in ds:
        say("unsupported", "no Pixel Data")
    if "PhotometricInterpretation" not in ds:
        say("damaged", "no Photometric Interpretation")
    if int(ds.get("SamplesPerPixel", 1)) != 1 or ds.PhotometricInterpretation not in ("MONOCHROME1", "MONOCHROME2"):
        say("unsupported", f"colour ({ds.get('PhotometricInterpretation')})")
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        say("unsupported", f"{ds.NumberOfFrames} frames")
    if int(ds.get("BitsAllocated", 0)) not in (8, 16):
        say("unsupported", f"Bits Allocated {ds.get('BitsAllocated')}")
    if ts in JPEG2000:
        say("unsupported", f"JPEG 2000 ({ts})")
    if ts and ts not in PYDICOM_NATIVE:
        say("undecodable", f"no pydicom decoder for {ts} here")
    arr = apply_modality_lut(ds.pixel_array, ds)
    lo, hi = output_range(ds)
    y = apply_voi_lut(arr, ds).astype(np.float64)
    y = np.clip((y - lo) / (hi - lo) if hi > lo else y * 0, 0, 1)
    if ds.PhotometricInterpretation == "MONOCHROME1" or ds.get("PresentationLUTShape") == "INVERSE":
        y = 1 - y
    np.save(out, (y * 65535).astype("<f4"))
    say("image", f"{arr.shape[1]}x{arr.shape[0]} {ds.PhotometricInterpretation} {ts}")


if __name__ == "__main__":
    main()
