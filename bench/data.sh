# Sourced by bench/run and bench/ab: the benchmark's data sets, written into
# $WORK. MNIST's first N training images (and first M test images) as IDX
# files with rewritten headers, so that `--epochs 1` trains on a fixed number
# of images without a config key for it; and the generated colour set in
# CIFAR-10's binary format (scripts/synthetic-cifar.py).

be32() { # V as 4 big-endian bytes
	printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))"
	printf "\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"
}
raw() { # an IDX file's bytes, raw or gzip'd
	if [ -f "$1" ]; then cat "$1"; else gzip -dc "$1.gz"; fi
}
bytes() { # bytes FILE SKIP COUNT
	dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# mnist_unpack DATA: MNIST's four files, uncompressed, as $WORK/mnist-*
mnist_unpack() {
	local f
	for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
		[ -e "$1/$f" ] || [ -e "$1/$f.gz" ] ||
			{ echo "bench: no MNIST in $1 (make data)" >&2; return 1; }
		raw "$1/$f" >"$WORK/mnist-$f"
	done
}

# idx_head PREFIX N DIR: the first N images and labels of $WORK/mnist-PREFIX-*
idx_head() {
	local have
	have=$(od -An -tu1 -j4 -N4 "$WORK/mnist-$1-labels-idx1-ubyte" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
	[ "$2" -le "$have" ] || { echo "bench: $2 images asked for, the $1 set has $have" >&2; return 1; }
	{ printf '\x00\x00\x08\x03'; be32 "$2"; be32 28; be32 28
	  bytes "$WORK/mnist-$1-images-idx3-ubyte" 16 $(($2 * 784)); } >"$3/$1-images-idx3-ubyte"
	{ printf '\x00\x00\x08\x01'; be32 "$2"
	  bytes "$WORK/mnist-$1-labels-idx1-ubyte" 8 "$2"; } >"$3/$1-labels-idx1-ubyte"
}

# mnist_subset N TEST DIR: the first N training and first TEST test images
mnist_subset() {
	mkdir -p "$3"
	idx_head train "$1" "$3" && idx_head t10k "$2" "$3"
}

# colour_set N TEST DIR: N training images (a multiple of 5: the format's
# five batch files, N/5 from each) and TEST test images, 3x32x32: the first
# records of CIFAR-10's files in $CIFAR_DATA when set, else generated ones
colour_set() {
	[ $(($1 % 5)) = 0 ] || { echo "bench: the colour set's training images must be a multiple of 5, not $1" >&2; return 1; }
	if [ -z "${CIFAR_DATA:-}" ]; then
		/usr/bin/python3 "$ROOT/scripts/synthetic-cifar.py" "$3" --per-batch $(($1 / 5)) --test "$2" --seed 1 >/dev/null
		return
	fi
	local f n
	mkdir -p "$3"
	for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
		n=$(($1 / 5))
		[ $f = test_batch ] && n=$2
		head -c $((n * 3073)) "$CIFAR_DATA/$f.bin" >"$3/$f.bin" || return 1
		[ "$(stat -c %s "$3/$f.bin")" = $((n * 3073)) ] ||
			{ echo "bench: $CIFAR_DATA/$f.bin has fewer than the $n images asked for" >&2; return 1; }
	done
}
