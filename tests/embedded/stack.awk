# Worst-case stack of a call, from gcc's -fcallgraph-info=su graph (a .ci file): the largest
# sum of static frames along any call path from the root. Calls through a pointer (the
# user's on_undelivered) and library routines (memcpy, __aeabi_*) count 0.
#   awk -v roots="kchan_send kchan_recv" [-v skip=REGEX] -f stack.awk file.ci
# prints "root bytes" per root; functions whose name matches `skip` are left out with all
# they call (skip="_room$" gives an op that evicts nothing: see kchan__room in kchan.h).
function field(key,   re) {
    re = key ": \"[^\"]*\""
    if (!match($0, re)) return ""
    return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 4)
}
function deepest(t,   i, d, best) {
    if (t in memo) return memo[t]
    if (skip != "" && fname[t] ~ skip) return memo[t] = 0
    if (t in busy) { cyclic = 1; return 0 }
    busy[t] = 1
    best = 0
    for (i = 1; i <= ncallee[t]; i++) { d = deepest(callee[t, i]); if (d > best) best = d }
    delete busy[t]
    return memo[t] = frame[t] + best
}
/^node:/ {
    t = field("title"); l = field("label"); n = l; sub(/\\n.*/, "", n)
    sub(/\..*/, "", n)                     # kchan__op.isra -> kchan__op (a clone's name)
    fname[t] = n; frame[t] = 0
    if (match(l, /[0-9]+ bytes/)) frame[t] = substr(l, RSTART, RLENGTH) + 0
    if (!(n in title) || frame[t] > frame[title[n]]) title[n] = t
}
/^edge:/ { s = field("sourcename"); ncallee[s]++; callee[s, ncallee[s]] = field("targetname") }
END {
    nr = split(roots, r, " ")
    for (i = 1; i <= nr; i++) {
        if (!(r[i] in title)) { print r[i], "?"; bad = 1; continue }
        print r[i], deepest(title[r[i]])
    }
    if (cyclic) print "note: recursion in the graph, counted once"
    exit bad
}
