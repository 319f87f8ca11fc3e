#!/bin/sh
# No stb_ds macro kchan defines survives kchan.h in the implementation file: every name
# stb_ds.h can #define (read from the stb_ds.h in use), plus STB_DS_IMPLEMENTATION and
# STBDS_NO_SHORT_NAMES, must be defined after kchan.h exactly as it was before it (per
# `cc -dM -E`): nowhere when the file includes nothing else, and as the user's own
# stb_ds.h left it when that came first (with its short names, or with the user's
# allocator). Usage: compile_stb_macros.sh CC BUILD_DIR STB_INC
set -eu
cc=$1; out=$2/stb_macros; inc=$3
mkdir -p "$out"
stb=$(echo '#include <stb_ds.h>' | $cc $inc -xc -M - | tr ' \\' '\n\n' | grep 'stb_ds\.h$' | head -n 1)
names=$(sed -n 's/^[ \t]*#[ \t]*define[ \t]\{1,\}\([A-Za-z_][A-Za-z_0-9]*\).*/\1/p' "$stb" | sort -u)
printf '%s\n' $names STB_DS_IMPLEMENTATION STBDS_NO_SHORT_NAMES | sort -u > "$out/names"
macros() {   # $1: the file's text; prints the stb_ds macros it leaves defined
    printf '%s\n' "$1" | $cc -std=c11 $inc -D_DEFAULT_SOURCE -xc -dM -E - |
        awk 'NR == FNR { n[$1] = 1; next } { split($2, a, "("); if (a[1] in n) print }' "$out/names" - | sort
}
fail=0
check() {    # $1: label, $2: text before kchan.h
    want=$(macros "$2")
    got=$(macros "$2
#define KCHAN_IMPLEMENTATION
#include \"$PWD/kchan.h\"")
    if [ "$want" != "$got" ]; then
        echo "compile_stb_macros ($cc, $1): kchan.h changed these stb_ds macros:"
        printf '%s\n' "$want" > "$out/want"; printf '%s\n' "$got" > "$out/got"
        diff "$out/want" "$out/got" | head -n 20; fail=1
    fi
}
check "kchan.h alone" ""
check "stb_ds.h first" "#include <stb_ds.h>"
check "stb_ds.h first, no short names" "#define STBDS_NO_SHORT_NAMES
#include <stb_ds.h>"
check "user allocator, stb_ds.h after" "#include <stdlib.h>
#define STBDS_REALLOC(c, p, s) realloc(p, s)
#define STBDS_FREE(c, p) free(p)
#define STB_DS_IMPLEMENTATION"
[ $fail = 0 ] && echo "ok ($cc): kchan.h leaves no stb_ds macro behind ($(wc -l < "$out/names") names from $stb, 4 include orders)"
exit $fail
