#!/usr/bin/env bash
# Training across ranks (docs/distributed.md) against one process: the same
# bits for the same number of chunks, one message and the documented status
# when any rank fails, and a stop under mpirun that resumes exactly. Usage:
#   test_mpi.sh PATH/TO/cnnrun SOURCE_DIR MPIEXEC synthetic|mnist
# Every mpirun runs under `timeout`, so a hang fails the test.
set -u
cnnrun=$1
src=$2
mpiexec=$3
part=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1
passed=0 failed=0
# Root in CI containers, and 2 cores here: both need Open MPI's consent.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(timeout 600 "$mpiexec" --oversubscribe --bind-to none)
py=/usr/bin/python3

ok() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	printf 'FAILED: %s\n' "$*"
}

# same NAME RUN_A RUN_B: both runs' final weights (as exported) and their
# printed test line are identical.
same() {
	local name=$1 a=$2 b=$3
	"$cnnrun" export "$a/last.ckpt" --npz "$a.npz" >/dev/null &&
		"$cnnrun" export "$b/last.ckpt" --npz "$b.npz" >/dev/null || { fail "$name: export"; return; }
	local ta tb
	ta=$(grep '^test accuracy' "$a.out")
	tb=$(grep '^test accuracy' "$b.out")
	if cmp -s "$a.npz" "$b.npz" && [[ -n $ta && $ta == "$tb" ]] &&
		cmp -s <(cut -d, -f1-5 "$a/history.csv") <(cut -d, -f1-5 "$b/history.csv"); then
		ok
	else
		fail "$name: $a and $b differ (test: '$ta' vs '$tb')"
	fi
}

# train NAME RANKS ARGS...: trains into $tmp/NAME (RANKS 0: no mpirun).
train() {
	local name=$1 ranks=$2
	shift 2
	local status
	if [[ $ranks -eq 0 ]]; then
		timeout 600 "$cnnrun" "$@" --out "$tmp/$name" >"$tmp/$name.out" 2>"$tmp/$name.err"
	else
		"${mpi[@]}" -np "$ranks" "$cnnrun" "$@" --out "$tmp/$name" >"$tmp/$name.out" 2>"$tmp/$name.err"
	fi
	status=$?
	[[ $status -eq 0 ]] || fail "$name: status $status: $(head -3 "$tmp/$name.err")"
}

# expect_failure NAME STATUS MESSAGE MPIRUN_ARGS...: mpirun ends with
# STATUS, and MESSAGE (a fixed string) is printed exactly once.
expect_failure() {
	local name=$1 want=$2 message=$3
	shift 3
	"${mpi[@]}" "$@" >"$tmp/$name.out" 2>&1
	local status=$? count
	count=$(grep -cF -- "$message" "$tmp/$name.out")
	if [[ $status -eq $want && $count -eq 1 ]]; then
		ok
	else
		fail "$name: status $status (want $want), message printed $count times (want 1):" \
			"$(head -5 "$tmp/$name.out")"
	fi
}

if [[ $part == synthetic ]]; then
	# A learnable synthetic set: each class a bright bar at its own place,
	# on noise; 600 training and 100 test images.
	mkdir "$tmp/syn"
	"$py" - "$tmp/syn" <<'EOF' || exit 1
import struct, sys, random
random.seed(7)
for split, n in (("train", 600), ("t10k", 100)):
    labels = [random.randrange(10) for _ in range(n)]
    pix = bytearray()
    for y in labels:
        img = bytearray(random.randrange(60) for _ in range(784))
        for r in range(4 + 2 * y, 6 + 2 * y):
            for c in range(4, 24):
                img[r * 28 + c] = 200 + random.randrange(56)
        pix += img
    with open(f"{sys.argv[1]}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + pix)
    with open(f"{sys.argv[1]}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(labels))
EOF
	# batchnorm (statistics per chunk, combined in after_step), dropout
	# (masks by sample index in the whole batch) and augmentation. Batch
	# 30 leaves a last batch of 20 (540 / 30 = 18 exactly: 60 held out).
	cat >"$tmp/syn.yaml" <<EOF
name: syn
seed: 5
data: {dataset: mnist, path: $tmp/syn, validation: 60}
input: [1, 28, 28]
layers:
  - {type: conv, filters: 4, kernel_size: 5}
  - {type: batchnorm}
  - {type: relu}
  - {type: maxpool, pool_size: 2}
  - {type: flatten}
  - {type: dropout, rate: 0.3}
  - {type: dense, units: 10}
optimizer: {type: adam, lr: 0.01}
train: {epochs: 3, batch: 30, augment: {shift: 2}}
EOF
	cfg=$tmp/syn.yaml
	# 2 ranks x 1 thread = 1 process x 2 threads
	train one2 0 "$cfg" --threads 2
	train mpi2x1 2 "$cfg" --threads 1
	same "2 ranks x 1 thread vs 2 threads" "$tmp/one2" "$tmp/mpi2x1"
	# 2 ranks x 2 threads = 4 threads; 30 samples in 4 chunks of 7 or 8
	train one4 0 "$cfg" --threads 4
	train mpi2x2 2 "$cfg" --threads 2
	same "2 ranks x 2 threads vs 4 threads" "$tmp/one4" "$tmp/mpi2x2"
	# A batch that ranks x threads does not divide, and a last batch of 13
	# (547 training images): handled, as one process with 3 threads.
	train one3 0 "$cfg" --threads 3 --batch 41 --set data.validation=53
	train mpi3x1 3 "$cfg" --threads 1 --batch 41 --set data.validation=53
	same "3 ranks, batch 41 vs 3 threads" "$tmp/one3" "$tmp/mpi3x1"
	# More chunks than a batch has samples: ranks without a sample wait.
	train one8 0 "$cfg" --threads 8 --batch 5
	train mpi4x2 4 "$cfg" --threads 2 --batch 5
	same "4 ranks x 2 threads, batch 5 vs 8 threads" "$tmp/one8" "$tmp/mpi4x2"
	grep -q '^syn: .*batch 30, 2 ranks x 1 thread' "$tmp/mpi2x1.out" && ok ||
		fail "the start line names ranks and threads: $(head -1 "$tmp/mpi2x1.out")"
	[[ $(grep -c '^test accuracy' "$tmp/mpi2x1.out") -eq 1 && ! -s "$tmp/mpi2x1.err" ]] && ok ||
		fail "one rank prints: $(grep -c '^test accuracy' "$tmp/mpi2x1.out") test lines"

	# Stop under mpirun (SIGTERM, as mpirun forwards SIGINT and SIGTERM),
	# then resume with 2 ranks, and again on one process: both end with
	# the bits of the uninterrupted run.
	stop_epochs=1500
	train full 0 "$cfg" --threads 2 --epochs $stop_epochs
	# mpirun passes SIGTERM on to the ranks only after its grace period
	# (odls_base_sigkill_timeout, 1 s: SIGCONT at once, SIGTERM after the
	# period, SIGKILL one period later), so the run must outlast it.
	# --foreground: the signal below goes to mpirun alone, as `kill -TERM
	# <mpirun's pid>` does; without it timeout signals its whole process
	# group, the ranks included (what Ctrl-C in a terminal does; see
	# docs/distributed.md for what that was seen to do).
	timeout --foreground 600 "${mpi[@]:2}" -np 2 "$cnnrun" "$cfg" --threads 1 --epochs $stop_epochs \
		--out "$tmp/stop" --quiet >"$tmp/stop.out" 2>"$tmp/stop.err" &
	pid=$!
	# as soon as the run has started (config.yaml is written once the data is
	# loaded; the signal handlers are in place from the start): an epoch of
	# this set takes milliseconds, so the run must be long enough that the
	# signal, a second later, lands inside it on a fast machine.
	for _ in $(seq 6000); do [[ -f $tmp/stop/config.yaml ]] && break; sleep 0.01; done
	kill -TERM "$pid"
	wait "$pid"
	status=$?
	if [[ $status -ne 0 ]] && grep -q "terminated: stopped at epoch .* and saved $tmp/stop/last.ckpt; resume with: mpirun -np 2 cnnrun train" "$tmp/stop.err" &&
		[[ $(grep -c 'terminated: stopped' "$tmp/stop.err") -eq 1 ]]; then
		ok
	else
		fail "SIGTERM to mpirun: status $status: $(head -3 "$tmp/stop.err")"
	fi
	cp -r "$tmp/stop" "$tmp/stop1"
	"${mpi[@]}" -np 2 "$cnnrun" "$cfg" --threads 1 --epochs $stop_epochs --resume "$tmp/stop/last.ckpt" \
		>"$tmp/stop.out" 2>"$tmp/stop.err" || fail "resume under mpirun: $(head -3 "$tmp/stop.err")"
	same "stop under mpirun, resume with 2 ranks" "$tmp/full" "$tmp/stop"
	timeout 600 "$cnnrun" "$cfg" --threads 2 --epochs $stop_epochs --resume "$tmp/stop1/last.ckpt" \
		>"$tmp/stop1.out" 2>"$tmp/stop1.err" || fail "resume on one process: $(head -3 "$tmp/stop1.err")"
	same "stop under mpirun, resume on one process" "$tmp/full" "$tmp/stop1"

	# Failures: all ranks end, one message, the documented status.
	printf 'name: x\nname: y\n' >"$tmp/dup.yaml"
	expect_failure badconfig 2 "dup.yaml:2:1: duplicate key 'name'" -np 2 "$cnnrun" "$tmp/dup.yaml"
	sed "s#$tmp/syn#$tmp/none#" "$cfg" >"$tmp/nodata.yaml"
	expect_failure nodata 1 "data.path '$tmp/none': no such file or folder" -np 2 "$cnnrun" "$tmp/nodata.yaml" \
		--out "$tmp/nodata"
	expect_failure usage 2 "unknown option '--bogus'" -np 2 "$cnnrun" "$cfg" --bogus
	expect_failure oneprocess 2 "summary runs in one process" -np 2 "$cnnrun" summary "$cfg"
	# A file only rank 1 lacks: a relative data path, beside each rank's own config.
	mkdir -p "$tmp/a/syn" "$tmp/b"
	cp "$tmp"/syn/* "$tmp/a/syn/"
	sed "s#$tmp/syn#syn#" "$cfg" >"$tmp/a/rel.yaml"
	cp "$tmp/a/rel.yaml" "$tmp/b/rel.yaml"
	expect_failure rank1 1 "data.path 'syn' (resolved to $tmp/b/syn): no such file or folder" -np 1 -wdir "$tmp/a" "$cnnrun" rel.yaml \
		--out "$tmp/rel" : -np 1 -wdir "$tmp/b" "$cnnrun" rel.yaml --out "$tmp/rel"
	[[ ! -e $tmp/rel/last.ckpt ]] && ok || fail "a failed rank 1 left a checkpoint"
	# A loss that becomes NaN: all ranks stop at the batch one process
	# stops at, with its message, once.
	cat >"$tmp/nan.yaml" <<EOF
name: nan
data: {dataset: mnist, path: $tmp/syn, validation: 0}
input: [1, 28, 28]
layers:
  - {type: flatten}
  - {type: dense, units: 64}
  - {type: dense, units: 64}
  - {type: dense, units: 10}
optimizer: {type: sgd, lr: 10}
train: {epochs: 3, batch: 30}
EOF
	timeout 600 "$cnnrun" "$tmp/nan.yaml" --threads 2 --out "$tmp/nan1" >"$tmp/nan1.out" 2>&1
	nan=$(grep -o 'epoch [0-9]*, batch [0-9]*: the loss is [a-zA-Z]*, first seen in [^;]*' "$tmp/nan1.out")
	if [[ -n $nan ]]; then
		expect_failure nan 1 "$nan" -np 2 "$cnnrun" "$tmp/nan.yaml" --threads 1 --out "$tmp/nan2"
	else
		fail "sgd lr 10 did not diverge on one process: $(tail -2 "$tmp/nan1.out")"
	fi
fi

if [[ $part == mnist ]]; then
	# The reference network on all of MNIST, 2 epochs.
	[[ -e data/mnist/train-images-idx3-ubyte || -e data/mnist/train-images-idx3-ubyte.gz ]] ||
		{ echo "test_mpi: data/mnist is missing: run make data"; exit 1; }
	train m_one 0 configs/mnist.yaml --epochs 2 --threads 2
	train m_mpi 2 configs/mnist.yaml --epochs 2 --threads 1
	same "MNIST 2 epochs: 2 ranks x 1 thread vs 2 threads" "$tmp/m_one" "$tmp/m_mpi"
fi

echo "mpi $part: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
