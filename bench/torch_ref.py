#!/usr/bin/env python3
"""The PyTorch side of bench/run: the same networks as configs/mnist.yaml and
configs/lenet.yaml, trained the same way (Adam, cross-entropy, the batch size
of the config, He-normal weights, zero biases, shuffled batches, inputs scaled
to [0, 1]) on the same IDX files, read with numpy.

Prints one line of JSON: training and evaluation images per second. Timing
covers the training loop only (one pass over the images given), as cnnrun's
train.images_per_second does; evaluation is a forward pass over the test set
in batches of the same size, as cnnrun's eval.images_per_second.

    torch_ref.py --net ref|lenet --data DIR --threads N [--images N]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array of bytes."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte"))
    y = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def reference_net():
    """configs/mnist.yaml: conv 5x5x4, relu, pool, conv 5x5x4, relu, pool, dense 10."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 10))


def lenet():
    """configs/lenet.yaml: conv 5x5x32 same, relu, pool, conv 5x5x64 same,
    relu, pool, dense 128, relu, dense 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


NETS = {"ref": (reference_net, 32, 3.0e-3), "lenet": (lenet, 64, 1.0e-3)}


def init(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=sorted(NETS), required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=0, help="train on the first N (0: all)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    make, batch, lr = NETS[args.net]
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "test")
    if args.images:
        xtr, ytr = xtr[:args.images], ytr[:args.images]
    model = make()
    init(model)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()

    n = xtr.shape[0]
    order = torch.randperm(n)
    model.train()
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0

    model.eval()
    correct = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, xte.shape[0], batch):
            correct += int((model(xte[i:i + batch]).argmax(1) == yte[i:i + batch]).sum())
    eval_s = time.perf_counter() - t0
    print(json.dumps({"net": args.net, "threads": args.threads, "images": n,
                      "train_images_per_second": n / train_s,
                      "eval_images_per_second": xte.shape[0] / eval_s,
                      "test_accuracy": correct / xte.shape[0]}))


if __name__ == "__main__":
    main()
