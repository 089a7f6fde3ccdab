#!/usr/bin/env bash
# Run folders nobody can damage (issue 17): names that stay home, planted
# symlinks, two runs at once, foreign best.ckpt, outputs over inputs, FIFOs
# (under a timeout, so a regression fails instead of hanging), SIGPIPE,
# SIGHUP. Usage: test_run_folders.sh PATH/TO/cnnrun
set -u
cnnrun=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
passed=0 failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); printf 'FAILED: %s\n' "$*"; }

# expect STATUS PATTERN -- ARGS...: as test_cli.sh, under a 60 s timeout.
expect() {
	local want=$1 pattern=$2
	shift 3
	local out status
	out=$(timeout 60 "$cnnrun" "$@" 2>&1 </dev/null)
	status=$?
	if [[ $status -eq $want && $out == *"$pattern"* ]]; then
		ok
	else
		bad "cnnrun $* -- expected status $want and \"$pattern\", got $status: $(printf '%s' "$out" | head -3)"
	fi
}

. "$(dirname "${BASH_SOURCE[0]}")/tiny_data.sh"
mkdir tiny
mkidx tiny train 200
mkidx tiny t10k 20
config() { # NAME SEED
	printf 'name: %s\nseed: %s\ndata: {dataset: mnist, path: %s/tiny, validation: 20}\ninput: [1, 28, 28]\nlayers:\n  - {type: conv, filters: 2, kernel_size: 5}\n  - {type: relu}\n  - {type: maxpool, pool_size: 4}\n  - {type: flatten}\n  - {type: dense, units: 10}\noptimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 1, batch: 16, threads: 1}\n' "$1" "$2" "$tmp"
}
config tiny 1 >tiny.yaml
config other 2 >other.yaml

# 1. Names that stay home.
expect 2 "'name' must not start with '.'"                -- summary tiny.yaml --set 'name=../../../../tmp/victimdir'
expect 2 "'name' holds '/' at character 2"              -- summary tiny.yaml --set 'name=a/../../../../tmp/victimdir'
expect 2 "'name' must not start with '.'"                -- summary tiny.yaml --set 'name=..'
expect 2 "'name' holds ' ' at character 2"              -- summary tiny.yaml --set 'name=a b'
expect 2 "'name' is 5000 characters, more than 100"      -- summary tiny.yaml --set "name=$(head -c 5000 /dev/zero | tr '\0' a)"
[[ ! -e /tmp/victimdir ]] && ok || bad "a traversal name created /tmp/victimdir"

# 2. A run, then one over it: refused, the first kept; --overwrite replaces it.
expect 0 "checkpoints: run/last.ckpt, best.ckpt"   -- tiny.yaml --out run --quiet
sum=$(cat run/* | md5sum)
expect 2 "already holds a run (config.yaml, last.ckpt, best.ckpt" -- other.yaml --out run --quiet
[[ $(cat run/* | md5sum) == "$sum" ]] && ok || bad "a refused run changed the folder"
# A run that fails (no data) after --overwrite leaves the earlier run whole.
expect 1 "no such file or folder"                        -- other.yaml --out run --overwrite --set "data.path=$tmp/none"
[[ $(cat run/* | md5sum) == "$sum" ]] && ok || bad "a failed run changed the earlier run's files"
mkdir -p run/eval && cp run/metrics.json run/eval/
cp run/best.ckpt old-best.ckpt
expect 0 "test accuracy"                                 -- other.yaml --out run --overwrite --quiet --set data.validation=0
[[ ! -e run/best.ckpt && ! -e run/eval ]] && ok || bad "an earlier run's best.ckpt or eval/ stayed beside a new one"

# 3. A symlink planted for every file a run writes (and the old fixed
# temporary names): the victim is never written, no link survives.
echo victim >victim
rm -rf links && mkdir links
for f in config.yaml last.ckpt best.ckpt metrics.json history.csv batches.csv mistakes.bin report.md \
	loss.svg accuracy.svg confusion.svg mistakes.png .write-test config.yaml.tmp metrics.json.tmp \
	report.md.tmp history.csv.tmp loss.svg.tmp accuracy.svg.tmp confusion.svg.tmp mistakes.png.tmp; do
	ln -s "$tmp/victim" "links/$f"
done
expect 0 "test accuracy"                                 -- tiny.yaml --out links --overwrite --quiet
[[ $(cat victim) == victim ]] && ok || bad "a run wrote through a planted link"
[[ -z $(find links -type l -not -name '*.tmp' -not -name .write-test) ]] && ok || bad "a link stayed: $(find links -type l)"
# Resuming in place clears nothing: links over the report files are replaced, never followed.
for f in metrics.json history.csv report.md loss.svg; do rm -f "links/$f"; ln -s "$tmp/victim" "links/$f"; done
expect 0 "test accuracy"                                 -- tiny.yaml --resume links/last.ckpt --epochs 2 --quiet
[[ $(cat victim) == victim && -z $(find links -name 'metrics.json' -type l) ]] && ok || bad "a resume wrote through a link"
# Leftover temporaries of a killed run are removed when the folder is next used.
touch links/last.ckpt.cnnrun-tmp.AbC123
expect 0 "test accuracy"                                 -- eval links/last.ckpt --out links/e
expect 0 "test accuracy"                                 -- tiny.yaml --resume links/last.ckpt --epochs 3 --quiet
[[ ! -e links/last.ckpt.cnnrun-tmp.AbC123 ]] && ok || bad "a leftover temporary stayed"

# 4. Two runs into one folder: the second is refused, naming the first's PID.
"$cnnrun" tiny.yaml --epochs 100000 --out busy --quiet >/dev/null 2>busy.err &
pid=$!
for _ in $(seq 50); do [[ -s busy/.cnnrun.lock ]] && break; sleep 0.1; done
expect 1 "another cnnrun (PID $pid) is using this folder" -- tiny.yaml --out busy --overwrite --quiet
kill -TERM "$pid"; wait "$pid"

# 5. A foreign best.ckpt: eval and resume refuse it.
expect 0 "test accuracy"                                 -- other.yaml --out b --quiet
expect 0 "test accuracy"                                 -- tiny.yaml --out a --quiet
cp b/best.ckpt a/best.ckpt
expect 1 "best.ckpt: this best.ckpt belongs to another run" -- eval a/best.ckpt
expect 1 "does not go with the best.ckpt beside it"      -- tiny.yaml --resume a/last.ckpt --epochs 2 --out a2 --quiet
# A resume into a new folder carries the matching best along, and lists only what exists.
expect 0 "test accuracy"                                 -- tiny.yaml --out c --quiet
expect 0 "checkpoints: c2/last.ckpt, best.ckpt"     -- tiny.yaml --resume c/last.ckpt --epochs 2 --out c2
cmp -s c/best.ckpt c2/best.ckpt && ok || bad "the matching best.ckpt was not carried along"

# 6. Outputs never overwrite inputs.
cp c/last.ckpt keep.ckpt
expect 2 "--npz names the checkpoint being exported"      -- export c/last.ckpt --npz c/last.ckpt
expect 2 "--out would replace a file of run folder c"     -- compare c c2 --out c/last.ckpt
expect 2 "holds a training run's results, which eval never replaces" -- eval c/last.ckpt --out c
cmp -s c/last.ckpt keep.ckpt && ok || bad "an output replaced its input"
ln c/metrics.json c/report.md.hard && rm -f c/report.md && mv c/report.md.hard c/report.md
expect 1 "is the same file as $tmp/c/metrics.json"       -- report "$tmp/c"

# 7. A FIFO for each input kind: refused by name, never a hang.
mkfifo fifo fifo.npz
mkdir fifodata && mkfifo fifodata/train-images-idx3-ubyte && cp tiny/train-labels* tiny/t10k-* fifodata/
mkdir fiforun && cp c/history.csv fiforun/ && mkfifo fiforun/metrics.json
mkdir fiforun2 && cp c/metrics.json fiforun2/ && mkfifo fiforun2/history.csv
mkdir fiforun3 && cp c/metrics.json c/history.csv fiforun3/ && mkfifo fiforun3/mistakes.bin
expect 2 "fifo: cannot open config: is a FIFO (named pipe)"  -- fifo
expect 2 "cannot open config: is a character device"     -- summary /dev/zero
expect 1 "fifo: is a FIFO (named pipe), not a regular file"  -- eval fifo
expect 1 "fifo: is a FIFO (named pipe), not a regular file"  -- predict c/last.ckpt fifo
expect 1 "train-images-idx3-ubyte: is a FIFO"             -- tiny.yaml --out f1 --set "data.path=$tmp/fifodata"
expect 1 "fifo: is a FIFO"                                -- tiny.yaml --out f2 --set "init.from=$tmp/fifo"
expect 1 "fifo.npz: is a FIFO"                            -- eval c/last.ckpt --data "$tmp/fifo.npz" --out f3
expect 1 "metrics.json: is a FIFO"                        -- report fiforun
expect 1 "history.csv: is a FIFO"                         -- compare fiforun2 --out x.svg
expect 1 "mistakes.bin: is a FIFO"                        -- report fiforun3

# 8. SIGPIPE: output piped into head -1 never kills training unsaved.
timeout 120 "$cnnrun" tiny.yaml --out piped --epochs 40 --set data.validation=0 | head -1 >/dev/null
status=${PIPESTATUS[0]}
[[ $status -eq 0 && -s piped/metrics.json ]] && ok || bad "| head -1: status $status, metrics.json: $(ls piped 2>&1 | head -2)"

# 9. SIGHUP stops and saves like SIGTERM (status 130); a second signal ends at once.
"$cnnrun" tiny.yaml --epochs 100000 --out hup --quiet >/dev/null 2>hup.err &
pid=$!
sleep 1
kill -HUP "$pid"
wait "$pid"
status=$?
[[ $status -eq 130 ]] && grep -q "hung up: stopped at epoch .* and saved hup/last.ckpt" hup.err && ok ||
	bad "SIGHUP: status $status: $(head -3 hup.err)"

echo "run folders: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
