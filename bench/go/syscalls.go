package main

// Twins of gort's system-call benchmarks (issue 8): bench/handoff.c,
// handoff_pipe.c, memset_ticker.c, stw_shared.c, stw_syscall.c, eintr.c,
// syscall_bracket.c and quantum.c.  Blocking calls go through package
// syscall (syscall.Syscall: runtime.entersyscall/exitsyscall around a raw
// system call), never through os or net, so the goroutine really blocks
// in the kernel and Go's sysmon must retake its P, as gort must.

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The runtime's system-call bracket itself, for syscall_bracket's
// tight-loop figure (linkname pulls of runtime functions are allowed in Go
// 1.19; empty.s lets this package declare functions without bodies).
//
//go:linkname entersyscall runtime.entersyscall
func entersyscall()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// handoff / handoff_pipe (GOMAXPROCS=1): the main goroutine readies B
// (unbuffered send to B, parked in receive: B goes to this P's runnext),
// stamps t0 and blocks in syscall.Nanosleep(1 ms) or syscall.Read of a
// syscall.Pipe fd (blocking, unlike os.Pipe's netpoller fds); B records
// now - t0 (and writes the pipe's byte) and acknowledges.
func benchHandoff(n int)     { handoff(n, false) }
func benchHandoffPipe(n int) { handoff(n, true) }

func handoff(n int, pipe bool) {
	n = arg(n, 1000)
	name, call := "handoff", "nanosleep_1ms"
	var p [2]int
	if pipe {
		name, call = "handoff_pipe", "read_pipe"
		if err := syscall.Pipe(p[:]); err != nil {
			die("pipe: " + err.Error())
		}
	}
	token := make(chan int)
	ack := make(chan struct{}, 1)
	lat := make([]int64, n)
	var t0stamp, early int64
	go func() {
		b := []byte{'b'}
		for i := range token {
			t1 := now()
			t0 := atomic.LoadInt64(&t0stamp)
			if t0 == 0 {
				atomic.AddInt64(&early, 1)
				lat[i] = -1
			} else {
				lat[i] = t1 - t0
			}
			if pipe {
				if _, err := syscall.Write(p[1], b); err != nil {
					die("write: " + err.Error())
				}
			}
			ack <- struct{}{}
		}
	}()
	one := func(i int) {
		atomic.StoreInt64(&t0stamp, 0)
		token <- i
		atomic.StoreInt64(&t0stamp, now())
		if pipe {
			var c [1]byte
			for {
				r, err := syscall.Read(p[0], c[:])
				if err == syscall.EINTR {
					continue
				}
				if err != nil || r != 1 {
					die("read from the pipe failed")
				}
				break
			}
		} else {
			ts := syscall.Timespec{Nsec: 1000000}
			syscall.Nanosleep(&ts, nil)
		}
		<-ack
	}
	for i := 0; i < 20 && i < n; i++ {
		one(i)
	}
	atomic.StoreInt64(&early, 0)
	t0 := now()
	for i := 0; i < n; i++ {
		one(i)
	}
	secs := float64(now()-t0) / 1e9
	close(token)
	m := 0
	for _, v := range lat {
		if v >= 0 {
			lat[m] = v
			m++
		}
	}
	lat = lat[:m]
	dumpSamples(lat)
	s := latencySummary(lat)
	result(name, "ns", float64(quantile(lat, 0.99)),
		fmt.Sprintf("n=%d call=%s %s early=%d rescued=0 secs_measured=%.2f", m, call, s,
			atomic.LoadInt64(&early), secs))
}

// memset_ticker (GOMAXPROCS=1): time.Sleep(1 ms) lateness beside a
// goroutine clearing a 1 GiB []byte with the memclr idiom, which the
// compiler turns into one call of the runtime's assembly
// memclrNoHeapPointers: not asynchronously preemptible and not a system
// call, so Go's scheduler waits for it to end (runtime.Gosched between
// clears, as gort's clearer calls gort_yield).
func benchMemsetTicker(n int) {
	n = arg(n, 1000)
	const size = 1 << 30
	buf := make([]byte, size)
	t0 := now()
	for i := range buf { // touch: fault every page in
		buf[i] = 0
	}
	touch := now() - t0
	var stop int32
	var clears, clearNs int64
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			c0 := now()
			for i := range buf {
				buf[i] = 0
			}
			atomic.AddInt64(&clearNs, now()-c0)
			atomic.AddInt64(&clears, 1)
			runtime.Gosched()
		}
		done.Done()
	}()
	for i := 0; i < 5; i++ {
		time.Sleep(time.Millisecond)
	}
	c0 := atomic.LoadInt64(&clears)
	late := make([]int64, 0, n)
	start := now()
	for len(late) < n && now()-start < 5e9 {
		t := now()
		time.Sleep(time.Millisecond)
		late = append(late, now()-t-int64(time.Millisecond))
	}
	secs := float64(now()-start) / 1e9
	nclears := atomic.LoadInt64(&clears) - c0
	atomic.StoreInt32(&stop, 1)
	done.Wait()
	all := atomic.LoadInt64(&clears)
	clearMs := 0.0
	if all > 0 {
		clearMs = float64(atomic.LoadInt64(&clearNs)) / float64(all) / 1e6
	}
	dumpSamples(late)
	s := latencySummary(late)
	result("memset_ticker", "ns", float64(quantile(late, 0.99)),
		fmt.Sprintf("n=%d %s clears=%d clear_ms=%.1f touch_ms=%.1f secs_measured=%.2f",
			len(late), s, nclears, clearMs, float64(touch)/1e6, secs))
}

// stw_shared: runtime.ReadMemStats timed while GOMAXPROCS goroutines spin
// (the stopper shares a P with one of them).
func benchSTWShared(n int) {
	n = arg(n, 300)
	procs := runtime.GOMAXPROCS(0)
	startSpinners(procs)
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
	result("stw_shared", "ns", float64(quantile(lat, 0.99)),
		fmt.Sprintf("n=%d spinners=%d %s", n, procs, s))
}

// stw_syscall: runtime.ReadMemStats timed (after a 1 ms sleep each) for as
// long as one goroutine is in syscall.Nanosleep(2 s), while another loops
// syscall.Nanosleep(100 us).  Value: the max pause.
func benchSTWSyscall(n int) {
	var in, done, stop int32
	var calls int64
	var sleep2 int64
	var wg2 sync.WaitGroup
	wg2.Add(2)
	go func() {
		ts := syscall.Timespec{Nsec: 100000}
		for atomic.LoadInt32(&stop) == 0 {
			syscall.Nanosleep(&ts, nil)
			atomic.AddInt64(&calls, 1)
		}
		wg2.Done()
	}()
	go func() {
		atomic.StoreInt32(&in, 1)
		t0 := now()
		ts := syscall.Timespec{Sec: 2}
		syscall.Nanosleep(&ts, nil)
		sleep2 = now() - t0
		atomic.StoreInt32(&done, 1)
		wg2.Done()
	}()
	for atomic.LoadInt32(&in) == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(2 * time.Millisecond)
	var ms runtime.MemStats
	lat := make([]int64, 0, 4000)
	for len(lat) < 4000 && atomic.LoadInt32(&done) == 0 {
		time.Sleep(time.Millisecond)
		t0 := now()
		runtime.ReadMemStats(&ms)
		lat = append(lat, now()-t0)
	}
	atomic.StoreInt32(&stop, 1)
	wg2.Wait()
	if len(lat) == 0 {
		die("stw_syscall: no sample")
	}
	dumpSamples(lat)
	s := latencySummary(lat)
	result("stw_syscall", "ns", float64(quantile(lat, 1)),
		fmt.Sprintf("n=%d %s sleep2_ns=%d usleep_calls=%d", len(lat), s, sleep2,
			atomic.LoadInt64(&calls)))
}

// eintr: 32 goroutines make N calls in all, rotating syscall.Nanosleep,
// ppoll (syscall.Syscall6(SYS_PPOLL), no fds) and syscall.Select (no fds),
// 10 us each, beside GOMAXPROCS hogs; EINTR failures counted, not
// retried.  One goroutine sleeps 2 s with syscall.Nanosleep.
func benchEINTR(n int) {
	n = arg(n, 100000)
	const callers = 32
	procs := runtime.GOMAXPROCS(0)
	startSpinners(procs)
	var intr [3]int64
	var other int64
	var sleep2 int64
	var sleepErr error
	var wg2 sync.WaitGroup
	t0 := now()
	wg2.Add(callers + 1)
	go func() {
		s0 := now()
		ts := syscall.Timespec{Sec: 2}
		sleepErr = syscall.Nanosleep(&ts, nil)
		sleep2 = now() - s0
		wg2.Done()
	}()
	per := n / callers
	for k := 0; k < callers; k++ {
		go func(k int) {
			for i := 0; i < per; i++ {
				kind := (i + k) % 3
				var err error
				switch kind {
				case 0:
					ts := syscall.Timespec{Nsec: 10000}
					err = syscall.Nanosleep(&ts, nil)
				case 1:
					ts := syscall.Timespec{Nsec: 10000}
					_, _, e := syscall.Syscall6(syscall.SYS_PPOLL, 0, 0,
						uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
					if e != 0 {
						err = e
					}
				case 2:
					tv := syscall.Timeval{Usec: 10}
					_, err = syscall.Select(0, nil, nil, nil, &tv)
				}
				if err == syscall.EINTR {
					atomic.AddInt64(&intr[kind], 1)
				} else if err != nil {
					atomic.AddInt64(&other, 1)
				}
			}
			wg2.Done()
		}(k)
	}
	wg2.Wait()
	secs := float64(now()-t0) / 1e9
	stopSpinners()
	ret := 0
	if sleepErr != nil {
		ret = 1
	}
	total := intr[0] + intr[1] + intr[2]
	result("eintr", "count", float64(total),
		fmt.Sprintf("n=%d callers=%d hogs=%d quantum=10ms(fixed) eintr_nanosleep=%d eintr_ppoll=%d "+
			"eintr_select=%d other_errors=%d sleep2_ns=%d sleep2_ret=%d secs_measured=%.2f",
			per*callers, callers, procs, intr[0], intr[1], intr[2], other, sleep2, ret, secs))
}

// syscall_bracket: Syscall(SYS_GETPPID) - RawSyscall(SYS_GETPPID) per call,
// best of 5 interleaved rounds each.  syscall.Syscall is RawSyscall
// between runtime.entersyscall and exitsyscall, so the difference is Go's
// system-call bracket (fast path: the P is still there on exit), paid
// right after a kernel entry as a real call pays it.  Also reported:
// bracket_tight_ns, entersyscall+exitsyscall called back to back in a
// tight loop (no system call between), the figure gort's value is.
func benchSyscallBracket(n int) {
	n = arg(n, 500000)
	const rounds = 5
	for i := 0; i < n/10; i++ {
		syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
	bestW, bestR, bestT := 0.0, 0.0, 0.0
	for r := 0; r < rounds; r++ {
		tt := now()
		for i := 0; i < 4*n; i++ {
			entersyscall()
			exitsyscall()
		}
		if t := float64(now()-tt) / float64(4*n); r == 0 || t < bestT {
			bestT = t
		}
		t0 := now()
		for i := 0; i < n; i++ {
			syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		t1 := now()
		for i := 0; i < n; i++ {
			syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		t2 := now()
		w, raw := float64(t1-t0)/float64(n), float64(t2-t1)/float64(n)
		if r == 0 || w < bestW {
			bestW = w
		}
		if r == 0 || raw < bestR {
			bestR = raw
		}
	}
	result("syscall_bracket", "ns/op", bestW-bestR,
		fmt.Sprintf("n=%d rounds=%d getppid_wrapped_ns=%.1f getppid_raw_ns=%.1f getppid_wrap_ns=%.1f "+
			"bracket_tight_ns=%.1f", n, rounds, bestW, bestR, bestW-bestR, bestT))
}

// quantum (GOMAXPROCS=1): two spinners measure their slices (a gap of more
// than 20 us between two clock reads ends one), as bench/quantum.c does
// with rdtsc.  Go's slice is fixed at 10 ms; value p99 slice / 10 ms.
func benchQuantum(n int) {
	ms := arg(n, 2000)
	const gap = 20000
	const quantum = 10000000
	var stop2 int32
	slices := make([][]int64, 2)
	var wg2 sync.WaitGroup
	wg2.Add(2)
	for k := 0; k < 2; k++ {
		go func(k int) {
			x := uint64(k + 1)
			var sl []int64
			start := now()
			last := start
			for atomic.LoadInt32(&stop2) == 0 {
				t := now()
				if t-last > gap {
					sl = append(sl, last-start)
					start = t
				}
				last = t
				x = x*6364136223846793005 + 1442695040888963407
				x ^= x >> 29
			}
			atomic.StoreUint64(&sink, x)
			slices[k] = sl
			wg2.Done()
		}(k)
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	atomic.StoreInt32(&stop2, 1)
	wg2.Wait()
	var all []int64
	for _, sl := range slices {
		if len(sl) > 1 {
			all = append(all, sl[1:]...)
		}
	}
	if len(all) == 0 {
		die("quantum: no switch between the spinners was seen")
	}
	dumpSamples(all)
	s := latencySummary(all)
	result("quantum", "x", float64(quantile(all, 0.99))/quantum,
		fmt.Sprintf("n=%d quantum=10ms(fixed) quantum_ns=%d %s p50_x=%.3f max_x=%.3f measure_ms=%d",
			len(all), quantum, s, float64(quantile(all, 0.5))/quantum,
			float64(quantile(all, 1))/quantum, ms))
}
