/*
 * stw.c — stop-the-world and GOMAXPROCS resizing (Go's stopTheWorldWithSema
 * / startTheWorldWithSema / procresize).
 *
 * Protocol.  The stopper sets sched.gcwaiting and sched.stopwait = the
 * number of Ps, stops its own P and every idle P itself, then asks every
 * running P to preempt at once (signal + sync flag) and sleeps on
 * sched.stopnote, re-preempting every 50 us in case a signal landed at an
 * unsafe point.  Each running P notices gcwaiting at its next schedule()
 * (or in findrunnable's loops), marks itself P_STOPPED, decrements stopwait
 * and parks its M; the last one wakes the stopper.  Start clears the flag
 * and hands every stopped P that has work to an M.
 *
 * Only one STW at a time (stw_busy); a goroutine waiting for it yields, so
 * its own P can be stopped by the STW in progress instead of deadlocking.
 * The caller keeps m->locks raised between stop and start, so it cannot be
 * preempted or moved while it is the only goroutine running.
 *
 * Limitation (documented in DESIGN.md): a P whose goroutine is blocked in a
 * system call that gort did not see (plain read(), nanosleep()) cannot stop
 * until the call returns.
 */
#include "runtime.h"

#include <sched.h>

static _Atomic bool stw_busy;

static void preemptall(P *mine)
{
    for (int32_t i = 0; i < sched.gomaxprocs; i++) {
        P *pp = sched.allp[i];
        if (pp != mine && atomic_load(&pp->status) == P_RUNNING)
            gort__preemptone(pp);
    }
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
    if (mine) {
        atomic_store(&mine->status, P_STOPPED);
        sched.stopwait--;
    }
    P *pp;
    while ((pp = gort__pidleget())) {
        atomic_store(&pp->status, P_STOPPED);
        sched.stopwait--;
    }
    bool wait = sched.stopwait > 0;
    gort__unlock(&sched.lock);
    if (wait) {
        preemptall(mine);
        /* Spin for the first 100 us: a preempted P normally stops within
         * tens of microseconds, and waking a futex sleeper costs as much
         * again.  Then sleep, re-requesting every 50 us in case a signal
         * landed at an unsafe point. */
        int64_t t0 = gort_nanotime(), last = t0;
        while (!atomic_load_explicit(&sched.stopnote.key, memory_order_acquire)) {
            int64_t now = gort_nanotime();
            if (now - t0 > 100000)
                break;
            if (now - last > 50000) {
                preemptall(mine);
                last = now;
            }
            for (int i = 0; i < 64; i++)
                __builtin_ia32_pause();
        }
        while (!gort__notetsleep_until(&sched.stopnote, gort_nanotime() + 50000))
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
    gort__lock(&sched.lock);
    atomic_store(&sched.gcwaiting, 0);
    if (mine)
        atomic_store(&mine->status, P_RUNNING);
    for (int32_t i = sched.gomaxprocs - 1; i >= 0; i--) {
        P *pp = sched.allp[i];
        if (pp == mine || atomic_load(&pp->status) != P_STOPPED)
            continue;
        if (nwork < 64 && (!gort__runqempty(pp) || atomic_load(&pp->timer0_when) != 0))
            work[nwork++] = pp;
        else
            gort__pidleput(pp);
    }
    gort__unlock(&sched.lock);
    for (int i = 0; i < nwork; i++)
        gort__startm(work[i], false);
    gort__wakep();
    if (m)
        m->locks--;
    atomic_store(&stw_busy, false);
}

void gort_stop_the_world(void) { gort__stoptheworld("user"); }
void gort_start_the_world(void) { gort__starttheworld(); }

int gort_maxprocs(int n)
{
    gort__schedinit();
    int old = sched.gomaxprocs;
    if (n <= 0 || n == old)
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
