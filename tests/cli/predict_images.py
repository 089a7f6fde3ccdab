#!/usr/bin/python3
"""Writes the images tests/cli/test_predict.sh classifies, from MNIST's test
set (IDX files in MNIST_DIR), into OUT:

  mnist/NNN.png       the first 100 test digits as they are (28x28 grey)
  own/digitI_T.png    5 digits (truth T) as a person's photo would be: dark
                      ink on light paper, drawn 2x larger, off to one side
                      of a 100x80 canvas (digit 4 as an RGB PNG)
  inv28/digitI_T.png  the same 5 inverted, at 28x28
  blank.png           100x80 of white paper
  folder/{train,test}/{0,1}/N.png  a two-class 14x14 set (format: folder)

Usage: predict_images.py MNIST_DIR OUT. Only numpy beyond the standard
library."""
import os
import struct
import sys
import zlib

import numpy as np


def png(path, a):
    """a: (h, w) grey or (h, w, 3) RGB bytes."""
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "t10k-images-idx3-ubyte"), "rb") as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
    with open(os.path.join(src, "t10k-labels-idx1-ubyte"), "rb") as f:
        labels = np.frombuffer(f.read()[8:], np.uint8)
    for d in ("mnist", "own", "inv28"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    for i in range(100):
        png(os.path.join(out, "mnist", "%03d.png" % i), images[i])
    for i in range(5):
        ink = 255 - images[i]                     # dark on light
        png(os.path.join(out, "inv28", "digit%d_%d.png" % (i, labels[i])), ink)
        paper = np.full((80, 100), 225, np.uint8)
        big = np.minimum(np.kron(ink, np.ones((2, 2), np.uint8)), 225)
        y, x = 4 + 4 * i, 2 + 3 * i               # off to the left and top
        paper[y:y + 56, x:x + 56] = big
        if i == 4:
            paper = np.stack([paper, paper, np.minimum(paper.astype(int) + 20, 255).astype(np.uint8)], 2)
        png(os.path.join(out, "own", "digit%d_%d.png" % (i, labels[i])), paper)
    png(os.path.join(out, "blank.png"), np.full((80, 100), 255, np.uint8))
    for split, n in (("train", 20), ("test", 4)):
        for c in (0, 1):
            d = os.path.join(out, "folder", split, str(c))
            os.makedirs(d, exist_ok=True)
            for k in range(n):
                png(os.path.join(d, "%d.png" % k), np.full((14, 14), 200 * c + k, np.uint8))


if __name__ == "__main__":
    main()
