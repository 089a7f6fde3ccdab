#!/bin/bash
# Every command in README.md's code blocks still works as shown: run as
# test_readme.sh PATH/TO/cnnrun SOURCE_DIR.
#
# - ```sh blocks: each line is a command (a trailing `# comment` dropped),
#   run in order in one shell, and must exit 0. `make` is make with
#   BUILD= this build, so `make run` uses the program under test and builds
#   nothing new.
# - plain ``` blocks whose lines start with `$ `: each such line is a
#   command; the lines after it, up to the next `$ `, must all appear in its
#   output (`$ echo $?` then shows the status before it).
# - ```yaml blocks: a config, which `cnnrun summary` must accept.
# - anything else must be marked: `<!-- readme-test: skip-block REASON -->`
#   on the line above a block that holds no commands (a synopsis, a folder
#   tree); `<!-- readme-test: skip-command COMMAND -- REASON -->` above a
#   block for one command that cannot run in CI. The skipped ones are listed.
#
# Commands run in a work folder that links the repository's Makefile,
# scripts/, data/ and configs/, with `cnnrun` on PATH, so `make run`'s
# runs/ and the others' outputs go there and never into the checkout.
source "$(dirname "$0")/harness.sh"
cnnrun=$(cd "$(dirname "$cnnrun")" && pwd)/$(basename "$cnnrun")
build=$(dirname "$cnnrun")
ws=$tmp/ws
mkdir -p "$ws" "$tmp/bin" "$tmp/blocks"
for f in Makefile scripts data configs; do ln -s "$src/$f" "$ws/$f"; done
ln -s "$cnnrun" "$tmp/bin/cnnrun"

fail() {
	failed=$((failed + 1))
	printf 'FAILED: %s\n' "$*"
}

# Split README.md into $tmp/blocks/NN.KIND (KIND: sh, prompt, yaml, or
# skip), with NN.skip holding the skip reason, and NN.skipcmd the commands
# not to run. NN.line is the block's first line number in README.md.
awk -v out="$tmp/blocks" '
	/^<!-- readme-test: skip-block/ {
		r = $0; sub(/^<!-- readme-test: skip-block */, "", r); sub(/ *-->.*/, "", r); skipblock = r; next
	}
	/^<!-- readme-test: skip-command/ {
		r = $0; sub(/^<!-- readme-test: skip-command */, "", r); sub(/ *-->.*/, "", r); skipcmd = skipcmd r "\n"; next
	}
	!inblock && /^```/ {
		n++; lang = substr($0, 4); gsub(/[ \t]/, "", lang)
		base = sprintf("%s/%02d", out, n); body = base ".body"
		printf "" > body
		print NR + 1 > (base ".line"); close(base ".line")
		if (skipblock != "") { print skipblock > (base ".skip"); close(base ".skip") }
		if (skipcmd != "") { printf "%s", skipcmd > (base ".skipcmd"); close(base ".skipcmd") }
		skipblock = ""; skipcmd = ""; inblock = 1; next
	}
	inblock && /^```/ { inblock = 0; close(body); print lang > (base ".lang"); close(base ".lang"); next }
	inblock { print >> body }
' README.md

nblocks=0 ncommands=0
skipped=()
# run_commands FILE: each line a command; runs them in order in one bash in
# $ws, writing each one's output to FILE.out.N and status to FILE.status.N.
run_commands() {
	local f=$1 i=0 cmd
	{
		printf 'cd %q || exit 1\nexport PATH=%q:"$PATH"\n' "$ws" "$tmp/bin"
		printf 'make() { command make BUILD=%q "$@"; }\n' "$build"
		printf '__st=0\n'
		while IFS= read -r cmd; do
			i=$((i + 1))
			printf '(exit $__st); eval %q >%q 2>&1 </dev/null; __st=$?; echo $__st >%q\n' \
				"$cmd" "$f.out.$i" "$f.status.$i"
		done <"$f"
	} >"$f.run"
	bash "$f.run"
}

for lang_file in "$tmp"/blocks/*.lang; do
	b=${lang_file%.lang}
	lang=$(cat "$lang_file")
	line=$(cat "$b.line")
	body=$b.body
	nblocks=$((nblocks + 1))
	if [[ -e $b.skip ]]; then
		skipped+=("README.md:$line: block skipped: $(cat "$b.skip")")
		continue
	fi
	case $lang in
	yaml)
		cp "$body" "$ws/readme-$line.yaml"
		ncommands=$((ncommands + 1))
		if out=$(cd "$ws" && "$cnnrun" summary "readme-$line.yaml" 2>&1); then
			passed=$((passed + 1))
		else
			fail "README.md:$line: the config does not build:"
			printf '%s\n' "$out" | tail -3 | sed 's/^/    /'
		fi
		;;
	sh)
		# the commands, less comments and the ones marked skip-command
		: >"$b.cmds"
		while IFS= read -r cmd; do
			cmd=$(printf '%s' "$cmd" | sed 's/[[:space:]]\{1,\}#.*$//; s/[[:space:]]*$//')
			[[ -z $cmd || $cmd == \#* ]] && continue
			if [[ -e $b.skipcmd ]] && grep -q -F -x -- "$cmd" <(sed 's/ *-- .*//' "$b.skipcmd"); then
				skipped+=("README.md:$line: '$cmd' not run: $(grep -F -- "$cmd --" "$b.skipcmd" | sed 's/.* -- //')")
				continue
			fi
			printf '%s\n' "$cmd" >>"$b.cmds"
		done <"$body"
		run_commands "$b.cmds"
		i=0
		while IFS= read -r cmd; do
			i=$((i + 1))
			ncommands=$((ncommands + 1))
			st=$(cat "$b.cmds.status.$i" 2>/dev/null || echo "not run")
			if [[ $st == 0 ]]; then
				passed=$((passed + 1))
			else
				fail "README.md:$line: '$cmd' exits with status $st:"
				tail -5 "$b.cmds.out.$i" 2>/dev/null | sed 's/^/    /'
			fi
		done <"$b.cmds"
		;;
	*)
		if ! grep -q '^\$ ' "$body"; then
			fail "README.md:$line: a \`\`\`$lang block with no commands; mark it <!-- readme-test: skip-block REASON -->"
			continue
		fi
		# commands after `$ `, the expected lines after each
		sed -n 's/^\$ //p' "$body" >"$b.cmds"
		run_commands "$b.cmds"
		i=0
		while IFS= read -r l; do
			if [[ $l == '$ '* ]]; then
				i=$((i + 1))
				ncommands=$((ncommands + 1))
				cmd=${l#\$ }
				passed=$((passed + 1))
				continue
			fi
			[[ -z $l ]] && continue
			if ! grep -q -F -x -- "$l" "$b.cmds.out.$i"; then
				passed=$((passed - 1))
				fail "README.md:$line: '$cmd' no longer prints the line shown:"
				printf '    shown: %s\n    got (status %s):\n' "$l" "$(cat "$b.cmds.status.$i")"
				tail -5 "$b.cmds.out.$i" | sed 's/^/      /'
			fi
		done <"$body"
		;;
	esac
done

# What the README says make run prints at the end.
make_out=$(grep -l -x 'make run' "$tmp"/blocks/*.cmds 2>/dev/null | head -1)
if [[ -z $make_out ]]; then
	fail "README.md: no 'make run' command found in a sh block (the quick start)"
else
	i=$(grep -n -x 'make run' "$make_out" | head -1 | cut -d: -f1)
	grep -q 'test accuracy' "$make_out.out.$i" || fail "make run: no 'test accuracy' line in its output"
	[[ -f $ws/runs/mnist/metrics.json && -f $ws/runs/mnist/report.md ]] ||
		fail "make run: runs/mnist/metrics.json or report.md is missing"
	# The README quotes make run's figure for 2 cores (the thread count sets
	# the order of the gradient sums); elsewhere it cannot be compared.
	acc=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$make_out.out.$i" | head -1)
	if [[ $(nproc) != 2 ]]; then
		skipped+=("make run's figure $acc not compared with the README's: $(nproc) cores, the README's is for 2")
	elif ! grep -q "configs/mnist.yaml\` (\`make run\`).*\*\*$acc\*\*" README.md; then
		fail "make run printed test accuracy $acc; README.md's results table says otherwise"
	fi
fi

# The quick start is two commands.
qs=$(awk '/^## Quick start/ { q = 1; next } /^## / { q = 0 } q' README.md |
	awk '/^```sh/ { b = 1; next } /^```/ { b = 0 } b && NF && !/^#/' | wc -l)
((qs == 2)) || fail "README.md: the quick start has $qs commands, not 2"

for s in "${skipped[@]}"; do echo "skipped: $s"; done
echo "test_readme: $nblocks blocks, $ncommands commands checked, $passed passed, $failed failed, ${#skipped[@]} skipped"
((failed == 0 && passed > 0))
