#!/usr/bin/env python3
"""Opens the report of `liteai demo --quick` in headless Chromium (Debian's `chromium`) and checks
what a person would see: the screenshot is not blank, every picture loads, and the key figures in
the page (elements with data-metric="a.b.c") equal metrics.json. Exits 77 (ctest: skipped) with a
SKIP message when chromium is not installed.

usage: check_demo_report.py LITEAI WORKDIR
"""
import html.parser
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SKIP = 77
# Figures the page must show (the test fails when one is missing, not only when one differs).
KEY_FIGURES = [
    "evaluation.accuracy", "evaluation.macro_auroc", "evaluation.ece", "evaluation.classes.0.recall",
    "evaluation.confusion.0.0", "anomaly.wpm_image_auroc", "anomaly.senafas_image_auroc",
    "distill.student.accuracy", "distill.teacher.accuracy", "federated.merged_accuracy",
    "federated.site_accuracy.2", "reload.max_difference", "wall_seconds", "machine.cores",
    "explain.pointing_hits", "distill.repacked.accuracy",
]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def decode_png(path):
    """(width, height, channels, rows of bytes) of an 8-bit PNG (gray, gray+alpha, RGB, RGBA)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise ValueError("bad CRC in " + kind.decode("latin1"))
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, interlace))
    raw = zlib.decompress(idat)
    stride = w * channels
    if len(raw) != h * (stride + 1):
        raise ValueError("image data of %d bytes, expected %d" % (len(raw), h * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
            elif ft != 0:
                raise ValueError("bad filter type %d" % ft)
        rows.append(bytes(line))
        prev = line
    return w, h, channels, rows


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []   # attribute dicts
        self.metrics = []  # (key, digits, text)
        self.sections = {}  # id -> data-status
        self._open = []    # stack of [key, digits, text] for data-metric elements

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag == "section":
            self.sections[a.get("id")] = a.get("data-status")
        if "data-metric" in a:
            self._open.append([a["data-metric"], int(a.get("data-digits", "4")), "", tag])

    def handle_data(self, data):
        for m in self._open:
            m[2] += data

    def handle_endtag(self, tag):
        if self._open and self._open[-1][3] == tag:
            k, d, t, _ = self._open.pop()
            self.metrics.append((k, d, t.strip()))


def lookup(obj, key):
    for part in key.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def chromium(args, profile):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--hide-scrollbars", "--user-data-dir=" + profile] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail("chromium failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr[-2000:]))
    return r.stdout


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    liteai, work = sys.argv[1], sys.argv[2]
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        print("SKIP: chromium is not installed (apt-get install chromium; scripts/setup-deps lists it)")
        return SKIP
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, "report")
    r = subprocess.run([liteai, "demo", "--quick", "--quiet", "--out", out], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        fail("liteai demo --quick failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    page_path = os.path.join(out, "index.html")
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    url = "file://" + os.path.abspath(page_path)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=work)

    # 1. The screenshot is not blank: many pixels away from the background, several colours.
    shot = os.path.join(work, "screenshot.png")
    chromium(["--window-size=1200,2400", "--virtual-time-budget=5000", "--screenshot=" + shot, url], profile)
    w, h, ch, rows = decode_png(shot)
    colours, inked, total = set(), 0, 0
    for y in range(0, h, 4):
        row = rows[y]
        for x in range(0, w, 4):
            px = row[x * ch:x * ch + min(ch, 3)]
            colours.add(px)
            total += 1
            if min(px) < 200:
                inked += 1
    print("screenshot %dx%d: %d colours, %.1f%% of sampled pixels inked" % (w, h, len(colours), 100.0 * inked / total))
    if len(colours) < 16 or inked < total * 0.02:
        fail("the screenshot looks blank (%d colours, %d of %d pixels inked)" % (len(colours), inked, total))

    # 2. The page as the browser built it (after the page's script marked each picture).
    dom = chromium(["--virtual-time-budget=5000", "--dump-dom", url], profile)
    page = Page()
    page.feed(dom)
    if "SYNTHETIC" not in dom or dom.count("<svg") < 4:
        fail("the page does not say SYNTHETIC or has fewer than 4 inline SVG charts")
    if len(page.images) < 15:
        fail("the page shows %d pictures, expected at least 15" % len(page.images))
    for img in page.images:
        src = img.get("src", "")
        if img.get("data-state") != "loaded":
            fail("picture %s did not load in chromium (data-state=%s)" % (src, img.get("data-state")))
        if "://" in src or src.startswith("/"):
            fail("picture %s is not a relative file" % src)
        try:
            iw, ih, _, _ = decode_png(os.path.join(out, src))
        except (OSError, ValueError) as e:
            fail("picture %s does not decode: %s" % (src, e))
        if iw < 8 or ih < 8:
            fail("picture %s is %dx%d" % (src, iw, ih))
    print("%d pictures loaded and decode" % len(page.images))
    explain = page.sections.get("explain")
    if not (explain == "not in this build" or (explain == "ran" and "explain" in metrics)):
        fail("the explanations section is neither 'not in this build' nor backed by figures: %s"
             % explain)
    for sid in ("train", "evaluate", "anomaly", "distill", "federated", "reload", "run"):
        if page.sections.get(sid) != "ran":
            fail("section %s: status %s" % (sid, page.sections.get(sid)))

    # 3. Every figure the page shows with a key equals metrics.json (as rounded for display).
    shown = {}
    for key, digits, text in page.metrics:
        try:
            value = lookup(metrics, key)
        except (KeyError, IndexError, ValueError, TypeError):
            fail("the page shows %s = %s, which metrics.json lacks" % (key, text))
        expected = "n/a" if value is None else "%.*f" % (digits, value)
        if text != expected:
            fail("%s: the page shows '%s', metrics.json has %r ('%s')" % (key, text, value, expected))
        shown[key] = text
    missing = [k for k in KEY_FIGURES if k not in shown]
    if missing:
        fail("the page lacks the key figures " + ", ".join(missing))
    print("%d figures in the page equal metrics.json (accuracy %s, macro AUROC %s, wall %s s)"
          % (len(page.metrics), shown["evaluation.accuracy"], shown["evaluation.macro_auroc"], shown["wall_seconds"]))
    print("demo report: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
