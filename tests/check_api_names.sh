#!/bin/sh
# Every public name of kchan.h must appear in docs/API.md (issue 17 item 3).
#
# Public part: kchan.h from its first line to `#endif /* KCHAN_H_INCLUDED */` (the doc
# block, the types, the declarations and the typed macros; the implementation follows it).
# Public names in it:
#   - identifiers kchan_[a-z0-9_]+ and KCHAN_[A-Z0-9_]+ (functions, types, hooks, macros,
#     status codes, configuration macros named in the doc block), except private ones
#     (kchan__*, KCHAN__*), fragments ending in '_' (the doc block's wildcards such as
#     kchan_try_*), file names (tests/kchan_impl.c) and the ALLOW list below;
#   - the functions KCHAN_DEFINE generates, name##_suffix, which docs/API.md must write
#     with the placeholder type name `name` (name_send, name_recv_case, ...).
# A name counts as present only as a whole word of docs/API.md, not inside a longer one.
#
# Usage: tests/check_api_names.sh [kchan.h [docs/API.md]]
set -eu

HEADER=${1:-kchan.h}
DOC=${2:-docs/API.md}

# Implementation macros that appear in the public part but are no user's business:
# the include guard and the test-build switch.
ALLOW='KCHAN_H_INCLUDED KCHAN_TESTING'

for f in "$HEADER" "$DOC"; do
    [ -r "$f" ] || { echo "check_api_names: cannot read $f" >&2; exit 2; }
done

awk -v allow="$ALLOW" -v header="$HEADER" -v doc="$DOC" '
    function add_public(name) {
        if (name ~ /^(kchan__|KCHAN__)/ || name ~ /_$/ || (name in skip)) return
        if (!(name in public)) { public[name] = FNR; order[++npublic] = name }
    }
    BEGIN {
        n = split(allow, a, " ")
        for (i = 1; i <= n; i++) skip[a[i]] = 1
    }
    FNR == NR {                                    # kchan.h
        if (done) next
        if ($0 ~ /^#endif \/\* KCHAN_H_INCLUDED \*\//) { done = 1; next }
        line = $0
        while (match(line, /(kchan|KCHAN)_[A-Za-z0-9_]*/)) {
            name = substr(line, RSTART, RLENGTH)
            before = RSTART > 1 ? substr(line, RSTART - 1, 1) : ""
            line = substr(line, RSTART + RLENGTH)
            if (before ~ /[A-Za-z0-9_]/) continue     # inside a longer identifier
            if (line ~ /^\.[ch]([^A-Za-z0-9_]|$)/) continue   # a file name: tests/kchan_impl.c
            if (name ~ /^kchan_[a-z0-9_]+$/ || name ~ /^KCHAN_[A-Z0-9_]+$/) add_public(name)
        }
        line = $0
        while (match(line, /name##_[a-z0-9_]+/)) {
            add_public("name_" substr(line, RSTART + 7, RLENGTH - 7))
            line = substr(line, RSTART + RLENGTH)
        }
        next
    }
    {                                              # docs/API.md: collect its words
        line = $0
        while (match(line, /[A-Za-z0-9_]+/)) {
            words[substr(line, RSTART, RLENGTH)] = 1
            line = substr(line, RSTART + RLENGTH)
        }
    }
    END {
        if (!done) {
            printf "check_api_names: no \"#endif /* KCHAN_H_INCLUDED */\" line in %s\n", header
            exit 2
        }
        missing = 0
        for (i = 1; i <= npublic; i++)
            if (!(order[i] in words)) {
                if (!missing) printf "Public names of %s missing from %s:\n", header, doc
                printf "  %s (%s:%d)\n", order[i], header, public[order[i]]
                missing++
            }
        if (missing) exit 1
        printf "ok: all %d public names of %s appear in %s\n", npublic, header, doc
    }
' "$HEADER" "$DOC"
