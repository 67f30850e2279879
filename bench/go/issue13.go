// Issue 13's twins of bench/timers.c and bench/ctxfan.c: timer start/stop
// churn with 100k timers, and context cancellation fan-out to 10k waiters.
// Same work, same rounds, same reported statistic (median).
package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// cpuNow is the process's CPU time in ns (user + system).
func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func init() {
	benches["timers"] = benchTimers
	benches["ctxfan"] = benchCtxfan
}

// timers: start n timers an hour out, stop each; ns per timer, median of 15.
func benchTimers(n int) {
	n = arg(n, 100000)
	const rounds = 15
	ts := make([]*time.Timer, n)
	per := make([]int64, rounds)
	for r := 0; r < rounds; r++ {
		t0 := now()
		for i := range ts {
			ts[i] = time.NewTimer(time.Hour)
		}
		for i := range ts {
			if !ts[i].Stop() {
				die("a stop found its timer fired")
			}
		}
		for i := range ts {
			ts[i] = nil
		}
		per[r] = (now() - t0) / int64(n)
	}
	sortI64(per)
	result("timers", "ns", float64(per[rounds/2]),
		fmt.Sprintf("timers=%d min=%d max=%d", n, per[0], per[rounds-1]))
}

// ctxfan: n goroutines each wait on their own child of one context; ns
// from cancelling the parent until all have woken, median of 15.
func benchCtxfan(n int) {
	n = arg(n, 10000)
	const rounds = 15
	lat := make([]int64, 0, rounds)
	cpu := make([]int64, 0, rounds)
	for r := 0; r < rounds+1; r++ {
		parent, cancel := context.WithCancel(context.Background())
		var ready, woken sync.WaitGroup
		ready.Add(n)
		woken.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				c, cc := context.WithCancel(parent)
				done := c.Done()
				ready.Done()
				<-done
				cc()
				woken.Done()
			}()
		}
		ready.Wait()
		time.Sleep(20 * time.Millisecond)
		c0, t0 := cpuNow(), now()
		cancel()
		woken.Wait()
		dt, dc := now()-t0, cpuNow()-c0
		if r > 0 {
			lat = append(lat, dt)
			cpu = append(cpu, dc)
		}
	}
	dumpSamples(lat)
	sortI64(lat)
	sortI64(cpu)
	result("ctxfan", "ns", float64(lat[rounds/2]),
		fmt.Sprintf("waiters=%d min=%d max=%d cpu=%d", n, lat[0], lat[rounds-1], cpu[rounds/2]))
}
