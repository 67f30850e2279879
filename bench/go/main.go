// Command gortbench is the Go twin of gort's C benchmarks (bench/*.c): one
// subcommand per benchmark, each doing the same work the same way as its C
// program and printing one line
//
//	RESULT name=<bench> impl=go unit=<unit> value=<v> key=value ...
//
// Usage: gortbench <bench> [n].  GOMAXPROCS comes from the environment
// (bench/run.sh sets 2, or 1 for yield and spinwait).  Latency benchmarks
// dump their raw samples (ns, one per line) to $BENCH_SAMPLES when set.
// No dependencies outside the standard library.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

var benches = map[string]func(n int){
	"spawn":      benchSpawn,
	"pingpong":   benchPingpong,
	"yield":      benchYield,
	"buffered":   benchBuffered,
	"select":     benchSelect,
	"mutex":      benchMutex,
	"parked_rss": benchParkedRSS,
	"stw":        benchSTW,
	"sleeper":    benchSleeper,
	"spinwait":   benchSpinwait,
	"compute":    benchCompute,
	// issue 8: blocking calls never hold a P (syscalls.go)
	"handoff":         benchHandoff,
	"handoff_pipe":    benchHandoffPipe,
	"memset_ticker":   benchMemsetTicker,
	"stw_shared":      benchSTWShared,
	"stw_syscall":     benchSTWSyscall,
	"eintr":           benchEINTR,
	"syscall_bracket": benchSyscallBracket,
	"quantum":         benchQuantum,
	// issue 12: whole programs (programs.go)
	"skynet":   benchSkynet,
	"sieve":    benchSieve,
	"pool":     benchPool,
	"sleepers": benchSleepers,
	"pipeline": benchPipeline,
	"msort":    benchMsort,
}

func main() {
	if len(os.Args) < 2 || benches[os.Args[1]] == nil {
		names := make([]string, 0, len(benches))
		for k := range benches {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: gortbench {%s} [n]\n", strings.Join(names, "|"))
		os.Exit(2)
	}
	n := 0
	if len(os.Args) > 2 {
		v, err := strconv.Atoi(os.Args[2])
		if err == nil && v > 0 {
			n = v
		}
	}
	benches[os.Args[1]](n)
}

// arg returns n if set, else def.
func arg(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// now is the monotonic clock in ns (time.Since reads CLOCK_MONOTONIC).
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

func result(name, unit string, value float64, extra string) {
	fmt.Printf("RESULT name=%s impl=go unit=%s value=%s procs=%d %s\n",
		name, unit, strconv.FormatFloat(value, 'f', 2, 64), runtime.GOMAXPROCS(0), extra)
}

func die(msg string) {
	fmt.Fprintln(os.Stderr, "bench:", msg)
	os.Exit(2)
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// quantile is the nearest-rank q-quantile of sorted s.
func quantile(s []int64, q float64) int64 {
	if len(s) == 0 {
		return 0
	}
	k := int(q*float64(len(s)) + 0.999999)
	if k < 1 {
		k = 1
	}
	if k > len(s) {
		k = len(s)
	}
	return s[k-1]
}

func sortI64(s []int64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }

func dumpSamples(s []int64) {
	path := os.Getenv("BENCH_SAMPLES")
	if path == "" {
		return
	}
	var sb strings.Builder
	for _, v := range s {
		sb.WriteString(strconv.FormatInt(v, 10))
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// latencySummary: sorts s and returns the p50/p90/p99/max/mean fields.
func latencySummary(s []int64) string {
	sortI64(s)
	var mean float64
	for _, v := range s {
		mean += float64(v) / float64(len(s))
	}
	return fmt.Sprintf("p50=%d p90=%d p99=%d max=%d mean=%.0f",
		quantile(s, 0.5), quantile(s, 0.9), quantile(s, 0.99), quantile(s, 1), mean)
}
