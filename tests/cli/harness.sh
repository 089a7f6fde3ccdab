# The CLI tests' common part, sourced by each tests/cli/test_*.sh, which are
# run as: test_X.sh PATH/TO/cnnrun SOURCE_DIR. Sets cnnrun, src and tmp (a
# folder removed on exit), moves to SOURCE_DIR, counts passed and failed.
set -u
cnnrun=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1
passed=0 failed=0

# check DESCRIPTION CONDITION: counts CONDITION (evaluated) as passed or
# failed, printing DESCRIPTION when it fails.
check() {
	if eval "$2"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf 'FAILED: %s\n' "$1"
	fi
}

# expect STATUS PATTERN -- ARGS...: PATTERN is a fixed string that must occur
# in the combined output. Environment assignments before it (CNN_ISA=x
# expect ...) reach cnnrun.
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
