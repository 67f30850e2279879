// Issue 13: sync.RWMutex read-mostly, the twin of bench/rwmutex.c.

package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Registered here rather than in main.go's table, so that issue 13's
// benchmarks each add a file and no shared lines.
func init() {
	benches["rwmutex"] = benchRWMutex
	benches["rwmutex1w"] = benchRWMutex1W
}

var (
	rwmu      sync.RWMutex
	rwCounter int64
	rwSeen    int64
	rwWg      sync.WaitGroup
)

const rwWriteEvery = 100

func rwWorker(n int, writes bool) {
	sum := int64(0)
	for i := 0; i < n; i++ {
		if writes && i%rwWriteEvery == 0 {
			rwmu.Lock()
			rwCounter++
			rwmu.Unlock()
		} else {
			rwmu.RLock()
			sum += rwCounter
			rwmu.RUnlock()
		}
	}
	if sum != 0 {
		atomic.AddInt64(&rwSeen, 1)
	}
	rwWg.Done()
}

// rwRun starts g workers; writers of them (the first ones) write.
func rwRun(g, per, writers int) {
	rwWg.Add(g)
	for i := 0; i < g; i++ {
		go rwWorker(per, i < writers)
	}
	rwWg.Wait()
}

// rwmutex: 8 goroutines on one sync.RWMutex, every 100th operation of
// each a write (Lock, increment, Unlock), the others reads (RLock, read,
// RUnlock).  ns per operation.
func benchRWMutex(n int) { rwBench("rwmutex", n, 8) }

// rwmutex1w: the same with one writing goroutine among the 8 (it writes
// every 100th of its operations; the other seven only read).
func benchRWMutex1W(n int) { rwBench("rwmutex1w", n, 1) }

func rwBench(name string, n, writers int) {
	const g = 8
	n = arg(n, 20000000)
	per := n / g
	n = per * g
	rwRun(g, 10000, writers)
	rwCounter = 0
	t0 := now()
	rwRun(g, per, writers)
	t1 := now()
	if rwCounter != int64(writers*((per+rwWriteEvery-1)/rwWriteEvery)) {
		die("rwmutex: lost increments")
	}
	result(name, "ns/op", float64(t1-t0)/float64(n),
		fmt.Sprintf("n=%d goroutines=%d writers=%d write_every=%d", n, g, writers, rwWriteEvery))
}
