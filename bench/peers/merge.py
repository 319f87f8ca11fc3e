#!/usr/bin/env python3
"""Merge the per-run JSON of kchan_bench, crossbeam_bench and gobench (bench/run_peers.sh).

  merge.py merge OUT.json RUN.json...   one entry per workload x engine (median of the runs,
                                        min of mins, max of maxes, median CPU and context
                                        switches), printed as a table with the kchan/peer
                                        and kchan/limit ratios
  merge.py table IN.json                print the table of an already merged file
  merge.py plotdata IN.json STREAM.dat PINGPONG.dat ENGINES.txt CPU.dat
                                        data files for bench/plot.gp

Engines are taken from the data: whatever kchan_bench reports (mutex, lockfree, naive, limit)
plus crossbeam and go, so a new kchan engine shows up without changes here. "naive" (the
hand-written mutex+condvar ring) and "limit" (a raw Vyukov ring that never blocks, run only on
the workloads it can do) are references, not kchan: the ratios compare kchan's engines with
the peers and with the limit.
"""
import json
import os
import sys

ORDER = ["mutex", "lockfree", "naive", "limit", "crossbeam", "go"]
PEERS = ["crossbeam", "go"]
BASELINES = ["naive", "limit"]  # kchan_bench engines that are not kchan
LIMIT = "limit"                 # kchan's engines are also compared with it
LABEL = {"mutex": "kchan-mutex", "lockfree": "kchan-lockfree", "naive": "naive-ring",
         "limit": "limit", "crossbeam": "crossbeam", "go": "go"}


def wkey(wid):
    return int(wid[1:])


def engine_key(e):
    return (ORDER.index(e) if e in ORDER else len(ORDER), e)


def upper_median(xs):
    s = sorted(xs)
    return s[len(s) // 2]          # the same convention as kchan_bench (s[n / 2])


def merge(out_path, run_paths):
    groups = {}
    meta = {"quick": None, "runs": 0}
    for p in run_paths:
        with open(p) as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as e:
                sys.exit(f"merge.py: {p}: not JSON ({e})")
        meta["runs"] += 1
        meta["quick"] = doc.get("quick") if meta["quick"] is None else meta["quick"]
        for r in doc["results"]:
            g = groups.setdefault((r["id"], r["engine"]),
                                  {"first": r, "med": [], "min": [], "max": [], "cpu": [], "csw": []})
            g["med"].append(r["median"])
            g["min"].append(r["min"])
            g["max"].append(r["max"])
            g["cpu"].append(r["cpu_s_per_million"])
            if "csw_per_million" in r:      # absent from files written before it was measured
                g["csw"].append(r["csw_per_million"])
    results = []
    for (wid, eng), g in sorted(groups.items(), key=lambda kv: (wkey(kv[0][0]), engine_key(kv[0][1]))):
        f = g["first"]
        r = {"id": wid, "workload": f["workload"], "engine": eng, "unit": f["unit"],
             "median": upper_median(g["med"]), "min": min(g["min"]), "max": max(g["max"]),
             "cpu_s_per_million": upper_median(g["cpu"]), "messages": f["messages"]}
        if g["csw"]:
            r["csw_per_million"] = upper_median(g["csw"])
        if "note" in f:
            r["note"] = f["note"]
        r["samples"] = g["med"]
        results.append(r)
    reps = max((len(g["med"]) for g in groups.values()), default=0)
    doc = {"reps": reps, "quick": bool(meta["quick"]), "nproc": os.cpu_count(),
           "loadavg_at_end": list(os.getloadavg()), "results": results}
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return doc


def load(path):
    with open(path) as f:
        return json.load(f)


def short_count(x):
    """A count in a few characters: 950, 12k, 1.4M."""
    if x < 1e4:
        return f"{x:.0f}"
    if x < 1e6:
        return f"{x / 1e3:.0f}k"
    return f"{x / 1e6:.1f}M"


def table(doc):
    res = doc["results"]
    engines = sorted({r["engine"] for r in res}, key=engine_key)
    kchans = [e for e in engines if e not in PEERS and e not in BASELINES]
    peers = [e for e in PEERS if e in engines]
    refs = peers + ([LIMIT] if LIMIT in engines else [])   # what kchan's engines are compared with
    by = {(r["id"], r["engine"]): r for r in res}
    ids = sorted({r["id"] for r in res}, key=wkey)
    out = []
    out.append(f"bench-peers: median of {doc['reps']} repetitions{' (--quick: 1/100 of the messages)' if doc['quick'] else ''}; "
               f"each cell: median [CPU s per million messages, context switches per million messages]")
    out.append("ratios: kchan/peer for Mmsg/s, peer/kchan for ns per round trip: > 1 means kchan is better; "
               "limit = a raw Vyukov ring that spins and yields, never blocks (only where it can run). "
               f"{doc.get('nproc')} CPUs, load average at the end {', '.join('%.1f' % x for x in doc.get('loadavg_at_end', []))}")
    cw = 26
    head = f"{'workload':<24} {'unit':<7}" + "".join(f" {LABEL.get(e, e):>{cw}}" for e in engines)
    ratio_names = [f"{LABEL.get(k, k).replace('kchan-', '')}/{p}" for k in kchans for p in refs]
    head += "".join(f" {n:>15}" for n in ratio_names)
    out.append(head)
    notes = []
    for wid in ids:
        any_r = next(by[(wid, e)] for e in engines if (wid, e) in by)
        rt = any_r["unit"] == "ns_per_round_trip"
        line = f"{wid + ' ' + any_r['workload']:<24} {'ns/rt' if rt else 'Mmsg/s':<7}"
        for e in engines:
            r = by.get((wid, e))
            if r is None:
                cell = "-"
            else:
                v = r["median"]
                cell = f"{v:.0f}" if rt else f"{v:.2f}"
                cs = f" {short_count(r['csw_per_million'])}" if "csw_per_million" in r else ""
                cell += f" [{r['cpu_s_per_million']:.2f}{cs}]"
                if "note" in r:
                    notes.append(f"  {wid} {e}: {r['note']}")
            line += f" {cell:>{cw}}"
        for k in kchans:
            for p in refs:
                a, b = by.get((wid, k)), by.get((wid, p))
                if a and b and a["median"] > 0 and b["median"] > 0:
                    ratio = b["median"] / a["median"] if rt else a["median"] / b["median"]
                    line += f" {ratio:>14.2f}x"
                else:
                    line += f" {'-':>15}"
        out.append(line)
    if notes:
        out.append("notes (peers without a native equivalent):")
        out.extend(notes)
    return "\n".join(out)


def plotdata(doc, stream_path, pp_path, engines_path, cpu_path):
    res = doc["results"]
    engines = sorted({r["engine"] for r in res}, key=engine_key)
    by = {(r["id"], r["engine"]): r for r in res}
    ids = sorted({r["id"] for r in res}, key=wkey)
    files = {False: open(stream_path, "w"), True: open(pp_path, "w")}
    for f in files.values():
        f.write("# workload" + "".join(f" {e}_median {e}_min {e}_max" for e in engines) + "\n")
    # CPU per message for every workload (per round trip for ping-pongs): CPU s per million
    # messages is CPU microseconds per message
    cpu = open(cpu_path, "w")
    cpu.write("# workload" + "".join(f" {e}_cpu_us_per_msg" for e in engines) + "\n")
    for wid in ids:
        any_r = next(by[(wid, e)] for e in engines if (wid, e) in by)
        rt = any_r["unit"] == "ns_per_round_trip"
        label = wid + "\\n" + any_r["workload"].replace("_", "\\n", 1)
        row = f"\"{label}\""
        crow = f"\"{label}\""
        for e in engines:
            r = by.get((wid, e))
            row += f" {r['median']:.6g} {r['min']:.6g} {r['max']:.6g}" if r else " NaN NaN NaN"
            crow += f" {r['cpu_s_per_million']:.6g}" if r and r["cpu_s_per_million"] > 0 else " NaN"
        files[rt].write(row + "\n")
        cpu.write(crow + "\n")
    for f in files.values():
        f.close()
    cpu.close()
    with open(engines_path, "w") as f:
        f.write(" ".join(LABEL.get(e, e) for e in engines) + "\n")
        f.write(f"{doc['reps']} {'quick' if doc['quick'] else 'full'}\n")
        notes = {}
        for r in res:
            if "note" in r:
                notes.setdefault(r["note"], []).append(f"{r['id']} {LABEL.get(r['engine'], r['engine'])}")
        for n, k in notes.items():       # one line per note, after the two above
            f.write(f"{', '.join(k)}: {n}\n")


def main(argv):
    if len(argv) >= 3 and argv[1] == "merge":
        doc = merge(argv[2], argv[3:])
        print(table(doc))
    elif len(argv) == 3 and argv[1] == "table":
        print(table(load(argv[2])))
    elif len(argv) == 7 and argv[1] == "plotdata":
        plotdata(load(argv[2]), argv[3], argv[4], argv[5], argv[6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
