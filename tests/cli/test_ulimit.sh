#!/usr/bin/env bash
# Under an address-space limit (ulimit -v) cnnrun trains, or says which
# limit to raise; it never spins in OpenBLAS's buffer allocation (each run
# is under a timeout, so a regression fails instead of hanging).
# Usage: test_ulimit.sh PATH/TO/cnnrun. Exits 77 (skipped) where the limit
# cannot be set or this build cannot start under one (sanitizers reserve
# terabytes of shadow memory).
set -u
cnnrun=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
if ! (ulimit -v 400000) 2>/dev/null; then
	echo "SKIP: this environment does not let a test set ulimit -v"
	exit 77
fi
if ! (ulimit -v 400000; "$cnnrun" --version) >/dev/null 2>&1; then
	echo "SKIP: this build of cnnrun cannot start under ulimit -v (a sanitizer build?)"
	exit 77
fi
. "$(dirname "${BASH_SOURCE[0]}")/tiny_data.sh"
mkdir tiny
mkidx tiny train 200
mkidx tiny t10k 20
printf 'name: tiny\ndata: {dataset: mnist, path: %s/tiny, validation: 20}\ninput: [1, 28, 28]\nlayers:\n  - {type: conv, filters: 2, kernel_size: 5}\n  - {type: flatten}\n  - {type: dense, units: 10}\noptimizer: {type: adam}\ntrain: {epochs: 1, batch: 16, threads: 1}\n' "$tmp" >tiny.yaml
failed=0
# Enough room: trains as usual.
out=$(ulimit -v 600000; timeout 120 "$cnnrun" tiny.yaml --out roomy --quiet 2>&1)
status=$?
if [[ $status -ne 0 ]]; then
	echo "FAILED: ulimit -v 600000: status $status: $out"
	failed=1
fi
# Too little for OpenBLAS's buffer: a clear error, not a spin (timeout: 124).
out=$(ulimit -v 200000; timeout 60 "$cnnrun" tiny.yaml --out tight --quiet 2>&1)
status=$?
if [[ $status -ne 1 || $out != *"address-space limit (ulimit -v 200000 KiB)"* ]]; then
	echo "FAILED: ulimit -v 200000: status $status: $out"
	failed=1
fi
# Too little even for the data: the out-of-memory message, then a prompt exit.
out=$(ulimit -v 100000; timeout 60 "$cnnrun" "$tmp/tiny.yaml" --out tighter --quiet --set "data.path=$tmp/tiny" 2>&1)
status=$?
if [[ $status -eq 124 || $status -eq 0 ]]; then
	echo "FAILED: ulimit -v 100000: status $status: $out"
	failed=1
fi
[[ $failed -eq 0 ]] && echo "ulimit: passed"
exit $failed
