#!/usr/bin/env bash
# `cnnrun bench CONFIG|CKPT`: its output is one `key: value` per line with
# every key bench/run reads, from a config (random weights) and from a
# checkpoint; --threads and --batch are obeyed; bad arguments exit 2. Speed
# itself is never asserted here (bench/ measures it).
# Usage: test_bench.sh PATH/TO/cnnrun SOURCE_DIR
source "$(dirname "$0")/harness.sh"

keys="model weights kernels threads batch head images_per_second latency_ms_median latency_ms_p90
activation_floats_per_image activation_bytes workspace_bytes"

# bench_ok NAME WEIGHTS ARGS...: a run that succeeds, prints every key once,
# in this order, nothing else, and a positive figure for each number.
bench_ok() {
	local name=$1 weights=$2
	shift 2
	"$cnnrun" bench "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"
	local status=$?
	check "$name: status 0 (got $status: $(head -2 "$tmp/err.txt"))" '[[ $status -eq 0 ]]'
	check "$name: nothing on stderr" '[[ ! -s $tmp/err.txt ]]'
	check "$name: every line is 'key: value'" '! grep -qvE "^[a-z0-9_]+: [^ ].*$" "$tmp/out.txt"'
	check "$name: the keys, in order" '[[ "$(cut -d: -f1 "$tmp/out.txt" | tr "\n" " ")" == "$(echo $keys) " ]]'
	check "$name: weights $weights" 'grep -qx "weights: $weights" "$tmp/out.txt"'
	local k
	for k in images_per_second latency_ms_median latency_ms_p90 activation_bytes workspace_bytes; do
		check "$name: $k is a positive number" \
			'awk -v k="$k:" '"'"'$1 == k && $2 + 0 > 0 { found = 1 } END { exit !found }'"'"' "$tmp/out.txt"'
	done
}

bench_ok "config" random configs/mnist.yaml --seconds 0.05 --threads 1
check "config: model name" 'grep -qx "model: mnist" "$tmp/out.txt"'
check "config: threads 1" 'grep -qx "threads: 1" "$tmp/out.txt"'
bench_ok "--batch 3 --threads 2" random configs/mnist.yaml --seconds 0.05 --batch 3 --threads 2
check "--batch 3: batch 3" 'grep -qx "batch: 3" "$tmp/out.txt"'
check "--threads 2: threads 2" 'grep -qx "threads: 2" "$tmp/out.txt"'
check "mnist.yaml: no head" 'grep -qx "head: none" "$tmp/out.txt"'
bench_ok "graph config" random configs/resnet-mnist.yaml --seconds=0.05 --threads=1 --batch=2
bench_ok "lenet" random configs/lenet.yaml --seconds 0.05 --threads 1 --batch 8
check "lenet: dense1's head" 'grep -qx "head: dense1 on, 32 images at a time" "$tmp/out.txt"'
bench_ok "checkpoint" checkpoint tests/data/sequential-before-graphs.ckpt.bin --seconds 0.05 --threads 1

expect 2 "bench: missing CONFIG or CKPT"                    -- bench
expect 2 "usage: cnnrun"                                    -- bench
expect 2 "--threads needs a number of threads >= 1"         -- bench configs/mnist.yaml --threads 0
expect 2 "--threads needs a number of threads >= 1"         -- bench configs/mnist.yaml --threads
expect 2 "--batch needs a number of images >= 1"            -- bench configs/mnist.yaml --batch 2.5
expect 2 "--batch needs a number of images >= 1"            -- bench configs/mnist.yaml --batch x
expect 2 "--seconds needs a number of seconds > 0"          -- bench configs/mnist.yaml --seconds -1
expect 2 "unknown option '--json'"                          -- bench configs/mnist.yaml --json
expect 2 "unexpected argument 'configs/lenet.yaml'"         -- bench configs/mnist.yaml configs/lenet.yaml
printf 'layers: [\n' >"$tmp/bad.yaml"
expect 2 "bad.yaml:"                                        -- bench "$tmp/bad.yaml"
expect 1 "nope.yaml"                                        -- bench "$tmp/nope.yaml"
printf 'CNNCKPT\0junk' >"$tmp/bad.ckpt"
expect 1 "bad.ckpt"                                         -- bench "$tmp/bad.ckpt"

echo "bench: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
