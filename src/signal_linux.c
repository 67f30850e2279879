/*
 * signal_linux.c — the preemption signal: installing the SIGURG handler,
 * per-M alternate signal stacks, and the handler itself.
 *
 * The handler does as little as possible ("get out of the signal handler
 * ASAP"): decide whether the interrupted instruction is an async safe point
 * (preempt.c) and, if so, rewrite the saved context so that returning from
 * the handler "calls" gort__asyncpreempt (arch/preempt_amd64.S).  All the
 * real work (saving state, parking the goroutine, scheduling) happens
 * there, in ordinary code on the goroutine's stack.  The handler takes no
 * locks, allocates nothing and uses no stdio; it saves and restores errno.
 *
 * Why SIGURG: the signal must be one programs do not use for anything
 * that matters, whose default action is harmless (SIGURG's is to ignore),
 * and that tolerates spurious delivery and coalescing; it is what Go uses,
 * for those reasons.  A program's own SIGURG handler (installed before the
 * runtime starts) keeps working: every SIGURG that is not ours is passed
 * to it.  Ours are recognised by what they carry: they are sent with
 * rt_tgsigqueueinfo (si_code SI_QUEUE, our pid) and hold the address of a
 * runtime variable in si_value, which no other sender has.
 *
 * The context rewrite respects the System V red zone: the 128 bytes below
 * the interrupted rsp may hold live data of the interrupted leaf function,
 * so the fake return address goes at rsp - 136 and rsp becomes rsp - 136;
 * the trampoline's `ret $128` undoes both exactly.
 *
 * Alternate stacks: every M handles signals on its own sigaltstack
 * (SA_ONSTACK), so a signal never pushes a multi-kilobyte AVX-512 signal
 * frame onto a small goroutine stack.  A stack the thread already had (set
 * by the program) is kept if it is big enough.
 *
 * Ownership: the handler only touches the interrupted thread's own M (its
 * signal_pending, preempt_gen and preempt_last* fields) and reads its G.
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "threadstate.h"
#include "valgrind_hooks.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <stdio.h>
#include <ucontext.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The program's SIGURG disposition: the one found when gort installed its
 * handler, then whatever the program installs later (the sigaction and
 * signal wrappers, interpose_signal.c, store it here instead of replacing
 * gort's handler).  Read by the handler on any thread while a goroutine
 * may be changing it: a sequence lock, whose writers block SIGURG on their
 * thread (so the handler never spins on a half-written copy of its own
 * thread) and take turns through prog_wlock. */
static struct sigaction prog_sigurg;
static _Atomic uint32_t prog_seq;  /* odd while being written */
static _Atomic int prog_wlock;
static _Atomic bool sigurg_ours;   /* gort's handler is installed */
static pthread_once_t signal_once = PTHREAD_ONCE_INIT;

static void prog_read(struct sigaction *out)
{
    for (;;) {
        uint32_t s0 = atomic_load_explicit(&prog_seq, memory_order_acquire);
        if (s0 & 1) {
            __builtin_ia32_pause();
            continue;
        }
        memcpy(out, &prog_sigurg, sizeof *out);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&prog_seq, memory_order_relaxed) == s0)
            return;
    }
}

/* rt_sigprocmask straight to the kernel: the runtime's own use, never the
 * wrappers' bookkeeping of a goroutine's mask. */
int gort__kmask(int how, uint64_t set, uint64_t *old)
{
    return (int)syscall(SYS_rt_sigprocmask, how, &set, old, sizeof set);
}

/* Writers: SIGURG blocked on this thread, then prog_wlock. */
static void wlock(uint64_t *saved)
{
    gort__kmask(SIG_BLOCK, GORT_SIGBIT(SIGURG), saved);
    while (atomic_exchange_explicit(&prog_wlock, 1, memory_order_acquire))
        __builtin_ia32_pause();
}

static void wunlock(uint64_t saved)
{
    atomic_store_explicit(&prog_wlock, 0, memory_order_release);
    gort__kmask(SIG_SETMASK, saved, NULL);
}

static void store_locked(const struct sigaction *act, struct sigaction *old)
{
    if (old)
        *old = prog_sigurg;
    if (act) {
        atomic_store_explicit(&prog_seq, prog_seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        prog_sigurg = *act;
        atomic_store_explicit(&prog_seq, prog_seq + 1, memory_order_release);
    }
}

static void prog_write(const struct sigaction *act, struct sigaction *old)
{
    uint64_t saved;
    wlock(&saved);
    store_locked(act, old);
    wunlock(saved);
}

int gort__sigurg_program(const struct sigaction *act, struct sigaction *old)
{
    if (atomic_load_explicit(&sigurg_ours, memory_order_acquire)) {
        prog_write(act, old);
        return 0;
    }
    /* Not installed yet: the kernel's, under the writers' lock, so that
     * gort's installation (which takes it too) either sees this as the
     * previous action or came first and stores it as the program's. */
    uint64_t saved;
    wlock(&saved);
    int r = 0;
    if (atomic_load_explicit(&sigurg_ours, memory_order_acquire))
        store_locked(act, old);
    else
        r = sigaction(SIGURG, act, old); /* from the runtime: libc's */
    int e = errno;
    wunlock(saved);
    errno = e;
    return r;
}

/* Hand a SIGURG that is not ours to the program's handler. */
static void chain_prev(int sig, siginfo_t *info, void *ctx)
{
    struct sigaction pa;
    prog_read(&pa);
    if (pa.sa_handler == SIG_IGN || pa.sa_handler == SIG_DFL)
        return; /* SIGURG's default action is to ignore it */
    if (pa.sa_flags & SA_RESETHAND) {
        /* One delivery, then the default, as the kernel would do. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        prog_write(&dfl, NULL);
    }
    /* Run it with the mask it asked for, as the kernel would have (SIGURG
     * itself stays blocked unless it asked for SA_NODEFER). */
    uint64_t old, add = gort__sigmask_word(&pa.sa_mask);
    if (pa.sa_flags & SA_NODEFER)
        gort__kmask(SIG_UNBLOCK, GORT_SIGBIT(SIGURG), &old);
    else
        gort__kmask(SIG_BLOCK, 0, &old);
    gort__kmask(SIG_BLOCK, add & ~(GORT_SIGBIT(SIGKILL) | GORT_SIGBIT(SIGSTOP)), NULL);
    if (pa.sa_flags & SA_SIGINFO)
        pa.sa_sigaction(sig, info, ctx);
    else
        pa.sa_handler(sig);
    gort__kmask(SIG_SETMASK, old, NULL);
}

/* Was the interrupted thread blocked in a system call that our signal
 * interrupted?  The `syscall` instruction (0f 05) leaves the address after
 * it in rcx, and the kernel saves that rcx in the signal context, so:
 *  - restarted (SA_RESTART; read(), write(), futex waits...): the kernel
 *    rewound rip to the instruction, and rcx = rip + 2;
 *  - ended with EINTR whatever SA_RESTART says (nanosleep, poll,
 *    epoll_wait...): rip follows the instruction, rcx = rip, rax = -EINTR.
 * Only an interrupted wait gives either.  A thread merely about to enter a
 * call (rip at the instruction, inside malloc's mmap say, holding its
 * lock) or just back from one that completed does not match.  Bytes are
 * read only within pc's page, which is mapped since the thread executes
 * there. */
static bool in_syscall(uintptr_t pc, uintptr_t rcx, long rax)
{
    const unsigned char *c = (const unsigned char *)pc;
    uintptr_t off = pc & 4095;
    if (rcx == pc + 2 && off <= 4094)
        return c[0] == 0x0f && c[1] == 0x05;
    return rcx == pc && rax == -EINTR && off >= 2 && c[-2] == 0x0f && c[-1] == 0x05;
}

bool gort__ctx_in_syscall(void *ctx)
{
    greg_t *gr = ((ucontext_t *)ctx)->uc_mcontext.gregs;
    return in_syscall((uintptr_t)gr[REG_RIP], (uintptr_t)gr[REG_RCX], (long)gr[REG_RAX]);
}

/* The process's pid and uid for our queued signals, read once before the
 * handler is installed (and the pid again in a forked child), so that
 * neither the sender nor the handler makes a system call for them. */
static pid_t self_pid;
static uid_t self_uid;

void gort__signal_forked(void) { self_pid = getpid(); }

static void sigurg_handler(int sig, siginfo_t *info, void *ctx)
{
    int saved_errno = errno;
    M *m = NULL;
    /* Ours carry the runtime's cookie (gort__preempt_cookie) in si_value,
     * sent with rt_tgsigqueueinfo from this process; the pending bit only
     * coalesces requests, it does not identify them (a signal in flight can
     * outlive the bit, which execute() clears).  The pid is read once
     * (self_pid): a system call here would lengthen every preemption
     * (1.8 us each on one VM host). */
    bool exit_sig = info && info->si_value.sival_ptr == (void *)&gort__exit_cookie;
    if (!info || info->si_code != SI_QUEUE ||
        (info->si_value.sival_ptr != (void *)&gort__preempt_cookie && !exit_sig) ||
        info->si_pid != self_pid) {
        chain_prev(sig, info, ctx);
        errno = saved_errno;
        return;
    }
    m = gort__getm();
    /* After goroutine 1 returned, any of our signals may freeze the
     * goroutine here for good (stw.c); an exit signal does nothing else. */
    if (m && atomic_load_explicit(&sched.exiting, memory_order_relaxed))
        gort__exit_freeze(m, ctx);
    if (exit_sig) {
        errno = saved_errno;
        return;
    }
    if (m == NULL ||
        !atomic_exchange_explicit(&m->signal_pending, 0, memory_order_acquire)) {
        /* Ours but stale (the request was settled meanwhile): drop it. */
        errno = saved_errno;
        return;
    }

    ucontext_t *uc = ctx;
    greg_t *gr = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)gr[REG_RIP];
    uintptr_t sp = (uintptr_t)gr[REG_RSP];
    G *g = m->curg;
    /* P-less in foreign code (syscall_foreign.c): back in its own code,
     * the trampoline takes a P again. */
    bool reclaim = atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed);
    int why = reclaim ? gort__foreign_reclaim_code(m, ctx) : gort__preempt_unsafe_code(pc, sp, m, g);
    /* A goroutine blocked in a system call no wrapper announced (a raw
     * one): nothing to do here, and the sender sends no more for this
     * request (preempt.c).  Only the goroutine's own call, on its stack:
     * a signal handler's (on the alternate stack) ends with the handler,
     * and a request that sent no more signals after it was never
     * honoured by a goroutine that then computed without calling gort
     * (test_syscall_handler: a hog whose thread ran the program's
     * handlers, stuck for good). */
    if (why != GORT_PR_NO_G && !reclaim && sp >= g->stack_lo && sp < g->stack_hi &&
        gort__ctx_in_syscall(ctx))
        why = GORT_PR_INSYSCALL;
    if (why == GORT_PR_SAFE && gort__ctx_masks_more(m, uc))
        why = GORT_PR_SIGMASK;
    if (why == GORT_PR_SAFE && gort__foreign_caller(sp, (uintptr_t)gr[REG_RBP], g))
        why = GORT_PR_CALLBACK;
    /* The request may have been satisfied (the G yielded) or a different
     * G may be running by now: only preempt a G that still wants it. */
    /* In foreign code, or blocked in a call no wrapper announced, it
     * cannot be stopped: release its P there instead (a restarted call
     * goes on as if nothing happened). */
    if ((why == GORT_PR_FOREIGN || why == GORT_PR_INSYSCALL) && !reclaim &&
        atomic_load_explicit(&g->preempt, memory_order_relaxed))
        gort__foreign_enter(m, ctx);
    /* A reclaim signal that found the thread blocked in the kernel: the
     * next ones come less often (sysmon, gort__foreign_poll). */
    if (reclaim)
        atomic_store_explicit(&m->reclaim_blocked, gort__ctx_in_syscall(ctx), memory_order_relaxed);
    if (why == GORT_PR_SAFE && (reclaim || atomic_load_explicit(&g->preempt, memory_order_relaxed))) {
        /* Simulate `call gort__asyncpreempt` from pc, below the red zone. */
        uintptr_t nsp = sp - 128 - 8;
        /* Under valgrind: see valgrind_hooks.h. */
        VALGRIND_MAKE_MEM_UNDEFINED(nsp - gort__asyncpreempt_frame, gort__asyncpreempt_frame + 8);
        *(uintptr_t *)nsp = pc;
        gr[REG_RSP] = (greg_t)nsp;
        gr[REG_RIP] = (greg_t)(uintptr_t)&gort__asyncpreempt;
    }
    __atomic_store_n(&m->preempt_lastpc, pc, __ATOMIC_RELAXED);
    __atomic_store_n(&m->preempt_lastreason, why, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->preempt_gen, 1, __ATOMIC_RELEASE);
    errno = saved_errno;
}

bool gort__sigurg_send(pid_t tid, const char *cookie)
{
    /* Queued with a cookie, so the handler can tell ours from any other
     * SIGURG however late it arrives, and which of ours it is. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGURG;
    si.si_code = SI_QUEUE;
    si.si_pid = self_pid;
    si.si_uid = self_uid;
    si.si_value.sival_ptr = (void *)cookie;
    if (syscall(SYS_rt_tgsigqueueinfo, si.si_pid, tid, SIGURG, &si) != 0)
        return false;
    atomic_fetch_add_explicit(&sched.nsignals, 1, memory_order_relaxed);
    return true;
}

static void signal_init_once(void)
{
    self_pid = getpid();
    self_uid = getuid();
    /* Before the handler exists: the trampoline's XSAVE parameters and
     * the registry of preemptible code. */
    gort__arch_preempt_init();
    gort__preempt_init();
    gort__codemap_refresh();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigurg_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    (void)gort_errno_location(); /* sets gort_errno_tpoff (threadstate.h) */
    /* Goroutines' default mask: gort_main's caller's, minus SIGURG. */
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    gort__ts_base_mask = gort__sigmask_word(&cur) & ~GORT_SIGBIT(SIGURG);
    /* The wrappers (interpose_signal.c) store what the program installs
     * from now on; one that raced with us is taken as the previous one. */
    uint64_t saved;
    wlock(&saved);
    struct sigaction prev;
    if (sigaction(SIGURG, &sa, &prev) != 0)
        gort__throw("sigaction(SIGURG) failed: errno %d", errno);
    prog_sigurg = prev;
    atomic_store_explicit(&sigurg_ours, true, memory_order_release);
    wunlock(saved);
    gort__signal_fatal_init(); /* SIGSEGV & co. (signal_fatal.c) */
    gort__signal_onstack_fixup(); /* handlers installed before the wrappers saw them */
}

void gort__signal_init(void) { pthread_once(&signal_once, signal_init_once); }

#ifndef MAP_STACK
#define MAP_STACK 0
#endif

void gort__minit_signals(M *m)
{
    size_t want = 64 * 1024;
#ifdef _SC_SIGSTKSZ
    long k = sysconf(_SC_SIGSTKSZ); /* may exceed 64 KiB on AMX machines */
    if (k > 0 && (size_t)k > want)
        want = (size_t)k;
#endif
    if ((size_t)SIGSTKSZ > want)
        want = (size_t)SIGSTKSZ;

    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= want) {
        m->altstack = NULL; /* the program's: keep it, do not own it */
    } else {
        long pg = sysconf(_SC_PAGESIZE);
        size_t page = pg > 0 ? (size_t)pg : 4096;
        want = (want + page - 1) & ~(page - 1);
        /* One guard page below, so an overflow faults instead of silently
         * scribbling on whatever is mapped there. */
        char *mem = mmap(NULL, want + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (mem == MAP_FAILED)
            gort__throw("cannot allocate a signal stack: errno %d", errno);
        mprotect(mem, page, PROT_NONE);
        stack_t ss = {.ss_sp = mem + page, .ss_size = want, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0)
            gort__throw("sigaltstack failed: errno %d", errno);
        m->altstack = mem;
    }

    /* The mask the M runs goroutines with, unless one set its own.  A
     * preemption signal that finds more blocked than the running
     * goroutine's mask interrupted something unusual (a signal handler on
     * the goroutine stack) and is not acted on. */
    /* Set, not inherited: the thread that created this one may have been
     * running a goroutine with a mask of its own (threadstate.c). */
    m->sigmask_base = gort__ts_base_mask;
    gort__kmask(SIG_SETMASK, m->sigmask_base, NULL);
    gort__ts_applied(m, m->sigmask_base);
}
