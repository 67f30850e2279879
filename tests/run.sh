#!/bin/sh
# Run every test binary in $1 as its own process under a timeout; a hang is
# a failure with the test's name.  Ends with "N passed, N failed".
# GORT_TEST_ONLY: run only these (space-separated names); GORT_TEST_WRAP:
# a command each test runs under (make test-valgrind's memcheck);
# GORT_TEST_TIMEOUT: each test's limit in seconds (default 120), a plain
# number.
dir=${1:-build/tests}
limit=${GORT_TEST_TIMEOUT:-120}
only=${GORT_TEST_ONLY:-}
wrap=${GORT_TEST_WRAP:-}
pass=0; fail=0; failed=""
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if [ -n "$only" ]; then
        case " $only " in *" $name "*) ;; *) continue ;; esac
    fi
    start=$(date +%s.%N)
    # The test's deadline, exported: its children stop short of it
    # (check.h, reap_child), so that a hung child is named by its parent
    # before this limit ends the test.  The limit is in plain seconds; 0
    # (no limit) exports no deadline.
    if [ "$limit" -gt 0 ]; then
        export GORT_TEST_DEADLINE=$(( ${start%.*} + limit ))
    fi
    timeout -k 5 "$limit" $wrap "$t" > "$t.log" 2>&1
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
    if [ $rc -eq 0 ]; then
        pass=$((pass+1)); printf 'PASS %-32s %ss\n' "$name" "$secs"
    else
        fail=$((fail+1)); failed="$failed $name"
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="TIMEOUT after ${limit}s"; else why="exit $rc"; fi
        printf 'FAIL %-32s %s\n' "$name" "$why"
        sed "s/^/    | /" "$t.log" | tail -n 100
    fi
done
# A name in GORT_TEST_ONLY that is not built is a failure, not a skip.
for name in $only; do
    if [ ! -x "$dir/$name" ]; then
        fail=$((fail+1)); failed="$failed $name"
        printf 'FAIL %-32s %s\n' "$name" "not built"
    fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
