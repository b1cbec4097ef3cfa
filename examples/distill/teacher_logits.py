#!/usr/bin/python3
"""Writes a teacher-logits file for `liteai distill --teacher-logits` from a PyTorch model.

A big model that never runs on the clinic's machine can still teach: run it where it lives, save its
raw logits per image in liteai's documented CSV format (header `image_id,<class>,...`, one row per
image, raw logits before softmax/sigmoid), copy the file, and distil a small liteai student from it.

    /usr/bin/python3 examples/distill/teacher_logits.py --data phantoms/manifest.csv --out logits.csv \
        [--model densenet121 | --weights teacher.pt] [--size 224] [--seed 1]

--data is a liteai CSV manifest (path,label,...) or a folder with one sub-folder per class; the
class columns follow the data's sorted class names, as liteai numbers them. Without --weights the
torchvision architecture gets seeded random weights (nothing is downloaded), which is enough to
show the plumbing; a real teacher passes its trained state dict with --weights.
"""
import argparse
import csv
import os
import sys

import torch
import torchvision


def read_data(spec):
    """(paths, sorted class names) of a manifest or a class-folder tree, as liteai reads them."""
    if os.path.isdir(spec):
        classes = sorted(d for d in os.listdir(spec) if os.path.isdir(os.path.join(spec, d)))
        paths = [os.path.join(spec, c, f) for c in classes for f in sorted(os.listdir(os.path.join(spec, c)))]
        return paths, classes
    root = os.path.dirname(os.path.abspath(spec))
    with open(spec, newline="") as f:
        rows = list(csv.DictReader(f))
    classes = sorted({r["label"] for r in rows})
    return [r["path"] if os.path.isabs(r["path"]) else os.path.join(root, r["path"]) for r in rows], classes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="resnet18", help="a torchvision classification architecture")
    ap.add_argument("--weights", help="a state dict (.pt) to load into it")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    paths, classes = read_data(a.data)
    torch.manual_seed(a.seed)
    net = getattr(torchvision.models, a.model)(num_classes=len(classes))
    if a.weights:
        net.load_state_dict(torch.load(a.weights, map_location="cpu"))
    net.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    with open(a.out, "w", newline="") as f, torch.no_grad():
        w = csv.writer(f)
        w.writerow(["image_id"] + classes)
        for p in paths:
            img = torchvision.io.read_image(p, torchvision.io.ImageReadMode.GRAY).float() / 255.0
            img = torch.nn.functional.interpolate(img[None], size=(a.size, a.size), mode="bilinear",
                                                  align_corners=False)[0]
            x = ((img.expand(3, -1, -1) - mean) / std)[None]  # gray copied to RGB, ImageNet normalization
            w.writerow([p] + ["%.9g" % v for v in net(x)[0].tolist()])
    print("wrote %d rows x %d classes to %s" % (len(paths), len(classes), a.out))


if __name__ == "__main__":
    sys.exit(main())
