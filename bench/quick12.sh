#!/usr/bin/env bash
# bench/quick12.sh — a quick A/B of issue 12's whole programs against
# their Go twins, for helpers measuring a runtime change without a full
# `make bench`:
#
#   BUILD=build bash bench/quick12.sh [ROUNDS] [program ...]
#
# From another branch's tree (the programs live on prog12 until merged):
#   git archive prog12 bench | tar -x -C /tmp/b12
#   GORT_ROOT=$PWD BUILD=build bash /tmp/b12/bench/quick12.sh 3 skynet
# (the programs and twins come from the script's own directory, include/
# and $BUILD/libgort.a from GORT_ROOT, default the script's repository).
#
# Builds bench/<program>.c against $BUILD/libgort.a and the Go twins into
# $OUT (default /tmp/quick12-$USER), then runs gort and Go interleaved
# ROUNDS times (default 3) at 2 Ps under `perf stat` when perf works, and
# prints each run's wall value and CPU time (task-clock, ms) plus the
# median gort/Go ratios of both.  CPU time is the steadier figure on a
# machine shared with other work; the wall time is what the issue's
# targets judge.  Programs: skynet sieve pool sleepers pipeline msort.
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
cd "${GORT_ROOT:-$BENCH/..}" || exit 1
BUILD=${BUILD:-build}
CC=${CC:-cc}
ROUNDS=${1:-3}
shift 2>/dev/null || true
PROGS=${*:-skynet sieve pool sleepers pipeline msort}
OUT=${OUT:-/tmp/quick12-${USER:-$(id -u)}}
GO=/usr/lib/go-1.19/bin/go
mkdir -p "$OUT"
[ -f "$BUILD/libgort.a" ] || make -s BUILD="$BUILD" lib || exit 1
for b in $PROGS; do
    $CC -std=gnu11 -O2 -Wall -Wextra -pthread -Iinclude -I"$BENCH" "$BENCH/$b.c" -o "$OUT/$b" \
        "$BUILD/libgort.a" -pthread -ldl -lm || exit 1
done
(cd "$BENCH/go" && env GOCACHE="$OUT/gocache" GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 \
    "$GO" build -o "$OUT/gobench" .) || exit 1
PERF=""
perf stat -x, -e task-clock true >/dev/null 2>&1 && PERF=1
: > "$OUT/runs.txt"
for r in $(seq 1 "$ROUNDS"); do
    for b in $PROGS; do
        for impl in gort go; do
            if [ $impl = gort ]; then cmd=("$OUT/$b"); else cmd=("$OUT/gobench" "$b"); fi
            if [ -n "$PERF" ]; then
                line=$(GORTMAXPROCS=2 GOMAXPROCS=2 perf stat -x, -e task-clock -o "$OUT/stat" \
                       "${cmd[@]}" 2>/dev/null | grep '^RESULT')
                cpu=$(awk -F, '/task-clock/{printf "%.0f", $1}' "$OUT/stat")
            else
                line=$(GORTMAXPROCS=2 GOMAXPROCS=2 "${cmd[@]}" 2>/dev/null | grep '^RESULT')
                cpu=0
            fi
            val=$(printf '%s\n' "$line" | sed -n 's/.* value=\([^ ]*\).*/\1/p')
            [ -n "$val" ] || { echo "FAILED: $b $impl" >&2; val=nan; }
            printf '%s %s %s %s %s\n' "$b" "$impl" "$r" "$val" "$cpu" | tee -a "$OUT/runs.txt"
        done
    done
done
python3 - "$OUT/runs.txt" <<'PY'
import sys, statistics as st
d = {}
for l in open(sys.argv[1]):
    b, impl, r, v, c = l.split()
    d.setdefault((b, impl), []).append((float(v), float(c)))
print("%-9s %10s %10s %6s   %9s %9s %6s  (medians; load %s)" % (
    "program", "gort ms", "go ms", "ratio", "gort cpu", "go cpu", "ratio",
    open("/proc/loadavg").read().split()[0]))
for b in dict.fromkeys(k[0] for k in d):
    g, o = d.get((b, "gort"), []), d.get((b, "go"), [])
    if not g or not o:
        continue
    gw, ow = st.median(x[0] for x in g), st.median(x[0] for x in o)
    gc, oc = st.median(x[1] for x in g), st.median(x[1] for x in o)
    print("%-9s %10.1f %10.1f %6.2f   %9.0f %9.0f %6s" % (
        b, gw, ow, gw / ow, gc, oc, "%.2f" % (gc / oc) if oc else "-"))
PY
