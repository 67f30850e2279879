#!/bin/sh
# examples/nosplit/demo.sh DIR — `make demo`, issue 11: the post on
# //go:nosplit, its three examples made real in split-stack mode.  DIR
# holds the programs the Makefile built with -fsplit-stack (gold or lld):
# recursive, pointer, pointer_checked and forever (examples/forever.c).
# NOSPLIT names the link-time checker (default: gort-nosplit beside DIR's
# parent build directory, i.e. $(BUILD)/gort-nosplit).
#
#   1. recursive.c: an infinitely recursive GORT_NOSPLIT function.  Go's
#      linker rejects it; gort-nosplit, run on the linked program, must exit
#      non-zero with Go's report: "x: nosplit stack over N byte limit",
#      the chain, "infinite cycle".
#   2. pointer.c: the same function called through a pointer.  The checker
#      cannot follow the call: it must exit 0 and name the indirect call
#      as what escaped its proof.  Run, the program must die with gort's
#      "fatal error: stack overflow" and a traceback (Go: a silent
#      segfault): the guard page catches x, which has no check; built with
#      the check (pointer_checked), x's own prologue must catch it first
#      ("[stack check: ...]").
#   3. forever.c, the nosplit livelock: GORT_NOSPLIT forever() on every P
#      hangs, reported as stuck in a GORT_NOSPLIT function, while the
#      ordinary loop is preempted (the poison cannot stop a loop without
#      calls: the signal does).  The program checks itself (exit 0).
#
# Each step prints what it ran and what it saw, and fails loudly (a line
# starting "=== FAILED") when the output is not the expected one; the
# script exits non-zero if any step failed, after running them all.
dir=${1:-build/examples/nosplit}
NOSPLIT=${NOSPLIT:-$(dirname "$dir")/../gort-nosplit}
status=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "=== FAILED: $*"
    status=1
}

# expect FILE TEXT...: every TEXT occurs in FILE (fixed strings).
expect() {
    f=$1
    shift
    for t in "$@"; do
        grep -qF -- "$t" "$f" || { fail "expected \"$t\" in the output above"; return 1; }
    done
}

# show FILE N: its first N lines, and how many were left out.
show() {
    sed -n "1,$2p" "$1" | sed 's/^/  | /'
    n=$(wc -l < "$1")
    [ "$n" -gt "$2" ] && echo "  | ... ($((n - $2)) more lines)"
    return 0
}

# checker NAME RC SAID TEXT...: run the checker on DIR/NAME; it must exit
# RC and print every TEXT; SAID is what that means.
checker() {
    name=$1 want=$2 said=$3
    shift 3
    echo "\$ gort-nosplit $name"
    "$NOSPLIT" "$dir/$name" > "$tmp/$name.check" 2>&1
    rc=$?
    show "$tmp/$name.check" 12
    if [ $rc -ne "$want" ]; then
        fail "gort-nosplit exited $rc on $name; expected $want"
    else
        expect "$tmp/$name.check" "$@" && echo "  => $said"
    fi
}

for p in recursive pointer pointer_checked forever; do
    [ -x "$dir/$p" ] || fail "$dir/$p missing (make builds it with -fsplit-stack)"
done

echo "=== nosplit 1/3: infinite recursion in a GORT_NOSPLIT function, rejected at link time"
echo "    (Go's linker: x.x: nosplit stack over 792 byte limit ... infinite cycle)"
if [ ! -x "$NOSPLIT" ]; then
    fail "no link-time checker at $NOSPLIT (gort-nosplit, built from tools/ as \$(BUILD)/gort-nosplit); expected: exit 1 and 'x: nosplit stack over ... byte limit', 'infinite cycle'"
else
    checker recursive 1 "rejected (exit 1): an unbounded chain of nosplit frames cannot link" \
        "x: nosplit stack over" "byte limit" "infinite cycle"
fi

echo "=== nosplit 2/3: the same function called through a pointer, caught at run time"
echo "    (Go: accepted by the linker, then 'signal: segmentation fault', no message)"
[ -x "$NOSPLIT" ] && checker pointer 0 \
    "accepted (exit 0): it cannot follow the pointer, and names the indirect call as escaping the proof" \
    "indirect"
for p in pointer pointer_checked; do
    echo "\$ GORTSTACKSIZE=64K $p"
    GORTSTACKSIZE=64K timeout -k 5 20 "$dir/$p" > "$tmp/2" 2>&1
    rc=$?
    show "$tmp/2" 6
    if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "$p exited $rc; expected to die of the stack overflow"
        continue
    fi
    if [ $p = pointer ]; then
        expect "$tmp/2" "gort: fatal error: stack overflow" "goroutine 1 exceeded its 64 KiB stack" \
            "goroutine 1 [running]:" "x" &&
            echo "  => gort's stack overflow report (exit $rc): x has no check, the guard page caught it"
    else
        expect "$tmp/2" "gort: fatal error: stack overflow" "[stack check: x needs a" \
            "goroutine 1 [running]:" &&
            echo "  => x with its check: stopped by its own prologue, before writing past the guard (exit $rc)"
    fi
done

echo "=== nosplit 3/3: GORT_NOSPLIT forever() on every P, split-stack mode"
echo "\$ forever"
timeout -k 5 30 "$dir/forever" > "$tmp/3" 2>&1
rc=$?
sed 's/^/  | /' "$tmp/3"
if [ $rc -ne 0 ]; then
    fail "forever exited $rc; expected 0 (it checks that the nosplit loops hang and the plain ones do not)"
else
    expect "$tmp/3" "no Hello: nosplit code is never preempted" "cannot be preempted" \
        "(GORT_NOSPLIT function)" "Hello, world!" &&
        echo "  => the livelock reported; the ordinary loop was stopped by the signal"
fi

[ $status -eq 0 ] && echo "=== nosplit: all 3 steps as expected"
exit $status
