package main

// Issue 12's whole programs: twins of bench/skynet.c and bench/sieve.c
// (and, below, pool.c, sleepers.c, pipeline.c, msort.c), written from the
// published descriptions of the programs, doing the same work the same way
// as the C programs.

import (
	"fmt"
	"os"
	"syscall"
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
