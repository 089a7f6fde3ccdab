#!/bin/bash
# docs/own-images.md's path, small: scripts/make-shapes.py makes a folder
# of photos, scripts/split-folder.py splits it, the tutorial's config (its
# yaml block) trains an epoch on it and `cnnrun predict` names a new photo
# by class. Run as test_own_images.sh PATH/TO/cnnrun SOURCE_DIR.
source "$(dirname "$0")/harness.sh"
python=/usr/bin/python3
cd "$tmp" || exit 1

check() {   # check WHAT STATUS: counts a step
	if [[ $2 == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi
}

"$python" "$src/scripts/make-shapes.py" my-photos --per-class 12 >make.log 2>&1
check "make-shapes.py: $(tail -1 make.log)" $?
n=$(find my-photos -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)
[[ $n == 48 ]]
check "make-shapes.py wrote $n pictures, not 4 x 12" $?

"$python" "$src/scripts/split-folder.py" my-photos shapes --test 0.25 >split.log 2>&1 &&
	grep -qx 'circle: train 9, test 3' split.log
check "split-folder.py: $(cat split.log)" $?
# too few pictures to split, and an existing output folder, are refused
mkdir -p few/a few/b && cp my-photos/circle/0000.jpg few/a/ && cp my-photos/star/0000.jpg few/b/
! "$python" "$src/scripts/split-folder.py" few few-split >/dev/null 2>&1
check "split-folder.py split a class of one picture" $?
! "$python" "$src/scripts/split-folder.py" my-photos shapes >/dev/null 2>&1
check "split-folder.py wrote into an existing folder" $?

# the tutorial's config, as the page shows it
awk '/^```yaml/ { b = 1; next } b && /^```/ { exit } b' "$src/docs/own-images.md" >shapes.yaml
grep -q '^name: shapes' shapes.yaml
check "docs/own-images.md: no yaml block with the tutorial's config" $?
out=$("$cnnrun" shapes.yaml --epochs 1 --set data.validation=4 --quiet 2>&1)
check "one epoch of the tutorial's config: $(printf '%s' "$out" | tail -2)" $?
"$python" "$src/scripts/make-shapes.py" new --per-class 1 --seed 7 >/dev/null 2>&1
out=$("$cnnrun" predict runs/shapes/best.ckpt new/star/0000.jpg 2>&1)
[[ $out =~ ^new/star/0000.jpg:\ (circle|square|star|triangle)\ \([01]\.[0-9]{4}\), ]]
check "predict on a new photo printed: $out" $?

echo "test_own_images: $passed passed, $failed failed"
((failed == 0))
