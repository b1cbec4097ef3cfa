#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration test of the liteai Orthanc plugin against a real Orthanc on loopback.

Makes a small model and ProbMat with the `liteai` command (SYNTHETIC phantoms), writes phantom
DICOMs (tests/support/make_dicom_files), starts Orthanc with the plugin (configuration and storage
in a temporary folder, free ports, authentication on), uploads the DICOMs over the REST API, waits
for the results and checks them: every upload analyzed once (none lost, none duplicated), the
metadata, the SR and SC instances in the same study, the REST JSON, and the probabilities and
anomaly scores equal to what `liteai predict` and `liteai probmat score` print for the same files.
Stops the server by its PID. With --baseline it also uploads the same files to an Orthanc without
the plugin and prints both storage latencies; it prints the time from upload to results and the
images per hour sustained.

  test_orthanc.py --orthanc /usr/sbin/Orthanc --plugin libliteai_orthanc.so --liteai liteai
                  --dicom-files make_dicom_files --work DIR [--count 12] [--size 128] [--baseline]
                  [--arch compact_cxr --input 256]
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

USER, PASSWORD = "liteai", "not-a-real-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Orthanc:
    """One Orthanc process with its own configuration and storage under `folder`."""

    def __init__(self, binary, folder, plugin=None, liteai=None):
        self.folder, self.port = folder, free_port()
        os.makedirs(folder, exist_ok=True)
        config = {
            "Name": "liteai-test",
            "StorageDirectory": os.path.join(folder, "storage"),
            "IndexDirectory": os.path.join(folder, "index"),
            "HttpPort": self.port,
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [plugin] if plugin else [],
            "UserMetadata": {"LiteaiFindings": 4601, "LiteaiSR": 4602, "LiteaiAnomalySR": 4603, "LiteaiSC": 4604},
            "StableAge": 1,
            "HttpThreadsCount": 4,
        }
        if liteai:
            config["Liteai"] = liteai
        path = os.path.join(folder, "orthanc.json")
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        self.log = open(os.path.join(folder, "orthanc.log"), "w")
        self.process = subprocess.Popen([binary, "--verbose", path], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                self.get("/system")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None or time.time() > deadline:
                    log = self.read_log()
                    self.stop()
                    raise RuntimeError("Orthanc did not start; its log:\n" + log)
                time.sleep(0.2)

    def request(self, method, uri, body=None, content_type=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, uri), data=body, method=method)
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode())
        if content_type:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
            return json.loads(data) if r.headers.get_content_type() == "application/json" else data

    def get(self, uri):
        return self.request("GET", uri)

    def upload(self, dicom_bytes):
        return self.request("POST", "/instances", dicom_bytes, "application/dicom")

    def read_log(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()[-8000:]

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # by its PID
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orthanc", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--liteai", required=True)
    ap.add_argument("--dicom-files", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--baseline", action="store_true", help="also measure Orthanc without the plugin")
    ap.add_argument("--arch", default="small_cnn", help="the model's architecture (compact_cxr for measurements)")
    ap.add_argument("--input", type=int, default=64, help="the model's and the ProbMat's input size")
    a = ap.parse_args()
    for k in ("orthanc", "plugin", "liteai", "dicom_files", "work"):  # Orthanc resolves plugins from its config's folder
        setattr(a, k, os.path.abspath(getattr(a, k)))
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    w = lambda *p: os.path.join(a.work, *p)  # noqa: E731

    # A model, a ProbMat and the phantom DICOMs (every syntax and photometric variant, CR and DX).
    size = str(a.input)
    run([a.liteai, "synth", "--out", w("train"), "--n", "40", "--size", size, "--classes", "normal,foreign_body",
         "--seed", "3", "--quiet"])
    run([a.liteai, "train", "--data", w("train", "manifest.csv"), "--model", a.arch, "--size", size, "--epochs",
         "2", "--batch", "10", "--out", w("m.lai"), "--quiet"])
    run([a.liteai, "synth", "--out", w("normals"), "--n", "24", "--size", size, "--classes", "normal", "--seed", "4",
         "--quiet"])
    run([a.liteai, "probmat", "build", "--data", w("normals", "images"), "--size", size,
         "--out", w("pm.lpm"), "--quiet"])
    run([a.dicom_files, w("dcm"), "--size", str(a.size), "--count", str(a.count)])
    run([a.dicom_files, w("refused"), "--size", str(a.size), "--count", "0", "--refused"])  # colour, multi-frame
    files = sorted(os.listdir(w("dcm")))
    refused = sorted(os.listdir(w("refused")))
    check(len(files) == a.count, "make_dicom_files wrote %d files" % len(files))

    # What the command line says about the same files.
    expected_p = {}
    for line in run([a.liteai, "predict", "--model", w("m.lai"), "--top", "0", w("dcm")]).splitlines():
        path, rest = line.split(": ", 1)
        parts = rest.split()
        expected_p[os.path.basename(path)] = {parts[i]: float(parts[i + 1]) for i in range(0, len(parts), 2)}
    expected_s = {}
    for line in run([a.liteai, "probmat", "score", "--probmat", w("pm.lpm"), "--out", w("maps"), "--no-png",
                     w("dcm")]).splitlines()[1:]:
        path, score = line.split(",")[:2]
        expected_s[os.path.basename(path)] = float(score)

    baseline = []
    if a.baseline:
        plain = Orthanc(a.orthanc, w("orthanc_plain"))
        try:
            for f in files:
                with open(w("dcm", f), "rb") as fh:
                    data = fh.read()
                t = time.perf_counter()
                plain.upload(data)
                baseline.append(time.perf_counter() - t)
        finally:
            plain.stop()

    server = Orthanc(a.orthanc, w("orthanc"), plugin=a.plugin,
                     liteai={"Model": w("m.lai"), "ProbMat": w("pm.lpm"), "Modalities": "CR,DX", "QueueSize": 1000,
                             "Workers": 1})
    failed = True
    try:
        ids, uploaded, storage = {}, {}, []
        t_first = time.perf_counter()
        for f in files + refused:
            with open(w("dcm" if f in files else "refused", f), "rb") as fh:
                data = fh.read()
            t = time.perf_counter()
            r = server.upload(data)
            storage.append(time.perf_counter() - t)
            ids[f], uploaded[f] = r["ID"], time.perf_counter()
        # Wait for the results (the REST route says 404 until they are there).
        latency, results = {}, {}
        deadline = time.time() + 300
        while len(results) < len(files) and time.time() < deadline:
            for f in files:
                if f in results:
                    continue
                try:
                    results[f] = server.get("/liteai/instances/%s" % ids[f])
                    latency[f] = time.perf_counter() - uploaded[f]
                except urllib.error.HTTPError as e:
                    check(e.code == 404, "GET /liteai/instances/%s: HTTP %d" % (ids[f], e.code))
            time.sleep(0.05)
        t_last = time.perf_counter()
        # The plugin also sees its own results (and the refused objects) stored: let it finish.
        while True:
            status = server.get("/liteai/status")
            if status["waiting"] == 0 and status["queued"] == status["analyzed"] + status["failed"] + status["skipped"]:
                break
            check(time.time() < deadline, "the plugin's queue does not drain: %s" % status)
            time.sleep(0.05)
        check(len(results) == len(files), "results for %d of %d uploads (status %s)" % (len(results), len(files), status))

        # Nothing lost, nothing duplicated: every image analyzed once, refused objects skipped,
        # and each study holds its images plus exactly 2 SRs and 1 SC per image.
        check(status["analyzed"] == len(files) and status["failed"] == 0 and status["dropped"] == 0,
              "plugin status %s" % status)
        check(status["skipped"] >= len(refused) + 3 * len(files), "skipped (refused + own results): %s" % status)
        series = {}
        for sid in server.get("/series"):
            s = server.get("/series/%s" % sid)
            series[s["MainDicomTags"].get("Modality", "?")] = series.get(s["MainDicomTags"].get("Modality", "?"), 0) + \
                len(s["Instances"])
        check(series.get("SR") == 2 * len(files) and series.get("OT") == len(files),
              "instances per modality: %s (want SR %d, OT %d)" % (series, 2 * len(files), len(files)))

        for f in files:
            r = results[f]
            cls, anomaly = r["findings"]["classifier"], r["findings"]["anomaly"]
            # The metadata as Orthanc stores it.
            meta = server.get("/instances/%s/metadata?expand" % ids[f])
            check(json.loads(meta["LiteaiFindings"]) == r["findings"], "%s: metadata and REST agree" % f)
            check(meta["LiteaiSR"] == r["sr"] and meta["LiteaiSC"] == r["sc"], "%s: result IDs in the metadata" % f)
            # Same study, the source referenced.
            src = server.get("/instances/%s/simplified-tags" % ids[f])
            for key in ("sr", "anomaly_sr", "sc"):
                t = server.get("/instances/%s/simplified-tags" % r[key])
                check(t["StudyInstanceUID"] == src["StudyInstanceUID"], "%s: %s in the source's study" % (f, key))
                check(t["SeriesInstanceUID"] != src["SeriesInstanceUID"], "%s: %s in a new series" % (f, key))
            sr = server.get("/instances/%s/simplified-tags" % r["sr"])
            check(sr["Modality"] == "SR" and sr["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.88.33",
                  "%s: a Comprehensive SR" % f)
            sc = server.get("/instances/%s/simplified-tags" % r["sc"])
            check(sc["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.7" and int(sc["Rows"]) == a.size,
                  "%s: an SC at the source's size" % f)
            # The same numbers as the command line (which prints 4 decimals / 6 digits).
            check(cls["model_name"] == a.arch and "weights sha256" in cls["model_version"], "%s: model" % f)
            got = {c["name"]: c["probability"] for c in cls["classes"]}
            check(set(got) == set(expected_p[f]), "%s: classes %s vs %s" % (f, got, expected_p[f]))
            for name, p in got.items():
                check(abs(p - expected_p[f][name]) <= 0.00005, "%s: %s %.6f, liteai predict %.4f" %
                      (f, name, p, expected_p[f][name]))
            s = anomaly["anomaly_score"]
            check(abs(s - expected_s[f]) <= 1e-5 * max(1.0, abs(s)), "%s: score %r, liteai probmat score %r" %
                  (f, s, expected_s[f]))
        # A malformed route argument and an unknown instance answer cleanly.
        try:
            server.get("/liteai/instances/does-not-exist")
            check(False, "an unknown instance must answer 404")
        except urllib.error.HTTPError as e:
            check(e.code == 404, "unknown instance: HTTP %d" % e.code)
        failed = False
    finally:
        log = server.read_log()
        server.stop()
        if failed:
            print(log, file=sys.stderr)

    lat = sorted(latency.values())
    print("orthanc_plugin: %d uploads analyzed, none lost or duplicated; probabilities and scores equal liteai's"
          % len(files))
    print("  upload -> results: median %.3f s, max %.3f s; sustained %.0f images/hour (%d in %.1f s, %d worker)"
          % (statistics.median(lat), lat[-1], len(files) / (t_last - t_first) * 3600, len(files), t_last - t_first, 1))
    print("  storage latency with the plugin: median %.1f ms" % (1000 * statistics.median(storage)))
    if baseline:
        print("  storage latency without the plugin: median %.1f ms" % (1000 * statistics.median(baseline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
