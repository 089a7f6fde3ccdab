#!/usr/bin/env python3
"""The PyTorch side of bench/run: the networks of configs/mnist.yaml ("ref"),
configs/lenet.yaml ("lenet"), configs/resnet-mnist.yaml ("resnet") and
configs/cifar10.yaml ("cifar"), trained the way cnnrun trains them: the
config's optimizer (Adam, or AdamW with the weight decay on conv and dense
weights only), loss (cross-entropy, with the config's label smoothing), batch
size, He-normal conv and dense weights, zero biases, batchnorm at gamma 1 and
beta 0, shuffled batches, on the same files (MNIST's IDX files or CIFAR-10's
binary format, read with numpy), with the config's input scaling: [0, 1] for
the two plain MNIST networks, standardised per channel with the training
images' mean and std for the other two (cnnrun's `normalize: standard`).

Left out on both sides, because they are not the network: augmentation
(bench/run trains cnnrun with `--set train.augment={}`; in PyTorch it would be
a data-loader transform) and the learning-rate schedule (a scalar per step).

Prints one line of JSON. Training time covers the training loop only (one
pass over the images given, each step's batch gather, forward, backward and
optimizer step), as cnnrun's train.images_per_second does. Evaluation is the
model in eval mode under torch.inference_mode() over the test set, once per
batch size of --eval-batches (after one untimed warm-up batch, each stopping
after --eval-seconds): eval_images_per_second is the best of them and
eval_batch the batch size that gave it; test_accuracy (a check that the
network learns) is over the most test images one batch size ran.

    torch_ref.py --net ref|lenet|resnet|cifar --data DIR --threads N
                 [--images N] [--eval-batches 1,16,64,256] [--eval-seconds 3]
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


def load_mnist(data_dir, split):
    """MNIST's IDX files: images (N, 1, 28, 28) as bytes, labels (N,)."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte"))
    y = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte"))
    return x[:, None, :, :], y


def load_cifar(data_dir, split):
    """CIFAR-10's binary version (docs/data.md): records of 1 label byte and
    3,072 pixel bytes (the red, green and blue 32x32 planes)."""
    names = [f"data_batch_{b}.bin" for b in range(1, 6)] if split == "train" else ["test_batch.bin"]
    records = []
    for name in names:
        raw = np.fromfile(os.path.join(data_dir, name), dtype=np.uint8)
        if raw.size % 3073:
            raise SystemExit(f"{os.path.join(data_dir, name)}: {raw.size} bytes is not a whole number of 3073-byte records")
        records.append(raw.reshape(-1, 3073))
    records = np.concatenate(records)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0]


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


def conv_bn(cin, cout, k=3, stride=1):
    """cnnrun's conv (with its bias) + batchnorm; `padding: same` for k 3."""
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2), nn.BatchNorm2d(cout)]


class Block(nn.Module):
    """A residual block of configs/resnet-mnist.yaml: conv-bn-relu-conv-bn,
    plus the block's input (through a strided 1x1 conv + bn when the shape
    changes), then relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(), *conv_bn(cout, cout))
        self.proj = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else None
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + (self.proj(x) if self.proj is not None else x))


def resnet():
    """configs/resnet-mnist.yaml: stem conv 3x3x16 + bn + relu + 2x2 pool,
    stages of two blocks at 16x14x14, 32x7x7 and 64x4x4 (the first block of
    the last two strided, with a 1x1 projection), global average pool, dense 10."""
    return nn.Sequential(
        *conv_bn(1, 16), nn.ReLU(), nn.MaxPool2d(2),
        Block(16, 16, 1), Block(16, 16, 1),
        Block(16, 32, 2), Block(32, 32, 1),
        Block(32, 64, 2), Block(64, 64, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def cifar():
    """configs/cifar10.yaml: (conv 3x3 + bn + relu) x2 at 32, pool, x2 at 64,
    pool, x1 at 128, pool, flatten, dropout 0.3, dense 128, relu, dense 10."""
    return nn.Sequential(
        *conv_bn(3, 32), nn.ReLU(), *conv_bn(32, 32), nn.ReLU(), nn.MaxPool2d(2),
        *conv_bn(32, 64), nn.ReLU(), *conv_bn(64, 64), nn.ReLU(), nn.MaxPool2d(2),
        *conv_bn(64, 128), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(2048, 128), nn.ReLU(), nn.Linear(128, 10))


# net: (module, loader, batch, optimizer, lr, weight decay, label smoothing,
# standardise), as in the config (bench/run sets the batch explicitly)
NETS = {
    "ref": (reference_net, load_mnist, 32, "adam", 3.0e-3, 0.0, 0.0, False),
    "lenet": (lenet, load_mnist, 64, "adam", 1.0e-3, 0.0, 0.0, False),
    "resnet": (resnet, load_mnist, 64, "adamw", 3.0e-3, 1.0e-4, 0.05, True),
    "cifar": (cifar, load_cifar, 64, "adamw", 2.0e-3, 5.0e-4, 0.0, True),
}


def init(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def optimizer(model, kind, lr, decay):
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    # cnnrun's adamw decays conv and dense weights, not biases or batchnorm
    decayed = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ids = {id(p) for p in decayed}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": decay},
                              {"params": rest, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.999), eps=1e-8)


def to_float(x, mean, std):
    """Bytes (N, C, H, W) to float32, (v / 255 - mean) / std per channel."""
    t = torch.from_numpy(x.astype(np.float32) / 255.0)
    return (t - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def evaluate(model, x, y, batch, seconds):
    """Images/s of the forward pass at BATCH over x (stopping after SECONDS,
    after one untimed warm-up batch), the images run and how many were right."""
    with torch.inference_mode():
        model(x[:batch])
        correct = done = 0
        t0 = time.perf_counter()
        for i in range(0, x.shape[0], batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
            done += min(batch, x.shape[0] - i)
            if time.perf_counter() - t0 > seconds:
                break
        return done / (time.perf_counter() - t0), done, correct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=sorted(NETS), required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=0, help="train on the first N (0: all)")
    ap.add_argument("--eval-batches", default="1,16,64,256")
    ap.add_argument("--eval-seconds", type=float, default=3.0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    make, loader, batch, kind, lr, decay, smoothing, standardise = NETS[args.net]
    xtr, ytr = loader(args.data, "train")
    xte, yte = loader(args.data, "test")
    if args.images:
        xtr, ytr = xtr[:args.images], ytr[:args.images]
    channels = xtr.shape[1]
    mean, std = torch.zeros(channels), torch.ones(channels)
    if standardise:
        f = xtr.astype(np.float64) / 255.0
        mean = torch.tensor(f.mean(axis=(0, 2, 3)), dtype=torch.float32)
        std = torch.tensor(np.maximum(f.std(axis=(0, 2, 3)), 1e-6), dtype=torch.float32)
        del f
    xtr, xte = to_float(xtr, mean, std), to_float(xte, mean, std)
    ytr, yte = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))

    model = make()
    init(model)
    opt = optimizer(model, kind, lr, decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)

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
    rates, seen = {}, (0, 0)
    for b in (int(s) for s in args.eval_batches.split(",")):
        rates[b], done, correct = evaluate(model, xte, yte, b, args.eval_seconds)
        seen = max(seen, (done, correct))
    best = max(rates, key=rates.get)
    print(json.dumps({"net": args.net, "threads": args.threads, "images": n,
                      "parameters": sum(p.numel() for p in model.parameters()),
                      "train_images_per_second": n / train_s,
                      "eval_images_per_second": rates[best], "eval_batch": best,
                      "eval_by_batch": rates, "test_images": seen[0], "test_accuracy": seen[1] / seen[0]}))


if __name__ == "__main__":
    main()
