#!/usr/bin/env bash
# `cnnrun predict` on real digits: many images in one call print exactly
# what one call per image prints (text and JSON, on any thread count, with a
# bad file among them); folders and --list; --preprocess mnist on a photo-like
# digit; the dark-on-light warning; the refusals. Usage:
#   test_predict.sh PATH/TO/cnnrun SOURCE_DIR PATH/TO/python3
# Needs data/mnist (`make data`) and numpy (scripts/install-deps.sh): skips
# (77) without them, fails under CI.
. "$(dirname "$0")/harness.sh"
python=$3
skip() {
	echo "SKIP: $1"
	[[ -n ${CI:-} ]] && { echo "(CI installs what the suite needs: this is a missing set-up step)"; exit 1; }
	exit 77
}
[[ -f data/mnist/t10k-images-idx3-ubyte ]] || skip "MNIST is not in $src/data/mnist: run \`make data\`"
"$python" -c 'import numpy' 2>/dev/null || skip "$python has no numpy: run scripts/install-deps.sh"
"$python" "$src/tests/cli/predict_images.py" data/mnist "$tmp" || exit 1

# check NAME CONDITION...: counts a test that runs CONDITION.
check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf 'FAILED: %s\n' "$name"
	fi
}

# A small lenet-like model, one epoch (seconds), and a 14x14 one on the folder set.
"$cnnrun" configs/mnist-tiny.yaml --epochs 1 --set "data.path=$src/data/mnist" --set data.validation=0 \
	--out "$tmp/tiny" --quiet >/dev/null || exit 1
ckpt=$tmp/tiny/last.ckpt
printf 'name: small\ndata: {format: folder, path: %s/folder}\ninput: [1, 14, 14]\nlayers:\n  - {type: flatten}\n  - {type: dense, units: 2}\noptimizer: {type: adam}\ntrain: {epochs: 1, batch: 8}\n' \
	"$tmp" >"$tmp/small.yaml"
"$cnnrun" "$tmp/small.yaml" --out "$tmp/small" --quiet >/dev/null || exit 1

# One call for all against one call per image, text and JSON, 1 and 3 threads,
# with a file that is not an image in the middle.
mapfile -t images < <(LC_ALL=C; printf '%s\n' "$tmp"/mnist/*.png)
all=("${images[@]:0:50}" "$tmp/small.yaml" "${images[@]:50}")
for json in "" --json; do
	: >"$tmp/one$json"
	for f in "${images[@]}"; do
		"$cnnrun" predict "$ckpt" "$f" $json --threads 1 >>"$tmp/one$json" 2>/dev/null
	done
	for threads in 1 3; do
		"$cnnrun" predict "$ckpt" "${all[@]}" $json --threads $threads >"$tmp/all" 2>"$tmp/err"
		status=$?
		check "batch = one by one ($threads threads, '$json')" cmp -s "$tmp/one$json" "$tmp/all"
		check "a bad file: exit 1 ($threads threads, '$json'), got $status" test "$status" -eq 1
		check "a bad file is named and counted" grep -q "small.yaml: .*1 of 101 images could not be classified" \
			<(tr '\n' ' ' <"$tmp/err")
	done
done
check "100 lines, in order" test "$(cut -d: -f1 "$tmp/one")" = "$(printf '%s\n' "${images[@]}")"

# A folder, --list FILE and --list - name the same images in the same order.
"$cnnrun" predict "$ckpt" "$tmp/mnist" | sed "s|$tmp/mnist/|X/|" >"$tmp/folder.out"
sed "s|$tmp/mnist/|X/|" "$tmp/one" >"$tmp/one.x"
check "a folder = its images in name order" cmp -s "$tmp/one.x" "$tmp/folder.out"
printf '%s\n' "# digits" "${images[@]}" "" >"$tmp/list.txt"
check "--list FILE" cmp -s "$tmp/one" <("$cnnrun" predict "$ckpt" --list "$tmp/list.txt")
check "--list -" cmp -s "$tmp/one" <("$cnnrun" predict "$ckpt" --list - <"$tmp/list.txt")
mkdir "$tmp/empty"
expect 1 "empty: no PNG, JPEG, PGM or PPM file in this folder" -- predict "$ckpt" "$tmp/empty"
expect 1 "nope.txt: cannot open list"                       -- predict "$ckpt" --list "$tmp/nope.txt"

# A folder among files is read in its place (predict finds out when it
# opens the name); a missing file and an empty folder fail in theirs; a
# folder named in a list is refused as a file.
mkdir "$tmp/mixed"
cp "${images[@]:0:3}" "$tmp/mixed/"
"$cnnrun" predict "$ckpt" "${images[3]}" "$tmp/mixed" "$tmp/nothere.png" "$tmp/empty" "${images[4]}" \
	>"$tmp/mixed.out" 2>"$tmp/mixed.err"
check "mixed: exit 1" test $? -eq 1
check "mixed: lines in order" cmp -s "$tmp/mixed.out" <(for a in "${images[3]}" "$tmp/mixed" "${images[4]}"; do
	"$cnnrun" predict "$ckpt" "$a"; done)
check "mixed: failures in order, counted" test "$(sed 's/^.*\(nothere.png\|empty\): .*/\1/' "$tmp/mixed.err")" = \
	"$(printf 'nothere.png\nempty\n2 of 7 images could not be classified')"
printf '%s\n' "$tmp/mixed" >"$tmp/folder-list.txt"
expect 1 "mixed: is a folder, not a regular file"            -- predict "$ckpt" --list "$tmp/folder-list.txt"

# A person's digit: dark on light, larger, off-centre (one in colour).
"$cnnrun" predict "$ckpt" "$tmp"/own/*.png --preprocess mnist >"$tmp/own.out" 2>&1
check "--preprocess mnist: exit 0" test $? -eq 0
for f in "$tmp"/own/*.png; do
	truth=${f##*_}
	truth=${truth%.png}
	check "--preprocess mnist classifies $(basename "$f") as $truth" grep -q "^$f: $truth (" "$tmp/own.out"
done
expect 1 "digit0_7.png: the image is 100x80 pixels, the network takes 28x28 (width x height); resize it first (a photo or scan of a digit: add --preprocess mnist)" -- predict "$ckpt" "$tmp/own/digit0_7.png"
expect 1 "blank.png: --preprocess mnist: no digit found: the image is almost uniform" -- predict "$ckpt" "$tmp/blank.png" --preprocess mnist
expect 2 "--preprocess must be none or mnist, got 'emnist'"  -- predict "$ckpt" "$tmp/blank.png" --preprocess emnist
expect 2 "--preprocess needs none or mnist"                  -- predict "$ckpt" --preprocess
expect 2 "--threads must be an integer in [0, 1024] (0: all cores), got 'x'" -- predict "$ckpt" "$tmp/blank.png" --threads x
expect 2 "last.ckpt: --preprocess mnist makes 28x28 grey images, and this model takes [1, 14, 14]" -- predict "$tmp/small/last.ckpt" "$tmp/blank.png" --preprocess mnist
expect 0 "0.png: "                                           -- predict "$tmp/small/last.ckpt" "$tmp/folder/test/0/0.png"

# Dark on light without --preprocess: the result as before, and one warning line.
"$cnnrun" predict "$ckpt" "$tmp"/inv28/*.png >"$tmp/inv.out" 2>"$tmp/inv.err"
check "dark on light: exit 0" test $? -eq 0
check "dark on light: 5 results" test "$(wc -l <"$tmp/inv.out")" -eq 5
check "dark on light: one warning line" test "$(wc -l <"$tmp/inv.err")" -eq 1
check "the warning suggests --preprocess mnist" grep -q "warning: 5 of 5 images look dark on light .*use --preprocess mnist" "$tmp/inv.err"
"$cnnrun" predict "$ckpt" "${images[@]}" >/dev/null 2>"$tmp/mnist.err"
check "MNIST's own digits: no warning" test ! -s "$tmp/mnist.err"

echo "predict: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
