#!/bin/sh
# tests/netpoll_direct.sh DIR TEST... — the netpoller's tests once more with
# GORTDEBUG=iobatch=0.  By default goroutines' socket reads and writes go
# through their P's io_uring (src/iobatch_linux.c) wherever the kernel
# allows it; the direct calls are what every program gets where it does
# not (an old kernel, a seccomp profile, valgrind), and every close,
# deadline, reset peer, EMFILE, fork and plain-thread case must behave the
# same with them.  Built as DIR/test_netpoll_direct; the suite's runner
# gives it one timeout, each test inside has its own watchdog.  A test
# that sets GORTDEBUG for a child of its own runs that child without.
# The list is the Makefile's DIRECT_TESTS, passed by the wrapper.
dir=$1
shift
fail=0
for t in "$@"; do
    if GORTDEBUG=iobatch=0 "$dir/$t" > "$dir/$t.direct.log" 2>&1; then
        echo "direct: ok   $t"
    else
        echo "direct: FAIL $t (exit $?)"
        sed 's/^/    | /' "$dir/$t.direct.log" | tail -20
        fail=1
    fi
done
exit $fail
