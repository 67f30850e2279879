#!/bin/sh
# demo.sh DIR — `make demo`: run every example program in DIR, in name
# order, each under a 20 s timeout with a one-line heading.  The servers
# (echo, httpd) are started in the background instead, listening on a free
# port and once more on a Unix socket (echo on a path, httpd on an abstract
# name), and driven by democlient, which checks every answer (30 s
# timeout); then they are killed.  Exits non-zero if any example failed or
# timed out, after running them all.
dir=${1:-build/examples}
status=0
found=0

# serve NAME SERVER_ARGS CLIENT_ARGS: start DIR/NAME SERVER_ARGS, wait for
# its "NAME: listening on ADDRESS" line, run democlient CLIENT_ARGS with
# the address put in for @, and fail if the client fails, the server dies
# or the server prints anything else (an accept error, a runtime warning).
serve() {
    name=$1 sargs=$2 cargs=$3
    out=$(mktemp) || return 1
    # shellcheck disable=SC2086  # the argument lists are meant to split
    "$dir/$name" $sargs >"$out" 2>&1 &
    pid=$!
    addr='' tries=0
    while [ $tries -lt 100 ]; do
        addr=$(sed -n "1s/^$name: listening on //p" "$out")
        [ -n "$addr" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
        tries=$((tries + 1))
    done
    if [ -z "$addr" ]; then
        echo "=== $name $sargs: did not start listening within 10 s"
        cat "$out"
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        rm -f "$out"
        return 1
    fi
    echo "$name $sargs: listening on $addr"
    ok=1
    # shellcheck disable=SC2046  # the client's arguments, split
    timeout -k 5 30 "$dir/democlient" $(echo "$cargs" | sed "s|@|$addr|")
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "=== $name: the client timed out after 30 s"
        ok=0
    elif [ $rc -ne 0 ]; then
        echo "=== $name: the client failed (exit $rc)"
        ok=0
    fi
    if kill $pid 2>/dev/null; then
        wait $pid 2>/dev/null
    else
        wait $pid
        echo "=== $name: the server died (exit $?)"
        ok=0
    fi
    if [ "$(sed 1d "$out" | wc -c)" -ne 0 ]; then
        echo "=== $name: unexpected server output:"
        sed 1d "$out"
        ok=0
    fi
    rm -f "$out"
    [ $ok -eq 1 ]
}

for ex in "$dir"/*; do
    [ -f "$ex" ] && [ -x "$ex" ] || continue
    found=1
    name=$(basename "$ex")
    case $name in
    democlient)
        continue ;;
    echo)
        echo "=== $name"
        sock=$(mktemp -d) || { status=1; continue; }
        serve echo "-t 1" "echo @ 1" || status=1
        serve echo "$sock/echo.sock" "echo @" || status=1
        rm -rf "$sock"
        continue ;;
    httpd)
        echo "=== $name"
        serve httpd "-t 5" "http @" || status=1
        serve httpd "@gort-demo-httpd-$$" "http @" || status=1
        continue ;;
    esac
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
