#!/usr/bin/env bash
# The exports end to end. For each config: train briefly (the test is about
# the export, not accuracy), dump cnnrun's own probabilities on the test
# images (MNIST's 10,000; the colour model's 200 synthetic ones), then
#   --onnx: onnx.checker and OpenCV's dnn give cnnrun's top class on every
#           image and probabilities within 1e-4 (onnx_check.py);
#   --c:    the source compiles with cc -std=c99 -Wall -Wextra -Werror
#           -pedantic and only libm, and gives cnnrun's top class on every
#           image (float) or loses at most 0.3 points of accuracy (int8),
#           with the int8 accuracy the export printed.
# MAX_DROP (environment) overrides the 0.3 points for a config that is
# only here for its layer types.
# Usage: test_export.sh CNNRUN DUMP_REFERENCE PYTHON SOURCE_DIR CONFIG [TRAIN_ARGS...]
set -euo pipefail
cnnrun=$1 dump=$2 python=$3 src=$4 config=$5
shift 5
cd "$src"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}
name=$(basename "$config" .yaml)
prefix=${name//-/_}

# The colour model trains on a small synthetic set in CIFAR-10's format
# (scripts/synthetic-cifar.py): its per-channel standardisation is what the
# exporters must carry.
if [[ $name == cifar10 ]]; then
	"$python" "$src/scripts/synthetic-cifar.py" "$tmp/cifar" --per-batch 200 --test 200 >/dev/null
	set -- "$@" --set data.path="$tmp/cifar"
fi

nice "$cnnrun" "$config" --quiet --out "$tmp/run" "$@" >/dev/null
ckpt=$tmp/run/last.ckpt
"$dump" "$ckpt" "$tmp"

# refusals: an output naming the checkpoint itself, a prefix that is not a
# C identifier, --int8 without --c (status 1, 2 and 2, the checkpoint intact)
cp "$ckpt" "$tmp/before.ckpt"
refuse() {
	local want=$1 pattern=$2 out status
	shift 2
	out=$("$cnnrun" export "$@" 2>&1) && status=0 || status=$?
	if [[ $status -ne $want || $out != *"$pattern"* ]]; then
		printf 'FAILED: cnnrun export %s: status %s (want %s), output:\n%s\n' "$*" "$status" "$want" "$out" >&2
		exit 1
	fi
}
refuse 2 "--onnx names the checkpoint being exported" "$ckpt" --onnx "$ckpt"
refuse 2 "--npz names the checkpoint being exported" "$ckpt" --npz "$tmp/run/../run/last.ckpt"
ln -s last.ckpt "$tmp/run/model.c"
refuse 2 "--c names the checkpoint being exported" "$ckpt" --c "$tmp/run" --prefix model
refuse 2 "'9lives' is not a C identifier" "$ckpt" --c "$tmp/c" --prefix 9lives
refuse 2 "--int8 is for the C export (--c DIR)" "$ckpt" --onnx "$tmp/x.onnx" --int8
cmp "$ckpt" "$tmp/before.ckpt"

if [[ $name == mnist || $name == all-layers || $name == graph || $name == cifar10 ]]; then
	"$cnnrun" export "$ckpt" --onnx "$tmp/$name.onnx"
	"$python" "$src/tests/export/onnx_check.py" "$tmp/$name.onnx" "$tmp"
fi

for mode in float int8; do
	out=$tmp/$mode
	flag=()
	[[ $mode == int8 ]] && flag=(--int8)
	"$cnnrun" export "$ckpt" --c "$out" "${flag[@]}" | tee "$tmp/export.txt"
	grep -q "flash [0-9]* bytes (weights), RAM [0-9]* bytes" "$tmp/export.txt"
	"$cc" -std=c99 -Wall -Wextra -Werror -pedantic -O2 -I"$out" -DMAX_DROP="${MAX_DROP:-0.3}" -DMODEL="$prefix" -DHEADER="\"$prefix.h\"" \
		"$src/tests/export/driver.c" "$out/$prefix.c" -lm -o "$out/driver"
	"$out/driver" "$tmp" "$mode" | tee "$tmp/driver.txt"
	if [[ $mode == int8 ]]; then
		# the accuracy cnnrun printed is the generated code's
		printed=$(sed -n 's/^int8: .*test accuracy \([0-9.]*\) .*/\1/p' "$tmp/export.txt")
		measured=$(sed -n 's/^int8: accuracy \([0-9.]*\),.*/\1/p' "$tmp/driver.txt")
		[[ -n $printed && $printed == "$measured" ]] || { echo "export printed int8 accuracy '$printed', the code gives '$measured'" >&2; exit 1; }
	fi
done
echo "test_export $name: passed"
