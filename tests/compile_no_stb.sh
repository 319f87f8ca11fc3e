#!/bin/sh
# Copy-one-file build where no stb_ds.h can be found, for real: the compiler's
# system include folders are replaced (-nostdinc) by shadows that link every entry
# but stb/ and stb_ds.h, so __has_include genuinely finds nothing. The build must
# stop with kchan's #error naming both ways out; with KCHAN_NO_UNLIMITED (one of
# them) the same build must compile. Usage: compile_no_stb.sh CC BUILD_DIR
set -eu
cc=$1; mkdir -p "$2"; out=$(cd "$2" && pwd)/no_stb
rm -rf "$out"; mkdir -p "$out/src"
cp kchan.h tests/compile_alone.c "$out/src/"
dirs=$(echo | $cc -xc -E -v - 2>&1 | sed -n '/#include <...> search starts here:/,/End of search list./p' | sed '1d;$d')
flags=-nostdinc; i=0
for d in $dirs; do
    i=$((i + 1)); s="$out/inc$i"; mkdir -p "$s"
    for e in "$d"/*; do
        case ${e##*/} in stb|stb_ds.h) continue ;; esac
        ln -s "$e" "$s/"
    done
    flags="$flags -isystem $s"
done
cd "$out/src"
if $cc -std=c11 $flags -c compile_alone.c -o alone.o 2> err.txt; then
    echo "compile_no_stb: built without any stb_ds.h and without KCHAN_NO_UNLIMITED"; exit 1
fi
grep -q 'KCHAN_NO_UNLIMITED' err.txt && grep -q 'pkg-config --cflags stb' err.txt || {
    echo "compile_no_stb: the error does not name the fix:"; head -n 20 err.txt; exit 1; }
if grep -q 'No such file' err.txt; then echo "compile_no_stb: the compiler's own error came first:"; head -n 20 err.txt; exit 1; fi
$cc -std=c11 $flags -DKCHAN_NO_UNLIMITED -c compile_alone.c -o alone.o
echo "ok ($cc): no stb_ds.h reachable is an #error naming the fix; KCHAN_NO_UNLIMITED builds:"
grep -m1 'error' err.txt
