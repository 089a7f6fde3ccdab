#!/usr/bin/env bash
# Data formats from the command line: a folder of PPM images trains, and
# bad data stops the run before training with the file named and status 1
# (config mistakes: 2). Usage: test_cli_data.sh PATH/TO/cnnrun SOURCE_DIR
source "$(dirname "$0")/harness.sh"

# ppm FILE BYTE: a 6x6 colour image, every byte BYTE (octal)
ppm() { { printf 'P6\n6 6\n255\n'; for _ in $(seq 108); do printf "\\$2"; done; } >"$1"; }
for split in train test; do
	for k in dark light; do
		mkdir -p "$tmp/f/$split/$k"
		for i in 1 2 3 4 5 6; do
			if [[ $k == dark ]]; then ppm "$tmp/f/$split/$k/$i.ppm" 00$i; else ppm "$tmp/f/$split/$k/$i.ppm" 37$i; fi
		done
	done
done
cfg() { # FILE PATH [EXTRA DATA KEYS]
	printf 'name: f\ndata: {format: folder, path: %s%s}\ninput: [3, 4, 4]\nlayers:\n  - {type: flatten}\n  - {type: dense, units: 2}\noptimizer: {type: adam, lr: 0.05}\ntrain: {epochs: 3, batch: 4, threads: 1}\n' "$2" "${3:-}" >"$1"
}
cfg "$tmp/ok.yaml" "$tmp/f"
expect 0 "test accuracy: 1.0000 (12/12)"                  -- "$tmp/ok.yaml" --out "$tmp/run"
expect 0 "dark"                                           -- "$tmp/ok.yaml" --out "$tmp/run" --quiet --overwrite
expect 0 "$tmp/f/test/light/1.ppm: light ("               -- predict "$tmp/run/last.ckpt" "$tmp/f/test/light/1.ppm"
cfg "$tmp/bad-resize.yaml" "$tmp/f" ", resize: nearest"
expect 2 "data: 'resize' must be one of: none, bilinear; got 'nearest'" -- "$tmp/bad-resize.yaml" --out "$tmp/r"
cfg "$tmp/none.yaml" "$tmp/f" ", resize: none"
expect 1 "$tmp/f/train/dark/1.ppm: the image is 6x6 pixels, the network takes 4x4" -- "$tmp/none.yaml" --out "$tmp/r"
head -c 20 "$tmp/f/train/dark/3.ppm" >"$tmp/f/train/dark/3b.ppm"
expect 1 "$tmp/f/train/dark/3b.ppm: truncated PPM"        -- "$tmp/ok.yaml" --out "$tmp/r"
rm "$tmp/f/train/dark/3b.ppm"
mkdir "$tmp/f/test/grey"
expect 1 "$tmp/f/test/grey: class folder 'grey' is not one of the 2 training classes" -- "$tmp/ok.yaml" --out "$tmp/r"
rmdir "$tmp/f/test/grey"
# a test split without one of the training classes trains, and says so once
mv "$tmp/f/test/light" "$tmp/light-aside"
expect 0 "cnnrun: warning: the test images have none of class 'light' (6 training images)" -- "$tmp/ok.yaml" --out "$tmp/rw" --quiet
mv "$tmp/light-aside" "$tmp/f/test/light"
out=$("$cnnrun" "$tmp/ok.yaml" --out "$tmp/rw" --quiet --overwrite 2>&1)
check "no class-coverage warning when every class has test images" '[[ $out != *warning* ]]'
cfg "$tmp/missing.yaml" "$tmp/nowhere"
expect 1 "missing.yaml:2:30: data.path '$tmp/nowhere': no such folder" -- "$tmp/missing.yaml" --out "$tmp/r"
printf 'f/train/dark/1.ppm 0\nf/train/light/1.ppm 1\nf/train/dark/9.ppm 0\n' >"$tmp/list.txt"
printf 'name: l\ndata: {format: list, train: %s/list.txt, test: %s/list.txt}\ninput: [3, 4, 4]\nlayers:\n  - {type: flatten}\n  - {type: dense, units: 2}\noptimizer: {type: adam}\n' "$tmp" "$tmp" >"$tmp/list.yaml"
expect 1 "$tmp/list.txt:3:1: $tmp/f/train/dark/9.ppm: no such file" -- "$tmp/list.yaml" --out "$tmp/r"

# Config mistakes that only the data reveals: status 2, at the config's position.
printf 'f/train/dark/1.ppm 0\nf/train/dark/2.ppm 0\n' >"$tmp/zeros.txt"
printf 'name: z\ndata: {format: list, train: zeros.txt, test: zeros.txt}\ninput: [3, 4, 4]\nlayers:\n  - {type: flatten}\n  - {type: dense, units: 2}\noptimizer: {type: adam}\n' >"$tmp/zeros.yaml"
expect 2 "zeros.yaml:2:7: data: the classes cannot be told from the files; list their names in data.classes" -- "$tmp/zeros.yaml" --out "$tmp/r"
# list files named relative to the config's folder, from another folder
expect 0 "test accuracy"                                  -- "$tmp/zeros.yaml" --out "$tmp/z" --set "data.classes=[a, b]" --quiet
echo "test_cli_data: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
