#!/bin/sh
# tests/iobatch_run.sh DIR TEST... — the netpoller's tests once more with
# GORTDEBUG=iobatch=1 (src/iobatch_linux.c): goroutines' socket reads and
# writes then go through their P's io_uring, and every close, deadline,
# reset peer, EMFILE, fork and plain-thread case must behave as with the
# direct calls.  Built as DIR/test_netpoll_iobatch; the suite's runner
# gives it one timeout, each test inside has its own watchdog.  A test
# that sets GORTDEBUG for a child of its own runs that child without.
# The list is the Makefile's IOBATCH_TESTS, passed by the wrapper.
dir=$1
shift
fail=0
for t in "$@"; do
    if GORTDEBUG=iobatch=1 "$dir/$t" > "$dir/$t.iobatch.log" 2>&1; then
        echo "iobatch: ok   $t"
    else
        echo "iobatch: FAIL $t (exit $?)"
        sed 's/^/    | /' "$dir/$t.iobatch.log" | tail -20
        fail=1
    fi
done
exit $fail
