package main

// Spawn, ping-pong, yield, buffered channel, select and mutex twins of
// bench/spawn.c, pingpong.c, yield.c, buffered.c, select.c and mutex.c.
// Goroutines are started with `go f(args)` on top-level functions so no
// closure is allocated per goroutine (the C programs pass fn+arg).

import (
	"fmt"
	"runtime"
	"sync"
)

var wg sync.WaitGroup

func spawnChild() { wg.Done() }

func spawnRound(n int) {
	wg.Add(n)
	for i := 0; i < n; i++ {
		go spawnChild()
	}
	wg.Wait()
}

// spawn: N goroutines that each call Done; ns per goroutine.
func benchSpawn(n int) {
	n = arg(n, 1000000)
	spawnRound(n / 10) // warm-up
	t0 := now()
	spawnRound(n)
	t1 := now()
	result("spawn", "ns/op", float64(t1-t0)/float64(n),
		fmt.Sprintf("n=%d total_ms=%.1f", n, float64(t1-t0)/1e6))
}

var ping, pong chan int64

func echo() {
	for v := range ping {
		pong <- v
	}
	wg.Done()
}

// pingpong: round trips over two unbuffered channels.
func benchPingpong(n int) {
	n = arg(n, 500000)
	ping, pong = make(chan int64), make(chan int64)
	wg.Add(1)
	go echo()
	var v int64
	for i := 0; i < 10000; i++ {
		ping <- v
		v = <-pong
	}
	t0 := now()
	for i := 0; i < n; i++ {
		ping <- int64(i)
		v = <-pong
	}
	t1 := now()
	close(ping)
	wg.Wait()
	if v != int64(n-1) {
		die("pingpong: wrong value echoed")
	}
	result("pingpong", "ns/op", float64(t1-t0)/float64(n), fmt.Sprintf("n=%d", n))
}

func yielder(n int) {
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	wg.Done()
}

func yieldRun(n int) {
	wg.Add(2)
	go yielder(n)
	go yielder(n)
	wg.Wait()
}

// yield: two goroutines calling Gosched N times each (GOMAXPROCS=1).
func benchYield(n int) {
	n = arg(n, 2000000)
	yieldRun(10000)
	t0 := now()
	yieldRun(n)
	t1 := now()
	result("yield", "ns/op", float64(t1-t0)/float64(2*n), fmt.Sprintf("n=%d", n))
}

func producer(c chan int64, n int) {
	for i := 0; i < n; i++ {
		c <- int64(i)
	}
	close(c)
}

func bufferedRun(n int) int64 {
	c := make(chan int64, 128)
	go producer(c, n)
	var sum int64
	for v := range c {
		sum += v
	}
	return sum
}

// buffered: producer -> consumer over a channel of capacity 128.
func benchBuffered(n int) {
	n = arg(n, 2000000)
	bufferedRun(10000)
	t0 := now()
	sum := bufferedRun(n)
	t1 := now()
	if sum != int64(n)*int64(n-1)/2 {
		die("buffered: wrong sum")
	}
	result("buffered", "ns/op", float64(t1-t0)/float64(n), fmt.Sprintf("n=%d", n))
}

func selectRun(per int) int64 {
	var c [4]chan int64
	for i := range c {
		c[i] = make(chan int64, 128)
	}
	for i := range c {
		go producer(c[i], per)
	}
	c0, c1, c2, c3 := c[0], c[1], c[2], c[3]
	var sum int64
	for open := 4; open > 0; {
		select {
		case v, ok := <-c0:
			if !ok {
				c0 = nil
				open--
			} else {
				sum += v
			}
		case v, ok := <-c1:
			if !ok {
				c1 = nil
				open--
			} else {
				sum += v
			}
		case v, ok := <-c2:
			if !ok {
				c2 = nil
				open--
			} else {
				sum += v
			}
		case v, ok := <-c3:
			if !ok {
				c3 = nil
				open--
			} else {
				sum += v
			}
		}
	}
	return sum
}

// select: one goroutine selecting over 4 channels fed by 4 producers.
func benchSelect(n int) {
	n = arg(n, 2000000)
	per := n / 4
	n = per * 4
	selectRun(2500)
	t0 := now()
	sum := selectRun(per)
	t1 := now()
	if sum != 4*int64(per)*int64(per-1)/2 {
		die("select: wrong sum")
	}
	result("select", "ns/op", float64(t1-t0)/float64(n), fmt.Sprintf("n=%d", n))
}

var (
	mu      sync.Mutex
	counter int64
)

func mutexWorker(n int) {
	for i := 0; i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	wg.Done()
}

func mutexRun(g, per int) {
	wg.Add(g)
	for i := 0; i < g; i++ {
		go mutexWorker(per)
	}
	wg.Wait()
}

// mutex: 8 goroutines incrementing a counter under one sync.Mutex.
func benchMutex(n int) {
	const g = 8
	n = arg(n, 4000000)
	per := n / g
	n = per * g
	mutexRun(g, 10000)
	counter = 0
	t0 := now()
	mutexRun(g, per)
	t1 := now()
	if counter != int64(n) {
		die("mutex: lost increments")
	}
	result("mutex", "ns/op", float64(t1-t0)/float64(n), fmt.Sprintf("n=%d goroutines=%d", n, g))
}
