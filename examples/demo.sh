#!/bin/sh
# demo.sh DIR — `make demo`: run every example program in DIR, in name
# order, each under a 20 s timeout with a one-line heading.  Exits non-zero
# if any example failed or timed out, after running them all.
dir=${1:-build/examples}
status=0
found=0
for ex in "$dir"/*; do
    [ -f "$ex" ] && [ -x "$ex" ] || continue
    found=1
    name=$(basename "$ex")
    echo "=== $name"
    timeout -k 5 20 "$ex"
    rc=$?
    if [ $rc -ne 0 ]; then
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            echo "=== $name: TIMEOUT after 20s"
        else
            echo "=== $name: exit $rc"
        fi
        status=1
    fi
done
[ $found -eq 1 ] || { echo "demo.sh: no examples in $dir" >&2; exit 1; }
exit $status
