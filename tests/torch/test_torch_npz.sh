#!/usr/bin/env bash
# test_torch_npz CNNRUN PYTHON SOURCE_DIR: trains tests/torch/residual.yaml
# briefly on the first 4,000 MNIST training images, exports the weights with
# `cnnrun export --npz`, and checks that the same network in PyTorch
# (check_npz.py) gets cnnrun's test accuracy, image for image.
set -euo pipefail
cnnrun=$1 python=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" "$src/tests/torch/check_npz.py" --subset "$src/data/mnist" "$tmp" 4000
cp "$src/tests/torch/residual.yaml" "$tmp/"
cd "$tmp"
"$cnnrun" residual.yaml --out run --quiet > /dev/null
"$cnnrun" export run/last.ckpt --npz model.npz
"$python" "$src/tests/torch/check_npz.py" model.npz . run/metrics.json
