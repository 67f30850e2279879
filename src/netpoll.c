/*
 * netpoll.c — goroutines waiting for file descriptors (Go's netpoll.go).
 *
 * A call that would block on an fd (fd_linux.c) parks its goroutine here
 * instead of its thread; the poller (netpoll_epoll.c) readies it when the
 * kernel reports an edge.  Nobody runs a poller thread: the scheduler polls
 * (findrunnable.c) without blocking before it steals, an M with
 * nothing to run blocks in the poller until the next timer, and sysmon
 * polls when nobody has for 10 ms (gort__netpoll_sysmon).
 *
 * Per fd number one gort__pollfd, in a two-level table that only grows:
 * a pd's address never changes and it is never freed, so an event, a
 * timer or a close can always touch it.  An fd is registered once per
 * incarnation (edge-triggered, both directions); `gen` is bumped at every
 * close and travels in the event's data, so an edge of a closed file (one
 * still open through a dup, or queued before the close) is dropped rather
 * than waking whoever uses the number next.
 *
 * No lost wake-up without a "ready" flag to consume: each direction has a
 * sequence of edges.  A call samples it before its system call; after
 * EAGAIN it parks only if the sequence has not moved (checked under
 * pd->lock, which the poller takes to wake the waiters).  Every waiter of
 * a direction is woken by its edge and tries again: several goroutines may
 * wait on one fd (acceptors on a listener, a reader and a writer), which
 * Go forbids by serialising them through fdMutex and C cannot.
 *
 * Deadlines: the waiter's own G timer (g->timer), armed while pd->lock is
 * held and deleted by the waiter once it runs again; so the timer fires at
 * most while the waiter's frame is alive.  gort_set_deadline wakes the
 * waiters it concerns; they re-read the deadline and park again.
 *
 * Close: references (pd->refs) count calls in flight; a close marks the pd
 * closing, wakes its waiters (ECANCELED), waits for the calls in flight
 * to let go (the last one readies it), then makes the close(2).  Until
 * then the number stays taken, so no call in flight can act on a new file
 * that got it; once gort_close returns it is free, as after close(2).
 *
 * Rejected: a poller thread (a thread hop per wake-up, and a thread that
 * exists for idle programs too); one-shot registration re-armed at each
 * wait (an epoll_ctl per park, Go rejected it too); a hash table by fd
 * (table lookups on every call for no gain: fd numbers are dense).
 */
#define _GNU_SOURCE /* statx */
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#define PD_CHUNK_SHIFT 10
#define PD_CHUNK (1 << PD_CHUNK_SHIFT)
#define PD_NCHUNKS 4096 /* 4M fds */

static gort__pollfd *_Atomic pdtab[PD_NCHUNKS];
static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static int backend_err;

static void backend_init(void)
{
    backend_err = gort__netpoll_backend_init();
    if (!backend_err) {
        atomic_store(&sched.lastpoll, gort__nanotime());
        atomic_store(&sched.netpoll_inited, true);
    }
}

gort__pollfd *gort__pd_peek(int fd)
{
    if ((unsigned)fd >= (unsigned)PD_NCHUNKS * PD_CHUNK)
        return NULL;
    gort__pollfd *c = atomic_load_explicit(&pdtab[fd >> PD_CHUNK_SHIFT], memory_order_acquire);
    return c ? &c[fd & (PD_CHUNK - 1)] : NULL;
}

/* Makes fd's block of the table (lock-free: mmap, fill, publish with a
 * compare-and-swap; a loser unmaps its own).  Async-signal-safe, since
 * close() makes blocks too (gort__pd_close_begin). */
static gort__pollfd *pd_make(int fd)
{
    _Atomic(gort__pollfd *) *slot = &pdtab[fd >> PD_CHUNK_SHIFT];
    size_t len = PD_CHUNK * sizeof(gort__pollfd);
    long r = gort__sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r < 0 && r > -4096)
        return NULL; /* ENOMEM: the caller goes on without */
    gort__pollfd *c = (gort__pollfd *)r, *old = NULL;
    int base = fd & ~(PD_CHUNK - 1);
    for (int i = 0; i < PD_CHUNK; i++) {
        c[i].fd = base + i;
        c[i].rdeadline = c[i].wdeadline = -1;
    }
    if (!atomic_compare_exchange_strong_explicit(slot, &old, c, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        gort__sys3(SYS_munmap, (long)c, (long)len, 0);
        c = old;
    }
    return &c[fd & (PD_CHUNK - 1)];
}

gort__pollfd *gort__pd_lookup(int fd)
{
    gort__pollfd *pd = gort__pd_peek(fd);
    if (likely(pd) || (unsigned)fd >= (unsigned)PD_NCHUNKS * PD_CHUNK)
        return pd;
    return pd_make(fd);
}

gort__pollfd *gort__pd_get(int fd)
{
    /* The netpoller's state is the parent's in a vfork child: refused
     * before any of it changes (a reference, a waiter, a lock taken raw).
     * Here only: every call (fd_linux.c's and net.c's enter) gets its pd
     * here before pd_acquire and pd_wait. */
    if (gort__in_vfork_child())
        gort__forked_fatal("using the netpoller (gort_read, gort_write, gort_fd_wait, ...)");
    return gort__pd_lookup(fd);
}

/* ---------------------------------------------------------------------
 * Registration and references
 * ------------------------------------------------------------------- */

/* The identity of the file fd names (device, inode): 0 or -errno.
 * statx asks for the inode alone and no sync: fstat on a network or
 * user-space file system may flush dirty pages or ask the server for
 * attributes, and a close calls this before its system-call bracket
 * (an adversarial review).  fstat where statx is refused (ENOSYS). */
static int file_id(int fd, uint64_t *dev, uint64_t *ino)
{
    static _Atomic bool no_statx;
    if (!atomic_load_explicit(&no_statx, memory_order_relaxed)) {
        struct statx sx;
        long r = gort__sys6(SYS_statx, fd, (long)"", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
                            STATX_INO, (long)&sx, 0);
        if (r == 0) {
            *dev = (uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor;
            *ino = sx.stx_ino;
            return 0;
        }
        /* ENOSYS: a kernel before 4.11, fstat from now on; EPERM: a
         * seccomp filter that predates statx (older container runtimes),
         * or a security module refusing this one file: fstat this time. */
        if (r != -ENOSYS && r != -EPERM)
            return (int)r;
        if (r == -ENOSYS)
            atomic_store_explicit(&no_statx, true, memory_order_relaxed);
    }
    struct stat st;
    long r = gort__sys3(SYS_fstat, fd, (long)&st, 0);
    if (r < 0)
        return (int)r;
    *dev = (uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
    *ino = (uint64_t)st.st_ino;
    return 0;
}

/* pd->lock held. */
static int pd_register(gort__pollfd *pd, int known)
{
    pthread_once(&backend_once, backend_init);
    int fd = pd->fd;
    if (unlikely(pd->dying)) {
        uint64_t dev, ino;
        int r = file_id(fd, &dev, &ino);
        if (r < 0)
            return -r; /* closed: EBADF */
        if (dev == pd->dying_dev && ino == pd->dying_ino)
            return ECANCELED; /* still the file being closed */
        pd->dying = false; /* the number's next file */
    }
    if (!(known & PD_KNOWN_NONBLOCK)) {
        long fl = gort__sys3(SYS_fcntl, fd, F_GETFL, 0);
        if (fl < 0)
            return (int)-fl;
        if (!(fl & O_NONBLOCK)) {
            /* Regular files ignore O_NONBLOCK; set it only where it counts. */
            long r = gort__sys3(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK);
            if (r < 0)
                return (int)-r;
        }
    }
    if (known & PD_KNOWN_TCP) {
        pd->is_socket = pd->is_tcp = true;
    } else {
        /* Even for a known socket: only TCP proves emptiness by a short
         * read (SOCK_SEQPACKET stops at a record, unix streams at a
         * message carrying fds or other credentials, SCTP...). */
        int type = 0, proto = 0;
        socklen_t len = sizeof type;
        pd->is_socket = gort__sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type,
                                   (long)&len, 0) == 0;
        len = sizeof proto;
        pd->is_tcp = pd->is_socket && type == SOCK_STREAM &&
                     gort__sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_PROTOCOL, (long)&proto,
                                (long)&len, 0) == 0 &&
                     proto == IPPROTO_TCP;
    }
    atomic_store_explicit(&pd->rdrained, 0, memory_order_relaxed);
    atomic_store_explicit(&pd->rhup, false, memory_order_relaxed);
    int err = backend_err ? backend_err
                          : gort__netpoll_open(fd, (uint64_t)pd->gen << 32 | (uint32_t)fd);
    if (err == EPERM) {
        pd->pollable = false; /* a regular file or a device epoll refuses */
    } else if (err) {
        return err;
    } else {
        pd->pollable = true;
    }
    __atomic_store_n(&pd->registered, true, __ATOMIC_RELEASE);
    return 0;
}

/* Is the caller a goroutine (not a thread that is no M, nor gort_main's
 * thread once it returned)?  Decides which count a reference goes in; the
 * same caller asks at its acquire and its release. */
static inline bool on_goroutine(void)
{
    M *m = gort__m_tls;
    return m && m->curg;
}

/* A thread's reference, counted in trefs too, both under pd->lock: a
 * close after the goroutines froze waits for these alone, and must see
 * each one go (thread_release) or not at all. */
static int thread_acquire(gort__pollfd *pd)
{
    gort__lock(&pd->lock);
    uint32_t r = atomic_load_explicit(&pd->refs, memory_order_relaxed);
    if (r & GORT_PD_CLOSING) {
        gort__unlock(&pd->lock);
        return ECANCELED;
    }
    atomic_fetch_add_explicit(&pd->refs, 1, memory_order_acquire);
    pd->trefs++;
    gort__unlock(&pd->lock);
    return 0;
}

/* May a close waiting under pd->lock go on?  When every call in flight
 * let go, or, once the goroutines are frozen for good, every thread's
 * call: a frozen goroutine's reference is never let go (one readied but
 * not run when gort_main returned, one stopped inside its call), and
 * main()'s clean-up close waited for it for ever. */
static inline bool close_may_go(gort__pollfd *pd, uint32_t refs)
{
    return refs == GORT_PD_CLOSING ||
           (atomic_load_explicit(&sched.frozen, memory_order_acquire) && pd->trefs == 0);
}

static void thread_release(gort__pollfd *pd)
{
    gort__lock(&pd->lock);
    pd->trefs--;
    uint32_t r = atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_acq_rel) - 1;
    G *c = NULL;
    if ((r & GORT_PD_CLOSING) && pd->closer && close_may_go(pd, r)) {
        c = pd->closer;
        pd->closer = NULL;
    }
    gort__unlock(&pd->lock);
    if (c)
        gort__goready(c, false);
}

int gort__pd_acquire(gort__pollfd *pd, int known)
{
    /* Never a reference once a close began: one taken between the last
     * call out and pd_finish_close would make its own release look like
     * the last one, and close the number twice (Go's fdMutex.incref
     * refuses too).  test10's test_netpoll_race; also
     * refs driven below zero, CLOSING for good (test_netpoll_close_race). */
    if (unlikely(!on_goroutine())) {
        int err = thread_acquire(pd);
        if (err)
            return err;
    } else {
        uint32_t r = atomic_load_explicit(&pd->refs, memory_order_relaxed);
        do {
            if (unlikely(r & GORT_PD_CLOSING))
                return ECANCELED;
        } while (!atomic_compare_exchange_weak_explicit(&pd->refs, &r, r + 1,
                                                        memory_order_acquire,
                                                        memory_order_relaxed));
    }
    if (likely(__atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE)))
        return 0;
    gort__lock(&pd->lock);
    int err = pd->registered ? 0 : pd_register(pd, known);
    gort__unlock(&pd->lock);
    if (err)
        gort__pd_release(pd);
    return err;
}

/* The last reference of a closing pd: forget the incarnation, then close
 * the number (after which it may be reused at once). */
static int pd_finish_close(gort__pollfd *pd)
{
    /* pd->lock stays held until the number is closed: a call that enters
     * once refs is 0 finds the pd unregistered and takes the lock to
     * register, so it registers whatever file has the number after the
     * close(2) (a new one, or none: EBADF).  Released before the close(2),
     * such a call concurrent with the close registered the dying file and
     * left the pd "registered" for the next file with that number, whose
     * readers then waited for edges that never came. */
    gort__lock(&pd->lock);
    bool pollable = pd->pollable;
    bool noclose = pd->noclose;
    pd->noclose = false;
    pd->registered = false;
    pd->pollable = false;
    pd->is_socket = false;
    pd->is_tcp = false;
    pd->rdeadline = pd->wdeadline = -1;
    if (pollable)
        gort__netpoll_del(pd->fd); /* dups keep the file in epoll otherwise */
    atomic_store_explicit(&pd->refs, 0, memory_order_release);
    long r = 0;
    if (!noclose) {
        r = gort__sys3(SYS_close, pd->fd, 0, 0);
        if (r == -EINTR)
            r = 0; /* Linux frees the number even then */
    }
    gort__unlock(&pd->lock);
    return (int)r;
}

void gort__pd_release(gort__pollfd *pd)
{
    if (unlikely(!on_goroutine())) {
        thread_release(pd);
        return;
    }
    uint32_t r = atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_acq_rel);
    if (unlikely(r == (GORT_PD_CLOSING | 1))) {
        /* The last call out of a closing fd: the close waits for it. */
        gort__lock(&pd->lock);
        G *c = pd->closer;
        pd->closer = NULL;
        gort__unlock(&pd->lock);
        /* acquire takes no reference once CLOSING is set, so the closer
         * (it holds one until it is registered as closer) is never
         * missing here. */
        if (!c) {
            if (atomic_load(&sched.frozen))
                return; /* the close went on without us (close_may_go) */
            gort__throw("netpoll: last call out of closing fd %d found no closer", pd->fd);
        }
        gort__goready(c, false);
    }
}

/* gort__exitstop, once every P stopped for good: a thread's close that
 * was waiting for goroutines' calls to let go now waits for threads'
 * only (close_may_go); let those with none left go on.  A closer that is
 * a goroutine is frozen itself and stays so. */
void gort__netpoll_frozen(void)
{
    atomic_store(&sched.frozen, true);
    for (int i = 0; i < PD_NCHUNKS; i++) {
        gort__pollfd *c = atomic_load_explicit(&pdtab[i], memory_order_acquire);
        for (int j = 0; c && j < PD_CHUNK; j++) {
            gort__pollfd *pd = &c[j];
            /* Under the lock, not a racy look at closer: a closer
             * registers and reads frozen under it, so one of the two
             * sees the other (~20 us for a chunk of 1024 fds, once). */
            G *g = NULL;
            gort__lock(&pd->lock);
            if (pd->closer && pd->closer->foreign &&
                close_may_go(pd, atomic_load_explicit(&pd->refs, memory_order_relaxed))) {
                g = pd->closer;
                pd->closer = NULL;
            }
            gort__unlock(&pd->lock);
            if (g)
                gort__goready(g, false);
        }
    }
}

/* ---------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------- */

static void waiter_unlink(gort__pollfd *pd, gort__pollwaiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        pd->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->woken = true;
    atomic_fetch_sub_explicit(&sched.netpoll_waiters, 1, memory_order_relaxed);
}

/* Unlink the waiters of `mode` into a chain of Gs (foreign threads are
 * woken at once).  pd->lock held. */
static void take_waiters(gort__pollfd *pd, int mode, G **list, int32_t *n)
{
    for (gort__pollwaiter *w = pd->waiters, *next; w; w = next) {
        next = w->next;
        if (!(w->mode & mode))
            continue;
        waiter_unlink(pd, w);
        G *g = w->g;
        if (g->foreign) {
            gort__goready(g, false);
        } else {
            g->schedlink = *list;
            *list = g;
            ++*n;
        }
    }
}

static void ready_list(G *list)
{
    for (G *g = list, *next; g; g = next) {
        next = g->schedlink;
        g->schedlink = NULL;
        gort__goready(g, false);
    }
}

int64_t gort__pd_deadline(gort__pollfd *pd, int mode, int64_t deadline)
{
    int64_t d = deadline;
    int64_t r = (mode & GORT_READ) ? __atomic_load_n(&pd->rdeadline, __ATOMIC_RELAXED) : -1;
    int64_t w = (mode & GORT_WRITE) ? __atomic_load_n(&pd->wdeadline, __ATOMIC_RELAXED) : -1;
    if (r >= 0 && (d < 0 || r < d))
        d = r;
    if (w >= 0 && (d < 0 || w < d))
        d = w;
    return d;
}

static void wait_timeout(void *arg, uint64_t seq)
{
    (void)seq;
    gort__pollwaiter *w = arg;
    gort__pollfd *pd = w->pd;
    gort__lock(&pd->lock);
    if (w->woken) {
        gort__unlock(&pd->lock);
        return;
    }
    waiter_unlink(pd, w);
    G *g = w->g;
    gort__unlock(&pd->lock);
    gort__goready(g, false);
}

typedef struct {
    gort__pollwaiter *w;
    int64_t deadline;
} wait_commit_arg;

/* On g0 (or the foreign thread), the G marked waiting: arm its timer, then
 * let events in. */
static bool wait_commit(G *g, void *arg)
{
    wait_commit_arg *a = arg;
    if (a->deadline >= 0)
        gort__armtimer(&g->timer, a->deadline, wait_timeout, a->w, ++g->timerseq);
    gort__unlock_raw(&a->w->pd->lock);
    if (g->foreign && atomic_load_explicit(&sched.lastpoll, memory_order_relaxed) != 0) {
        /* A thread parks: no M is on its way to the scheduler, which
         * would poll for it.  Make sure one looks (an idle P's M then
         * blocks in the poller); with every P busy, they or sysmon poll. */
        gort__wakep();
    }
    return true;
}

int gort__pd_wait(gort__pollfd *pd, int mode, uint32_t rs, uint32_t ws, int64_t deadline)
{
    G *g = gort__getg();
    if (!g)
        gort__throw("netpoll: no G to park");
    gort__pollwaiter w = {.g = g, .pd = pd, .mode = mode};
    /* Raw lock: the commit runs on g0, where m->locks must balance. */
    gort__lock_raw(&pd->lock);
    if (atomic_load_explicit(&pd->refs, memory_order_relaxed) & GORT_PD_CLOSING) {
        gort__unlock_raw(&pd->lock);
        return ECANCELED;
    }
    if (((mode & GORT_READ) && atomic_load(&pd->rseq) != rs) ||
        ((mode & GORT_WRITE) && atomic_load(&pd->wseq) != ws)) {
        gort__unlock_raw(&pd->lock);
        return 0;
    }
    int64_t d = gort__pd_deadline(pd, mode, deadline);
    if (d >= 0 && d <= gort__nanotime()) {
        gort__unlock_raw(&pd->lock);
        return ETIMEDOUT;
    }
    w.next = pd->waiters;
    if (w.next)
        w.next->prev = &w;
    pd->waiters = &w;
    atomic_fetch_add_explicit(&sched.netpoll_waiters, 1, memory_order_relaxed);
    wait_commit_arg a = {&w, d};
    gort__gopark(wait_commit, &a, "IO wait");
    if (d >= 0)
        gort__deltimer(&g->timer);
    return 0;
}

void gort__pd_setdeadline(gort__pollfd *pd, int mode, int64_t deadline)
{
    G *list = NULL;
    int32_t n = 0;
    gort__lock(&pd->lock);
    if (mode & GORT_READ)
        __atomic_store_n(&pd->rdeadline, deadline, __ATOMIC_RELAXED);
    if (mode & GORT_WRITE)
        __atomic_store_n(&pd->wdeadline, deadline, __ATOMIC_RELAXED);
    take_waiters(pd, mode, &list, &n); /* they re-read it and park again */
    gort__unlock(&pd->lock);
    ready_list(list);
}

static bool close_commit(G *g, void *arg)
{
    (void)g;
    gort__unlock_raw(&((gort__pollfd *)arg)->lock);
    return true;
}

static int pd_close(gort__pollfd *pd, bool noclose)
{
    uint32_t r = atomic_load(&pd->refs);
    do {
        if (r & GORT_PD_CLOSING)
            return -EBADF; /* another close got here first */
    } while (!atomic_compare_exchange_weak(&pd->refs, &r, (r | GORT_PD_CLOSING) + 1));
    G *list = NULL;
    int32_t n = 0;
    gort__lock(&pd->lock);
    pd->noclose = noclose;
    pd->gen++;
    take_waiters(pd, GORT_READ | GORT_WRITE, &list, &n);
    gort__unlock(&pd->lock);
    if (unlikely(atomic_load(&sched.exiting))) {
        /* gort_main has returned: the goroutines parked here never run
         * again, so their calls' references are let go on their behalf
         * (main()'s clean-up closes would otherwise wait for ever).  Our
         * own reference keeps refs above CLOSING | 0 meanwhile.  Threads
         * that are not goroutines were readied by take_waiters and let go
         * of theirs themselves. */
        for (int32_t i = 0; i < n; i++)
            atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_acq_rel);
        list = NULL;
    }
    ready_list(list);
    /* Wait for the calls still in flight (just woken, or inside a system
     * call) to let go; the last one readies us.  Registered as closer
     * before our own reference goes, under the lock the last one takes. */
    G *g = gort__getg();
    if (!g)
        gort__throw("netpoll: no G to wait in close");
    gort__lock_raw(&pd->lock);
    pd->closer = g;
    if (close_may_go(pd, atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_acq_rel) - 1)) {
        pd->closer = NULL;
        gort__unlock_raw(&pd->lock);
    } else {
        gort__gopark(close_commit, pd, "IO wait");
    }
    return pd_finish_close(pd);
}

int gort__pd_close(gort__pollfd *pd)
{
    return pd_close(pd, false);
}

/* Marks the file (dev, ino) dying (pd->lock held); the mark's tag.  A
 * mark already there is replaced: it names a file that no longer has the
 * number if this one differs (the same identity otherwise), and its
 * owner's gort__pd_detach_end, its tag no longer matching, leaves ours.
 * Kept instead, a close that found another close's or a pclose's mark
 * set marked nothing, and a first call during its close(2) registered
 * the file being closed (an adversarial review: 4 of 4 runs, with the
 * closer's thread slowed down). */
static uint32_t pd_mark_dying(gort__pollfd *pd, uint64_t dev, uint64_t ino)
{
    static _Atomic uint32_t tags;
    uint32_t tag = atomic_fetch_add_explicit(&tags, 1, memory_order_relaxed) + 1;
    if (!tag)
        tag = atomic_fetch_add_explicit(&tags, 1, memory_order_relaxed) + 1;
    pd->dying = true;
    pd->dying_tag = tag;
    pd->dying_dev = dev;
    pd->dying_ino = ino;
    return tag;
}

/* A detach marks the file being closed as dying first (its identity, from
 * fstat), so that no call registers it again between the detach and
 * libc's close: one that did left the pd "registered" for the number's
 * next file, which then never went into epoll (a reviewer's dup2 race, 6
 * in 1000 at 2 Ps).  Such a call gets ECANCELED, as during any close.
 * The mark goes once the number names another file, or at
 * gort__pd_detach_end: not by keeping the pd closing until libc returns,
 * since pclose closes the number and then waits for the child, and the
 * number's next file would have been unusable (and unclosable) that long. */
uint32_t gort__pd_detach(int fd)
{
    gort__pollfd *pd = gort__pd_peek(fd);
    if (!pd)
        return 0;
    uint64_t dev, ino;
    bool known = file_id(fd, &dev, &ino) == 0;
    uint32_t tag = 0;
    gort__lock(&pd->lock);
    if (known)
        tag = pd_mark_dying(pd, dev, ino);
    gort__unlock(&pd->lock);
    if (pd_close(pd, true) != 0) { /* another close was first: it closes */
        gort__pd_detach_end(fd, tag);
        return 0;
    }
    return tag;
}

/* The program closes fd itself (gort_close, the close wrapper).  A
 * registered fd, or one with calls in flight, goes through the
 * netpoller's close (returns its pd: gort__pd_close).  Any other is
 * closed by the caller (returns NULL), the file first marked dying as a
 * detach does (*tag, for gort__pd_detach_end after the close(2)): a call
 * whose first use of the fd came between the test and the close(2) found
 * it unregistered and registered it, and the pd stayed "registered" for
 * a closed number; that call could park for ever, and the number's next
 * file never went into epoll nor became non-blocking (a helper's stress
 * hunt, every run).  With the mark such a call gets ECANCELED (the file
 * being closed), EBADF (the number closed) or registers the number's
 * next file, and nobody waits for the close(2), which can block
 * (SO_LINGER, a network file system) while the number is already free.
 * The caller ends the mark right after its close(2), before leaving its
 * bracket (which may wait for a P): meanwhile a new descriptor for the
 * same file (a dup of it) that got the number would be refused too.
 * Rejected: holding a bit in refs across the close(2) that calls wait on
 * (an adversarial review: calls on the number's next file, which another
 * thread can open meanwhile, spun through a lingering close holding
 * their P, a second close waited it out and then closed that next file,
 * and a thread's acquire between its check and its increment lost the
 * increment to the bit's clearing store); holding pd->lock across the
 * close(2) (no system-call bracket with a runtime lock held).  The cost:
 * a statx per close of an fd no gort call has registered.  A number
 * whose block of the table did not exist yet is the same race (the call
 * makes the block, the close found no pd to mark): the close makes the
 * block (pd_make, async-signal-safe, as signal handlers call close). */
gort__pollfd *gort__pd_close_begin(int fd, uint32_t *tag)
{
    *tag = 0;
    /* A fork's child shares the parent's epoll set: its closes must not
     * touch the registrations (an EPOLL_CTL_DEL there is the parent's
     * loss), nor wake the parent's goroutines.  It closes plainly. */
    if (fd < 0 || unlikely(gort__in_forked_child()))
        return NULL;
    uint64_t dev, ino;
    gort__pollfd *pd = gort__pd_peek(fd);
    if (!pd) {
        /* A block only for a number that names a file: a daemon's loop
         * closing every number up to RLIMIT_NOFILE makes none (it made
         * 104 KiB per 1024 numbers: 418 MiB up to 4M, a review). */
        if ((unsigned)fd >= (unsigned)PD_NCHUNKS * PD_CHUNK)
            return NULL; /* beyond the table: never registered */
        if (file_id(fd, &dev, &ino) != 0 || !(pd = gort__pd_lookup(fd)))
            return NULL; /* no file (EBADF), or no memory for the block */
    } else if (__atomic_load_n(&pd->registered, __ATOMIC_ACQUIRE) ||
               atomic_load_explicit(&pd->refs, memory_order_acquire)) {
        return pd;
    } else if (file_id(fd, &dev, &ino) != 0) {
        return NULL; /* no file: close(2) says EBADF */
    }
    gort__lock(&pd->lock);
    if (pd->registered) { /* a first call registered it meanwhile */
        gort__unlock(&pd->lock);
        return pd;
    }
    *tag = pd_mark_dying(pd, dev, ino);
    gort__unlock(&pd->lock);
    return NULL;
}

void gort__pd_detach_end(int fd, uint32_t tag)
{
    gort__pollfd *pd = tag ? gort__pd_peek(fd) : NULL;
    if (!pd)
        return;
    gort__lock(&pd->lock);
    if (pd->dying && pd->dying_tag == tag)
        pd->dying = false;
    gort__unlock(&pd->lock);
}

/* ---------------------------------------------------------------------
 * Events (called by the backend) and the scheduler's side
 * ------------------------------------------------------------------- */

void gort__netpoll_ready(uint64_t data, int mode, G **list, int32_t *n)
{
    gort__pollfd *pd = gort__pd_peek((int)(uint32_t)data);
    if (!pd)
        return;
    gort__lock(&pd->lock);
    if (pd->gen != (uint32_t)(data >> 32) || !pd->registered) {
        gort__unlock(&pd->lock); /* an earlier incarnation's edge */
        return;
    }
    if (mode & GORT_PD_HUP)
        atomic_store_explicit(&pd->rhup, true, memory_order_relaxed);
    if (mode & GORT_READ)
        atomic_fetch_add_explicit(&pd->rseq, 1, memory_order_release);
    if (mode & GORT_WRITE)
        atomic_fetch_add_explicit(&pd->wseq, 1, memory_order_relaxed);
    if (pd->waiters)
        take_waiters(pd, mode, list, n);
    gort__unlock(&pd->lock);
}

G *gort__netpoll_poll(int64_t until, int32_t *n)
{
    G *list = NULL;
    *n = 0;
    if (!atomic_load_explicit(&sched.netpoll_inited, memory_order_acquire))
        return NULL;
    gort__netpoll_wait(until, &list, n);
    return list;
}

bool gort__netpoll_break(void)
{
    return atomic_load_explicit(&sched.netpoll_inited, memory_order_acquire) &&
           gort__netpoll_wakeup();
}

G *gort__netpoll_inject(G *list, int32_t n, bool take_one)
{
    if (!list)
        return NULL;
    for (G *g = list; g; g = g->schedlink) {
        g->iob_ready = true; /* schedule() need not flush a batch before it */
        uint32_t want = G_WAITING;
        if (!atomic_compare_exchange_strong(&g->status, &want, G_RUNNABLE))
            gort__throw("netpoll: goroutine %llu not waiting (status %u)",
                        (unsigned long long)g->goid, want);
    }
    G *first = NULL;
    if (take_one) {
        first = list;
        list = list->schedlink;
        first->schedlink = NULL;
        n--;
    }
    if (!list)
        return first;
    M *m = gort__getm();
    P *pp = m ? m->p : NULL;
    int32_t idle = atomic_load(&sched.npidle);
    /* As many as there are idle Ps go to the global queue, each with an M
     * started for it; the rest stay here, on this P's queue. */
    int32_t global = pp ? (idle < n ? idle : n) : n;
    if (global > 0) {
        gort__lock(&sched.lock);
        for (int32_t i = 0; i < global; i++) {
            G *g = list;
            list = g->schedlink;
            g->schedlink = NULL;
            gort__globrunqput(g);
        }
        gort__unlock(&sched.lock);
        /* With a P we run `first` next: the Ms go elsewhere.  Without one
         * we stop next: the first M takes our CPU (mstart.c mpark). */
        int how = pp ? GORT_WAKE_AWAY : GORT_WAKE_HERE;
        for (int32_t i = 0; i < global && atomic_load(&sched.npidle) > 0; i++) {
            gort__startm(NULL, false, how);
            if (how == GORT_WAKE_HERE)
                how = GORT_WAKE_ANY;
        }
    }
    for (G *g = list, *next; g; g = next) {
        next = g->schedlink;
        g->schedlink = NULL;
        gort__runqput(pp, g, false);
    }
    return first;
}

int64_t gort__netpoll_sysmon(int64_t now)
{
    if (!gort__netpoll_pending())
        return 0;
    int64_t last = atomic_load(&sched.lastpoll);
    if (last == 0)
        return 0; /* an M is blocked in it */
    if (now - last < 10000000)
        return last + 10000000;
    if (!atomic_compare_exchange_strong(&sched.lastpoll, &last, now))
        return now + 10000000;
    /* Counted as a running M from before the poll until its goroutines
     * are queued: checkdead would otherwise see every M idle, no waiter
     * and empty queues in between, and call a running program dead. */
    gort__incidlelocked(-1);
    int32_t n;
    G *list = gort__netpoll_poll(0, &n);
    gort__netpoll_inject(list, n, false);
    gort__incidlelocked(1);
    return now + 10000000;
}
