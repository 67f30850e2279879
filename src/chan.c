/*
 * chan.c — channels (Go's hchan): make/free, blocking and non-blocking
 * send and receive, close, len/cap, and gort_after (time.After).
 *
 * Design (the reference is Go's runtime/chan.go; this is an independent C
 * rendering of the same algorithm):
 *   - One runtime futex lock per channel guards everything mutable in it.
 *     A send first looks for a parked receiver and, if there is one, copies
 *     the value straight into the receiver's destination (which lives on the
 *     receiver's stack or in its own memory) and readies it; only without a
 *     waiting receiver does it use the ring buffer, and only with a full (or
 *     absent) buffer does it park.  Receive is the mirror image, except that
 *     a receive from a full buffer with a parked sender takes the head and
 *     moves the sender's value into the freed tail slot, which keeps FIFO
 *     order across buffer and waiters.
 *   - Waiters are sudogs in the waiting goroutine's own stack frame.  A
 *     parked G's frame cannot go away until it is readied, and the waker
 *     is the only one allowed to ready it, so the frame is a safe home for
 *     the sudog and waiting costs no allocation and cannot fail.  (Rejected:
 *     Go's per-P sudog caches — they exist because Go's stacks move; ours
 *     never do.  Also rejected: a heap sudog per wait, which would make a
 *     blocking send fail on ENOMEM, something Go's API cannot express.)
 *   - Parking goes through gort__gopark with an unlock callback, so the
 *     channel lock is released only after the G is marked waiting: a waker
 *     that takes the lock afterwards always finds a G that goready accepts.
 *     Foreign threads are pseudo-Gs and take exactly the same path.
 *   - Wakers fill in g->param (the sudog) and sg->success, drop the lock and
 *     only then call goready: the woken G may free the channel as soon as it
 *     runs, so nothing may touch the channel after the ready.
 *   - A select sudog (isselect) is shared among several channels' queues;
 *     gort__chanq_dequeue claims its G with a CAS on g->selectdone and skips
 *     sudogs whose G another channel, or the select's timeout, already
 *     claimed.  select.c removes the leftovers.
 *
 * Lock order: a channel lock is taken before any sema/timer/scheduler lock
 * (runtime.h).  chan.c holds one channel lock at a time; select.c holds
 * several, always in ascending address order.  Timer callbacks run with no
 * timer lock held, so gort_after's callback may take the channel lock.
 *
 * Ownership: the channel owns its buffer (same allocation) and, for
 * gort_after, its timer; gort_chan_free disarms the timer (waiting for a
 * callback in flight) before freeing both.
 */
#include "chan.h"

#include <stdlib.h>

static void after_fire(void *arg, uint64_t seq);

/* ---------------------------------------------------------------------
 * Wait queues
 * ------------------------------------------------------------------- */

void gort__chanq_enqueue(gort__waitq *q, gort__sudog *sg)
{
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        q->first = sg;
    q->last = sg;
}

static void unlink_sudog(gort__waitq *q, gort__sudog *sg)
{
    if (sg->prev)
        sg->prev->next = sg->next;
    else
        q->first = sg->next;
    if (sg->next)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    /* Both links NULL and not first: gort__chanq_remove's "not queued". */
    sg->next = sg->prev = NULL;
}

gort__sudog *gort__chanq_dequeue(gort__waitq *q)
{
    for (;;) {
        gort__sudog *sg = q->first;
        if (sg == NULL)
            return NULL;
        unlink_sudog(q, sg);
        if (sg->isselect) {
            /* The select is parked on several channels (and maybe a
             * timer); only the first claimant may complete it.  Losing
             * means the G is already being woken elsewhere: this sudog is
             * dead weight that select.c would remove anyway. */
            uint32_t zero = 0;
            if (!atomic_compare_exchange_strong(&sg->g->selectdone, &zero, 1))
                continue;
        }
        return sg;
    }
}

void gort__chanq_remove(gort__waitq *q, gort__sudog *sg)
{
    if (sg->prev == NULL && q->first != sg)
        return; /* already dequeued by a waker (won or lost) */
    unlink_sudog(q, sg);
}

/* ---------------------------------------------------------------------
 * Element movement (c locked)
 * ------------------------------------------------------------------- */

G *gort__chan_send_direct(gort_chan *c, gort__sudog *sg, const void *elem)
{
    /* The receiver's destination is only written while it is parked and
     * we are its sole waker, so the copy needs no further synchronisation;
     * goready's status hand-off publishes it. */
    gort__elemcopy(c, sg->elem, elem);
    G *g = sg->g;
    sg->success = true;
    g->param = sg;
    return g;
}

G *gort__chan_recv_direct(gort_chan *c, gort__sudog *sg, void *elem)
{
    if (c->dataqsiz == 0) {
        gort__elemcopy(c, elem, sg->elem);
    } else {
        /* Buffer full (a sender waits): take the oldest value and put the
         * sender's value at the tail, which is the slot just freed. */
        void *slot = gort__chanbuf(c, c->recvx);
        gort__elemcopy(c, elem, slot);
        gort__elemcopy(c, slot, sg->elem);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        /* qcount stays dataqsiz: the next send slot is recvx again. */
    }
    G *g = sg->g;
    sg->success = true;
    g->param = sg;
    return g;
}

/* ---------------------------------------------------------------------
 * Make / free / len / cap
 * ------------------------------------------------------------------- */

gort_chan *gort_chan_make(size_t elem_size, size_t cap)
{
    size_t bytes;
    if (elem_size > UINT32_MAX || cap > UINT32_MAX ||
        __builtin_mul_overflow(elem_size, cap, &bytes) ||
        __builtin_add_overflow(bytes, offsetof(gort_chan, buf), &bytes) ||
        bytes > (size_t)PTRDIFF_MAX) {
        errno = EINVAL;
        return NULL;
    }
    /* Aligned to a cache line (chan.h: the header is one line) by hand,
     * malloc's 16-byte alignment plus 48 bytes of slack: posix_memalign's
     * split of a larger chunk made skynet, which makes 111k channels, 5%
     * slower than this malloc fast path (and chan.h keeps small channels
     * in glibc's fast bins).  Only the header
     * is zeroed: a buffer slot is always written before it is read, so a
     * large buffer's pages stay untouched until used. */
    enum { SLACK = 64 - _Alignof(max_align_t) };
    if (__builtin_add_overflow(bytes, SLACK, &bytes)) {
        errno = EINVAL;
        return NULL;
    }
    void *mem = malloc(bytes);
    if (mem == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    gort_chan *c = (gort_chan *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    memset(c, 0, offsetof(gort_chan, buf));
    c->memoff = (uint8_t)((char *)c - (char *)mem);
    c->elemsize = (uint32_t)elem_size;
    c->dataqsiz = (uint32_t)cap;
    return c;
}

void gort_chan_free(gort_chan *c)
{
    if (c == NULL)
        return;
    if (c->timer) {
        /* A gort_timer's channel is freed with its timer (timer.c). */
        if (c->timer->f != after_fire)
            gort__throw("free of a gort_timer's or gort_ticker's channel");
        /* Waits for a callback in flight, which may be sending on c. */
        gort__deltimer(c->timer);
        free(c->timer);
    }
    free((char *)c - c->memoff);
}

size_t gort_chan_len(const gort_chan *c)
{
    return c ? gort__chan_qcount(c) : 0;
}

size_t gort_chan_cap(const gort_chan *c)
{
    return c ? c->dataqsiz : 0;
}

/* ---------------------------------------------------------------------
 * Send
 * ------------------------------------------------------------------- */

static G *self_or_throw(void)
{
    G *g = gort__getg();
    if (g == NULL)
        gort__throw("out of memory creating the calling thread's goroutine state");
    return g;
}

/* Block the caller on c's queue q until a peer completes the operation
 * (or close wakes it); c locked, unlocked on return.  elem is what the
 * peer copies from (send) or into (receive): it stays valid because the
 * caller is parked until the copy is done.  Returns the sudog's success:
 * false when close woke it.  Always inlined: as an out-of-line call it
 * cost the ping-pong benchmark 5% (139 vs 132 ns per round trip, each of
 * which parks twice). */
static inline __attribute__((always_inline)) bool
chan_wait(gort_chan *c, gort__waitq *q, void *elem, const char *reason)
{
    G *me = self_or_throw();
    gort__sudog mysg = {0};
    mysg.g = me;
    mysg.elem = elem;
    mysg.c = c;
    me->param = NULL;
    gort__chanq_enqueue(q, &mysg);
    gort__goparkunlock(&c->lock, reason);
    if (me->param != &mysg)
        gort__throw("%s: woken without its sudog (param=%p)", reason, me->param);
    me->param = NULL;
    return mysg.success;
}

static void park_forever(const char *reason)
{
    gort__gopark(NULL, NULL, reason);
    gort__throw("unreachable: woken from a wait on a nil channel");
}

static bool chansend(gort_chan *c, const void *elem, bool block)
{
    if (c == NULL) {
        if (!block)
            return false;
        park_forever("chan send (nil chan)");
    }
    /* Every call is a preemption point, the non-blocking ones too: a loop
     * of them spends nearly all its time in here, where the signal cannot
     * stop it, and held its P for seconds (an adversarial hunt: a
     * goroutine runnable for 1.8 s beside a select-default loop).  Go's
     * prologue check stops such a loop at its next call.  _call: not from
     * a signal handler on the alternate stack. */
    if (block)
        gort__preempt_check();
    else
        gort__preempt_check_call();

    /* Lock-free "would block" test for trysend.  Reading closed before
     * fullness is the safe order: if the channel was open and full at the
     * instant closed was read, reporting "not sent" is a correct outcome of
     * a non-blocking send at that instant, even if it closes later. */
    if (!block && gort__chan_closed(c) == 0 &&
        ((c->dataqsiz == 0 && __atomic_load_n(&c->recvq.first, __ATOMIC_RELAXED) == NULL) ||
         (c->dataqsiz > 0 && gort__chan_qcount(c) == c->dataqsiz)))
        return false;

    gort__lock(&c->lock);
    G *wake;
    int r = gort__chan_tryop(c, GORT_SEND, (void *)elem, NULL, &wake);
    if (r != 0) {
        gort__unlock(&c->lock);
        if (r < 0)
            gort__throw("send on closed channel");
        if (wake)
            gort__goready(wake, true);
        return true;
    }
    if (!block) {
        gort__unlock(&c->lock);
        return false;
    }

    /* The receiver copies straight out of the caller's value. */
    if (!chan_wait(c, &c->sendq, (void *)elem, "chan send"))
        gort__throw("send on closed channel");
    return true;
}

void gort_chan_send(gort_chan *c, const void *elem)
{
    chansend(c, elem, true);
}

bool gort_chan_trysend(gort_chan *c, const void *elem)
{
    return chansend(c, elem, false);
}

/* ---------------------------------------------------------------------
 * Receive.  Returns whether it completed; *ok is false when the channel
 * was closed and drained.
 * ------------------------------------------------------------------- */

static bool chanrecv(gort_chan *c, void *elem, bool block, bool *ok)
{
    *ok = false;
    if (c == NULL) {
        if (!block)
            return false;
        park_forever("chan receive (nil chan)");
    }
    if (block) /* and the non-blocking ones: see chansend */
        gort__preempt_check();
    else
        gort__preempt_check_call();

    if (!block) {
        /* Lock-free "would block" test.  Emptiness is read before closed;
         * if the channel then turns out closed, emptiness must be checked
         * again, since a value may have been sent and the channel closed in
         * between, and a closed channel must still yield its values. */
        bool empty = c->dataqsiz == 0
                         ? __atomic_load_n(&c->sendq.first, __ATOMIC_RELAXED) == NULL
                         : gort__chan_qcount(c) == 0;
        if (empty) {
            if (gort__chan_closed(c) == 0)
                return false;
            empty = c->dataqsiz == 0 ||
                    __atomic_load_n(&c->qcount, __ATOMIC_ACQUIRE) == 0;
            if (empty) {
                gort__elemcopy(c, elem, NULL);
                return true;
            }
        }
    }

    gort__lock(&c->lock);
    G *wake;
    if (gort__chan_tryop(c, GORT_RECV, elem, ok, &wake)) {
        gort__unlock(&c->lock);
        if (wake)
            gort__goready(wake, true);
        return true;
    }
    if (!block) {
        gort__unlock(&c->lock);
        return false;
    }

    *ok = chan_wait(c, &c->recvq, elem, "chan receive"); /* close zeroed *elem already */
    return true;
}

bool gort_chan_recv(gort_chan *c, void *elem)
{
    bool ok;
    chanrecv(c, elem, true, &ok);
    return ok;
}

bool gort_chan_tryrecv(gort_chan *c, void *elem, bool *ok)
{
    bool okv;
    bool done = chanrecv(c, elem, false, &okv);
    if (ok)
        *ok = okv;
    return done;
}

/* ---------------------------------------------------------------------
 * Close
 * ------------------------------------------------------------------- */

void gort_chan_close(gort_chan *c)
{
    if (c == NULL)
        gort__throw("close of nil channel");
    /* Its timer owns the sending side (Go's time.After channel is
     * receive-only, so this cannot even compile there). */
    if (c->timer)
        gort__throw(c->timer->f == after_fire ? "close of a gort_after channel"
                                              : "close of a gort_timer's or gort_ticker's channel");
    gort__lock(&c->lock);
    if (c->closed) {
        gort__unlock(&c->lock);
        gort__throw("close of closed channel");
    }
    __atomic_store_n(&c->closed, 1, __ATOMIC_RELEASE);

    /* Collect every waiter first and ready them after unlocking (a woken G
     * may free c at once).  The dequeued sudogs are chained through their
     * own next field: they stay valid until their G is readied. */
    gort__sudog *wake = NULL, **tail = &wake;
    gort__sudog *sg;
    while ((sg = gort__chanq_dequeue(&c->recvq)) != NULL) {
        gort__elemcopy(c, sg->elem, NULL);
        sg->success = false;
        sg->g->param = sg;
        *tail = sg;
        tail = &sg->next;
    }
    while ((sg = gort__chanq_dequeue(&c->sendq)) != NULL) {
        sg->success = false; /* the sender throws "send on closed channel" */
        sg->g->param = sg;
        *tail = sg;
        tail = &sg->next;
    }
    *tail = NULL;
    gort__unlock(&c->lock);

    while (wake) {
        gort__sudog *next = wake->next;
        G *g = wake->g;
        gort__goready(g, false); /* wake may be gone after this */
        wake = next;
    }
}

/* ---------------------------------------------------------------------
 * gort_after
 * ------------------------------------------------------------------- */

void gort__chan_prefetch_receiver(const gort_chan *c)
{
    gort__sudog *w = __atomic_load_n(&c->recvq.first, __ATOMIC_RELAXED);
    if (w)
        __builtin_prefetch(w, 1);
}

void gort__chan_set_timer(gort_chan *c, gort__timer *t)
{
    c->timer = t;
}

static void after_fire(void *arg, uint64_t seq)
{
    (void)seq;
    gort_chan *c = arg;
    int64_t now = c->timer->fired; /* in deadline order (time.c) */
    /* Capacity 1 and a single firing: this never finds the buffer full,
     * and it must never block on a timer M in any case. */
    gort_chan_trysend(c, &now);
}

gort_chan *gort_after(int64_t ns)
{
    gort_chan *c = gort_chan_make(sizeof(int64_t), 1);
    if (c == NULL)
        return NULL;
    gort__timer *t = calloc(1, sizeof *t);
    if (t == NULL) {
        gort_chan_free(c);
        errno = ENOMEM;
        return NULL;
    }
    int64_t now = gort__nanotime();
    if (ns < 0)
        ns = 0;
    t->when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
    t->f = after_fire;
    t->arg = c;
    c->timer = t; /* before arming: the callback may run at once */
    gort__addtimer(t);
    return c;
}
