/*
 * iobatch_linux.c — socket reads and writes batched through io_uring, one
 * ring per P (on by default; GORTDEBUG=iobatch=0 turns it off).
 *
 * On a VM a system call's fixed cost can dominate a server's CPU (about
 * 1.1 µs on the EPYC VM this was measured on, against 8-12 µs of server
 * CPU per echo request: DESIGN.md, "What batching the system calls is
 * worth here").  With iobatch on, a goroutine's recv or send on a socket
 * (fd_linux.c: gort_read's TCP path, gort_write's socket path) is queued
 * on its P's ring and the goroutine parks; the P's scheduler submits the
 * whole batch with one io_uring_enter and readies the goroutines from the
 * completions.  The netpoller is unchanged: readiness still comes from
 * epoll, and an op that finds nothing to read (or no room) completes with
 * -EAGAIN and its goroutine parks on the pd's edge as before.
 *
 * Invariants:
 *  - Every op carries MSG_DONTWAIT, so it completes inside the
 *    io_uring_enter that submits it.  No op is ever left in the kernel:
 *    nothing binds a goroutine to the thread that submitted it, and
 *    whichever M holds the P next owns an empty ring.  (io_uring's
 *    completion model, where a recv waits in the kernel, runs the
 *    completion as task work of the submitting thread: DESIGN.md.)
 *  - The ring is the P's, touched only by the M that holds the P (its
 *    goroutine queueing, its g0 flushing).  pp->iob_queued counts the ops
 *    queued and not submitted.  Every path that lets go of a P flushes
 *    first or treats a queued op as work (gort__runqempty is false while
 *    one is queued, so handoffp, sysmon's retake, starttheworld and
 *    checkdead see it; thieves ask gort__runqempty_g, as a batch cannot
 *    be stolen): findrunnable flushes once the P's two run queues are
 *    empty (before it polls, steals or idles), so no P idles on a batch;
 *    execute_slice before a goroutine that the netpoller or a flush did
 *    not ready (so a computing goroutine never delays the batch by its
 *    time slice); gcstopm before stopping for a stop-the-world; and
 *    stoplockedm and startlockedm before a locked M's P changes hands;
 *    the system-call bracket before it publishes P_SYSCALL.  The
 *    foreign-code reclaim (a signal handler: it cannot flush) leaves the
 *    batch on a P_SYSCALL P, which sysmon then hands to an M as a P with
 *    work.
 *  - An op's record (iob_req) lives on the parked goroutine's stack; the
 *    flush writes the result and only then readies the goroutine.
 *  - A batch cannot be stolen: a goroutine that runs long without a
 *    scheduling point holds the ops queued before it (DESIGN.md).
 *
 * Falls back to the direct system call when: iobatch is off; io_uring_setup
 * fails (an old kernel, a seccomp profile, kernel.io_uring_disabled), its
 * probe lacks IORING_OP_SEND/RECV (before Linux 5.6), or a MSG_DONTWAIT
 * recv on an empty socket is not answered -EAGAIN at once (checked when
 * a ring is made: nowait_honoured); the caller is not a goroutine on a
 * P, is locked to its thread (each park would hand the P to another M
 * and back), is inside the system-call bracket, holds
 * runtime locks (a stopped world: it may not park), runs off its stack
 * (a signal handler) or in a forked child; under valgrind, which does not
 * see the kernel's writes through the ring; under a seccomp filter,
 * which might kill the process at io_uring_setup (seccomp_filtered).  A
 * program that closes a ring's descriptor turns it off for good: the
 * flush makes the ops still queued as direct calls (ring_lost).
 *
 * Rejected: liburing (every program would link it; the few ring
 * operations needed here are a page of code on <linux/io_uring.h>); a ring
 * per M (a goroutine parked on a ring would wait for that thread); SQPOLL
 * (a kernel thread spinning on a CPU of two).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "arch/syscall_amd64.h"
#include "valgrind_hooks.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define IOB_ENTRIES 64 /* SQ entries; the CQ gets twice that */

struct gort__iobatch {
    int fd;
    /* Submission ring: the kernel advances head, we advance tail. */
    _Atomic uint32_t *sq_head, *sq_tail;
    uint32_t sq_mask, *sq_array;
    struct io_uring_sqe *sqes;
    /* Completion ring: the kernel advances tail, we advance head. */
    _Atomic uint32_t *cq_head, *cq_tail;
    uint32_t cq_mask;
    struct io_uring_cqe *cqes;
    uint32_t tail;      /* our copy of *sq_tail */
    uint32_t inflight;  /* submitted, not yet reaped */
    void *ring;         /* the mappings, for ring_free */
    size_t ringlen, sqeslen;
};

typedef struct {
    G *g;
    long res;
} iob_req;

/* Is a seccomp filter (or strict mode) in force on this thread?  Its
 * verdict on io_uring_setup cannot be asked without making the call, and
 * a filter whose default is to kill (systemd's SystemCallFilter= without
 * SystemCallErrorNumber=, a hand-written allowlist) kills the process at
 * that call: a program that ran under it with direct calls would die at
 * its first socket read.  So iobatch is off under any filter; Docker's
 * default profile, which answers EPERM, loses nothing by it (the call
 * would have failed).  /proc unreadable: the same answer. */
static bool seccomp_filtered(void)
{
    enum { LEN = 4096 }; /* not on the stack: runtime code may have little */
    char *buf = malloc(LEN);
    if (!buf)
        return true;
    if (gort__procfs_read("/proc/thread-self/status", buf, LEN) < 0) {
        free(buf);
        return true;
    }
    const char *f = strstr(buf, "\nSeccomp:");
    bool filtered = true;
    if (f) {
        f += strlen("\nSeccomp:");
        while (*f == ' ' || *f == '\t')
            f++;
        filtered = *f != '0';
    }
    free(buf);
    return filtered;
}

/* 1 on, 0 off (config, valgrind, a seccomp filter, setup failure, an old
 * kernel, a ring closed under us), decided at the first batchable call. */
static _Atomic int iob_state = -1;

/* No ring before this (gort_nanotime): the last try at making one failed
 * for want of descriptors or memory. */
static _Atomic int64_t iob_retry;

static bool iob_on(void)
{
    int s = atomic_load_explicit(&iob_state, memory_order_relaxed);
    if (likely(s >= 0))
        return s;
    s = gort__cfg.iobatch && !RUNNING_ON_VALGRIND; /* seccomp: ring_new asks */
    atomic_store(&iob_state, s);
    return s;
}

/* Whatever ring_new got as far as making. */
static void ring_free(gort__iobatch *b)
{
    if (b->sqes)
        munmap(b->sqes, b->sqeslen);
    if (b->ring)
        munmap(b->ring, b->ringlen);
    gort__sys3(SYS_close, b->fd, 0, 0);
    free(b);
}

/* Fill the next submission entry (not yet handed to the kernel: the
 * flush publishes the tail). */
static void put_sqe(gort__iobatch *b, uint8_t op, int fd, void *buf, size_t n, int flags,
                    void *data)
{
    struct io_uring_sqe *s = &b->sqes[b->tail & b->sq_mask];
    memset(s, 0, sizeof *s);
    s->opcode = op;
    s->fd = fd;
    s->addr = (uintptr_t)buf;
    s->len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    s->msg_flags = (uint32_t)flags;
    s->user_data = (uintptr_t)data;
    b->tail++;
}

/* Does this kernel complete a MSG_DONTWAIT recv that finds nothing inside
 * the io_uring_enter that submits it (-EAGAIN), rather than arming a poll
 * and completing it later, from task work on this thread?  The whole
 * design rests on it (the file comment), so it is asked once per ring, on
 * an empty socket pair.  If not, the op left in the kernel can only ever
 * complete with 0 (its peer is closed here) and goes with the ring. */
static bool nowait_honoured(gort__iobatch *b, int *err)
{
    static char byte;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        *err = errno;
        return false;
    }
    put_sqe(b, IORING_OP_RECV, sv[0], &byte, 1, MSG_DONTWAIT, NULL);
    atomic_store_explicit(b->sq_tail, b->tail, memory_order_release);
    long r;
    do
        r = gort__sys6(SYS_io_uring_enter, b->fd, 1, 0, 0, 0, 0);
    while (r == -EINTR);
    uint32_t head = atomic_load_explicit(b->cq_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(b->cq_tail, memory_order_acquire);
    bool ok = r == 1 && tail - head == 1 && b->cqes[head & b->cq_mask].res == -EAGAIN;
    atomic_store_explicit(b->cq_head, tail, memory_order_release);
    gort__sys3(SYS_close, sv[0], 0, 0);
    gort__sys3(SYS_close, sv[1], 0, 0);
    return ok;
}

/* A ring, or NULL with *err: the errno of what failed, 0 when the kernel
 * lacks what is needed (no retry helps). */
static gort__iobatch *ring_new(int *err)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    *err = 0;
    /* Rings are made one P at a time, as each first batches: a filter
     * installed since the first look (a program that sandboxes itself
     * after its set-up) would see this call.  (A filter installed after
     * the rings exist must allow io_uring_enter: nothing here can ask.) */
    if (seccomp_filtered())
        return NULL;
    long fd = gort__sys3(SYS_io_uring_setup, IOB_ENTRIES, (long)&p, 0);
    if (fd < 0) {
        *err = (int)-fd;
        return NULL;
    }
    /* The features and ops used here: 5.5's single mmap and no-drop
     * completions, 5.6's SEND and RECV (asked through 5.6's probe). */
    enum { NOPS = IORING_OP_RECV + 1 };
    _Alignas(struct io_uring_probe) char
        prbuf[sizeof(struct io_uring_probe) + NOPS * sizeof(struct io_uring_probe_op)];
    memset(prbuf, 0, sizeof prbuf);
    struct io_uring_probe *pr = (struct io_uring_probe *)prbuf;
    if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_NODROP) ||
        gort__sys6(SYS_io_uring_register, fd, IORING_REGISTER_PROBE, (long)pr, NOPS, 0, 0) < 0 ||
        pr->last_op < IORING_OP_RECV ||
        !(pr->ops[IORING_OP_SEND].flags & IO_URING_OP_SUPPORTED) ||
        !(pr->ops[IORING_OP_RECV].flags & IO_URING_OP_SUPPORTED)) {
        gort__sys3(SYS_close, fd, 0, 0);
        return NULL;
    }
    gort__iobatch *b = calloc(1, sizeof *b);
    if (!b) {
        *err = ENOMEM;
        gort__sys3(SYS_close, fd, 0, 0);
        return NULL;
    }
    b->fd = (int)fd;
    size_t sqlen = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    size_t cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    b->ringlen = sqlen > cqlen ? sqlen : cqlen;
    b->sqeslen = p.sq_entries * sizeof(struct io_uring_sqe);
    void *ring = mmap(NULL, b->ringlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      b->fd, IORING_OFF_SQ_RING);
    void *sqes = ring == MAP_FAILED ? MAP_FAILED
                                    : mmap(NULL, b->sqeslen, PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_POPULATE, b->fd, IORING_OFF_SQES);
    b->ring = ring == MAP_FAILED ? NULL : ring;
    b->sqes = sqes == MAP_FAILED ? NULL : sqes;
    if (!b->sqes) {
        *err = ENOMEM;
        ring_free(b);
        return NULL;
    }
    char *r = b->ring;
    b->sq_head = (_Atomic uint32_t *)(r + p.sq_off.head);
    b->sq_tail = (_Atomic uint32_t *)(r + p.sq_off.tail);
    b->sq_mask = *(uint32_t *)(r + p.sq_off.ring_mask);
    b->sq_array = (uint32_t *)(r + p.sq_off.array);
    b->cq_head = (_Atomic uint32_t *)(r + p.cq_off.head);
    b->cq_tail = (_Atomic uint32_t *)(r + p.cq_off.tail);
    b->cq_mask = *(uint32_t *)(r + p.cq_off.ring_mask);
    b->cqes = (struct io_uring_cqe *)(r + p.cq_off.cqes);
    b->tail = atomic_load_explicit(b->sq_tail, memory_order_relaxed);
    /* The SQ array maps slot i to sqe i once and for all. */
    for (uint32_t i = 0; i <= b->sq_mask; i++)
        b->sq_array[i] = i;
    if (!nowait_honoured(b, err)) {
        ring_free(b);
        return NULL;
    }
    return b;
}

/* Reap every completion there is: results into their records, their
 * goroutines readied on this P (marked as readied by I/O). */
static void reap(gort__iobatch *b)
{
    uint32_t head = atomic_load_explicit(b->cq_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(b->cq_tail, memory_order_acquire);
    for (; head != tail; head++) {
        struct io_uring_cqe *c = &b->cqes[head & b->cq_mask];
        iob_req *q = (iob_req *)(uintptr_t)c->user_data;
        G *g = q->g;
        q->res = c->res;
        b->inflight--;
        g->iob_ready = true;
        gort__goready(g, false);
    }
    atomic_store_explicit(b->cq_head, head, memory_order_release);
}

/* The system call an op stands for, made now. */
static long direct(uint8_t op, int fd, void *buf, size_t n, int flags)
{
    long r;
    do
        r = gort__sys6(op == IORING_OP_RECV ? SYS_recvfrom : SYS_sendto, fd, (long)buf, (long)n,
                       flags, 0, 0);
    while (r == -EINTR);
    return r;
}

/* The ring's descriptor is gone: the program closed it (a loop over
 * /proc/self/fd closing what it did not open), and the number is free
 * (EBADF), another file's (EOPNOTSUPP) or another ring's (the call took
 * none of our entries).  The ops the kernel has not taken are still in
 * our mapping of the ring: each is made as the direct call it stands for,
 * its goroutine readied with the result, and iobatch is off from here
 * on, for every P (a program that closes one ring has closed them all, or
 * will).  The mappings stay: the number is not ours to close any more,
 * and they are a few pages. */
static GORT_NOINLINE_COLD void ring_lost(gort__iobatch *b)
{
    atomic_store(&iob_state, 0);
    reap(b); /* what completed before the descriptor went */
    for (uint32_t h = atomic_load_explicit(b->sq_head, memory_order_acquire); h != b->tail; h++) {
        struct io_uring_sqe *s = &b->sqes[h & b->sq_mask];
        iob_req *q = (iob_req *)(uintptr_t)s->user_data;
        q->res = direct(s->opcode, s->fd, (void *)(uintptr_t)s->addr, s->len, (int)s->msg_flags);
        b->inflight--;
        q->g->iob_ready = true;
        gort__goready(q->g, false);
    }
    /* Every op the kernel took completed inside the call that took it
     * (MSG_DONTWAIT), and reap has them all. */
    if (b->inflight != 0)
        gort__throw("iobatch: %u ops still in a ring that is gone", b->inflight);
    b->tail = atomic_load_explicit(b->sq_head, memory_order_relaxed);
    b->fd = -1; /* never entered again: the number may be another ring's */
}

void gort__iobatch_flush(P *pp)
{
    gort__iobatch *b = pp->iob;
    uint32_t n = atomic_load_explicit(&pp->iob_queued, memory_order_relaxed);
    if (!b || (!n && !b->inflight))
        return;
    atomic_store_explicit(&pp->iob_queued, 0, memory_order_relaxed);
    b->inflight += n;
    atomic_store_explicit(b->sq_tail, b->tail, memory_order_release);
    gort__owner_inc(&pp->niobatch);
    atomic_store_explicit(&pp->niobop, atomic_load_explicit(&pp->niobop, memory_order_relaxed) + n,
                          memory_order_relaxed);
    /* Every op completes in the call that submits it (MSG_DONTWAIT); a
     * signal may cut the call short, and what it had not submitted yet is
     * still between the kernel's head and tail.  The call waits for
     * nothing while entries are left to submit: if the number is no
     * longer our ring but another (the program closed ours, and opened
     * one), it takes none of our entries, and waiting there would be
     * waiting on someone else's completions.  Only once the kernel has
     * taken them all, and so the ring is ours, may it wait for stragglers. */
    while (b->inflight) {
        uint32_t head = atomic_load_explicit(b->sq_head, memory_order_acquire);
        uint32_t left = b->tail - head;
        long r = gort__sys6(SYS_io_uring_enter, b->fd, left, left ? 0 : b->inflight,
                            IORING_ENTER_GETEVENTS, 0, 0);
        /* Any answer but a signal that took none of our entries: not our
         * ring.  Ours (no setup flags, at most 64 ops in a CQ of 128) has
         * no cause for -EBUSY or -EAGAIN that a retry would cure sooner
         * than the direct calls, and another program's ring answers
         * -EEXIST (SINGLE_ISSUER), -EBADFD (R_DISABLED) or -EOWNERDEAD
         * (a dead SQPOLL thread) as well as EBADF and EOPNOTSUPP. */
        if (r == -EBADF || r == -EOPNOTSUPP ||
            (r != -EINTR && left &&
             atomic_load_explicit(b->sq_head, memory_order_acquire) == head)) {
            ring_lost(b);
            return;
        }
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
            gort__throw("io_uring_enter: errno %ld", -r);
        reap(b);
    }
}

/* Queue one op for fd and park until the P's next flush; the op's result
 * (a byte count or -errno).  b is the current P's ring. */
static long queue_and_park(M *m, P *pp, gort__iobatch *b, uint8_t op, int fd, void *buf,
                           size_t n, int flags)
{
    if (b->tail - atomic_load_explicit(b->sq_head, memory_order_acquire) > b->sq_mask) {
        gort__iobatch_flush(pp); /* full: submit the batch before this op */
        if (b->fd < 0)           /* ... and found the ring gone */
            return direct(op, fd, buf, n, flags | MSG_DONTWAIT);
    }
    iob_req q = {m->curg, 0};
    put_sqe(b, op, fd, buf, n, flags | MSG_DONTWAIT, &q);
    /* Owner only: a plain increment, no locked add. */
    atomic_store_explicit(&pp->iob_queued,
                          atomic_load_explicit(&pp->iob_queued, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    gort__gopark(NULL, NULL, "IO wait");
    return q.res;
}

/* The ring of the caller's P if this call may be batched, else NULL. */
static gort__iobatch *usable(M **mp, P **pp)
{
    /* A goroutine on a P first: the configuration is read by then (a
     * plain thread's call before gort_main must not decide "off"). */
    M *m = gort__m_tls;
    if (!m || !m->curg || m->syscall_depth || !m->p || m->locks || m->lockedg || !iob_on())
        return NULL;
    /* Not off the goroutine's stack (a signal handler on the alternate
     * stack: it may not park), not in a forked child (whose ring pages
     * are still shared with the parent's ring). */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (sp < m->curg->stack_lo || sp >= m->curg->stack_hi || gort__in_forked_child())
        return NULL;
    P *p = m->p;
    if (unlikely(!p->iob)) {
        int64_t now = gort__nanotime();
        if (now < atomic_load_explicit(&iob_retry, memory_order_relaxed))
            return NULL;
        int err;
        p->iob = ring_new(&err);
        if (!p->iob) {
            /* For good where the kernel says no; out of descriptors or
             * memory (RLIMIT_MEMLOCK before Linux 5.12, which a few rings
             * of every process of the user exhaust), the calls go direct
             * and one tries again 100 ms later: not a failed setup per
             * call, which would cost a server more than batching saves. */
            if (err != EMFILE && err != ENFILE && err != ENOMEM && err != EAGAIN)
                atomic_store(&iob_state, 0);
            else
                atomic_store_explicit(&iob_retry, now + 100 * 1000 * 1000, memory_order_relaxed);
            return NULL;
        }
    }
    *mp = m;
    *pp = p;
    return p->iob;
}

long gort__iobatch_recv(int fd, void *buf, size_t n)
{
    M *m;
    P *pp;
    gort__iobatch *b = usable(&m, &pp);
    if (!b)
        return gort__sys3(SYS_read, fd, (long)buf, (long)n);
    return queue_and_park(m, pp, b, IORING_OP_RECV, fd, buf, n, 0);
}

long gort__iobatch_send(int fd, const void *buf, size_t n)
{
    M *m;
    P *pp;
    gort__iobatch *b = usable(&m, &pp);
    if (!b)
        return gort__sys6(SYS_sendto, fd, (long)buf, (long)n, MSG_NOSIGNAL, 0, 0);
    return queue_and_park(m, pp, b, IORING_OP_SEND, fd, (void *)buf, n, MSG_NOSIGNAL);
}
