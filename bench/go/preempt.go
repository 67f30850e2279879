package main

// Parked-RSS, stop-the-world, sleeper, spin-wait and compute twins of
// bench/parked_rss.c, stw.c, sleeper.c, spinwait.c and compute.c.  The
// spinning loops are call-free (sync/atomic loads are compiler intrinsics),
// so only asynchronous preemption can stop them, as in the C programs.

import (
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

var (
	started int64
	gate    chan struct{}
)

func parked() {
	atomic.AddInt64(&started, 1)
	<-gate
	wg.Done()
}

// parked_rss: RSS delta per goroutine blocked on a channel receive.
func benchParkedRSS(n int) {
	n = arg(n, 1000000)
	gate = make(chan struct{})
	time.Sleep(10 * time.Millisecond)
	rss0 := rssBytes()
	t0 := now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go parked()
	}
	for atomic.LoadInt64(&started) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	t1 := now()
	time.Sleep(100 * time.Millisecond)
	rss1 := rssBytes()
	close(gate)
	wg.Wait()
	t2 := now()
	result("parked_rss", "bytes", float64(rss1-rss0)/float64(n),
		fmt.Sprintf("n=%d rss0_mb=%.1f rss1_mb=%.1f spawn_ms=%.1f wake_join_ms=%.1f",
			n, float64(rss0)/1048576, float64(rss1)/1048576,
			float64(t1-t0)/1e6, float64(t2-t1)/1e6-100))
}

var (
	stop     uint32
	spinning int32
	sink     uint64
)

// spin is the call-free loop of the stw and sleeper benchmarks: the same
// LCG + xorshift step as BENCH_MIX in bench/common.h.
func spin(x uint64) {
	atomic.AddInt32(&spinning, 1)
	for atomic.LoadUint32(&stop) == 0 {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	atomic.StoreUint64(&sink, x)
	wg.Done()
}

func startSpinners(k int) {
	wg.Add(k)
	for i := 0; i < k; i++ {
		go spin(uint64(i + 1))
	}
	for atomic.LoadInt32(&spinning) < int32(k) {
		time.Sleep(time.Millisecond)
	}
}

func stopSpinners() {
	atomic.StoreUint32(&stop, 1)
	wg.Wait()
}

// stw: runtime.ReadMemStats (stopTheWorld + read + startTheWorld) timed
// while GOMAXPROCS-1 goroutines spin.
func benchSTW(n int) {
	n = arg(n, 1000)
	procs := runtime.GOMAXPROCS(0)
	nspin := procs - 1
	startSpinners(nspin)
	var ms runtime.MemStats
	for i := 0; i < 20; i++ {
		time.Sleep(100 * time.Microsecond)
		runtime.ReadMemStats(&ms)
	}
	lat := make([]int64, n)
	for i := range lat {
		time.Sleep(100 * time.Microsecond)
		t0 := now()
		runtime.ReadMemStats(&ms)
		lat[i] = now() - t0
	}
	stopSpinners()
	dumpSamples(lat)
	s := latencySummary(lat)
	result("stw", "ns", float64(quantile(lat, 0.99)),
		fmt.Sprintf("n=%d spinners=%d %s", n, nspin, s))
}

// sleeper: lateness of time.Sleep(1ms) while GOMAXPROCS goroutines spin.
func benchSleeper(n int) {
	n = arg(n, 300)
	procs := runtime.GOMAXPROCS(0)
	startSpinners(procs)
	for i := 0; i < 5; i++ {
		time.Sleep(time.Millisecond)
	}
	late := make([]int64, n)
	for i := range late {
		t0 := now()
		time.Sleep(time.Millisecond)
		late[i] = now() - t0 - int64(time.Millisecond)
	}
	stopSpinners()
	dumpSamples(late)
	s := latencySummary(late)
	result("sleeper", "ns", float64(quantile(late, 0.99)),
		fmt.Sprintf("n=%d hogs=%d quantum=10ms(fixed) %s", n, procs, s))
}

const busyIters = 100000

var done int32

func busy(x uint64) uint64 {
	for i := 0; i < busyIters; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	return x
}

func setter(x uint64) {
	atomic.StoreUint64(&sink, busy(x))
	atomic.StoreInt32(&done, 1)
}

// spinwait: main spins on a flag that a goroutine sets after a short busy
// loop (GOMAXPROCS=1): time until main sees it.
func benchSpinwait(n int) {
	n = arg(n, 30)
	b0 := now()
	atomic.StoreUint64(&sink, busy(7))
	busyNs := now() - b0
	lat := make([]int64, n)
	for i := range lat {
		atomic.StoreInt32(&done, 0)
		t0 := now()
		go setter(uint64(i + 1))
		for {
			if atomic.LoadInt32(&done) != 0 {
				break
			}
		}
		lat[i] = now() - t0
		runtime.Gosched()
	}
	dumpSamples(lat)
	sortI64(lat)
	result("spinwait", "ns", float64(quantile(lat, 0.5)),
		fmt.Sprintf("n=%d busy_ns=%d min=%d p50=%d p99=%d max=%d",
			n, busyNs, lat[0], quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)))
}

func kernel(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	return x
}

func computeWorker(n int, x uint64) {
	atomic.StoreUint64(&sink, kernel(n, x))
	wg.Done()
}

func computeRun(g, n int) int64 {
	t0 := now()
	wg.Add(g)
	for i := 0; i < g; i++ {
		go computeWorker(n, uint64(i+1))
	}
	wg.Wait()
	return now() - t0
}

func median(v []int64) int64 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// compute: 2 goroutines x N iterations vs 4 goroutines x N/2 on 2 Ps,
// rounds alternating; value min(g4)/min(g2) - 1 in percent (best of the
// rounds, as in bench/compute.c).
func benchCompute(n int) {
	const rounds = 5
	n = arg(n, 100000000)
	computeRun(2, n/2)
	g2 := make([]int64, rounds)
	g4 := make([]int64, rounds)
	for r := 0; r < rounds; r++ {
		g2[r] = computeRun(2, n)
		g4[r] = computeRun(4, n/2)
	}
	m2, m4 := median(g2), median(g4) // sorts: g2[0], g4[0] are the minima
	result("compute", "%", 100*(float64(g4[0])/float64(g2[0])-1),
		fmt.Sprintf("n=%d rounds=%d g2_min_ms=%.1f g4_min_ms=%.1f g2_med_ms=%.1f g4_med_ms=%.1f "+
			"overhead_median=%.2f ns_per_iter=%.3f",
			n, rounds, float64(g2[0])/1e6, float64(g4[0])/1e6, float64(m2)/1e6, float64(m4)/1e6,
			100*(float64(m4)/float64(m2)-1), float64(g2[0])/float64(n)))
}
