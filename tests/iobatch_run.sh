#!/bin/sh
# tests/iobatch_run.sh DIR — the netpoller's tests once more with
# GORTDEBUG=iobatch=1 (src/iobatch_linux.c): goroutines' socket reads and
# writes then go through their P's io_uring, and every close, deadline,
# reset peer, EMFILE, fork and plain-thread case must behave as with the
# direct calls.  Built as DIR/test_netpoll_iobatch; the suite's runner
# gives it one timeout, each test inside has its own watchdog.  A test
# that sets GORTDEBUG for a child of its own runs that child without.
dir=$1
fail=0
for t in test_netpoll test_netpoll_close test_netpoll_close_race test_netpoll_cycles \
         test_netpoll_deadline test_netpoll_emfile test_netpoll_fork test_netpoll_peer \
         test_netpoll_race test_netpoll_sched test_netpoll_short test_netpoll_thread \
         test_net_listen_dial test_echo_blocking; do
    if GORTDEBUG=iobatch=1 "$dir/$t" > "$dir/$t.iobatch.log" 2>&1; then
        echo "iobatch: ok   $t"
    else
        echo "iobatch: FAIL $t (exit $?)"
        sed 's/^/    | /' "$dir/$t.iobatch.log" | tail -20
        fail=1
    fi
done
exit $fail
