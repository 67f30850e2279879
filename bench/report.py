#!/usr/bin/env python3
"""report.py — turn bench/run.sh's raw output into bench/results.md and an
SVG of plots (latency CDFs and relative-throughput bars).

Usage: report.py RAW_DIR RESULTS_MD RESULTS_SVG

RAW_DIR holds results.txt (one `RESULT key=value ...` line per run, with
label= and round= appended by run.sh, or `FAIL ...`), env.txt, and
samples/<bench>-<label>-r<round>.txt (raw latency samples in ns).
Plain python3 only: the SVG is written by hand, no matplotlib needed.
"""
import glob
import math
import os
import statistics
import sys

# name, description, unit, target gort/Go ratio (None: no ratio target)
BENCHES = [
    ("spawn", "goroutine spawn+join, 1M, WaitGroup (per goroutine)", 0.7),
    ("pingpong", "unbuffered ping-pong (per round trip)", 0.7),
    ("yield", "yield ping-pong, 1 P (per yield)", 1.0),
    ("buffered", "buffered channel cap 128, producer->consumer (per msg)", 1.0),
    ("select", "select over 4 channels (per select)", 1.0),
    ("mutex", "contended mutex, 8 goroutines on 2 Ps (per op)", 1.0),
    ("rwmutex", "read-mostly RWMutex, 8 goroutines on 2 Ps, 1 op in 100 a write (per op)", 1.0),
    ("rwmutex1w", "read-mostly RWMutex, 8 goroutines on 2 Ps, one of them writing "
     "1 op in 100 (per op)", 1.0),
    ("parked_rss", "1M goroutines parked on a channel: RSS per goroutine", 1.6),
    ("stw", "stop-the-world pause p99, P-1 Ps spinning call-free", 0.1),
    ("sleeper", "1 ms sleeper wake-up lateness p99, every P hogged", 0.35),
    ("spinwait", "seed spin-wait on 1 P: time to finish (median)", None),
    ("compute", "call-free loop overhead, gort vs plain threads", None),
    ("echo", "TCP echo, 50 conns, blocking read/write, 64 B (per round trip, all conns)", None),
    # issue 8: blocking calls never hold a P (absolute targets: ABSOLUTE)
    ("handoff", "hand-off: a runnable goroutine runs after its P's goroutine "
     "enters usleep(1000), 1 P (p99)", None),
    ("handoff_pipe", "hand-off: the same, into a blocking pipe read() (p99)", None),
    ("memset_ticker", "1 ms ticker lateness p99 beside a 1 GiB memset, 1 P", None),
    ("stw_shared", "stop-the-world pause p99, every P spinning, stopper sharing a P", None),
    ("stw_syscall", "stop-the-world pause MAX, goroutines in sleep(2) and usleep(100)", None),
    ("eintr", "EINTR failures in 100k nanosleep/ppoll/select calls beside hogs", None),
    ("syscall_bracket", "system-call bracket fast path, enter+exit (Go: Syscall - RawSyscall)",
     None),
    ("quantum", "p99 time slice / quantum, 2 spinners on 1 P", None),
    # issue 13: timers and contexts (summary table, ratio targets)
    ("timers", "timer start+stop+free churn, 100k timers live (per timer)", 1.0),
    ("ctxfan", "context cancel fan-out: 10k waiters, each on its own child (to last wake)", 1.0),
    # issue 10: the netpoller (own section, write_issue10: req/s, higher is better)
    ("echo1k", "TCP echo on the netpoller, 1000 conns, 64 B ping-pong (req/s)", None),
    ("http", "HTTP/1.1 hello, wrk -t2 -c256 (req/s)", None),
    ("idle10k", "10,000 idle connections: server RSS per connection", None),
    # issue 11: split-stack mode (own section, write_issue11)
    ("stop_fib", "stop-the-world, P-1 Ps running fib: request-to-stop (stop_p*) and pause", None),
    ("stop_loop", "stop-the-world, P-1 Ps in a call-free loop: request-to-stop and pause", None),
    ("prologue", "split-stack prologue overhead on call-heavy kernels (%)", None),
    # issue 12: whole programs (own section, write_issue12)
    ("skynet", "skynet: 10-ary tree of 1,111,111 goroutines summing over channels", 0.7),
    ("sieve", "concurrent prime sieve, a chain of 3000 filters", 0.7),
    ("pool", "worker pool: 1000 goroutines on a 2-case select, 500k jobs", 0.7),
    ("sleepers", "10,000 goroutines sleeping 1-10 ms, 20 times each (wall)", 1.0),
    ("pipeline", "pipeline: source, 6 stages, sink over cap-128 channels, 1M items", 0.7),
    ("msort", "parallel merge sort of 2M int64, goroutine per half above 2048", 0.7),
]
# Issue 10's benchmarks: not in the summary table (their values are
# requests per second, higher is better, or bytes); write_issue10 judges them.
ISSUE10 = {"echo1k", "http", "idle10k"}
ISSUE10_PROCS = 2  # GORTMAXPROCS of the idle10k runs (bench/run.sh's PROCS)
# Issue 11's benchmarks: their own section (write_issue11), not the summary.
ISSUE11 = {"stop_fib", "stop_loop", "prologue"}
# Issue 12's whole programs: their own section (write_issue12).
ISSUE12 = ["skynet", "sieve", "pool", "sleepers", "pipeline", "msort"]
# Absolute targets (issue 8): name -> (label judged, how the rounds' values
# are combined, limit, text).  A value must be <= limit.  "max": the worst
# round (a maximum or a count must hold in every run), "median": the
# median round, as the ratio targets are judged.
ABSOLUTE = {
    "handoff": ("gort", "median", 100e3, "p99 ≤ 100 µs"),
    "handoff_pipe": ("gort", "median", 100e3, "p99 ≤ 100 µs"),
    "memset_ticker": ("gort", "median", 2e6, "p99 ≤ 2 ms"),
    "stw_shared": ("gort", "median", 100e3, "p99 ≤ 100 µs"),
    "stw_syscall": ("gort", "max", 1e6, "max ≤ 1 ms"),
    "eintr": ("gort-q100us", "max", 0, "0"),
    "syscall_bracket": ("gort", "median", 20, "≤ 20 ns"),
    "quantum": ("gort-q100us", "median", 1.2, "≤ 1.2"),
}
# Targets against a twin other than Go: name -> (label, minimum throughput
# ratio twin/gort of the medians, i.e. gort's round trips per second at least
# that fraction of the twin's).
TWIN_TARGET = {"echo": ("threads", 0.8)}
# The sleeper's target compares gort at a 1 ms slice with Go's fixed 10 ms.
TARGET_LABEL = {"sleeper": "gort-q1ms"}
BOOST_TWINS = {"spawn", "pingpong", "yield", "buffered", "mutex", "parked_rss"}
COMPUTE_TARGET_PCT = 1.0
COUNTERS = ["procs", "threads", "ctxsw", "steals", "async_preempts", "sync_preempts",
            "prologue_preempts", "preempt_requests", "signals", "stw", "syscalls", "handoffs"]
COLORS = {"gort": "#1f77b4", "gort-q1ms": "#17becf", "gort-q100us": "#9467bd",
          "go": "#2ca02c", "boost": "#d62728",
          "usleep gort": "#1f77b4", "usleep go": "#2ca02c",
          "pipe gort": "#17becf", "pipe go": "#98df8a",
          "shared gort": "#1f77b4", "shared go": "#2ca02c",
          "syscall gort": "#17becf", "syscall go": "#98df8a"}
# Plotted (SVG) and listed in the distribution table.
LATENCY = [("stw", "Stop-the-world pause (caller's view)"),
           ("sleeper", "1 ms sleeper lateness, every P hogged"),
           ("spinwait", "Spin-wait on 1 P: time to finish")]
# Listed in the distribution table only (the SVG's last row plots the
# hand-off and the issue-8 stop-the-world samples in two panels).
LATENCY_TABLE = LATENCY + [
    ("handoff", "hand-off into usleep(1000)"),
    ("handoff_pipe", "hand-off into a pipe read()"),
    ("memset_ticker", "1 ms ticker lateness beside a 1 GiB memset"),
    ("stw_shared", "stop-the-world, every P spinning"),
    ("stw_syscall", "stop-the-world beside sleep(2)"),
    ("quantum", "time slices (ns)"),
    ("stop_fib", "stop-the-world pause, P-1 Ps running fib"),
    ("stop_loop", "stop-the-world pause, P-1 Ps in a call-free loop")]


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def load(raw):
    runs, fails = [], {}
    path = os.path.join(raw, "results.txt")
    if not os.path.exists(path):
        return runs, fails
    for line in open(path):
        words = line.split()
        if not words:
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] == "RESULT":
            runs.append(kv)
        elif words[0] == "FAIL":
            key = (kv.get("name"), kv.get("label"))
            fails[key] = fails.get(key, 0) + 1
    return runs, fails


def group(runs):
    g = {}
    for r in runs:
        g.setdefault((r["name"], r.get("label", r.get("impl"))), []).append(r)
    return g


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def field(rs, k):
    return med([num(r[k]) for r in rs if k in r])


def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("ns", "ns/op"):
        suffix = "/op" if unit == "ns/op" else ""
        a = abs(v)
        if a >= 1e9:
            return "%.3f s%s" % (v / 1e9, suffix)
        if a >= 1e6:
            return "%.2f ms%s" % (v / 1e6, suffix)
        if a >= 1e4:
            return "%.1f µs%s" % (v / 1e3, suffix)
        if a >= 1e3:
            return "%.2f µs%s" % (v / 1e3, suffix)
        return "%.1f ns%s" % (v, suffix)
    if unit == "bytes":
        return "%.0f B" % v
    if unit == "%":
        return "%+.2f %%" % v
    if unit == "count":
        return "%.0f" % v
    return "%.4g %s" % (v, unit)


def scale_of(v, unit):
    """(divisor, unit text) for showing values around v."""
    if unit in ("ns", "ns/op"):
        suffix = "/op" if unit == "ns/op" else ""
        a = abs(v)
        if a >= 1e9:
            return 1e9, "s" + suffix
        if a >= 1e6:
            return 1e6, "ms" + suffix
        if a >= 1e3:
            return 1e3, "µs" + suffix
        return 1, "ns" + suffix
    if unit == "bytes":
        return 1, "B"
    return 1, unit


def fmt_spread(vals, unit):
    """median (min – max) unit, all in the median's scale."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return "—"
    m = med(vals)
    if len(vals) == 1:
        return fmt(m, unit)
    div, u = scale_of(m, unit)
    digits = lambda x: ("%.0f" if unit == "bytes" else
                        "%+.2f" if unit == "%" else
                        "%.1f" if abs(x / div) >= 10 else "%.2f") % (x / div)
    return "%s (%s – %s) %s" % (digits(m), digits(min(vals)), digits(max(vals)), u)


def samples(raw, name, label):
    out = []
    for p in sorted(glob.glob(os.path.join(raw, "samples", "%s-%s-r*.txt" % (name, label)))):
        for line in open(p):
            v = num(line.strip())
            if v is not None:
                out.append(v)
    out.sort()
    return out


def q(s, p):
    if not s:
        return None
    k = min(len(s), max(1, math.ceil(p * len(s))))
    return s[k - 1]


def absolute_value(vals, agg):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    if agg == "max":
        return max(vals)
    if agg == "min":
        return min(vals)
    return med(vals)


def write_absolute(L, g, fails):
    """The issue-8 targets, absolute numbers, gort beside Go."""
    def rs(name, lab):
        return g.get((name, lab), [])

    def vals(name, lab, k="value"):
        return [num(r[k]) for r in rs(name, lab) if k in r and num(r[k]) is not None]

    def cell(name, lab, k="value", unit="ns", agg="median"):
        v = vals(name, lab, k)
        if not v:
            return "FAIL×%d" % fails[(name, lab)] if (name, lab) in fails else "—"
        text = fmt(absolute_value(v, agg), unit)
        if len(v) > 1:
            text += " (%s)" % ("worst of %d runs" % len(v) if agg == "max" else
                               "shortest of %d runs" % len(v) if agg == "min" else
                               "median of %d runs, worst %s" % (len(v), fmt(max(v), unit)))
        if (name, lab) in fails:
            text += " FAIL×%d" % fails[(name, lab)]
        return text

    def met(name, k="value", limit=None, agg=None, ge=False):
        alab, aagg, alimit, _ = ABSOLUTE.get(name, ("gort", "median", None, ""))
        v = absolute_value(vals(name, alab, k), agg or aagg)
        lim = alimit if limit is None else limit
        if (name, alab) in fails:  # a run that failed cannot have met it
            return "**no** (failed runs)"
        if v is None:
            return "—"
        return "yes" if (v >= lim if ge else v <= lim) else "**no**"

    L.append("## Issue 8 targets: blocking calls never hold a P\n")
    L.append("Absolute targets. Each cell is the median of the runs' values (the worst "
             "run for a maximum or a count, which must hold in every run); all samples "
             "pooled are in the distribution table below. Go 1.19 makes the same calls "
             "through package syscall (entersyscall/exitsyscall; its sysmon retakes a P "
             "after 20 µs-10 ms); Go's slice is fixed at 10 ms.\n")
    L.append("| target | gort | Go 1.19 | met |")
    L.append("|---|---|---|---|")
    row = lambda *c: L.append("| " + " | ".join(c) + " |")
    row("hand-off, 1 P: runnable goroutine runs after usleep(1000) begins — p99 ≤ 100 µs",
        cell("handoff", "gort"), cell("handoff", "go"), met("handoff"))
    row("  … p50 (information)", cell("handoff", "gort", "p50"), cell("handoff", "go", "p50"), "")
    row("hand-off, 1 P: … after a blocking pipe read() begins — p99 ≤ 100 µs",
        cell("handoff_pipe", "gort"), cell("handoff_pipe", "go"), met("handoff_pipe"))
    row("  … p50 (information)", cell("handoff_pipe", "gort", "p50"),
        cell("handoff_pipe", "go", "p50"), "")
    row("1 ms ticker beside a 1 GiB memset, 1 P: lateness p99 ≤ 2 ms",
        cell("memset_ticker", "gort"), cell("memset_ticker", "go"), met("memset_ticker"))
    row("stop-the-world, every P spinning, stopper sharing a P: p99 ≤ 100 µs",
        cell("stw_shared", "gort"), cell("stw_shared", "go"), met("stw_shared"))
    row("stop-the-world beside a goroutine in sleep(2): max ≤ 1 ms",
        cell("stw_syscall", "gort", agg="max"), cell("stw_syscall", "go", agg="max"),
        met("stw_syscall"))
    row("EINTR in 100k nanosleep/ppoll/select (10 µs) beside hogs, quantum=100us: 0",
        cell("eintr", "gort-q100us", unit="count", agg="max"),
        cell("eintr", "go", unit="count", agg="max"), met("eintr"))
    row("sleep(2) beside them sleeps ≥ 2 s (shortest run)",
        cell("eintr", "gort-q100us", "sleep2_ns", agg="min"),
        cell("eintr", "go", "sleep2_ns", agg="min"),
        met("eintr", "sleep2_ns", limit=2e9, agg="min", ge=True))
    row("  … time the 100k calls took beside the hogs (information)",
        cell("eintr", "gort-q100us", "secs_measured", unit="s"),
        cell("eintr", "go", "secs_measured", unit="s"), "")
    row("system-call bracket fast path (enter + exit): ≤ 20 ns",
        cell("syscall_bracket", "gort", unit="ns/op"),
        cell("syscall_bracket", "go", unit="ns/op") + " (Syscall − RawSyscall)",
        met("syscall_bracket"))
    row("  … Go's bracket back to back in a tight loop (information)", "—",
        cell("syscall_bracket", "go", "bracket_tight_ns", unit="ns/op"), "")
    row("  … a wrapped syscall(SYS_getppid) minus the raw system call (information)",
        cell("syscall_bracket", "gort", "getppid_wrap_ns", unit="ns/op"),
        cell("syscall_bracket", "go", "getppid_wrap_ns", unit="ns/op"), "")
    row("  … a wrapped read() of 0 bytes minus the raw system call (information)",
        cell("syscall_bracket", "gort", "read_wrap_ns", unit="ns/op"), "—", "")
    row("time slice at quantum=100us, 2 spinners on 1 P: p99 ≤ 1.2 quanta (Go: 10 ms slice)",
        cell("quantum", "gort-q100us", unit="x"), cell("quantum", "go", unit="x"), met("quantum"))
    row("  … p50 slice / quantum (information)", cell("quantum", "gort-q100us", "p50_x", unit="x"),
        cell("quantum", "go", "p50_x", unit="x"), "")
    row("  … the OS's floor: p99 lateness of a plain thread's 50 µs nanosleep (information)",
        cell("quantum", "gort-q100us", "os_wake_p99"), "—", "")
    L.append("")
    L.append("The blocking-socket echo server target (within 20% of thread-per-connection) "
             "is the echo row of the summary. Not measured here: \"ping-pong, yield, "
             "buffered, select and mutex not slower than before by more than 3%\", which "
             "needs the summary table above from a run before the change beside this one.\n")


def write_issue10(L, g, fails):
    """Issue 10's targets: the netpoller's servers against Go's."""
    if not any(n in ISSUE10 for (n, _) in list(g) + list(fails)):
        return

    def vals(name, lab, k="value"):
        return [num(r[k]) for r in g.get((name, lab), []) if k in r and num(r[k]) is not None]

    def failed(name, lab):
        return " FAIL×%d" % fails[(name, lab)] if (name, lab) in fails else ""

    def cell(name, lab, k="value", unit="req/s", agg="median"):
        v = vals(name, lab, k)
        if not v:
            return ("FAIL×%d" % fails[(name, lab)]) if (name, lab) in fails else "—"
        if agg == "max":
            text = fmt(max(v), unit) + (" (worst of %d runs)" % len(v) if len(v) > 1 else "")
        elif unit == "req/s":
            m = med(v)
            text = "%.0f (%.0f – %.0f)" % (m, min(v), max(v)) if len(v) > 1 else "%.0f" % m
        else:
            text = fmt_spread(v, unit)
        return text + failed(name, lab)

    def ratio(name, k="value"):
        a, b = med(vals(name, "gort", k)), med(vals(name, "go", k))
        return a / b if a is not None and b else None

    def judge(name, ok):
        if (name, "gort") in fails:
            return "**no** (failed runs)"
        return "—" if ok is None else ("yes" if ok else "**no**")

    L.append("## Issue 10 targets: the netpoller's servers against Go's\n")
    L.append("gort at GORTMAXPROCS=2, Go 1.19 at GOMAXPROCS=2, each server its own process "
             "driven by the same load generator on the same 2 CPUs (no pinning; the "
             "generator's CPU is shared the same way for both). Cells: median over rounds "
             "(min – max); latencies are each run's percentile, median over runs. "
             "Ratios are gort / Go of the medians.\n")
    L.append("| target | gort | Go 1.19 | gort/Go | met |")
    L.append("|---|---|---|---|---|")
    row = lambda *c: L.append("| " + " | ".join(c) + " |")
    r = ratio("echo1k")
    row("echo, 1000 conns, 64 B ping-pong (`echo_load` → `echo_netpoll` / `gobench echo`): "
        "req/s ≥ 1.3 × Go", cell("echo1k", "gort"), cell("echo1k", "go"),
        "%.2f" % r if r else "—", judge("echo1k", None if r is None else r >= 1.3))
    def direct_rows(name):
        """The same server with iobatch off: the direct socket calls every
        program gets where io_uring is not usable (information)."""
        a, b = med(vals(name, "gort-direct")), med(vals(name, "go"))
        if a is None:
            return
        row("  … with `GORTDEBUG=iobatch=0` (direct socket calls, as where io_uring is not "
            "usable; information): req/s", cell(name, "gort-direct"), cell(name, "go"),
            "%.2f" % (a / b) if b else "—", "")
        pa, pb = (med(vals(name, "gort-direct", "p99_ns")), med(vals(name, "go", "p99_ns")))
        if pa is not None and pb:
            row("  … … its p99 latency (information)", cell(name, "gort-direct", "p99_ns", "ns"),
                cell(name, "go", "p99_ns", "ns"), "%.2f" % (pa / pb), "")
        ca, cb = (med(vals(name, "gort-direct", "server_cpu_us_per_req")),
                  med(vals(name, "go", "server_cpu_us_per_req")))
        if ca is not None and cb:
            row("  … … its server CPU per request, µs (information)",
                cell(name, "gort-direct", "server_cpu_us_per_req", "µs"),
                cell(name, "go", "server_cpu_us_per_req", "µs"), "%.2f" % (ca / cb), "")

    def batch_row(name):
        oa, ob = med(vals(name, "gort", "io_batched")), med(vals(name, "gort", "io_batches"))
        if oa is not None and ob:
            row("  … socket calls per io_uring_enter (information: iobatch, the default)",
                "%.1f" % (oa / ob), "", "", "")

    batch_row("echo1k")
    direct_rows("echo1k")
    r = ratio("echo1k", "p99_ns")
    row("  … p99 latency ≤ Go", cell("echo1k", "gort", "p99_ns", "ns"),
        cell("echo1k", "go", "p99_ns", "ns"), "%.2f" % r if r else "—",
        judge("echo1k", None if r is None else r <= 1.0))
    r = ratio("echo1k", "p50_ns")
    row("  … p50 latency (information)", cell("echo1k", "gort", "p50_ns", "ns"),
        cell("echo1k", "go", "p50_ns", "ns"), "%.2f" % r if r else "—", "")
    r = ratio("echo1k", "server_cpu_us_per_req")
    row("  … server CPU per request, µs (information: independent of the CPU sharing)",
        cell("echo1k", "gort", "server_cpu_us_per_req", "µs"),
        cell("echo1k", "go", "server_cpu_us_per_req", "µs"), "%.2f" % r if r else "—", "")
    row("  … load generator's CPU, cores used of 2 (information)",
        cell("echo1k", "gort", "client_cores", "cores"),
        cell("echo1k", "go", "client_cores", "cores"), "", "")
    fl = med(vals("echo1k", "floor"))
    if fl:
        gm, om = med(vals("echo1k", "gort")), med(vals("echo1k", "go"))
        row("  … the floor: a C epoll loop with no runtime, a thread per P, each thread "
            "its own connections (`bench/echo_floor.c`, information): req/s; floor/Go",
            cell("echo1k", "floor"), cell("echo1k", "go"),
            "%.2f" % (fl / om) if om else "—", "")
        row("  … gort / the floor (information: 1.3 × Go needs at least %s)"
            % ("%.2f" % (1.3 * om / fl) if om else "—"),
            "%.2f" % (gm / fl) if gm else "—", "", "", "")
        row("  … the floor's server CPU per request, µs (information)",
            cell("echo1k", "floor", "server_cpu_us_per_req", "µs"),
            cell("echo1k", "go", "server_cpu_us_per_req", "µs"), "", "")
    om = med(vals("echo1k", "go"))
    for impl, what in (("floor-batch", "the epoll floor with its recvs and sends batched, "
                        "one io_uring_enter for all of an epoll_wait's connections, MSG_DONTWAIT"),
                       ("floor-uring", "io_uring's completion model, a ring per thread, recv "
                        "completions carrying the data")):
        fu = med(vals("echo1k", impl))
        if not fu:
            continue
        row("  … %s (`bench/echo_floor_uring.c`, information): req/s; /Go" % what,
            cell("echo1k", impl), cell("echo1k", "go"),
            "%.2f" % (fu / om) if om else "—", "")
        row("  … its server CPU per request, µs (information)",
            cell("echo1k", impl, "server_cpu_us_per_req", "µs"),
            cell("echo1k", "go", "server_cpu_us_per_req", "µs"), "", "")
    r = ratio("http")
    row("HTTP hello, `wrk -t2 -c256 --latency` (examples/httpd / net/http): req/s ≥ 1.5 × Go",
        cell("http", "gort"), cell("http", "go"), "%.2f" % r if r else "—",
        judge("http", None if r is None else r >= 1.5))
    batch_row("http")
    direct_rows("http")
    r = ratio("http", "p99_ns")
    row("  … p99 latency ≤ Go", cell("http", "gort", "p99_ns", "ns"),
        cell("http", "go", "p99_ns", "ns"), "%.2f" % r if r else "—",
        judge("http", None if r is None else r <= 1.0))
    r = ratio("http", "server_cpu_us_per_req")
    row("  … server CPU per request, µs (information)",
        cell("http", "gort", "server_cpu_us_per_req", "µs"),
        cell("http", "go", "server_cpu_us_per_req", "µs"), "%.2f" % r if r else "—", "")
    row("  … response bytes per request (information)",
        cell("http", "gort", "bytes_per_req", "bytes"), cell("http", "go", "bytes_per_req", "bytes"),
        "", "")
    t = vals("idle10k", "gort", "os_threads")
    row("10,000 idle connections: server threads ≤ GORTMAXPROCS + 4 = %d (worst run)"
        % (ISSUE10_PROCS + 4), cell("idle10k", "gort", "os_threads", "count", "max"),
        cell("idle10k", "go", "os_threads", "count", "max"), "",
        judge("idle10k", max(t) <= ISSUE10_PROCS + 4 if t else None))
    r = ratio("idle10k")
    v = med(vals("idle10k", "gort"))
    row("  … RSS per connection ≤ 8 KiB (RSS growth / 10,000)",
        cell("idle10k", "gort", unit="bytes"), cell("idle10k", "go", unit="bytes"),
        "%.2f" % r if r else "—", judge("idle10k", None if v is None else v <= 8192))
    L.append("")
    L.append("echo's load generator (`bench/echo_load.c`) is one plain C process, two "
             "threads with an epoll loop each, every connection a closed loop (write 64 B, "
             "read the 64 B back); latency is measured per request in the client. The idle "
             "row's RSS is the server's VmRSS after all 10,000 connections made one round "
             "trip and sat idle 2 s, minus its VmRSS before the first connection; its threads "
             "are the server process's (/proc/PID/status), all of them. HTTP: "
             "`bench/http_wrk.sh`, a 1 s warm-up run of wrk, then 3 s measured.\n")


def write_issue11(L, g, fails):
    """Issue 11's targets: split-stack mode against the signal path."""
    if not any(n in ISSUE11 for (n, _) in list(g) + list(fails)):
        return

    def vals(name, lab, k):
        return [num(r[k]) for r in g.get((name, lab), []) if k in r and num(r[k]) is not None]

    def failed(name, lab):
        return " FAIL×%d" % fails[(name, lab)] if (name, lab) in fails else ""

    def cell(name, lab, k, unit="ns"):
        v = vals(name, lab, k)
        if not v:
            return ("FAIL×%d" % fails[(name, lab)]) if (name, lab) in fails else "—"
        return fmt_spread(v, unit) + failed(name, lab)

    def per_stop(name, lab, k):
        n, c = med(vals(name, lab, "n")), med(vals(name, lab, k))
        return "%.2f" % (c / n) if n and c is not None else "—"

    def judge(name, lab, k, limit):
        if (name, lab) in fails:
            return "**no** (failed runs)"
        v = med(vals(name, lab, k))
        return "—" if v is None else ("yes" if v <= limit else "**no**")

    labs = ("gort", "gort-split-sig", "gort-split")
    L.append("## Issue 11 targets: split-stack mode\n")
    L.append("Request-to-stop: `gort_stop_the_world`'s stop alone, with P-1 Ps running the "
             "workload and the stopper on the last P (bench/stop_fib.c, stop_loop.c, built "
             "from stw.c): the stopper asks every running P at once and spins until they "
             "stopped, so at GORTMAXPROCS=2 it is one request and one stop. Pause: stop + "
             "start, as the stw row. Columns: the default build (signal); the same "
             "program compiled -fsplit-stack with `GORTDEBUG=prologuepreemptoff=1` (no "
             "poison: the signal alone); and split-stack mode as shipped (poison the stack "
             "guard, the signal after 10 µs if the goroutine has not stopped). Cells: "
             "median over runs of each run's percentile (min – max).\n")
    L.append("| target | default build (signal) | split, signal only | split (poison) | met |")
    L.append("|---|---|---|---|---|")
    row = lambda *c: L.append("| " + " | ".join(c) + " |")
    row("request-to-stop, call-heavy goroutine (fib): p99 ≤ 2 µs in split-stack mode",
        *[cell("stop_fib", l, "stop_p99") for l in labs],
        judge("stop_fib", "gort-split", "stop_p99", 2e3))
    row("  … p50", *[cell("stop_fib", l, "stop_p50") for l in labs], "")
    row("request-to-stop, call-free loop: p99 (information: no prologue to stop at, the "
        "signal follows the poison after 10 µs)",
        *[cell("stop_loop", l, "stop_p99") for l in labs], "")
    row("  … p50", *[cell("stop_loop", l, "stop_p50") for l in labs], "")
    row("stop-the-world pause p99, every other P running fib: ≤ 20 µs in split-stack mode",
        *[cell("stop_fib", l, "p99") for l in labs], judge("stop_fib", "gort-split", "p99", 20e3))
    row("  … pause p50", *[cell("stop_fib", l, "p50") for l in labs], "")
    row("stop-the-world pause p99, every other P in a call-free loop (information)",
        *[cell("stop_loop", l, "p99") for l in labs], "")
    row("goroutines stopped at a prologue per STW, fib (information)",
        *[per_stop("stop_fib", l, "prologue_preempts") for l in labs], "")
    row("goroutines stopped by the signal per STW, fib (information)",
        *[per_stop("stop_fib", l, "async_preempts") for l in labs], "")
    L.append("")
    L.append("Prologue cost (bench/prologue.c): the same kernels compiled with and without "
             "-fsplit-stack into one split-stack program (frame pointers kept), at four code "
             "placements (functions 64-byte aligned, entry 0/16/32/48 bytes into the line, "
             "both copies at the same one), timed alternately in one goroutine, in thread CPU "
             "time; each run's value is the mean over placements of the median over pairs of "
             "split/plain − 1, and the cell the median over runs (min – max).\n")
    L.append("| target | gcc | clang | met |")
    L.append("|---|---|---|---|")

    def pct_row(text, k):
        ok = [judge("prologue", l, k, 2.0) for l in ("gort-gcc", "gort-clang")]
        met = "yes" if all(o == "yes" for o in ok) else (
            "—" if all(o == "—" for o in ok) else "**no** (gcc %s, clang %s)" % tuple(ok))
        row(text, cell("prologue", "gort-gcc", k, "%"), cell("prologue", "gort-clang", k, "%"), met)

    pct_row("fib(27), ~630k calls: overhead ≤ 2 %", "fib_pct")
    pct_row("quicksort of 20,000 int64 through a comparator: overhead ≤ 2 %", "sort_pct")
    def placements(lab, k):  # each placement's median over runs
        ms = [med(vals("prologue", lab, "%s_pct_p%d" % (k, p))) for p in (0, 16, 32, 48)]
        return " / ".join("—" if m is None else "%+.2f" % m for m in ms)

    for k in ("fib", "sort"):
        row("  … %s per placement, entry at 0 / 16 / 32 / 48 bytes into the line "
            "(information)" % k, placements("gort-gcc", k), placements("gort-clang", k), "")
    row("a split function that calls libc (`stc` → __morestack_non_split's fast path): "
        "extra ns per call (information)",
        cell("prologue", "gort-gcc", "libc_extra_ns", "ns"),
        cell("prologue", "gort-clang", "libc_extra_ns", "ns"), "")
    row("  … the same function without -fsplit-stack, ns per call (information)",
        cell("prologue", "gort-gcc", "libc_plain_ns_per_call", "ns"),
        cell("prologue", "gort-clang", "libc_plain_ns_per_call", "ns"), "")
    L.append("")


# ------------------------------------------------------------------ markdown
def write_issue12(L, g, fails):
    """Issue 12's targets: whole programs against their Go twins."""
    if not any(n in ISSUE12 for (n, _) in list(g) + list(fails)):
        return
    desc = {n: (d, t) for n, d, t in BENCHES}

    def vals(name, lab, k="value"):
        return [num(r[k]) for r in g.get((name, lab), []) if k in r and num(r[k]) is not None]

    def cell(name, lab, k="value", unit="ms"):
        v = vals(name, lab, k)
        f = " FAIL×%d" % fails[(name, lab)] if (name, lab) in fails else ""
        if not v:
            return f.strip() or "—"
        m = med(v)
        nf = lambda x: "%.0f" % x if abs(x) >= 1000 else "%.4g" % x
        text = ("%s %s (%s – %s)" % (nf(m), unit, nf(min(v)), nf(max(v))) if len(v) > 1
                else "%s %s" % (nf(m), unit))
        return text + f

    def ratio(name, k="value"):
        a, b = med(vals(name, "gort", k)), med(vals(name, "go", k))
        return a / b if a is not None and b else None

    def judge(name, r, limit):
        if (name, "gort") in fails:
            return "**no** (failed runs)"
        return "—" if r is None else ("yes" if r <= limit else "**no**")

    L.append("## Issue 12 targets: whole programs against their Go twins\n")
    L.append("Each program (bench/<name>.c, Go twin `gobench <name>` in bench/go/programs.go) "
             "checks its own result and reports its wall time; gort at GORTMAXPROCS=2, Go 1.19 "
             "at GOMAXPROCS=2, interleaved. Cells: median over rounds (min – max); ratio: "
             "gort median / Go median.\n")
    L.append("| program | gort | Go 1.19 | gort/Go | target | met |")
    L.append("|---|---|---|---|---|---|")
    row = lambda *c: L.append("| " + " | ".join(c) + " |")
    for name in ISSUE12:
        if not any(n == name for (n, _) in list(g) + list(fails)):
            continue
        d, t = desc[name]
        r = ratio(name)
        rs = "%.2f" % r if r is not None else "—"
        if name == "sleepers":
            row("%s — %s" % (name, d), cell(name, "gort"), cell(name, "go"), rs,
                "≤ Go", judge(name, r, 1.0))
            r = ratio(name, "late_mean_us")
            row("  … mean wake-up lateness", cell(name, "gort", "late_mean_us", "µs"),
                cell(name, "go", "late_mean_us", "µs"), "%.2f" % r if r is not None else "—",
                "≤ Go", judge(name, r, 1.0))
            r = ratio(name, "late_p99_us")
            row("  … p99 wake-up lateness (information)",
                cell(name, "gort", "late_p99_us", "µs"), cell(name, "go", "late_p99_us", "µs"),
                "%.2f" % r if r is not None else "—", "", "")
            # The same program run a second time in one process
            # (BENCH_WARMUP=1): its goroutines start on stacks the first
            # run left, so these rows show the timers and the scheduler
            # apart from the first touch of 10,000 new stacks.
            for k, what, unit in (("value", "wall", "ms"), ("late_mean_us", "mean lateness", "µs")):
                a, b = med(vals(name, "gort-warm", k)), med(vals(name, "go-warm", k))
                if a is None and b is None:
                    continue
                row("  … run again in the same process, stacks reused: %s (information)" % what,
                    cell(name, "gort-warm", k, unit), cell(name, "go-warm", k, unit),
                    "%.2f" % (a / b) if a is not None and b else "—", "", "")
        else:
            row("%s — %s" % (name, d), cell(name, "gort"), cell(name, "go"), rs,
                "≤ %.2g" % t, judge(name, r, t))
    for name in ("skynet",):
        if vals(name, "gort", "maxrss_mb"):
            row("  … skynet peak RSS (information)", cell(name, "gort", "maxrss_mb", "MB"),
                cell(name, "go", "maxrss_mb", "MB"),
                "%.2f" % ratio(name, "maxrss_mb") if ratio(name, "maxrss_mb") else "—", "", "")
    L.append("")
    L.append("sleepers' floor (the longest goroutine's 20 requested sleeps summed) is "
             "%s; lateness is gort_nanotime() (Go: time.Since) after the sleep minus the "
             "time before it plus the request, over all 200,000 sleeps of a run.\n"
             % (cell("sleepers", "gort", "floor_ms") if vals("sleepers", "gort", "floor_ms")
                else "—"))


def write_md(raw, path, runs, fails):
    g = group(runs)
    labels_of = {}
    for (n, l) in list(g) + list(fails):
        labels_of.setdefault(n, set()).add(l)
    env = open(os.path.join(raw, "env.txt")).read().strip() if os.path.exists(
        os.path.join(raw, "env.txt")) else ""
    L = []
    L.append("# gort benchmark results\n")
    L.append("Generated by `make bench` (bench/run.sh + bench/report.py). Each cell is the "
             "median over rounds with the spread (min – max) in parentheses; rounds were "
             "interleaved (every implementation of every benchmark once per round). "
             "Ratios are gort median / twin median: lower is better for gort.\n")
    if env:
        L.append("```\n" + env + "\n```\n")
        loads = [float(l.split(":")[1].split()[0]) for l in env.splitlines()
                 if l.startswith("load at ")]
        if loads and max(loads) > 3.0:
            L.append("**Warning: the 1-minute load average reached %.1f on this %s-CPU "
                     "machine during the run (the benchmarks themselves keep at most 2-3 threads "
                     "runnable): other processes competed for the CPUs, "
                     "so latencies (stw, sleeper, spinwait) and the compute overhead "
                     "are inflated by OS scheduling delays, and the spreads are wide.**\n"
                     % (max(loads), os.cpu_count()))
    L.append("## Summary\n")
    L.append("| benchmark | gort | Go | Boost.Fiber | gort/Go | gort/Boost | target | met |")
    L.append("|---|---|---|---|---|---|---|---|")
    for name, desc, target in BENCHES:
        if name in ISSUE10 or name in ISSUE11 or name in ISSUE12:
            continue
        labels = sorted(l for l in labels_of.get(name, ()) if l.startswith("gort"))
        if not labels:
            labels = ["gort"]
        go = g.get((name, "go"), [])
        bo = g.get((name, "boost"), [])
        unit = next((r["unit"] for r in g.get((name, labels[0]), []) + go + bo), "")
        gov = [num(r["value"]) for r in go]
        bov = [num(r["value"]) for r in bo]
        for lab in labels:
            rs = g.get((name, lab), [])
            vals = [num(r["value"]) for r in rs]
            gm, om, bm = med(vals), med(gov), med(bov)
            rgo = gm / om if gm is not None and om not in (None, 0) and unit != "%" else None
            rbo = gm / bm if gm is not None and bm not in (None, 0) else None
            title = "%s — %s" % (name, desc)
            if lab != "gort":
                title += " [%s]" % lab
            cell = lambda v, l: fmt_spread(v, unit) + (
                " FAIL×%d" % fails[(name, l)] if (name, l) in fails else "")
            tgt, met = "—", "—"
            if name in ABSOLUTE:
                alab, agg, limit, tgt = ABSOLUTE[name]
                if alab != lab:
                    met = "(info)"
                else:
                    v = absolute_value(vals, agg)
                    met = "—" if v is None else ("yes" if v <= limit else "**no**")
            elif name == "compute":
                tgt = "≤ %.0f %%" % COMPUTE_TARGET_PCT
                met = "—" if gm is None else ("yes" if gm <= COMPUTE_TARGET_PCT else "**no**")
            elif name in TWIN_TARGET and lab == "gort":
                twin, least = TWIN_TARGET[name]
                tm = med([num(r["value"]) for r in g.get((name, twin), [])])
                tgt = "throughput ≥ %.2g × %s" % (least, twin)
                if gm and tm:
                    met = "%s (%.2f × %s: %s)" % ("yes" if tm / gm >= least else "**no**",
                                                 tm / gm, twin, fmt(tm, unit))
            elif target is not None:
                tgt = "≤ %.2g" % target
                if TARGET_LABEL.get(name, "gort") != lab:
                    met = "(info)"
                elif rgo is not None:
                    met = "yes" if rgo <= target else "**no**"
            row = [title, cell(vals, lab), cell(gov, "go"),
                   cell(bov, "boost") if name in BOOST_TWINS else "n/a",
                   "%.2f" % rgo if rgo is not None else ("n/a" if unit == "%" else "—"),
                   "%.2f" % rbo if rbo is not None else "—", tgt, met]
            L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("n/a: no such twin (Boost.Fiber has no select, no preemption and no "
             "stop-the-world; a spinning fiber would never yield). The compute row's "
             "value is an overhead in percent, so it has no ratio: gort's is "
             "2 goroutines on 2 Ps vs 2 plain threads; Go's (no run without its "
             "runtime) is 4 goroutines vs 2 goroutines on 2 Ps, i.e. the cost of "
             "time slicing. The sleeper target compares gort at GORTDEBUG=quantum=1ms "
             "with Go's fixed 10 ms slice; the default-slice row is for information. "
             "Rows from handoff down have absolute targets (issue 8, next section); "
             "their ratio is for information.\n")
    write_absolute(L, g, fails)
    write_issue10(L, g, fails)
    write_issue11(L, g, fails)
    write_issue12(L, g, fails)

    # latency distributions, pooled over rounds
    L.append("## Latency distributions (all samples of all rounds pooled)\n")
    L.append("| benchmark | impl | samples | p50 | p90 | p99 | p99.9 | max |")
    L.append("|---|---|---|---|---|---|---|---|")
    for name, _ in LATENCY_TABLE:
        for lab in sorted(labels_of.get(name, ())):
            s = samples(raw, name, lab)
            if not s:
                continue
            L.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                name, lab, len(s), fmt(q(s, .5), "ns"), fmt(q(s, .9), "ns"), fmt(q(s, .99), "ns"),
                fmt(q(s, .999), "ns"), fmt(s[-1], "ns")))
    L.append("")

    # gort counters
    L.append("## gort's counters per benchmark (gort_read_stats delta over the measured "
             "section, median over rounds)\n")
    L.append("| benchmark | impl | n | " + " | ".join(COUNTERS) + " | ctxsw/op | steals/op |")
    L.append("|---|---|---|" + "---|" * (len(COUNTERS) + 2))
    for name, _, _ in BENCHES:
        for lab in sorted(l for l in labels_of.get(name, ()) if l.startswith("gort")):
            rs = g.get((name, lab), [])
            if not rs:
                continue
            n = field(rs, "n")
            cs = [field(rs, c) for c in COUNTERS]
            per = lambda k: "%.3g" % (field(rs, k) / n) if n and field(rs, k) is not None else "—"
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                name, lab, "%.0f" % n if n else "—",
                " | ".join("%.0f" % c if c is not None else "—" for c in cs),
                per("ctxsw"), per("steals")))
    L.append("")
    L.append("For compute the counters cover the 2-goroutine runs (all rounds summed); "
             "the 4-goroutine (time-sliced) runs are in the details below "
             "(oversub_*). For spawn/parked_rss, `spawned` includes only the measured "
             "round.\n")

    # every other numeric field, median over rounds
    L.append("## Details (median of each reported field over rounds)\n")
    skip = set(COUNTERS) | {"name", "impl", "unit", "label", "round", "value", "spawned"}
    for name, _, _ in BENCHES:
        for lab in sorted(labels_of.get(name, ())):
            rs = g.get((name, lab), [])
            if not rs:
                continue
            keys = []
            for r in rs:
                for k in r:
                    if k not in skip and k not in keys:
                        keys.append(k)
            parts = []
            for k in keys:
                vals = [num(r[k]) for r in rs if k in r]
                if all(v is not None for v in vals):
                    m = med(vals)
                    parts.append("%s=%s" % (k, "%.0f" % m if m == int(m) or abs(m) >= 1e4
                                            else "%.4g" % m))
                else:
                    parts.append("%s=%s" % (k, rs[0][k]))
            L.append("- **%s / %s** (%d runs): %s" % (name, lab, len(rs), ", ".join(parts)))
    L.append("")
    if fails:
        L.append("## Failed runs\n")
        for (n, l), c in sorted(fails.items()):
            L.append("- %s / %s: %d failed run(s); see the logs in the raw directory" % (n, l, c))
        L.append("")
    L.append("Plots: [results.svg](results.svg) — latency CDFs (log time axis) and "
             "throughput relative to Go (log axis; > 1 is faster than Go).\n")
    with open(path, "w") as f:
        f.write("\n".join(L))


# ------------------------------------------------------------------ svg
class Svg:
    def __init__(self, w, h):
        self.w, self.h, self.el = w, h, []

    def add(self, s):
        self.el.append(s)

    def text(self, x, y, s, size=12, anchor="start", color="#222", rotate=None, bold=False):
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        tr = ' transform="rotate(%d %.1f %.1f)"' % (rotate, x, y) if rotate else ""
        wt = ' font-weight="bold"' if bold else ""
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" fill="%s"%s%s>%s</text>'
                 % (x, y, size, anchor, color, tr, wt, s))

    def line(self, x1, y1, x2, y2, color="#888", width=1, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"%s/>'
                 % (x1, y1, x2, y2, color, width, d))

    def save(self, path):
        with open(path, "w") as f:
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                    'font-family="sans-serif">\n<rect width="100%%" height="100%%" fill="white"/>\n'
                    % (self.w, self.h))
            f.write("\n".join(self.el))
            f.write("\n</svg>\n")


def tick_label(ns):
    if ns >= 1e9:
        return "%.3g s" % (ns / 1e9)
    if ns >= 1e6:
        return "%.3g ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.3g µs" % (ns / 1e3)
    return "%.3g ns" % ns


def cdf_panel(svg, x0, y0, w, h, title, series):
    svg.text(x0 + w / 2, y0 - 12, title, 14, "middle", bold=True)
    svg.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>'
            % (x0, y0, w, h))
    pos = [v for _, s in series for v in s if v > 0]
    if not pos:
        svg.text(x0 + w / 2, y0 + h / 2, "no samples", 12, "middle")
        return
    lo = 10 ** math.floor(math.log10(max(min(pos), 100)))
    hi = 10 ** math.ceil(math.log10(max(pos)))
    if hi <= lo:
        hi = lo * 10
    lx = lambda v: x0 + w * (math.log10(max(v, lo)) - math.log10(lo)) / (
        math.log10(hi) - math.log10(lo))
    ly = lambda p: y0 + h * (1 - p)
    d = lo
    while d <= hi * 1.0001:
        X = lx(d)
        svg.line(X, y0, X, y0 + h, "#ddd")
        svg.text(X, y0 + h + 16, tick_label(d), 11, "middle")
        for m in range(2, 10):
            if d * m < hi:
                svg.line(lx(d * m), y0 + h, lx(d * m), y0 + h - 4, "#aaa")
        d *= 10
    for p in (0, 0.25, 0.5, 0.75, 0.9, 0.99):
        Y = ly(p)
        svg.line(x0, Y, x0 + w, Y, "#eee" if p not in (0.5, 0.99) else "#bbb",
                 dash="4,3" if p == 0.99 else None)
        svg.text(x0 - 6, Y + 4, "%g" % p, 10, "end")
    svg.text(x0 - 36, y0 + h / 2, "fraction of samples ≤ x", 11, "middle", rotate=-90)
    for i, (label, s) in enumerate(series):
        n = len(s)
        step = max(1, n // 1500)
        pts = []
        prev_y = 0.0
        for k in list(range(0, n, step)) + [n - 1]:
            X, Y = lx(s[k]), ly((k + 1) / n)
            pts.append("%.1f,%.1f %.1f,%.1f" % (X, ly(prev_y), X, Y))
            prev_y = (k + 1) / n
        color = COLORS.get(label, "#000")
        svg.add('<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>'
                % (color, " ".join(pts)))
        ly_leg = y0 + h - 12 - 16 * (len(series) - 1 - i)
        lx0 = x0 + w - 250
        svg.add('<rect x="%.1f" y="%.1f" width="244" height="15" fill="white" opacity="0.85"/>'
                % (lx0 - 4, ly_leg - 12))
        svg.line(lx0, ly_leg - 4, lx0 + 20, ly_leg - 4, color, 3)
        svg.text(lx0 + 26, ly_leg, "%s: n=%d, p50 %s, p99 %s" % (
            label, n, tick_label(q(s, .5)), tick_label(q(s, .99))), 11)


def bar_panel(svg, x0, y0, w, h, title, groups):
    """groups: [(bench, [(label, value_rel_to_go, text)])]"""
    svg.text(x0 + w / 2, y0 - 12, title, 14, "middle", bold=True)
    svg.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>'
            % (x0, y0, w, h))
    vals = [v for _, bars in groups for _, v, _ in bars if v and v > 0]
    if not vals:
        svg.text(x0 + w / 2, y0 + h / 2, "no data", 12, "middle")
        return
    lo = 10 ** math.floor(math.log10(min(vals + [0.5])))
    hi = 10 ** math.ceil(math.log10(max(vals + [2])))
    ly = lambda v: y0 + h * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
    d = lo
    while d <= hi * 1.0001:
        svg.line(x0, ly(d), x0 + w, ly(d), "#999" if abs(d - 1) < 1e-9 else "#e5e5e5")
        svg.text(x0 - 6, ly(d) + 4, "%g×" % d, 10, "end")
        d *= 10
    svg.text(x0 - 40, y0 + h / 2, "throughput relative to Go (Go = 1)", 11, "middle", rotate=-90)
    gw = w / max(1, len(groups))
    for gi, (bench, bars) in enumerate(groups):
        bw = gw * 0.8 / max(1, len(bars))
        for bi, (label, v, text) in enumerate(bars):
            if not v or v <= 0:
                continue
            X = x0 + gi * gw + gw * 0.1 + bi * bw
            top, base = ly(v), ly(1)
            y, hh = min(top, base), abs(base - top)
            svg.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                    % (X + 1, y, bw - 2, max(hh, 1), COLORS.get(label, "#777")))
            svg.text(X + bw / 2, (top - 4) if v >= 1 else (top + 11), text, 9, "middle")
        svg.text(x0 + gi * gw + gw / 2, y0 + h + 16, bench, 11, "middle")
    labels = []
    for _, bars in groups:
        for l, _, _ in bars:
            if l not in labels:
                labels.append(l)
    for i, l in enumerate(labels):
        svg.add('<rect x="%.1f" y="%.1f" width="12" height="10" fill="%s"/>'
                % (x0 + w - 120, y0 + 10 + 16 * i, COLORS.get(l, "#777")))
        svg.text(x0 + w - 102, y0 + 19 + 16 * i, l, 11)


def write_svg(raw, path, runs):
    g = group(runs)
    svg = Svg(1300, 1470)
    envp = os.path.join(raw, "env.txt")
    sub = ""
    if os.path.exists(envp):
        kv = dict(l.split(": ", 1) for l in open(envp).read().splitlines() if ": " in l)
        sub = " — %s, %s" % (kv.get("date", "?"), kv.get("host", "?"))
    svg.text(650, 24, "gort vs Go 1.19 vs Boost.Fiber%s" % sub, 15, "middle", bold=True)
    boxes = [(90, 70), (740, 70), (90, 560)]
    for (name, title), (x, y) in zip(LATENCY, boxes):
        labels = sorted({l for (n, l) in g if n == name})
        series = [(l, samples(raw, name, l)) for l in labels]
        series = [(l, s) for l, s in series if s]
        cdf_panel(svg, x, y, 500, 380, title, series)
    groups = []
    for name in ("spawn", "pingpong", "yield", "buffered", "select", "mutex", "parked_rss",
                 "echo1k", "http"):
        gom = med([num(r["value"]) for r in g.get((name, "go"), [])])
        if not gom:
            continue
        bars = []
        for lab in ("gort", "go", "boost"):
            m = med([num(r["value"]) for r in g.get((name, lab), [])])
            if m:
                unit = g[(name, lab)][0]["unit"]
                if unit == "req/s":  # a rate: higher is better
                    bars.append((lab, m / gom, "%.0fk/s" % (m / 1e3)))
                else:
                    bars.append((lab, gom / m, fmt(m, unit).replace("/op", "")))
        groups.append((name if name != "parked_rss" else "memory", bars))
    bar_panel(svg, 740, 560, 500, 380, "Throughput (memory: bytes) relative to Go", groups)
    # Issue 8: hand-off and stop-the-world beside blocking calls.
    for (title, parts), (x, y) in zip(
            [("Hand-off on 1 P: time until a runnable goroutine runs",
              [("usleep", "handoff"), ("pipe", "handoff_pipe")]),
             ("Stop-the-world: every P spinning / beside sleep(2)",
              [("shared", "stw_shared"), ("syscall", "stw_syscall")])],
            [(90, 1050), (740, 1050)]):
        series = []
        for short, name in parts:
            for lab in ("gort", "go"):
                smp = samples(raw, name, lab)
                if smp:
                    series.append(("%s %s" % (short, lab), smp))
        cdf_panel(svg, x, y, 500, 380, title, series)
    svg.save(path)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    raw, md, svgp = sys.argv[1:]
    runs, fails = load(raw)
    write_md(raw, md, runs, fails)
    write_svg(raw, svgp, runs)
    print("bench: wrote %s and %s (%d runs, %d failed)" % (md, svgp, len(runs), sum(fails.values())))


if __name__ == "__main__":
    main()
