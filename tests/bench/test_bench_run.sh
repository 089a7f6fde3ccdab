#!/usr/bin/env bash
# bench/run's smoke test: QUICK mode (tiny image counts, 1 thread, 1 run) on
# a generated MNIST-shaped set and the generated colour set, measuring the
# cnnrun given rather than building one. Checks that the run succeeds and
# that its table is printed and parseable: one row per network, every figure
# a positive number. No timing is asserted (speed is bench/run's to measure,
# not CTest's). With PyTorch, also that bench/tables makes its markdown
# tables from that output.
#
#   test_bench_run.sh CNNRUN SOURCE_DIR PYTHON torch|no
# PYTHON is Debian's /usr/bin/python3 (numpy for the colour set; torch for
# the second form, which also checks the PyTorch columns).
set -u
cnnrun=$1 src=$2 python=$3 torch=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { printf 'FAILED: %s\n' "$*"; exit 1; }

# 400 training and 100 test images of noise, labels 0-9 in turn
"$python" - "$tmp/mnist" <<'PY' || fail "could not write the test set"
import os, sys
import numpy as np
out = sys.argv[1]
os.makedirs(out)
rng = np.random.default_rng(1)
for prefix, n in (("train", 400), ("t10k", 100)):
    with open(os.path.join(out, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes())
        f.write(rng.integers(0, 256, (n, 28, 28), np.uint8).tobytes())
    with open(os.path.join(out, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array([n], ">u4").tobytes())
        f.write((np.arange(n) % 10).astype(np.uint8).tobytes())
PY

# An unknown network is a usage mistake, named, before anything runs.
out=$(NETS="ref vgg" CNNRUN=$cnnrun DATA=$tmp/mnist TMPDIR=$tmp "$src/bench/run" 2>&1)
status=$?
[ $status = 2 ] && [[ $out == *"unknown network 'vgg'"* ]] ||
	fail "NETS=\"ref vgg\": expected status 2 and \"unknown network 'vgg'\", got $status: $out"

nets="ref lenet resnet cifar"
QUICK=1 TORCH=$torch IMAGES_REF=200 TEST_MNIST=100 NETS=$nets CNNRUN=$cnnrun DATA=$tmp/mnist TMPDIR=$tmp \
	"$src/bench/run" >"$tmp/table.txt" 2>"$tmp/err.txt" ||
	fail "QUICK=1 TORCH=$torch bench/run exited $?: $(cat "$tmp/err.txt")"
cat "$tmp/table.txt"

# The header, then one row per network: "NAME 1 | train eval rss trGF evGF
# peak%", and with PyTorch "| train eval batch rss | ratio ratio ratio".
fields=9
[ "$torch" = no ] || fields=18
awk -v nets="$nets" -v fields=$fields -v torch="$torch" '
	function positive(v) { return v ~ /^[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?[x%]?$/ && v + 0 > 0 }
	$1 == "network" && $2 == "thr" { header = NF; next }
	header && NF > 0 && $1 !~ /^#/ && $2 == "1" && $3 == "|" {
		if (NF != fields) { print "row with " NF " fields, not " fields ": " $0; bad = 1 }
		for (i = 4; i <= NF; i++)
			if ($i != "|" && !positive($i)) { print "not a positive figure: \"" $i "\" in " $0; bad = 1 }
		if (torch != "no" && ($9 !~ /%$/ || $18 !~ /x$/)) { print "columns out of place: " $0; bad = 1 }
		seen[$1]++
	}
	END {
		if (header != fields) { print "no header line of " fields " fields"; bad = 1 }
		n = split(nets, want, " ")
		for (i = 1; i <= n; i++)
			if (seen[want[i]] != 1) { print "network " want[i] ": " seen[want[i]] + 0 " rows"; bad = 1 }
		exit bad
	}' "$tmp/table.txt" || fail "the table above does not parse"
if [ "$torch" != no ]; then
	for net in $nets; do
		grep -q "^# $net, 1 thread(s): PyTorch evaluation images/s by batch size 1:[0-9]*,64:[0-9]*$" "$tmp/table.txt" ||
			fail "no PyTorch batch-size line for $net"
	done
	# bench/tables turns the output into docs/performance.md's tables
	"$src/bench/tables" "$tmp/table.txt" >"$tmp/md.txt" || fail "bench/tables exited $?"
	[ "$(grep -c '^| 1 | [0-9,]* | [0-9,]* | [0-9.]*x | [0-9,]* | [0-9,]* ([0-9]*) | [0-9.]*x | [0-9]* MB / [0-9]* MB | [0-9.]* |$' "$tmp/md.txt")" = 4 ] ||
		fail "bench/tables did not print a row for each network: $(cat "$tmp/md.txt")"
fi
# With `cnnrun bench` (the inference path) bench/run measures evaluation
# through it and notes its batch-1 latency.
if "$cnnrun" --help 2>&1 | grep -q 'bench CONFIG|CKPT'; then
	for net in $nets; do
		grep -q "^# $net, 1 thread(s): cnnrun bench: [0-9.]* images/s at batch [0-9]*; one image alone: [0-9.]* ms median" \
			"$tmp/table.txt" || fail "no cnnrun bench line for $net"
	done
fi
grep -q '^# load after: ' "$tmp/table.txt" || fail "the run did not reach its end"
echo "passed"
