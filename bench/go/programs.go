package main

// Issue 12's whole programs: twins of bench/skynet.c and bench/sieve.c
// (and, below, pool.c, sleepers.c, pipeline.c, msort.c), written from the
// published descriptions of the programs, doing the same work the same way
// as the C programs.

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func maxRSSMB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return float64(ru.Maxrss) / 1024
}

// skynet: a 10-ary tree of goroutines, leaf i sends i, parents sum.
func skynet(c chan int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	sub := size / div
	for i := int64(0); i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func benchSkynet(n int) {
	n = arg(n, 1000000)
	p := 1
	for p < n {
		p *= 10
	}
	if p != n {
		die("skynet: the number of leaves must be a power of 10")
	}
	want := int64(n) * int64(n-1) / 2
	c := make(chan int64)
	t0 := now()
	go skynet(c, 0, int64(n), 10)
	sum := <-c
	t1 := now()
	if sum != want {
		fmt.Fprintf(os.Stderr, "skynet: sum %d, want %d\n", sum, want)
		os.Exit(2)
	}
	result("skynet", "ms", float64(t1-t0)/1e6,
		fmt.Sprintf("leaves=%d sum=%d maxrss_mb=%.1f", n, sum, maxRSSMB()))
}

// sieve: the concurrent prime sieve.
func sieveGenerate(ch chan<- int64) {
	for i := int64(2); ; i++ {
		ch <- i
	}
}

func sieveFilter(in <-chan int64, out chan<- int64, prime int64) {
	for {
		v := <-in
		if v%prime != 0 {
			out <- v
		}
	}
}

func nthPrime(n int) int64 {
	p := int64(1)
	for k := 0; k < n; {
		p++
		prime := 1
		for d := int64(2); d*d <= p; d++ {
			if p%d == 0 {
				prime = 0
				break
			}
		}
		k += prime
	}
	return p
}

func benchSieve(n int) {
	n = arg(n, 3000)
	want := nthPrime(n)
	var prime int64
	t0 := now()
	ch := make(chan int64)
	go sieveGenerate(ch)
	for i := 0; i < n; i++ {
		prime = <-ch
		ch1 := make(chan int64)
		go sieveFilter(ch, ch1, prime)
		ch = ch1
	}
	t1 := now()
	if prime != want {
		fmt.Fprintf(os.Stderr, "sieve: prime %d is %d, want %d\n", n, prime, want)
		os.Exit(2)
	}
	result("sieve", "ms", float64(t1-t0)/1e6, fmt.Sprintf("primes=%d last=%d", n, prime))
}

// pool: a producer and 1000 workers through select, results fanned in.
const (
	poolWorkers = 1000
	poolCap     = 100
	poolSteps   = 64
)

func poolWork(x uint64) uint64 {
	for i := 0; i < poolSteps; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	return x
}

func poolProducer(jobs chan<- int64, quit <-chan struct{}, n int) {
	for i := 0; i < n; i++ {
		select {
		case jobs <- int64(i):
		case <-quit:
			return
		}
	}
	close(jobs)
}

func poolWorker(jobs <-chan int64, results chan<- uint64, quit <-chan struct{}) {
	defer wg.Done()
	for {
		select {
		case j, ok := <-jobs:
			if !ok {
				return
			}
			results <- poolWork(uint64(j))
		case <-quit:
			return
		}
	}
}

func benchPool(n int) {
	n = arg(n, 500000)
	var want, sum uint64
	for i := 0; i < n; i++ {
		want += poolWork(uint64(i))
	}
	jobs := make(chan int64, poolCap)
	results := make(chan uint64, poolCap)
	quit := make(chan struct{})
	t0 := now()
	wg.Add(poolWorkers)
	for w := 0; w < poolWorkers; w++ {
		go poolWorker(jobs, results, quit)
	}
	go poolProducer(jobs, quit, n)
	for i := 0; i < n; i++ {
		sum += <-results
	}
	close(quit)
	wg.Wait()
	t1 := now()
	if sum != want {
		fmt.Fprintf(os.Stderr, "pool: sum %d, want %d\n", sum, want)
		os.Exit(2)
	}
	result("pool", "ms", float64(t1-t0)/1e6, fmt.Sprintf("jobs=%d workers=%d ns_per_job=%.0f",
		n, poolWorkers, float64(t1-t0)/float64(n)))
}

// sleepers: 10,000 goroutines sleeping 1-10 ms 20 times each.
const sleepersSleeps = 20

func xorshift(s *uint64) uint64 {
	x := *s
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*s = x
	return x
}

func sleepDur(s *uint64) int64 { return int64(1000+xorshift(s)%9001) * 1000 }

func sleeperG(g int, late []int64) {
	s := 0x9E3779B97F4A7C15 * uint64(g+1)
	for k := 0; k < sleepersSleeps; k++ {
		d := sleepDur(&s)
		t := now()
		time.Sleep(time.Duration(d))
		late[g*sleepersSleeps+k] = now() - (t + d)
	}
	wg.Done()
}

// sleepersOnce runs the whole program once (samples reset, n goroutines,
// all waited for) and returns its wall time in ns.
func sleepersOnce(n int, late []int64) int64 {
	for i := range late {
		late[i] = math.MinInt64
	}
	t0 := now()
	wg.Add(n)
	for g := 0; g < n; g++ {
		go sleeperG(g, late)
	}
	wg.Wait()
	return now() - t0
}

func benchSleepers(n int) {
	n = arg(n, 10000)
	late := make([]int64, n*sleepersSleeps)
	var floor int64
	for g := 0; g < n; g++ {
		s := 0x9E3779B97F4A7C15 * uint64(g+1)
		var tot int64
		for k := 0; k < sleepersSleeps; k++ {
			tot += sleepDur(&s)
		}
		if tot > floor {
			floor = tot
		}
	}
	// BENCH_WARMUP=K: K unmeasured runs first, in this process (sleepers.c).
	warmup, _ := strconv.Atoi(os.Getenv("BENCH_WARMUP"))
	for r := 0; r < warmup; r++ {
		sleepersOnce(n, late)
	}
	wall := sleepersOnce(n, late)
	for i, v := range late {
		if v < 0 {
			fmt.Fprintf(os.Stderr, "sleepers: sample %d: %d ns\n", i, v)
			os.Exit(2)
		}
	}
	var mean float64
	for _, v := range late {
		mean += float64(v) / float64(len(late))
	}
	dumpSamples(late)
	sortI64(late)
	result("sleepers", "ms", float64(wall)/1e6, fmt.Sprintf(
		"goroutines=%d sleeps=%d warmup=%d floor_ms=%.1f late_mean_us=%.1f late_p50_us=%.1f late_p99_us=%.1f late_max_us=%.1f",
		n, sleepersSleeps, warmup, float64(floor)/1e6, mean/1e3, float64(quantile(late, 0.5))/1e3,
		float64(quantile(late, 0.99))/1e3, float64(quantile(late, 1))/1e3))
}

// pipeline: source -> 6 stages -> sink over channels of capacity 128.
const (
	pipeStages = 6
	pipeCap    = 128
)

func pipeStep(v uint64, k int) uint64 {
	v = v*uint64(2*k+3) + uint64(k)
	v = v*6364136223846793005 + 1442695040888963407
	v ^= v >> 29
	return v
}

func pipeSource(out chan<- uint64, n int) {
	for v := uint64(1); v <= uint64(n); v++ {
		out <- v
	}
	close(out)
}

func pipeStage(in <-chan uint64, out chan<- uint64, k int) {
	for v := range in {
		out <- pipeStep(v, k)
	}
	close(out)
}

func benchPipeline(n int) {
	n = arg(n, 1000000)
	var want, sum uint64
	for i := uint64(1); i <= uint64(n); i++ {
		v := i
		for k := 0; k < pipeStages; k++ {
			v = pipeStep(v, k)
		}
		want += v
	}
	var ch [pipeStages + 1]chan uint64
	for k := range ch {
		ch[k] = make(chan uint64, pipeCap)
	}
	t0 := now()
	go pipeSource(ch[0], n)
	for k := 0; k < pipeStages; k++ {
		go pipeStage(ch[k], ch[k+1], k)
	}
	got := 0
	for v := range ch[pipeStages] {
		sum += v
		got++
	}
	t1 := now()
	if sum != want || got != n {
		fmt.Fprintf(os.Stderr, "pipeline: %d items summing to %d, want %d and %d\n", got, sum, n, want)
		os.Exit(2)
	}
	result("pipeline", "ms", float64(t1-t0)/1e6, fmt.Sprintf("items=%d stages=%d ns_per_hop=%.1f",
		n, pipeStages, float64(t1-t0)/float64(n)/float64(pipeStages+1)))
}

// msort: parallel merge sort, a goroutine per left half above the cutoff.
const (
	msortCutoff    = 2048
	msortInsertion = 24
)

func msortInsert(a []int64) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i - 1
		for j >= 0 && a[j] > v {
			a[j+1] = a[j]
			j--
		}
		a[j+1] = v
	}
}

func msortMerge(a, tmp []int64, m int) {
	n := len(a)
	i, j, k := 0, m, 0
	for i < m && j < n {
		if a[j] < a[i] {
			tmp[k] = a[j]
			j++
		} else {
			tmp[k] = a[i]
			i++
		}
		k++
	}
	for i < m {
		tmp[k] = a[i]
		i++
		k++
	}
	for j < n {
		tmp[k] = a[j]
		j++
		k++
	}
	copy(a, tmp[:n])
}

func msortSeq(a, tmp []int64) {
	n := len(a)
	if n <= msortInsertion {
		msortInsert(a)
		return
	}
	m := n / 2
	msortSeq(a[:m], tmp[:m])
	msortSeq(a[m:], tmp[m:])
	msortMerge(a, tmp, m)
}

func msortPar(a, tmp []int64) {
	n := len(a)
	if n <= msortCutoff {
		msortSeq(a, tmp)
		return
	}
	m := n / 2
	var w sync.WaitGroup
	w.Add(1)
	go func() {
		msortPar(a[:m], tmp[:m])
		w.Done()
	}()
	msortPar(a[m:], tmp[m:])
	w.Wait()
	msortMerge(a, tmp, m)
}

func benchMsort(n int) {
	n = arg(n, 2000000)
	a := make([]int64, n)
	tmp := make([]int64, n)
	var x, sum0, xor0, sum1, xor1 uint64 = 1, 0, 0, 0, 0
	for i := range a {
		x = x*6364136223846793005 + 1442695040888963407
		a[i] = int64(x >> 1)
		sum0 += uint64(a[i])
		xor0 ^= uint64(a[i])
	}
	t0 := now()
	msortPar(a, tmp)
	t1 := now()
	for i, v := range a {
		if i > 0 && a[i-1] > v {
			fmt.Fprintf(os.Stderr, "msort: not sorted at %d\n", i)
			os.Exit(2)
		}
		sum1 += uint64(v)
		xor1 ^= uint64(v)
	}
	if sum0 != sum1 || xor0 != xor1 {
		die("msort: the elements changed")
	}
	result("msort", "ms", float64(t1-t0)/1e6, fmt.Sprintf("elems=%d cutoff=%d", n, msortCutoff))
}
