#!/usr/bin/env bash
# Installs the Debian packages cnnrun builds and tests with, if any is missing.
# Run by `make` before configuring; does nothing when all are present.
set -euo pipefail

packages=(gcc g++ binutils make cmake pkg-config libyaml-dev zlib1g-dev libcmocka-dev libopenblas-dev
	libjpeg-dev libdeflate-dev python3-numpy python3-onnx python3-opencv python3-torch openmpi-bin libopenmpi-dev
	man-db time)
# --fuzz: clang with libFuzzer and its OpenMP runtime, for `make fuzz`
if [[ ${1:-} == --fuzz ]]; then
	packages+=(clang libclang-rt-dev libomp-dev)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
