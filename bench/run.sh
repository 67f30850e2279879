#!/usr/bin/env bash
# bench/run.sh — build and run gort's benchmarks against their Go and
# Boost.Fiber twins, then write bench/results.md and bench/results.svg.
#
#   make bench                  (builds $(BUILD)/libgort.a first)
#   BUILD=build-bench bash bench/run.sh
#
# Environment: BUILD (library dir, default build), CC (default cc),
# ROUNDS (default 5), BENCH_ONLY="spawn pingpong ..." to run a subset
# (BENCH_ONLY=issue10 runs issue 10's echo1k, http and idle10k,
# BENCH_ONLY=issue11 issue 11's split-stack stop_fib, stop_loop and
# prologue, BENCH_ONLY=issue12 issue 12's whole programs skynet, sieve,
# pool, sleepers, pipeline and msort, BENCH_ONLY=issue13 issue 13's
# rwmutex, timers and ctxfan), SPLIT_LD (gold or lld, the split-stack
# linker, default gold),
# BENCH_TIMEOUT (seconds per run, default 120), BENCH_NO_INSTALL=1 to
# never call apt-get.
#
# Every benchmark is run ROUNDS times, interleaved: round 1 runs every
# implementation of every benchmark (gort, Go, Boost, ...), then round 2,
# and so on, so drift (thermal, noisy neighbours) spreads over all of them.
# The slow ones (1M parked goroutines, the sleepers, Boost's spawn,
# skynet) run fewer rounds so that the whole run stays under ~10 minutes on 2 cores.
# Raw output: $BUILD/bench/raw/ (results.txt, per-run logs, latency
# samples).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
CC=${CC:-cc}
ROUNDS=${ROUNDS:-5}
TIMEOUT=${BENCH_TIMEOUT:-120}
OUT=$ROOT/$BUILD/bench
RAW=$OUT/raw
PROCS=2

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
SUDO=
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
APT_UPDATED=0
install_pkg() {
    if [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
        log "bench: $* missing and BENCH_NO_INSTALL=1"
        return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "bench: $* missing and there is no apt-get"
        return 1
    fi
    if [ $APT_UPDATED = 0 ]; then
        log "bench: apt-get update"
        $SUDO apt-get update -qq >/dev/null 2>&1 || true
        APT_UPDATED=1
    fi
    log "bench: installing $*"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

GO=/usr/lib/go-1.19/bin/go
[ -x "$GO" ] || install_pkg golang-1.19-go || true
HAVE_GO=0; [ -x "$GO" ] && HAVE_GO=1
[ -f /usr/include/boost/fiber/all.hpp ] || install_pkg libboost-fiber-dev || true
command -v g++ >/dev/null 2>&1 || install_pkg g++ || true
# Issue 10's HTTP benchmark drives both servers with Debian's wrk.
command -v wrk >/dev/null 2>&1 || install_pkg wrk || true
HAVE_WRK=0; command -v wrk >/dev/null 2>&1 && HAVE_WRK=1
# Echo's io_uring floors (information) use liburing.
[ -f /usr/include/liburing.h ] || install_pkg liburing-dev || true
# ... and gort's server there, examples/httpd, parses with libhttp-parser.
if [ -f examples/httpd.c ] && [ ! -f /usr/include/http_parser.h ]; then
    install_pkg libhttp-parser-dev || true
fi
HAVE_BOOST=0
[ -f /usr/include/boost/fiber/all.hpp ] && command -v g++ >/dev/null 2>&1 && HAVE_BOOST=1
# The report and its SVG plots are written by plain python3 (no matplotlib
# or gnuplot needed).
command -v python3 >/dev/null 2>&1 || install_pkg python3 || { log "bench: python3 is required"; exit 1; }

# ---------------------------------------------------------------- build
mkdir -p "$OUT" "$RAW/logs" "$RAW/samples"
if [ ! -f "$BUILD/libgort.a" ]; then
    log "bench: building $BUILD/libgort.a"
    make -s BUILD="$BUILD" lib || log "bench: the runtime does not build: only the twins run"
fi
HAVE_GORT=0; [ -f "$BUILD/libgort.a" ] && HAVE_GORT=1

C_BENCHES="spawn pingpong yield buffered select mutex parked_rss stw sleeper spinwait compute
 handoff handoff_pipe memset_ticker stw_shared stw_syscall eintr syscall_bracket quantum
 skynet sieve pool sleepers pipeline msort"
BOOST_BENCHES="spawn pingpong yield buffered mutex parked_rss"
# Issue 13: RWMutex read-mostly (bench/rwmutex.c, Go twin bench/go/rwmutex.go).
C_BENCHES="$C_BENCHES rwmutex"
CFLAGS="-std=gnu11 -O2 -Wall -Wextra -pthread -Iinclude"
build_failed=""
C_BENCHES="$C_BENCHES timers ctxfan" # issue 13: timers and contexts (bench/go/issue13.go)
for b in $C_BENCHES; do
    [ $HAVE_GORT = 1 ] || break
    rm -f "$OUT/$b"
    log "bench: cc bench/$b.c"
    $CC $CFLAGS "bench/$b.c" -o "$OUT/$b" "$BUILD/libgort.a" -pthread -ldl -lm ||
        build_failed="$build_failed gort:$b"
done
if [ $HAVE_GO = 1 ]; then
    log "bench: go build bench/go"
    (cd bench/go && env GOCACHE="$OUT/gocache" GOPATH="$OUT/gopath" GOFLAGS=-mod=mod \
        GOPROXY=off GO111MODULE=on CGO_ENABLED=0 "$GO" build -o "$OUT/gobench" .) ||
        { build_failed="$build_failed go"; HAVE_GO=0; }
else
    log "bench: no Go 1.19: skipping the Go twins"
fi
if [ $HAVE_BOOST = 1 ]; then
    for b in $BOOST_BENCHES; do
        log "bench: g++ bench/boost/$b.cpp"
        rm -f "$OUT/boost_$b"
        g++ -std=c++17 -O2 -Wall -Wextra -pthread "bench/boost/$b.cpp" -o "$OUT/boost_$b" \
            -lboost_fiber -lboost_context || build_failed="$build_failed boost:$b"
    done
else
    log "bench: no Boost.Fiber: skipping the Boost twins"
fi
# The echo benchmark: gort's server (above, with libgort), its
# thread-per-connection twin and the client that drives every server, the
# last two without gort.
if [ $HAVE_GORT = 1 ]; then
    rm -f "$OUT/echo"
    log "bench: cc bench/echo.c"
    $CC $CFLAGS bench/echo.c -o "$OUT/echo" "$BUILD/libgort.a" -pthread -ldl -lm ||
        build_failed="$build_failed gort:echo"
fi
# Issue 10: gort's netpoller echo server (echo1k, idle10k), its load
# generator (plain C, epoll, no gort) and gort's HTTP server, the
# Makefile's examples/httpd (linked by the Makefile's rule, with
# -lhttp_parser), copied here as $OUT/httpd.
if [ $HAVE_GORT = 1 ]; then
    rm -f "$OUT/echo_netpoll" "$OUT/httpd"
    log "bench: cc bench/echo_netpoll.c"
    $CC $CFLAGS bench/echo_netpoll.c -o "$OUT/echo_netpoll" "$BUILD/libgort.a" -pthread -ldl -lm ||
        build_failed="$build_failed gort:echo_netpoll"
    if [ -f examples/httpd.c ]; then
        log "bench: make $BUILD/examples/httpd"
        if make -s BUILD="$BUILD" "$BUILD/examples/httpd"; then
            cp "$BUILD/examples/httpd" "$OUT/httpd"
        else
            build_failed="$build_failed gort:httpd"
        fi
    else
        log "bench: no examples/httpd.c: no gort server for the http benchmark"
    fi
fi
# Issue 11, split-stack mode (docs/DESIGN.md "Stack checks"): the
# request-to-stop programs twice, default build and -fsplit-stack (linked
# as the Makefile's SPLIT_LDFLAGS link split programs), and the prologue
# program once per compiler: its kernels compiled with and without
# -fsplit-stack into one split-stack binary, frame pointers kept as the
# README asks of programs; no loops turned into libc calls (-fno-builtin:
# only callslibc may call code without checks).
SPLIT_LD=${SPLIT_LD:-gold}
case $SPLIT_LD in
    gold) SPLIT_LDFLAGS="-fuse-ld=gold -Wl,--split-stack-adjust-size=0x4000" ;;
    *) SPLIT_LDFLAGS="-fuse-ld=$SPLIT_LD" ;;
esac
HAVE_SPLIT=0
if [ $HAVE_GORT = 1 ] && make -s CC="$CC" SPLIT_LD="$SPLIT_LD" check-split-toolchain; then
    HAVE_SPLIT=1
else
    log "bench: no split-stack toolchain ($CC, ld.$SPLIT_LD): skipping issue 11's split-stack runs"
fi
for b in stop_fib stop_loop; do
    [ $HAVE_GORT = 1 ] || break
    rm -f "$OUT/$b" "$OUT/${b}_split"
    log "bench: cc bench/$b.c (default build and -fsplit-stack)"
    $CC $CFLAGS "bench/$b.c" -o "$OUT/$b" "$BUILD/libgort.a" -pthread -ldl -lm ||
        build_failed="$build_failed gort:$b"
    [ $HAVE_SPLIT = 1 ] || continue
    # shellcheck disable=SC2086
    $CC $CFLAGS -fsplit-stack "bench/$b.c" -o "$OUT/${b}_split" "$BUILD/libgort.a" \
        -pthread -ldl -lm $SPLIT_LDFLAGS || build_failed="$build_failed gort:${b}_split"
done
# The kernels are compiled at four code placements, split and plain at
# each (bench/prologue.c says why): every function 64-byte aligned, then
# pushed P bytes into its line by P bytes of nops in front of its entry.
KFLAGS="-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-builtin -falign-functions=64"
for kv in gcc clang; do
    [ $HAVE_SPLIT = 1 ] || break
    rm -f "$OUT/prologue_$kv"
    command -v $kv >/dev/null 2>&1 || { log "bench: no $kv: no prologue_$kv"; continue; }
    log "bench: $kv bench/prologue.c + prologue_kernel.c (split and plain, 4 placements)"
    kc="$kv -std=gnu11 -O2 -Wall -Wextra -pthread -Iinclude"
    kobjs=() kok=1
    for p in 0 16 32 48; do
        kf=$KFLAGS
        [ $p = 0 ] || kf="$kf -fpatchable-function-entry=$p,$p"
        for v in split plain; do
            vf=""
            [ $v = split ] && vf=-fsplit-stack
            # shellcheck disable=SC2086
            $kc $kf $vf -DKSUFFIX=_${v}_p$p -c bench/prologue_kernel.c \
                -o "$OUT/pk_${v}_p${p}_$kv.o" || kok=0
            kobjs+=("$OUT/pk_${v}_p${p}_$kv.o")
        done
    done
    # shellcheck disable=SC2086
    { [ $kok = 1 ] && $kc bench/prologue.c "${kobjs[@]}" -o "$OUT/prologue_$kv" \
          "$BUILD/libgort.a" -pthread -ldl -lm $SPLIT_LDFLAGS; } ||
        build_failed="$build_failed gort:prologue_$kv"
done
for b in echo_threads echo_client echo_load echo_floor; do
    rm -f "$OUT/$b"
    log "bench: cc bench/$b.c"
    $CC -std=gnu11 -O2 -Wall -Wextra -pthread "bench/$b.c" -o "$OUT/$b" ||
        build_failed="$build_failed $b"
done
# The io_uring floor is information only: built where liburing is.
rm -f "$OUT/echo_floor_uring"
if [ -f /usr/include/liburing.h ]; then
    log "bench: cc bench/echo_floor_uring.c"
    $CC -std=gnu11 -O2 -Wall -Wextra -pthread bench/echo_floor_uring.c \
        -o "$OUT/echo_floor_uring" -luring || build_failed="$build_failed echo_floor_uring"
else
    log "bench: no liburing (apt-get install liburing-dev): echo1k's io_uring floor skipped"
fi
[ -n "$build_failed" ] && log "bench: build failures:$build_failed"

# ---------------------------------------------------------------- plan
# name  label  procs  rounds  command...   (label selects the environment)
PLAN=$(cat <<EOF
spawn       gort       $PROCS 5 $OUT/spawn
spawn       go         $PROCS 5 $OUT/gobench spawn
spawn       boost      $PROCS 3 $OUT/boost_spawn
pingpong    gort       $PROCS 5 $OUT/pingpong
pingpong    go         $PROCS 5 $OUT/gobench pingpong
pingpong    boost      $PROCS 5 $OUT/boost_pingpong
yield       gort       1      5 $OUT/yield
yield       go         1      5 $OUT/gobench yield
yield       boost      1      5 $OUT/boost_yield
buffered    gort       $PROCS 5 $OUT/buffered
buffered    go         $PROCS 5 $OUT/gobench buffered
buffered    boost      $PROCS 5 $OUT/boost_buffered
select      gort       $PROCS 5 $OUT/select
select      go         $PROCS 5 $OUT/gobench select
mutex       gort       $PROCS 5 $OUT/mutex
mutex       go         $PROCS 5 $OUT/gobench mutex
mutex       boost      $PROCS 5 $OUT/boost_mutex
rwmutex     gort       $PROCS 5 $OUT/rwmutex
rwmutex     go         $PROCS 5 $OUT/gobench rwmutex
rwmutex1w   gort       $PROCS 5 $OUT/rwmutex 0 1w
rwmutex1w   go         $PROCS 5 $OUT/gobench rwmutex1w
parked_rss  gort       $PROCS 3 $OUT/parked_rss
parked_rss  go         $PROCS 3 $OUT/gobench parked_rss
parked_rss  boost      $PROCS 3 $OUT/boost_parked_rss
stw         gort       $PROCS 5 $OUT/stw
stw         go         $PROCS 5 $OUT/gobench stw
sleeper     gort       $PROCS 3 $OUT/sleeper
sleeper     gort-q1ms  $PROCS 3 $OUT/sleeper
sleeper     go         $PROCS 3 $OUT/gobench sleeper
spinwait    gort       1      5 $OUT/spinwait
spinwait    go         1      5 $OUT/gobench spinwait
compute     gort       $PROCS 3 $OUT/compute
compute     go         $PROCS 3 $OUT/gobench compute
echo        gort       $PROCS 5 $OUT/echo_client $OUT/echo
echo        threads    $PROCS 5 $OUT/echo_client $OUT/echo_threads
echo        go         $PROCS 5 $OUT/echo_client $OUT/gobench echo
handoff         gort        1      3 $OUT/handoff
handoff         go          1      3 $OUT/gobench handoff
handoff_pipe    gort        1      3 $OUT/handoff_pipe
handoff_pipe    go          1      3 $OUT/gobench handoff_pipe
memset_ticker   gort        1      3 $OUT/memset_ticker
memset_ticker   go          1      3 $OUT/gobench memset_ticker
stw_shared      gort        $PROCS 3 $OUT/stw_shared
stw_shared      go          $PROCS 3 $OUT/gobench stw_shared
stw_syscall     gort        $PROCS 3 $OUT/stw_syscall
stw_syscall     go          $PROCS 3 $OUT/gobench stw_syscall
eintr           gort-q100us $PROCS 3 $OUT/eintr
eintr           go          $PROCS 3 $OUT/gobench eintr
syscall_bracket gort        $PROCS 5 $OUT/syscall_bracket
syscall_bracket go          $PROCS 5 $OUT/gobench syscall_bracket
quantum         gort-q100us 1      3 $OUT/quantum
quantum         go          1      3 $OUT/gobench quantum
echo1k          gort        $PROCS 5 $OUT/echo_load -c 1000 $OUT/echo_netpoll
echo1k          gort-direct $PROCS 5 $OUT/echo_load -c 1000 env GORTDEBUG=iobatch=0 $OUT/echo_netpoll
echo1k          go          $PROCS 5 $OUT/echo_load -c 1000 $OUT/gobench echo
echo1k          floor       $PROCS 5 $OUT/echo_load -c 1000 $OUT/echo_floor
echo1k          floor-uring $PROCS 5 $OUT/echo_load -c 1000 $OUT/echo_floor_uring
echo1k          floor-batch $PROCS 5 $OUT/echo_load -c 1000 env ECHO_URING=batch $OUT/echo_floor_uring
http            gort        $PROCS 5 bash bench/http_wrk.sh gort $OUT/httpd
http            gort-direct $PROCS 5 env GORTDEBUG=iobatch=0 bash bench/http_wrk.sh gort $OUT/httpd
http            go          $PROCS 5 bash bench/http_wrk.sh go $OUT/gobench httpd
idle10k         gort        $PROCS 3 $OUT/echo_load -c 10000 -i 2 $OUT/echo_netpoll
idle10k         go          $PROCS 3 $OUT/echo_load -c 10000 -i 2 $OUT/gobench echo
timers          gort        $PROCS 5 $OUT/timers
timers          go          $PROCS 5 $OUT/gobench timers
ctxfan          gort        $PROCS 5 $OUT/ctxfan
ctxfan          go          $PROCS 5 $OUT/gobench ctxfan
stop_fib        gort           $PROCS 5 $OUT/stop_fib
stop_fib        gort-split     $PROCS 5 $OUT/stop_fib_split
stop_fib        gort-split-sig $PROCS 5 $OUT/stop_fib_split
stop_loop       gort           $PROCS 5 $OUT/stop_loop
stop_loop       gort-split     $PROCS 5 $OUT/stop_loop_split
stop_loop       gort-split-sig $PROCS 5 $OUT/stop_loop_split
prologue        gort-gcc       1      5 $OUT/prologue_gcc
prologue        gort-clang     1      5 $OUT/prologue_clang
skynet          gort        $PROCS 3 $OUT/skynet
skynet          go          $PROCS 3 $OUT/gobench skynet
sieve           gort        $PROCS 5 $OUT/sieve
sieve           go          $PROCS 5 $OUT/gobench sieve
pool            gort        $PROCS 5 $OUT/pool
pool            go          $PROCS 5 $OUT/gobench pool
sleepers        gort        $PROCS 5 $OUT/sleepers
sleepers        go          $PROCS 5 $OUT/gobench sleepers
sleepers        gort-warm   $PROCS 3 env BENCH_WARMUP=1 $OUT/sleepers
sleepers        go-warm     $PROCS 3 env BENCH_WARMUP=1 $OUT/gobench sleepers
pipeline        gort        $PROCS 5 $OUT/pipeline
pipeline        go          $PROCS 5 $OUT/gobench pipeline
msort           gort        $PROCS 5 $OUT/msort
msort           go          $PROCS 5 $OUT/gobench msort
EOF
)

available() { # label name -> 0 if that implementation was built
    case $2 in
        echo1k|idle10k) [ -x "$OUT/echo_load" ] || return 1 ;;
        http) [ $HAVE_WRK = 1 ] || return 1 ;;
    esac
    case $1-$2 in
        gort-split*-stop_*) [ -x "$OUT/${2}_split" ]; return ;;
        gort-gcc-prologue|gort-clang-prologue)
            [ -x "$OUT/prologue_${1#gort-}" ]; return ;;
        gort-echo1k|gort-idle10k|gort-direct-echo1k) [ -x "$OUT/echo_netpoll" ]; return ;;
        gort-http|gort-direct-http) [ -x "$OUT/httpd" ]; return ;;
        gort-rwmutex1w) [ -x "$OUT/rwmutex" ]; return ;;
    esac
    case $1 in
        gort*) [ -x "$OUT/$2" ] ;;
        go|go-warm) [ $HAVE_GO = 1 ] ;;
        boost) [ -x "$OUT/boost_$2" ] ;;
        threads) [ -x "$OUT/$2_threads" ] ;;
        floor) [ -x "$OUT/echo_floor" ] ;;
        floor-uring|floor-batch) [ -x "$OUT/echo_floor_uring" ] ;;
    esac
}

: > "$RAW/results.txt"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "gort: $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet'), $CC $($CC -dumpversion) -O2"
    [ $HAVE_GO = 1 ] && echo "go: $("$GO" version | cut -d' ' -f3)"
    [ $HAVE_WRK = 1 ] && echo "wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?') (http: -t2 -c256)"
    [ $HAVE_SPLIT = 1 ] && echo "split-stack: -fsplit-stack, $SPLIT_LDFLAGS; clang $(clang -dumpversion 2>/dev/null || echo '-')"
    [ $HAVE_BOOST = 1 ] && echo "boost: $(dpkg-query -W -f='${Version}' libboost-fiber-dev 2>/dev/null || echo '?'), g++ $(g++ -dumpversion) -O2"
    echo "rounds: $ROUNDS, procs: $PROCS (1 for yield, spinwait, handoff, handoff_pipe, memset_ticker, quantum, prologue)"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RAW/env.txt"
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" 'BEGIN{exit !(l > 0.5)}'; then
    log "bench: warning: load average is $load1: other work on this machine will skew the results"
fi

ONLY=${BENCH_ONLY:-}
ONLY=${ONLY//issue10/echo1k http idle10k}
ONLY=${ONLY//issue11/stop_fib stop_loop prologue}
ONLY=${ONLY//issue12/skynet sieve pool sleepers pipeline msort}
ONLY=${ONLY//issue13/rwmutex rwmutex1w timers ctxfan}
START=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
    log "=== round $round/$ROUNDS ($(( $(date +%s) - START ))s elapsed)"
    while read -r name label procs rounds cmd; do
        [ -z "$name" ] && continue
        if [ -n "$ONLY" ]; then
            case " $ONLY " in *" $name "*) ;; *) continue ;; esac
        fi
        [ "$round" -le "$rounds" ] || continue
        available "$label" "$name" || continue
        envs=(BENCH_SAMPLES="$RAW/samples/$name-$label-r$round.txt")
        case $label in
            gort|gort-split|gort-gcc|gort-clang|gort-warm) envs+=(GORTMAXPROCS="$procs") ;;
            gort-split-sig) envs+=(GORTMAXPROCS="$procs" GORTDEBUG=prologuepreemptoff=1) ;;
            gort-q1ms) envs+=(GORTMAXPROCS="$procs" GORTDEBUG=quantum=1ms) ;;
            gort-q100us) envs+=(GORTMAXPROCS="$procs" GORTDEBUG=quantum=100us) ;;
            go|go-warm) envs+=(GOMAXPROCS="$procs") ;;
            boost) envs+=(BENCH_THREADS="$procs") ;;
            floor) envs+=(GORTMAXPROCS="$procs") ;; # its thread count
        esac
        logf="$RAW/logs/$name-$label-r$round.log"
        t0=$(date +%s.%N)
        load_before=$(cut -d' ' -f1 /proc/loadavg)
        # shellcheck disable=SC2086
        env "${envs[@]}" timeout -k 5 "$TIMEOUT" $cmd < /dev/null > "$logf" 2>&1
        rc=$?
        secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
        line=$(grep -m1 '^RESULT ' "$logf")
        if [ $rc -eq 0 ] && [ -n "$line" ]; then
            echo "$line label=$label round=$round secs=$secs load1=$load_before" >> "$RAW/results.txt"
            val=$(printf '%s\n' "$line" | sed -n 's/.* value=\([^ ]*\).*/\1/p')
            unit=$(printf '%s\n' "$line" | sed -n 's/.* unit=\([^ ]*\).*/\1/p')
            printf '  [%d/%d] %-15s %-11s %14s %-6s (%ss)\n' "$round" "$ROUNDS" "$name" "$label" "$val" "$unit" "$secs" >&2
        else
            why="exit $rc"
            { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && why="timeout ${TIMEOUT}s"
            echo "FAIL name=$name label=$label round=$round rc=$rc" >> "$RAW/results.txt"
            printf '  [%d/%d] %-15s %-11s FAILED (%s), log: %s\n' "$round" "$ROUNDS" "$name" "$label" "$why" "$logf" >&2
            tail -n 5 "$logf" | sed 's/^/      | /' >&2
        fi
    done <<< "$PLAN"
done
log "=== done in $(( $(date +%s) - START ))s"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg) (run took $(( $(date +%s) - START ))s)" >> "$RAW/env.txt"

python3 bench/report.py "$RAW" bench/results.md bench/results.svg

# The floor under signal-based stop-the-world on this machine (siglat.c).
if $CC -std=gnu11 -O2 -pthread bench/siglat.c -o "$OUT/siglat" 2>/dev/null &&
   sl=$(timeout 60 "$OUT/siglat" 2000); then
    p50=$(printf '%s\n' "$sl" | sed -n 's/.* p50=\([0-9]*\).*/\1/p')
    p99=$(printf '%s\n' "$sl" | sed -n 's/.* p99=\([0-9]*\).*/\1/p')
    log "bench: raw SIGURG delivery to a spinning thread: p50 ${p50} ns, p99 ${p99} ns"
    cat >> bench/results.md <<EOT

## The floor under stop-the-world

Raw \`tgkill(SIGURG)\` delivery to a thread spinning in user code, no runtime
involved (\`bench/siglat.c\`, 2000 deliveries, measured right after the run
above): p50 $(awk -v x="$p50" 'BEGIN{printf "%.1f", x/1000}') µs, p99 $(awk -v x="$p99" 'BEGIN{printf "%.1f", x/1000}') µs.  Any stop-the-world that must stop a
goroutine in a call-free loop waits at least this long, so the STW target
(p99 <= 0.1 x Go's) cannot be met when 0.1 x Go's p99 is below this floor.
EOT
fi

# The floor under a request-to-stop without signals (stopfloor.c): the
# issue 11 split-stack target is judged against it.
if [ $HAVE_SPLIT = 1 ] && $CC -std=gnu11 -O2 -pthread bench/stopfloor.c -o "$OUT/stopfloor" 2>/dev/null &&
   sf=$(timeout 60 "$OUT/stopfloor" 10000); then
    sfv() { printf '%s\n' "$sf" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
    log "bench: raw cross-CPU request/acknowledge after a 100 us sleep: p50 $(sfv p50) ns, p99 $(sfv p99) ns"
    cat >> bench/results.md <<EOT

## The floor under a request-to-stop without signals

A thread sleeps 100 µs, as stop_fib's stopper does, then asks a thread
spinning on the other CPU to acknowledge through memory, pinned, no runtime
involved (\`bench/stopfloor.c\`, 10,000 samples, measured right after the run
above): p50 $(sfv p50) ns, p99 $(sfv p99) ns, $(sfv over2us_pct) % of the samples over
2 µs.  The spinner lost its CPU for more than 10 µs $(sfv gaps10_per_s) times a second
(median $(awk -v x="$(sfv gapmed_ns)" 'BEGIN{printf "%.1f", x/1000}') µs; $(sfv lost_pct) % of its time).  A poison-the-guard stop
needs this hand-shake and more (the prologue's call into the runtime, the
switch to g0, the P's state change), so the split-stack request-to-stop p99
can be no lower; what the runtime adds on top is the difference.
EOT
fi
