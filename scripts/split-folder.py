#!/usr/bin/python3
"""Splits a folder of pictures sorted by class (IN/<class>/<file>) into the
layout cnnrun's `format: folder` reads: OUT/train/<class>/ and
OUT/test/<class>/ (and OUT/val/<class>/ with --val).

  scripts/split-folder.py IN OUT [--test 0.2] [--val 0] [--seed 1]

Each class is split on its own, so every class has its share in every
part (at least one picture each: a class with too few pictures is refused).
The choice is random but fixed by --seed. Files are hard-linked where IN
and OUT are on one file system, copied otherwise; IN is never changed.
Names starting with "." are skipped, as cnnrun skips them. Needs only
Python's standard library."""
import argparse
import os
import random
import shutil


def place(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--test", type=float, default=0.2, help="fraction of each class for OUT/test")
    ap.add_argument("--val", type=float, default=0.0, help="fraction of each class for OUT/val")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if os.path.exists(a.out):
        raise SystemExit(f"{a.out}: already exists; give a new folder")
    classes = sorted(d for d in os.listdir(a.src)
                     if not d.startswith(".") and os.path.isdir(os.path.join(a.src, d)))
    if len(classes) < 2:
        raise SystemExit(f"{a.src}: needs at least two class sub-folders, found {len(classes)}")
    rng = random.Random(a.seed)
    parts = [("test", a.test), ("val", a.val)]
    for c in classes:
        files = sorted(f for f in os.listdir(os.path.join(a.src, c)) if not f.startswith("."))
        rng.shuffle(files)
        counts = {p: round(len(files) * f) for p, f in parts if f > 0}
        counts = {p: max(n, 1) for p, n in counts.items()}
        if sum(counts.values()) >= len(files):
            raise SystemExit(f"{a.src}/{c}: {len(files)} pictures are too few to split")
        start = 0
        for p, n in counts.items():
            for f in files[start:start + n]:
                place(os.path.join(a.src, c, f), os.path.join(a.out, p, c, f))
            start += n
        for f in files[start:]:
            place(os.path.join(a.src, c, f), os.path.join(a.out, "train", c, f))
        print(f"{c}: " + ", ".join([f"train {len(files) - start}"] + [f"{p} {n}" for p, n in counts.items()]))


if __name__ == "__main__":
    main()
