#!/usr/bin/python3
"""Writes a folder of synthetic "photos", one sub-folder per class, for
following docs/own-images.md without photos of your own.

  scripts/make-shapes.py OUT [--per-class 500] [--seed 1]

Four classes: circle, square, triangle, star. Each picture is a JPEG or a
PNG (one in four) of a random size from 40x40 to 240x180 pixels, not
always square: one filled shape of a random colour, size, place and
rotation on a background of another random colour with a gradient and
noise, slightly blurred, like a photo of an object. The colour says nothing
about the class; the outline does. OUT gets OUT/circle/0000.jpg ... , the
layout of a folder of photos sorted by hand (scripts/split-folder.py then
makes train/ and test/ from it). Needs numpy and OpenCV (Debian:
python3-numpy, python3-opencv)."""
import argparse
import math
import os

import cv2
import numpy as np

CLASSES = ("circle", "square", "triangle", "star")


def outline(kind, cx, cy, r, angle):
    """The polygon of a shape of radius r about (cx, cy), turned by angle."""
    if kind == "square":
        pts = [(r * math.cos(angle + k * math.pi / 2 + math.pi / 4),
                r * math.sin(angle + k * math.pi / 2 + math.pi / 4)) for k in range(4)]
    elif kind == "triangle":
        pts = [(r * math.cos(angle + k * 2 * math.pi / 3),
                r * math.sin(angle + k * 2 * math.pi / 3)) for k in range(3)]
    else:   # star: 5 points, inner radius 0.45 r
        pts = [((r if k % 2 == 0 else 0.45 * r) * math.cos(angle + k * math.pi / 5),
                (r if k % 2 == 0 else 0.45 * r) * math.sin(angle + k * math.pi / 5)) for k in range(10)]
    return np.array([(cx + x, cy + y) for x, y in pts], np.int32)


def picture(kind, rng):
    w = int(rng.integers(40, 241))
    h = int(np.clip(w * rng.uniform(0.75, 1.25), 40, 240))
    back = rng.uniform(0, 255, 3)
    fore = rng.uniform(0, 255, 3)
    luma = np.array([0.114, 0.587, 0.299])      # OpenCV's order: blue, green, red
    # the object stands out in colour and in grey
    while np.abs(fore - back).sum() < 150 or abs(luma @ (fore - back)) < 50:
        fore = rng.uniform(0, 255, 3)
    ramp = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(-30, 30, 3)
    img = np.clip(back + ramp + np.zeros((h, w, 3)), 0, 255).astype(np.uint8)
    r = min(w, h) * rng.uniform(0.25, 0.45)
    cx = rng.uniform(r, w - r)
    cy = rng.uniform(r, h - r)
    colour = tuple(float(v) for v in fore)
    if kind == "circle":
        cv2.circle(img, (int(cx), int(cy)), int(r), colour, -1, cv2.LINE_AA)
    else:
        cv2.fillPoly(img, [outline(kind, cx, cy, r, rng.uniform(0, 2 * math.pi))], colour, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    noise = rng.normal(0, 8, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    for kind in CLASSES:
        os.makedirs(os.path.join(a.out, kind), exist_ok=True)
        for i in range(a.per_class):
            img = picture(kind, rng)
            png = rng.uniform() < 0.25
            path = os.path.join(a.out, kind, f"{i:04d}.{'png' if png else 'jpg'}")
            params = [] if png else [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))]
            if not cv2.imwrite(path, img, params):
                raise SystemExit(f"{path}: could not write")
    print(f"{a.out}: {len(CLASSES)} classes x {a.per_class} pictures")


if __name__ == "__main__":
    main()
