#!/usr/bin/env bash
# The include layering of docs/design.md, enforced: check_includes.sh must
# accept src/ as it is, and must refuse a copy of src/ with one include
# planted upwards (io including net), one sideways (data including layers)
# and one to a file that does not exist, so the check cannot pass by
# reading nothing.
# Usage: test_layering.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: test_layering.sh SOURCE_DIR}
check=$src/tests/layering/check_includes.sh
bash "$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plant() {   # plant FILE INCLUDE EXPECTED-MESSAGE
	rm -rf "$tmp/src"
	cp -r "$src/src" "$tmp/src"
	printf '#include "%s"\n' "$2" >> "$tmp/src/$1"
	local out status
	out=$(bash "$check" "$tmp" 2>&1) && status=0 || status=$?
	if [[ $status -eq 0 || $out != *"src/$1:"*"$3"* ]]; then
		printf 'FAILED: %s including "%s" was not refused with "%s" (status %s):\n%s\n' \
			"$1" "$2" "$3" "$status" "$out" >&2
		exit 1
	fi
}
plant io/fileio.c net/net.h "points upwards or sideways: io (rank 1) includes net (rank 4)"
plant data/dataset.c layers/layer.h "points upwards or sideways: data (rank 3) includes layers (rank 3)"
plant optim/optim.c net/net.h "optim (rank 3) includes net (rank 4)"
plant api/api.c runner/runner.h "api (rank 6) includes runner (rank 9)"
plant util/rng.c util/nothere.h "names no file under src/"
echo "test_layering: the check refuses planted upward, sideways and dangling includes"
