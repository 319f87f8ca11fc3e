#!/bin/sh
# run.sh OUT REPS WORKLOADS ENGINES DIR...: interleaved runs of several kchan_bench builds,
# one JSON line per result, prefixed with the build's directory name. Each DIR holds a
# kchan_bench named kb (built from bench/ against the kchan.h variant under test).
out=$1; reps=$2; wl=$3; eng=$4; shift 4
: > "$out"
for r in $(seq 1 "$reps"); do
  for v in "$@"; do
    "$v/kb" --reps 1 --only "$wl" --engines "$eng" --json 2>/dev/null | grep '"id"' | sed "s|^|$(basename "$v") |" >> "$out"
  done
done
