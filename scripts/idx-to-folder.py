#!/usr/bin/python3
"""Writes an IDX image set (MNIST's format) as a folder of PNG files that
`data: {format: folder}` reads: OUT/train/<class>/<index>.png and
OUT/test/<class>/<index>.png, one 8-bit greyscale PNG per image.

  scripts/idx-to-folder.py --mnist data/mnist OUT
  scripts/idx-to-folder.py --train IMAGES LABELS --test IMAGES LABELS \\
                           [--classes a,b,c] OUT

IDX files may be gzipped. Class folders are named by --classes (in label
order) or by the label number. Only the standard library is used."""
import argparse
import gzip
import os
import struct
import sys
import zlib


def read_idx(path, ndim):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 + 4 * ndim or data[0] or data[1] or data[2] != 8 or data[3] != ndim:
        sys.exit(f"{path}: not a {ndim}-dimensional unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    count = 1
    for d in dims:
        count *= d
    if len(body) != count:
        sys.exit(f"{path}: header promises {count} bytes of data, file has {len(body)}")
    return dims, body


def png(width, height, pixels):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\0" + pixels[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6))
            + chunk(b"IEND", b""))


def find(folder, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    sys.exit(f"{os.path.join(folder, stem)}: not found (also tried .gz)")


def write_split(out, split, images, labels, classes):
    (n, h, w), pixels = read_idx(images, 3)
    (m,), marks = read_idx(labels, 1)
    if m != n:
        sys.exit(f"{labels}: {m} labels, but {images} has {n} images")
    width = len(str(n - 1))
    for i in range(n):
        name = classes[marks[i]] if classes else str(marks[i])
        folder = os.path.join(out, split, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i:0{width}d}.png"), "wb") as f:
            f.write(png(w, h, pixels[i * h * w:(i + 1) * h * w]))
    print(f"{split}: {n} images of {w}x{h} in {os.path.join(out, split)}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mnist", metavar="DIR", help="MNIST's four IDX files in DIR")
    p.add_argument("--train", nargs=2, metavar=("IMAGES", "LABELS"))
    p.add_argument("--test", nargs=2, metavar=("IMAGES", "LABELS"))
    p.add_argument("--classes", help="class folder names, comma-separated, in label order")
    p.add_argument("out", help="the folder to write")
    a = p.parse_args()
    if a.mnist:
        a.train = [find(a.mnist, "train-images-idx3-ubyte"), find(a.mnist, "train-labels-idx1-ubyte")]
        a.test = [find(a.mnist, "t10k-images-idx3-ubyte"), find(a.mnist, "t10k-labels-idx1-ubyte")]
    if not a.train or not a.test:
        p.error("give --mnist DIR, or --train and --test")
    classes = a.classes.split(",") if a.classes else None
    write_split(a.out, "train", *a.train, classes)
    write_split(a.out, "test", *a.test, classes)


if __name__ == "__main__":
    main()
