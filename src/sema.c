/*
 * sema.c — the runtime's address-keyed semaphores and the ticket-ordered
 * notify list behind gort_cond (the design of Go's runtime/sema.go).
 *
 * A semaphore is any uint32_t in user memory (gort_mutex.sema,
 * gort_waitgroup.sema): its value is the count of available wakeups.  It has
 * no storage of its own for waiters; instead a fixed table of roots, hashed
 * by the word's address, holds the queues.  This keeps every sync object a
 * few plain integers that are ready when zeroed, and costs nothing until a
 * waiter actually has to block.
 *
 * Data structures and ownership.
 *   semtable[]  SEMTAB_SIZE roots, one cache line each.  A root owns
 *               `lock`, `nwait` (waiters queued under it, all addresses)
 *               and a list of "head" sudogs, one per distinct address that
 *               has waiters, linked through sudog.next/prev.
 *   per address the head sudog starts a FIFO chain through sudog.waitlink;
 *               the head keeps the chain's tail in sudog.elem (sema has no
 *               element to carry, so the field is free; the alternative was
 *               growing the shared sudog struct for one user).
 *   sudogs      live on the waiting G's stack (or the foreign thread's
 *               stack) for the whole wait.  While queued they belong to the
 *               root and are touched only under its lock; once dequeued they
 *               belong to the single waker until it calls gort__goready, and
 *               after that to their owner again — a waker never touches a
 *               sudog after readying it, because the frame may be gone.
 *               release_dequeue chains the ones it dequeued through
 *               waitlink (cleared by dequeue) until its caller readies them.
 *   gort_cond   wait/notify are ticket counters changed atomically (notify
 *               only under the cond's lock); head/tail is a singly linked
 *               list of parked sudogs through sudog.next, guarded by the
 *               cond's lock word.
 *
 * Invariants.
 *   - root->nwait >= number of sudogs queued under the root; it is raised
 *     before the final acquire attempt and lowered only by the dequeuer, so
 *     a releaser that sees nwait == 0 after bumping the count knows that any
 *     later waiter will see the bumped count (both sides are seq_cst: this
 *     is the Dekker pair that lets release skip the lock entirely).
 *   - A dequeued sudog has ticket == 1 iff the releaser consumed a unit of
 *     the count on its behalf (direct handoff); the woken G must not try to
 *     acquire again.
 *   - cond tickets are compared modulo 2^32 (wrap-safe ordering).
 *
 * Lock order: a root lock and a cond lock are leaves with respect to each
 * other (never held together); both come after channel locks and before
 * the scheduler's locks (gort__goready may take sched.lock).  We ready Gs
 * after dropping our lock anyway, to keep the critical sections short.
 *
 * Alternatives rejected.
 *   - Go's per-root treap of addresses: O(log n) for many distinct blocked
 *     addresses colliding in one root.  With 251 roots the lists are tiny
 *     in practice, and a list is far simpler to get right; a treap can be
 *     dropped in behind queue()/dequeue() if profiles ever say otherwise.
 *   - One futex per object: does not work for goroutines (they must park,
 *     not block their M), and gives no FIFO/LIFO control for the mutex.
 *   - A single global wait list: every release would scan waiters of
 *     unrelated objects.
 */
#include "runtime.h"

#include <string.h>

#define SEMTAB_SIZE 251 /* prime, so address strides do not alias roots */

typedef struct semaroot {
    gort__mutex lock;
    _Atomic uint32_t nwait;
    gort__sudog *heads; /* one sudog per waited-on address; guarded by lock */
} __attribute__((aligned(GORT_CACHELINE))) semaroot;

static semaroot semtable[SEMTAB_SIZE];

/* The cond's public `lock` field is a plain uint32_t so gort.h need not
 * expose runtime types; we use it as a gort__mutex in place. */
_Static_assert(sizeof(gort__mutex) == sizeof(((gort_cond *)0)->lock),
               "gort_cond.lock must be able to hold a gort__mutex");
_Static_assert(_Alignof(gort__mutex) <= _Alignof(uint32_t),
               "gort_cond.lock is not aligned enough for a gort__mutex");

static inline semaroot *semroot(const uint32_t *addr)
{
    /* Drop the low bits: semaphore words are 4-byte aligned and usually
     * sit in 8-byte-aligned objects. */
    return &semtable[((uintptr_t)addr >> 3) % SEMTAB_SIZE];
}

/* Take one unit if there is one. */
static inline bool cansemacquire(uint32_t *addr)
{
    uint32_t v = __atomic_load_n(addr, __ATOMIC_SEQ_CST);
    while (v != 0) {
        if (__atomic_compare_exchange_n(addr, &v, v - 1, true,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return true;
    }
    return false;
}

static inline gort__sudog *chain_tail(gort__sudog *head)
{
    return (gort__sudog *)head->elem;
}

/* Put `to` where `from` is in the root's head list. */
static void head_replace(semaroot *root, gort__sudog *from, gort__sudog *to)
{
    to->prev = from->prev;
    to->next = from->next;
    if (to->prev)
        to->prev->next = to;
    else
        root->heads = to;
    if (to->next)
        to->next->prev = to;
    from->next = from->prev = NULL;
}

static gort__sudog *head_find(semaroot *root, const uint32_t *addr)
{
    gort__sudog *h = root->heads;
    while (h && h->semaaddr != addr)
        h = h->next;
    return h;
}

/* Queue s for addr.  Caller holds root->lock. */
static void queue(semaroot *root, uint32_t *addr, gort__sudog *s, G *gp, bool lifo)
{
    s->g = gp;
    s->semaaddr = addr;
    s->ticket = 0;
    s->next = s->prev = s->waitlink = NULL;
    s->elem = NULL;

    gort__sudog *h = head_find(root, addr);
    if (!h) {
        s->next = root->heads;
        if (s->next)
            s->next->prev = s;
        root->heads = s;
        return;
    }
    if (lifo) {
        /* s becomes the head; the old head's chain follows it. */
        head_replace(root, h, s);
        s->waitlink = h;
        s->elem = chain_tail(h) ? chain_tail(h) : h;
        h->elem = NULL;
        return;
    }
    gort__sudog *t = chain_tail(h);
    if (t)
        t->waitlink = s;
    else
        h->waitlink = s;
    h->elem = s;
}

/* Remove and return the first waiter for addr, NULL if none.  Caller holds
 * root->lock. */
static gort__sudog *dequeue(semaroot *root, const uint32_t *addr)
{
    gort__sudog *s = head_find(root, addr);
    if (!s)
        return NULL;
    gort__sudog *n = s->waitlink;
    if (n) {
        head_replace(root, s, n);
        n->elem = chain_tail(s) == n ? NULL : chain_tail(s);
    } else {
        if (s->prev)
            s->prev->next = s->next;
        else
            root->heads = s->next;
        if (s->next)
            s->next->prev = s->prev;
        s->next = s->prev = NULL;
    }
    s->waitlink = NULL;
    s->elem = NULL;
    return s;
}

void gort__semacquire(uint32_t *addr, bool lifo, const char *reason)
{
    if (cansemacquire(addr))
        return;
    gort__preempt_check();

    G *gp = gort__getg();
    if (unlikely(gp == NULL))
        gort__throw("semacquire: cannot allocate a waiter for this thread");

    semaroot *root = semroot(addr);
    gort__sudog s;
    memset(&s, 0, sizeof s);
    for (;;) {
        gort__lock(&root->lock);
        atomic_fetch_add(&root->nwait, 1);
        /* Re-check after announcing ourselves: a release that bumped the
         * count before it could see our nwait is caught here. */
        if (cansemacquire(addr)) {
            atomic_fetch_sub(&root->nwait, 1);
            gort__unlock(&root->lock);
            return;
        }
        queue(root, addr, &s, gp, lifo);
        gort__goparkunlock(&root->lock, reason);
        /* Woken: either the releaser handed us its unit, or it only bumped
         * the count and we race for it like anyone else (barging). */
        if (s.ticket != 0 || cansemacquire(addr))
            return;
    }
}

/* After a direct handoff, let the woken G (now in our P's runnext) run at
 * once so the resource is not held idle while we finish our time slice. */
static void handoff_yield(void)
{
    M *m = gort__getm();
    if (!m || !m->curg || m->locks != 0 || m->curg->preempt_off != 0)
        return;
    gort__gosched();
}

/* Add n to *addr and dequeue up to n of its waiters (fewer if fewer are
 * queued: the rest will find their units in the count), chained oldest
 * first through waitlink (cleared by dequeue) for the caller to ready. */
static gort__sudog *release_dequeue(uint32_t *addr, uint32_t n)
{
    semaroot *root = semroot(addr);
    __atomic_fetch_add(addr, n, __ATOMIC_SEQ_CST);
    if (atomic_load(&root->nwait) == 0)
        return NULL;
    gort__sudog *list = NULL, **tail = &list;
    gort__lock(&root->lock);
    for (uint32_t i = 0; i < n && atomic_load(&root->nwait) != 0; i++) {
        gort__sudog *s = dequeue(root, addr);
        if (!s)
            break; /* the waiters under this root are for other addresses */
        atomic_fetch_sub(&root->nwait, 1);
        *tail = s;
        tail = &s->waitlink;
    }
    gort__unlock(&root->lock);
    return list;
}

void gort__semrelease(uint32_t *addr, bool handoff)
{
    gort__sudog *s = release_dequeue(addr, 1);
    if (!s)
        return;

    bool handed = false;
    if (handoff && cansemacquire(addr)) {
        s->ticket = 1;
        handed = true;
    }
    G *gp = s->g; /* s may vanish the moment gp is readied */
    gort__goready(gp, true);
    if (handed)
        handoff_yield();
}

void gort__semrelease_n(uint32_t *addr, uint32_t n)
{
    if (n == 0)
        return;
    /* Readied oldest first, as n single releases would. */
    gort__sudog *list = release_dequeue(addr, n);
    while (list) {
        gort__sudog *next = list->waitlink; /* read before its owner runs */
        gort__goready(list->g, true);
        list = next;
    }
}

/* ---------------------------------------------------------------------
 * Notify list (sync.Cond).  A waiter first takes a ticket (before it
 * releases the user's mutex), then parks with it; notify_one wakes exactly
 * the holder of the oldest unserved ticket, even if that waiter has not
 * reached the list yet — it will then find its ticket already served and
 * not park at all.  That is what makes Signal race-free without the cond
 * holding the user's mutex.
 * ------------------------------------------------------------------- */

static inline gort__mutex *cond_lock(gort_cond *c)
{
    return (gort__mutex *)(void *)&c->lock;
}

/* a < b in ticket order (wrap-safe). */
static inline bool ticket_less(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

uint32_t gort__notifylist_add(gort_cond *c)
{
    return __atomic_fetch_add(&c->wait, 1, __ATOMIC_SEQ_CST);
}

void gort__notifylist_wait(gort_cond *c, uint32_t t)
{
    gort__preempt_check();
    G *gp = gort__getg();
    if (unlikely(gp == NULL))
        gort__throw("sync: cannot allocate a waiter for this thread");

    gort__lock(cond_lock(c));
    if (ticket_less(t, __atomic_load_n(&c->notify, __ATOMIC_SEQ_CST))) {
        gort__unlock(cond_lock(c));
        return; /* already notified while we were unlocking the mutex */
    }
    gort__sudog s;
    memset(&s, 0, sizeof s);
    s.g = gp;
    s.ticket = t;
    gort__sudog *tail = (gort__sudog *)c->tail;
    if (tail)
        tail->next = &s;
    else
        c->head = &s;
    c->tail = &s;
    gort__goparkunlock(cond_lock(c), "sync.Cond.Wait");
}

void gort__notifylist_notify_all(gort_cond *c)
{
    if (__atomic_load_n(&c->wait, __ATOMIC_SEQ_CST) ==
        __atomic_load_n(&c->notify, __ATOMIC_SEQ_CST))
        return;

    gort__lock(cond_lock(c));
    gort__sudog *s = (gort__sudog *)c->head;
    c->head = c->tail = NULL;
    __atomic_store_n(&c->notify, __atomic_load_n(&c->wait, __ATOMIC_SEQ_CST),
                     __ATOMIC_SEQ_CST);
    gort__unlock(cond_lock(c));

    while (s) {
        gort__sudog *next = s->next; /* read before s's owner can run */
        s->next = NULL;
        gort__goready(s->g, true);
        s = next;
    }
}

void gort__notifylist_notify_one(gort_cond *c)
{
    if (__atomic_load_n(&c->wait, __ATOMIC_SEQ_CST) ==
        __atomic_load_n(&c->notify, __ATOMIC_SEQ_CST))
        return;

    gort__lock(cond_lock(c));
    uint32_t t = __atomic_load_n(&c->notify, __ATOMIC_SEQ_CST);
    if (t == __atomic_load_n(&c->wait, __ATOMIC_SEQ_CST)) {
        gort__unlock(cond_lock(c));
        return;
    }
    __atomic_store_n(&c->notify, t + 1, __ATOMIC_SEQ_CST);

    /* The holder of ticket t is either in the list or about to call
     * notifylist_wait, which will see notify > t and return. */
    gort__sudog *prev = NULL;
    for (gort__sudog *s = (gort__sudog *)c->head; s; prev = s, s = s->next) {
        if ((uint32_t)s->ticket != t)
            continue;
        gort__sudog *n = s->next;
        if (prev)
            prev->next = n;
        else
            c->head = n;
        if (!n)
            c->tail = prev;
        gort__unlock(cond_lock(c));
        s->next = NULL;
        gort__goready(s->g, true);
        return;
    }
    gort__unlock(cond_lock(c));
}
