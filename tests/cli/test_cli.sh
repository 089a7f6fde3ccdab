#!/usr/bin/env bash
# The command line as users meet it: each row runs cnnrun and checks the exit
# status and a line of its output (stderr for errors). Usage:
#   test_cli.sh PATH/TO/cnnrun SOURCE_DIR
. "$(dirname "$0")/harness.sh"

printf 'name: bad\ndata: {dataset: mnist}\ninput: [1, 28, 28]\nlayers: []\n' >"$tmp/empty-layers.yaml"
printf 'a: 1\n\tb: 2\n' >"$tmp/tab.yaml"
printf 'name: x\nname: y\n' >"$tmp/dup.yaml"
: >"$tmp/empty.yaml"
mkdir "$tmp/folder.yaml"
printf 'name: nodata\ndata: {dataset: mnist, path: %s/none}\ninput: [1, 28, 28]\nlayers:\n  - {type: dense, units: 10}\noptimizer: {type: adam}\n' "$tmp" >"$tmp/nodata.yaml"

expect 0 "usage: cnnrun"                                  -- --help
expect 0 "cnnrun 0."                                      -- --version
expect 2 "missing CONFIG"                                 --
expect 2 "unknown option '--bogus'"                       -- configs/mnist.yaml --bogus
expect 2 "usage: cnnrun"                                  -- configs/mnist.yaml --bogus
expect 2 "--epochs needs a value"                         -- configs/mnist.yaml --epochs
expect 2 "unexpected argument 'extra'"                    -- configs/mnist.yaml extra
expect 2 "--set x: expected KEY=VALUE"                    -- summary configs/mnist.yaml --set x
expect 2 "--set: train: 'epochs' must be an integer in [1, 100000], got 'many'" -- summary configs/mnist.yaml --epochs many
expect 2 "--set: train: 'batch' must be an integer in [1, 65536], got 0" -- summary configs/mnist.yaml --batch 0
expect 2 "--set: adam: unknown key 'lrr' (did you mean 'lr'?)" -- summary configs/mnist.yaml --set optimizer.lrr=1
expect 2 "--set: 'layers.9.filters': '9' is not an index of a list of 8 items (0..7)" -- summary configs/mnist.yaml --set layers.9.filters=1
expect 2 "--set: conv: 'filters' must be an integer in [1, 65536], got 'four'" -- summary configs/mnist.yaml --set layers.0.filters=four
expect 2 "--set: optimizer: 'lr' must be a number in (0, 10], got 0"       -- summary configs/mnist.yaml --set optimizer.lr=0
expect 2 "--set: optimizer: 'lr' must be a number in (0, 10], got 'nan'" -- summary configs/mnist.yaml --set optimizer.lr=nan
expect 2 "no-such.yaml: cannot open config: No such file or directory" -- no-such.yaml
expect 2 "folder.yaml: cannot open config: is a folder, not a regular file" -- "$tmp/folder.yaml"
expect 2 "empty.yaml: the config is empty"                -- "$tmp/empty.yaml"
expect 2 "tab.yaml:2:1: YAML syntax error: a TAB character; YAML indents with spaces only" -- "$tmp/tab.yaml"
expect 2 "dup.yaml:2:1: duplicate key 'name' (first given at line 1, column 1)" -- "$tmp/dup.yaml"
expect 2 "empty-layers.yaml:4:9: 'layers' is empty"       -- "$tmp/empty-layers.yaml"
expect 2 "above limits.memory 10.0 MB"                    -- summary configs/mnist.yaml --set limits.memory=10MB
expect 2 "dataset held in memory is 55.0 MB of it (the network at batch 16 takes the rest); a smaller train.batch does not change the dataset" -- summary configs/mnist.yaml --set limits.memory=10MB
expect 1 "nodata.yaml:2:30: data.path '$tmp/none': no such file or folder; run \`make data\`" -- "$tmp/nodata.yaml" --out "$tmp/out"
expect 1 "cannot create"                                  -- configs/mnist.yaml --out /proc/cnnrun-cannot-write-here
expect 0 "total: 1158 parameters"                         -- summary configs/mnist.yaml
# graphs: what each layer reads, the picture, and a bad reference
expect 0 " 10  add1             add            s0, batchnorm3"  -- summary configs/resnet-mnist.yaml
expect 0 "picture: $tmp/net.svg"                          -- summary configs/inception-mnist.yaml --svg "$tmp/net.svg"
expect 2 "--svg is for summary"                           -- configs/mnist.yaml --svg "$tmp/x.svg"
expect 2 "--svg needs a file name"                        -- summary configs/mnist.yaml --svg
expect 1 "nope/net.svg"                                   -- summary configs/mnist.yaml --svg "$tmp/nope/net.svg"
expect 2 "--set: add: unknown input 'b9' (did you mean 'b1'?); inputs are earlier layers' names, 'input' or -1" -- summary configs/resnet-mnist.yaml --set layers.16.inputs.0=b9
expect 2 "--set: conv: name 'relu1' is the automatic name of layer 2 (relu number 1 in the list" -- summary configs/mnist.yaml --set layers.0.name=relu1

# Checkpoints: a tiny run on a synthetic dataset (blank digits, all "0"),
# then eval, predict, export and resume on what it saved, good and bad.
. "$(dirname "${BASH_SOURCE[0]}")/tiny_data.sh"
mkdir "$tmp/tiny"
mkidx "$tmp/tiny" train 200
mkidx "$tmp/tiny" t10k 20
printf 'name: tiny\ndata: {dataset: mnist, path: %s/tiny, validation: 20}\ninput: [1, 28, 28]\nlayers:\n  - {type: conv, filters: 2, kernel_size: 5}\n  - {type: relu}\n  - {type: maxpool, pool_size: 4}\n  - {type: flatten}\n  - {type: dense, units: 10}\noptimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 1, batch: 16, threads: 1}\n' "$tmp" >"$tmp/tiny.yaml"
{ printf 'P5\n28 28\n255\n'; head -c 784 /dev/zero; } >"$tmp/blank.pgm"
{ printf 'P5\n20 20\n255\n'; head -c 400 /dev/zero; } >"$tmp/small.pgm"
run=$tmp/run
ckpt=$run/last.ckpt

expect 0 "checkpoints: $run/last.ckpt, best.ckpt"         -- "$tmp/tiny.yaml" --out "$run" --quiet
cp "$ckpt" "$tmp/flipped.ckpt"
printf '\xff' | dd of="$tmp/flipped.ckpt" bs=1 seek=100 conv=notrunc 2>/dev/null
head -c 1000 "$ckpt" >"$tmp/cut.ckpt"

expect 0 "test accuracy: 1.0000 (20/20)"                  -- eval "$ckpt" --out "$tmp/eval"
expect 0 "results: $run/eval/{report.md,metrics.json"     -- eval "$ckpt"
expect 2 "eval: missing CKPT (a checkpoint, e.g. runs/mnist/last.ckpt)" -- eval
expect 2 "--out needs a folder"                           -- eval "$ckpt" --out
expect 2 "unknown option '--json'"                        -- eval "$ckpt" --json
expect 2 "unexpected argument 'more'"                     -- eval "$ckpt" more
expect 1 "mnist.yaml: not a cnnrun checkpoint (it does not start with \"CNNCKPT\")" -- eval configs/mnist.yaml
expect 1 "flipped.ckpt: corrupted: CRC mismatch (stored"  -- eval "$tmp/flipped.ckpt"
expect 1 "cut.ckpt: truncated: the header promises"       -- eval "$tmp/cut.ckpt"
expect 1 "no-such.ckpt"                                   -- eval "$tmp/no-such.ckpt"
expect 1 "--data: '$tmp/none': no such file or folder"   -- eval "$ckpt" --data "$tmp/none" --out "$tmp/eval"
expect 0 "$tmp/blank.pgm: 0 (0."                          -- predict "$ckpt" "$tmp/blank.pgm"
expect 0 "{\"image\": \"$tmp/blank.pgm\", \"class\": 0, \"top\": [{\"class\": 0, " -- predict "$ckpt" "$tmp/blank.pgm" --json
expect 1 "small.pgm: the image is 20x20 pixels, the network takes 28x28 (width x height); resize it first" -- predict "$ckpt" "$tmp/small.pgm" "$tmp/blank.pgm"
expect 1 "1 of 2 images could not be classified"          -- predict "$ckpt" "$tmp/small.pgm" "$tmp/blank.pgm"
expect 1 "tiny.yaml: "                                    -- predict "$ckpt" "$tmp/tiny.yaml"
expect 1 "flipped.ckpt: corrupted: CRC mismatch"          -- predict "$tmp/flipped.ckpt" "$tmp/blank.pgm"
expect 2 "predict: missing IMAGE"                         -- predict "$ckpt"
expect 0 "wrote $tmp/w.npz: 4 arrays, "                   -- export "$ckpt" --npz "$tmp/w.npz"
expect 1 "/proc/cnnrun-cannot-write-here/w.npz"           -- export "$ckpt" --npz /proc/cnnrun-cannot-write-here/w.npz
expect 2 "export: missing --npz FILE"                     -- export "$ckpt"
expect 1 "cut.ckpt: truncated"                            -- export "$tmp/cut.ckpt" --npz "$tmp/w2.npz"
expect 2 "--resume needs a checkpoint"                    -- "$tmp/tiny.yaml" --resume
expect 2 "--resume is for training; summary does not take it" -- summary "$tmp/tiny.yaml" --resume "$ckpt"
expect 2 "--set: 'layers.0.filters' is 3 here but 2 in checkpoint $ckpt" -- "$tmp/tiny.yaml" --resume "$ckpt" --set layers.0.filters=3
expect 1 "flipped.ckpt: corrupted: CRC mismatch"          -- "$tmp/tiny.yaml" --resume "$tmp/flipped.ckpt" --out "$tmp/r2"
expect 0 "test accuracy: 1.0000"                          -- "$tmp/tiny.yaml" --resume "$ckpt" --epochs 2
expect 2 "train: early_stopping watches the validation accuracy, and this run has no validation set" -- "$tmp/tiny.yaml" --out "$tmp/es" --set "train.early_stopping={patience: 2}" --set data.validation=0
expect 2 "last.ckpt: the checkpoint has trained 2 epochs, more than train.epochs 1; raise it (--epochs N)" -- "$tmp/tiny.yaml" --resume "$ckpt"
printf 'name: x\ndata: {dataset: mnist, path: %s/tiny, validation: 20}\ninput: [1, 28, 28]\ninit: {from: %s/w.npz}\nlayers:\n  - {type: conv, filters: 3, kernel_size: 5}\n  - {type: flatten}\n  - {type: dense, units: 10}\noptimizer: {type: adam}\n' "$tmp" "$tmp" >"$tmp/init.yaml"
expect 1 "w.npz: "                                        -- "$tmp/init.yaml" --out "$tmp/r3"
expect 2 "init: 'from' must not be empty"                 -- "$tmp/init.yaml" --set init.from=

# Paths: relative to the config file's folder when written in it, to the
# working directory when given on the command line; run folders record them
# absolute, so a run resumes and evaluates from any folder.
expect_in() { # DIR STATUS PATTERN -- ARGS...: expect, run from DIR
	local dir=$1
	shift
	pushd "$dir" >/dev/null || return
	expect "$@"
	popd >/dev/null || return
}
mkdir -p "$tmp/cfgs" "$tmp/elsewhere"
sed "s|path: $tmp/tiny|path: ../tiny|" "$tmp/tiny.yaml" >"$tmp/cfgs/rel.yaml"
sed "s|path: $tmp/tiny|path: nowhere|" "$tmp/tiny.yaml" >"$tmp/cfgs/missing.yaml"
expect 0 "test accuracy: 1.0000"                          -- "$tmp/cfgs/rel.yaml" --out "$tmp/rel1" --quiet
expect_in / 0 "test accuracy: 1.0000"                     -- "$tmp/cfgs/rel.yaml" --out "$tmp/rel2" --quiet
expect_in "$tmp/cfgs" 0 "test accuracy: 1.0000"           -- rel.yaml --out ../rel3 --quiet
if grep -q "path: $tmp/tiny," "$tmp/rel1/config.yaml"; then passed=$((passed + 1)); else
	failed=$((failed + 1)); printf 'FAILED: config.yaml does not record the absolute data path:\n%s\n' "$(grep path "$tmp/rel1/config.yaml")"; fi
expect_in "$tmp/elsewhere" 0 "test accuracy: 1.0000"      -- train "$tmp/rel1/config.yaml" --resume "$tmp/rel1/last.ckpt" --epochs 2 --quiet
expect_in "$tmp/elsewhere" 0 "test accuracy: 1.0000"      -- eval "$tmp/rel1/last.ckpt" --out "$tmp/rel1-eval"
expect_in "$tmp" 0 "test accuracy: 1.0000"                -- "$tmp/cfgs/missing.yaml" --set data.path=tiny --out "$tmp/rel4" --quiet
expect_in "$tmp/elsewhere" 1 "--set: data.path 'tiny' (resolved to $tmp/elsewhere/tiny): no such file or folder" -- "$tmp/cfgs/missing.yaml" --set data.path=tiny --out "$tmp/rel5"
expect_in / 1 "$tmp/cfgs/missing.yaml:2:30: data.path 'nowhere' (resolved to $tmp/cfgs/nowhere): no such file or folder; run \`make data\`" -- "$tmp/cfgs/missing.yaml" --out "$tmp/rel6"
expect_in "$tmp/elsewhere" 1 "--data: 'tiny' (resolved to $tmp/elsewhere/tiny): no such file or folder" -- eval "$tmp/rel1/last.ckpt" --data tiny --out "$tmp/rel1-eval"
expect_in "$tmp" 0 "test accuracy: 1.0000"                -- eval "$tmp/rel1/last.ckpt" --data tiny --out "$tmp/rel1-eval"
# Configuration and command-line mistakes that only the data reveals: status 2.
sed "s|data: {dataset: mnist, path: $tmp/tiny, validation: 20}|data: {format: idx, classes: [a, b, c, d, e, f, g, h, i, j], validation: 20, train: {images: tiny/train-images-idx3-ubyte, labels: tiny/train-labels-idx1-ubyte}, test: {images: tiny/t10k-images-idx3-ubyte, labels: tiny/t10k-labels-idx1-ubyte}}|" "$tmp/tiny.yaml" >"$tmp/idx.yaml"
expect_in / 0 "test accuracy: 1.0000"                     -- "$tmp/idx.yaml" --out "$tmp/idx" --quiet
expect 2 "--data: this model's config names its test files itself (data.format: idx, data.test.images and data.test.labels), so --data cannot replace them" -- eval "$tmp/idx/last.ckpt" --data "$tmp/tiny" --out "$tmp/idx-eval"
mkdir "$tmp/tiny20"
{ printf '\x00\x00\x08\x03'; be32 4; be32 20; be32 20; head -c 1600 /dev/zero; } >"$tmp/tiny20/t10k-images-idx3-ubyte"
{ printf '\x00\x00\x08\x01'; be32 4; head -c 4 /dev/zero; } >"$tmp/tiny20/t10k-labels-idx1-ubyte"
expect 2 "last.ckpt:3:8: 'input' is [1, 28, 28] but the test images are [1, 20, 20]" -- eval "$ckpt" --data "$tmp/tiny20" --out "$tmp/eval20"
expect 2 "--set: data: 'validation' (500) must be smaller than the 200 training images" -- "$tmp/tiny.yaml" --set data.validation=500 --out "$tmp/val500"
sed "s|, validation: 20}|}|" "$tmp/tiny.yaml" >"$tmp/noval.yaml"
expect 2 "noval.yaml:2:7: data: 'validation' (5000, the default for format mnist) must be smaller than the 200 training images" -- "$tmp/noval.yaml" --out "$tmp/noval"
# The shipped configs find the repository's data/mnist from any folder (10
# training images, so it takes a second; `make data` fetches MNIST).
if [[ -e data/mnist/train-images-idx3-ubyte || -e data/mnist/train-images-idx3-ubyte.gz ]]; then
	expect_in / 0 "test accuracy: "                       -- "$src/configs/mnist.yaml" --epochs 1 --set data.validation=59990 --out "$tmp/shipped" --quiet
else
	failed=$((failed + 1)); echo "FAILED: data/mnist is missing: run make data"
fi

# SIGTERM while training: saves last.ckpt, says how to resume, exits 130.
"$cnnrun" "$tmp/tiny.yaml" --epochs 100000 --out "$tmp/term" --quiet >/dev/null 2>"$tmp/term.err" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
status=$?
if [[ $status -eq 130 ]] && grep -q "terminated: stopped at epoch .* and saved $tmp/term/last.ckpt; resume with: cnnrun train $tmp/term/config.yaml --resume $tmp/term/last.ckpt" "$tmp/term.err"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	printf 'FAILED: SIGTERM during training: status %s, stderr:\n%s\n' "$status" "$(head -5 "$tmp/term.err")"
fi
expect 0 "test accuracy"                                  -- eval "$tmp/term/last.ckpt"

echo "cli: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
