/*
 * select.c — gort_select: wait on several channel operations at once, with
 * an optional timeout (Go's select, including `default:` as timeout 0).
 *
 * The algorithm is Go's selectgo (runtime/select.go), written afresh:
 *   1. Poll order: a uniformly random permutation of the cases whose
 *      channel is not NULL (inside-out Fisher-Yates with gort__fastrandn).
 *      Pass 1 takes the first ready case in this order, which makes every
 *      ready case equally likely to fire.
 *   1b. Pass 0: the first case in poll order that looks ready from racy
 *      reads is tried under its own channel's lock alone; if it proceeds,
 *      that is the select (one lock, no sort).  Only when nothing does are
 *      all channels locked for the exact passes below.
 *   2. Lock order: the same cases sorted by channel address (heapsort, no
 *      allocation); all channels are locked in that order, each distinct
 *      channel once.  Address order is what makes it safe for two selects
 *      to lock overlapping channel sets concurrently.
 *   3. Pass 1 (locks held): find a case that can proceed now and complete it
 *      exactly like chan.c would.
 *   4. Nothing ready: with timeout 0 return -1.  Otherwise pass 2 queues one
 *      sudog (isselect) per case on its channel, links them on g->waiting
 *      in lock order, and parks.  The park callback runs on g0 once the G
 *      is marked waiting; it arms the timeout timer (if any) and only then
 *      drops the channel locks, so that no waker — channel or timer — can
 *      reach the G before the timer is armed, and the G never runs its
 *      post-wake deltimer before the addtimer.
 *   5. Whoever wakes the G first wins g->selectdone (0 -> 1): a channel
 *      waker inside gort__chanq_dequeue, or the timer callback.  Losers
 *      leave the G alone.  The winner records the completed sudog in
 *      g->param (NULL for the timer).
 *   6. After waking: disarm the timer with no lock held (gort__deltimer
 *      waits for a callback in flight, so none can touch the G after
 *      this), relock the channels (all but the one that woke us, when
 *      no other case names it: select_skip), unlink the sudogs that did
 *      not fire, reset selectdone, unlock, report.
 *
 * Ownership: cases[], the sudogs and the order arrays belong to the caller's
 * frame for the whole call; a waker touches a sudog only while it holds
 * that sudog's channel lock and (for the winner) until it readies the G.
 * Up to SELECT_STACK_CASES cases everything lives on the stack; beyond
 * that one malloc holds sudogs and orders (rejected: VLAs, which turn a big
 * n into a silent overflow of a fixed-size goroutine stack).
 *
 * Lock order: channel locks by ascending address, then timerslock (inside
 * gort__addtimer).  gort__deltimer runs with no lock held.
 */
#include "chan.h"

#include <limits.h>
#include <stdlib.h>

#define SELECT_STACK_CASES 16

typedef struct selstate {
    gort_case *cases;
    uint32_t *lockorder;
    size_t nlock;
    int64_t deadline; /* < 0: no timer */
} selstate;

/* ---------------------------------------------------------------------
 * Locking all channels of the select
 * ------------------------------------------------------------------- */

/* Lock every distinct channel but `skip` (NULL: all), in lock order. */
static void sellock_but(const selstate *s, const gort_chan *skip)
{
    gort_chan *last = NULL;
    for (size_t i = 0; i < s->nlock; i++) {
        gort_chan *c = s->cases[s->lockorder[i]].chan;
        if (c != last && c != skip)
            gort__lock(&c->lock);
        last = c;
    }
}

static void selunlock_but(const selstate *s, const gort_chan *skip)
{
    /* Reverse order; each distinct channel once (duplicates are adjacent). */
    for (size_t i = s->nlock; i-- > 0;) {
        gort_chan *c = s->cases[s->lockorder[i]].chan;
        if ((i > 0 && s->cases[s->lockorder[i - 1]].chan == c) || c == skip)
            continue;
        gort__unlock(&c->lock);
    }
}

static void sellock(const selstate *s)
{
    sellock_but(s, NULL);
}

static void selunlock(const selstate *s)
{
    selunlock_but(s, NULL);
}

/* After a channel woke the select through sudog `won`: the channel whose
 * lock the cleanup can skip, or NULL.  The waker unlinked `won` under that
 * channel's lock, and if no other case names the channel no other sudog
 * of ours is queued there, so no waker can reach us through it.  Go
 * relocks it anyway; skipping it saves one lock round trip per woken
 * select on the busiest channel (the worker pool's `jobs`, shared with the
 * producer on the other core). */
static const gort_chan *select_skip(const selstate *s, const gort__sudog *won)
{
    if (won == NULL)
        return NULL; /* the timeout: every sudog is still queued */
    const gort_chan *c = won->c;
    size_t uses = 0;
    for (size_t i = 0; i < s->nlock; i++)
        uses += s->cases[s->lockorder[i]].chan == c;
    return uses == 1 ? c : NULL;
}

/* Heapsort of lockorder by channel address: O(n log n) and in place. */
static void sift_down(gort_case *cases, uint32_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n &&
            (uintptr_t)cases[a[child + 1]].chan > (uintptr_t)cases[a[child]].chan)
            child++;
        if ((uintptr_t)cases[a[root]].chan >= (uintptr_t)cases[a[child]].chan)
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void sort_lockorder(gort_case *cases, uint32_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(cases, a, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(cases, a, 0, end);
    }
}

/* ---------------------------------------------------------------------
 * Parking and the timeout
 * ------------------------------------------------------------------- */

static void select_timeout(void *arg, uint64_t seq)
{
    (void)seq;
    G *g = arg;
    uint32_t zero = 0;
    /* Losing means a channel already completed the select and will (or
     * did) ready the G; the G itself disarms us before it returns. */
    if (atomic_compare_exchange_strong(&g->selectdone, &zero, 1)) {
        g->param = NULL;
        gort__goready(g, false);
    }
}

static bool selparkcommit(G *g, void *arg)
{
    selstate *s = arg;
    /* Read before the timer is armed: with no channel locked nothing holds
     * the G back once the timer fires, and it may leave gort_select (whose
     * frame holds `s`) while we are still here. */
    size_t nlock = s->nlock;
    if (s->deadline >= 0)
        gort__armtimer(&g->timer, s->deadline, select_timeout, g, ++g->timerseq);
    /* With channels locked: past the first unlock a waker may ready the G,
     * and `s` lives in its frame.  Its first act is to relock the
     * channels, which includes the lowest one, unlocked last here -- or,
     * when the lowest is the one that woke it and is skipped
     * (select_skip), that waker got in only after that last unlock.
     * Either way `s` stays valid until we are done. */
    if (nlock)
        selunlock(s);
    return true;
}

/* ---------------------------------------------------------------------
 * One case
 * ------------------------------------------------------------------- */

/* Lock-free hint that cs could proceed (racy reads, as Go's fast paths
 * do); only ever followed by a check under the channel's lock. */
static bool looks_ready(const gort_case *cs)
{
    const gort_chan *c = cs->chan;
    if (__atomic_load_n(&c->closed, __ATOMIC_RELAXED))
        return true;
    if (cs->op == GORT_SEND)
        return __atomic_load_n(&c->recvq.first, __ATOMIC_RELAXED) != NULL ||
               gort__chan_qcount(c) < c->dataqsiz;
    return gort__chan_qcount(c) > 0 ||
           __atomic_load_n(&c->sendq.first, __ATOMIC_RELAXED) != NULL;
}

/* ---------------------------------------------------------------------
 * gort_select
 * ------------------------------------------------------------------- */

int gort_select(gort_case *cases, size_t n, int64_t timeout_ns)
{
    if (n > (size_t)INT_MAX / 2)
        gort__throw("select: too many cases (%zu)", n);
    /* A preemption point even when it must not block (see chansend). */
    if (timeout_ns != 0)
        gort__preempt_check();
    else
        gort__preempt_check_call();

    gort__sudog sg_stack[SELECT_STACK_CASES];
    uint32_t order_stack[2 * SELECT_STACK_CASES];
    gort__sudog *sgs = sg_stack;
    uint32_t *pollorder = order_stack;
    void *heap = NULL;
    if (n > SELECT_STACK_CASES) {
        heap = malloc(n * (sizeof(gort__sudog) + 2 * sizeof(uint32_t)));
        if (heap == NULL)
            gort__throw("select: out of memory for %zu cases", n);
        sgs = heap;
        pollorder = (uint32_t *)(sgs + n);
    }
    uint32_t *lockorder = pollorder + n;

    /* 1. Random poll order over the non-NULL cases. */
    size_t norder = 0;
    for (size_t i = 0; i < n; i++) {
        if (cases[i].chan == NULL)
            continue;
        if (cases[i].op != GORT_SEND && cases[i].op != GORT_RECV)
            gort__throw("select: case %zu has invalid op %d", i, cases[i].op);
        uint32_t j = gort__fastrandn((uint32_t)norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint32_t)i;
        norder++;
    }

    int casi = -1;
    selstate s = {
        .cases = cases, .lockorder = lockorder, .nlock = norder, .deadline = -1,
    };
    if (timeout_ns > 0) {
        int64_t now = gort__nanotime();
        s.deadline = timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
    }

    /* 3a. Pass 0: the first case that looks ready, locking only its own
     * channel.  The common select (something is ready) then costs one lock
     * instead of all of them, and no sort.  Same random order, so the
     * choice is as uniform as pass 1's; a case that looked ready but is not
     * under its lock is simply passed over. */
    for (size_t k = 0; k < norder; k++) {
        uint32_t i = pollorder[k];
        gort_case *cs = &cases[i];
        gort_chan *c = cs->chan;
        if (!looks_ready(cs))
            continue;
        gort__lock(&c->lock);
        G *wake;
        int r = gort__chan_tryop(c, cs->op, cs->elem, &cs->ok, &wake);
        gort__unlock(&c->lock);
        if (r < 0)
            gort__throw("send on closed channel");
        if (r > 0) {
            if (wake)
                gort__goready(wake, true);
            casi = (int)i;
            goto out;
        }
    }

    /* 2. Lock order. */
    for (size_t i = 0; i < norder; i++)
        lockorder[i] = pollorder[i];
    sort_lockorder(cases, lockorder, norder);

    sellock(&s);

    /* 3b. Pass 1, every channel locked: the first ready case in poll order. */
    for (size_t k = 0; k < norder; k++) {
        uint32_t i = pollorder[k];
        G *wake;
        int r = gort__chan_tryop(cases[i].chan, cases[i].op, cases[i].elem, &cases[i].ok, &wake);
        if (r < 0) {
            selunlock(&s);
            gort__throw("send on closed channel");
        }
        if (r > 0) {
            selunlock(&s);
            if (wake)
                gort__goready(wake, true);
            casi = (int)i;
            goto out;
        }
    }

    if (timeout_ns == 0) {
        selunlock(&s);
        goto out;
    }

    /* 4. Pass 2: queue on every channel, in lock order. */
    G *me = gort__getg();
    if (me == NULL) {
        selunlock(&s);
        gort__throw("out of memory creating the calling thread's goroutine state");
    }
    /* Relaxed (a plain mov, not seq_cst's xchg): every waker that could
     * CAS it takes one of the channel locks held here first, and the
     * timer is armed only in selparkcommit, so the locks' release orders
     * it.  A full barrier here drained the store buffer on every parking
     * select (8.8% of gort_select's samples in the 1000-worker pool). */
    atomic_store_explicit(&me->selectdone, 0, memory_order_relaxed);
    gort__sudog **link = &me->waiting;
    for (size_t k = 0; k < norder; k++) {
        uint32_t i = lockorder[k];
        gort__sudog *sg = &sgs[i];
        *sg = (gort__sudog){0};
        sg->g = me;
        sg->isselect = true;
        sg->elem = cases[i].elem;
        sg->c = cases[i].chan;
        *link = sg;
        link = &sg->waitlink;
        gort__chanq_enqueue(cases[i].op == GORT_SEND ? &cases[i].chan->sendq
                                                     : &cases[i].chan->recvq,
                            sg);
    }
    *link = NULL;
    me->param = NULL;

    const char *reason = norder ? "select" : "select (no cases)";
    gort__gopark(selparkcommit, &s, reason);

    /* 6. Woken.  No callback may run against the G after this. */
    if (s.deadline >= 0)
        gort__deltimer(&me->timer);

    /* param is the waker's, published by its goready before we ran. */
    gort__sudog *won = me->param;
    if (won != NULL && (won < sgs || won >= sgs + n))
        gort__throw("select: woken by a foreign sudog %p", (void *)won);
    const gort_chan *skip = select_skip(&s, won);
    sellock_but(&s, skip);
    me->param = NULL;
    /* Relaxed, as above: the locks of every channel where a sudog of ours
     * may still be queued are held (select_skip), the timer is disarmed,
     * and no sudog of this select stays queued past the unlock. */
    atomic_store_explicit(&me->selectdone, 0, memory_order_relaxed);
    for (size_t k = 0; k < norder; k++) {
        uint32_t i = lockorder[k];
        gort__sudog *sg = &sgs[i];
        if (sg == won)
            continue; /* its waker unlinked it */
        gort_chan *c = cases[i].chan;
        gort__chanq_remove(cases[i].op == GORT_SEND ? &c->sendq : &c->recvq, sg);
    }
    me->waiting = NULL;
    selunlock_but(&s, skip);

    if (won == NULL) {
        if (s.deadline < 0)
            gort__throw("select: woken without a case and without a timeout");
        goto out; /* timed out */
    }
    casi = (int)(won - sgs);
    if (cases[casi].op == GORT_SEND) {
        if (!won->success)
            gort__throw("send on closed channel");
    } else {
        cases[casi].ok = won->success;
    }

out:
    free(heap);
    return casi;
}
