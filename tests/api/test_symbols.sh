#!/usr/bin/env bash
# The shared library exports exactly the functions cnnrun.h declares (every
# other function is hidden), carries its SONAME, and the header compiles
# on its own as C99 and as C++, warning-free.
# usage: test_symbols.sh LIBCNNRUN.so INCLUDE_DIR CC CXX
set -euo pipefail
lib=$1 inc=$2 cc=$3 cxx=$4
fail() { echo "FAIL: $*" >&2; exit 1; }

declared=$(grep -o '^CNN_API [^(]*(' "$inc/cnnrun.h" | grep -o 'cnn_[a-z_0-9]*($' | tr -d '(' | sort)
exported=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | sort)
[ "$(echo "$declared" | wc -l)" -ge 10 ] || fail "found only $(echo "$declared" | wc -l) declarations in cnnrun.h"
if [ "$declared" != "$exported" ]; then
	diff <(echo "$declared") <(echo "$exported") >&2 || true
	fail "exported symbols (>) differ from cnnrun.h's functions (<)"
fi

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
[[ $soname =~ ^libcnnrun\.so\.[0-9]+$ ]] || fail "SONAME is '$soname'"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <cnnrun.h>\nint main(void) { return cnn_model_classes(0); }\n' > "$tmp/c.c"
"$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -I"$inc" -c "$tmp/c.c" -o "$tmp/c.o" ||
	fail "cnnrun.h does not compile as C99"
cp "$tmp/c.c" "$tmp/cxx.cpp"
"$cxx" -std=c++11 -Wall -Wextra -Wpedantic -Werror -I"$inc" -c "$tmp/cxx.cpp" -o "$tmp/cxx.o" ||
	fail "cnnrun.h does not compile as C++"
nm "$tmp/cxx.o" | grep -q ' U cnn_model_classes$' || fail "C++ sees mangled names (extern \"C\" missing)"
echo "ok: $(echo "$exported" | wc -l) symbols, SONAME $soname"
