#!/usr/bin/env bash
# bench/http_wrk.sh — issue 10's HTTP benchmark: drive one HTTP hello server
# with Debian's wrk and print one RESULT line.
#
#   bash bench/http_wrk.sh IMPL SERVER_CMD [ARGS...]
#
# The server is started as `SERVER_CMD ARGS... 127.0.0.1:PORT` (a free port
# picked here, below the ephemeral range) and must answer `GET /` with
# 200 and "Hello, World!\n", HTTP/1.1 keep-alive.  gort's server is
# examples/httpd (built by the Makefile), Go's `gobench httpd` (net/http).
#
# Load: wrk -t WRK_THREADS (2) -c WRK_CONNS (256) --latency, a 1 s warm-up
# run (discarded: lets Go size its heap and both servers accept every
# connection), then a WRK_SECS (3 s) measured run.  wrk runs on the same
# 2 CPUs as the server, no pinning, the same way for every server: each
# server pays for wrk's CPU alike.  The server's CPU time over the measured
# run (/proc/PID/stat) is reported per request (server_cpu_us_per_req),
# which does not depend on how the CPUs were shared, with wrk's own
# (wrk_cpu_us_per_req).
#
#   RESULT name=http impl=IMPL unit=req/s value=<Requests/sec>
#          p50_ns= p90_ns= p99_ns= max_ns= bytes_per_req= ...
#
# Fails (exit 1, no RESULT) if the server does not come up in 10 s, the
# hello response is wrong, or wrk reports socket errors or non-2xx answers.
set -u
[ $# -ge 2 ] || { echo "usage: http_wrk.sh IMPL SERVER_CMD [ARGS...]" >&2; exit 2; }
IMPL=$1; shift
THREADS=${WRK_THREADS:-2}
CONNS=${WRK_CONNS:-256}
SECS=${WRK_SECS:-3}
WRK=${WRK:-wrk}
command -v "$WRK" >/dev/null 2>&1 || { echo "http_wrk: no wrk" >&2; exit 2; }
TMP=$(mktemp -d)
SPID=
cleanup() {
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "http_wrk: $*" >&2; [ -s "$TMP/server.log" ] && tail -n 5 "$TMP/server.log" >&2; exit 1; }

# The server's user+system CPU seconds (/proc/PID/stat fields 14 and 15;
# the command field may hold spaces, so count from the last ')').
cpu_of() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
    s=${s##*) }
    awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f", ($12 + $13) / t }' <<< "$s"
}

# A port no one listens on, below the ephemeral range (the client's 256
# sockets take ephemeral ports); retried if the server cannot bind it.
up=0
for _ in 1 2 3 4 5; do
    PORT=$(( 20000 + (RANDOM % 10000) ))
    # Someone else's listener there would answer our readiness check.
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && continue
    "$@" "127.0.0.1:$PORT" > "$TMP/server.log" 2>&1 < /dev/null &
    SPID=$!
    for _ in $(seq 100); do
        if ! kill -0 "$SPID" 2>/dev/null; then break; fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    [ $up = 1 ] && break
    kill -KILL "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
done
[ $up = 1 ] || fail "the server ($*) did not accept connections on 127.0.0.1:$PORT within 10 s"

# One request by hand: status line and body.
resp=$( exec 3<>"/dev/tcp/127.0.0.1/$PORT" &&
        printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 &&
        timeout 5 cat <&3 ) || fail "no answer to GET /"
case $resp in
    "HTTP/1.1 200"*) ;;
    *) fail "GET / answered: $(printf '%s' "$resp" | head -n 1)" ;;
esac
body=${resp#*$'\r\n\r\n'}
[ "$body" = "Hello, World!" ] || [ "$body" = $'Hello, World!\n' ] ||
    fail "GET / body is not \"Hello, World!\\n\": $(printf '%q' "$body")"
hdr_bytes=$(( ${#resp} - ${#body} ))

URL="http://127.0.0.1:$PORT/"
"$WRK" -t "$THREADS" -c "$CONNS" -d 1s "$URL" > "$TMP/warm.txt" 2>&1 || fail "wrk (warm-up) failed"
c0=$(cpu_of "$SPID")
TIMEFORMAT='%U %S'
{ time "$WRK" -t "$THREADS" -c "$CONNS" -d "${SECS}s" --latency "$URL" > "$TMP/wrk.txt" 2>&1; } 2> "$TMP/time.txt" ||
    { cat "$TMP/wrk.txt" >&2; fail "wrk failed"; }
c1=$(cpu_of "$SPID")
kill -0 "$SPID" 2>/dev/null || fail "the server died during the run"
threads=$(awk '/^Threads:/ {print $2}' "/proc/$SPID/status" 2>/dev/null)
rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$SPID/status" 2>/dev/null)

grep -q '^ *Socket errors' "$TMP/wrk.txt" && { cat "$TMP/wrk.txt" >&2; fail "wrk reported socket errors"; }
grep -q 'Non-2xx or 3xx' "$TMP/wrk.txt" && { cat "$TMP/wrk.txt" >&2; fail "wrk got non-2xx answers"; }

# wrk prints durations as 123.45us / 1.23ms / 1.23s / 2.00m.
python3 - "$TMP/wrk.txt" "$TMP/time.txt" "$IMPL" "$c0" "$c1" "$THREADS" "$CONNS" "${threads:--1}" \
    "${rss:--1}" "$hdr_bytes" <<'EOF'
import re, sys
wrk, timef, impl, c0, c1, thr, conns, sthreads, rss, hdr = sys.argv[1:]
text = open(wrk).read()
def dur(s):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9}[m.group(2)]
def size(s):
    m = re.match(r"([\d.]+)([KMG]?B)$", s)
    return float(m.group(1)) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[m.group(2)]
rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
reqs = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
if not rps or not reqs:
    sys.exit("http_wrk: cannot parse wrk's output:\n" + text)
rps, nreq, secs = float(rps.group(1)), int(reqs.group(1)), dur(reqs.group(2)) / 1e9
pct = {p: dur(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M)}
lat = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
xfer = re.search(r"Transfer/sec:\s*(\S+)", text)
u, s = (float(x) for x in open(timef).read().split()[-2:])
c0, c1 = float(c0), float(c1)
scpu = (c1 - c0) if c0 >= 0 and c1 >= 0 else None
f = lambda v: "%.0f" % v if v is not None else "-1"
print("RESULT name=http impl=%s unit=req/s value=%.0f p50_ns=%s p75_ns=%s p90_ns=%s p99_ns=%s "
      "max_ns=%s requests=%d secs=%.2f wrk_threads=%s conns=%s bytes_per_req=%.0f "
      "header_bytes=%s server_cpu_us_per_req=%s server_cores=%s wrk_cpu_us_per_req=%.2f "
      "wrk_cores=%.2f server_threads=%s server_rss=%s" % (
          impl, rps, f(pct.get("50")), f(pct.get("75")), f(pct.get("90")), f(pct.get("99")),
          f(dur(lat.group(3)) if lat else None), nreq, secs, thr, conns,
          size(xfer.group(1)) / rps if xfer and rps else -1, hdr,
          "%.2f" % (scpu * 1e6 / nreq) if scpu is not None else "-1",
          "%.2f" % (scpu / secs) if scpu is not None else "-1",
          (u + s) * 1e6 / nreq, (u + s) / secs, sthreads, rss))
EOF
