/*
 * preempt_report.c — the "goroutine N cannot be preempted for 1.0s"
 * report: sysmon calls it for a goroutine whose preemption request is
 * older than GORTDEBUG=stuckreport; it says once per request where the
 * goroutine is stuck (the pc the last signal saw) and why it could not be
 * stopped there.  A goroutine merely blocked in the kernel is not stuck
 * and is not reported.  Runs on sysmon's thread: no stdio, one write().
 * Rejected: reporting from the signal handler (too much work there, and
 * a goroutine that never takes a signal would never be reported).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Is thread tid's state 'R' (running or runnable) in /proc/.../stat, the
 * letter after the command name (which may contain spaces and parentheses,
 * hence the last ')')?  True if /proc cannot tell.  The file is opened
 * for each look, once per stuck request: an M used to keep it open, and
 * a program that closes descriptors it did not open (daemons close all
 * above 2) could have had its own file, reusing the number, closed by the
 * M's exit.  At the fd limit the open fails and the answer is "running";
 * a thread blocked in the kernel has still not used the CPU time the
 * report asks for first. */
static bool thread_state_running(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (gort__procfs_read(path, buf, sizeof buf) <= 0)
        return true;
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || !rp[2])
        return true;
    return rp[2] == 'R';
}

/* ---------------------------------------------------------------------
 * Diagnostic: a goroutine that ignores preemption for a long time holds
 * its P (and blocks stop-the-world).  Say where it is and why, once per
 * request.  Called by sysmon; may use stdio-free formatting only.
 * ------------------------------------------------------------------- */

void gort__preempt_diag(P *pp, int64_t now)
{
    if (gort__cfg.stuck_report_ns <= 0)
        return;
    M *m = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (!m)
        return;
    G *g = __atomic_load_n(&m->curg, __ATOMIC_ACQUIRE);
    if (!g || atomic_load(&g->status) != G_RUNNING || !atomic_load(&g->preempt) ||
        g->preempt_reported)
        return;
    /* Stuck means it ran that long without yielding, not that it waited
     * for a CPU: on a busy host a thread may not run for hundreds of ms,
     * and a signal sent to it is not handled meanwhile.  So the report
     * also wants stuck_report_ns of the thread's CPU time since sysmon
     * first saw the request (this same pass for sysmon's own requests). */
    int64_t since = g->preempt_since;
    if (g->preempt_cpu_req != since) {
        g->preempt_cpu_req = since;
        g->preempt_cpu0 = m->tid > 0 ? gort__thread_cpu_ns(m->tid) : -1;
    }
    int64_t age = now - since;
    if (age < gort__cfg.stuck_report_ns)
        return;
    if (g->preempt_cpu0 >= 0) {
        int64_t cpu = gort__thread_cpu_ns(m->tid);
        if (cpu >= 0 && cpu - g->preempt_cpu0 < gort__cfg.stuck_report_ns)
            return;
    }

    uintptr_t pc = 0;
    const char *why;
    bool sampled = __atomic_load_n(&m->preempt_gen, __ATOMIC_RELAXED) >
                   __atomic_load_n(&m->preempt_reqgen, __ATOMIC_RELAXED);
    /* A signal handled since the request began knows best where the
     * goroutine is and why it was refused; give one up to another
     * stuck_report_ns to arrive (a loaded machine delays them).  After
     * that, say what the last attempt to send one saw. */
    if (!gort__cfg.asyncpreemptoff && !sampled && age < 2 * gort__cfg.stuck_report_ns)
        return;
    int code = sampled ? __atomic_load_n(&m->preempt_lastreason, __ATOMIC_RELAXED) : -1;
    /* A goroutine holding a pthread lock refuses every safe point until it
     * lets go, so that is why it is stuck, wherever the last signal landed
     * (in libc or the runtime's clock, often, when its loop calls them, and
     * at the prologues in split-stack mode, which refuse for the same
     * reason and send no report of their own).  The handler checks the pc
     * first because in foreign code the P can still be released; the
     * report answers a different question.  plocks is the goroutine's own
     * counter, read racily: a report that races with the unlock names a
     * lock that was held a moment ago. */
    if ((code == GORT_PR_FOREIGN || code == GORT_PR_RUNTIME || code == GORT_PR_NOSPLIT ||
         code == GORT_PR_NOROOM || code == GORT_PR_OFFSTACK) &&
        __atomic_load_n(&g->plocks, __ATOMIC_RELAXED) > 0)
        code = GORT_PR_PTHREADLOCK;
    /* Merely blocked in the kernel, in a call gort does not wrap: not
     * stuck, and nothing to report (it yields at its next gort call). */
    if (code == GORT_PR_INSYSCALL)
        return;
    if (!sampled && m->tid > 0 && !thread_state_running(m->tid))
        return;
    if (gort__cfg.asyncpreemptoff) {
        why = "asynchronous preemption is off (GORTDEBUG=asyncpreemptoff=1)";
    } else if (sampled) {
        pc = __atomic_load_n(&m->preempt_lastpc, __ATOMIC_RELAXED);
        why = gort__preempt_reason_str(code);
        if (!why)
            why = "preemption pending";
    } else if (atomic_load(&m->signal_pending)) {
        why = "preemption signal not delivered (SIGURG blocked?)";
    } else {
        why = "no preemption signal handled yet";
    }
    /* Where it is stuck is known only if a signal sampled its pc. */
    char sym[256] = "", where[280] = "";
    if (pc) {
        gort__symbolize(pc, sym, sizeof sym);
        snprintf(where, sizeof where, ": stuck in %s", sym);
    }
    char msg[600];
    int len = snprintf(msg, sizeof msg,
                       "gort: goroutine %llu cannot be preempted for %lld.%llds%s (%s)\n",
                       (unsigned long long)g->goid, (long long)(age / 1000000000),
                       (long long)(age / 100000000 % 10), where, why);
    if (len > 0) {
        if ((size_t)len >= sizeof msg)
            len = sizeof msg - 1;
        ssize_t w = write(2, msg, (size_t)len);
        (void)w;
    }
    g->preempt_reported = true;
}
