#!/bin/sh
# kchan against its peers: for each repetition r and each workload Wx, run
#   build/bench/kchan_bench     --only Wx --reps 1 --json   (every kchan engine, the naive ring
#                                                           and the limit ring where it runs)
#   build/bench/crossbeam_bench --only Wx --reps 1 --json   (Rust crossbeam-channel)
#   build/bench/gobench         --only Wx --reps 1 --json   (Go channels)
# in an order rotated per repetition, then merge everything (bench/peers/merge.py) into
# build/bench/peers.json and print one table (also saved as build/bench/peers.txt): per cell
# the median, CPU seconds and context switches per million messages.
#
#   bench/run_peers.sh [--quick] [--reps R] [--only W1,W5,...]      (default: 5 repetitions)
#
# `make bench-peers` builds the three programs first (BENCH_PEERS_NOBUILD=1 tells this
# script not to build again); run directly, it asks make to build them.
# Any program that finds a wrong count or sum exits non-zero, and so does this script.
set -eu

reps=5
quick=
only="W1,W2,W3,W4,W5,W6,W7,W8,W9,W10,W11,W12,W13"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=--quick ;;
        --reps) reps="$2"; shift ;;
        --only) only="$2"; shift ;;
        *) echo "usage: $0 [--quick] [--reps R] [--only W1,W2]" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
B=${B:-build}
if [ -z "${BENCH_PEERS_NOBUILD:-}" ]; then
    ${MAKE:-make} --no-print-directory bench-peers-build
fi
bins="kchan:$B/bench/kchan_bench crossbeam:$B/bench/crossbeam_bench go:$B/bench/gobench"
for b in $bins; do
    [ -x "${b#*:}" ] || { echo "run_peers.sh: ${b#*:} missing: run make bench-peers" >&2; exit 1; }
done

runs="$B/bench/peers-runs"
rm -rf "$runs"
mkdir -p "$runs"
echo "bench-peers: $reps repetitions of $only ${quick:+(quick)}; machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

r=0
while [ "$r" -lt "$reps" ]; do
    for w in $(echo "$only" | tr ',' ' '); do
        # rotate the program order by the repetition number
        set -- $bins
        k=0
        while [ "$k" -lt $((r % 3)) ]; do first=$1; shift; set -- "$@" "$first"; k=$((k + 1)); done
        for b in "$@"; do
            name=${b%%:*} bin=${b#*:}
            out="$runs/r${r}_${w}_${name}.json"
            if ! "$bin" $quick --only "$w" --reps 1 --json > "$out"; then
                echo "run_peers.sh: $bin $quick --only $w --reps 1 --json failed (repetition $((r + 1)))" >&2
                exit 1
            fi
            printf '.' >&2
        done
    done
    r=$((r + 1))
    echo " repetition $r/$reps done" >&2
done

python3 bench/peers/merge.py merge "$B/bench/peers.json" "$runs"/*.json | tee "$B/bench/peers.txt"
echo "bench-peers: merged JSON in $B/bench/peers.json, table in $B/bench/peers.txt" >&2
