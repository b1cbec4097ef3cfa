"""Test of the ctypes wrapper (run by ctest as capi_python with /usr/bin/python3).
Usage: LITEAI_LIBRARY=/path/libliteai.so python3 test_liteai.py WORK_DIR"""
import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import liteai  # noqa: E402

np = liteai.np  # None when numpy is missing or disabled (LITEAI_PYTHON_NO_NUMPY=1)

WORK = sys.argv.pop(1) if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="liteai_py_")
S = 32


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.manifest = liteai.write_phantoms(os.path.join(WORK, "phantoms"), 20, seed=3, size=S)


class TestBasics(Base):
    def test_version_and_threads(self):
        self.assertEqual(liteai.version()[0], liteai.ABI_MAJOR)
        self.assertGreaterEqual(liteai.get_num_threads(), 1)
        before = liteai.get_limit("max_file_bytes")
        liteai.set_limit("max_file_bytes", 1 << 31)
        self.assertEqual(liteai.get_limit("max_file_bytes"), 1 << 31)
        liteai.set_limit("max_file_bytes", before)
        with self.assertRaises(liteai.Error) as e:
            liteai.set_limit("max_pixels", 5)
        self.assertIn("unknown limit", str(e.exception))

    def test_errors_carry_status_and_message(self):
        with self.assertRaises(liteai.Error) as e:
            liteai.Model.load(os.path.join(WORK, "missing.lai"))
        self.assertEqual(e.exception.status, "LAI_ERR_IO")
        self.assertIn("missing.lai", str(e.exception))
        with self.assertRaises(liteai.Error) as e:
            liteai.Model.from_bytes(b"not a model at all")
        self.assertEqual(e.exception.status, "LAI_ERR_FORMAT")
        with self.assertRaises(liteai.Error) as e:
            liteai.Model.create("no_such_net", S, 2)
        self.assertEqual(e.exception.status, "LAI_ERR_INVALID_ARGUMENT")

    def test_decode_matches_phantom(self):
        img = liteai.decode_image(os.path.join(WORK, "phantoms", "images", "000000.png"))
        ref, label = liteai.phantom(3, 0, S)
        if np is not None:
            self.assertEqual(img.shape, (S, S))
            self.assertTrue(np.array_equal(img, ref.astype(np.float32)))
        else:
            self.assertEqual(img[0], [float(v) for v in ref.buffer])


class TestModel(Base):
    def test_predict_train_save_load(self):
        m = liteai.Model.create("compact_cxr", size=S, classes=5, seed=4)
        info = m.info
        self.assertEqual((info["input_width"], info["classes"], info["output_size"]), (S, 5, 5))
        img, _ = liteai.phantom(3, 1, S)
        p = m.predict(img)
        self.assertAlmostEqual(float(sum(p)), 1.0, places=5)

        calls = []
        r = m.train(self.manifest, epochs=1, batch_size=4, progress=lambda d: calls.append(d) and False)
        self.assertEqual(r["steps"], 5)
        self.assertEqual(r["cancelled"], 0)
        self.assertEqual([c["step"] for c in calls if c["phase"] == "train"], [1, 2, 3, 4, 5])
        self.assertTrue(all(math.isfinite(c["loss"]) for c in calls))
        self.assertEqual(m.class_names, ["effusion", "foreign_body", "nodule", "normal", "opacity"])

        # Cancel from Python: LAI_ERR_CANCELLED after 2 steps; an exception in the callback also cancels.
        steps = []
        with self.assertRaises(liteai.Error) as e:
            m.train(self.manifest, epochs=1, batch_size=4, progress=lambda d: steps.append(1) or len(steps) >= 2)
        self.assertEqual(e.exception.status, "LAI_ERR_CANCELLED")
        self.assertEqual(len(steps), 2)
        with self.assertRaises(ZeroDivisionError):
            m.train(self.manifest, epochs=1, batch_size=4, progress=lambda d: 1 / 0)

        path = os.path.join(WORK, "model.lai")
        m.save(path)
        back = liteai.Model.load(path)
        q1, q2 = m.predict(img), back.predict(img)
        self.assertEqual(list(q1), list(q2))
        self.assertEqual(list(back.predict_file(os.path.join(WORK, "phantoms", "images", "000001.png"))), list(q1))
        ev = back.evaluate(self.manifest, batch_size=8)
        self.assertEqual(ev["samples"], 20)
        self.assertTrue(0.0 <= ev["metric"] <= 1.0)

    def test_trainer_steps(self):
        m = liteai.Model.create("compact_cxr", size=S, classes=5, seed=6)
        imgs, labels = zip(*[liteai.phantom(3, i, S) for i in range(6)])
        with liteai.Trainer(m, learning_rate=1e-3) as t:
            with self.assertRaises(liteai.Error) as e:
                m.predict(imgs[0])
            self.assertEqual(e.exception.status, "LAI_ERR_BUSY")
            losses = [t.step(imgs, labels=labels) for _ in range(4)]
        self.assertTrue(all(math.isfinite(x) for x in losses))
        self.assertLess(losses[-1], losses[0])
        self.assertEqual(len(list(m.predict(imgs[0]))), 5)

    @unittest.skipIf(np is None, "numpy not installed")
    def test_numpy_types_strides_batch(self):
        m = liteai.Model.create("compact_cxr", size=S, classes=3, seed=5)
        rng = np.random.default_rng(0)
        big = rng.integers(0, 256, size=(50, 60), dtype=np.uint8)
        crop = big[5:45, 7:47]  # strided rows, no copy
        ref = m.predict(np.ascontiguousarray(crop))
        self.assertTrue(np.allclose(m.predict(crop), ref, atol=1e-6))
        self.assertTrue(np.allclose(m.predict(crop.astype(np.uint16) * 257), ref, atol=1e-5))
        self.assertTrue(np.allclose(m.predict(crop.astype(np.float32) / 255), ref, atol=1e-5))
        self.assertTrue(np.allclose(m.predict(crop.astype(np.float64)), ref, atol=1e-5))
        batch = m.predict_batch([crop, crop[::2, ::2], big])
        self.assertEqual(batch.shape, (3, 3))
        self.assertTrue(np.allclose(batch[0], ref, atol=1e-6))
        self.assertTrue(np.allclose(batch[1], m.predict(crop[::2, ::2]), atol=1e-6))
        with self.assertRaises(ValueError):
            m.predict(np.zeros((2, 3, 4), np.uint8))


class TestAnomaly(Base):
    def test_probmat_wpm_merge_save(self):
        a, b, whole = (liteai.ProbMat(S, S, bins=64) for _ in range(3))
        for i in range(10):
            img, label = liteai.phantom(8, i * 5, S)
            self.assertEqual(label, 0)
            (a if i < 4 else b).add(img)
            whole.add(img)
        a.merge(b)
        self.assertEqual(a.images, 10)
        fb, label = liteai.phantom(8, 1, S)
        m1, s1 = a.wpm(fb)
        m2, s2 = whole.wpm(fb)
        self.assertEqual(s1, s2)
        self.assertEqual(list(m1.ravel() if np is not None else m1), list(m2.ravel() if np is not None else m2))
        path = os.path.join(WORK, "pm.lpm")
        a.save(path)
        _, s3 = liteai.ProbMat.load(path).wpm(fb)
        self.assertEqual(s3, s1)
        with self.assertRaises(liteai.Error) as e:
            a.add(liteai.phantom(8, 0, 64)[0])
        self.assertIn("built for", str(e.exception))

    @unittest.skipIf(np is None, "numpy not installed")
    def test_som_and_hough(self):
        rng = np.random.default_rng(1)
        data = np.concatenate([rng.normal(0, 0.1, (30, 3)), rng.normal(5, 0.1, (30, 3))]).astype(np.float32)
        som = liteai.Som.train(data, rows=2, cols=2, epochs=5)
        self.assertEqual(som.shape, (2, 2, 3))
        bmu, dist = som.map(data)
        self.assertTrue(set(bmu[:30]).isdisjoint(set(bmu[30:])))
        w = som.weights
        self.assertTrue(np.allclose(dist[0], np.linalg.norm(data[0] - w[bmu[0]]), atol=1e-3))
        path = os.path.join(WORK, "s.lsom")
        som.save(path)
        self.assertTrue(np.array_equal(liteai.Som.load(path).map(data)[0], bmu))

        yy, xx = np.mgrid[0:80, 0:100]
        img = np.where((xx - 60) ** 2 + (yy - 30) ** 2 <= 10 ** 2, 200, 20).astype(np.uint8)
        circles = liteai.hough_circles(img, min_radius=5, max_radius=20)
        self.assertGreaterEqual(len(circles), 1)
        x, y, r = circles[0][:3]
        self.assertLess(abs(x - 60) + abs(y - 30), 3)
        self.assertLess(abs(r - 10), 2)


def _as_map(m, w, h):
    """A map returned by the wrapper as something the wrapper takes back (array or liteai.Image)."""
    if np is not None:
        return m
    import array
    return liteai.Image(array.array("f", m), w, h, liteai.PIXEL_F32)


class TestVersion02(Base):
    def test_autoencoder_scores_pngs(self):
        self.assertGreaterEqual(liteai.version()[1], 2)
        calls = []
        ae = liteai.Autoencoder.train(self.manifest, label="normal", size=16, width=4, epochs=2, batch_size=4,
                                      progress=lambda d: calls.append(d["phase"]) and False)
        self.assertIn("train", calls)
        self.assertEqual(ae.map_size, (16, 16))
        fb, label = liteai.phantom(3, 1, S)
        self.assertEqual(label, 1)
        m, score = ae.score(fb)
        self.assertGreater(score, 0.0)
        flat = list(m.ravel()) if np is not None else m
        self.assertEqual(len(flat), 256)
        m2, score2 = ae.score_file(os.path.join(WORK, "phantoms", "images", "000001.png"))
        self.assertEqual(score2, score)
        self.assertEqual(list(m2.ravel()) if np is not None else m2, flat)
        self.assertEqual(liteai.map_score(_as_map(m, 16, 16)), score)
        self.assertEqual(liteai.map_score(_as_map(m, 16, 16), score="max"), max(flat))
        path = os.path.join(WORK, "ae.lai")
        ae.save(path)
        self.assertEqual(liteai.Autoencoder.load(path).score(fb)[1], score)
        with self.assertRaises(liteai.Error) as e:
            liteai.Autoencoder.train(self.manifest, label="normal", size=16, epochs=1, progress=lambda d: True)
        self.assertEqual(e.exception.status, "LAI_ERR_CANCELLED")
        with self.assertRaises(liteai.Error) as e:
            liteai.Autoencoder.train(self.manifest, label="no_such_class", size=16)
        self.assertIn("no_such_class", str(e.exception))

        heat, over = os.path.join(WORK, "heat.png"), os.path.join(WORK, "over.png")
        liteai.write_heatmap_png(heat, _as_map(m, 16, 16))
        liteai.write_overlay_png(over, fb, _as_map(m, 16, 16), threshold=score)
        h = liteai.decode_image(heat)
        o = liteai.decode_image(over)
        if np is not None:
            self.assertEqual(h.shape, (16, 16))
            self.assertEqual(o.shape, (S, S))  # the map is resized to the image
        else:
            self.assertEqual(h[1:], (16, 16))
            self.assertEqual(o[1:], (S, S))

    def test_evaluate_report(self):
        m = liteai.Model.create("small_cnn", size=S, classes=5, seed=2)
        m.train(self.manifest, epochs=1, batch_size=4)
        rep = m.evaluate_report(self.manifest, batch_size=8)
        self.assertEqual(rep["samples"], 20)
        self.assertFalse(rep["multi_label"])
        self.assertEqual([c["name"] for c in rep["classes"]], m.class_names)
        conf = rep["confusion"]
        self.assertEqual(sum(map(sum, conf)), 20)
        for k, c in enumerate(rep["classes"]):
            self.assertEqual(sum(conf[k]), c["support"])
            self.assertEqual(c["tp"], conf[k][k])
            self.assertEqual(c["tp"] + c["fn"], c["support"])
        self.assertAlmostEqual(rep["accuracy"], sum(conf[k][k] for k in range(5)) / 20.0)
        self.assertAlmostEqual(rep["loss"], m.evaluate(self.manifest, batch_size=8)["loss"], places=5)

    def test_report_from_scores(self):
        rep = liteai.report_from_scores([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], labels=[0, 1, 1])
        c0, c1 = rep["classes"]
        self.assertEqual((c0["tp"], c0["fp"], c0["fn"], c0["tn"]), (1, 1, 0, 1))
        self.assertEqual((c0["precision"], c0["recall"]), (0.5, 1.0))
        self.assertEqual((c1["precision"], c1["recall"]), (1.0, 0.5))
        self.assertEqual(c1["auroc"], 1.0)  # positives 0.8, 0.4 above the negative's 0.1
        self.assertEqual(rep["confusion"], [[1, 0], [1, 1]])
        self.assertAlmostEqual(rep["accuracy"], 2 / 3)
        multi = liteai.report_from_scores([[0.9, 0.7], [0.2, 0.1]], targets=[[1, 0], [0, 1]], threshold=0.5)
        self.assertTrue(multi["multi_label"])
        self.assertIsNone(multi["confusion"])
        self.assertEqual(multi["classes"][1]["fp"], 1)
        self.assertTrue(math.isnan(liteai.report_from_scores([[0.9, 0.1]], labels=[0])["classes"][0]["auroc"]))



@unittest.skipUnless(liteai.has("lai_senafas_fit"), "library older than C API 0.3")
class TestVersion03(Base):
    def test_precision(self):
        self.assertGreaterEqual(liteai.version()[1], 3)
        m = liteai.Model.create("compact_cxr", 64, 5, seed=2)
        self.assertEqual((m.inference_precision, m.training_precision), ("f32", "bf16"))
        img, _ = liteai.phantom(4, 1, 64)
        p32 = list(m.predict(img))
        m.inference_precision = "bf16"
        self.assertEqual(m.inference_precision, "bf16")
        p16 = list(m.predict(img))
        self.assertNotEqual(p16, p32)
        self.assertLess(max(abs(a - b) for a, b in zip(p16, p32)), 2e-2)
        m.inference_precision = "bf16-compute"  # C API 0.4: bf16 conv products too
        self.assertEqual(m.inference_precision, "bf16-compute")
        pc = list(m.predict(img))
        self.assertNotEqual(pc, p16)
        self.assertLess(max(abs(a - b) for a, b in zip(pc, p32)), 2e-2)
        m.inference_precision = "f32"
        self.assertEqual(list(m.predict(img)), p32)
        m.training_precision = "f32"
        self.assertEqual(m.training_precision, "f32")
        m.training_precision = "bf16-compute"
        self.assertEqual(m.training_precision, "bf16-compute")
        with self.assertRaises(KeyError):
            m.inference_precision = "fp8"

    def test_senafas(self):
        pm = liteai.ProbMat(S, S, bins=32)
        normals = []
        i = 0
        while len(normals) < 12:
            img, label = liteai.phantom(7, i, S)
            i += 1
            if label == 0:
                normals.append(img)
        for img in normals[:6]:
            pm.add(img)
        sen = liteai.Senafas.fit_probmat(pm, normals[6:], patch=4, rows=3, cols=3, epochs=5)
        info = sen.info
        self.assertEqual((info["map_width"], info["channel_width"], info["patch"]), (S, S // 4, 4))
        wpms = [pm.wpm(img)[0] for img in normals[6:]]
        if np is None:  # flat lists -> liteai.Image of float32
            import array
            wpms = [liteai.Image(array.array("f", w), S, S, liteai.PIXEL_F32) for w in wpms]
        direct = liteai.Senafas.fit(wpms, patch=4, rows=3, cols=3, epochs=5)
        ch, score = sen.channel(wpms[0])
        ch2, score2 = direct.channel(wpms[0])
        flat = list(ch.ravel()) if np is not None else ch
        self.assertEqual(len(flat), (S // 4) ** 2)
        self.assertEqual(flat, list(ch2.ravel()) if np is not None else ch2)
        self.assertEqual(score, max(flat))
        path = os.path.join(WORK, "s.lsnf")
        sen.save(path)
        back = liteai.Senafas.load(path)
        self.assertEqual(back.info, info)
        ch3, _ = back.channel(wpms[0])
        self.assertEqual(list(ch3.ravel()) if np is not None else ch3, flat)
        with open(path, "r+b") as f:
            f.seek(-5, 2)
            f.write(b"\xff")
        with self.assertRaises(liteai.Error) as e:
            liteai.Senafas.load(path)
        self.assertEqual(e.exception.status, "LAI_ERR_FORMAT")
        self.assertIn("checksum", str(e.exception))
        with self.assertRaises(liteai.Error) as e:
            liteai.Senafas.fit(wpms[:1])
        self.assertIn("at least 2", str(e.exception))


class TestVersion04(Base):
    def test_options_are_the_clis(self):
        o = liteai.Options("train", epochs=3, val_split=0.25, hflip=True)
        self.assertEqual(o["epochs"], "3")
        self.assertEqual(o["batch"], "64")  # the CLI's default
        self.assertEqual(o.to_dict(), {"epochs": 3, "val-split": 0.25, "hflip": True})
        with self.assertRaises(liteai.Error) as e:
            o["batch"] = 0
        self.assertEqual(e.exception.status, "LAI_ERR_INVALID_ARGUMENT")
        self.assertIn("1..65536", str(e.exception))
        with self.assertRaises(liteai.Error):
            liteai.Options("train", bogus=1)
        names = [d["name"] for d in liteai.describe_options("train")]
        self.assertIn("warmup", names)
        self.assertIn("image-root", names)
        self.assertIn("probmat-build", liteai.describe_options())

    def test_train_evaluate_describe_log(self):
        lines = []
        liteai.set_log_callback(lambda level, text: lines.append((level, text)))
        try:
            out = os.path.join(WORK, "py_train.lai")
            steps = []
            m, report = liteai.train(data=self.manifest, model="compact_cxr", size=16, epochs=1, batch=4, l2=0.0,
                                     schedule="cosine", out=out, progress=lambda p: steps.append(p["step"]) and False)
        finally:
            liteai.set_log_callback(None)
        self.assertEqual(report["epochs_done"], 1)
        self.assertEqual(report["saved"], out)
        self.assertTrue(os.path.exists(out))
        self.assertEqual(len(steps) > 0, True)
        self.assertTrue(any(text.startswith("data: ") for _, text in lines))
        r = m.evaluate_with(data=self.manifest, batch=8)
        self.assertEqual(r["samples"], 20)
        self.assertEqual(r["classes"], 5)
        self.assertEqual(len(r["per_class"]), 5)
        d = m.describe()
        self.assertEqual(d["head"], "softmax")
        self.assertGreater(d["memory"]["parameter_bytes"], 0)
        r2 = m.train_with(data=self.manifest, epochs=1, batch=4, quiet=True)
        self.assertEqual(r2["epochs_run"], 1)
        # FedProx: an option of the train task like any other (issue 20), refused without --init.
        prox = os.path.join(WORK, "py_prox.lai")
        _, r3 = liteai.train(data=self.manifest, init=out, prox_mu=0.5, epochs=1, batch=4, quiet=True, out=prox)
        self.assertEqual(r3["epochs_done"], 1)
        with self.assertRaises(liteai.Error) as e:
            liteai.train(data=self.manifest, model="compact_cxr", size=16, prox_mu=0.5, epochs=1, batch=4, quiet=True)
        self.assertIn("--prox-mu", str(e.exception))
        # bf16 master weights for the streamed fc1 (131,072 weights): 2 bytes each fewer in the file.
        sizes = {}
        for mw in ("f32", "bf16"):
            path = os.path.join(WORK, "py_mw_%s.lai" % mw)
            liteai.train(data=self.manifest, model="compact_cxr", size=16, epochs=1, batch=4, quiet=True,
                         stream_min=100000, master_weights=mw, out=path)
            sizes[mw] = os.path.getsize(path)
        self.assertLess(abs(sizes["f32"] - sizes["bf16"] - 2 * 131072), 4096)
        with self.assertRaises(liteai.Error) as e:
            liteai.train(data=self.manifest, model="compact_cxr", size=16, master_weights="f16", quiet=True)
        self.assertIn("master-weights", str(e.exception))

    def test_onnx_export_import(self):
        m = liteai.Model.create("small_cnn", size=S, classes=3, seed=6)
        path = os.path.join(WORK, "py_model.onnx")
        try:
            m.export_onnx(path)
        except liteai.Error as e:  # a build without libonnx-dev
            self.assertEqual(e.status, "LAI_ERR_NOT_SUPPORTED")
            return
        g = liteai.import_onnx(path, classes=["x", "y", "z"], head="softmax", out=os.path.join(WORK, "py_graph.lai"))
        self.assertEqual(g.class_names, ["x", "y", "z"])
        self.assertEqual(g.describe()["architecture"]["name"], "graph")
        img, _ = liteai.phantom(3, 2, S)
        for a, b in zip(m.predict(img), g.predict(img)):
            self.assertAlmostEqual(float(a), float(b), places=6)
        with self.assertRaises(liteai.Error) as e:
            liteai.import_onnx(os.path.join(WORK, "missing.onnx"))
        self.assertEqual(e.exception.status, "LAI_ERR_IO")

    def test_repack(self):
        m = liteai.Model.create("teacher_cxr", size=S, classes=3, seed=8)
        src, dst = os.path.join(WORK, "py_teacher.lai"), os.path.join(WORK, "py_repacked.lai")
        m.save(src)
        r, report = liteai.repack(src, dst, fold=True, bf16=True, runs=2, check_count=2)
        self.assertFalse(report["exact"])
        self.assertLess(report["after"]["file_bytes"], 0.6 * report["before"]["file_bytes"])
        self.assertEqual(report["check"]["images"], 2)
        self.assertTrue(any("BatchNormalization" in c for c in report["changes"]))
        img, _ = liteai.phantom(3, 4, S)
        for a, b in zip(m.predict(img), r.predict(img)):
            self.assertAlmostEqual(float(a), float(b), places=2)
        with self.assertRaises(liteai.Error) as e:
            liteai.repack(src, os.path.join(WORK, "py_gray.lai"), gray=True)
        self.assertEqual(e.exception.status, "LAI_ERR_INVALID_ARGUMENT")
        self.assertIn("1 channel", str(e.exception))
        with self.assertRaises(liteai.Error):
            liteai.repack(src, dst, grey=True)

    def test_synth_options(self):
        d = os.path.join(WORK, "normals_only")
        liteai.write_phantoms(d, 6, seed=2, size=S, classes=["normal"], quiet=True)
        with open(os.path.join(d, "manifest.csv")) as f:
            labels = [line.split(",")[1] for line in f.read().splitlines()[1:]]
        self.assertEqual(labels, ["normal"] * 6)

    def test_probmat_build(self):
        pm = liteai.ProbMat.build(data=self.manifest, label="normal", size=S, bins=32, holdout=0, quiet=True)
        self.assertEqual(pm.images, 4)
        self.assertEqual(pm.describe()["bins"], 32)
        img, _ = liteai.phantom(3, 1, S)
        wpm, score = pm.wpm_with(img, score="max")
        top = float(max(wpm.flatten()) if np is not None else max(wpm))
        self.assertAlmostEqual(score, top, places=4)

    def test_roi_training(self):
        """ROI-guided training (issue 17) by keywords: the model records its ProbMat, and predict on
        a raw image (array or file) cuts the same regions in the trained and the loaded model."""
        pm_path = os.path.join(WORK, "py_roi_pm.lpm")
        liteai.ProbMat.build(data=self.manifest, label="normal", size=S, holdout=0, quiet=True).save(pm_path)
        out = os.path.join(WORK, "py_roi.lai")
        m, report = liteai.train(data=self.manifest, roi=pm_path, roi_k=2, roi_size=16, size=16, epochs=1, batch=4,
                                 quiet=True, out=out)
        self.assertEqual(report["saved"], out)
        d = m.describe()
        self.assertEqual(d["architecture"]["name"], "roi_cxr")
        self.assertEqual((d["preprocessing"]["roi"]["k"], d["preprocessing"]["roi"]["size"]), (2, 16))
        img, _ = liteai.phantom(3, 1, S)
        loaded = liteai.Model.load(out)
        p, q = m.predict(img), loaded.predict(img)
        r = loaded.predict_file(os.path.join(WORK, "phantoms", "images", "000001.png"))
        for a, b, c in zip(p, q, r):
            self.assertAlmostEqual(float(a), float(b), places=5)
            self.assertAlmostEqual(float(a), float(c), places=5)
        with self.assertRaises(liteai.Error) as e:
            liteai.train(data=self.manifest, roi=pm_path, model="compact_cxr", size=16, epochs=1, quiet=True)
        self.assertIn("--roi needs an ROI-guided model", str(e.exception))

    def test_ctypes_structs_match_the_header(self):
        """Every struct the wrapper declares agrees with the C compiler's layout (tests/abi's layout
        programs print each field's offset and size from liteai.h)."""
        import subprocess
        progs = [p for p in os.environ.get("LITEAI_ABI_LAYOUTS", "").split(os.pathsep) if p]
        if not progs:
            self.skipTest("LITEAI_ABI_LAYOUTS not set (run through ctest)")
        seen = {}
        for prog in progs:
            for line in subprocess.run([prog], check=True, capture_output=True, text=True).stdout.splitlines():
                parts = line.split()
                if len(parts) == 3 and "." in parts[0]:
                    struct, field = parts[0].split(".", 1)
                    seen.setdefault(struct, []).append((field, int(parts[1]), int(parts[2])))
        checked = 0
        for struct, fields in seen.items():
            cls = liteai._STRUCTS.get(struct)
            self.assertIsNotNone(cls, "the wrapper has no ctypes class for %s" % struct)
            names = [f[0] for f in cls._fields_]
            for field, offset, size in fields:
                self.assertIn(field, names, "%s.%s missing in the wrapper" % (struct, field))
                d = getattr(cls, field)
                self.assertEqual((d.offset, d.size), (offset, size), "%s.%s" % (struct, field))
                checked += 1
        self.assertGreater(checked, 50)


class TestExplain(Base):
    def test_explain(self):
        m = liteai.Model.create("compact_cxr", size=S, classes=3, seed=7)
        m.class_names = ["a", "b", "c"]
        img, _ = liteai.phantom(3, 1, 40)  # another size than the model's input
        cam = m.explain(img)
        rows = cam.tolist() if np is not None else cam
        self.assertEqual((len(rows), len(rows[0])), (40, 40))
        values = [v for r in rows for v in r]
        self.assertGreaterEqual(min(values), 0.0)
        self.assertIn(max(values), (0.0, 1.0))
        other = m.explain(img, **{"class": "c", "layer": "conv2"})
        other_rows = other.tolist() if np is not None else other
        self.assertNotEqual(rows, other_rows)
        with self.assertRaises(liteai.Error) as e:
            m.explain(img, layer="nope")
        self.assertEqual(e.exception.status, "LAI_ERR_INVALID_ARGUMENT")
        self.assertIn("no layer 'nope'", str(e.exception))
        with self.assertRaises(liteai.Error) as e:
            m.explain(img, **{"class": "zebra"})
        self.assertIn("class 'zebra'", str(e.exception))
        with self.assertRaises(liteai.Error):
            m.explain(img, bogus=1)


@unittest.skipUnless(liteai.dicom_available() and os.environ.get("LITEAI_MAKE_DICOM_FILES"),
                     "no DICOM module in this library, or no phantom DICOM writer (run through ctest)")
class TestDicom(Base):
    """DICOM in and out on SYNTHETIC phantom DICOMs (tests/support/make_dicom_files)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import subprocess
        cls.dir = os.path.join(WORK, "dicom")
        os.makedirs(cls.dir, exist_ok=True)
        subprocess.run([os.environ["LITEAI_MAKE_DICOM_FILES"], cls.dir, "--size", str(S), "--count", "3", "--refused"],
                       check=True)
        cls.files = sorted(os.path.join(cls.dir, f) for f in os.listdir(cls.dir) if not f.startswith("refused"))

    def test_read_image_describe_predict(self):
        m = liteai.Model.create("small_cnn", S, 2)
        for path in self.files:
            d = liteai.Dicom.read(path)
            with open(path, "rb") as f:
                d2 = liteai.Dicom.from_bytes(f.read())
            info = d.describe()
            self.assertEqual(info["rows"], S)
            self.assertEqual(info["patient_id"], "SYN-0001")
            img, img2 = d.image, d2.image
            decoded = liteai.decode_image(path)
            if np is not None:
                self.assertEqual(img.dtype, np.uint16)
                self.assertEqual(img.shape, (S, S))
                self.assertTrue((img == img2).all())
                self.assertTrue((img.astype(np.float32) == decoded).all())
            else:
                self.assertEqual((img.width, img.height), (S, S))
                self.assertEqual(bytes(img.buffer), bytes(img2.buffer))
            self.assertEqual(list(m.predict(img)), list(m.predict_file(path)))  # bit for bit

    def test_results_and_refusals(self):
        m = liteai.Model.create("small_cnn", S, 2)
        d = liteai.Dicom.read(self.files[0])
        f = m.findings([0.25, 0.75])
        self.assertEqual(f["model_name"], "small_cnn")
        self.assertIn("weights sha256", f["model_version"])
        sr = d.sr([f, {"anomaly_score": 2.5, "circles": [{"x": 3, "y": 4, "radius": 2, "score": 1}]}])
        self.assertEqual(sr[128:132], b"DICM")
        with self.assertRaises(liteai.Error) as e:
            liteai.Dicom.from_bytes(sr)
        self.assertEqual(e.exception.status, "LAI_ERR_NOT_SUPPORTED")
        self.assertIn("(7FE0,0010)", str(e.exception))
        amap = np.zeros((8, 8), dtype=np.float32) if np is not None else liteai.Image(bytearray(8 * 8 * 4), 8, 8, 3)
        sc = d.overlay(amap, 1.0, f)
        self.assertEqual(sc[128:132], b"DICM")
        self.assertGreater(len(sc), S * S * 3)
        # A ProbMat's findings on the DICOM's unit-scaled image, joined with the model's.
        pm = liteai.ProbMat.build(data=self.manifest, label="normal", size=S, bins=32, quiet=True)
        def f32(values):  # a float image in either mode
            if np is not None:
                return values
            import array
            return liteai.Image(bytearray(array.array("f", values).tobytes()), S, S, liteai.PIXEL_F32)
        unit = liteai.image_to_unit(d.image, S, S)
        wpm, score = pm.wpm_with(f32(unit))
        pf = pm.findings(f32(wpm), S, S)
        self.assertEqual(pf["model_name"], "liteai probmat")
        self.assertAlmostEqual(pf["anomaly_score"], score, places=5)
        self.assertEqual(d.sr([f, pf])[128:132], b"DICM")
        with self.assertRaises(liteai.Error) as e:
            d.sr({"classes": [{"name": "x"}]})
        self.assertEqual(e.exception.status, "LAI_ERR_INVALID_ARGUMENT")
        with self.assertRaises(liteai.Error) as e:
            liteai.Dicom.read(os.path.join(self.dir, "refused_rgb.dcm"))
        self.assertEqual(e.exception.status, "LAI_ERR_NOT_SUPPORTED")
        self.assertIn("(0028,0002)", str(e.exception))


if __name__ == "__main__":
    unittest.main(verbosity=2)
