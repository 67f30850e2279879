/*
 * sysmon.c — the system monitor thread (Go's sysmon): notices goroutines
 * that have run longer than the time slice and asks for their preemption,
 * retries requests that landed at unsafe points, reports goroutines that
 * cannot be preempted, keeps timers on idle Ps from being forgotten, and
 * prints GORTDEBUG=schedtrace lines.
 *
 * Timing.  A P's schedtick changes at every new time slice (every switch
 * but to a runnext G, which inherits its waker's slice); sysmon
 * records when it first saw each tick (sysmon_when), so a G's run time is
 * known to within one sysmon period -- exactly when the slice began right
 * after a preemption on that P (slice_began) -- and asks `lead` before the
 * quantum's end: the delay it has seen between asking and the goroutine's
 * stop, nine times in ten.  While any P is running, the period is quantum/8 (at
 * least 20 us): a hog is stopped near one quantum, where
 * Go's sysmon (10 ms period at worst) lets it run two to four.  A timer
 * due on a busy P does not wait for the quantum: sysmon wakes at its
 * deadline and stops the G once it has run at least one period, so a
 * sleeper next to hogs is late by about a period (Go: two to four slices).  With
 * nothing running for a while sysmon sleeps on a note until execute() wakes
 * it, so an idle program uses no CPU.
 *
 * Quiet spells.  When every P is running and has kept its goroutine for a
 * few rounds, and nothing wants one (lone call-free loops), sysmon stops
 * polling and sleeps on sysmonnote until its next known deadline, at most
 * DEEP_MAX_NS; whatever could make a P wanted wakes it through sysmonwait:
 * a switch (execute), runnable work while no P is idle (wakep), a new
 * earliest timer (addtimer).  A lone loop then sees ~45 sysmon wakeups a
 * second instead of ~400.
 *
 * A request is only made when something else wants the P: its run queue or
 * runnext is not empty, the global queue has work and no P is idle, one of
 * its timers is due, or the world is being stopped.  A lone hog is never
 * signalled.
 *
 * sysmon is a plain thread, not an M: it holds no P and runs no goroutine,
 * so the preemption signal handler ignores it.
 */
#include "runtime.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

/* Quiet rounds before sysmon stops polling, and its longest sleep then
 * (it still refreshes the code map that often).  Stacks are not sysmon's
 * business: the scavenger thread (scavenge.c) drops their pages, so a slow
 * madvise never delays a preemption or a timer. */
#define DEEP_AFTER 4
#define DEEP_MAX_NS 50000000

/* How long before a slice's end sysmon asks for it: its own wake-up
 * lateness plus the signal's trip to the goroutine, learnt from the
 * preemptions it asked for on time (see slice_began).  It tracks the 90th
 * percentile of that delay: a step up of LEAD_UP steps for a sample above
 * it, one step down for a sample below, which balance where one sample in
 * LEAD_UP + 1 is above. */
static int64_t lead;
#define LEAD_STEP_NS 500
#define LEAD_UP 9

/* How late sysmon's timed sleeps end (the median, tracked by steps of
 * LEAD_STEP_NS): on the AMD EPYC VM a futex sleep with 1 us of timer
 * slack ends ~20 us past its deadline, whatever its length.  Deadlines
 * whose lateness is not otherwise learnt (the system-call retake) are
 * planned that much early. */
static int64_t wake_late;
#define WAKE_LATE_MAX_NS 100000

/* One step of a quantile tracker (lead, wake_late): up `up` steps for a
 * sample above the estimate, one down otherwise, kept within [0, max].
 * It settles where one sample in up + 1 lies above it. */
static int64_t track_quantile(int64_t est, int64_t sample, int up, int64_t max)
{
    est += sample > est ? up * LEAD_STEP_NS : -LEAD_STEP_NS;
    return est < 0 ? 0 : est > max ? max : est;
}

static int64_t last_trace;
static int64_t start_time; /* schedtrace prints ms since sysmon started, as Go does */

static bool p_wanted(P *pp, int64_t now)
{
    if (!gort__runqempty(pp))
        return true;
    if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0 &&
        atomic_load_explicit(&sched.npidle, memory_order_relaxed) == 0)
        return true;
    int64_t tw = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
    if (tw && tw <= now)
        return true;
    return atomic_load_explicit(&sched.gcwaiting, memory_order_relaxed) != 0;
}

/* Work was queued by a thread without a P (a plain thread's gort_go, a
 * goready from foreign code) while no P is idle: ask now for the
 * preemption of a goroutine that has used up its slice, as sysmon's next
 * round would.  sysmon is another thread that must first be woken and get
 * a CPU, and on a loaded machine the kernel kept it off the CPU for 10-75
 * ms after the wakeup (EEVDF; a lone loop next to the readied work ran
 * 20-27 ms of CPU meanwhile), while the thread queueing the work is on a
 * CPU already.  Only a fresh request, and only for a slice sysmon has
 * dated (its tick is the P's current one): retries, reports and the
 * signal-after-poison of split-stack mode stay sysmon's.  Goroutines on a
 * P queue their work on that P and reach a scheduling point themselves;
 * they do not come here (gort__wakep). */
void gort__preempt_queued(void)
{
    /* Only for work still queued: gort_main's own wakep (for goroutines
     * queued before it) comes here from the P-less main thread after the
     * new M may already have taken goroutine 1, the only G, off the
     * queue; a request then, with nothing waiting, lands in whatever libc
     * call goroutine 1 is making and releases its P there
     * (syscall_foreign.c), so that its next gort_go ran the new goroutine
     * on another thread beside it at GORTMAXPROCS=1 (test_preempt_nosplit,
     * on a loaded machine). */
    if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed) == 0)
        return;
    int64_t now = gort__nanotime(), q = gort__cfg.quantum_ns;
    int32_t n = __atomic_load_n(&sched.gomaxprocs, __ATOMIC_RELAXED);
    for (int32_t i = 0; i < n; i++) {
        P *pp = sched.allp[i];
        if (!pp || atomic_load_explicit(&pp->status, memory_order_relaxed) != P_RUNNING)
            continue;
        uint32_t seen = __atomic_load_n(&pp->sysmon_tick, __ATOMIC_ACQUIRE);
        int64_t since = __atomic_load_n(&pp->sysmon_when, __ATOMIC_RELAXED);
        if (atomic_load_explicit((_Atomic uint32_t *)&pp->schedtick, memory_order_relaxed) != seen ||
            now - since < q)
            continue;
        M *m = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
        G *g = m ? __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE) : NULL;
        if (!g || atomic_load(&g->preempt))
            continue;
        gort__preemptone(pp);
        return; /* one P frees up for one queued batch */
    }
}

/* Slice `old` of pp ended in a preemption and the next one began: when?
 * 0 if pp's record is of another slice or is being rewritten. */
static int64_t preempted_at(P *pp, uint32_t old)
{
    uint32_t t1 = atomic_load_explicit(&pp->preempted_tick, memory_order_acquire);
    int64_t at = atomic_load_explicit(&pp->preempted_at, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    uint32_t t2 = atomic_load_explicit(&pp->preempted_tick, memory_order_relaxed);
    return t1 == old && t2 == old ? at : 0;
}

/* sysmon saw pp's tick move from pp->sysmon_tick to `tick`: when did the
 * new slice begin?  If the tick moved by exactly one and the slice that
 * ended was preempted, the preempted goroutine noted the time (proc.c
 * note_preempted): that is the date, exact.  (The note is cleared when
 * the P stops or goes idle, or a runnext goroutine takes over the
 * preempted slice, so a pause in between does not count as run time.)  If sysmon asked for that
 * preemption on time, the gap between when it meant to ask and when the
 * goroutine stopped -- its own wake-up lateness plus the signal's
 * delivery -- teaches it how early to ask next time (the 90th percentile
 * of those gaps, capped at half a quantum): without this lead every slice
 * overran the quantum by that much.  On the AMD EPYC VM of stop 21 the gap
 * was 47-50 us at the median and 53-58 at p90 (a timed sleep there wakes
 * 20 us late, and a signal takes ~25 us to reach a thread on another
 * CPU); with the median as the lead and the cap at a quarter quantum,
 * slices at quantum=100us ran 1.21-1.32 quanta at p99.  The 90th
 * percentile costs the median slice little when the gap is steady (5 us
 * more lead than the median here) and keeps the tail inside the quantum:
 * one late wake-up in ten no longer pushes the slice past it.
 * Otherwise (a park, a yield, several switches) the middle of the window
 * since the last round, unless the window is long (sysmon slept): an
 * error of half a period either way. */
static int64_t slice_began(P *pp, uint32_t tick, int64_t now, int64_t prev_round,
                           int64_t backoff, int64_t q, bool *exact)
{
    *exact = false;
    uint32_t old = pp->sysmon_tick;
    int64_t aim = pp->sysmon_aim;
    pp->sysmon_aim = 0;
    if (tick == old + 1) {
        int64_t at = preempted_at(pp, old);
        if (at > pp->sysmon_when && at <= now) {
            if (aim > 0) {
                /* Track the 90th percentile of (at - aim) by fixed steps,
                 * so a rare huge sample (a retried request, a descheduled
                 * thread) moves it no more than a typical one. */
                lead = track_quantile(lead, at - aim, LEAD_UP, q / 2);
            }
            *exact = true;
            return at;
        }
    }
    return now - prev_round <= 2 * backoff ? now - (now - prev_round) / 2 : now;
}

/* Has anything changed since the scan that planned a quiet sleep until
 * `until`: a switch on some P, queued work, an earlier timer?  The wakers
 * (execute, wakep, addtimer) publish their change and then read
 * sysmonwait with no fence in between -- a fence cost pingpong 7% -- so a
 * change can still be invisible right after sysmonwait is set; see the
 * second re-check in sysmon(). */
static bool still_quiet(int64_t until)
{
    if (atomic_load(&sched.runqsize) != 0)
        return false;
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *pp = sched.allp[i];
        if (atomic_load(&pp->status) != P_RUNNING ||
            atomic_load((_Atomic uint32_t *)&pp->schedtick) != pp->sysmon_tick ||
            !gort__runqempty(pp))
            return false;
        int64_t tw = atomic_load(&pp->timer0_when);
        if (tw && tw < until)
            return false;
    }
    return true;
}

/* End a sleep on sysmonnote that was announced by setting sysmonwait.
 * Returns true if a waker took the flag (gort__sysmon_wake or _nudge),
 * false if sysmon cleared it itself (nobody woke it).  It does not wait
 * for that waker's notewakeup: a waker descheduled between its CAS and
 * the wakeup (a plain thread on a loaded machine) would hold sysmon, and
 * with it every preemption, for as long as the kernel keeps it off the
 * CPU (a lone loop next to readied work once ran 27 ms of CPU, 55 ms of
 * wall time, before it was stopped).  The late wakeup is a hint
 * (gort__notewakeup_hint): at worst it cuts the next sleep short, after
 * which sysmon looks again. */
static bool end_wait(void)
{
    return atomic_exchange(&sched.sysmonwait, SYSMON_POLL) == SYSMON_POLL;
}

/* Is a goroutine in a system call with work waiting behind its P? */
static bool syscall_waiting(void)
{
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *pp = sched.allp[i];
        if (atomic_load(&pp->status) == P_SYSCALL &&
            (!gort__runqempty(pp) || atomic_load(&sched.runqsize) > 0))
            return true;
    }
    return false;
}

/* sysmon is about to sleep until `until` (-1: until woken).  A sleep
 * longer than DEEP_MAX_NS withdraws the wait clock it publishes
 * (sched.waitclock), so parks meanwhile read the clock themselves
 * (gort__waitclock): the published value is never older than that, plus
 * whatever the OS keeps sysmon off its CPU. */
static void waitclock_sleep(int64_t now, int64_t until)
{
    if (until < 0 || until - now > DEEP_MAX_NS)
        atomic_store_explicit(&sched.waitclock, 0, memory_order_relaxed);
}

/* Sleep until `until`.  A sleep longer than the system-call retake bound
 * can be cut short by a goroutine entering a call with work behind it
 * (gort__sysmon_nudge, SYSMON_NAP): it publishes P_SYSCALL and then reads
 * sysmonwait; we publish SYSMON_NAP and then look at the Ps, so one of us
 * sees the other.  Shorter sleeps are not worth the flag. */
static void nap(int64_t until)
{
    /* Only a sleep that had time left to sleep measures its lateness: a
     * round that overran its deadline (a thread created in a hand-off, a
     * code-map refresh, sysmon descheduled) returns at once. */
    int64_t t0 = gort__nanotime();
    bool timed = t0 < until;
    if (until - t0 <= 40000) {
        gort__note n = {0};
        gort__notetsleep_until(&n, until);
    } else {
        waitclock_sleep(t0, until);
        gort__noteclear(&sched.sysmonnote);
        atomic_store(&sched.sysmonwait, SYSMON_NAP);
        timed &= !syscall_waiting() && !gort__notetsleep_until(&sched.sysmonnote, until);
        timed &= !end_wait();
    }
    if (timed) {
        int64_t late = gort__nanotime() - until;
        if (late >= 0)
            wake_late = track_quantile(wake_late, late, 1, WAKE_LATE_MAX_NS);
    }
}

static void schedtrace(int64_t now)
{
    int64_t every = gort__cfg.schedtrace_ms * 1000000;
    if (every <= 0 || now - last_trace < every)
        return;
    last_trace = now;
    char line[1024];
    /* Goroutines inside system calls and foreign calls, and Ps handed on
     * during them (syscall.c), and those parked on the netpoller (Go shows
     * none of these). */
    gort_stats st;
    gort_read_stats(&st);
    int n = snprintf(line, sizeof line,
                     "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                     "idlethreads=%d runqueue=%d goroutines=%d insyscall=%llu handoffs=%llu iowait=%llu [",
                     (long long)((now - start_time) / 1000000), sched.gomaxprocs, atomic_load(&sched.npidle),
                     sched.mcount, atomic_load(&sched.nmspinning), sched.nmidle,
                     atomic_load(&sched.runqsize), (int)st.goroutines,
                     (unsigned long long)st.in_syscall, (unsigned long long)st.handoffs,
                     (unsigned long long)st.io_wait);
    for (int32_t i = 0; i < sched.gomaxprocs && n < (int)sizeof line - 16; i++) {
        P *pp = sched.allp[i];
        uint32_t len = atomic_load(&pp->runqtail) - atomic_load(&pp->runqhead);
        n += snprintf(line + n, sizeof line - (size_t)n, i ? " %u" : "%u", len);
    }
    gort__print("%s]\n", line);
}

static void *sysmon(void *arg)
{
    (void)arg;
    /* sysmon's sleeps are deadlines (a quantum's end, a timer's): the
     * default 50 us timer slack would blur them. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    /* And they must end on a CPU: when every P's thread is running,
     * sysmon waits for one of them to lose its CPU, and with the kernel's
     * default slice that took up to a 4 ms tick (cpus_linux.c).  100 us
     * is the shortest slice the kernel takes; a round needs a few.
     * Named for top -H, gdb and perf (after the request: a test finds
     * sysmon by this name and reads its slice).  The Ms sysmon starts
     * (hand-offs, wakep) get neither: newm takes both off around
     * pthread_create.  (The timer slack above they do inherit, as
     * before.) */
    gort__cpu_sysmon_thread(gort__cfg.sysmonslice, 100000, "gort-sysmon");
    int idle_rounds = 0;
    int64_t last_codemap = 0;
    int64_t backoff = 0, prev_round = 0;
    int quiet_rounds = 0;
    for (;;) {
        if (atomic_load(&sched.exiting))
            return NULL;
        int64_t now = gort__nanotime();
        atomic_store_explicit(&sched.waitclock, now, memory_order_relaxed);
        int64_t q = gort__cfg.quantum_ns;
        int64_t period = q / 8 < 20000 ? 20000 : q / 8;
        /* While nothing waits for a busy P, poll less: the period doubles
         * up to quantum/4 and drops back as soon as something is wanted.
         * Quantum ends and timer deadlines still wake sysmon exactly; only
         * work readied onto a busy machine from outside is noticed up to
         * quantum/4 later.  (A lone call-free loop otherwise pays for 800
         * sysmon wakeups a second.) */
        if (backoff < period)
            backoff = period;
        bool wanted_any = false, switched = false;
        /* The earliest deadline known (quantum ends, timers); the polling
         * interval is applied below unless sysmon goes quiet. */
        int64_t next = now + DEEP_MAX_NS;
        bool running = false;
        int32_t nrunning = 0;
        for (int32_t i = 0; i < sched.gomaxprocs; i++) {
            P *pp = sched.allp[i];
            if (atomic_load_explicit(&pp->status, memory_order_relaxed) != P_RUNNING)
                continue;
            running = true;
            nrunning++;
            uint32_t tick = atomic_load_explicit((_Atomic uint32_t *)&pp->schedtick,
                                                 memory_order_relaxed);
            int64_t tw = atomic_load_explicit(&pp->timer0_when, memory_order_relaxed);
            /* The slice's start is exact, or an estimate older than this
             * round: a slice seen for the first time and dated by
             * estimate may have begun just now. */
            bool dated = true;
            if (tick != pp->sysmon_tick) {
                switched = true;
                /* The switch happened since the last round.  The date
                 * before the tick (release): gort__preempt_queued reads
                 * them from other threads, and a new date with an old
                 * tick only makes it think the slice younger.  Then the
                 * new slice is judged at once, like any other: exactly
                 * dated, it may be due already (this round came late, or
                 * the lead is long), and waiting for the next round to
                 * ask added a whole polling period to one slice in ten
                 * (p90 of the request's lateness 30-58 us, against 22-30
                 * judged at once, quantum=100us). */
                __atomic_store_n(&pp->sysmon_when,
                                 slice_began(pp, tick, now, prev_round, backoff, q, &dated),
                                 __ATOMIC_RELAXED);
                __atomic_store_n(&pp->sysmon_tick, tick, __ATOMIC_RELEASE);
            }
            int64_t ran = now - pp->sysmon_when;
            /* The slice ends at sysmon_when + q; ask `lead` before it. */
            int64_t ask = pp->sysmon_when + q - lead;
            /* A due timer is waiting work that cannot run elsewhere (it is
             * this P's): it cuts the slice short once the G has run for a
             * sysmon period, so a sleeper is late by about a period, not by
             * up to a whole quantum. */
            bool timer_due = tw && tw <= now && dated;
            if (now < ask && !(timer_due && ran >= period)) {
                if (ask < next)
                    next = ask;
                /* A due timer waits for the G's first period to end, not
                 * for a period from now: a goroutine that took the P
                 * back just before its neighbour's timer fell due kept
                 * it up to two periods (a 1 ms ticker beside memsets of
                 * 23 ms, default quantum: one tick per memset 1.5-2.1 ms
                 * late, p99 2.0-2.4 ms). */
                if (tw && tw < next)
                    next = tw > now ? tw : pp->sysmon_when + period;
                continue;
            }
            if (p_wanted(pp, now)) {
                wanted_any = true;
                /* The first request of the slice, made at its planned
                 * moment, is the one whose outcome tunes `lead`. */
                if (!pp->sysmon_aim)
                    pp->sysmon_aim = now >= ask && now - ask < period ? ask : -1;
                gort__preemptone(pp);
                /* Split-stack mode: that first request only poisoned the
                 * guard; the signal goes with the next one, which should
                 * come GORT_SYNCPREEMPT_WAIT_NS later, not a period later
                 * (a call-free loop, nosplit code).  Once per slice: a
                 * goroutine that stops for neither is asked every period,
                 * as in the default build. */
                if (gort__splitstack && pp->sysmon_reqtick != tick + 1) {
                    pp->sysmon_reqtick = tick + 1;
                    if (now + 2 * GORT_SYNCPREEMPT_WAIT_NS < next)
                        next = now + 2 * GORT_SYNCPREEMPT_WAIT_NS;
                }
            }
            if (gort__cfg.stuck_report_ns > 0)
                gort__preempt_diag(pp, now);
        }
        /* Ps of goroutines in system calls: retake the ones something
         * else could use (syscall.c); look again when it asks. */
        int64_t rt = gort__retake(now, wake_late);
        bool insys = rt != 0;
        /* Goroutines left P-less in foreign code: see whether they are
         * back in their own code (syscall_foreign.c). */
        if (gort__foreign_poll(now, period)) {
            insys = true;
            if (now + period < next)
                next = now + period;
        }
        if (rt && rt < next)
            next = rt;
        /* Goroutines parked on fds while every M is busy and none blocks
         * in the poller: poll when nobody has for 10 ms (netpoll.c), and
         * keep watching, as for system calls. */
        int64_t np = gort__netpoll_sysmon(now);
        if (np) {
            insys = true;
            if (np < next)
                next = np;
        }
        /* Timers due on idle Ps with no M watching them. */
        int64_t tw = gort__timesleepuntil();
        if (tw && tw <= now && atomic_load(&sched.timer_sleep_until) == 0)
            gort__wakep();
        else if (tw && tw < next && atomic_load(&sched.timer_sleep_until) == 0)
            next = tw; /* nobody watches it: do not oversleep it */
        schedtrace(now);
        /* Objects loaded or unloaded since: keep the handler's code map
         * current (a cheap counter check when nothing changed). */
        if (now - last_codemap > 100000000) {
            last_codemap = now;
            gort__codemap_refresh();
        }
        if (wanted_any)
            backoff = period;
        else if (running && backoff < q / 4)
            backoff *= 2;
        prev_round = now;
        /* Quiet: every P is running and has kept the same goroutine since
         * the last round, and none is wanted -- lone call-free loops on
         * the whole machine.  (With a P idle, goroutines that come and go
         * there would turn each of their timers and wakeups into a wake-up
         * of sysmon; polling is cheaper then.)  After a few such rounds
         * sysmon sleeps until the next deadline it knows (quantum ends,
         * timers) or until something changes: execute(), new runnable work
         * on a busy machine (wakep) and a new earliest timer wake it
         * through sysmonwait.  Polling at quantum/4 instead cost a lone
         * loop 400 wakeups a second, ~0.5-1% of its CPU on 2 cores.  Any
         * switch ends the quiet spell, and re-entering takes DEEP_AFTER
         * quiet rounds again, so code that switches often never pays a
         * wakeup per switch. */
        if (nrunning == sched.gomaxprocs && !wanted_any && !switched)
            quiet_rounds++;
        else
            quiet_rounds = 0;
        if (running && !insys && quiet_rounds > DEEP_AFTER && gort__cfg.schedtrace_ms <= 0) {
            gort__noteclear(&sched.sysmonnote);
            atomic_store(&sched.sysmonwait, SYSMON_DEEP); /* seq_cst */
            /* Two re-checks close the race with a waker that changed
             * something after the scan but read sysmonwait before it was
             * set: one now, and one after a period's sleep, by when any
             * such change has long left its author's store buffer. */
            bool quiet = still_quiet(next);
            int64_t recheck = next < now + period ? next : now + period;
            waitclock_sleep(now, recheck);
            if (quiet && !gort__notetsleep_until(&sched.sysmonnote, recheck))
                quiet = still_quiet(next);
            if (!quiet) {
                end_wait();
                quiet_rounds = 0;
                continue;
            }
            waitclock_sleep(now, next);
            gort__notetsleep_until(&sched.sysmonnote, next);
            if (!end_wait())
                continue; /* timed out: a deadline, no news */
            quiet_rounds = 0;
            backoff = period;
            continue;
        }
        if (next > now + backoff)
            next = now + backoff;
        if (running || insys) {
            idle_rounds = 0;
        } else if (++idle_rounds > 20 && gort__cfg.schedtrace_ms <= 0) {
            /* Nothing has run for a while: sleep until execute() wakes us. */
            gort__noteclear(&sched.sysmonnote);
            atomic_store(&sched.sysmonwait, SYSMON_DEEP);
            bool any = false;
            for (int32_t i = 0; i < sched.gomaxprocs; i++) {
                uint32_t st = atomic_load(&sched.allp[i]->status);
                if (st == P_RUNNING || st == P_SYSCALL)
                    any = true;
            }
            if (!any) {
                waitclock_sleep(now, -1);
                gort__notesleep(&sched.sysmonnote);
            }
            end_wait();
            idle_rounds = 0;
            continue;
        } else if (!insys) {
            /* Nothing runs: poll at the running period for a while, so a
             * goroutine that starts now is timed from within a period of
             * its start, then sleep until a switch wakes us (above). */
            next = now + period;
        }
        if (gort__cfg.schedtrace_ms > 0 && last_trace + gort__cfg.schedtrace_ms * 1000000 < next)
            next = last_trace + gort__cfg.schedtrace_ms * 1000000;
        nap(next);
    }
}

void gort__sysmon_wake(void)
{
    uint32_t deep = SYSMON_DEEP;
    if (atomic_compare_exchange_strong(&sched.sysmonwait, &deep, SYSMON_POLL))
        gort__notewakeup_hint(&sched.sysmonnote);
}

void gort__sysmon_nudge(void)
{
    if (atomic_exchange(&sched.sysmonwait, SYSMON_POLL) != SYSMON_POLL)
        gort__notewakeup_hint(&sched.sysmonnote);
}

void gort__sysmon_start(void)
{
    if (atomic_exchange(&sched.sysmon_started, true))
        return;
    start_time = gort__nanotime();
    last_trace = start_time;
    /* sysmon never runs goroutines: keep the preemption signal off it. */
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    if (!gort__helper_thread(sysmon, 256 * 1024, &urg))
        atomic_store(&sched.sysmon_started, false);
    else
        atomic_store(&sched.sysmon_running, true); /* checkdead counts it */
}
