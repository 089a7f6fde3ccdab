#!/usr/bin/env bash
# The manual page: `cnnrun --man` renders with man(1) without a warning, and
# every command and option that --help lists is in it (both come from the
# tables of src/help.c; this catches an edit to one printer only).
# Usage: test_man.sh PATH/TO/cnnrun SOURCE_DIR
source "$(dirname "$0")/harness.sh"

"$cnnrun" --man >"$tmp/cnnrun.1"
"$cnnrun" --help >"$tmp/help.txt"
MANWIDTH=200 man --warnings -l "$tmp/cnnrun.1" >"$tmp/man.txt" 2>"$tmp/warnings.txt"
status=$?
check "man -l renders cnnrun.1 (status $status)" '[[ $status -eq 0 && -s $tmp/man.txt ]]'
check "man -l gives no warning: $(head -3 "$tmp/warnings.txt")" '[[ ! -s $tmp/warnings.txt ]]'
for section in NAME SYNOPSIS COMMANDS OPTIONS "EXIT STATUS" SIGNALS ENVIRONMENT FILES EXAMPLES; do
	check "section $section" 'grep -q "^$section" "$tmp/man.txt"'
done
# every option of --help (the lines "  --flag ...") and every command
while read -r flag; do
	check "option $flag in the manual" 'grep -qF -- "$flag" "$tmp/man.txt"'
done < <(grep -oE '^  --[a-z-]+' "$tmp/help.txt" | sed 's/^  //')
while read -r command; do
	check "command '$command' in the manual" 'grep -qF -- "cnnrun $command" "$tmp/man.txt"'
done < <(grep -oE '^(usage:|      ) cnnrun [a-z]+' "$tmp/help.txt" | awk '{print $NF}' | sort -u)
check "at least 10 options checked" '[[ $(grep -cE "^  --" "$tmp/help.txt") -ge 10 ]]'

echo "man: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
