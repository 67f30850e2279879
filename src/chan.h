/*
 * chan.h — private to chan.c and select.c: the channel structure (Go's
 * hchan) and the few primitives both files need.  Nothing outside those two
 * files may include it; the public face of a channel is gort.h's opaque
 * gort_chan.
 *
 * Invariants (all under c->lock):
 *   - 0 <= qcount <= dataqsiz; buffered elements are the qcount slots
 *     starting at recvx, wrapping at dataqsiz; the next send goes to slot
 *     (recvx + qcount) mod dataqsiz (gort__chan_sendx).
 *   - recvq non-empty implies qcount == 0 (a receiver only waits when there
 *     is nothing to take); sendq non-empty implies qcount == dataqsiz.
 *     Select sudogs that already lost the wake-up race may sit in either
 *     queue transiently; they are skipped, so the invariant is about live
 *     waiters.
 *   - Once closed is set it never clears, and both queues are empty of
 *     live waiters (close wakes them all).
 *
 * A sudog in a queue belongs to the waiting G (it lives in that G's frame);
 * the channel only links it.  Whoever unlinks it with gort__chanq_dequeue
 * (and, for a select, wins g->selectdone) owns the right to fill in
 * sg->success / g->param and to ready the G — exactly once — and must do
 * the goready only after dropping the channel lock, because the woken G may
 * free the channel immediately.
 */
#ifndef GORT_CHAN_H
#define GORT_CHAN_H

#include "runtime.h"

#include <stddef.h>
#include <string.h>

typedef struct gort__waitq {
    gort__sudog *first, *last;
} gort__waitq;

/* Layout: the whole header is the first 64 bytes, and the channel is
 * allocated 64-byte aligned, so an operation on a channel whose other end
 * runs on another core moves one header line between the cores, not two
 * or three (a line moves in ~125 ns on the 2-vCPU AMD host, where the
 * pipeline and pool programs spent 30-45% of their samples inside channel
 * locks).  Hence the 32-bit counts (Go's hchan limits an element to
 * 64 KiB; gort_chan_make refuses an element or a capacity above
 * UINT32_MAX, EINVAL), sendx computed rather than stored, and a one-byte
 * closed flag.  The buffer follows at byte 64: with the alignment slack a
 * channel of up to 8 bytes of buffer (unbuffered, or gort_after's and
 * gort_timer's one int64) stays a 128-byte malloc chunk, within glibc's
 * fast bins; 144 bytes left them and made 100k-timer churn 70% slower
 * (bench/timers).  Elements are moved only with memcpy, so the buffer
 * needs no alignment of its own. */
struct gort_chan {
    struct gort__lock lock; /* tag, not typedef: robust to the typedef name */
    uint8_t closed;       /* written under lock; read racily by fast paths */
    uint8_t memoff;       /* the channel's offset in its malloc block (free) */
    uint32_t elemsize;    /* immutable */
    uint32_t dataqsiz;    /* capacity; immutable */
    uint32_t qcount;      /* written under lock; read racily by len/fast paths */
    uint32_t recvx;       /* ring index of the oldest element; under lock */
    gort__timer *timer;   /* gort_after's timer, owned by the channel, or NULL;
                             written before the channel is shared */
    gort__waitq recvq;    /* blocked receivers */
    gort__waitq sendq;    /* blocked senders */
    unsigned char buf[];  /* dataqsiz * elemsize bytes */
};
_Static_assert(offsetof(struct gort_chan, buf) == 64,
               "a channel's header must be exactly one cache line");

static inline void *gort__chanbuf(gort_chan *c, size_t i)
{
    return c->buf + i * (size_t)c->elemsize;
}

/* Racy-but-atomic accessors: len() and the lock-free "would block" checks
 * read these without the lock, as Go does; they are only hints there. */
static inline uint32_t gort__chan_qcount(const gort_chan *c)
{
    return __atomic_load_n(&c->qcount, __ATOMIC_RELAXED);
}
static inline void gort__chan_setqcount(gort_chan *c, uint32_t n)
{
    __atomic_store_n(&c->qcount, n, __ATOMIC_RELAXED);
}
static inline uint8_t gort__chan_closed(const gort_chan *c)
{
    return __atomic_load_n(&c->closed, __ATOMIC_ACQUIRE);
}

/* Copy one element.  A NULL source stands for the zero value; a NULL
 * destination means the value is not wanted. */
static inline void gort__elemcopy(const gort_chan *c, void *dst, const void *src)
{
    size_t n = c->elemsize;
    if (n == 0 || dst == NULL)
        return;
    /* The copy runs under the channel lock, where every cycle is paid by
     * the contending side too: word-sized elements (the common case) are
     * moved inline instead of through a libc call. */
    if (src) {
        switch (n) {
        case 4: memcpy(dst, src, 4); return;
        case 8: memcpy(dst, src, 8); return;
        case 16: memcpy(dst, src, 16); return;
        default: memcpy(dst, src, n); return;
        }
    }
    switch (n) {
    case 4: memset(dst, 0, 4); return;
    case 8: memset(dst, 0, 8); return;
    case 16: memset(dst, 0, 16); return;
    default: memset(dst, 0, n); return;
    }
}

void gort__chanq_enqueue(gort__waitq *q, gort__sudog *sg);
/* Unlink and return the first waiter that may be woken (skipping select
 * sudogs whose G was already claimed by another waker or its timeout), or
 * NULL.  Caller holds the channel lock. */
gort__sudog *gort__chanq_dequeue(gort__waitq *q);
/* Unlink sg if it is still queued (select cleanup). */
void gort__chanq_remove(gort__waitq *q, gort__sudog *sg);

/* Complete a hand-off with the waiter sg (just dequeued, c locked): copy
 * the element, set sg->success and g->param.  Return the G to ready, which
 * the caller must pass to gort__goready only after unlocking c. */
G *gort__chan_send_direct(gort_chan *c, gort__sudog *sg, const void *elem);
G *gort__chan_recv_direct(gort_chan *c, gort__sudog *sg, void *elem);
/* Complete a send (op GORT_SEND) or receive (GORT_RECV) on c now if it
 * can proceed; c locked.  Returns 1 if done (*wake: a G to ready once c is
 * unlocked, or NULL; for a receive *ok tells a value from a close), 0 if it
 * would block, -1 for a send on a closed channel (the caller unlocks and
 * throws).  The one copy of Go's "immediate" paths, for chan.c and both of
 * select's passes. */
/* Buffer operations; c locked, room / data known to be present.  Inline:
 * they are the whole critical section of a buffered send or receive. */
static inline uint32_t gort__chan_sendx(const gort_chan *c)
{
    uint64_t i = (uint64_t)c->recvx + c->qcount; /* < 2 * dataqsiz */
    return (uint32_t)(i >= c->dataqsiz ? i - c->dataqsiz : i);
}

static inline void gort__chan_bufput(gort_chan *c, const void *elem)
{
    gort__elemcopy(c, gort__chanbuf(c, gort__chan_sendx(c)), elem);
    gort__chan_setqcount(c, c->qcount + 1);
}

static inline void gort__chan_bufget(gort_chan *c, void *elem)
{
    void *slot = gort__chanbuf(c, c->recvx);
    gort__elemcopy(c, elem, slot);
    /* Clear the slot so the buffer never holds stale copies of data the
     * program believes it has handed over (matters for pointers). */
    gort__elemcopy(c, slot, NULL);
    if (++c->recvx == c->dataqsiz)
        c->recvx = 0;
    gort__chan_setqcount(c, c->qcount - 1);
}

/* The wait queues are empty on almost every immediate operation: test that
 * inline and call out only when there is someone to dequeue. */
static inline gort__sudog *gort__chanq_first_live(gort__waitq *q)
{
    return q->first ? gort__chanq_dequeue(q) : NULL;
}

/* Inline: it is the hot path of every channel operation, as the code it
 * replaced in chansend/chanrecv was. */
static inline int gort__chan_tryop(gort_chan *c, int op, void *elem, bool *ok, G **wake)
{
    *wake = NULL;
    if (op == GORT_SEND) {
        if (c->closed)
            return -1;
        gort__sudog *sg = gort__chanq_first_live(&c->recvq);
        if (sg) {
            *wake = gort__chan_send_direct(c, sg, elem);
            return 1;
        }
        if (c->qcount < c->dataqsiz) {
            gort__chan_bufput(c, elem);
            return 1;
        }
        return 0;
    }
    /* A closed channel keeps no live senders (close woke them). */
    gort__sudog *sg = c->closed ? NULL : gort__chanq_first_live(&c->sendq);
    if (sg) {
        *wake = gort__chan_recv_direct(c, sg, elem);
        *ok = true;
        return 1;
    }
    if (c->qcount > 0) {
        gort__chan_bufget(c, elem);
        *ok = true;
        return 1;
    }
    if (c->closed) {
        gort__elemcopy(c, elem, NULL);
        *ok = false;
        return 1;
    }
    return 0;
}

#endif /* GORT_CHAN_H */
