/*
 * runtime.h — gort's internal header: every runtime structure, what each
 * field means, and which lock (or which owner) guards it.
 *
 * The model is Go's (src/runtime/runtime2.go):
 *   G  a goroutine: a stack plus saved registers.  Gs are never freed; a
 *      dead G keeps its stack and waits on a free list for reuse.  The G
 *      struct lives at the top of its own stack mapping, so a parked
 *      goroutine costs one touched page plus nothing else.
 *   M  an OS thread.  It runs the scheduler on its own pthread stack ("g0")
 *      and goroutines on theirs.  An M needs a P to run Go... C code.
 *   P  a processor: the right to run goroutines, GORTMAXPROCS of them.  It
 *      owns a local run queue, a G free list and a timer heap.
 * Threads that are not Ms ("foreign threads") get a pseudo-G (foreign=true)
 * so channel and sync code can treat every waiter as a G; parking one
 * blocks its thread on a futex instead of switching stacks.
 *
 * Lock order (take left before right, never the reverse):
 *   chan.lock (several: by address) -> sema root lock / cond lock ->
 *   p.timerslock -> sched.lock -> sched.gflock
 * Runtime locks are futex mutexes; holding one increments m->locks, which
 * makes the M non-preemptible.  Nothing may block (park) holding one, except
 * through gort__gopark's unlock callback, which releases it on g0.
 */
#ifndef GORT_RUNTIME_H
#define GORT_RUNTIME_H

#define GORT_BUILDING_RUNTIME 1
#include "gort.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ucontext.h>

/* Building under AddressSanitizer (gcc defines the macro, clang has the
 * feature test): stack switches are announced to it. */
#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif

#define GORT_HIDDEN __attribute__((visibility("hidden")))
#define GORT_NORETURN __attribute__((noreturn))
#define GORT_NOINLINE_COLD __attribute__((noinline, cold))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

typedef struct gort_g G;
typedef struct gort_m M;
typedef struct gort_p P;
typedef struct gort__iobatch gort__iobatch; /* iobatch_linux.c */
typedef struct gort__sudog gort__sudog;
typedef struct gort__timer gort__timer;

/* ---------------------------------------------------------------------
 * Low-level locks and notes (lock_futex.c)
 * ------------------------------------------------------------------- */

/* A futex mutex: key 0 unlocked, 1 locked.  Who may be asleep on it is
 * counted apart, in a table that is never freed (lock_futex.c), so that an
 * unlock never reads the lock's memory after releasing it. */
typedef struct gort__lock { _Atomic uint32_t key; } gort__mutex;
void gort__lock(gort__mutex *l);   /* also m->locks++ on an M */
void gort__unlock(gort__mutex *l); /* also m->locks-- */
/* Raw variants that do not touch m->locks (usable with no M, e.g. foreign
 * threads, or where the caller accounts for it). */
void gort__lock_raw(gort__mutex *l);
void gort__unlock_raw(gort__mutex *l);
/* One attempt, never sleeps: true if the lock was taken. */
bool gort__trylock_raw(gort__mutex *l);
/* From schedinit: unlocks become plain stores where membarrier registers
 * and GORTDEBUG=lockfence=1 is not set (before it, exchanges). */
void gort__lock_init(void);
/* Whether unlocks are plain stores now. */
bool gort__lock_fast_unlock(void);
/* Waits on runtime locks that outlasted the spin and went to the kernel. */
uint64_t gort__lock_sleeps(void);
/* How long a waiter spins before it sleeps (more than one CPU). */
#define GORT__LOCK_SPIN_NS 20000

/* A one-shot wakeup: clear, then one sleeper and one waker.  The key is
 * NOTE_CLEAR, NOTE_SLEEPING (the sleeper is in, or on its way into, the
 * kernel: the wakeup must make the futex call) or NOTE_WOKEN; a wakeup
 * with nobody asleep is one atomic exchange, no system call. */
enum { NOTE_CLEAR = 0, NOTE_WOKEN = 1, NOTE_SLEEPING = 2 };
typedef struct gort__note { _Atomic uint32_t key; } gort__note;
static inline bool gort__noteready(gort__note *n)
{
    return atomic_load_explicit(&n->key, memory_order_acquire) == NOTE_WOKEN;
}
void gort__noteclear(gort__note *n);
void gort__notewakeup(gort__note *n);
void gort__notesleep(gort__note *n);
/* Sleep until woken or until the monotonic deadline (ns); true if woken. */
bool gort__notetsleep_until(gort__note *n, int64_t deadline);
/* A wakeup for a note whose sleeper treats every wake as a hint and
 * re-checks (sysmonnote): any number of wakers, a late one may land after
 * the next noteclear (a spurious wake then), never a fatal error. */
void gort__notewakeup_hint(gort__note *n);

/* futex helpers; EINTR is retried by the callers' loops. */
void gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline /* <0: none */);
void gort__futex_wake(_Atomic uint32_t *addr, int n);

/* ---------------------------------------------------------------------
 * G status (Go's _Gidle.._Gdead, without the GC-only states)
 * ------------------------------------------------------------------- */
enum {
    G_IDLE = 0,     /* just allocated */
    G_RUNNABLE,     /* on a run queue, not running */
    G_RUNNING,      /* running user code on an M with a P */
    G_WAITING,      /* parked: a channel, sema, timer or cond will ready it */
    G_DEAD,         /* finished; on a free list */
    G_SYSCALL,      /* inside a system call or foreign call (syscall.c): on its M, no P */
    G_WAITING_KICK, /* foreign pseudo-G only: parked, and told to look at the timers
                       again (gort__foreign_kick); its thread sets it back to waiting */
};

/* ---------------------------------------------------------------------
 * Timers (time.c) — per-P 4-ary heaps ordered by `when`, like Go's.
 * A timer is in at most one heap (t->pp), guarded by that P's timerslock.
 * Callbacks run WITHOUT any timer lock held (so a callback may take channel
 * locks, and code holding channel locks may arm timers); while one runs the
 * timer's state is T_RUNNING and gort__deltimer waits for it to finish, so
 * deltimer must be called with no runtime lock held.
 * ------------------------------------------------------------------- */
enum { T_IDLE = 0, T_ARMED, T_RUNNING };
struct gort__timer {
    int64_t when;                 /* monotonic ns; set only while the timer is in no
                                     heap (its heap slot keeps a copy) */
    int64_t period;               /* >0: re-arm every period ns after firing */
    void (*f)(void *arg, uint64_t seq); /* callback; runs on an M, no timer lock held */
    void *arg;
    uint64_t seq;                 /* passed to f */
    int64_t fired;                /* the clock when taken off the heap to fire: >= when,
                                     and no less than any earlier firing of that heap;
                                     set under pp->timerslock, read by f */
    P *pp;                        /* heap it is in, NULL if none; guarded by pp->timerslock */
    int32_t idx;                  /* its handle in pp->timerslots; guarded by pp->timerslock */
    _Atomic uint32_t state;       /* T_*; changed under the heap's timerslock */
};
/* A heap slot: a copy of the timer's `when` and its handle in the P's slot
 * table (time.c), so that sifting touches no timer. */
typedef struct gort__timerwhen {
    int64_t when;
    int32_t hnd;
    int32_t pad;
} gort__timerwhen;
typedef struct gort__timerslot {
    gort__timer *t;               /* NULL if the handle is free */
    int32_t pos;                  /* index in pp->timers; next free handle if free */
} gort__timerslot;
/* Arm t (state must be T_IDLE) to fire at t->when on the calling M's P
 * (P0 from a thread without a P), waking a sleeping M if it is earlier
 * than anything that M waits for.  May be called holding channel/sema
 * locks (lock order: chan -> timerslock). */
void gort__addtimer(gort__timer *t);
/* Wait out a callback of t still running, set its fields (one-shot) and
 * arm it: for a G's embedded timer, reused the moment the G runs again. */
void gort__armtimer(gort__timer *t, int64_t when, void (*f)(void *, uint64_t), void *arg,
                    uint64_t seq);
/* Disarm t.  Returns true if it was removed before firing; false if it had
 * already fired (waits for a running callback to finish).  No runtime lock
 * may be held. */
bool gort__deltimer(gort__timer *t);
/* Run the expired timers of pp; returns the next `when` (0 if none).
 * Called by the scheduler on an M that holds a P. */
int64_t gort__checktimers(P *pp, int64_t now);
/* Earliest timer of all Ps, 0 if none. */
int64_t gort__timesleepuntil(void);
/* Move every timer of `from` (a P being removed, world stopped) to `to`. */
void gort__movetimers(P *to, P *from);
/* A timer was armed at `when` where no running P will see it soon (a
 * thread without a P): wake the timer-sleeping M if it sleeps longer, or
 * an idle P (findrunnable.c). */
void gort__timerwake(int64_t when);
/* Mark c as owned by timer t (timer.c; NULL to unmark before freeing it):
 * closing c is then a fatal error (chan.c). */
void gort__chan_set_timer(gort_chan *c, gort__timer *t);
/* A hint before c is closed or sent to (a racy read; chan.c): start
 * fetching the sudog of its first parked receiver. */
void gort__chan_prefetch_receiver(const gort_chan *c);

/* ---------------------------------------------------------------------
 * Sudog (chan.c, select.c, sema.c): a G waiting on one object.  Lives on
 * the waiting G's stack frame for the duration of the wait.
 * ------------------------------------------------------------------- */
struct gort__sudog {
    G *g;
    gort__sudog *next, *prev;   /* wait queue links; guarded by the object's lock */
    void *elem;                 /* data element (chan) */
    void *c;                    /* channel (select: which case) */
    gort__sudog *waitlink;      /* g->waiting list (select) */
    uint64_t ticket;            /* sema: ticket / cond: notify ticket */
    uint32_t *semaaddr;         /* sema: address waited on */
    int64_t acquiretime;
    bool isselect;              /* waiting in a select: wakers must win g->selectdone */
    bool success;               /* chan: woken by a value (true) or close (false) */
};

/* ---------------------------------------------------------------------
 * G — a goroutine.  Fields marked [own] are touched only by the M that
 * runs the G (or, while it is parked, by the M that parked/readies it with
 * the hand-off ordered by the status CAS).
 * ------------------------------------------------------------------- */
struct gort_g {
    uintptr_t sched_sp;     /* [own] saved rsp while switched out; MUST be first (asm) */
    /* Stack bounds (stack.c), fixed for the G's life; all zero/NULL for a
     * foreign pseudo-G.  [stack_lo, stack_hi) is the usable stack; the G
     * itself lies at stack_hi.  Below stack_lo: with `guarded`, the
     * guard page at stack_map (a guard marker or a PROT_NONE page; a
     * fault in [stack_map, stack_lo) is this G's overflow); without (a
     * red-zone slab stack), a never-written red zone of [stack_map,
     * stack_lo), then the slot below.  The slot is [stack_map, stack_map +
     * stack_maplen). */
    uintptr_t stack_lo;     /* lowest usable address of the stack */
    uintptr_t stack_hi;     /* one past the highest usable address */
    void *stack_map;        /* its slot: guard+stack+G or red zone+stack+G */
    size_t stack_maplen;    /* its length */
    _Atomic uint32_t status;/* G_*; changed with CAS at hand-offs; futex word for foreign Gs */
    bool foreign;           /* pseudo-G of a thread that is not an M */
    bool iob_ready;         /* runnable because the netpoller or an iobatch flush readied
                               it (set by the readier, cleared by execute_slice): such
                               a G runs before the P's batch is flushed, any other
                               flushes it first (iobatch_linux.c) */
    bool unstarted;         /* a goroutine that has not run yet, with no stack: a
                               G-shaped record from unstarted.c, exchanged for a G
                               with a stack when it first runs (execute_slice);
                               fixed for the record's life */
    /* Pseudo-Gs: the next of every one ever made (cgocallback.c; they are
     * recycled, never freed).  Written once, before the G is published,
     * and kept when the G is recycled (the walk may be reading it). */
    G *foreign_next;
    /* Pseudo-Gs blocked with no scheduler running: the deadline of the
     * wait (-1 none), so that a new timer kicks only the threads that
     * would wake later than it (gort__foreign_kick). */
    _Atomic int64_t fwait_until;
    bool guarded;           /* stack has a guard page (false: slab stack, or foreign) */
    bool is_main;           /* goroutine 1: its exit ends gort_main */
    bool stack_clean;       /* dead G whose stack was checked for deep pages (scavenge.c;
                               gort__gfput clears it); guarded like schedlink */
    bool prepared;          /* made by stack.c and never run yet: gort__newg counts it
                               (gort__stack_taken) and clears it; guarded like schedlink */
    uint64_t goid;          /* id; 0 for foreign pseudo-Gs */
    G *schedlink;           /* run queue / free list link; guarded by that list's owner */
    /* On the first G of a chunk of a global free list (gort__gfchunk_push):
     * the next chunk's first G, and how many Gs this chunk's schedlink
     * chain holds.  Guarded by sched.gflock while on a list; meaningless
     * anywhere else. */
    G *chunknext;
    int32_t chunkn;
    G *alllink;             /* allgs list: written once, before the G is on it; never unlinked */
    M *m;                   /* M running it, NULL if not running */
    void (*fn)(void *);     /* entry */
    void *arg;

    /* preemption (preempt.c) */
    _Atomic bool preempt;   /* a preemption was requested; checked at runtime calls */
    int32_t preempt_off;    /* [own] gort_preempt_disable depth */
    int64_t preempt_since;  /* when the oldest pending request was made (sysmon's view) */
    bool preempt_reported;  /* the "cannot preempt" diagnostic was printed for this request */
    /* The stuck report's CPU clock (preempt_report.c; sysmon only): the
     * CPU time of the G's thread when sysmon first saw the request dated
     * preempt_cpu_req (= preempt_since then), -1 if unreadable. */
    int64_t preempt_cpu0;
    int64_t preempt_cpu_req;
    bool async_preempted;   /* [own] last stop was asynchronous (stats/traces) */

    /* parking (proc.c, chan.c, select.c, sema.c) */
    const char *waitreason; /* why it is parked, for tracebacks */
    void *param;            /* set by the waker: the sudog that completed, or NULL */
    _Atomic uint32_t selectdone; /* 0 until a waker (or the timeout) wins the wakeup */
    gort__sudog *waiting;   /* [own] sudogs of the current select */
    gort__timer timer;      /* sleep / select timeout timer */
    uint64_t timerseq;      /* [own] incarnation of g->timer, for stale firings */

    /* system calls (syscall.c): where it entered the current one, for
     * tracebacks of a goroutine that is running in the kernel; [own] */
    uintptr_t syscallpc;    /* return address into the caller of entersyscall */
    uintptr_t syscallfp;    /* entersyscall's frame pointer: the chain to walk */

    /* tracebacks and dumps (traceback.c) */
    int64_t waitsince;      /* [own] gort__nanotime() when it last parked, for "[chan receive, 2 minutes]" */
    uintptr_t gopc;         /* return address of the gort_go call that created it ("created by") */
    uint64_t parentgoid;    /* goid of the creating goroutine, 0 for a plain thread */

    /* tools */
    void *asan_fake_stack;  /* ASan fiber bookkeeping */
    unsigned valgrind_id;   /* valgrind stack registration */

    /* thread-bound C state carried by the goroutine (threadstate.h):
     * errno and signal mask (threadstate.c); [own] */
    int ts_errno;           /* its errno while it is not running */
    uint64_t ts_sigmask;    /* the mask it set, as it sees it (SIGURG kept unblocked on the thread) */
    /* The rare cases, one 16-bit test on the way in (gort__ts_in). */
    union {
        struct {
            bool ts_sigmask_set; /* it set a mask other than the base (interpose_signal.c) */
            bool cxx_saved;      /* C++ state saved below (cxx_eh.c) */
        };
        uint16_t ts_slow;
    };

    /* C++ exception-handling globals (cxx_eh.c): the goroutine's caught
     * exceptions and uncaught count while it is switched out; [own] */
    void *cxx_caught;
    unsigned int cxx_uncaught;

    /* locked to its thread (lockosthread.c).  Written only by the
     * goroutine itself, on the M it runs on ([own]); read by the scheduler
     * of whichever M takes it from a run queue (ordered by the queue's
     * hand-off, like every [own] field).  Locked iff lockedm != NULL iff
     * one of the three counts is > 0. */
    M *lockedm;             /* the M it must run on, NULL if none */
    uint32_t lockext;       /* gort_lock_thread nesting */
    uint32_t lockmain;      /* 1: goroutine 1 of gort_main_thread (never unlocked) */
    int32_t plocks;         /* pthread mutexes/rwlocks/spinlocks held (interpose_lock.c) */
};

/* ---------------------------------------------------------------------
 * M — an OS thread.
 * ------------------------------------------------------------------- */
struct gort_m {
    G *curg;                /* G running now, NULL on g0; written by this M only */
    P *p;                   /* attached P, NULL if none; written by this M only */
    _Atomic uintptr_t nextp; /* P handed over to this sleeping or starting M,
                                with GORT_NEXTP_REVOCABLE when startm gave it:
                                a stop of the world may take such a P back
                                before the M does (stw.c); both take it with an
                                exchange, so exactly one gets it */
    int32_t id;
    pid_t tid;              /* kernel thread id for tgkill */
    uintptr_t g0_sp;        /* top of g0 (pthread) stack that every mcall restarts at */
    uintptr_t g0_lo, g0_hi; /* g0 stack bounds (ASan, checks) */
    void *g0_asan_fake;
    int32_t locks;          /* runtime locks held + critical sections: >0 = not preemptible */
    bool spinning;          /* looking for work; counted in sched.nmspinning */
    /* The CPU its waker ran on when the waker goes on running (startm's
     * GORT_WAKE_AWAY), -1 otherwise; and, for GORT_WAKE_HERE, pinned:
     * the waker restricted this sleeping M to its own CPU, and pinmask
     * is the mask to put back.  Written by the waker before the park
     * note's wakeup, read and reset by this M after it (mstart.c mpark). */
    int32_t wakercpu;
    int32_t pinned;            /* the CPU it was pinned to + 1; 0: not pinned */
    unsigned long pinmask[16]; /* a cpu_set_t (cpus_linux.c checks the size) */
    gort__note park;        /* stopm sleeps here */
    M *schedlink;           /* sched.midle link; guarded by sched.lock */
    M *alllink;             /* allm list; append-only, guarded by sched.lock */
    /* One preemption SIGURG is in flight to this thread: set (CAS 0->1) by
     * the sender before it checks that the M still runs a goroutine
     * outside any system call, cleared by the handler when it arrives or
     * by the sender if it does not send.  entersyscall publishes P_SYSCALL
     * and then waits for this to clear, so a signal never lands inside
     * the call (the Dekker pair: see syscall.c). */
    _Atomic uint32_t signal_pending;
    void *altstack;         /* sigaltstack memory */
    uint64_t fastrand;      /* per-M PRNG state */
    int64_t preempt_gen;    /* count of handled preempt signals */

    /* --- async preemption (preempt.c, signal_linux.c; issue 3) ---------
     * Written by this M's SIGURG handler unless marked [sysmon]; read
     * racily by sysmon for the "cannot be preempted" diagnostic. */
    uintptr_t preempt_lastpc;     /* pc the last preemption signal interrupted */
    int32_t preempt_lastreason;   /* GORT_PR_* for it; GORT_PR_SAFE = preempted */
    int64_t preempt_reqgen;       /* [sysmon] preempt_gen when the current request began */
    uint64_t sigmask_base;        /* signals blocked for goroutines that set no mask
                                     of their own (gort__ts_base_mask, minit) */
    /* --- end async preemption --- */
    /* --- system calls (syscall.c) [own] --- */
    P *oldp;                      /* the P released by entersyscall, to try first on exit */
    int32_t syscall_depth;        /* >0: its goroutine is inside a bracketed call (nests) */
    /* The preemption handler found the goroutine in foreign code and
     * released its P there (depth 1, no wrapper involved): it runs on
     * without one until it parks, calls a bracket's end, or a reclaim
     * signal finds it back in its own code.  Written by this M (its
     * handler included); read by sysmon and stop-the-world. */
    _Atomic bool syscall_implicit;
    int64_t reclaim_when;         /* [sysmon] last reclaim signal sent */
    int64_t reclaim_every;        /* [sysmon] interval to the next one */
    _Atomic bool reclaim_blocked; /* the last one found the thread blocked in a system call */
    /* Calls entered while P-less in that state (no P to count them on;
     * gort_read_stats adds them to the Ps' syscallticks).  Owner writes. */
    _Atomic uint64_t nsyscall_pless;
    /* The wrapped call made in that state came straight from the
     * goroutine's own code with no foreign frame under it: its end takes
     * a P back at once, without waiting for a reclaim signal.  Owner. */
    bool reclaim_on_exit;
    /* gopark hand-off to g0 (this M only) */
    bool (*waitunlockf)(G *, void *);
    void *waitlock;
    void (*mcall_fn)(G *);  /* function mcall runs on g0 */
    bool mcall_dying;       /* the G switching out will never resume (ASan) */
    /* Set by this M's signal handler when, after goroutine 1 returned, it
     * froze the thread for good (stw.c gort__exit_freeze); read by the
     * exit's stop-the-world, which then takes the M's P back. */
    _Atomic bool exit_frozen;
    _Atomic uint32_t exit_seen;   /* exit signals this M's handler has looked at */
    /* signal mask now on this thread, as set by gort__ts_in or the
     * pthread_sigmask wrapper (threadstate.c); this M only */
    uint64_t ts_sigmask_applied;
    bool ts_mask_off;       /* ts_sigmask_applied != sigmask_base (gort__ts_applied) */
    /* locked to a goroutine (lockosthread.c) */
    G *lockedg;             /* the goroutine this M runs exclusively; written by
                               that goroutine on this M ([own]) */
    bool dead;              /* its thread exited (a goroutine died locked to it):
                               stays on allm, never runs again; under sched.lock */
    void *exitbuf;          /* jmp_buf in mstart / gort_main_thread: where the
                               thread leaves the scheduler for good ([own]) */
    /* C++ exception globals of this thread (cxx_eh.c), looked up on first use */
    struct gort__cxa_eh_globals *cxx_globals;
    /* split-stack mode (morestack.c).  stackguard: this thread's TCB word
     * that checked prologues compare rsp with (NULL when the mode is
     * off); written by this M at every switch (execute: the goroutine's
     * guard) and by any thread to poison it (gort__preemptone).
     * morestack: what the fatal overflow report prints, written by this
     * M on the overflowing goroutine's stack and read on its g0. */
    uintptr_t *stackguard;
    struct { uintptr_t fp, pc, sp, need; int kind; } morestack;
};

/* ---------------------------------------------------------------------
 * P — a processor.
 * ------------------------------------------------------------------- */
#define GORT_RUNQ_SIZE 256
/* P_SYSCALL: its goroutine's M released it on entering a system call
 * (syscall.c); whoever CASes it away from P_SYSCALL owns it: the M on
 * return (back to P_RUNNING), sysmon's retake or a blocking call's own
 * hand-off (to P_IDLE, then handoffp), or stop-the-world (P_STOPPED). */
enum { P_IDLE = 0, P_RUNNING, P_STOPPED, P_SYSCALL };

struct gort_p {
    int32_t id;
    _Atomic uint32_t status;     /* P_*; P_IDLE only on sched.pidle */
    P *link;                     /* sched.pidle link; guarded by sched.lock */
    M *m;                        /* M holding it, NULL if idle */
    uint32_t schedtick;          /* incremented by execute(); sysmon reads racily (atomic) */
    uint32_t preempt_reqtick;    /* schedtick + 1 of the slice the last preemption request
                                    was for (0: none); written by requesters (preemptone,
                                    atomic) and cleared by the holder once served or when
                                    the P stops or idles; a runnext G that inherits that
                                    slice inherits the request too (proc.c) */
    bool globalcheck;            /* owner: the 1-in-61 global queue look is due */
    bool yielded;                /* owner: the last G here yielded or was preempted
                                    (its slice is over: a runnext G does not inherit it) */
    bool yielded_global;         /* owner: ... and went to the global queue's tail
                                    (defers the global look once) */
    uint32_t slicespawn;         /* owner: goroutines the running G created since it
                                    was scheduled (gort_go's back-pressure) */
    _Atomic uint32_t stolentick; /* schedtick when a thief last took from this P's ring
                                    or its runnext (written by thieves, runq.c; read by
                                    the owner's prefetch of the next G) */

    /* Socket reads and writes queued for one io_uring_enter (iobatch_linux.c,
     * on unless GORTDEBUG=iobatch=0).  Owner only: the ring is made by the first
     * batched call on this P; iob_queued (ops queued, not submitted) is
     * written by the owner and read by gort__runqempty, so whoever decides
     * whether this P needs an M sees a batch as work. */
    gort__iobatch *iob;
    _Atomic uint32_t iob_queued;

    /* Local run queue: lock-free single-producer (the owner) multi-consumer
     * (stealers) ring, as in Go.  runnext is a one-G fast path. */
    _Atomic uint32_t runqhead;   /* consumers CAS it */
    _Atomic uint32_t runqtail;   /* only the owner stores it */
    G *_Atomic runq[GORT_RUNQ_SIZE];
    G *_Atomic runnext;

    /* Dead Gs with stacks, ready for reuse; owner only. */
    G *gfree;
    int32_t gfreecnt;
    int32_t gfree_unscanned;     /* Gs on gfree with !stack_clean (a hint for gfscavenge) */
    uint64_t nstackfresh;        /* new stacks made on this P since gfget last found a dead G
                                    (stack.c: the batch size); owner only */
    struct iovec *prepvec;       /* 2 x SLAB_BURST vectors for preparing them (stack.c),
                                    mmap'd at the first burst; owner only */
    /* Free records for goroutines not started yet (unstarted.c); owner only. */
    G *ufree;
    int32_t ufreecnt;

    /* Timers (time.c) */
    gort__mutex timerslock;
    gort__timerwhen *timers;     /* 4-ary min-heap by when; guarded by timerslock */
    gort__timerslot *timerslots; /* by handle, timerscap of them; guarded by timerslock */
    int32_t ntimers, timerscap;
    int32_t timerfree;           /* first free handle, -1 if none; guarded by timerslock */
    _Atomic int64_t timer0_when; /* when of timers[0], 0 if none; readable without the lock */
    int64_t timerlastfired;      /* latest `fired` given out; guarded by timerslock */

    /* sysmon's view (written by sysmon only; gort__preempt_queued reads
     * sysmon_when, then sysmon_tick with acquire, from other threads) */
    uint32_t sysmon_tick;
    int64_t sysmon_when;         /* when sysmon first saw sysmon_tick */
    uint32_t sysmon_reqtick;     /* split-stack mode: sysmon_tick + 1 of its last request */
    int64_t sysmon_aim;          /* when sysmon meant to ask for the end of slice
                                    sysmon_tick (its first request), 0 if it has not
                                    or asked late; it learns its lead from these */
    /* The last slice that ended in a preemption: its tick and when its G
     * stopped, so sysmon can date the next slice exactly (sysmon.c).
     * Written by the P's owner as a sequence lock (tick = ~0, time, tick;
     * release), read by sysmon (tick, time, tick). */
    _Atomic uint32_t preempted_tick;
    _Atomic int64_t preempted_at;
    /* ... and cleared (preempted_tick = ~0) by whoever holds the P when
     * it stops or goes idle (runq.c), or when a runnext goroutine takes
     * over the preempted slice (proc.c schedule): the next slice does not
     * begin at the note then. */
    _Atomic uint64_t syscalltick; /* bumped by each entersyscall (owner, before release):
                                     also the count of calls entered on this P */
    uint64_t sysmon_syscalltick;  /* sysmon: the last syscalltick it saw, and when */
    int64_t sysmon_syscallwhen;
    /* When a call began, noted by its M when it woke a sleeping sysmon for
     * the work behind it (syscall.c enter), so that sysmon counts the
     * retake bound from there and not from when it got a CPU: the low 48
     * bits of gort__nanotime() above the low 16 bits of the call's
     * syscalltick, in one word.  One store: the M no longer owns the P
     * when it writes (a stalled M may write after the next call began on
     * the P), and the tick in the same word keeps its time from being
     * taken for another call's.  Read by sysmon (gort__retake). */
    _Atomic uint64_t nudge;

    /* Statistics: written by the owner, summed racily. */
    _Atomic uint64_t nswitch, nsteal, nsyncpreempt, nasyncpreempt;
    _Atomic uint64_t nprologuepreempt; /* split-stack mode: stopped at a prologue */
    _Atomic uint64_t niobatch, niobop; /* iobatch flushes, and the ops they submitted */
    /* Goroutines created on / exited on this P (owner only; live count =
     * sum of created - sum of exited, so spawn and exit touch no shared
     * cache line), and a cache of goroutine ids taken 16 at a time from
     * sched.goidgen (Go's goidcache). */
    _Atomic uint64_t ncreated, nexited;
    uint64_t goidcache, goidcacheend;
};

/* ---------------------------------------------------------------------
 * The scheduler's global state.
 * ------------------------------------------------------------------- */
typedef struct gort__sched {
    gort__mutex lock;             /* guards the fields below unless marked */
    M *midle; int32_t nmidle;    /* idle Ms */
    int32_t nmidlelocked;        /* Ms locked to a goroutine that is not running
                                    (lockosthread.c): idle for checkdead; one
                                    less while sysmon holds goroutines it took
                                    from the poller (gort__incidlelocked) */
    int32_t mcount;              /* Ms created */
    _Atomic int32_t nmspinning;  /* Ms spinning (atomic, read without lock) */
    P *pidle;                    /* idle Ps */
    _Atomic int32_t npidle;      /* len(pidle) (atomic, read without lock) */
    /* The global run queue: a ring of G pointers (runq.c), not a list
     * through G.schedlink, so batches move between it and a P's ring
     * without touching the Gs themselves. */
    G **runq;                    /* runqcap slots (mmap'd; grows, never shrinks) */
    uint32_t runqcap;            /* a power of two; 0 before the first put */
    uint32_t runqhead;           /* index of the oldest G */
    _Atomic int32_t runqsize;    /* Gs queued (atomic: also read without the lock) */
    M *allm;                     /* all Ms */

    /* The global G free lists, shared by the pools (stack.c) and the
     * scavenger (scavenge.c); all guarded by gflock.  The counts (of Gs)
     * are also read without it, as hints (relaxed atomic loads).  Each
     * list is a stack of chunks: a chunk is a NULL-terminated schedlink
     * chain whose first G holds chunknext and chunkn, so that a P takes
     * a batch off a list without reading the Gs in it
     * (gort__gfchunk_push/pop).  Every G on gfree_dirty and gfree_aged
     * is unscanned (!stack_clean), every G on gfree scanned.  A G reaches
     * gfree_dirty from a P (gfdrain, gort__scav_handoff) and leaves it
     * for a P (gfget) or, all at once, for gfree_aged (the scavenger
     * alone); it leaves gfree_aged for a P (gfget) or in a batch the
     * scavenger (or gort__scavenge_help) scans, then puts on gfree. */
    gort__mutex gflock;           /* guards the global G free lists */
    G *gfree; int32_t gfreecnt;   /* dead Gs (gfree: stacks already scanned for depth, */
    G *gfree_dirty; int32_t ndirty; /* gfree_dirty: not yet; the scavenger thread scans them) */
    G *gfree_aged; int32_t naged; /* dirty stacks left to age SCAV_AGE_NS, next to scan */

    /* Free records for goroutines not started yet (unstarted.c), spilled
     * by Ps with too many: a stack of chunks as above, guarded by gflock. */
    G *ufree; int32_t ufreecnt;

    /* Every G and record ever made, newest first: prepended without a
     * lock (gort__allgs_add: a CAS of the head after the new chain is
     * linked), never unlinked, so walkers (dumps) follow it with acquire
     * loads and no lock.  A lock here was held by a dump across its
     * writes, and a P starting a goroutine that needed a new stack waited
     * on it: a dump into a pipe whose reader had not started yet never
     * finished.  nallgs: how many, added after the CAS (a walker may see
     * a few more than it says). */
    G *allgs; int32_t nallgs;  /* __atomic builtins only */

    _Atomic uint64_t goidgen;
    _Atomic int64_t ncreated_nop; /* goroutines created by threads without a P */
    int32_t gomaxprocs;          /* len(allp) in use; changed only during STW */
    P **allp;                    /* Ps, [0, gomaxprocs); capacity allp_cap */
    int32_t allp_cap;

    /* stop the world */
    _Atomic uint32_t gcwaiting;  /* STW in progress: Ps stop at the next schedule */
    _Atomic int32_t nstealwait;  /* Ms in runqgrab's grace wait, a futex wait on
                                    gcwaiting: a stop wakes them (runq.c) */
    int32_t stopwait;            /* Ps still to stop; guarded by lock */
    gort__note stopnote;         /* STW caller sleeps here */
    _Atomic int32_t stopper_cpu; /* CPU + 1 the last stopper ran on when it last looked
                                    (stw.c), 0 before any; a hint, written without a lock:
                                    an M watching its note in gcstopm on that CPU sleeps */

    /* timers: an M sleeping in findrunnable until the next timer */
    _Atomic int64_t timer_sleep_until; /* its deadline, 0 if none sleeps */
    M *timer_sleeper;            /* guarded by lock */
    bool timer_sleeper_polls;    /* it sleeps in the netpoller, not on its note; guarded by lock */
    /* Spinning tokens startm passed to an M it woke from the poller or
     * the timer sleep instead of starting one (counted in nmspinning
     * meanwhile); the first such M to come back takes one, and spins if
     * it got a P.  Guarded by lock. */
    int32_t pless_tokens;

    /* netpoller (netpoll.c).  lastpoll: when it was last polled, 0 while
     * an M is blocked in it (at most one is: whoever swaps it to 0). */
    _Atomic int64_t lastpoll;
    _Atomic int32_t netpoll_waiters; /* goroutines and threads parked on an fd */
    _Atomic bool netpoll_inited;

    /* sysmon.  sysmonwait: 0 sysmon polls (or runs); SYSMON_DEEP it sleeps
     * until a switch, new work or a new earliest timer wakes it (all Ps
     * idle, or a quiet spell); SYSMON_NAP a timed sleep longer than the
     * system-call retake bound, which only a goroutine entering a system
     * call with work waiting behind it cuts short (sysmon.c, syscall.c).
     * A waker CASes sysmonwait back to 0 and then wakes sysmonnote with
     * gort__notewakeup_hint; sysmon never waits for that wakeup. */
    _Atomic uint32_t sysmonwait;
    gort__note sysmonnote;
    /* gort__nanotime() as of sysmon's last round: the clock gopark stamps
     * g->waitsince with (gort__waitclock), for the dump's "N minutes".
     * 0 before sysmon's first round and while sysmon sleeps longer than
     * DEEP_MAX_NS (50 ms; sysmon.c waitclock_sleep), when gopark reads
     * the clock itself; so never older than that, plus however long the
     * OS keeps sysmon off its CPU.  Written by sysmon only. */
    _Atomic int64_t waitclock;
    _Atomic bool sysmon_started;   /* sysmon's start was claimed (once) */
    _Atomic bool sysmon_running;   /* its thread exists: set after it was created,
                                      so checkdead never counts a thread that
                                      the kernel does not have yet */

    /* lifecycle */
    _Atomic bool started;        /* gort_main is running */
    _Atomic bool exiting;        /* main goroutine returned: run nothing more */
    _Atomic bool frozen;         /* and every P stopped for good (gort__exitstop) */
    gort__note mainnote;         /* gort_main's thread waits here */
    _Atomic int32_t nforeign_blocked; /* foreign threads blocked in gort calls */

    /* statistics not owned by a P */
    _Atomic uint64_t npreemptreq, nsignals, nstw;
    _Atomic uint64_t nhandoff;   /* Ps handed to another M during a system call */
} gort__sched;
enum { SYSMON_POLL = 0, SYSMON_DEEP = 1, SYSMON_NAP = 2 };

extern gort__sched gort__sched_state;
#define sched gort__sched_state

/* Does a scheduler run, whose Ms poll the netpoller and run the timers?
 * Not before gort_main, and not once it returned: a plain thread waiting
 * then must poll its fd (fd_linux.c) and run the timers (proc.c) itself. */
static inline bool gort__sched_running(void)
{
    return atomic_load_explicit(&sched.started, memory_order_relaxed) &&
           !atomic_load_explicit(&sched.exiting, memory_order_relaxed);
}

/* The clock g->waitsince is stamped with at every park: a load of the
 * value sysmon publishes, where a clock read (even the coarse vDSO one
 * through the PLT) was ~5% of the prime sieve's samples, a park per
 * switch.  The dump shows whole minutes, so 50 ms of staleness is
 * nothing; Go stamps waitsince later still, at the next GC.  While
 * sysmon sleeps long (an idle program, a goroutine back from a long
 * system call before sysmon woke), the value is 0 and parks read the
 * clock. */
int64_t gort__waitclock_slow(void); /* traceback.c: while sysmon publishes none */
static inline int64_t gort__waitclock(void)
{
    int64_t t = atomic_load_explicit(&sched.waitclock, memory_order_relaxed);
    return t ? t : gort__waitclock_slow();
}

/* ---------------------------------------------------------------------
 * Batched socket calls (iobatch_linux.c)
 * ------------------------------------------------------------------- */
/* read(fd, buf, n) / send(fd, buf, n, MSG_NOSIGNAL) as a system call's
 * result (bytes or -errno), queued on the P's ring with the goroutine
 * parked until the next flush when iobatch is on and usable, made
 * directly otherwise.  Callers: sockets only (fd_linux.c). */
long gort__iobatch_recv(int fd, void *buf, size_t n);
long gort__iobatch_send(int fd, const void *buf, size_t n);
/* Submit pp's queued ops, wait for their completions (immediate: every
 * op is MSG_DONTWAIT) and ready their goroutines on pp.  pp's owner. */
void gort__iobatch_flush(P *pp);
/* The same, where ops are queued: the look every path that lets pp go
 * makes first (gcstopm, stoplockedm, startlockedm, the call bracket,
 * procresize), inline so that a P with none pays one load. */
static inline void gort__iobatch_flush_queued(P *pp)
{
    if (unlikely(atomic_load_explicit(&pp->iob_queued, memory_order_relaxed)))
        gort__iobatch_flush(pp);
}

/* ---------------------------------------------------------------------
 * Netpoller (netpoll.c: waiting on fds; netpoll_epoll.c: the kernel side;
 * fd_linux.c: the public calls)
 * ------------------------------------------------------------------- */
/* A goroutine or thread parked on an fd: lives in its frame; linked in the
 * fd's list under pd->lock; `woken` is set by whoever unlinks it. */
typedef struct gort__pollwaiter gort__pollwaiter;
typedef struct gort__pollfd gort__pollfd;
struct gort__pollwaiter {
    G *g;
    gort__pollfd *pd;
    gort__pollwaiter *next, *prev;
    int mode;            /* GORT_READ and/or GORT_WRITE */
    bool woken;          /* unlinked by an event, a deadline, a close */
};
/* One per fd number, allocated on first use, never freed (a number is
 * reused with the same pd: `gen` tells incarnations apart). */
struct gort__pollfd {
    gort__mutex lock;            /* guards the fields below but refs and the seqs */
    int32_t fd;
    uint32_t gen;                /* incarnation; bumped by close; carried in epoll's data */
    bool registered;             /* set up for this incarnation (non-blocking, in epoll) */
    bool pollable;               /* epoll took it (false: regular file...) */
    bool is_socket;              /* writes use MSG_NOSIGNAL */
    bool is_tcp;                 /* TCP: a short read empties the queue (fd_linux.c) */
    bool noclose;                /* closing, but someone else closes the number */
    /* Detached (gort__pd_detach): the file the number named then, which
     * libc is about to close.  Until the number names another file (or
     * none), registering it is refused: a call that came in between
     * would register the dying file, and the pd stay "registered" for
     * the number's next one.  dying_tag tells detaches apart (the end of
     * an old one must not clear a newer one). */
    bool dying;
    uint32_t dying_tag;
    uint64_t dying_dev, dying_ino;
    G *closer;                   /* the close waiting for the calls in flight to leave */
    int64_t rdeadline, wdeadline;/* gort_set_deadline's; -1 none */
    gort__pollwaiter *waiters;   /* parked, both directions */
    /* Calls in flight on this incarnation, plus PD_CLOSING once a close
     * began.  The close wakes the parked calls and waits for the last of
     * them to let go before it makes the close(2): no call in flight can
     * reach a new file that got the number, and the number is free when
     * gort_close returns, as after close(2) (Go's fdMutex + csema). */
    _Atomic uint32_t refs;
    /* Of refs, those held by calls from threads that are not goroutines.
     * Changed under `lock` (a thread's release is no fast path): once the
     * goroutines are frozen for good (sched.frozen), a close waits for
     * these alone, since no goroutine will run again to let go of its. */
    uint32_t trefs;
    /* Readiness edges seen by the poller.  A call samples them before its
     * system call and parks only if they have not moved since: no
     * readiness is lost between EAGAIN and the park. */
    _Atomic uint32_t rseq, wseq;
    /* PD_DRAINED | rseq sampled before a read of a TCP socket that came
     * back short: the queue was empty then, so until an edge moves rseq a
     * read would only say EAGAIN (fd_linux.c skips it). */
    _Atomic uint64_t rdrained;
    /* The poller reported a hang-up, an error or urgent data (sticky for
     * the incarnation; set before the rseq it moves): a short read no
     * longer proves that the next one would say EAGAIN. */
    _Atomic bool rhup;
};
#define GORT_PD_DRAINED (1ull << 32)
/* Event mode bit beside GORT_READ/GORT_WRITE: the peer hung up, the fd
 * has an error, or urgent data came (a read may stop short of queued
 * data, or return 0 or fail, not EAGAIN). */
#define GORT_PD_HUP 4
#define GORT_PD_CLOSING 0x80000000u

/* The pd of fd (its block of the table made if need be), NULL if fd is
 * out of range or the block's memory was refused.  gort__pd_get is the
 * calls' (fatal in a vfork child); gort__pd_lookup the closes'
 * (async-signal-safe). */
gort__pollfd *gort__pd_get(int fd);
gort__pollfd *gort__pd_lookup(int fd);
/* The pd of fd if it was ever allocated, else NULL (no allocation). */
gort__pollfd *gort__pd_peek(int fd);
/* Take a reference for a call: register the fd if it is new (flags:
 * what the caller knows of it, PD_KNOWN_*).  0, or an errno value
 * (ECANCELED: a close began; EBADF). */
enum { PD_KNOWN_SOCKET = 1, PD_KNOWN_NONBLOCK = 2, PD_KNOWN_TCP = 4 };
int gort__pd_acquire(gort__pollfd *pd, int known);
void gort__pd_release(gort__pollfd *pd);
/* Park the caller until an edge moves the seq of `mode` away from what it
 * sampled (rs, ws), the deadline passes, or a close begins.  Returns 0 (try
 * again), ETIMEDOUT or ECANCELED. */
int gort__pd_wait(gort__pollfd *pd, int mode, uint32_t rs, uint32_t ws, int64_t deadline);
/* The effective deadline for mode: the earlier of `deadline` and the fd's. */
int64_t gort__pd_deadline(gort__pollfd *pd, int mode, int64_t deadline);
/* Begin closing fd: wake its waiters with ECANCELED.  Returns the
 * kernel's close result (0 or -errno) if the close happened now, 0 if the
 * last call in flight will make it. */
int gort__pd_close(gort__pollfd *pd);
/* fd is about to be closed by someone else (libc's fclose, dup2's
 * target): as gort__pd_close, but the last reference does not close it,
 * and until gort__pd_detach_end the file fd names now is not registered
 * again (calls on it get ECANCELED; a new file under the number works at
 * once).  Returns the tag to end, 0 if there is nothing to end. */
uint32_t gort__pd_detach(int fd);
void gort__pd_detach_end(int fd, uint32_t tag);
/* gort__exitstop's last step: sets sched.frozen, and lets closes that
 * waited only for goroutines' calls go on. */
void gort__netpoll_frozen(void);
/* The program's close of fd: its pd to close it through, or NULL with
 * *tag for gort__pd_detach_end after the caller's own close(2). */
gort__pollfd *gort__pd_close_begin(int fd, uint32_t *tag);
/* Set a per-fd deadline and wake the waiters it concerns. */
void gort__pd_setdeadline(gort__pollfd *pd, int mode, int64_t deadline);

/* Scheduler side. */
static inline bool gort__netpoll_pending(void)
{
    return atomic_load_explicit(&sched.netpoll_waiters, memory_order_relaxed) > 0;
}
/* Poll without blocking; ready Gs as a schedlink chain (foreign threads
 * are woken directly).  NULL if none. */
G *gort__netpoll_poll(int64_t until, int32_t *n);
/* Put a chain from gort__netpoll_poll on run queues and start Ms for idle
 * Ps (Go's injectglist).  With a P, returns one G to run at once. */
G *gort__netpoll_inject(G *list, int32_t n, bool take_one);
/* sysmon: poll if nobody has for 10 ms; returns when to look again (0: no
 * waiters or an M is blocked in the poller). */
int64_t gort__netpoll_sysmon(int64_t now);
/* Wake the M blocked in the poller (eventfd), if any.  True if this call
 * made the wake-up, false if one was pending already (or no poller). */
bool gort__netpoll_break(void);

/* Backend (netpoll_epoll.c).  data = gen << 32 | fd. */
int gort__netpoll_backend_init(void);          /* 0 or an errno value */
int gort__netpoll_open(int fd, uint64_t data);  /* 0 or an errno value (EPERM: not pollable) */
void gort__netpoll_del(int fd);
bool gort__netpoll_wakeup(void); /* false: a wake-up was pending */
/* Wait up to `until` (gort_nanotime time; 0 = don't wait, -1 = forever);
 * for each event calls gort__netpoll_ready. */
void gort__netpoll_wait(int64_t until, G **list, int32_t *n);
void gort__netpoll_ready(uint64_t data, int mode, G **list, int32_t *n);

/* ---------------------------------------------------------------------
 * Configuration (runtime1.c): GORTMAXPROCS, GORTSTACKSIZE, GORTDEBUG,
 * GORTTRACEBACK.
 * ------------------------------------------------------------------- */
/* GORTTRACEBACK levels, Go's GOTRACEBACK meanings: what a fatal error,
 * a fatal signal or SIGQUIT prints. */
enum {
    GORT_TB_NONE = 0, /* no goroutine stacks at all */
    GORT_TB_SINGLE,   /* default: the failing goroutine only */
    GORT_TB_ALL,      /* every user goroutine */
    GORT_TB_SYSTEM,   /* all, plus runtime frames and the scheduler's */
    GORT_TB_CRASH,    /* system, then abort (SIGABRT) for a core dump */
};
typedef struct gort__config {
    int32_t maxprocs;        /* initial GORTMAXPROCS */
    int32_t ncpu;            /* CPUs this process could use at start (gort__ncpu) */
    size_t stacksize;        /* bytes of usable stack per goroutine */
    int64_t schedtrace_ms;   /* GORTDEBUG=schedtrace=MS, 0 = off */
    int64_t quantum_ns;      /* GORTDEBUG=quantum=..., default 10ms */
    bool asyncpreemptoff;    /* GORTDEBUG=asyncpreemptoff=1 */
    bool prologuepreemptoff; /* GORTDEBUG=prologuepreemptoff=1: split-stack mode without the
                                poison, requests go straight to the signal (benchmarks) */
    bool lockfence;          /* GORTDEBUG=lockfence=1: runtime locks unlock with an
                                exchange, not a plain store (lock_futex.c) */
    bool membarrier;         /* GORTDEBUG=membarrier=1: entersyscall publishes with a plain
                                store, preemptors run membarrier (syscall.c) */
    bool sysmonslice;        /* GORTDEBUG=sysmonslice=0: sysmon keeps the kernel's default
                                time slice (cpus_linux.c gort__cpu_sysmon_thread); default 1 */
    bool wakecpu;            /* GORTDEBUG=wakecpu=0: Ms woken by startm stay where the
                                kernel puts them (mstart.c mpark); default 1 */
    int64_t stuck_report_ns; /* GORTDEBUG=stuckreport=..., default 1s; 0 = off */
    int64_t guardedstacks;   /* GORTDEBUG=guardedstacks=N: cap on guard-paged stacks, -1 = vm.max_map_count's */
    bool lazystacks;         /* GORTDEBUG=lazystacks=0: a goroutine gets its stack when made,
                                not when it first runs (unstarted.c); default 1 */
    int64_t maxthreads;      /* GORTDEBUG=maxthreads=N: Ms allowed, default 10000 (Go's) */
    bool foreigncalls;       /* GORTDEBUG=foreigncalls=0 keeps the P of a goroutine found in
                                foreign code (syscall_foreign.c); default 1 */
    bool iobatch;            /* GORTDEBUG=iobatch: socket reads and writes batched through
                                a per-P io_uring (iobatch_linux.c); default 1 */
    bool scheddetail;
    int traceback;           /* GORTTRACEBACK: GORT_TB_*, default single */
} gort__config;
extern gort__config gort__cfg;
void gort__parse_env(void);
/* Parse a duration like "500us", "10ms", "1s", "250" (ns); -1 if bad. */
int64_t gort__parse_duration(const char *s);
/* Unsigned decimal [s, e) into *out; false on empty, garbage, overflow. */
bool gort__parse_u64(const char *s, const char *e, uint64_t *out);
/* CPUs this process may use: affinity and cgroup quota (cpus_linux.c). */
int gort__ncpu(void);
/* CPUs in this thread's affinity mask, ignoring any cgroup quota. */
int gort__affinity_ncpu(void);

/* ---------------------------------------------------------------------
 * Architecture (arch/asm_amd64.S, arch/arch_amd64.c)
 * ------------------------------------------------------------------- */
/* Save the callee-saved state of the running G into g->sched_sp, switch
 * to the stack top `g0sp` and call fn(g) there; fn never returns. */
void gort__mcall_asm(G *g, void (*fn)(G *), uintptr_t g0sp);
/* Resume g from g->sched_sp. */
GORT_NORETURN void gort__gogo_asm(G *g);
/* Lay out a new G's stack so gort__gogo_asm starts it in the entry
 * trampoline, which calls gort__goentry(g). */
void gort__arch_newstack(G *g);
/* First C frame of every goroutine, called by the entry trampoline
 * (gort__gostart) with the G: runs g->fn(g->arg), then exits the G. */
typedef struct { void (*fn)(void *); void *arg; } gort__gostart_pair;
gort__gostart_pair gort__goentry(G *g);
GORT_NORETURN void gort__goexit_entry(G *g);
/* The trampoline's return address from g->fn: the one runtime address
 * always on a goroutine stack (arch/asm_amd64.S). */
extern char gort__gostart_ret[];
/* The return address of gort__asyncpreempt's call to gort__asyncpreempt2
 * (arch/preempt_amd64.S): the next frame's "return address" is the pc the
 * preemption interrupted, to be named as it is, not as pc - 1. */
extern char gort__asyncpreempt_ret[];
/* Split-stack mode's __morestack_non_split return address, under every
 * function body it calls (arch/morestack_amd64.S; libgort.a only). */
extern const char gort__morestack_ns_ret[] __attribute__((weak));
/* A return address into the runtime that is only a frame under the
 * program's code, not runtime code running: one of the two above.  A
 * function that tail-calls sits right on top of it. */
static inline bool gort__ra_frame_only(uintptr_t ra)
{
    return ra == (uintptr_t)gort__gostart_ret || ra == (uintptr_t)gort__morestack_ns_ret;
}
/* Async preemption trampoline (issue 3). */
void gort__asyncpreempt(void);

/* ---------------------------------------------------------------------
 * Scheduler (proc.c, mstart.c, cgocallback.c)
 * ------------------------------------------------------------------- */
/* The calling thread's M, or NULL on a foreign thread.  Not inlined: a
 * goroutine can change threads across any call, and a compiler may cache
 * TLS addresses within a function. */
M *gort__getm(void) __attribute__((noinline));
/* The same M read inline, for code that no goroutine switch can run
 * across between the read and the use (the runtime's locks, the
 * system-call bracket, the lock wrappers): a hot path saves the call. */
extern __thread M *gort__m_tls __attribute__((tls_model("initial-exec")));
/* The calling goroutine, or the calling foreign thread's pseudo-G
 * (created on first use; NULL only if that allocation failed). */
G *gort__getg(void) __attribute__((noinline));

/* Park the current G.  On a goroutine this switches to g0, marks the G
 * waiting and then calls unlockf(g, lock) there (if not NULL; it returns
 * false to resume at once).  On a foreign thread it marks the pseudo-G
 * waiting, calls unlockf, and blocks the thread until readied. */
void gort__gopark(bool (*unlockf)(G *, void *), void *lock, const char *reason);
/* gort__gopark with unlockf = release this runtime lock. */
void gort__goparkunlock(gort__mutex *l, const char *reason);
/* Make a parked G runnable (foreign: wake its thread).  Callable from any
 * thread, with runtime locks held.  `next`: run it next on this P. */
void gort__goready(G *g, bool next);
/* The scheduler loop on g0 (proc.c): never returns. */
GORT_NORETURN void gort__schedule(void);
/* findrunnable.c, on g0 with a P: a goroutine to run, found in the P's or
 * the global queue, the poller or another P; returns only with one (and a
 * P), sleeping without a P until there is.  The M may be spinning on
 * return: gort__resetspinning then, before running what it found. */
G *gort__findrunnable(void);
void gort__resetspinning(void);
/* A G ready to run fn(arg), from a free list or a new stack, or NULL
 * (newproc.c). */
G *gort__newg(void (*fn)(void *), void *arg);
/* Make g (dead, new, or a record) a goroutine that runs fn(arg) with the
 * given signal mask and errno 0: a previous life's fields reset (goid,
 * gopc and parentgoid are the caller's), its entry frame built if it has
 * a stack, G_RUNNABLE stored last (newproc.c). */
void gort__g_init(G *g, void (*fn)(void *), void *arg, bool sigmask_set, uint64_t sigmask);
/* Goroutines not started yet (unstarted.c): a free record from pp's
 * list (pp may not be NULL), G_IDLE, or NULL if memory is short; the G
 * with a stack that record u runs as, made at u's first run on pp, u
 * back on pp's list; and all of pp's free records to the global list
 * (procresize). */
G *gort__unstarted_new(P *pp);
G *gort__unstarted_start(P *pp, G *u);
void gort__unstarted_drain(P *pp);
/* Put the chain first..last (n Gs or records, linked through alllink
 * already, last's to be set) on allgs (stack.c). */
void gort__allgs_add(G *first, G *last, int32_t n);
/* A counter only its owner writes: a plain increment (no lock prefix),
 * published for racy readers. */
static inline void gort__owner_inc(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_release);
}
/* Live goroutines and goroutines ever created (sums over Ps; mstats.c). */
int64_t gort__ngoroutines(uint64_t *created);
/* Yield: current G to the global queue (gort_yield). */
void gort__gosched(void);
/* Check a pending preemption request at a runtime call (Go's stack-check
 * path): yields if one is pending.  The test is inline: every blocking
 * channel operation makes it, and as a call it was 4.7% of a two-P
 * pipeline's samples. */
void gort__preempt_check_slow(void);
static inline void gort__preempt_check(void)
{
    M *m = gort__m_tls;
    G *g = m ? m->curg : NULL;
    if (unlikely(g && atomic_load_explicit(&g->preempt, memory_order_relaxed)))
        gort__preempt_check_slow();
}
/* The same at a public call that may run in a signal handler (the clock,
 * the fd calls): the request is honoured only on the goroutine's own
 * stack, never from a handler on the alternate signal stack, which must
 * not be switched away from half run. */
void gort__preempt_check_call_slow(G *g);
static inline void gort__preempt_check_call(void)
{
    M *m = gort__m_tls;
    G *g = m ? m->curg : NULL;
    if (unlikely(g && atomic_load_explicit(&g->preempt, memory_order_relaxed)))
        gort__preempt_check_call_slow(g);
}
/* Fatal error: message, traceback of the current goroutine, abort. */
GORT_NORETURN void gort__throw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, the current goroutine's frames being the n return addresses
 * pcs (found by the CFI unwinder: cxx_eh.c). */
GORT_NORETURN void gort__throw_pcs(const uintptr_t *pcs, int n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, but exit(2) instead of abort (deadlock), with all goroutines. */
GORT_NORETURN void gort__fatal_exit2(const char *msg);
/* Make sure the scheduler is initialised (idempotent, thread-safe). */
void gort__schedinit(void);
/* Wake an idle P if there is work and no spinning M (Go's wakep). */
void gort__wakep(void);
/* Start a detached runtime thread that is not an M (sysmon, the stack
 * scavenger) with `block` blocked from its first instruction; false if
 * pthread_create failed. */
bool gort__helper_thread(void *(*fn)(void *), size_t stacksize, const sigset_t *block);
/* Threads that are not Ms (cgocallback.c).  Foreign-thread bookkeeping
 * for deadlock detection. */
void gort__foreign_block(void);
void gort__foreign_unblock(void);
/* Make the foreign threads blocked in a gort call look at the timers
 * again (proc.c foreign_timer_duty): when no scheduler runs them, a timer
 * armed meanwhile (when: its deadline; only threads waiting past it), or
 * the end of gort_main (when < 0: all), changes how long they may wait. */
void gort__foreign_kick(int64_t when);
/* Bumped before each such kick: a thread that computed its deadline
 * before it looks again (proc.c). */
extern _Atomic uint64_t gort__foreign_timer_gen;
/* Bumped by every block and unblock: checkdead's "nothing changed". */
extern _Atomic uint64_t gort__foreign_gen;
/* The calling thread's pseudo-G, once it has one (gort__getg's read). */
extern __thread G *gort__foreign_g_tls __attribute__((tls_model("initial-exec")));
/* gort__getg's first call on a thread that is not an M: its pseudo-G. */
GORT_NOINLINE_COLD G *gort__foreign_getg(void);
/* schedinit: the key whose destructor recycles an exiting pseudo-G. */
void gort__foreign_init(void);

/* Called by the async preemption trampoline on the interrupted G's stack:
 * stop the G (it goes to the global run queue) and return when it is
 * resumed, possibly on another M. */
void gort__asyncpreempt2(void);
/* Run queues (runq.c) */
void gort__runqput(P *pp, G *g, bool next);
G *gort__runqget(P *pp);
G *gort__runqget_inherit(P *pp, bool *inherit); /* *inherit: it was runnext */
/* No G in pp's ring or runnext: nothing a thief could take. */
static inline bool gort__runqempty_g(P *pp)
{
    /* Read head, tail, runnext, then check tail did not move: otherwise a
     * put that moved runnext into the ring could make us see both empty. */
    for (;;) {
        uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);
        G *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
        if (t == atomic_load_explicit(&pp->runqtail, memory_order_acquire))
            return h == t && next == NULL;
    }
}
/* Nothing queued on pp: no G, and no socket op in its iobatch ring (whose
 * goroutines wait for whoever holds pp next).  So every "does this P need
 * an M?" -- handoffp, retake, sysmon's preemption and quiet check,
 * starttheworld, checkdead -- sees a batch as work, and no P idles or
 * stops on one (iobatch_linux.c).  Thieves ask gort__runqempty_g: a batch
 * cannot be stolen, and counting it sent idle Ms spinning for nothing.
 * Inline: entersyscall asks it on its fast path. */
static inline bool gort__runqempty(P *pp)
{
    return gort__runqempty_g(pp) && atomic_load_explicit(&pp->iob_queued, memory_order_relaxed) == 0;
}
/* Steal half of p2's queue into pp; returns one G to run or NULL. */
G *gort__runqsteal(P *pp, P *p2, bool stealrunnext);
/* Global queue; caller holds sched.lock. */
void gort__globrunqput(G *g);
void gort__globrunqputbatch(G *const *gs, int32_t n);
G *gort__globrunqget(P *pp, int32_t max);
/* Idle P list; caller holds sched.lock. */
void gort__pidleput(P *pp);
P *gort__pidleget(void);
/* sched.lock held: give pp (no M) to the stop in progress (P_STOPPED,
 * and wake the stopper if it was the last); or that, if a stop is in
 * progress, else the idle list. */
void gort__pstop_locked(P *pp);
void gort__pidleput_or_stop(P *pp);
/* sched.lock held, a stop in progress: take pp if it is P_SYSCALL (its
 * goroutine is in a call) and stop it as it is (stw.c). */
void gort__stop_syscall_p(P *pp);
P *gort__pidleget_pref(P *want);
/* Start an M running pp (an idle P if NULL); caller holds no lock.  how:
 * where the M should run (mstart.c mpark): wherever the kernel puts it;
 * off the CPU of a waker that goes on running; on the CPU of a waker
 * that sleeps next. */
enum { GORT_WAKE_ANY, GORT_WAKE_AWAY, GORT_WAKE_HERE };
void gort__startm(P *pp, bool spinning, int how);
/* findrunnable.c, sched.lock held: wake the M sleeping without a P (poller or
 * timer sleeper) to take an idle P, handing it the spinning token if
 * `spinning`; false if there is none not already being woken. */
bool gort__wake_pless_m_locked(bool spinning);
/* cpus_linux.c: move the calling thread off `cpu` to another CPU it may
 * use; pin m's (sleeping) thread to the calling thread's CPU, saving its
 * mask in m->pinmask, and put that mask back (on m's thread). */
void gort__cpu_leave(int cpu);
void gort__cpu_pin_here(M *m);
void gort__cpu_unpin(M *m);
/* cpus_linux.c: make the calling thread sysmon's: ask the kernel for
 * short slices of `ns` (if `slice`; so that it preempts the Ms when it
 * wakes) and name it `name` (kept, not copied), remembering what it had.
 * Around creating a thread, sysmon takes off both (`creating`) and puts
 * them on again: the kernel copies them to the threads a thread creates.
 * No-ops on any other thread. */
void gort__cpu_sysmon_thread(bool slice, int64_t ns, const char *name);
void gort__cpu_sysmon_creating(bool creating);
void gort__acquirep(P *pp);
P *gort__releasep(void);
/* STW support for schedule(): give up the P and sleep until restarted. */
void gort__gcstopm(void);
/* Ms (mstart.c).  A new M, on allm and counted, to start with pp (no
 * thread yet); NULL on ENOMEM. */
M *gort__allocm(P *pp);
/* Create an M and its thread, to start with pp; 0 or an errno value. */
int gort__newm(P *pp, bool spinning, bool revocable);
void gort__drop_nextp_spinning(M *m);
/* m->nextp (see struct gort_m). */
#define GORT_NEXTP_REVOCABLE ((uintptr_t)1)
static inline void gort__set_nextp(M *m, P *pp, bool revocable)
{
    atomic_store_explicit(&m->nextp, (uintptr_t)pp | (revocable ? GORT_NEXTP_REVOCABLE : 0),
                          memory_order_release);
}
static inline P *gort__take_nextp(M *m)
{
    uintptr_t v = atomic_exchange_explicit(&m->nextp, 0, memory_order_acq_rel);
    return (P *)(v & ~GORT_NEXTP_REVOCABLE);
}
/* Park this M, holding no P, on the idle list until startm hands it one. */
void gort__stopm(void);
/* After goroutine 1 returned: give up the P, wake `wake`, sleep for good. */
GORT_NORETURN void gort__park_forever(gort__note *wake);
/* A locked M whose goroutine stopped: sleep until handed a P for it. */
void gort__lockedm_sleep(M *m);
/* sched.nmidlelocked += v, with checkdead when v > 0. */
void gort__incidlelocked(int32_t v);
/* gort_main_thread's thread is an M (m0); set under sched.lock. */
extern bool gort__main_is_m;
/* proc.c: m's life on its thread from its first g0 frame (g, if not NULL,
 * runs first); returns only through m->exitbuf. */
void gort__mstart1(M *m, G *g);
/* proc.c: zeroed, cache-line aligned, padded to whole lines (P, M). */
void *gort__alloc_lines(size_t size);

/* ---------------------------------------------------------------------
 * System calls and foreign calls (syscall.c, interpose_linux.c)
 * ------------------------------------------------------------------- */
/* The calling goroutine enters / leaves a call that may block or run long;
 * block, GORT_CALL_*: it surely blocks (a wait, a contended lock: the P
 * is handed off at once instead of after the retake bound), or it surely
 * sleeps (a timed sleep, pause, waiting for a child or a condition: the
 * same, and the M that takes the P runs on this thread's CPU, which is
 * about to be free; not for a call that can return at once, where the two
 * would share it).  Only on a goroutine with no runtime lock and no
 * gort_preempt_disable: entersyscall returns false (and the caller must
 * not call exitsyscall) otherwise. */
enum { GORT_CALL_MAYBLOCK = 0, GORT_CALL_BLOCKS = 1, GORT_CALL_SLEEPS = 2 };
bool gort__entersyscall(int block);
void gort__exitsyscall(void) __attribute__((noinline));
/* proc.c: exitsyscall's slow path when no P is idle: the goroutine waits
 * on the global run queue, its M parks; returns once it runs again. */
void gort__exitsyscall_park(void);
/* The wrappers' entry: as above, but also false when the wrapped function
 * was called by the runtime itself (return address ra in its code). */
bool gort__entersyscall_from(uintptr_t ra, int block);
/* Give pp (taken from a goroutine in a system call, status P_IDLE, no lock
 * held) to an M if it has work, else to the idle list or a stop; `how`
 * as startm's (GORT_WAKE_HERE when the caller blocks next). */
void gort__handoffp(P *pp, int how);
/* sysmon: take Ps from goroutines in system calls past the bound when
 * something else could use them; returns the earliest time it wants to
 * look again (0: no P is in a system call), `early` before the bound's
 * end: how late sysmon's timed sleeps end. */
int64_t gort__retake(int64_t now, int64_t early);
/* gopark/gosched on a goroutine inside a bracket: leave it (taking a P)
 * and return the depth to re-enter with afterwards (0: was not in one). */
int32_t gort__syscall_suspend(void);
void gort__syscall_resume(int32_t depth);
/* gopark inside a bracket (proc.c, on g0): leave the bracket without
 * taking a P back; returns the P it had released (maybe taken since). */
P *gort__syscall_abandon(M *m);
/* ... unless the P it released is still free: take it back and leave
 * the bracket (true), as the fast exitsyscall does; never parks. */
bool gort__syscall_tryexit(M *m);
/* The P a goroutine released on entering a call, while still P_SYSCALL:
 * take it for m (true) / hand it on to whoever can use it. */
bool gort__syscall_retake(M *m, P *pp);
void gort__syscall_handoff(P *pp, int how);
/* Locked goroutines (lockosthread.c, proc.c; Go's LockOSThread).  On
 * the goroutine g running on m: lock it to m / unlock it if no count
 * remains.  Inline: the pthread-lock wrappers call them on every first
 * lock and last unlock. */
static inline void gort__lockthread(M *m, G *g)
{
    g->lockedm = m;
    m->lockedg = g;
}
static inline void gort__unlockthread_maybe(M *m, G *g)
{
    if (g->lockext == 0 && g->plocks == 0 && g->lockmain == 0) {
        g->lockedm = NULL;
        m->lockedg = NULL;
    }
}
/* goexit of a goroutine still locked by gort_lock_thread: give up pp and
 * end this M's thread (lockosthread.c); never returns. */
GORT_NORETURN void gort__mexit(M *m, P *pp);
/* mstart.c: m's thread is about to end: off the counts checkdead trusts. */
void gort__mexit_account(M *m);
/* interpose_lock.c: resolve the lock wrappers' libc functions (called by
 * interpose_linux.c's constructor, which also links them in statically). */
void gort__interpose_lock_init(void);
/* With GORTDEBUG=membarrier=1, register for membarrier (schedinit,
 * before any M runs); and the rare side's barrier of the Dekker pairs with
 * entersyscall: a full fence, or with membarrier=1 a membarrier after
 * which every store a running thread made before is visible (syscall.c). */
void gort__syscall_init(void);
/* The preemption handler's entersyscall for a goroutine in foreign code
 * (syscall_foreign.c): release and publish its P, stopping it if a stop
 * is in progress; no signal can be on its way (we are its handler). */
void gort__syscall_release(M *m, uintptr_t pc, uintptr_t fp);
/* After publishing P_SYSCALL: if a stop began meanwhile, stop pp now. */
void gort__syscall_gcwait(P *pp);
void gort__syscall_barrier(void);
/* Foreign code (syscall_foreign.c).  From the preemption handler of the
 * goroutine's own thread: release its P if it is in foreign code that no
 * runtime frame called (returns true), or, already released, whether the
 * reclaim may be injected at this context (GORT_PR_SAFE) or why not. */
bool gort__foreign_enter(M *m, void *ucontext);
int gort__foreign_reclaim_code(M *m, void *ucontext);
/* asyncpreempt2's part for a reclaim: take a P back. */
void gort__foreign_exit(void);
/* Send a reclaim signal to m if it is P-less in foreign code (sysmon,
 * stop-the-world, exit); false if it is not. */
bool gort__foreign_signal(M *m);
/* sysmon: reclaim signals at most every `every` ns per M. */
bool gort__foreign_poll(int64_t now, int64_t every); /* true if any M is P-less in foreign code */
/* Is pc inside the runtime's own code? */
bool gort__pc_in_runtime(uintptr_t pc);
/* sanitizer_linux.c: pc in a sanitizer's runtime (found in schedinit):
 * foreign code; its libc calls are not bracketed while an ASan report is
 * printed (syscall.c). */
void gort__sanitizer_init(void);
bool gort__pc_in_sanitizer(uintptr_t pc);
/* Allocate and initialise Ps up to n (STW or init). */
void gort__procresize(int32_t n);

/* proc helpers used by the preemption code */
void gort__stoptheworld(const char *reason);
void gort__starttheworld(void);
/* Stop what goroutines 5 ms allow, for good: for the reporter of a
 * fatal error, before it prints (stw.c).  Lock-free, async-signal-safe. */
void gort__freezetheworld(void);
P *gort__getp(void); /* current P or NULL */

/* ---------------------------------------------------------------------
 * Memory advice (mem_linux.c)
 * ------------------------------------------------------------------- */
/* process_madvise on this process's own ranges, without a descriptor:
 * the bytes advised, or -1 (errno) where the kernel refuses (before 6.14:
 * then the callers advise range by range, with gort__madvise). */
struct iovec;
long gort__madvise_many(struct iovec *iov, size_t n, int advice);
/* madvise, retried on EINTR and EAGAIN: 0, or -1 (errno). */
int gort__madvise(void *addr, size_t len, int advice);

/* ---------------------------------------------------------------------
 * Stacks (stack.c)
 * ------------------------------------------------------------------- */
/* Allocate a G with a stack of gort__cfg.stacksize; NULL on ENOMEM. */
G *gort__stackalloc_g(P *pp);
/* gort__newg took a G that had never run (g->prepared): a spawn burst is
 * consuming new stacks. */
void gort__stack_taken(void);
/* An M with nothing to run (spinning in steal_grace, or without a P about
 * to sleep): while a burst consumes new stacks and few are ready, prepare
 * some on the global free list, so that the spawning goroutine finds
 * their pages committed; false if it did not (stack.c). */
bool gort__stack_prepare_help(void);
void gort__stack_init(void);
/* Dead-G pools: a G with a stack from pp's free list (refilled from the
 * global one), NULL if none; and back onto it (owner of pp only). */
G *gort__gfget(P *pp);
void gort__gfput(P *pp, G *g);
/* Move pp's pooled Gs beyond `keep` to the global pool (owner of pp). */
void gort__gfdrain(P *pp, int32_t keep);
/* gflock held: push the NULL-terminated chain first (n Gs) onto a global
 * free list as one chunk; pop a list's first chunk (NULL if empty), its
 * length in *n. */
static inline void gort__gfchunk_push(G **list, int32_t *cnt, G *first, int32_t n)
{
    first->chunknext = *list;
    first->chunkn = n;
    *list = first;
    *cnt += n;
}
static inline G *gort__gfchunk_pop(G **list, int32_t *cnt, int32_t *n)
{
    G *first = *list;
    if (first) {
        *list = first->chunknext;
        *n = first->chunkn;
        *cnt -= first->chunkn;
    }
    return first;
}
/* mcall, for a G on a slab stack: throw "stack overflow" if the red zone
 * below its stack was written or sp is below stack_lo. */
void gort__stack_check(G *g, uintptr_t sp);

/* ---------------------------------------------------------------------
 * The stack scavenger (scavenge.c): drops the pages that pooled stacks
 * of deep goroutines left resident.  It shares with stack.c only the
 * global free lists in sched (gflock, above) and g->stack_clean.
 * ------------------------------------------------------------------- */
/* The page size; once, from gort__stack_init. */
void gort__scavenge_init(size_t pagesz);
/* Owner of pp: move its unscanned pooled Gs to sched.gfree_dirty and wake
 * the scavenger; with `scan`, only those whose stack grew deep (mincore),
 * marking the others clean. */
void gort__scav_handoff(P *pp, bool scan);
/* Stacks were put on sched.gfree_dirty: wake (or start) the scavenger
 * thread.  Called after gflock is released. */
void gort__scav_wake(void);
/* Hand pp's recently pooled stacks that grew deep to the scavenger thread
 * (a mincore each here, the madvise there); called by the owner when pp is
 * about to go idle. */
void gort__gfscavenge(P *pp);
/* An M that has just given up its P: scavenge a small batch of the aged
 * list (no P held, so no goroutine waits); false if there was none. */
bool gort__scavenge_help(void);
/* 1 once the scavenger thread runs (a thread checkdead must know about). */
extern _Atomic int gort__scavenger_threads;

/* ---------------------------------------------------------------------
 * Preemption (preempt.c, signal_linux.c) — issue 3.
 * ------------------------------------------------------------------- */
void gort__signal_init(void);           /* install the SIGURG handler */
/* A forked child's pid for the preemption signals (fork_linux.c). */
void gort__signal_forked(void);
void gort__minit_signals(M *m);         /* per-M: alternate signal stack */
/* --- thread-bound state (threadstate.c, interpose_signal.c; issue 9) --- */
extern uint64_t gort__ts_base_mask;     /* goroutines' default mask, set once by signal_init */
int *gort__errno_addr(void);            /* this thread's &errno, never cached by the compiler */
/* After an asynchronous preemption: registers saved by the trampoline
 * (rbp = its frame) that held the old thread's &errno get this one's. */
void gort__ts_errno_moved(uintptr_t *tramp_rbp, int *old);
void gort__interpose_signal_init(void);  /* resolve the wrappers' libc functions */
/* sigaction(SIGURG, act, old) for the program (signal_linux.c): once
 * gort's handler is installed, act (if not NULL) becomes the program's
 * handler, called behind gort's, and *old (if not NULL) gets the previous
 * one; before, the kernel's, in step with gort's installation.  0 or -1
 * with errno, as sigaction.  Async-signal-safe. */
int gort__sigurg_program(const struct sigaction *act, struct sigaction *old);
/* --- end thread-bound state --- */
/* signal_fatal.c: report faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP)
 * of goroutines, then die of the signal; handlers installed earlier keep
 * their signals.  Called once by gort__signal_init. */
void gort__signal_fatal_init(void);
/* Ask the G running on pp to stop (sysmon, STW).  Returns true if a
 * request was made. */
bool gort__preemptone(P *pp);
void gort__preempt_inherit(M *m, G *g);
/* pp's last slice is over for good (by its holder: the P stops or goes
 * idle, or a runnext G takes over a slice that a preemption or yield
 * ended): its preemption note does not date the next slice (sysmon.c
 * slice_began), and its request is served, not to be inherited. */
static inline void gort__slice_served(P *pp)
{
    atomic_store_explicit(&pp->preempted_tick, ~0u, memory_order_relaxed);
    __atomic_store_n(&pp->preempt_reqtick, 0, __ATOMIC_RELAXED);
}
/* Its address marks the runtime's own preemption signals (si_value). */
extern const char gort__preempt_cookie;
/* Exit (stw.c): the mark of the signals that freeze goroutines after
 * goroutine 1 returned; gort_main's stop of every P; and the handler's
 * part, which returns only if the interrupted point cannot be frozen. */
extern const char gort__exit_cookie;
/* Queue SIGURG carrying `cookie` (one of the two above) to thread tid of
 * this process; false if the kernel refused (signal_linux.c). */
bool gort__sigurg_send(pid_t tid, const char *cookie);
void gort__exitstop(void);
void gort__exit_freeze(M *m, void *ucontext);
/* Did the signal whose context this is interrupt a blocked system call
 * (restarted, or failed with EINTR)?  From the saved pc, rcx and rax. */
bool gort__ctx_in_syscall(void *ucontext);
void gort__sysmon_start(void);
/* Wake sysmon from a SYSMON_DEEP sleep (a switch, new work, a timer). */
void gort__sysmon_wake(void);
/* Work queued with no P while none is idle: request the preemption of a
 * goroutine whose slice sysmon has seen expire (sysmon.c). */
void gort__preempt_queued(void);
/* Cut short any sysmon sleep (a system call with work behind it). */
void gort__sysmon_nudge(void);
int gort__pc_code(uintptr_t pc);         /* GORT_PR_SAFE/RUNTIME/NOSPLIT/FOREIGN for pc */
bool gort__pc_in_nosplit(uintptr_t pc);  /* in a registered GORT_NOSPLIT function? */
/* preempt_frames.c: rebuild the table of loaded code if objects were
 * loaded or unloaded; does frame pointer fp's chain (or the word at sp)
 * hold a return address into unregistered code? */
void gort__codemap_refresh(void);
bool gort__foreign_caller(uintptr_t sp, uintptr_t fp, G *g);
/* The same rebuild, unconditionally: the dlopen/dlclose wrappers
 * (interpose_dl.c) call it before returning. */
void gort__codemap_reload(void);
/* modules.c: dlclose's bracket.  begin withdraws every registered module
 * but the executable (not preemptible while a dlclose may unmap it); end
 * gives back those still loaded and drops the rest.  revalidate drops
 * entries of modules no longer loaded (a dlclose no wrapper saw). */
void gort__modules_close_begin(void);
void gort__modules_close_end(void);
void gort__modules_revalidate(void);

/* --- async preemption internals (preempt.c, signal_linux.c,
 * arch/arch_amd64.c, arch/preempt_amd64.S) -------------------------- */
/* Why a context is not an async safe point (0 = it is). */
enum {
    GORT_PR_SAFE = 0,
    GORT_PR_NO_G,        /* M on g0 / no goroutine, or G not running here */
    GORT_PR_PREEMPT_OFF, /* g->preempt_off > 0 */
    GORT_PR_LOCKS,       /* m->locks > 0 */
    GORT_PR_RUNTIME,     /* pc in the gort runtime */
    GORT_PR_NOSPLIT,     /* pc in a GORT_NOSPLIT function */
    GORT_PR_FOREIGN,     /* pc in libc / ld.so / vDSO / an unregistered object */
    GORT_PR_OFFSTACK,    /* rsp not on the goroutine's stack */
    GORT_PR_NOROOM,      /* not enough stack for the trampoline frame */
    GORT_PR_SIGMASK,     /* more signals blocked than usual (inside a handler?) */
    GORT_PR_CALLBACK,    /* unregistered code's frames below: a callback from libc */
    GORT_PR_INSYSCALL,   /* blocked in a system call no wrapper announced (signal_linux.c) */
    GORT_PR_PTHREADLOCK, /* holds a pthread mutex, rwlock or spinlock (g->plocks) */
    GORT_PR_NREASONS
};
/* Full check used by the signal handler: every condition for injecting a
 * call to gort__asyncpreempt at (pc, sp).  Async-signal-safe, lock-free. */
int gort__preempt_unsafe_code(uintptr_t pc, uintptr_t sp, M *m, G *g);
const char *gort__preempt_reason_str(int code);
/* sysmon: print the "cannot be preempted" report once per request for
 * pp's goroutine if its request is older than gort__cfg.stuck_report_ns. */
void gort__preempt_diag(P *pp, int64_t now);
/* Once, before any signal: XSAVE detection (arch_amd64.c), main
 * executable registration (preempt.c).  Called by gort__signal_init. */
void gort__arch_preempt_init(void);
extern uint64_t gort__xsave_mask; /* XCR0 minus PKRU, 0 without XSAVE (arch_amd64.c) */
void gort__preempt_init(void);
extern size_t gort__asyncpreempt_frame; /* trampoline frame bytes (arch_amd64.c) */
/* Does a signal context block signals the M does not (a program's own
 * handler running on the goroutine's stack)?  Signals 1..64 are the whole
 * kernel mask on x86-64. */
/* rt_sigprocmask on the kernel's 64-bit mask word (signal_linux.c):
 * no libc filtering, errno untouched on success. */
int gort__kmask(int how, uint64_t set, uint64_t *old);
/* Put every handler installed so far without SA_ONSTACK on the alternate
 * stack, as the wrappers do from now on (interpose_signal.c). */
void gort__signal_onstack_fixup(void);
static inline uint64_t gort__sigmask_word(const sigset_t *s)
{
    uint64_t w;
    __builtin_memcpy(&w, s, sizeof w);
    return w;
}
#define GORT_SIGBIT(s) (1ull << ((s) - 1))
static inline bool gort__ctx_masks_more(const M *m, const ucontext_t *uc)
{
    /* Against the running goroutine's own mask (threadstate.c), not the
     * M's base: a goroutine that blocked signals is still preemptible. */
    return (gort__sigmask_word(&uc->uc_sigmask) & ~m->ts_sigmask_applied) != 0;
}
/* --- split-stack mode (morestack.c, arch/morestack_amd64.S, arch/splitstack_amd64.c) ------
 * The guard word %fs:0x70 holds stack_lo + GORT_STACK_GUARD while a
 * goroutine runs.  Below the guard: up to GORT_STACK_SMALL bytes that a
 * small-frame function may use before it calls anything (the compilers
 * check only rsp itself for frames under 256 bytes), a chain of nosplit
 * functions of up to GORT_NOSPLIT_LIMIT bytes (the window gort-nosplit
 * proves, return addresses included), and the rest for __morestack's own
 * frame and the switch to g0.  Code without checks (libc, the runtime) is
 * entered only with gort__nonsplit_room bytes free below the frame
 * (__morestack_non_split): GORTSTACKSIZE/16, at least 1 KiB, at most
 * GORT_NONSPLIT_ROOM, the adjustment gold is told to make and lld makes.
 * Deeper code without checks is caught by the guard page, as in the
 * default build.
 * GORT_STACK_POISON, above every stack pointer, makes the next checked
 * prologue fail: a preemption request (Go's stackPreempt). */
#define GORT_STACK_GUARD 4096
#define GORT_STACK_SMALL 256
#define GORT_NOSPLIT_LIMIT 2048
#define GORT_NONSPLIT_ROOM 0x4000
#define GORT_STACK_POISON ((uintptr_t)0xfffffffffffffadeull)
/* A VLA allocated by __morestack_allocate_stack_space leaves this much
 * below it for the caller's outgoing stack arguments (morestack_amd64.S). */
#define GORT_VLA_SLACK 256
/* A request poisons first; the signal follows only if the goroutine has
 * not stopped at a prologue within this long (call-free loops).  Wall
 * time: waiting for the target's CPU time instead (clock_gettime on its
 * thread's clock, /proc for blocked threads) kept more stops at the
 * prologue on a loaded machine, but its extra system calls in the
 * stopper's loop made the stop-the-world tail 10-20x worse on an idle
 * one (p99 1.7-2.9 ms against 45-150 us, bench/stop_fib.c). */
#define GORT_SYNCPREEMPT_WAIT_NS 10000
extern bool gort__splitstack;            /* the program links gort's __morestack */
extern uintptr_t gort__nonsplit_room;    /* see above; set once at init */
void gort__splitstack_init(void);        /* once, at schedinit */
void gort__splitstack_minit(M *m);       /* on each M's thread as it starts */
void gort__arch_splitstack_init(void);   /* linker canary, vector state (arch) */
uintptr_t *gort__arch_tcb_stackguard(void); /* this thread's guard word */
void gort__splitcheck_callee(volatile char *p);
/* Split-stack mode: is pc (any return address) the `ret` right after a
 * prologue's call to __morestack(_non_split)?  Such a return address is
 * in the frame __morestack_non_split builds to call the function's body;
 * the function's caller's is one word above it (morestack.c). */
bool gort__prologue_return(uintptr_t pc);
/* proc.c: park the goroutine at a prologue (fr: morestack_amd64.S's
 * frame, for the errno fix-up); returns when it is resumed. */
void gort__morestack_park(uintptr_t *fr);
/* proc.c: switch to g0 and run fn there; it must not return. */
GORT_NORETURN void gort__mcall_fatal(void (*fn)(G *));
static inline void gort__setguard(M *m, G *g)
{
    if (__builtin_expect(m->stackguard != NULL, 0))
        __atomic_store_n(m->stackguard, g->stack_lo + GORT_STACK_GUARD, __ATOMIC_RELAXED);
}
/* Poison m's guard word, so that whatever goroutine m runs enters
 * __morestack at its next checked call (a request to stop, or to take a
 * P back); false when the mode is off or GORTDEBUG=prologuepreemptoff=1
 * leaves requests to the signal alone. */
static inline bool gort__poison_guard(M *m)
{
    uintptr_t *word = gort__cfg.prologuepreemptoff ? NULL : m->stackguard;
    if (word)
        __atomic_store_n(word, GORT_STACK_POISON, __ATOMIC_RELEASE);
    return word != NULL;
}
/* --- end split-stack mode --- */

/* Stack the handler insists on below the trampoline frame, for
 * gort__asyncpreempt2 and what it calls before switching to g0. */
#define GORT_ASYNCPREEMPT_MARGIN 4096
/* --- end async preemption internals --- */

/* ---------------------------------------------------------------------
 * Traceback (traceback.c) and crash reports (panic.c)
 * ------------------------------------------------------------------- */
/* Report output: formatted into buf, written to fd a 4 KiB buffer at a
 * time, so a dump of a million goroutines streams in constant memory.
 * Lives on the reporter's stack; owned by that one thread. */
typedef struct gort__tbout {
    int fd;
    int err;          /* first write error (errno), 0 if none: later output is dropped */
    size_t n;         /* bytes of buf not yet written */
    char buf[4096];
} gort__tbout;
#define GORT_TB_MAX_FRAMES 64 /* frames printed per goroutine */
void gort__tb_init(gort__tbout *o, int fd);
void gort__tb_flush(gort__tbout *o);
__attribute__((format(printf, 2, 3))) void gort__tb_printf(gort__tbout *o, const char *fmt, ...);
void gort__tb_reset(void); /* forget cached frame names (a new report, maybe new modules) */
/* "goroutine N [state]:" for g, whose status is st; running_here: it is
 * the caller's own goroutine. */
void gort__tb_header(gort__tbout *o, G *g, uint32_t st, bool running_here);
void gort__tb_trailer(gort__tbout *o, G *g); /* "created by ..." */
/* One frame at pc (a return address if return_address); false if it was
 * a hidden runtime frame (system: show those too). */
bool gort__tb_frame(gort__tbout *o, uintptr_t pc, bool return_address, bool system);
/* The frames of an interrupted context: pc, then ra (a return address
 * the chain lacks; 0: none), then the chain from fp. */
void gort__tb_ctx(gort__tbout *o, uintptr_t pc, uintptr_t ra, uintptr_t fp, G *g, bool system);
/* The caller's own goroutine (or thread), walked from here. */
void gort__tb_self(gort__tbout *o, G *cur, bool system);
/* Every goroutine but skip (self: the caller's, marked as such); how many
 * were printed. */
int gort__tb_others(gort__tbout *o, G *skip, G *self, bool system);
void gort__traceback_here(int fd);           /* current stack via frame pointers */
void gort__traceback_g(int fd, G *g);        /* a parked G's stack */
void gort__dump_goroutines(int fd);          /* every goroutine (deadlock) */
/* Every live goroutine except `skip` (the caller's own is walked from
 * the call); returns how many were printed. */
int gort__dump_others(int fd, G *skip);
/* Frames of an interrupted context (a signal handler's ucontext): pc
 * itself, ra unless 0 (as gort__tb_ctx), then the frame-pointer chain
 * from fp, reads bounded by g's stack when fp lies on it, probed
 * otherwise. */
void gort__traceback_ctx(int fd, uintptr_t pc, uintptr_t ra, uintptr_t fp, G *g);
/* One report per process: whoever prints a fatal error, a fatal signal's
 * report or the SIGQUIT dump claims it first.  1: this thread is the
 * reporter now; 0: another thread is (print one line, let it finish);
 * -1: this thread already was (a fault while printing). */
int gort__fatal_claim(void);
/* SIGQUIT (sigquit_linux.c's handler): print the report for the context
 * interrupted at pc/sp/fp and every goroutine, then exit 2 (or abort at
 * GORTTRACEBACK=crash).  Returns only if a report is already under way. */
void gort__sigquit_report(uintptr_t pc, uintptr_t sp, uintptr_t fp, int code);
void gort__sigquit_init(void);               /* install it (sigquit_linux.c) */
/* Whole minutes between since and now, 0 if since is 0 (never parked). */
int64_t gort__wait_minutes(int64_t since, int64_t now);

/* Symbols (symtab.c): the module and function containing `lookup`;
 * false if no module maps it.  name is NULL when unknown, and may point to
 * a thread-local buffer valid until the next lookup on this thread. */
typedef struct gort__sym {
    const char *name;
    uintptr_t start;      /* function start (if name) */
    const char *module;   /* path, "?" if unknown */
    uintptr_t fbase;      /* module load address (if found) */
} gort__sym;
bool gort__symtab_lookup(uintptr_t lookup, gort__sym *out);
/* Call fn for every function symbol of the module containing pc (its
 * file's .symtab, else .dynsym), with run-time bounds [lo, hi) (empty for
 * a symbol without a size) and whether it is internal to the module
 * (static, or hidden).  For scans at start (sanitizer_linux.c): maps the
 * file privately, does not use the cache.  False if the module or its
 * table was not found. */
bool gort__symtab_each_func(uintptr_t pc,
                            void (*fn)(const char *name, uintptr_t lo, uintptr_t hi,
                                       bool internal, void *arg),
                            void *arg);
/* Describe pc as "func+0xoff (module)" into buf. */
void gort__symbolize(uintptr_t pc, char *buf, size_t n);
/* Same, naming the function containing `lookup` (pc - 1 for a return address). */
void gort__symbolize_at(uintptr_t pc, uintptr_t lookup, char *buf, size_t n);

/* File:line (dwarf.c, libdw loaded with dlopen).  Open the session: only
 * where allocating and taking the loader lock is safe (see dwarf.c). */
void gort__dwarf_open(void);
bool gort__dwarf_available(void);
/* Source position of pc into file/line; false if unknown. */
bool gort__dwarf_fileline(uintptr_t pc, char *file, size_t n, int *line);

/* ---------------------------------------------------------------------
 * Misc
 * ------------------------------------------------------------------- */
/* CLOCK_MONOTONIC in ns (clock.c): gort_nanotime without its preemption
 * point, for the runtime, which reads the clock under locks and on g0. */
int64_t gort__nanotime(void);
static inline int64_t gort__now(void) { return gort__nanotime(); }
/* CPU time of thread tid of this process, ns; -1 if it is gone (clock.c). */
int64_t gort__thread_cpu_ns(pid_t tid);
/* A small /proc file into buf (n bytes, NUL-terminated) by raw system
 * calls: its length, or -1 (procfs_linux.c). */
ssize_t gort__procfs_read(const char *path, char *buf, size_t n);
uint32_t gort__fastrand(void);               /* per-M xorshift; any thread */
static inline uint32_t gort__fastrandn(uint32_t n)
{
    return (uint32_t)(((uint64_t)gort__fastrand() * n) >> 32);
}
/* Write to stderr without stdio (usable with locks held / in handlers),
 * and the same to any fd (print.c). */
void gort__print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gort__vfdprint(int fd, const char *fmt, va_list ap);

/* Runtime statistics counters not in P */
#define GORT_CACHELINE 64

/* fork (fork_linux.c): set in the child of a fork() made after gort_main
 * started, where the runtime's other threads do not exist: the few places
 * that would switch, wait for a thread, start one or wake a goroutine
 * test it and end in gort__forked_fatal(what). */
extern _Atomic bool gort__forked;
/* For the life of a vfork() child: the id of the thread that called vfork,
 * in the TLS the child shares with it (fork_linux.c, arch/vfork_amd64.S);
 * 0 otherwise.  The child, whose id differs, is a vfork child: the libc
 * wrappers pass its calls straight through, and it counts as a fork child
 * below.  (Set and its own on the parent's thread while the call is under
 * way, where a signal handler may run.) */
extern __thread int gort__vfork_tid __attribute__((tls_model("initial-exec")));
bool gort__vfork_child_slow(void) GORT_NOINLINE_COLD;
void gort__fork_init(void);
GORT_NORETURN GORT_NOINLINE_COLD void gort__forked_fatal(const char *what);
static inline bool gort__in_vfork_child(void)
{
    return unlikely(gort__vfork_tid != 0) && gort__vfork_child_slow();
}
static inline bool gort__in_forked_child(void)
{
    return unlikely(atomic_load_explicit(&gort__forked, memory_order_relaxed)) ||
           gort__in_vfork_child();
}

/* ---------------------------------------------------------------------
 * Semaphores (sema.c) — address-keyed semaphores and the cond notify list.
 * ------------------------------------------------------------------- */
/* Wait until *addr > 0, then decrement it.  lifo: queue at the front of
 * addr's waiters (a mutex waiter that already slept once).  reason is the
 * wait reason shown in tracebacks. */
void gort__semacquire(uint32_t *addr, bool lifo, const char *reason);
/* Increment *addr and wake one waiter if any.  handoff: give the unit to
 * the woken waiter directly and yield to it (starving mutex). */
void gort__semrelease(uint32_t *addr, bool handoff);
/* Add n to *addr and wake up to n of its waiters, taking the root's lock
 * once (RWMutex.Unlock letting in the readers that queued). */
void gort__semrelease_n(uint32_t *addr, uint32_t n);
/* Active spinning for the sync types (sync.c), Go's sync_runtime_canSpin
 * and procyield: whether spin round `iter` (from 0) is worth it now (more
 * than one CPU, another P running, few rounds so far), and one round of
 * pauses.  A waiter that spins instead of parking saves a park, a wake and
 * often a steal when the event it waits for is a few hundred ns away. */
bool gort__sync_can_spin(int iter);
void gort__sync_spin(void);
/* gort_mutex_lock without the active spin (rwmutex.c's writer lock, whose
 * holder keeps it while it waits for readers: sync.c). */
void gort__mutex_lock_nospin(gort_mutex *m);
/* gort_rwmutex's read bias (rwmutex_bias.c).  claim: take a read lock
 * in the calling P's slot; false: use `readers` (no P, slot taken, or a
 * writer revoking).  revoke (the writer, holding w): bias off, every slot
 * holding rw moved into `readers`.  restore (holding w): bias back on,
 * unless the program has one P. */
#define GORT_RW_MAX_READERS (1 << 30) /* a writer's mark in `readers` */
bool gort__rwbias_claim(gort_rwmutex *rw);
void gort__rwbias_revoke(gort_rwmutex *rw);
void gort__rwbias_restore(gort_rwmutex *rw);
/* The calling M now holds P pid: its readers' column (acquirep); -1:
 * the thread is no longer an M. */
void gort__rwbias_setp(int32_t pid);
/* gort_cond's notify list: take a ticket (with the user mutex held), then
 * wait for it (mutex released); notify wakes the oldest ticket / all. */
uint32_t gort__notifylist_add(gort_cond *c);
void gort__notifylist_wait(gort_cond *c, uint32_t ticket);
void gort__notifylist_notify_one(gort_cond *c);
void gort__notifylist_notify_all(gort_cond *c);

#endif /* GORT_RUNTIME_H */
