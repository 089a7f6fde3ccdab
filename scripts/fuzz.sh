#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR for SECONDS each, starting
# from the committed seeds. Inputs that crash land in
# tests/fuzz/regressions/<target>/, where the replay tests pick them up.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -uo pipefail
build=${1:?build folder}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
failed=()
for exe in "$build"/tests/fuzz/fuzz_*; do
	[[ -x $exe && $exe != *_replay ]] || continue
	target=$(basename "$exe")
	name=${target#fuzz_}
	work="$build/fuzz-corpus/$name"
	crashes="$root/tests/fuzz/regressions/$name"
	mkdir -p "$work" "$crashes"
	echo "fuzz: $target for ${seconds}s"
	# libFuzzer refuses a folder that does not exist (git keeps no empty ones)
	seeds=()
	[[ -d $root/tests/fuzz/corpus/$name ]] && seeds=("$root/tests/fuzz/corpus/$name")
	# the YAML test suite's cases are seeds for the config loader too
	[[ $name == config ]] && seeds+=("$root/tests/corpora/yaml-test-suite")
	if ! "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" "${seeds[@]}" \
		>"$build/fuzz-$name.log" 2>&1; then
		failed+=("$target")
		tail -30 "$build/fuzz-$name.log"
	else
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/fuzz-$name.log" | tail -2
	fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "fuzz: crashes in ${failed[*]}; inputs kept in tests/fuzz/regressions/" >&2
	exit 1
fi
echo "fuzz: no crash"
