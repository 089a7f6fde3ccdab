#!/usr/bin/python3
"""Writes a synthetic colour image set in CIFAR-10's binary format, for
trying configs/cifar10.yaml where CIFAR-10 itself cannot be had.

  scripts/synthetic-cifar.py OUT [--per-batch 1000] [--test 1000] [--seed 1]

Ten classes: a square or a disc, in one of five colours (red, green, blue,
yellow, cyan), at a random place and size, on a noisy background of a
random dim colour, with random brightness. Telling them apart needs both
colour and shape. OUT gets data_batch_1.bin ... data_batch_5.bin,
test_batch.bin (records of 1 label byte and 3,072 pixel bytes: the red,
green and blue 32x32 planes) and batches.meta.txt. Needs numpy."""
import argparse
import os

import numpy as np

COLOURS = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "yellow": (1, 1, 0), "cyan": (0, 1, 1)}
SHAPES = ("square", "disc")
NAMES = [f"{c}_{s}" for s in SHAPES for c in COLOURS]


def images(n, rng):
    labels = rng.integers(0, len(NAMES), n)
    yy, xx = np.mgrid[0:32, 0:32]
    out = np.empty((n, 3, 32, 32), np.uint8)
    for i, k in enumerate(labels):
        shape, colour = SHAPES[k // len(COLOURS)], list(COLOURS.values())[k % len(COLOURS)]
        back = rng.uniform(0, 90, 3)[:, None, None] + rng.normal(0, 25, (3, 32, 32))
        r = rng.uniform(5, 10)
        cy, cx = rng.uniform(r, 32 - r, 2)
        mask = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r) if shape == "square" else \
               (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        bright = rng.uniform(150, 255)
        img = back.copy()
        for c in range(3):
            img[c][mask] = bright * colour[c] + rng.normal(0, 15, mask.sum())
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return labels.astype(np.uint8), out


def write(path, labels, imgs):
    records = np.concatenate([labels[:, None], imgs.reshape(len(labels), -1)], axis=1)
    records.astype(np.uint8).tofile(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--per-batch", type=int, default=1000, help="images in each of the 5 training batches")
    p.add_argument("--test", type=int, default=1000, help="images in test_batch.bin")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    for b in range(1, 6):
        write(os.path.join(a.out, f"data_batch_{b}.bin"), *images(a.per_batch, rng))
    write(os.path.join(a.out, "test_batch.bin"), *images(a.test, rng))
    with open(os.path.join(a.out, "batches.meta.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")
    print(f"{a.out}: {5 * a.per_batch} training and {a.test} test images, classes {', '.join(NAMES)}")


if __name__ == "__main__":
    main()
