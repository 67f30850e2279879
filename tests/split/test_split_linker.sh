#!/bin/sh
# test_split_linker — a split-stack program linked by a linker that does
# not make the split-stack call adjustment is refused with a clear message
# (the Makefile substitutes the paths and makes the programs it runs):
#   - linked by GNU ld (bfd): "gort: fatal error: ... link with
#     -fuse-ld=gold or -fuse-ld=lld", exit 2;
#   - linked by gold without --split-stack-adjust-size: the message names
#     the option;
#   - linked as documented: runs;
#   - `make check-split-toolchain SPLIT_LD=bfd` fails, naming gold and lld.
dir=$(dirname "$0")
fail=0
bad() { echo "test_split_linker: $*" >&2; fail=1; }

expect_refused() { # program, text the message must contain
    out=$("$dir/$1" 2>&1); rc=$?
    echo "$1: exit $rc: $(echo "$out" | head -n 2)"
    [ $rc -eq 2 ] || bad "$1 exited $rc, want 2"
    case "$out" in *"gort: fatal error: split-stack program linked"*"$2"*) ;;
        *) bad "$1: no fatal error naming '$2':
$out" ;; esac
    case "$out" in *"split-stack program ran"*) bad "$1 ran its main" ;; esac
}

expect_refused split_canary_bfd "link with -fuse-ld=gold or -fuse-ld=lld"
expect_refused split_canary_noadjust "-Wl,--split-stack-adjust-size=0x4000"
out=$("$dir/split_canary_gold" 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$out" = "split-stack program ran" ] || bad "split_canary_gold: exit $rc: $out"

# The build-time check (make's variables would leak into the nested make).
out=$(cd "@SRCDIR@" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "@MAKE@" -s check-split-toolchain SPLIT_LD=bfd CC="@CC@" 2>&1); rc=$?
echo "make check-split-toolchain SPLIT_LD=bfd: exit $rc: $out"
[ $rc -ne 0 ] || bad "make check-split-toolchain SPLIT_LD=bfd succeeded"
case "$out" in *"split-stack mode needs SPLIT_LD=gold or SPLIT_LD=lld"*) ;;
    *) bad "check-split-toolchain: no message naming gold and lld" ;; esac
out=$(cd "@SRCDIR@" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "@MAKE@" -s check-split-toolchain SPLIT_LD=gold CC="@CC@" 2>&1); rc=$?
[ $rc -eq 0 ] || bad "make check-split-toolchain SPLIT_LD=gold failed: $out"
exit $fail
