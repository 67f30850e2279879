#!/bin/sh
# check-sections.sh OBJ... -- fail if a runtime object keeps code outside
# gort_text.  The Makefile renames the compilers' code sections (.text,
# gcc's .text.unlikely, clang's .text.unlikely. ...) to gort_text, which is
# how the runtime tells its own code from the program's even when
# libgort.a is linked into the program (__start_gort_text/__stop_gort_text).
# A section it does not know stays outside, silently: clang's cold
# functions did, in seven objects.  The sanitizers' module constructors
# (.text.asan.module_ctor ...) run before main and may stay.
status=0
for obj in "$@"; do
    secs=$(readelf -SW "$obj") || { echo "$obj: readelf failed" >&2; exit 1; }
    bad=$(printf '%s\n' "$secs" | sed -n 's/^ *\[ *[0-9]*\] //p' |
          awk '$7 ~ /X/ && $1 != "gort_text" && $1 !~ /^\.text\.(asan|ubsan|tsan|hwasan)\./ { print $1 }')
    if [ -n "$bad" ]; then
        for s in $bad; do
            echo "$obj: runtime code in section $s, not gort_text (Makefile RENAME)" >&2
        done
        status=1
    fi
done
exit $status
