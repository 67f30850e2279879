/*
 * stw.c — stop-the-world, GOMAXPROCS resizing (Go's stopTheWorldWithSema
 * / startTheWorldWithSema / procresize), and the exit: stopping every
 * goroutine for good when goroutine 1 returns.
 *
 * Protocol.  The stopper sets sched.gcwaiting and sched.stopwait = the
 * number of Ps, stops its own P and every idle P itself, then asks every
 * running P to preempt at once (signal + sync flag) and sleeps on
 * sched.stopnote, re-preempting every 50 us in case a signal landed at an
 * unsafe point.  Ps in transit are not waited for: one startm handed to
 * an M that has not taken it yet is taken back (revoke_nextp), startm
 * stops one it is given during a stop, and Ms waiting to steal a runnext
 * are woken (runq.c steal_grace).  Each running P notices gcwaiting at its next schedule()
 * (or in findrunnable's loops), marks itself P_STOPPED, decrements stopwait
 * and parks its M; the last one wakes the stopper.  Start clears the flag
 * and hands every stopped P that has work to an M (the first 64; the rest
 * go idle and one more M is woken to steal from them).
 *
 * Only one STW at a time (stw_busy); a goroutine waiting for it yields, so
 * its own P can be stopped by the STW in progress instead of deadlocking.
 * The caller keeps m->locks raised between stop and start, so it cannot be
 * preempted or moved while it is the only goroutine running.
 *
 * A P whose goroutine is inside a system call (P_SYSCALL, syscall.c) is not
 * waited for: the stopper takes it (CAS to P_STOPPED), and the goroutine,
 * when its call returns, finds its P gone and waits for a P until the
 * world restarts.  A goroutine blocked in a call gort does not know about
 * (a raw system call made by inline assembly) still holds its P, and the
 * stop waits for that call (the exit alone freezes it there, see below).
 *
 * Exit (gort__exitstop, from gort_main's thread once goroutine 1 returned
 * and set sched.exiting): a stop-the-world that is never undone, so that
 * no goroutine code runs after gort_main returns, as none runs after Go's
 * main.  Its requests also freeze goroutines: an exit signal (SIGURG with
 * gort__exit_cookie) goes to every M holding a running P, even one asleep
 * in the kernel, and the handler parks the thread for good, in the handler
 * with every signal blocked, if the goroutine is at a point it could be
 * preempted at, or if the signal interrupted a system call it was blocked
 * in (the saved registers tell, see in_syscall; the call is abandoned).
 * The stopper then takes the frozen M's P (m->exit_frozen).  Anywhere else
 * (inside libc, runtime locks, gort_preempt_disable, GORT_NOSPLIT, a
 * callback from libc) the goroutine runs on to its next runtime call or
 * the next signal.  Rejected: waiting for every goroutine to reach
 * schedule() (one in read() or sleep() would hang gort_main for ever);
 * returning anyway (it would run during the caller's cleanup); freezing
 * wherever the signal lands (inside malloc or printf it would keep libc's
 * locks and deadlock the caller); ending the threads (no such thing for
 * one thread: pthread_cancel runs unwinding code in the goroutine).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static _Atomic bool stw_busy;

/* ---------------------------------------------------------------------
 * Exit: after goroutine 1 returned, no goroutine code runs again.
 * ------------------------------------------------------------------- */

const char gort__exit_cookie = 0;

/* Called by the SIGURG handler (signal_linux.c) with sched.exiting set:
 * if the interrupted goroutine is at a point where it holds nothing the
 * rest of the process may need, park the thread here for good.  Such a
 * point is one where it could be asynchronously preempted (its own code,
 * no runtime lock, not inside libc: libc's locks - malloc's, stdio's,
 * ld.so's - would stay held), or blocked in a system call (the call is
 * abandoned, never completed).  The frame that
 * would be pushed for a preemption is not needed, so a goroutine off its
 * stack or short of room is frozen too.  Anything else returns: the
 * goroutine runs on to its next runtime call (the sync flag) or the next
 * signal.  Async-signal-safe: loads, sigprocmask, futex. */
void gort__exit_freeze(M *m, void *ctx)
{
    atomic_fetch_add_explicit(&m->exit_seen, 1, memory_order_release);
    ucontext_t *uc = ctx;
    greg_t *gr = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)gr[REG_RIP], sp = (uintptr_t)gr[REG_RSP];
    G *g = m->curg;
    /* P-less after foreign code: judged as if it had its P. */
    int why = atomic_load(&m->syscall_implicit) ? gort__preempt_unsafe_code(pc, sp, NULL, g)
                                                : gort__preempt_unsafe_code(pc, sp, m, g);
    /* Inside a wrapped call (syscall.c): blocked in the kernel, the call
     * is abandoned here, as promised; anywhere else in it, the goroutine
     * parks for good when the call returns (exitsyscall sees the exit). */
    if (why == GORT_PR_NO_G && g && m->syscall_depth > 0 && m->locks == 0 &&
        gort__ctx_in_syscall(ctx))
        why = GORT_PR_SAFE;
    /* Scheduler code (no G) and runtime locks (tested apart: `why` names
     * gort_preempt_disable first) reach schedule() by themselves, and a
     * lock must not stay held; a context blocking more signals than the M
     * does is a signal handler of the program's, which may have
     * interrupted libc. */
    if (why == GORT_PR_NO_G || m->locks > 0 ||
        gort__ctx_masks_more(m, uc))
        return;
    if (!gort__ctx_in_syscall(ctx)) {
        /* A pthread lock holder is frozen as it is: like one parked for
         * good at the exit, it keeps what it holds. */
        if (why != GORT_PR_SAFE && why != GORT_PR_OFFSTACK && why != GORT_PR_NOROOM &&
            why != GORT_PR_PTHREADLOCK)
            return;
        if (gort__foreign_caller(sp, (uintptr_t)gr[REG_RBP], g))
            return; /* called back from libc, which may hold a lock */
    }
    /* Every signal blocked (glibc keeps its internal ones, so setuid() and
     * friends still work): process-directed signals go to other threads. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    atomic_store_explicit(&m->exit_frozen, true, memory_order_release);
    _Atomic uint32_t never = 0;
    for (;;)
        gort__futex_wait(&never, 0, -1);
}

/* Queue an exit signal to M's thread, whatever it is doing. */
static void exit_signal(M *m)
{
    pid_t tid = m->tid;
    if (tid <= 0)
        return; /* not started: it will see sched.exiting in schedule() */
    gort__sigurg_send(tid, &gort__exit_cookie);
}

/* One round of the exit's requests for a running P: a frozen M's P counts
 * as stopped (its M will never touch it again, so it is taken from it);
 * any other gets the sync flag and an exit signal, sent even to a thread
 * asleep in the kernel, which is exactly where it may be frozen. */
static void exit_stopone(P *pp)
{
    M *m = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!m)
        return;
    if (atomic_load_explicit(&m->exit_frozen, memory_order_acquire)) {
        gort__lock(&sched.lock);
        if (pp->m == m && atomic_load(&pp->status) == P_RUNNING) {
            pp->m = NULL;
            m->p = NULL;
            gort__pstop_locked(pp);
        }
        gort__unlock(&sched.lock);
        return;
    }
    gort__preemptone(pp);
    if (m != gort__getm())
        exit_signal(m);
}

void gort__stop_syscall_p(P *pp)
{
    uint32_t want = P_SYSCALL;
    if (atomic_compare_exchange_strong(&pp->status, &want, P_IDLE))
        gort__pstop_locked(pp);
}

/* Ps that startm handed to an M that has not taken them yet -- a thread
 * the kernel has yet to run after its wakeup, or one still being created
 * -- are taken back and stopped here (sched.lock held), rather than
 * waited for: the M would only stop the P at its first schedule(), once
 * the kernel got round to it (0.15-3 ms in bench/stw_syscall, whose
 * sleepers hand their Ps off every 100 us).  The M, woken, finds no P and
 * goes back to sleep (mstart.c mpark).  Only startm's hand-overs: a
 * locked M's P (startlockedm) is how its goroutine runs at all. */
static void revoke_nextp(void)
{
    for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink) {
        uintptr_t v = atomic_load_explicit(&m->nextp, memory_order_acquire);
        if ((v & GORT_NEXTP_REVOCABLE) &&
            atomic_compare_exchange_strong(&m->nextp, &v, 0))
            gort__pstop_locked((P *)(v & ~GORT_NEXTP_REVOCABLE));
    }
}

static void preemptall(P *mine)
{
    bool exiting = atomic_load(&sched.exiting);
    /* A hand-over published after the stop's first look (startm checked
     * gcwaiting just before it was set). */
    gort__lock(&sched.lock);
    if (sched.stopwait > 0)
        revoke_nextp();
    gort__unlock(&sched.lock);
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *pp = sched.allp[i];
        if (pp != mine && atomic_load(&pp->status) == P_SYSCALL) {
            gort__lock(&sched.lock);
            gort__stop_syscall_p(pp);
            gort__unlock(&sched.lock);
            continue;
        }
        if (pp == mine || atomic_load(&pp->status) != P_RUNNING)
            continue;
        if (exiting)
            exit_stopone(pp);
        else
            gort__preemptone(pp);
    }
    /* Goroutines P-less after foreign code (syscall_foreign.c) hold no P
     * to stop, but must not run their own code in a stopped world: a
     * signal takes them back (into a stop) once they are in it again. */
    for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink) {
        if (!atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
            continue;
        if (exiting)
            exit_signal(m);
        else
            gort__foreign_signal(m);
    }
}

/* The exit: Ms P-less after foreign code have no P for the stop to take;
 * wait until each is frozen (its own code, or a system call) or has left
 * that state (and then parked for good: exitsyscall sees the exit).
 * False if one was given up on inside a wrapped call, where it runs on. */
static bool exit_foreign_wait(void)
{
    for (bool first = true;;) {
        bool any = false;
        for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink) {
            if (atomic_load(&m->exit_frozen))
                continue;
            if (atomic_load(&m->syscall_implicit)) {
                any = true;
                exit_signal(m);
            } else if (__atomic_load_n(&m->syscall_depth, __ATOMIC_RELAXED) > 0 && first) {
                /* Inside a wrapped call: frozen once it is blocked in the
                 * kernel, so the call never completes (no read consumes
                 * input after the exit).  A signal that finds it still on
                 * its way into the kernel (in libc) cannot freeze it: ask
                 * again until it is frozen or out of the call; out of the
                 * call, it can only park for good.  Give up once it has
                 * computed 100 ms inside the call (it may not block at
                 * all), or after 2 s (it blocks SIGURG with a raw system
                 * call, and never answers).  Its CPU time, not the wall
                 * clock: a signal wakes a thread blocked in read() but the
                 * handler freezes it only once it gets a CPU, and until
                 * then input written after the exit would still be
                 * consumed (test_syscall_exit lost its byte to a reader
                 * left waiting 100 ms for a CPU on a busy host). */
                int64_t end = gort__nanotime() + 2000000000;
                int64_t cpu0 = gort__thread_cpu_ns(m->tid);
                while (!atomic_load(&m->exit_frozen) &&
                       __atomic_load_n(&m->syscall_depth, __ATOMIC_RELAXED) > 0 &&
                       gort__nanotime() < end) {
                    int64_t cpu = gort__thread_cpu_ns(m->tid);
                    if (cpu0 >= 0 && cpu >= 0 && cpu - cpu0 >= 100000000)
                        break;
                    uint32_t seen = atomic_load(&m->exit_seen);
                    exit_signal(m);
                    while (atomic_load(&m->exit_seen) == seen && !atomic_load(&m->exit_frozen) &&
                           gort__nanotime() < end) {
                        gort__note n = {0};
                        gort__notetsleep_until(&n, gort__nanotime() + 20000);
                    }
                }
            }
        }
        first = false;
        if (!any) {
            /* Every M in foreign code is frozen now; one still in a
             * wrapped call was given up on (in any pass). */
            for (M *m = __atomic_load_n(&sched.allm, __ATOMIC_ACQUIRE); m; m = m->alllink)
                if (!atomic_load(&m->exit_frozen) &&
                    __atomic_load_n(&m->syscall_depth, __ATOMIC_RELAXED) > 0)
                    return false;
            return true;
        }
        gort__note n = {0};
        gort__notetsleep_until(&n, gort__nanotime() + 50000);
    }
}

/* Where the stopper runs, for the Ms that stop (mstart.c gcstopm): one
 * that shares this CPU must not spin on it while we need it to finish
 * the stop and start them again.  sched_getcpu reads the rseq area.
 * Stored only when it changed: the word shares its line with stopnote,
 * which the last stopping M writes, and the watchers read it. */
static void note_stopper_cpu(void)
{
    int cpu = sched_getcpu();
    int32_t v = cpu >= 0 ? cpu + 1 : 0;
    if (atomic_load_explicit(&sched.stopper_cpu, memory_order_relaxed) != v)
        atomic_store_explicit(&sched.stopper_cpu, v, memory_order_relaxed);
}

void gort__stoptheworld(const char *reason)
{
    (void)reason;
    gort__schedinit();
    M *m = gort__getm();
    while (atomic_exchange(&stw_busy, true)) {
        if (m && m->curg)
            gort__gosched();
        else
            sched_yield();
        m = gort__getm();
    }
    if (m)
        m->locks++;
    atomic_fetch_add(&sched.nstw, 1);
    P *mine = m ? m->p : NULL;
    gort__lock(&sched.lock);
    gort__noteclear(&sched.stopnote);
    sched.stopwait = sched.gomaxprocs;
    atomic_store(&sched.gcwaiting, 1);
    note_stopper_cpu();
    if (mine) {
        atomic_store(&mine->status, P_STOPPED);
        sched.stopwait--;
    }
    P *pp;
    while ((pp = gort__pidleget())) {
        atomic_store(&pp->status, P_STOPPED);
        sched.stopwait--;
    }
    revoke_nextp();
    /* Spinning Ms giving a P's owner a moment (runq.c steal_grace). */
    if (atomic_load(&sched.nstealwait) > 0)
        gort__futex_wake(&sched.gcwaiting, INT32_MAX);
    /* Goroutines in system calls are not waited for (Go's semantics):
     * their Ps stop now; entersyscall stops a P that gets there later
     * (it reads gcwaiting after publishing P_SYSCALL: the barrier makes
     * either its store visible here or our gcwaiting visible there). */
    gort__syscall_barrier();
    for (int32_t i = 0; i < sched.gomaxprocs; i++)
        if (sched.allp[i] != mine)
            gort__stop_syscall_p(sched.allp[i]);
    bool wait = sched.stopwait > 0;
    gort__unlock(&sched.lock);
    if (wait) {
        preemptall(mine);
        /* Spin for the first 100 us: a preempted P normally stops within
         * tens of microseconds, and waking a futex sleeper costs as much
         * again.  Then sleep, re-requesting every 50 us in case a signal
         * landed at an unsafe point.  The spin yields the CPU between
         * looks: the thread we wait for (an M on its way to stop, sysmon
         * in the middle of a hand-off) may be queued on this very CPU, and
         * a plain spin kept it there until the spin ended -- on 2 cores
         * about 1 stop in 300 took the whole 100 us (bench/stw_syscall,
         * max 100-170 us; 12-60 us with the yield, 20-40 us beside two
         * busy loops).  With nothing else to run the yield returns at
         * once.  Not in the first 5 us, and the note is read at every
         * pause: a goroutine stopped at a poisoned prologue parks ~1 us
         * after the request, and each yield is a system call (~2 us on
         * the EPYC VM), during which a stop that had already happened
         * went unseen (bench/stop_fib in split-stack mode: stop p99
         * 50-60 us -> 10-30 us; the rest is the host's, DESIGN.md).  Go
         * does not spin here at all: it sleeps 100 us at a time. */
        int64_t t0 = gort__nanotime(), last = t0;
        while (!gort__noteready(&sched.stopnote)) {
            int64_t now = gort__nanotime();
            if (now - t0 > 100000)
                break;
            /* Split-stack mode: the first round only poisoned guards;
             * whoever has not stopped at a call by now gets the signal. */
            if (now - last > (gort__splitstack ? GORT_SYNCPREEMPT_WAIT_NS : 50000)) {
                preemptall(mine);
                last = now;
            }
            for (int i = 0; i < 64 && !gort__noteready(&sched.stopnote); i++)
                __builtin_ia32_pause();
            note_stopper_cpu();
            if (now - t0 > 5000)
                sched_yield();
        }
        while (!gort__notetsleep_until(&sched.stopnote, gort__nanotime() + 50000))
            preemptall(mine);
    }
    if (sched.stopwait != 0)
        gort__throw("stoptheworld: %d Ps not stopped", sched.stopwait);
}

void gort__starttheworld(void)
{
    if (!atomic_load(&stw_busy) || !atomic_load(&sched.gcwaiting))
        gort__throw("start the world without stopping it");
    M *m = gort__getm();
    P *mine = m ? m->p : NULL;
    P *work[64];
    int nwork = 0;
    bool idle_with_work = false; /* past work[]'s 64: idle, with a queue */
    gort__lock(&sched.lock);
    atomic_store(&sched.gcwaiting, 0);
    if (mine)
        atomic_store(&mine->status, P_RUNNING);
    for (int32_t i = sched.gomaxprocs - 1; i >= 0; i--) {
        P *pp = sched.allp[i];
        if (pp == mine || atomic_load(&pp->status) != P_STOPPED)
            continue;
        bool has = !gort__runqempty(pp) || atomic_load(&pp->timer0_when) != 0;
        if (has && nwork < 64) {
            work[nwork++] = pp;
        } else {
            idle_with_work |= has;
            gort__pidleput(pp);
        }
    }
    gort__unlock(&sched.lock);
    for (int i = 0; i < nwork; i++)
        gort__startm(work[i], false, GORT_WAKE_AWAY);
    /* One more M for work that no M started above will run at once: the
     * global queue, the caller's own queue (it keeps running its
     * goroutine), Ps past work[]'s 64 put idle with a queue or timers.
     * (Go wakes one whatever there is; it parks if it finds nothing.)
     * Only if there is some: with every M busy or blocked in a call, that
     * wakeup created a thread, ~100 us of clone() on this VM, inside the
     * caller's pause (bench/stw_syscall, a few stops a run). */
    if (idle_with_work || atomic_load(&sched.runqsize) > 0 || (mine && !gort__runqempty(mine)))
        gort__wakep();
    if (m)
        m->locks--;
    atomic_store(&stw_busy, false);
}

/* Go's freezetheworld, for a fatal report (a fatal signal, a throw, the
 * SIGQUIT dump): stop what goroutines 5 ms allow and never start them
 * again, so that the program's other goroutines do not go on writing its
 * files and sockets while the report is printed (a GORTTRACEBACK=all dump
 * of many goroutines takes a while), and a dump shows their stacks
 * instead of "running on other thread".  Best effort and lock-free: the
 * reporter may hold any runtime lock and may be in a signal handler.
 * gcwaiting makes every scheduler stop its P at its next look (a
 * goroutine in a system call stops when the call returns); stopwait is
 * made too large for any stop to complete, so one in progress never
 * returns; every running P's goroutine is asked to stop, again each 250 us
 * while one still runs, for 5 ms at most (Go's bound: on a busy machine a
 * spinner's thread may wait milliseconds for a CPU to take the signal on).
 * Not in a fork's child (whose Ps are copies with no Ms) or a vfork's
 * (whose memory is its parent's). */
void gort__freezetheworld(void)
{
    if (gort__in_forked_child() || gort__in_vfork_child())
        return;
    M *m = gort__getm();
    P *mine = m ? m->p : NULL;
    __atomic_store_n(&sched.stopwait, INT32_MAX / 2, __ATOMIC_RELAXED);
    atomic_store(&sched.gcwaiting, 1);
    for (int round = 0; round < 20; round++) {
        bool running = false;
        for (int32_t i = 0; i < sched.gomaxprocs; i++) {
            P *pp = sched.allp[i];
            if (!pp || pp == mine || atomic_load(&pp->status) != P_RUNNING)
                continue;
            running = true;
            gort__preemptone(pp);
        }
        if (!running)
            return;
        struct timespec ts = {0, 250000};
        gort__sys3(SYS_nanosleep, (long)&ts, 0, 0);
    }
}

/* gort_main's thread, once goroutine 1 returned (sched.exiting set): stop
 * every P and never start them again.  A stop-the-world whose requests
 * also freeze goroutines blocked in system calls (exit_stopone).  Waits
 * for a stop-the-world in progress to end first, like any other. */
void gort__exitstop(void)
{
    if (!atomic_load(&sched.exiting))
        gort__throw("exitstop: goroutine 1 has not returned");
    gort__stoptheworld("exit");
    /* Goroutines no longer run: only now may a close stop waiting for
     * their calls -- unless one still runs inside a system-call bracket
     * that exit_foreign_wait gave up freezing (it computes there, and may
     * make fd calls that hold references); then closes wait for every
     * reference, as before the exit. */
    if (exit_foreign_wait())
        gort__netpoll_frozen();
    /* Plain threads blocked in gort calls with a timeout waited for the
     * Ms to run their timers: now they run them themselves. */
    gort__foreign_kick(-1);
}

void gort_stop_the_world(void) { gort__stoptheworld("user"); }
void gort_start_the_world(void) { gort__starttheworld(); }

int gort_maxprocs(int n)
{
    gort__schedinit();
    int old = sched.gomaxprocs;
    /* Once gort_main returned the world is stopped for good, by a stop
     * that never ends: another would wait for it for ever (a hunt: a
     * clean-up's gort_maxprocs(n) spun).  Nothing runs to use more Ps. */
    if (n <= 0 || n == old || atomic_load(&sched.exiting))
        return old;
    if (n > sched.allp_cap)
        n = sched.allp_cap;
    gort__stoptheworld("GOMAXPROCS");
    M *m = gort__getm();
    if (m && m->p && m->p->id >= n) {
        /* Our P is going away: continue on P0 (stopped, so free). */
        P *gone = gort__releasep();
        atomic_store(&gone->status, P_STOPPED);
        gort__acquirep(sched.allp[0]);
        atomic_store(&sched.allp[0]->status, P_STOPPED);
    }
    gort__procresize(n);
    gort__starttheworld();
    return old;
}
