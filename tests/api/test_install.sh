#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds examples/classify.c
# against the installed package with pkg-config (shared and static) and with
# CMake's find_package (cnnrun::cnnrun and cnnrun::cnnrun_static), trains a
# tiny MNIST model with the installed cnnrun and checks that every build of
# the example prints, for test images, what `cnnrun predict` prints.
# usage: test_install.sh BUILD_DIR SOURCE_DIR LIBDIR CMAKE CC [CFLAGS]
# (CFLAGS: what a program linking this build's library also needs, such as
# -fsanitize=address,undefined for a sanitized build)
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd) libdir=$3 cmake=$4 cc=$5
read -r -a extra <<< "${6:-}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
for f in include/cnnrun.h bin/cnnrun "$libdir/libcnnrun.a" "$libdir/libcnnrun.so" \
         "$libdir/pkgconfig/cnnrun.pc" "$libdir/cmake/cnnrun/cnnrunConfig.cmake" \
         "$libdir/cmake/cnnrun/cnnrunConfigVersion.cmake" "$libdir/cmake/cnnrun/cnnrunTargets.cmake"; do
	[ -e "$prefix/$f" ] || fail "not installed: $f"
done
[ "$(ls "$prefix/include")" = cnnrun.h ] || fail "include/ holds more than cnnrun.h: $(ls "$prefix/include")"
ls "$prefix/$libdir"/libcnnrun.so.*.*.* > /dev/null || fail "no versioned libcnnrun.so"

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
[ "$(pkg-config --variable=libdir cnnrun)" = "$prefix/$libdir" ] || fail "cnnrun.pc libdir is $(pkg-config --variable=libdir cnnrun)"
pkg-config --print-requires-private cnnrun | grep -q openblas || fail "cnnrun.pc lacks Requires.private"
flags=(-std=c99 -Wall -Wextra -Wpedantic -Werror "${extra[@]}")
# shared, as the documentation says
"$cc" "${flags[@]}" "$src/examples/classify.c" $(pkg-config --cflags --libs cnnrun) -o "$tmp/classify_pc"
# static: libcnnrun.a and what Libs.private and Requires.private name
static_libs=$(pkg-config --static --libs cnnrun | sed 's/-lcnnrun\b/-l:libcnnrun.a/')
"$cc" "${flags[@]}" "$src/examples/classify.c" $(pkg-config --cflags cnnrun) $static_libs -o "$tmp/classify_pc_static"
! ldd "$tmp/classify_pc_static" | grep -q libcnnrun || fail "the static build needs libcnnrun.so"

"$cmake" -S "$src/examples" -B "$tmp/examples" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_C_FLAGS="${extra[*]}" -DCMAKE_EXE_LINKER_FLAGS="${extra[*]}" \
	> "$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "configuring examples with find_package"; }
"$cmake" --build "$tmp/examples" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building examples"; }

# A model in seconds: 3,000 training images, one epoch.
cd "$tmp"
"$prefix/bin/cnnrun" "$src/configs/mnist-tiny.yaml" --set data.path="$src/data/mnist" \
	--set data.validation=57000 --set optimizer.lr=0.01 --epochs 1 --threads 2 --out run --quiet > train.log ||
	{ cat train.log; fail "training"; }
ckpt=run/last.ckpt

mnist=$src/data/mnist
# the first $2 bytes of an IDX file, raw or gzipped
bytes() {
	if [ -f "$mnist/$1" ]; then head -c "$2" "$mnist/$1"
	else (set +o pipefail; zcat "$mnist/$1.gz" | head -c "$2"); fi
}
bytes t10k-images-idx3-ubyte $((16 + 5 * 784)) > images
bytes t10k-labels-idx1-ubyte $((8 + 5)) > labels
right=0
for i in 0 1 2 3 4; do
	{ printf 'P5\n# MNIST test image %d\n28 28\n255\n' "$i"; tail -c +$((16 + i * 784 + 1)) images | head -c 784 || true; } > "digit$i.pgm"
	label=$(od -An -tu1 -j $((8 + i)) -N1 labels | tr -d ' ')
	# "digit0.pgm: 7 (0.9876), 2 (0.0100), 3 (0.0010)" -> "7 0.9876"
	want=$(LD_LIBRARY_PATH= "$prefix/bin/cnnrun" predict "$ckpt" "digit$i.pgm" |
	       sed -E 's/^[^:]*: //; s/[()]//g; s/, /\n/g')
	for exe in classify_pc classify_pc_static examples/classify examples/classify_static; do
		got=$(LD_LIBRARY_PATH=$prefix/$libdir "./$exe" "$ckpt" "digit$i.pgm" 3) || fail "$exe failed on digit$i.pgm"
		[ "$got" = "$want" ] || fail "$exe on digit$i.pgm printed '$got', cnnrun predict '$want'"
	done
	[ "${want%% *}" = "$label" ] && right=$((right + 1))
	echo "digit$i.pgm (label $label): $(echo "$want" | tr '\n' ' ')"
done
# a model at 0.9 test accuracy knows most of the first five
[ "$right" -ge 4 ] || fail "only $right of 5 test images classified right"
# and the example refuses a broken checkpoint with the library's message
head -c 100 "$ckpt" > broken.ckpt
msg=$(LD_LIBRARY_PATH=$prefix/$libdir ./examples/classify broken.ckpt digit0.pgm 2>&1) && fail "broken checkpoint accepted"
[[ $msg == "broken.ckpt: truncated"* ]] || fail "unexpected message: $msg"
echo "ok"
