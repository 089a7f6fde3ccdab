#!/usr/bin/env bash
# Includes point downwards (docs/design.md, "Layers of the source"): every
# `#include "dir/x.h"` in src/A/ must name a file of src/A/ itself or of a
# folder ranked below A in the table below. Also refused: an include that
# names no existing file, a "../" that leaves A, and a bare "x.h" that is
# neither beside the includer nor the public header (include/cnnrun.h,
# which counts as api/). Prints every offending line, file:line: why, and
# exits 1 if there is one.
# Usage: check_includes.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: check_includes.sh SOURCE_DIR}
cd "$root"

# rank: a folder may include only folders of a lower rank (and itself).
# Everything up to api is libcnnrun; from metrics on, the cnnrun program's.
declare -A rank=(
	[util]=0
	[io]=1 [kernels]=1 [losses]=1 [dist]=1
	[config]=2
	[data]=3 [layers]=3 [optim]=3
	[net]=4
	[builder]=5
	[api]=6
	[metrics]=7 [plot]=7 [export]=7
	[report]=8
	[runner]=9
	[program]=10
)
layer_of() {   # src/A/... -> A; src/x.c -> program
	local f=$1 rest=${1#src/}
	if [[ $rest != */* ]]; then
		echo program
	else
		echo "${rest%%/*}"
	fi
}

bad=0
complain() {
	echo "$1: $2" >&2
	bad=1
}

checked=0
while IFS= read -r -d '' f; do
	from=$(layer_of "$f")
	if [[ -z ${rank[$from]:-} ]]; then
		complain "$f" "src/$from/ has no rank in tests/layering/check_includes.sh (add it, and to docs/design.md)"
		continue
	fi
	while IFS=: read -r line inc; do
		checked=$((checked + 1))
		dir=${f%/*}
		case $inc in
		../*)
			target=$(realpath -m --relative-to=. "$dir/$inc")
			[[ -f $target ]] || { complain "$f:$line" "\"$inc\" names no file"; continue; }
			[[ $target == src/$from/* ]] ||
				complain "$f:$line" "\"$inc\" leaves src/$from/"
			;;
		*/*)
			to=${inc%%/*}
			if [[ ! -f src/$inc ]]; then
				complain "$f:$line" "\"$inc\" names no file under src/"
			elif [[ -z ${rank[$to]:-} ]]; then
				complain "$f:$line" "src/$to/ has no rank in tests/layering/check_includes.sh"
			elif [[ $to != "$from" && ${rank[$to]} -ge ${rank[$from]} ]]; then
				complain "$f:$line" "\"$inc\" points upwards or sideways: $from (rank ${rank[$from]}) includes $to (rank ${rank[$to]})"
			fi
			;;
		*)
			if [[ $inc == cnnrun.h ]]; then
				[[ ${rank[$from]} -ge ${rank[api]} ]] ||
					complain "$f:$line" "the public header belongs to api/ and above, not to $from"
			elif [[ ! -f $dir/$inc ]]; then
				complain "$f:$line" "\"$inc\" is not beside it: write \"dir/$inc\""
			fi
			;;
		esac
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
	         sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/' || true)
done < <(find src -name '*.[ch]' -print0 | sort -z)
[[ $checked -gt 0 ]] || complain src "no includes found: the check read nothing"
[[ $bad -eq 0 ]] && echo "check_includes: $checked includes in src/ point downwards"
exit $bad
