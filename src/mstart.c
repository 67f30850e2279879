/*
 * mstart.c — Ms, the threads that run goroutines, from their start to
 * their sleep and their end (Go's proc.go M section; os_linux.go's
 * newosproc): allocm/newm/mstart, the idle list (mget, stopm), startm,
 * the sleeps for a stop of the world (gcstopm), for the exit
 * (park_forever) and of a locked M, and deadlock detection (checkdead),
 * which runs whenever an M goes idle.  Runtime threads that are not Ms
 * (sysmon, the stack scavenger) are started here too.  What an M runs,
 * from its first g0 frame on (mstart1, schedule), is proc.c's, and so is
 * wakep, which decides when startm runs: it is on every goready's path
 * and reads the calling M's P inline there.
 *
 * Invariants.
 *  - An M is either running with a P, spinning with a P looking for work,
 *    parked on m->park (on sched.midle; after a stop of the world it
 *    watches the note up to 50 us before the futex), or the timer sleeper.
 *  - An M parked by stopm or lockedm_sleep wakes holding no P and takes
 *    m->nextp, which its waker (startm, startlockedm) set before writing
 *    the note -- unless a stop of the world took startm's P back first
 *    (stw.c revoke_nextp): then it sleeps again.
 *  - Ms are never freed: allm only grows (the stop of the world, the
 *    foreign-code poll and gort_read_stats walk it without a lock), and an
 *    M whose thread ended stays on it marked dead.
 *  - checkdead runs with sched.lock held and declares a deadlock only if
 *    the kernel counts no thread it does not know, and no foreign thread
 *    blocked or was readied while it counted (gort__foreign_gen).  A
 *    helper thread (sysmon, the scavenger) is known only once it exists:
 *    counted while pthread_create was still making it, it hid a plain
 *    thread that was about to queue a goroutine (test_stw_strand).
 *
 * Ownership.  sched.midle, nmidle, nmidlelocked, mcount, allm and ndying
 * are written under sched.lock; m->park and m->nextp belong to the sleeper until
 * its waker writes nextp and then the note; a P startm put there may be
 * taken back by a stop of the world (an exchange against the M's own).  A spinning M started by
 * startm brought the token wakep took (sched.nmspinning); if no P is idle
 * any more, startm gives the token back.
 *
 * Rejected: freeing the M of a thread that ended (racy readers of allm);
 * counting threads with a readdir of /proc/self/task (see checkdead);
 * creating threads without a cap (see newm).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#define m_tls gort__m_tls
static _Atomic int32_t mid_gen;
/* gort_main_thread: the caller's thread is an M (m0), counted in mcount
 * rather than as gort_main's sleeping thread (checkdead). */
bool gort__main_is_m;
/* Ms whose thread is ending after a goroutine died locked to it
 * (gort__mexit): known to checkdead until the kernel says the thread is
 * gone.  Guarded by sched.lock. */
static int32_t ndying;

static void *mstart(void *arg)
{
    M *m = arg;
    /* Above every g0 frame (mstart1's frame is where g0 restarts), so no
     * scheduler frame ever overwrites it. */
    jmp_buf exitbuf;
    m->exitbuf = &exitbuf;
    if (setjmp(exitbuf) == 0)
        gort__mstart1(m, NULL);
    /* A goroutine died locked to this thread: the thread ends here, with
     * its TLS destructors, as a returning pthread does. */
    m_tls = NULL;
    gort__rwbias_setp(-1);
    return NULL;
}

/* A new M, on allm and counted, to start with pp; NULL on ENOMEM. */
M *gort__allocm(P *pp)
{
    M *m = gort__alloc_lines(sizeof(M));
    if (!m)
        return NULL;
    m->id = atomic_fetch_add(&mid_gen, 1);
    m->wakercpu = -1;
    gort__set_nextp(m, pp, false);
    /* 0: seeded on first use from the clock, the thread and a TLS
     * address (rand.c), so select's choices and steal orders differ from
     * run to run as Go's do.  A constant per M id made every run of a
     * program choose the same cases in the same order. */
    m->fastrand = 0;
    gort__lock(&sched.lock);
    m->alllink = sched.allm;
    sched.allm = m;
    sched.mcount++;
    gort__unlock(&sched.lock);
    return m;
}

/* Create an M that starts with pp.  Returns 0 or an errno value. */
int gort__newm(P *pp, bool spinning, bool revocable)
{
    if (gort__in_forked_child())
        gort__forked_fatal("starting a thread");
    /* Ms blocked in system calls are what makes threads pile up: past the
     * cap (Go's SetMaxThreads, 10000 by default) the program is stopped
     * with a report, not left to exhaust the kernel's threads. */
    if (__atomic_load_n(&sched.mcount, __ATOMIC_RELAXED) >= gort__cfg.maxthreads)
        gort__throw("thread exhaustion: the program needs more than %lld threads "
                    "(GORTDEBUG=maxthreads=%lld); are goroutines blocked in system calls?",
                    (long long)gort__cfg.maxthreads, (long long)gort__cfg.maxthreads);
    M *m = gort__allocm(pp);
    if (!m)
        return ENOMEM;
    m->spinning = spinning;
    if (revocable)
        gort__set_nextp(m, pp, true); /* before the thread exists, and allm has it */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* A SIGURG that reaches the thread before it is an M (m_tls unset) is
     * passed on to the program's handler, like any signal not ours. */
    pthread_t th;
    gort__cpu_sysmon_creating(true); /* sysmon starts Ms too: not with its slice */
    int rc = pthread_create(&th, &attr, mstart, m);
    gort__cpu_sysmon_creating(false);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        gort__lock(&sched.lock);
        sched.mcount--;
        gort__unlock(&sched.lock);
        return rc;
    }
    return 0;
}

/* Caller holds sched.lock. */
static M *mget(void)
{
    M *m = sched.midle;
    if (m) {
        sched.midle = m->schedlink;
        sched.nmidle--;
    }
    return m;
}

/* Run pp (or, if NULL, an idle P) on an idle or new M.  A P given in
 * while the world is stopping is stopped here instead: starting a thread
 * only for it to stop the P at its first schedule() made the stopper wait
 * for the kernel to run that thread, and for a new one to be created --
 * 0.15-3 ms in bench/stw_syscall, whose goroutines' Ps are handed off as
 * they block (Go's handoffp does the same and its stop waits too).
 * sched.lock orders this against the stop's count of the Ps it must wait
 * for: a P handed off in between is counted, and its stop here uncounts
 * it.  Its queue and timers wait for the restart, which starts an M for
 * every stopped P with work. */
void gort__startm(P *pp, bool spinning, int how)
{
    gort__lock(&sched.lock);
    /* Either way out below gives back the spinning token under the lock:
     * starttheworld reads nmspinning under it too, and a token given back
     * after its wakep saw it taken would strand what that wakep was for. */
    if (pp && atomic_load(&sched.gcwaiting)) {
        gort__pstop_locked(pp);
        if (spinning)
            atomic_fetch_sub(&sched.nmspinning, 1);
        gort__unlock(&sched.lock);
        return;
    }
    if (!pp) {
        /* No idle M: an M that sleeps without a P takes the idle P
         * itself, with the spinning token if there is one (findrunnable.c). */
        if (!sched.midle && atomic_load(&sched.npidle) > 0 && gort__wake_pless_m_locked(spinning)) {
            gort__unlock(&sched.lock);
            return;
        }
        pp = gort__pidleget();
        if (!pp) {
            if (spinning)
                atomic_fetch_sub(&sched.nmspinning, 1);
            gort__unlock(&sched.lock);
            return;
        }
    }
    M *nm = mget();
    gort__unlock(&sched.lock);
    if (!nm) {
        int rc = gort__newm(pp, spinning, true);
        if (rc != 0)
            gort__throw("cannot create a new thread (error %d)", rc);
        return;
    }
    nm->spinning = spinning;
    nm->wakercpu = how == GORT_WAKE_AWAY && gort__cfg.wakecpu ? sched_getcpu() : -1;
    if (how == GORT_WAKE_HERE && gort__cfg.wakecpu)
        gort__cpu_pin_here(nm);
    gort__set_nextp(nm, pp, true);
    gort__notewakeup(&nm->park);
}

/* Threads of Ms that gort__mexit ended and that may still exist (sched.lock
 * held): the kernel counts them until they are gone.  tgkill(.., 0)
 * probes without sending. */
static int dying_threads(void)
{
    if (ndying == 0)
        return 0;
    int n = 0;
    pid_t pid = getpid();
    for (M *m = sched.allm; m; m = m->alllink) {
        if (!m->dead || m->tid == 0)
            continue;
        if (syscall(SYS_tgkill, pid, m->tid, 0) == 0) {
            n++;
        } else {
            m->tid = 0;
            ndying--;
        }
    }
    return n;
}

static void checkdead(void);

void gort__mexit_account(M *m)
{
    gort__lock(&sched.lock);
    m->dead = true;
    sched.mcount--;
    ndying++;
    /* This M was the last one counted running, maybe (Go's mexit checks
     * too); its thread, still alive, is known through dying_threads. */
    checkdead();
    gort__unlock(&sched.lock);
}

/* Deadlock detection (Go's checkdead), with sched.lock held, when an M goes
 * idle.  Every M idle, no timer pending and no thread we do not know about
 * that could still call into gort: nothing can ever run again. */
/* The kernel's own thread count (/proc/self/status): atomic, unlike a
 * readdir of /proc/self/task, which can skip live threads while others
 * exit.  0 if it cannot tell.  Read by raw system calls
 * (gort__procfs_read says why: checkdead holds sched.lock). */
static int proc_thread_count(void)
{
    char buf[4096];
    if (gort__procfs_read("/proc/self/status", buf, sizeof buf) < 0)
        return 0;
    const char *t = strstr(buf, "\nThreads:");
    return t ? atoi(t + strlen("\nThreads:")) : 0;
}

static void checkdead(void)
{
    if (!atomic_load(&sched.started) || atomic_load(&sched.exiting))
        return;
    if (sched.timer_sleeper || sched.mcount - sched.nmidle - sched.nmidlelocked > 0)
        return;
    if (atomic_load(&sched.runqsize) > 0 || gort__timesleepuntil() != 0)
        return;
    for (int32_t i = 0; i < sched.gomaxprocs; i++)
        if (!gort__runqempty(sched.allp[i]))
            return;
    /* Foreign threads block, get readied and exit concurrently with this
     * check: only trust a count that no block/ready changed meanwhile. */
    uint64_t gen = atomic_load(&gort__foreign_gen);
    int known = sched.mcount + (gort__main_is_m ? 0 : 1) /* gort_main's thread */ + dying_threads() +
                atomic_load(&sched.nforeign_blocked) +
                (atomic_load(&sched.sysmon_running) ? 1 : 0) +
                atomic_load(&gort__scavenger_threads);
    int nthreads = proc_thread_count();
    if (nthreads <= 0)
        return;
    if (nthreads > known)
        return; /* another thread may still send, close or unlock */
    if (atomic_load(&gort__foreign_gen) != gen || atomic_load(&sched.runqsize) > 0)
        return;
    gort__fatal_exit2("all goroutines are asleep - deadlock!");
}

/* Count v more Ms idle for checkdead (Go's incidlelocked): a locked M
 * going to sleep (+1) or woken (-1), and sysmon, no M, while it holds
 * goroutines it took from the poller and has not queued yet (-1 before
 * the poll, +1 after: between the two they are on no queue and no longer
 * netpoll waiters, and an M going idle meanwhile would find nothing). */
void gort__incidlelocked(int32_t v)
{
    gort__lock(&sched.lock);
    sched.nmidlelocked += v;
    if (v > 0)
        checkdead();
    gort__unlock(&sched.lock);
}

/* Sleep on m->park until a waker (startm, startlockedm) has written
 * m->nextp and the note, and take that P (Go's mPark, plus the P); with
 * spin_ns > 0, look at the note that long first (gcstopm).
 * False if a stop of the world took the P back first (stw.c): the M then
 * holds nothing, and the spinning token startm gave it goes back.
 *
 * Woken on the CPU of a waker that goes on running (wakep, the start of
 * the world), the M moves to another CPU first.  A kernel that packs
 * threads onto few CPUs (the EPYC VMs' sched_vcpu_pack) wakes it there
 * even with another CPU idle; it then preempts its waker, and both share
 * one CPU until a tick moves one of them: the stop-the-world's start
 * "took" 3.8 ms in 1-2% of starts, in most runs of bench/stop_loop (20-27
 * us p99 with the move, 4 of 4 runs; stw 57-61 us against 40 us-1.3 ms).
 * Rare (47 moves in 1000 stops, 11 in 500k ping-pong round trips), and
 * four system calls when it happens.  A waker that sleeps next (the
 * hand-off before a call that surely sleeps, a goroutine parked inside a
 * bracket, a locked M giving its P away, an M whose thread ends) wants
 * the opposite: the M on its own CPU, which is about to be free.  Placed
 * on the idle CPU instead, the M waited for the host to wake that vCPU:
 * 20-40 us at the median, 100-200 us in 5% of bench/handoff's samples.
 * That waker pins the sleeping M to its CPU (GORT_WAKE_HERE) and the M
 * puts its mask back first thing, if nobody changed it meanwhile:
 * handoff p99 64-111 -> 33-41 us, p50 4.5 -> 10-14 us (four system
 * calls).  GORTDEBUG=wakecpu=0 turns both off. */
static bool mpark(M *m, int64_t spin_ns)
{
    /* A waker within spin_ns only stores to the note: no futex wake. */
    if (spin_ns > 0) {
        int64_t t0 = gort__nanotime();
        while (!gort__noteready(&m->park)) {
            for (int i = 0; i < 32 && !gort__noteready(&m->park); i++)
                __builtin_ia32_pause();
            if (gort__nanotime() - t0 > spin_ns ||
                atomic_load_explicit(&sched.stopper_cpu, memory_order_relaxed) ==
                    sched_getcpu() + 1)
                break;
        }
    }
    gort__notesleep(&m->park);
    gort__noteclear(&m->park);
    if (m->pinned) /* before anything else runs on this thread */
        gort__cpu_unpin(m);
    int32_t wc = m->wakercpu;
    if (wc >= 0) {
        m->wakercpu = -1;
        if (sched_getcpu() == wc)
            gort__cpu_leave(wc);
    }
    P *pp = gort__take_nextp(m);
    if (!pp) {
        gort__drop_nextp_spinning(m);
        return false;
    }
    gort__acquirep(pp);
    return true;
}

/* An M whose P a stop took back before it could: give back the spinning
 * token that came with it, and, if it was the last one, look for work
 * again through wakep (as resetspinning does): the token told everyone
 * that readied work meanwhile that an M was on its way -- a goroutine a
 * plain thread queued globally just before the stop would otherwise wait
 * on the global queue with every P idle and nobody coming. */
void gort__drop_nextp_spinning(M *m)
{
    if (m->spinning) {
        m->spinning = false;
        if (atomic_fetch_sub(&sched.nmspinning, 1) == 1)
            gort__wakep();
    }
}

/* Put m on the idle list, where mget finds it first (Go's mput); with
 * one more M idle, everything may be asleep.  Caller holds sched.lock. */
static void mput(M *m)
{
    m->schedlink = sched.midle;
    sched.midle = m;
    sched.nmidle++;
    checkdead();
}

/* Park this M until startm hands it a P. */
void gort__stopm(void)
{
    M *m = m_tls;
    if (m->p)
        gort__throw("stopm holding a P");
    do {
        gort__lock(&sched.lock);
        mput(m);
        gort__unlock(&sched.lock);
    } while (!mpark(m, 0));
}

/* How long an M that stopped its P for a stop of the world looks at its
 * park note before it sleeps in the kernel (sched.lock held: gomaxprocs
 * changes during a stop).  A stop of the world is short
 * (gort_stop_the_world's callers, GOMAXPROCS; bench/stop_fib's whole
 * pause is 1-2 us at the median) and its start hands this M its P back
 * through the note (gcstopm parks it last, so startm takes it first,
 * unless another M went idle after it).  Asleep, the start paid a futex
 * wake-up inside the stopper's pause and the M a kernel wake-up before
 * its goroutine ran again: start p99 6-22 us; watching, the start is a
 * store: p99 0.25-0.8 us (bench/stop_fib split-stack, stw, stw_shared,
 * 5 interleaved runs each, 2 Ps; DESIGN.md "Preemption").  Bounded,
 * because the stop may last (a user's gort_stop_the_world) and a P
 * started idle never wakes its M: 50 us of a CPU per stopped P and stop
 * at most.  Never on the stopper's CPU, which the stopper needs to finish
 * the stop and start us: the watch sleeps at once when it finds itself
 * there (sched.stopper_cpu).  Without that check, a stopper holding no P
 * (a plain thread's gort_stop_the_world, the exit's stop) shared the
 * CPUs with Ps-many watchers and its stop took the whole 50 us longer
 * (review: p50 27 -> 77 us; 14 us with the check), and so did a first
 * version of this watch, tried earlier, when the kernel packed the two
 * on one CPU (sched_vcpu_pack).  Nor when there are more Ps than CPUs.
 * Other busy threads of the program are not counted: they may lose up
 * to 50 us of a CPU per stop.  Go sleeps here (stopm). */
static int64_t stw_park_spin_ns_locked(void)
{
    return gort__cfg.ncpu > 1 && sched.gomaxprocs <= gort__cfg.ncpu ? 50000 : 0;
}

void gort__gcstopm(void)
{
    M *m = m_tls;
    /* No P stops with socket ops queued on it: the stop may be long. */
    gort__iobatch_flush_queued(m->p);
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub(&sched.nmspinning, 1);
    }
    P *pp = gort__releasep();
    /* Onto the idle list in the same critical section as the stop, not
     * after it as stopm would: the stopper may start the world as soon as
     * the last P is stopped, and startm then takes the M that parked last.
     * Here that is this one, which the kernel wakes on the CPU it has just
     * left (idle, or about to be).  An M idle for long instead was woken
     * on the stopper's own CPU and preempted it there, while the other
     * CPU sat idle: the stopper's start_the_world "took" 1-4 ms (the
     * kernel's tick-driven balancing) in 10-60 of the 300 stops of most
     * bench/stw_shared runs, many in a row; 0-5 now. */
    gort__lock(&sched.lock);
    gort__pstop_locked(pp);
    mput(m);
    int64_t spin = stw_park_spin_ns_locked();
    gort__unlock(&sched.lock);
    if (!mpark(m, spin))
        gort__stopm();
}

/* After goroutine 1 returned, Ms never run anything again.  The P goes
 * where gort_main's stop of every P (gort__exitstop) counts it: stopped,
 * if that stop has begun (the same check, under the same lock, as
 * gcstopm), else idle, where the stop collects it. */
GORT_NORETURN void gort__park_forever(gort__note *wake)
{
    M *m = m_tls;
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub(&sched.nmspinning, 1);
    }
    if (m->p) {
        P *pp = gort__releasep();
        gort__lock(&sched.lock);
        gort__pidleput_or_stop(pp);
        gort__unlock(&sched.lock);
    }
    if (wake)
        gort__notewakeup(wake);
    _Atomic uint32_t never = 0;
    for (;;)
        gort__futex_wait(&never, 0, -1);
}

/* The sleep of an M locked to a goroutine that stopped running (proc.c
 * stoplockedm), until the M that takes the goroutine hands it a P.  The
 * locked M's sleep counts as idle for checkdead (sched.nmidlelocked,
 * raised by the sleeper, lowered by the waker, so it never counts a woken
 * M as idle). */
void gort__lockedm_sleep(M *m)
{
    gort__incidlelocked(1);
    if (!mpark(m, 0))
        gort__throw("lockedm_sleep: woken without its P");
    if (atomic_load_explicit(&sched.exiting, memory_order_relaxed))
        gort__park_forever(NULL);
}

bool gort__helper_thread(void *(*fn)(void *), size_t stacksize, const sigset_t *block)
{
    if (gort__in_forked_child())
        gort__forked_fatal("starting a thread");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stacksize);
    /* The new thread inherits the mask: block first, restore after. */
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, block, &old);
    pthread_t th;
    bool ok = pthread_create(&th, &attr, fn, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return ok;
}
