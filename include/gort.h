/*
 * gort.h — the whole public API of gort: Go's runtime concurrency model
 * (goroutines on an M:N scheduler, channels, select, timers, sync, and
 * asynchronous loop preemption) for C.
 *
 * Conventions.  Calls that can fail return an errno value, or NULL/-1 with
 * errno set.  Misuse that Go treats as a panic (send on a closed channel,
 * unlock of an unlocked mutex, a negative WaitGroup counter, ...) stops the
 * program with "gort: fatal error: <what>" and a goroutine traceback.
 * Blocking calls work on goroutines (they park the goroutine) and on plain
 * threads that are not goroutines (they block that thread), so threaded C
 * code can talk to goroutines.
 *
 * Goroutines may move between OS threads at every gort call and, with
 * asynchronous preemption, at any instruction of preemptible code: do not
 * keep the address of a __thread variable across either.  errno and the
 * signal mask are the goroutine's own, not the thread's (see "Thread-bound
 * state" below).
 */
#ifndef GORT_H
#define GORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t, and glibc's __socklen_t */
#if !defined(GORT_BUILDING_RUNTIME) && !defined(GORT_NO_ERRNO_ROUTE)
#include <errno.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GORT_API
#define GORT_API __attribute__((visibility("default")))
#endif

/* ======================================================================
 * Runtime
 * ====================================================================== */

/* Start the runtime and run fn(arg) as goroutine 1.  Returns 0 when fn
 * returns, or an errno value if the runtime could not start (EBUSY if
 * called twice).
 *
 * As when Go's main returns, no goroutine code runs after gort_main has
 * returned: before returning it stops every other goroutine where it is.
 * One that is parked (channel, sleep, lock...), about to run, or running
 * its own code is stopped at once; one blocked in a system call (read(),
 * sleep()...) is frozen inside it and the call never completes.  One
 * running inside libc (or another object that did not include gort.h), in
 * a gort_preempt_disable section or a GORT_NOSPLIT function is waited for
 * until it leaves it, so gort_main waits as long as that takes: libc's own
 * locks are never left held.  The stopped goroutines' threads stay, idle;
 * whatever the goroutines held (memory, a pthread mutex, a file
 * descriptor) stays as it was.  Threads that are not goroutines are left
 * alone: one blocked in a gort call stays blocked unless another such
 * thread wakes it.  A goroutine that blocks SIGURG is stopped only at its
 * next gort call.  A goroutine returning with the world stopped
 * (gort_stop_the_world) is a fatal error. */
GORT_API int gort_main(void (*fn)(void *), void *arg);

/* gort_main, but goroutine 1 runs on the calling thread (the process's
 * main thread, when called from main), locked to it for its whole life:
 * for GUI toolkits and other libraries that must be called from the main
 * thread.  The thread runs no other goroutine; while goroutine 1 is
 * parked it sleeps.  gort_unlock_thread cannot undo this lock.  Same
 * return values and exit as gort_main; the caller's alternate signal
 * stack is restored before it returns. */
GORT_API int gort_main_thread(void (*fn)(void *), void *arg);

/* Start a goroutine running fn(arg): 0, or ENOMEM/EAGAIN.  From a
 * goroutine, the new one gets its stack when it first runs (until then
 * it is a small record in a run queue); a stack that cannot be mapped
 * then is a fatal error, as Go's runtime treats a stack it cannot grow.
 * GORTDEBUG=lazystacks=0 gives it its stack here instead. */
GORT_API int gort_go(void (*fn)(void *), void *arg);

/* Let other goroutines run (runtime.Gosched). */
GORT_API void gort_yield(void);

/* Sleep for ns nanoseconds; <= 0 returns at once, like time.Sleep(0). */
GORT_API void gort_sleep(int64_t ns);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC).  On a goroutine it is
 * also a preemption point, as a call is in Go: a loop that waits on the
 * clock yields the P at the end of its time slice (outside
 * gort_preempt_disable sections; never from a signal handler). */
GORT_API int64_t gort_nanotime(void);

/* Id of the calling goroutine; 0 on threads that are not goroutines. */
GORT_API uint64_t gort_self(void);

/* Like runtime.GOMAXPROCS: n <= 0 only asks; returns the previous value.
 * Resizing stops the world. */
GORT_API int gort_maxprocs(int n);

/* Goroutines that exist now (started and not yet returned). */
GORT_API int gort_num_goroutine(void);

typedef struct gort_stats {
    uint64_t goroutines;       /* live goroutines */
    uint64_t threads;          /* Ms (scheduler threads) created, less those that ended
                                  with a goroutine locked to them */
    uint64_t procs;            /* Ps (GORTMAXPROCS) */
    uint64_t async_preempts;   /* goroutines stopped by the preemption signal */
    uint64_t sync_preempts;    /* goroutines stopped at a runtime call by a pending request */
    uint64_t context_switches; /* goroutine switches on all Ps */
    uint64_t steals;           /* successful work steals */
    uint64_t preempt_requests; /* preemption requests made (sysmon, STW) */
    uint64_t signals_sent;     /* preemption signals sent */
    uint64_t stw_count;        /* stop-the-world operations */
    uint64_t spawned;          /* goroutines created since start */
    uint64_t syscalls;         /* system / foreign calls entered by goroutines */
    uint64_t handoffs;         /* Ps handed to another thread during such a call */
    uint64_t in_syscall;       /* goroutines inside such a call now */
    uint64_t io_wait;          /* goroutines and threads parked on the netpoller now */
    uint64_t prologue_preempts;/* split-stack mode: goroutines stopped at a function's
                                  stack check by a pending request (no signal) */
    uint64_t lock_sleeps;      /* waits on the runtime's internal locks (a channel's,
                                  the scheduler's) that outlasted ~20 us of spinning
                                  and slept: contention, or a holder off its CPU */
    uint64_t io_batches;       /* io_uring_enter calls that made goroutines' queued
                                  socket reads and writes (0 with GORTDEBUG=iobatch=0) */
    uint64_t io_batched;       /* ... and the reads and writes they made */
} gort_stats;

GORT_API void gort_read_stats(gort_stats *s);

/* ======================================================================
 * Channels
 * elem_size 0 is allowed (a chan struct{}).  elem pointers may be NULL
 * when elem_size is 0, or on receive when the value is not wanted.
 * ====================================================================== */

typedef struct gort_chan gort_chan;

/* NULL with errno set on failure: ENOMEM, or EINVAL when elem_size or cap
 * exceeds UINT32_MAX or the buffer's size overflows. */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);
GORT_API void gort_chan_send(gort_chan *c, const void *elem);
/* false once closed and drained (elem is then zeroed). */
GORT_API bool gort_chan_recv(gort_chan *c, void *elem);
GORT_API void gort_chan_close(gort_chan *c);
/* Free a channel no goroutine uses any more.  NULL is ignored. */
GORT_API void gort_chan_free(gort_chan *c);
/* Elements buffered, and the capacity (0 for NULL).  The channel of a
 * timer, a ticker or gort_after has capacity 1 and length 1 while a
 * fired value waits; Go 1.23 reports 0 for both (its timer channels act
 * as unbuffered ones, as gort's do for stop and reset). */
GORT_API size_t gort_chan_len(const gort_chan *c);
GORT_API size_t gort_chan_cap(const gort_chan *c);

/* Non-blocking forms (Go's select with a default case): true if done. */
GORT_API bool gort_chan_trysend(gort_chan *c, const void *elem);
GORT_API bool gort_chan_tryrecv(gort_chan *c, void *elem, bool *ok);

/* ======================================================================
 * Select
 * ====================================================================== */

enum { GORT_SEND = 1, GORT_RECV = 2 };

typedef struct gort_case {
    gort_chan *chan; /* NULL: the case never fires */
    int op;          /* GORT_SEND or GORT_RECV */
    void *elem;      /* value to send / where to receive (may be NULL) */
    bool ok;         /* for a receive that fired: false if the channel was closed */
} gort_case;

/* Index of the case that fired (uniformly random among ready ones); -1 on
 * timeout.  timeout 0 = don't block (Go's default:), < 0 = wait forever. */
GORT_API int gort_select(gort_case *cases, size_t n, int64_t timeout_ns);

/* ======================================================================
 * Timers
 * ====================================================================== */

/* A channel of int64_t that receives the gort_nanotime() of expiry once,
 * after ns nanoseconds (time.After).  Receive only: closing it is a fatal
 * error.  The caller frees it with gort_chan_free once it is no longer
 * used by any goroutine: C has no collector, so one never freed stays
 * allocated (about 200 bytes).  For a timeout in a loop use gort_select's
 * timeout (no allocation) or one gort_timer reset each time round. */
GORT_API gort_chan *gort_after(int64_t ns);

/* Timers and tickers (Go's time.Timer and time.Ticker, Go 1.23 semantics).
 * Their channel carries int64_t values (the gort_nanotime() of firing),
 * belongs to the timer and is freed with it: never close or free it.
 * After gort_timer_stop, gort_timer_reset, gort_ticker_stop or
 * gort_ticker_reset returns, no value prepared before the call can be
 * received (Go 1.23's unbuffered timer channels).  The calls may be made
 * from any goroutine or thread, concurrently.  The timers live on the
 * scheduler's per-P heaps: no thread and no goroutine per timer. */
typedef struct gort_timer gort_timer;
typedef struct gort_ticker gort_ticker;

/* A timer that sends once on its channel after ns nanoseconds
 * (time.NewTimer).  NULL with errno ENOMEM. */
GORT_API gort_timer *gort_timer_new(int64_t ns);
/* The timer's channel; NULL for a gort_after_func timer. */
GORT_API gort_chan *gort_timer_chan(gort_timer *t);
/* Stop the timer: true if it had not fired yet, or had fired but its
 * value was not received (the value is discarded); false if it had
 * already been stopped or its value received.  For an after-func timer:
 * true if the call stopped the function from being started. */
GORT_API bool gort_timer_stop(gort_timer *t);
/* Stop it (as gort_timer_stop, whose result it returns) and arm it again
 * to fire ns nanoseconds from now. */
GORT_API bool gort_timer_reset(gort_timer *t, int64_t ns);
/* Stop and free a channel timer; nothing may use it or its channel
 * afterwards.  An after-func timer is only released: a pending function
 * still runs (as when a Go program drops its *Timer); stop it first to
 * cancel it.  NULL is ignored. */
GORT_API void gort_timer_free(gort_timer *t);

/* Run fn(arg) in its own goroutine after ns nanoseconds (time.AfterFunc).
 * The returned timer (owned by the caller, released with gort_timer_free)
 * can stop or reset it; each firing starts one goroutine.  NULL with errno
 * ENOMEM. */
GORT_API gort_timer *gort_after_func(int64_t ns, void (*fn)(void *), void *arg);

/* A ticker that sends on its channel every period ns (time.NewTicker;
 * period <= 0 is a fatal error).  A receiver slower than the ticks finds
 * one value waiting and the others dropped, as in Go.  NULL with errno
 * ENOMEM. */
GORT_API gort_ticker *gort_ticker_new(int64_t period);
GORT_API gort_chan *gort_ticker_chan(gort_ticker *k);
/* Stop: no more ticks, and a tick not yet received is discarded. */
GORT_API void gort_ticker_stop(gort_ticker *k);
/* Stop, then tick every period ns from now. */
GORT_API void gort_ticker_reset(gort_ticker *k, int64_t period);
/* Stop and free; nothing may use it or its channel afterwards. */
GORT_API void gort_ticker_free(gort_ticker *k);

/* ======================================================================
 * Sync — a zeroed object is ready to use; none may be copied once used.
 * ====================================================================== */

typedef struct gort_mutex {
    int32_t state;  /* locked | woken | starving | waiter count << 3 */
    uint32_t sema;  /* handoff semaphore */
} gort_mutex;
#define GORT_MUTEX_INIT {0, 0}

GORT_API void gort_mutex_lock(gort_mutex *m);
GORT_API void gort_mutex_unlock(gort_mutex *m);
GORT_API bool gort_mutex_trylock(gort_mutex *m);

typedef struct gort_waitgroup {
    uint64_t state; /* counter << 32 | waiters */
    uint32_t sema;
} gort_waitgroup;
#define GORT_WAITGROUP_INIT {0, 0}

GORT_API void gort_wg_add(gort_waitgroup *wg, int delta);
GORT_API void gort_wg_done(gort_waitgroup *wg);
GORT_API void gort_wg_wait(gort_waitgroup *wg);

typedef struct gort_once {
    uint32_t done;
    gort_mutex m;
} gort_once;
#define GORT_ONCE_INIT {0, GORT_MUTEX_INIT}

GORT_API void gort_once_do(gort_once *o, void (*fn)(void *), void *arg);

typedef struct gort_cond {
    uint32_t wait;   /* next ticket to hand a waiter */
    uint32_t notify; /* next ticket to wake */
    uint32_t lock;   /* runtime lock guarding the list */
    uint32_t pad_;
    void *head, *tail; /* waiters, in ticket order */
} gort_cond;
#define GORT_COND_INIT {0, 0, 0, 0, 0, 0}

GORT_API void gort_cond_wait(gort_cond *c, gort_mutex *m);
GORT_API void gort_cond_signal(gort_cond *c);
GORT_API void gort_cond_broadcast(gort_cond *c);

/* Reader/writer mutex (sync.RWMutex): any number of readers or one
 * writer.  Writer-preferring: once a writer waits in gort_rwmutex_lock, new
 * readers wait until it has had the lock, so a stream of readers cannot
 * starve it; hence a goroutine must not take the read lock again while it
 * holds it (a writer queued in between deadlocks both, as in Go).  Either
 * side may be released by another goroutine or thread than the one that
 * took it.  Unlock or runlock of an unlocked rwmutex is a fatal error. */
typedef struct gort_rwmutex {
    gort_mutex w;         /* held by the writer, pending or active */
    uint32_t writer_sema; /* the writer waits here for departing readers */
    uint32_t reader_sema; /* readers wait here for the writer */
    int32_t readers;      /* readers in or waiting; minus 1<<30 while a writer is */
    int32_t departing;    /* readers the pending writer still waits for */
    uint32_t bias;        /* 0: readers use per-P slots (src/rwmutex_bias.c);
                             else GORT_RW_NOBIAS_, maybe | GORT_RW_REVOKING_ */
    uint32_t pad_;
} gort_rwmutex;
#define GORT_RWMUTEX_INIT {GORT_MUTEX_INIT, 0, 0, 0, 0, 0, 0}
/* Values of `bias` other than 0, for the inline read side below. */
#define GORT_RW_NOBIAS_ 1u   /* readers use `readers` */
#define GORT_RW_REVOKING_ 2u /* a writer is moving slots into `readers` */

GORT_API void gort_rwmutex_rlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);
GORT_API bool gort_rwmutex_tryrlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_lock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);
GORT_API bool gort_rwmutex_trylock(gort_rwmutex *rw);

/* For the inline read side below; not for direct use. */
GORT_API void gort_rwmutex_rlock_slow_(gort_rwmutex *rw);
GORT_API void gort_rwmutex_runlock_slow_(gort_rwmutex *rw, int32_t r);
GORT_API void gort_rwmutex_rlock_bias_(gort_rwmutex *rw);
GORT_API void gort_rwmutex_runlock_bias_(gort_rwmutex *rw);

#if !defined(GORT_BUILDING_RUNTIME) && defined(__GNUC__)
/* The read side's fast paths are compiled into the caller, as Go's
 * compiler inlines RLock and RUnlock.  While the lock is biased (no
 * writer holds it; with one P, only until a writer's first unlock) a read
 * goes to the library, which records it in the calling P's own slot;
 * otherwise it is one atomic add on `readers`, done here: with that line
 * contended by two cores, a call and return between the two adds gives
 * the other core time to take the line away in between (read-mostly
 * benchmark: about a fifth less CPU per operation inlined).  gnu_inline:
 * these definitions are only for inlining; the library's functions of the
 * same names stay for function pointers and other languages. */
extern __inline__ __attribute__((gnu_inline, always_inline)) void
gort_rwmutex_rlock(gort_rwmutex *rw)
{
    if (__atomic_load_n(&rw->bias, __ATOMIC_RELAXED) == 0)
        gort_rwmutex_rlock_bias_(rw);
    else if (__builtin_expect(__atomic_add_fetch(&rw->readers, 1, __ATOMIC_ACQ_REL) < 0, 0))
        gort_rwmutex_rlock_slow_(rw); /* a writer is pending or active */
}

extern __inline__ __attribute__((gnu_inline, always_inline)) void
gort_rwmutex_runlock(gort_rwmutex *rw)
{
    /* Only with the bias fully off can no slot hold this read lock. */
    if (__atomic_load_n(&rw->bias, __ATOMIC_ACQUIRE) != GORT_RW_NOBIAS_) {
        gort_rwmutex_runlock_bias_(rw);
    } else {
        int32_t r = __atomic_sub_fetch(&rw->readers, 1, __ATOMIC_ACQ_REL);
        if (__builtin_expect(r < 0, 0))
            gort_rwmutex_runlock_slow_(rw, r); /* a writer waits, or misuse */
    }
}
#endif

/* ======================================================================
 * Weighted semaphore (golang.org/x/sync/semaphore)
 * A pool of `size` units; acquire takes n at once and waits, first come
 * first served, until they are free: a large request is never overtaken
 * by smaller ones that arrive after it (so a waiting request of n also
 * holds back a smaller one that would fit now).  Not ready when zeroed:
 * give it a size with GORT_SEMAPHORE_INIT(size) or gort_semaphore_init.
 * Goroutines park; plain threads block.  Weights are >= 0; a negative one,
 * and releasing more units than are held, are fatal errors.
 * ====================================================================== */

typedef struct gort_semaphore {
    int64_t size;      /* units in all (fixed) */
    int64_t cur;       /* units held now; guarded by lock */
    uint32_t lock;     /* runtime lock guarding cur and the queue */
    uint32_t pad_;
    void *head, *tail; /* waiters, FIFO */
} gort_semaphore;
#define GORT_SEMAPHORE_INIT(size) {(size), 0, 0, 0, 0, 0}

/* Set up s with `size` units (>= 0), none held. */
GORT_API void gort_semaphore_init(gort_semaphore *s, int64_t size);
/* Take n units, waiting as long as needed.  n > size can never be
 * satisfied: that is a fatal error here (Go's Acquire would wait for its
 * context, forever with context.Background()). */
GORT_API void gort_semaphore_acquire(gort_semaphore *s, int64_t n);
/* Take n units, waiting until the absolute gort_nanotime() deadline at
 * most (-1: no deadline).  0, or ETIMEDOUT once past the deadline with
 * nothing taken; a request of more than size waits for the deadline (with
 * none, it is the fatal error above). */
GORT_API int gort_semaphore_acquire_until(gort_semaphore *s, int64_t n, int64_t deadline);
/* Take n units, waiting until they are granted or ctx is cancelled
 * (x/sync's Acquire(ctx, n)): 0, or ctx's err (ECANCELED, ETIMEDOUT) with
 * nothing taken.  A ctx already cancelled fails even if the units are
 * free; a request of more than size waits for the cancellation (with
 * gort_ctx_background(), that is the fatal error above). */
struct gort_ctx;
GORT_API int gort_semaphore_acquire_ctx(gort_semaphore *s, int64_t n, struct gort_ctx *ctx);
/* Take n units only if that needs no wait and nobody waits: true if so. */
GORT_API bool gort_semaphore_tryacquire(gort_semaphore *s, int64_t n);
/* Give back n units, waking the waiters at the head of the queue that now
 * fit, in order. */
GORT_API void gort_semaphore_release(gort_semaphore *s, int64_t n);

/* ======================================================================
 * Contexts (Go's context package)
 * A context carries a cancellation signal and maybe a deadline down a tree
 * of calls and goroutines.  Cancelling one (gort_ctx_cancel, its deadline,
 * or its parent's cancellation) closes its done channel, sets its err and
 * cancels all its descendants, once; later cancels do nothing.
 *
 * Errors are errno values: err is ECANCELED (Go's context.Canceled) or
 * ETIMEDOUT (context.DeadlineExceeded); a cause is any non-zero int the
 * program passes to gort_ctx_cancel_cause (else it is err).
 *
 * Lifetimes.  gort_ctx_with_* return a context holding one reference, the
 * caller's.  When the work is done the creator calls gort_ctx_cancel (Go's
 * `defer cancel()`: it unlinks the context from its parent and stops its
 * timer) and gort_ctx_release.  A goroutine that may outlive the creator's
 * reference takes its own with gort_ctx_retain and drops it with
 * gort_ctx_release.  A context frees itself at its last release; a child
 * holds a reference on its parent.  gort_ctx_background() is never
 * cancelled nor freed (retain and release ignore it).
 * All calls work from goroutines and from plain threads.  A cancel
 * recurses once per level below the context (under 100 bytes of stack
 * each): chains thousands of contexts deep need a larger GORTSTACKSIZE.
 * ====================================================================== */

typedef struct gort_ctx gort_ctx;

/* The root: never cancelled, no deadline, done channel NULL. */
GORT_API gort_ctx *gort_ctx_background(void);
/* A child cancelled by gort_ctx_cancel or with its parent (WithCancel).
 * NULL with errno ENOMEM. */
GORT_API gort_ctx *gort_ctx_with_cancel(gort_ctx *parent);
/* A child also cancelled (err ETIMEDOUT) at the absolute gort_nanotime()
 * `deadline`, or at the parent's if earlier (WithDeadline). */
GORT_API gort_ctx *gort_ctx_with_deadline(gort_ctx *parent, int64_t deadline);
/* gort_ctx_with_deadline(parent, now + ns) (WithTimeout). */
GORT_API gort_ctx *gort_ctx_with_timeout(gort_ctx *parent, int64_t ns);
/* Cancel with err ECANCELED (and cause `cause`, or ECANCELED if 0). */
GORT_API void gort_ctx_cancel(gort_ctx *c);
GORT_API void gort_ctx_cancel_cause(gort_ctx *c, int cause);
GORT_API gort_ctx *gort_ctx_retain(gort_ctx *c);
/* Drop one reference; NULL is ignored. */
GORT_API void gort_ctx_release(gort_ctx *c);
/* A channel (element size 0) closed when c is cancelled, for gort_select
 * and gort_chan_recv; owned by c.  NULL (never ready) for background. */
GORT_API gort_chan *gort_ctx_done(gort_ctx *c);
/* 0 while not cancelled, else ECANCELED or ETIMEDOUT. */
GORT_API int gort_ctx_err(gort_ctx *c);
/* 0 while not cancelled, else the cause (context.Cause). */
GORT_API int gort_ctx_cause(gort_ctx *c);
/* The absolute deadline, -1 if none. */
GORT_API int64_t gort_ctx_deadline(gort_ctx *c);

/* Run fn(arg) in its own goroutine once c is cancelled (at once if it
 * already is) — context.AfterFunc.  The returned handle (a context the
 * caller releases) stops it: gort_ctx_after_func_stop returns true if that
 * prevented fn from starting, false if fn was started or stopped before.
 * The general way to make any blocking call cancellable. */
GORT_API gort_ctx *gort_ctx_after_func(gort_ctx *c, void (*fn)(void *), void *arg);
GORT_API bool gort_ctx_after_func_stop(gort_ctx *h);

/* Blocking calls that return promptly once c is cancelled, with its err.
 * gort_ctx_sleep: 0 after ns, or err.  gort_ctx_recv / gort_ctx_send: 0
 * when the operation was done (*ok as gort_chan_recv's result), else err
 * and the operation was not done.  gort_ctx_fd_wait: gort_fd_wait bounded
 * by c (its deadline, its cancellation: err); while it waits a cancel sets
 * fd's deadline for `events` to the past, and afterwards puts back the
 * deadline the program had set (one set by another goroutine meanwhile is
 * overwritten).
 * For other channel operations, put gort_ctx_done(c) in the select. */
GORT_API int gort_ctx_sleep(gort_ctx *c, int64_t ns);
GORT_API int gort_ctx_recv(gort_ctx *c, gort_chan *ch, void *elem, bool *ok);
GORT_API int gort_ctx_send(gort_ctx *c, gort_chan *ch, const void *elem);
GORT_API int gort_ctx_fd_wait(gort_ctx *c, int fd, int events);

/* ======================================================================
 * Error groups (golang.org/x/sync/errgroup)
 * Goroutines working on subtasks of one task: gort_errgroup_wait waits for
 * all of them and returns the first non-zero result; that first error also
 * cancels the group's context (cause: the error).
 * ====================================================================== */

typedef struct gort_errgroup gort_errgroup;

/* A group whose context is a child of parent (errgroup.WithContext), or,
 * for parent NULL, one without (its context is background).  Owned by the
 * caller: gort_errgroup_free after gort_errgroup_wait.  NULL with errno
 * ENOMEM. */
GORT_API gort_errgroup *gort_errgroup_new(gort_ctx *parent);
/* The group's context, owned by the group (retain it to keep it longer).
 * Cancelled at the first error and when gort_errgroup_wait returns. */
GORT_API gort_ctx *gort_errgroup_ctx(gort_errgroup *g);
/* At most n goroutines of the group at once; n < 0: no limit.  Changing it
 * while goroutines of the group run is a fatal error.  0 or ENOMEM. */
GORT_API int gort_errgroup_set_limit(gort_errgroup *g, int n);
/* Start fn(group context, arg) in a goroutine, first waiting while the
 * limit is reached.  fn returns 0 or an error.  0, or ENOMEM/EAGAIN. */
GORT_API int gort_errgroup_go(gort_errgroup *g, int (*fn)(gort_ctx *, void *), void *arg);
/* Start it only if the limit allows now: true if started. */
GORT_API bool gort_errgroup_try_go(gort_errgroup *g, int (*fn)(gort_ctx *, void *), void *arg);
/* Wait for every goroutine of the group; the first error, or 0. */
GORT_API int gort_errgroup_wait(gort_errgroup *g);
/* Free the group (NULL is ignored); none of its goroutines may run. */
GORT_API void gort_errgroup_free(gort_errgroup *g);

/* ======================================================================
 * Preemption
 * A goroutine in a call-free loop is preempted asynchronously by a signal
 * once it has run longer than the time slice (GORTDEBUG=quantum=10ms).
 * ====================================================================== */

/* Go's //go:nosplit: a function that is never preempted (an unsafe point
 * for the signal, and no stack check, so no stop at its prologue either)
 * and, in split-stack mode (-fsplit-stack), has no stack check at all:
 * its stack use and that of the nosplit functions it calls must fit in
 * the window gort-nosplit proves at link time.  It must finish promptly,
 * or it holds its P.  g++ (12) refuses no_split_stack on a definition
 * ("cannot set 'no_split_stack' attribute after definition"), so in C++
 * under g++ GORT_NOSPLIT leaves it out: the function is still never
 * preempted, but in split-stack mode it keeps its stack check.  There a
 * true nosplit function needs the attribute on a declaration before the
 * definition: `__attribute__((no_split_stack)) int f(int);`. */
#if defined(__has_attribute) && !(defined(__cplusplus) && defined(__GNUC__) && !defined(__clang__))
#if __has_attribute(no_split_stack)
#define GORT_NOSPLIT_ATTR_ no_split_stack,
#endif
#endif
#ifndef GORT_NOSPLIT_ATTR_
#define GORT_NOSPLIT_ATTR_
#endif
#define GORT_NOSPLIT __attribute__((GORT_NOSPLIT_ATTR_ section("gort_nosplit"), noinline))

/* Critical sections in which the calling goroutine is not preempted; they
 * nest (Go's m.locks).  Blocking inside one is allowed. */
GORT_API void gort_preempt_disable(void);
GORT_API void gort_preempt_enable(void);

/* Stop every other P (preempting running goroutines at once) and return
 * once they are all stopped; gort_start_the_world resumes them.  Between
 * the two calls the caller is the only goroutine running; it must not
 * block or yield there (that is a fatal error: nothing could wake it).
 * Goroutines inside system calls or gort_blocking calls are not waited
 * for: they run on in the kernel or in their library, and cannot return
 * to goroutine code until the world restarts (Go's semantics). */
GORT_API void gort_stop_the_world(void);
GORT_API void gort_start_the_world(void);

/* The program's own executable is preemptible code.  A shared object is
 * preemptible once registered; every module that includes this header
 * registers itself from a constructor (define GORT_NO_AUTO_REGISTER to opt
 * out).  lo..hi is one executable range; nosplit_lo..hi its GORT_NOSPLIT
 * functions.  Safe to call before gort_main. */
GORT_API void gort_register_module(const void *addr_in_module,
                                   const void *nosplit_lo,
                                   const void *nosplit_hi);

/* ======================================================================
 * System calls and foreign code
 * A goroutine inside a blocking call does not hold its P: after a short
 * bound (or at once, for calls that surely block) the P and its runnable
 * goroutines and timers move to another thread, and when the call returns
 * the goroutine takes a P again (its own if free, else any idle one, else
 * it waits its turn).  No preemption signal is sent to a goroutine inside
 * such a call, so gort never makes one fail with EINTR.
 *
 * gort knows by itself about the blocking calls of libc a program makes
 * (read, write, recv, accept, connect, poll, select, epoll_wait,
 * nanosleep, sleep, usleep, waitpid, system, sem_wait, pthread_cond_wait,
 * pthread_join, a contended pthread_mutex_lock, fread, fgets, getline,
 * getaddrinfo, syscall(), ...): it wraps them by symbol interposition.
 * Calls inside shared libraries reach these wrappers when the program
 * links libgort.so (or exports them: gort-static.pc does).  For anything
 * else that blocks or runs long without calling gort (a long computation
 * in a third-party library, a system call made by inline assembly), use
 * the bracket below.
 * ====================================================================== */

/* Bracket a call that may block or run long (Go's entersyscall /
 * exitsyscall around cgo calls).  Inside it the goroutine must not use
 * goroutine-local state it expects to find on the same P; it may call gort
 * (a call that parks first ends the bracket's hand-off).  Brackets nest.
 * On a thread that is not a goroutine, or inside gort_preempt_disable,
 * both do nothing.  errno is preserved across gort_syscall_exit. */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/* fn(arg) inside the bracket; returns its result, errno as fn left it. */
GORT_API void *gort_blocking(void *(*fn)(void *), void *arg);

/* ======================================================================
 * Network and file-descriptor I/O (Go's netpoller, internal/poll, net)
 * A goroutine waiting for a socket or pipe parks on the netpoller (epoll):
 * it costs its stack and no thread, and its P runs other goroutines.
 *
 * An fd is registered on its first use by one of these calls: it is put
 * in non-blocking mode (O_NONBLOCK stays set for its life; these calls
 * behave as blocking ones) and added to the poller once.  Files that
 * cannot be polled (regular files, most devices) work too: the call is
 * made as a blocking system call that hands the P on.
 *
 * Close a registered fd with gort_close (close(), fclose(), pclose() and
 * freopen() of a FILE on it and dup2()/dup3() onto it work too: gort
 * wraps them).  Goroutines parked on it wake with ECANCELED, and events
 * for the old file never reach a new one that gets the same number.  Once
 * gort_main has returned, a close does not wait for the goroutines parked
 * on the fd (they never run again; one already woken but not yet run
 * still holds it).  A close gort cannot see
 * (syscall(SYS_close), a system call made inline by a library) leaves the
 * number registered: a later file with that number would wait for events
 * that never come.  Do not do that.
 *
 * Deadlines are absolute gort_nanotime() times; -1 means none.  Calls from
 * threads that are not goroutines work too and block the thread.  No call
 * raises SIGPIPE: a write to a closed peer fails with EPIPE.
 * ====================================================================== */

/* Not <sys/socket.h>: its names (bind, listen, accept...) would land in
 * every file that includes gort.h.  socklen_t the way glibc's own headers
 * share it. */
struct sockaddr;
#ifndef __socklen_t_defined
typedef __socklen_t socklen_t;
#define __socklen_t_defined
#endif

enum { GORT_READ = 1, GORT_WRITE = 2 };

/* Park until fd is ready for `events` (GORT_READ, GORT_WRITE or both; a
 * hang-up or error counts as ready).  Returns 0, ETIMEDOUT once past
 * deadline, ECANCELED if gort_close(fd) ran meanwhile, EBADF, EINVAL.
 * The fd's own deadlines (gort_set_deadline) apply as well. */
GORT_API int gort_fd_wait(int fd, int events, int64_t deadline);

/* read(2) and write(2) that park the goroutine, not the thread.  -1 with
 * errno ETIMEDOUT past the fd's deadline, ECANCELED if it was closed
 * meanwhile, or the system call's error; 0 from gort_read is end of file.
 * gort_write writes all n bytes unless an error stops it: it then returns
 * the bytes written if any (errno says why it stopped), else -1. */
GORT_API ssize_t gort_read(int fd, void *buf, size_t n);
GORT_API ssize_t gort_write(int fd, const void *buf, size_t n);
/* accept4(2): the new fd is non-blocking and close-on-exec, and already
 * registered.  EMFILE/ENFILE are returned at once, never retried. */
GORT_API int gort_accept(int fd, struct sockaddr *sa, socklen_t *len);
/* connect(2) that parks until the connection is made or fails; the fd's
 * write deadline bounds it (ETIMEDOUT). */
GORT_API int gort_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* Per-fd deadlines for the calls above (Go's SetReadDeadline and
 * SetWriteDeadline; both for GORT_READ|GORT_WRITE): past it they fail
 * with ETIMEDOUT, including calls already parked.  -1 clears it.
 * Returns 0, EBADF or EINVAL. */
GORT_API int gort_set_deadline(int fd, int events, int64_t deadline);
/* close(2) that first wakes the goroutines parked on fd (ECANCELED) and
 * waits for the calls in flight on it to return: once it returns, the
 * number is free and no call still uses it. */
GORT_API int gort_close(int fd);

/* Go's net.Listen and net.Dial.  network: "tcp", "tcp4", "tcp6", "unix".
 * address: "host:port" ("[::1]:80"; the port a number or a service name,
 * 0 picks a free one, see getsockname; an empty or unspecified host
 * listens on every address, dual-stack for "tcp", and dials this machine)
 * or, for "unix", a path ("@name": abstract; the file is neither removed
 * before listening nor at close).  The fd is non-blocking, close-on-exec
 * and registered; dialed TCP has TCP_NODELAY.  Name resolution
 * (getaddrinfo) does not hold a P, and on a goroutine the dial deadline
 * bounds it.  gort_dial tries each address in turn, each with a share of
 * the time left, until one connects (a negative deadline: none).  -1 with
 * errno on failure: EINVAL for a malformed address, EAFNOSUPPORT for an
 * unknown network or an IP of the other family, ENOENT if the name does
 * not resolve (EAGAIN: not now), ETIMEDOUT, or the socket calls' errors
 * (ECONNREFUSED, EADDRINUSE...). */
GORT_API int gort_listen(const char *network, const char *address);
GORT_API int gort_dial(const char *network, const char *address, int64_t deadline);

/* ======================================================================
 * Threads (Go's runtime.LockOSThread)
 * A goroutine normally runs on whichever thread its P has, and may change
 * threads at any gort call or preemption.  Locked, it runs only on the
 * thread it called gort_lock_thread on, and that thread runs no other
 * goroutine: thread-local state (pthread_setspecific, an OpenGL context,
 * an interpreter's thread state, affinity) stays the goroutine's.  It may
 * still block, yield and be preempted; it then resumes on the same thread,
 * which sleeps meanwhile (a switch to or from a locked goroutine costs two
 * thread wake-ups).
 * ====================================================================== */

/* Lock the calling goroutine to its thread.  Calls nest: the goroutine is
 * unlocked once gort_unlock_thread was called as often.  A goroutine that
 * returns while locked takes its thread with it: the thread exits rather
 * than run another goroutine (Go >= 1.10); goroutine 1's return ends the
 * program as usual.  On a thread that is not a goroutine: nothing. */
GORT_API void gort_lock_thread(void);
/* Undo one gort_lock_thread.  More unlocks than locks is a fatal error
 * (Go's UnlockOSThread would ignore it). */
GORT_API void gort_unlock_thread(void);

/* ======================================================================
 * Debugging
 * SIGQUIT (kill -QUIT, Ctrl-\) prints every goroutine and exits with
 * status 2, unless the program handled or ignored SIGQUIT before gort
 * started.  GORTTRACEBACK=none|single|all|system|crash chooses how much.
 * ====================================================================== */

/* Write the same dump (every goroutine: state, wait, stack, creator) to
 * fd, without exiting.  Returns 0, or the errno of the failed write (EBADF
 * for a bad fd).  From ordinary code (a goroutine or a thread), not from a
 * signal handler. */
GORT_API int gort_dump_goroutines(int fd);

/* ======================================================================
 * Thread-bound state
 * errno is the goroutine's: its value is kept across every switch, on
 * whatever thread the goroutine resumes.  Its address is the thread's, so
 * in code that includes this header `errno` is read and written through
 * gort_errno_location(), which (unlike glibc's __errno_location, declared
 * const) the compiler calls again at every use instead of keeping an old
 * thread's address.  Define GORT_NO_ERRNO_ROUTE before including gort.h
 * to keep libc's definition (then don't keep errno's address across a
 * gort call yourself).
 *
 * A signal mask set with pthread_sigmask or sigprocmask in a goroutine is
 * the goroutine's: it follows it to every thread it runs on, goroutines
 * it starts inherit it (as threads do), and the others keep the mask
 * gort_main's caller had.  SIGURG, which preempts goroutines, stays
 * deliverable on the thread even if the goroutine blocks it.  A SIGURG
 * handler installed with sigaction or signal after gort_main started is
 * called for every SIGURG that is not gort's own, behind gort's handler.
 * A signal to be taken with sigwait or signalfd must be blocked before
 * gort_main, as it must be before creating threads: the runtime's own
 * threads keep the mask gort_main's caller had, and a process-directed
 * signal goes to any thread that does not block it.
 * ====================================================================== */

/* This thread's errno. */
GORT_API int *gort_errno_location(void);
/* errno's offset from the thread pointer, set when gort is loaded (0
 * before): for gort__errno_inline only. */
GORT_API extern intptr_t gort_errno_tpoff;

#if !defined(GORT_BUILDING_RUNTIME) && !defined(GORT_NO_ERRNO_ROUTE)
/* What `errno` means in code that includes gort.h: errno's offset plus
 * the thread pointer, added by one instruction (add %fs:0), so no register
 * ever holds a half-made address; the asm is volatile and reads
 * gort_errno_tpoff, so the compiler may neither merge it with another use
 * nor move it across a call.  No call on the fast path.  Not without
 * optimisation: there this is a real function that keeps the address in
 * a stack slot until it returns, where a goroutine moved meanwhile would
 * take the old thread's errno; the call's result stays in a register.
 *
 * In C (and C++ before C++17) `errno = f();` may compute errno's address
 * before calling f: if f can switch goroutines (a blocking gort call, a
 * wrapped blocking libc call), the store can land in the errno of the
 * thread the goroutine left.  Assign through a variable: `int e = f();
 * errno = e;`. */
static inline int *gort__errno_inline(void)
{
#if defined(__x86_64__) && defined(__OPTIMIZE__)
    intptr_t p = gort_errno_tpoff;
    if (__builtin_expect(p == 0, 0))
        return gort_errno_location();
    __asm__ volatile("add %%fs:0, %0" : "+r"(p) : "m"(gort_errno_tpoff));
    return (int *)p;
#else
    return gort_errno_location(); /* other architectures: a call */
#endif
}
#undef errno
#define errno (*gort__errno_inline())
#endif

/* ======================================================================
 * C++
 * The exception-handling state C++ keeps per thread (the caught
 * exceptions `throw;` and std::current_exception see, the count
 * std::uncaught_exceptions returns) is each goroutine's own: it moves with
 * the goroutine at every switch, asynchronous preemption included.  An
 * exception that escapes a goroutine's function (or any std::terminate on
 * a goroutine) is a fatal error naming the goroutine, the exception's type
 * and what(), with a traceback from the throw: in C++ files this header
 * installs a std::terminate handler for it (define GORT_NO_CXX_TERMINATE
 * to leave it out; the state still moves), which leaves threads that are
 * not goroutines to the handler it replaced.  Exceptions must not cross gort calls (a callback that
 * gort_once_do runs, for instance), as they must not cross any C code.
 * ====================================================================== */

/* For the C++ section below; not for direct use.  gort_cxx_init_ is given
 * the C++ runtime's __cxa_get_globals and returns 1 to the first caller
 * that wants to install the handler; gort_cxx_terminate_ reports, exits. */
GORT_API int gort_cxx_init_(void *(*cxa_get_globals)(void), int want_terminate);
GORT_API void gort_cxx_terminate_(const char *type, const char *what)
    __attribute__((noreturn));

#if !defined(GORT_BUILDING_RUNTIME) && !defined(GORT_NO_AUTO_REGISTER)
extern char __start_gort_nosplit[] __attribute__((weak, visibility("hidden")));
extern char __stop_gort_nosplit[] __attribute__((weak, visibility("hidden")));
/* Any address inside this module names it; a data object's, because ISO C
 * has no conversion from a function pointer to `const void *`. */
__attribute__((unused)) static const char gort__module_anchor = 0;
__attribute__((constructor, unused)) static void gort__register_this_module(void)
{
    gort_register_module(&gort__module_anchor, __start_gort_nosplit, __stop_gort_nosplit);
}
#endif

#ifdef __cplusplus
}
#endif

#if defined(__cplusplus) && !defined(GORT_BUILDING_RUNTIME)
#include <cstdlib>
#include <cxxabi.h>
#include <exception>
#include <typeinfo>

namespace gort_cxx_ {

#if !defined(GORT_NO_CXX_TERMINATE) && (defined(__cpp_exceptions) || defined(__EXCEPTIONS))
#define GORT_CXX_TERMINATE_ 1
/* The handler installed before ours: threads that are not goroutines keep
 * it.  One per module (an inline function's static); the module whose
 * file registered first is the one whose handler runs. */
inline std::terminate_handler &previous()
{
    static std::terminate_handler h = 0;
    return h;
}

inline void on_terminate()
{
    if (gort_self() == 0) {
        std::terminate_handler p = previous();
        if (p)
            p();
        std::abort();
    }
    const char *type = 0, *what = 0;
    std::type_info *t = abi::__cxa_current_exception_type();
    if (t) {
        int st = 0;
        char *name = abi::__cxa_demangle(t->name(), 0, 0, &st);
        type = name ? name : t->name();
        try {
            throw;
        } catch (const std::exception &e) {
            what = e.what();
        } catch (...) {
        }
    }
    gort_cxx_terminate_(type, what);
}
#else
#define GORT_CXX_TERMINATE_ 0
#endif

/* Every C++ file that includes gort.h registers (idempotent): it tells the
 * runtime where the C++ runtime's per-thread state is, even one linked
 * statically or loaded later by dlopen, and the first that wants to
 * installs the terminate handler. */
struct installer {
    installer()
    {
        if (gort_cxx_init_(reinterpret_cast<void *(*)(void)>(&abi::__cxa_get_globals),
                           GORT_CXX_TERMINATE_)) {
#if GORT_CXX_TERMINATE_
            previous() = std::set_terminate(on_terminate);
#endif
        }
    }
};
static installer install_;

} /* namespace gort_cxx_ */
#undef GORT_CXX_TERMINATE_
#endif

#endif /* GORT_H */
