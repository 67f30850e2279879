// Issue 13: sync.RWMutex read-mostly, the twin of bench/rwmutex.c.

package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Registered here rather than in main.go's table, so that issue 13's
// benchmarks each add a file and no shared lines.
func init() { benches["rwmutex"] = benchRWMutex }

var (
	rwmu      sync.RWMutex
	rwCounter int64
	rwSeen    int64
	rwWg      sync.WaitGroup
)

const rwWriteEvery = 100

func rwWorker(n int) {
	sum := int64(0)
	for i := 0; i < n; i++ {
		if i%rwWriteEvery == 0 {
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

func rwRun(g, per int) {
	rwWg.Add(g)
	for i := 0; i < g; i++ {
		go rwWorker(per)
	}
	rwWg.Wait()
}

// rwmutex: 8 goroutines on one sync.RWMutex, every 100th operation of
// each a write (Lock, increment, Unlock), the others reads (RLock, read,
// RUnlock).  ns per operation.
func benchRWMutex(n int) {
	const g = 8
	n = arg(n, 20000000)
	per := n / g
	n = per * g
	rwRun(g, 10000)
	rwCounter = 0
	t0 := now()
	rwRun(g, per)
	t1 := now()
	if rwCounter != int64(g*((per+rwWriteEvery-1)/rwWriteEvery)) {
		die("rwmutex: lost increments")
	}
	result("rwmutex", "ns/op", float64(t1-t0)/float64(n),
		fmt.Sprintf("n=%d goroutines=%d write_every=%d", n, g, rwWriteEvery))
}
