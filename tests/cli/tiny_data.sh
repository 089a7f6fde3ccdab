# Sourced by the CLI tests: a synthetic MNIST-shaped dataset in IDX files.
# be32 V: V as 4 big-endian bytes.
be32() {
	local v=$1
	printf "\\x$(printf %02x $((v >> 24 & 255)))\\x$(printf %02x $((v >> 16 & 255)))"
	printf "\\x$(printf %02x $((v >> 8 & 255)))\\x$(printf %02x $((v & 255)))"
}
# mkidx FOLDER PREFIX COUNT: COUNT blank 28x28 images, all labelled 0.
mkidx() {
	{ printf '\x00\x00\x08\x03'; be32 "$3"; be32 28; be32 28; head -c $(($3 * 784)) /dev/zero; } >"$1/$2-images-idx3-ubyte"
	{ printf '\x00\x00\x08\x01'; be32 "$3"; head -c "$3" /dev/zero; } >"$1/$2-labels-idx1-ubyte"
}
