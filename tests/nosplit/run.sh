#!/bin/sh
# run.sh TOOL — the gort-nosplit corpus (make test runs it as
# build/tests/test_nosplit).  Compiles every tests/nosplit/*.c with
# -fsplit-stack (-c only: the corpus is analysed, never run) by gcc and, if
# installed, clang, then checks the checker's exit status and report lines:
#   recursion.c, mutual.c  an infinite cycle (exit 1)
#   deep.c                 a chain over the limit, in Go's format, whose
#                          numbers add up: 8 + sum of grows - 2048 = over
#   exact.c                exactly 2048 bytes: passes; 1 byte over with
#                          -limit 2047; the measured heights asserted
#   indirect.c, libc.c, vla.c  what escapes the proof: warnings (exit 0),
#                          errors under -strict (exit 1)
#   clean.c                split functions only: silent, exit 0 even -strict
#   byname_*.c, alias.c, switch.c (also -O0), shlib.c (also as a shared
#                          library), comdat.cc (C++, g++ and clang++): chains
#                          found by name, through an alias, a jump table,
#                          a library's PLT and sections of one name
#   stripped programs and gcc -flto objects: refused (exit 2)
# the same through an archive, and linked programs (gcc; libgcc supplies
# __morestack): the chain found through section gort_nosplit, and GNU
# ld.bfd's missing split-stack call adjustment reported as an error.
# Ends with "nosplit: N checks passed" or the failures; exit 1 on any.
set -u
tool=${1:?usage: run.sh path/to/gort-nosplit}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/gort-nosplit-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# run NAME ARGS...: the tool's output in $tmp/NAME.out, status in $rc.
run() {
    name=$1
    shift
    "$tool" "$@" > "$tmp/$name.out" 2>&1
    rc=$?
}
want_rc() { [ "$rc" -eq "$1" ] && ok || { bad "$name: exit $rc, want $1"; sed 's/^/    | /' "$tmp/$name.out"; }; }
# has LINE: an exact line of the output (indentation included).
has() { grep -qxF -- "$1" "$tmp/$name.out" && ok || { bad "$name: no line '$1'"; sed 's/^/    | /' "$tmp/$name.out"; }; }
# match RE: a line matching the extended regular expression.
match() { grep -qE -- "$1" "$tmp/$name.out" && ok || { bad "$name: no line matching '$1'"; sed 's/^/    | /' "$tmp/$name.out"; }; }
empty() { [ ! -s "$tmp/$name.out" ] && ok || { bad "$name: output not empty"; sed 's/^/    | /' "$tmp/$name.out"; }; }

ccs=gcc
command -v clang >/dev/null 2>&1 && ccs="gcc clang"
flags="-O2 -g -fno-omit-frame-pointer -fsplit-stack -Wall -Wextra"

for cc in $ccs; do
    d=$tmp/$cc
    mkdir -p "$d"
    for src in "$here"/*.c; do
        b=$(basename "$src" .c)
        # shellcheck disable=SC2086
        $cc $flags -c "$src" -o "$d/$b.o" || bad "$cc: cannot compile $b.c"
    done

    run "$cc-recursion" "$d/recursion.o"
    want_rc 1
    has "ns_recurse: nosplit stack over 2048 byte limit"
    has "ns_recurse"
    match "^    grows [0-9]+ bytes, calls ns_recurse$"
    has "    infinite cycle"

    run "$cc-mutual" "$d/mutual.o"
    want_rc 1
    has "ns_even: nosplit stack over 2048 byte limit"
    match "^    grows [0-9]+ bytes, calls ns_odd$"
    match "^        grows [0-9]+ bytes, calls ns_even$"
    has "        infinite cycle"

    run "$cc-deep" "$d/deep.o"
    want_rc 1
    has "ns_a: nosplit stack over 2048 byte limit"
    match "^    grows [0-9]+ bytes, calls ns_b$"
    match "^        grows [0-9]+ bytes, calls ns_c$"
    match "^            grows [0-9]+ bytes, calls split_use$"
    match "^            [0-9]+ bytes over limit$"
    # The report's numbers add up: the call into ns_a, the grows lines.
    sum=$(awk '/grows/ { s += $2 } / bytes over limit$/ { o = $1 } END { print 8 + s - 2048 " " o }' "$tmp/$name.out")
    set -- $sum
    [ "$1" = "$2" ] && ok || bad "$name: 8 + grows - 2048 = $1, report says $2 over"
    # Lowering the limit cannot hide it; raising it past the chain does.
    run "$cc-deep-big" -limit 4096 "$d/deep.o"
    want_rc 0

    # Exactly at the limit: passes.  The heights measured for gcc 12 and
    # clang 14 (see exact.c): ns_x1 1016 bytes of frame and 2040 of chain,
    # + 8 for the call into it = 2048.
    run "$cc-exact" -v "$d/exact.o"
    want_rc 0
    match "^nosplit: .*exact.o: ns_x2: frame 1016 bytes, height 1016 bytes$"
    match "^nosplit: .*exact.o: ns_x1: frame 1016 bytes, height 2040 bytes$"
    has "nosplit:     +1024 calls ns_x2"
    run "$cc-exact-2047" -limit 2047 "$d/exact.o"
    want_rc 1
    has "ns_x1: nosplit stack over 2047 byte limit"
    has "    grows 1024 bytes, calls ns_x2"
    has "        grows 1016 bytes"
    has "        1 bytes over limit"

    run "$cc-indirect" "$d/indirect.o"
    want_rc 0
    match "^warning: .*indirect.o: ns_indirect: indirect call at 0x[0-9a-f]+: the target is assumed to check its stack$"
    run "$cc-indirect-strict" -strict "$d/indirect.o"
    want_rc 1
    match "^error: .*ns_indirect: indirect call"

    run "$cc-libc" "$d/libc.o"
    want_rc 0
    match "^warning: .*libc.o: ns_write: (calls|jumps to) write, not in the input: taken for code without checks"
    run "$cc-libc-strict" -strict "$d/libc.o"
    want_rc 1

    run "$cc-vla" "$d/vla.o"
    want_rc 0
    match "^warning: .*vla.o: ns_vla: dynamic stack allocation \(VLA, alloca or realignment\)"
    run "$cc-vla-strict" -strict "$d/vla.o"
    want_rc 1

    run "$cc-clean" -strict "$d/clean.o"
    want_rc 0
    empty

    # A call by name reaches the global function, never another
    # object's static one of the same name, in either order.
    for order in "byname_static byname_global" "byname_global byname_static"; do
        set -- $order
        run "$cc-byname-$1" "$d/$1.o" "$d/$2.o" "$d/byname_call.o"
        want_rc 1
        has "ns_byname: nosplit stack over 2048 byte limit"
        has "    grows 624 bytes, calls helper"
        has "        grows 1816 bytes"
    done

    run "$cc-alias" "$d/alias.o"
    want_rc 1
    has "ns_via_alias: nosplit stack over 2048 byte limit"
    match "^    grows 624 bytes, calls ns_alias(ed)?$"

    run "$cc-switch" "$d/switch.o"
    want_rc 1
    has "ns_switch: nosplit stack over 2048 byte limit"
    match "^    grows [0-9]+ bytes, calls ns_sw_big$"
    # shellcheck disable=SC2086
    $cc -O0 -g -fno-omit-frame-pointer -fsplit-stack -c "$here/switch.c" -o "$d/switch-O0.o" ||
        bad "$cc: cannot compile switch.c at -O0"
    run "$cc-switch-O0" "$d/switch-O0.o"
    want_rc 1
    has "ns_switch: nosplit stack over 2048 byte limit"
    match "^    grows [0-9]+ bytes, calls ns_sw_big$"

    # gcc -flto: intermediate code only, nothing to check: an error.
    if [ "$cc" = gcc ]; then
        # shellcheck disable=SC2086
        gcc $flags -flto -c "$here/deep.c" -o "$d/deep-lto.o" || bad "gcc -flto: cannot compile deep.c"
        run "$cc-lto" "$d/deep-lto.o"
        want_rc 2
        match "LTO intermediate code"
    fi

    # All of it as one archive: the same findings, members named.
    rm -f "$d/deep-lto.o" "$d/switch-O0.o"
    ar rcs "$d/corpus.a" "$d"/*.o
    run "$cc-archive" "$d/corpus.a"
    want_rc 1
    has "ns_recurse: nosplit stack over 2048 byte limit"
    has "ns_even: nosplit stack over 2048 byte limit"
    has "ns_a: nosplit stack over 2048 byte limit"
    match "^warning: .*corpus.a\(vla.o\): ns_vla: dynamic stack allocation"
    if grep -q "ns_x1" "$tmp/$name.out"; then bad "$name: the exact chain reported"; else ok; fi
done

# Linked programs.  In a linked program the split-stack notes are gone:
# GORT_NOSPLIT's section (gort_nosplit, which ns.h uses) marks nosplit.
for ld in gold lld; do
    command -v "ld.$ld" >/dev/null 2>&1 || continue
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -DNS_MAIN -fuse-ld=$ld \
        "$here/deep.c" -o "$tmp/deep.$ld" || { bad "cannot link deep.c with $ld"; continue; }
    run "deep-$ld" "$tmp/deep.$ld"
    want_rc 1
    has "ns_a: nosplit stack over 2048 byte limit"
    match "^            [0-9]+ bytes over limit$"
    # Linked, a self-call has no relocation: it must still be recursion,
    # not a branch inside the function.
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -DNS_MAIN -fuse-ld=$ld \
        "$here/recursion.c" -o "$tmp/recursion.$ld" || { bad "cannot link recursion.c with $ld"; continue; }
    run "recursion-$ld" "$tmp/recursion.$ld"
    want_rc 1
    has "ns_recurse: nosplit stack over 2048 byte limit"
    match "^ +infinite cycle$"
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -fuse-ld=$ld \
        "$here/clean.c" -o "$tmp/clean.$ld" || { bad "cannot link clean.c with $ld"; continue; }
    run "clean-$ld" -strict "$tmp/clean.$ld"
    want_rc 0
    empty
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -DNS_MAIN -fuse-ld=$ld \
        "$here/libc.c" -o "$tmp/libc.$ld" || { bad "cannot link libc.c with $ld"; continue; }
    run "libc-$ld" "$tmp/libc.$ld"
    want_rc 0
    match "^warning: .*libc.$ld: ns_write: (calls|jumps to) write@plt, code without checks: its stack use is not counted$"
    # Stripped, a program cannot be checked: an error, not a pass.
    strip -o "$tmp/deep-stripped.$ld" "$tmp/deep.$ld"
    run "stripped-$ld" "$tmp/deep-stripped.$ld"
    want_rc 2
    match "no symbol table"
    # A shared library: the chain through its own PLT is found, and no
    # linker error for split code calling split code through it.
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -fPIC -shared -fuse-ld=$ld \
        "$here/shlib.c" -o "$tmp/libshlib.$ld.so" || { bad "cannot link shlib.c with $ld"; continue; }
    run "shlib-$ld" "$tmp/libshlib.$ld.so"
    want_rc 1
    has "ns_mid: nosplit stack over 2048 byte limit"
    match "^    grows 1216 bytes, calls ns_leaf(@plt)?$"
    if grep -q "^error:" "$tmp/$name.out"; then bad "$name: a linker error reported"; else ok; fi
done

# C++ inline (comdat) nosplit functions: several sections named
# gort_nosplit in one object.
for cxx in g++ clang++; do
    command -v $cxx >/dev/null 2>&1 || continue
    $cxx -O2 -g -fno-omit-frame-pointer -fsplit-stack -Wno-attributes -c "$here/comdat.cc" -o "$tmp/comdat-$cxx.o" ||
        { bad "$cxx: cannot compile comdat.cc"; continue; }
    run "comdat-$cxx" "$tmp/comdat-$cxx.o"
    want_rc 1
    has "_Z10ns_cxx_midi: nosplit stack over 2048 byte limit"
    has "    grows 1520 bytes, calls _Z11ns_cxx_leafi"
done
# GNU ld.bfd links split code calling libc without adjusting the caller's
# prologue (gold and lld make it always take the slow path).
if command -v ld.bfd >/dev/null 2>&1; then
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -fuse-ld=bfd \
        "$here/clean.c" -o "$tmp/clean.bfd" || bad "cannot link clean.c with bfd"
    run "clean-bfd" "$tmp/clean.bfd"
    want_rc 1
    match "^error: .*clean.bfd: split_print: split function calls [a-z_]+@plt, code without checks, .*linked without split-stack call adjustment: use -fuse-ld=gold or -fuse-ld=lld$"
    # The same through the GOT (-fno-plt).
    gcc -O2 -g -fno-omit-frame-pointer -fsplit-stack -fno-plt -fuse-ld=bfd \
        "$here/clean.c" -o "$tmp/clean-noplt.bfd" || bad "cannot link clean.c -fno-plt with bfd"
    run "clean-noplt-bfd" "$tmp/clean-noplt.bfd"
    want_rc 1
    match "^error: .*split_print: split function calls [a-z_]+, code without checks, .*linked without split-stack call adjustment"
fi

# Usage and tool errors: exit 2.
run usage
want_rc 2
run missing "$tmp/no-such-file.o"
want_rc 2
run badlimit -limit x "$tmp/gcc/clean.o"
want_rc 2
printf 'not elf\n' > "$tmp/text.o"
run notelf "$tmp/text.o"
want_rc 2

echo "nosplit: $passed checks passed, $failed failed"
[ "$failed" -eq 0 ]
