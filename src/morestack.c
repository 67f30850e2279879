/*
 * morestack.c — split-stack mode, the runtime's side (Go's stack.go
 * morestack/newstack, for fixed stacks).  The assembly entry points and
 * their frame are arch/morestack_amd64.S; the guard word's writers are
 * execute() (proc.c) and gort__preemptone (preempt.c).
 *
 * The mode.  A program compiled with -fsplit-stack checks, in every
 * function's prologue, its stack pointer against the TCB word %fs:0x70.
 * When it links libgort.a, the __morestack those checks call is gort's
 * (the archive member is pulled in by the first reference), and
 * gort__splitstack_init finds it linked: from then on every M keeps in its
 * thread's word the running goroutine's guard, stack_lo + GORT_STACK_GUARD,
 * and 0 on the scheduler's own stack.  A check fails for one of four
 * reasons, told apart here with the real guard:
 *   - the function's frame does not fit above the guard: a stack overflow,
 *     reported before the function writes a byte of its frame;
 *   - a preemption request poisoned the word (GORT_STACK_POISON, above
 *     every stack pointer): the goroutine parks at this call, a safe point
 *     by construction: no signal, no vector-state save, nothing half done;
 *   - the goroutine runs without its P since foreign code ran long
 *     (syscall_foreign.c poisoned the word when it let the P go, and
 *     again at each reclaim round): back in its own code, it takes a P
 *     again here, where the reclaim signal would have stopped it;
 *   - neither (a poison meant for the goroutine that ran before, or a
 *     request this call may not honour): the guard is put back and the
 *     function goes on; a request stays pending for the signal, which
 *     gort__preemptone sends if the goroutine has not stopped within
 *     GORT_SYNCPREEMPT_WAIT_NS.
 * A goroutine is parked here only where the asynchronous path could park
 * it too and more: not with runtime locks held (m->locks), not inside
 * gort_preempt_disable, a system-call bracket or with a pthread lock held,
 * not in code that is not registered as preemptible, not called back from
 * foreign code, and not off its stack (g0, an alternate signal stack:
 * every signal handler runs on one, interpose_signal.c).  Nosplit
 * functions never come here: they have no check.
 *
 * Code without checks.  libc and the gort runtime are not compiled
 * -fsplit-stack.  gold and lld rewrite the prologue of every split
 * function that calls such code so that it always enters
 * __morestack_non_split, whose fast path demands GORT_NONSPLIT_ROOM bytes
 * below the frame; GNU ld (bfd) does not, and a call into libc near the
 * guard then runs past it unchecked.  A canary (splitcheck.c, compiled
 * -fsplit-stack) is inspected at start-up: a split-stack program whose
 * linker left it alone is refused with a fatal error naming the fix.
 *
 * Ownership.  gort__splitstack is written once at init, before any M
 * starts.  m->stackguard points at the M's own TCB word; other threads
 * write it only to poison it (preempt.c), the M itself at every switch.
 * m->morestack is the M's own, read on g0 after the fatal switch.
 *
 * Rejected: growing stacks (copying is impossible in C: pointers into the
 * stack are everywhere; segments are the seed's "hot split", 4.8 us per
 * call measured with libgcc's); a guard in the G read through a register
 * (compilers only emit the %fs:0x70 form); the whole runtime built
 * -fsplit-stack (every scheduler path would need to be nosplit-proved,
 * and the gain, no `stc` on calls into gort, is ~3 ns per call).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

bool gort__splitstack;
uintptr_t gort__nonsplit_room = GORT_NONSPLIT_ROOM;
/* Linked only in split-stack programs (see the header comment).
 * gort__morestack_common is defined only next to gort's __morestack
 * (arch/morestack_amd64.S): a __morestack without it is libgcc's. */
extern char __morestack[] __attribute__((weak));
extern char __morestack_non_split[] __attribute__((weak));
extern char gort__morestack_common[] __attribute__((weak));

void gort__splitstack_init(void)
{
    if (!gort__morestack_common) {
        /* Checked code whose checks go to libgcc's __morestack: segments
         * that gort does not know, on goroutine stacks it bounds-checks
         * (a crash, or an overflow never reported).  The linker took
         * libgcc's because libgort.a came before the -fsplit-stack
         * objects, or the program links libgort.so, which cannot export
         * one.  libgcc's start-up code put the thread's bound in the
         * word; nothing else writes it. */
        if (__morestack || *gort__arch_tcb_stackguard() != 0)
            gort__throw("split-stack program linked with libgcc's __morestack (segmented "
                        "stacks), not gort's: link libgort.a, not libgort.so, and after "
                        "every object compiled -fsplit-stack");
        return;
    }
    gort__arch_splitstack_init();
    /* Small stacks are a choice (GORTSTACKSIZE): 16 KiB free for every
     * call into libc would overflow a 16 KiB stack at its first printf. */
    uintptr_t room = gort__cfg.stacksize / 16;
    gort__nonsplit_room = room < 1024 ? 1024 : room > GORT_NONSPLIT_ROOM ? GORT_NONSPLIT_ROOM : room;
    gort__splitstack = true;
}

bool gort__prologue_return(uintptr_t pc)
{
    /* Checked code is in registered modules only, whose code is mapped:
     * the bytes around pc are readable once pc is known to be there. */
    if (!gort__splitstack || gort__pc_code(pc) != GORT_PR_SAFE)
        return false;
    const unsigned char *p = (const unsigned char *)pc;
    if (p[0] != 0xc3 || p[-5] != 0xe8) /* ret, after call rel32 */
        return false;
    int32_t rel;
    memcpy(&rel, p - 4, sizeof rel);
    uintptr_t to = pc + (uintptr_t)(intptr_t)rel;
    return to == (uintptr_t)__morestack || to == (uintptr_t)__morestack_non_split;
}

/* The M's thread: its word, and 0 in it (the scheduler's stack is never
 * checked; a thread may inherit a dead one's word with its cached stack). */
void gort__splitstack_minit(M *m)
{
    if (!gort__splitstack)
        return;
    m->stackguard = gort__arch_tcb_stackguard();
    *m->stackguard = 0;
}

/* ---------------------------------------------------------------------
 * The failed check (arch/morestack_amd64.S calls it on the goroutine's
 * stack, below its frame; fr is that frame: fr[1] the return address into
 * the function, fr[-10] r10 (the frame size), fr[-11] the entry kind).
 * ------------------------------------------------------------------- */

enum { MS_CHECK = 0, MS_NONSPLIT = 1, MS_VLA = 2 };

static GORT_NORETURN void overflow_m(G *g)
{
    M *m = gort__getm();
    uintptr_t pcs[64];
    int n = 0;
    const uintptr_t *fp = (const uintptr_t *)m->morestack.fp;
    while (n < 64 && (uintptr_t)fp >= g->stack_lo && (uintptr_t)fp <= g->stack_hi - 24) {
        /* A frame of __morestack_non_split: the caller's return address
         * is one word up (gort__prologue_return). */
        uintptr_t ret = fp[1];
        if (n > 0 && gort__prologue_return(ret))
            ret = fp[2];
        pcs[n++] = ret;
        const uintptr_t *next = (const uintptr_t *)fp[0];
        if (next <= fp)
            break;
        fp = next;
    }
    gort__sym s;
    const char *fn = gort__symtab_lookup(m->morestack.pc, &s) && s.name ? s.name : "?";
    char name[96];
    snprintf(name, sizeof name, "%s", fn);
    size_t size = gort__cfg.stacksize;
    uintptr_t sp = m->morestack.sp;
    long left = (long)(sp - g->stack_lo); /* the guard is GORT_STACK_GUARD above stack_lo */
    char what[224];
    switch (m->morestack.kind) {
    case MS_NONSPLIT:
        snprintf(what, sizeof what, "%s (frame %lu bytes) calls code without stack checks, which needs %lu more",
                 name, (unsigned long)m->morestack.need, (unsigned long)gort__nonsplit_room);
        break;
    case MS_VLA:
        snprintf(what, sizeof what, "%s allocates %lu bytes on the stack (VLA or alloca)", name,
                 (unsigned long)m->morestack.need);
        break;
    default:
        snprintf(what, sizeof what, "%s needs a %lu-byte frame", name, (unsigned long)m->morestack.need);
    }
    /* The same lines as a fault in the guard page (signal_fatal.c), with
     * the check's findings where that has the signal's. */
    gort__throw_pcs(pcs, n,
                    "stack overflow\n"
                    "[stack check: %s, with %ld bytes of stack left]\n"
                    "goroutine %llu exceeded its %zu KiB stack (sp=%#lx, stack=[%#lx, %#lx)); "
                    "raise the limit with GORTSTACKSIZE=%zuK",
                    what, left, (unsigned long long)g->goid, size / 1024, (unsigned long)sp,
                    (unsigned long)g->stack_lo, (unsigned long)g->stack_hi,
                    2 * gort__cfg.stacksize / 1024);
}

static GORT_NORETURN void overflow(M *m, uintptr_t fp, uintptr_t pc, uintptr_t sp, uintptr_t need,
                                   int kind)
{
    m->morestack.fp = fp;
    m->morestack.pc = pc;
    m->morestack.sp = sp;
    m->morestack.need = need;
    m->morestack.kind = kind;
    gort__mcall_fatal(overflow_m);
}

/* May the goroutine park at this prologue?  The asynchronous path's
 * conditions (gort__preempt_unsafe_code, for a pc that is the function's
 * own; sp 0: the park runs on g0, no trampoline frame to fit), and more
 * that the signal handler checks on its side: no system-call bracket or
 * P-less foreign state, no fork child, no foreign caller. */
static bool may_park(M *m, G *g, uintptr_t pc, uintptr_t sp, uintptr_t fp)
{
    if (!atomic_load_explicit(&g->preempt, memory_order_relaxed) ||
        gort__preempt_unsafe_code(pc, 0, m, g) != GORT_PR_SAFE || m->syscall_depth > 0 ||
        atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed))
        return false;
    if (gort__in_forked_child())
        return false; /* a fork's child inherits the word, maybe poisoned; it may not switch */
    /* No signal handler runs on a goroutine's stack: every one runs on
     * the M's alternate stack (interpose_signal.c adds SA_ONSTACK), where
     * stack_owner finds no goroutine.  The thread's mask is not read. */
    return !gort__foreign_caller(sp, fp, g);
}

/* May a goroutine that foreign code left without its P (syscall_foreign.c)
 * take one back at this prologue?  The reclaim signal's conditions
 * (gort__foreign_reclaim_code): outside any wrapped call, no runtime lock,
 * the function its own preemptible code (a prologue in a callback from
 * the foreign code is not: that code still runs under it), not in a
 * gort_preempt_disable section (which takes the P back itself). */
static bool may_reclaim(M *m, G *g, uintptr_t pc, uintptr_t sp, uintptr_t fp)
{
    return atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed) &&
           m->syscall_depth == 1 && m->locks == 0 && !gort__in_forked_child() &&
           gort__preempt_unsafe_code(pc, 0, NULL, g) == GORT_PR_SAFE &&
           !gort__foreign_caller(sp, fp, g);
}

/* Take the P back as the reclaim signal's trampoline does; with no P
 * free the goroutine waits as runnable and may resume on another thread,
 * so registers holding &errno get the new thread's. */
static void reclaim(uintptr_t *fr)
{
    int *e = gort__errno_addr();
    gort__foreign_exit();
    gort__ts_errno_moved(fr, e);
}

/* The goroutine whose stack sp is on, or NULL: the scheduler's stack, a
 * signal stack, or a plain thread's, whose word may have come from a dead
 * thread with its cached stack (then it is cleared). */
static G *stack_owner(M *m, uintptr_t sp)
{
    G *g = m ? m->curg : NULL;
    if (g && !g->foreign && sp > g->stack_lo && sp <= g->stack_hi)
        return g;
    if (!m)
        *gort__arch_tcb_stackguard() = 0;
    return NULL;
}

void gort__morestack2(uintptr_t *fr)
{
    M *m = gort__getm();
    uintptr_t pc = fr[1], sp = (uintptr_t)fr + 40, need = fr[-10];
    int kind = (int)fr[-11];
    G *g = stack_owner(m, sp);
    if (!g)
        return;
    uintptr_t guard = g->stack_lo + GORT_STACK_GUARD;
    uintptr_t want = need + (kind == MS_NONSPLIT ? gort__nonsplit_room : 0);
    if (kind == MS_CHECK && need < GORT_STACK_SMALL)
        want = 0; /* the compiler's small-frame check: sp against the guard */
    if (sp < guard || sp - guard < want)
        overflow(m, (uintptr_t)fr, pc, sp, need, kind);
    uintptr_t fp = fr[0] ? ((uintptr_t *)fr[0])[0] : 0;
    if (unlikely(atomic_load_explicit(&m->syscall_implicit, memory_order_relaxed)) &&
        may_reclaim(m, g, pc, sp, fp)) {
        reclaim(fr);
        m = gort__getm(); /* maybe another thread now */
    }
    if (may_park(m, g, pc, sp, fp)) {
        gort__morestack_park(fr);
        return; /* resumed: execute() wrote the guard */
    }
    if (m->stackguard)
        __atomic_store_n(m->stackguard, guard, __ATOMIC_RELAXED);
}

void gort__morestack_vla(size_t size, uintptr_t sp, uintptr_t pc)
{
    M *m = gort__getm();
    G *g = stack_owner(m, sp);
    if (!g)
        return;
    uintptr_t guard = g->stack_lo + GORT_STACK_GUARD;
    if (sp < guard || sp - guard < size + GORT_VLA_SLACK)
        overflow(m, *(uintptr_t *)__builtin_frame_address(0), pc, sp, size, MS_VLA);
    /* The block fits: what sent us here was most likely a poisoned guard
     * (a preemption request).  Put the real one back, as a prologue that
     * may not park does: each allocation made through here costs
     * GORT_VLA_SLACK bytes more than the inline path's until the function
     * returns, and a call-free loop of small allocas kept coming here
     * until the signal stopped it, and overflowed a stack it fit in (an
     * adversarial hunt: 16-byte allocas, 300 bytes each).  No park here:
     * this is a call from the middle of a function whose callee-saved
     * registers, &errno among them, are not in a frame the runtime knows
     * (the prologue's slow path saves them all); the request stays
     * pending and the signal that follows a poison serves it.  So too
     * the poison that asks a goroutine back from foreign code without its
     * P (syscall_foreign.c): kept for a prologue to honour, it sent every
     * alloca of a call-free loop after a long memset through here, and a
     * loop that fit inline died as a stack overflow (a stress hunt: 10 of
     * 10 runs); every reclaim round poisons the word again and signals,
     * so the P still comes back within a sysmon period. */
    if (m->stackguard)
        __atomic_store_n(m->stackguard, guard, __ATOMIC_RELAXED);
}
