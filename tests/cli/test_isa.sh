#!/usr/bin/env bash
# CNN_ISA, the kernels' instruction-set level, as users meet it: --version
# and summary say which level runs, an impossible one is refused, and a
# short training run gives the same loss on the portable (baseline) kernels
# as on the AVX2 ones, within rounding, while each level repeats its own
# bits exactly, and the AVX-512 ones give the AVX2 ones' bits (a CPU without
# AVX-512 says that this was not checked). Usage: test_isa.sh PATH/TO/cnnrun SOURCE_DIR
. "$(dirname "$0")/harness.sh"

CNN_ISA=baseline expect 0 "kernels: baseline (forced by CNN_ISA"   -- --version
CNN_ISA=         expect 0 "kernels: "                              -- --version
CNN_ISA=avx1024  expect 2 "CNN_ISA: unknown level 'avx1024' (this build has: baseline" -- --version
CNN_ISA=bogus    expect 2 "CNN_ISA: unknown level 'bogus'"         -- summary configs/mnist.yaml
CNN_ISA=baseline expect 0 "batch 16 on 1 thread, baseline kernels"  -- summary configs/mnist.yaml --threads 1
CNN_ISA=baseline expect 0 "5x5/1 valid, 1->4, auto: im2col"        -- summary configs/mnist.yaml

# A short run of the reference network on 256 deterministic pseudo-random
# images (digits need not be real for the arithmetic to be exercised).
/usr/bin/python3 - "$tmp/data" <<'PY' || { echo "FAILED: writing the data"; exit 1; }
import os, struct, sys
d = sys.argv[1]
os.makedirs(d)
def idx(name, n, shape, gen):
    with open(os.path.join(d, name), "wb") as f:
        f.write(struct.pack(">I", 0x800 | (1 + len(shape))) + struct.pack(">I", n))
        for s in shape:
            f.write(struct.pack(">I", s))
        f.write(bytes(gen(i) for i in range(n * (1 if not shape else shape[0] * shape[1]))))
x = 12345
def rnd(i):
    global x
    x = (x * 1103515245 + 12345) & 0x7fffffff
    return (x >> 16) & 255
for prefix, n in (("train", 256), ("t10k", 64)):
    idx(prefix + "-images-idx3-ubyte", n, [28, 28], rnd)
    idx(prefix + "-labels-idx1-ubyte", n, [], lambda i: i * 7 % 10)
PY

# train ISA OUT: the run's final training loss, as metrics.json prints it
train() {
	CNN_ISA=$1 "$cnnrun" configs/mnist.yaml --quiet --epochs 2 --batch 16 --threads 2 \
		--set data.path="$tmp/data" --set data.validation=32 --out "$tmp/$2" >/dev/null 2>&1 &&
	/usr/bin/python3 -c 'import json, sys; print(repr(json.load(open(sys.argv[1]))["history"][-1]["loss"]))' \
		"$tmp/$2/metrics.json"
}
check() { # DESCRIPTION CONDITION...
	local what=$1
	shift
	if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $what"; fi
}
base1=$(train baseline b1) base2=$(train baseline b2)
check "the baseline kernels repeat their bits ($base1, $base2)" test -n "$base1" -a "$base1" = "$base2"
if CNN_ISA=avx2 "$cnnrun" --version >/dev/null 2>&1; then
	avx1=$(train avx2 a1) auto=$(train "" a2)
	check "AVX2 chosen by default repeats CNN_ISA=avx2's bits ($avx1, $auto)" test -n "$avx1" -a "$avx1" = "$auto"
	check "baseline and AVX2 losses agree within 1e-4 relative ($base1, $avx1)" \
		/usr/bin/python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 1e-4 * abs(a))' \
		"$base1" "${avx1:-nan}"
else
	echo "SKIPPED: this CPU or build has no AVX2 kernels: the baseline/AVX2 comparison did not run"
fi
if CNN_ISA=avx512 "$cnnrun" --version >/dev/null 2>&1; then
	avx512=$(train avx512 z1)
	check "AVX-512 gives AVX2's bits ($avx512, $avx1)" test -n "$avx512" -a "$avx512" = "$avx1"
else
	echo "SKIPPED: this CPU or build has no AVX-512 kernels: AVX-512 against AVX2 did not run"
fi

echo "final training loss: baseline $base1, avx2 ${avx1:-none}, avx512 ${avx512:-none}"
echo "isa: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
