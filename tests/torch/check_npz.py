#!/usr/bin/env python3
"""test_torch_npz: the .npz that `cnnrun export` wrote for the network of
tests/torch/residual.yaml, loaded into the same network written as a
PyTorch module, must classify the MNIST test set exactly as cnnrun did.

    check_npz.py MODEL.npz DATA_DIR METRICS.json
    check_npz.py --subset MNIST_DIR OUT_DIR N   (raw IDX files: the first N
                                                 training images, the test set)
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_ref import read_idx  # noqa: E402  (the repo's IDX reader)


def write_idx(path, array):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, array.ndim]))
        for d in array.shape:
            f.write(int(d).to_bytes(4, "big"))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def subset(mnist_dir, out_dir, n):
    for name, count in (("train-images-idx3-ubyte", n), ("train-labels-idx1-ubyte", n),
                        ("t10k-images-idx3-ubyte", None), ("t10k-labels-idx1-ubyte", None)):
        write_idx(os.path.join(out_dir, name), read_idx(os.path.join(mnist_dir, name))[:count])


def conv_bn(cin, cout, k, stride=1, padding=0):
    return nn.Conv2d(cin, cout, k, stride, padding), nn.BatchNorm2d(cout)


class Residual(nn.Module):
    """tests/torch/residual.yaml, layer for layer; 'same' padding of a
    stride-1 3x3 convolution is 1 on every side."""

    def __init__(self):
        super().__init__()
        self.stem, self.stem_bn = conv_bn(1, 8, 3, padding=1)
        self.c1, self.c1_bn = conv_bn(8, 8, 3, padding=1)
        self.c2, self.c2_bn = conv_bn(8, 8, 3, padding=1)
        self.c3, self.c3_bn = conv_bn(8, 16, 3, stride=2, padding=1)
        self.c4, self.c4_bn = conv_bn(16, 16, 3, padding=1)
        self.proj, self.proj_bn = conv_bn(8, 16, 1, stride=2)
        self.side = nn.Conv2d(16, 8, 1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        a = F.relu(self.stem_bn(self.stem(x)))
        r = self.c2_bn(self.c2(F.relu(self.c1_bn(self.c1(a)))))
        b1 = F.relu(a + r)
        m = self.c4_bn(self.c4(F.relu(self.c3_bn(self.c3(b1)))))
        b2 = F.relu(m + self.proj_bn(self.proj(b1)))
        y = torch.cat([b2, self.side(b2)], dim=1)
        return self.fc(torch.flatten(y.mean(dim=(2, 3)), 1))


def main():
    if sys.argv[1] == "--subset":
        subset(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    npz_path, data_dir, metrics_path = sys.argv[1:4]
    model = Residual()
    arrays = np.load(npz_path)
    state = model.state_dict()
    names = set(arrays.files)
    wanted = {k for k in state if not k.endswith("num_batches_tracked")}
    if names != wanted:
        sys.exit(f"npz tensors {sorted(names - wanted)} not in the module, "
                 f"module tensors {sorted(wanted - names)} not in the npz")
    for k in wanted:
        if tuple(arrays[k].shape) != tuple(state[k].shape):
            sys.exit(f"{k}: npz {arrays[k].shape}, module {tuple(state[k].shape)}")
        state[k] = torch.from_numpy(arrays[k].copy())
    model.load_state_dict(state)
    model.eval()

    x = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte"))
    y = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte")).astype(np.int64)
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    correct = int((pred.numpy() == y).sum())
    with open(metrics_path) as f:
        test = json.load(f)["test"]
    print(f"torch: {correct}/{len(y)} correct; cnnrun: {test['correct']}/{test['samples']}")
    if correct != test["correct"] or len(y) != test["samples"]:
        sys.exit("the PyTorch module and cnnrun disagree on the test accuracy")


if __name__ == "__main__":
    main()
