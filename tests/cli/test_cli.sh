#!/usr/bin/env bash
# The command line as users meet it: each row runs cnnrun and checks the exit
# status and a line of its output (stderr for errors). Usage:
#   test_cli.sh PATH/TO/cnnrun SOURCE_DIR
set -u
cnnrun=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1
passed=0 failed=0

# expect STATUS PATTERN -- ARGS...: PATTERN is a fixed string that must occur
# in the combined output.
expect() {
	local want=$1 pattern=$2
	shift 3
	local out status
	out=$("$cnnrun" "$@" 2>&1)
	status=$?
	if [[ $status -eq $want && $out == *"$pattern"* ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf 'FAILED: cnnrun %s\n  expected status %s and "%s"\n  got status %s:\n%s\n' \
			"$*" "$want" "$pattern" "$status" "$(printf '%s\n' "$out" | head -5 | sed 's/^/    /')"
	fi
}

printf 'name: bad\ndata: {dataset: mnist}\ninput: [1, 28, 28]\nlayers: []\n' >"$tmp/empty-layers.yaml"
printf 'a: 1\n\tb: 2\n' >"$tmp/tab.yaml"
printf 'name: x\nname: y\n' >"$tmp/dup.yaml"
: >"$tmp/empty.yaml"
mkdir "$tmp/folder.yaml"
printf 'name: nodata\ndata: {dataset: mnist, path: %s/none}\ninput: [1, 28, 28]\nlayers:\n  - {type: dense, units: 10}\noptimizer: {type: adam}\n' "$tmp" >"$tmp/nodata.yaml"

expect 0 "usage: cnnrun"                                  -- --help
expect 0 "cnnrun 0."                                      -- --version
expect 2 "missing CONFIG"                                 --
expect 2 "unknown option '--bogus'"                       -- configs/mnist.yaml --bogus
expect 2 "usage: cnnrun"                                  -- configs/mnist.yaml --bogus
expect 2 "--epochs needs a value"                         -- configs/mnist.yaml --epochs
expect 2 "unexpected argument 'extra'"                    -- configs/mnist.yaml extra
expect 2 "--set x: expected KEY=VALUE"                    -- summary configs/mnist.yaml --set x
expect 2 "--set: train: 'epochs' must be an integer in [1, 100000], got 'many'" -- summary configs/mnist.yaml --epochs many
expect 2 "--set: train: 'batch' must be an integer in [1, 65536], got 0" -- summary configs/mnist.yaml --batch 0
expect 2 "--set: adam: unknown key 'lrr' (did you mean 'lr'?)" -- summary configs/mnist.yaml --set optimizer.lrr=1
expect 2 "--set: 'layers.9.filters': '9' is not an index of a list of 8 items (0..7)" -- summary configs/mnist.yaml --set layers.9.filters=1
expect 2 "--set: conv: 'filters' must be an integer in [1, 65536], got 'four'" -- summary configs/mnist.yaml --set layers.0.filters=four
expect 2 "--set: optimizer: 'lr' must be a number in (0, 10], got 0"       -- summary configs/mnist.yaml --set optimizer.lr=0
expect 2 "--set: optimizer: 'lr' must be a number in (0, 10], got 'nan'" -- summary configs/mnist.yaml --set optimizer.lr=nan
expect 2 "no-such.yaml: cannot open config: No such file or directory" -- no-such.yaml
expect 2 "folder.yaml: cannot read config (is it a folder?)" -- "$tmp/folder.yaml"
expect 2 "empty.yaml: the config is empty"                -- "$tmp/empty.yaml"
expect 2 "tab.yaml:2:1: YAML syntax error: a TAB character; YAML indents with spaces only" -- "$tmp/tab.yaml"
expect 2 "dup.yaml:2:1: duplicate key 'name' (first given at line 1, column 1)" -- "$tmp/dup.yaml"
expect 2 "empty-layers.yaml:4:9: 'layers' is empty"       -- "$tmp/empty-layers.yaml"
expect 2 "above limits.memory 10.0 MB"                    -- summary configs/mnist.yaml --set limits.memory=10MB
expect 1 "none/train-images-idx3-ubyte: not found (also tried .gz); run \`make data\`" -- "$tmp/nodata.yaml" --out "$tmp/out"
expect 1 "cannot create"                                  -- configs/mnist.yaml --out /proc/cnnrun-cannot-write-here
expect 0 "total: 1158 parameters"                         -- summary configs/mnist.yaml

echo "cli: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
