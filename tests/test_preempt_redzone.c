/*
 * test_preempt_redzone.c — an asynchronous preemption leaves the
 * interrupted function's red zone (the 128 bytes below rsp that a System V
 * leaf function may use without moving rsp) exactly as it was.
 *
 * The kernel below is assembly, so the compiler cannot move its data out
 * of the red zone: it fills the 16 words there with a pattern and then
 * checks the whole pattern over and over, without a call, so every stop
 * inside it is an asynchronous preemption.  The signal handler builds its
 * simulated call below the red zone and the trampoline returns over it;
 * a write into it shows up here as a mismatch.  Under valgrind (CI's
 * valgrind step runs this test) the same check also proves memcheck still
 * sees those words as defined after the trampoline has returned.
 */
#include "check.h"

#include <stdatomic.h>
#include <stdint.h>

/* long redzone_spin(long rounds, long seed): mismatches seen. */
long redzone_spin(long rounds, long seed);
__asm__(".text\n"
        ".globl redzone_spin\n"
        ".type redzone_spin, @function\n"
        "redzone_spin:\n"
        "    .cfi_startproc\n"
        "    xorl %eax, %eax\n"
        "    movq %rsi, %rdx\n"
        "    xorl %ecx, %ecx\n"
        "1:  movq %rdx, -128(%rsp,%rcx,8)\n" /* fill */
        "    incq %rdx\n"
        "    incl %ecx\n"
        "    cmpl $16, %ecx\n"
        "    jne 1b\n"
        "2:  movq %rsi, %rdx\n" /* one round: check all 16 words */
        "    xorl %ecx, %ecx\n"
        "3:  cmpq %rdx, -128(%rsp,%rcx,8)\n"
        "    je 4f\n"
        "    incq %rax\n"
        "4:  incq %rdx\n"
        "    incl %ecx\n"
        "    cmpl $16, %ecx\n"
        "    jne 3b\n"
        "    decq %rdi\n"
        "    jnz 2b\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size redzone_spin, .-redzone_spin\n");

enum { NG = 3, WANT = 10 };
static atomic_int stop;
static atomic_long mismatches;
static gort_waitgroup wg;

static void spinner(void *arg)
{
    long seed = (long)(intptr_t)arg * 1000003;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        atomic_fetch_add(&mismatches, redzone_spin(1 << 16, seed));
    gort_wg_done(&wg);
}

static void main_g(void *arg)
{
    (void)arg;
    atomic_store(&stop, 0);
    atomic_store(&mismatches, 0);
    gort_stats st;
    gort_read_stats(&st);
    uint64_t base = st.async_preempts;
    gort_wg_add(&wg, NG);
    for (int i = 0; i < NG; i++)
        CHECK_EQ(gort_go(spinner, (void *)(intptr_t)(i + 1)), 0);
    /* The spinners are preempted each quantum, main among them gets its
     * turns: wait for enough preemptions (120 s bounds a broken runtime;
     * under valgrind ten take 3-12 s). */
    int64_t t0 = gort_nanotime();
    do {
        gort_sleep(2000000);
        gort_read_stats(&st);
        CHECK(gort_nanotime() - t0 < 120 * 1000000000LL, "only %llu async preemptions in 120 s",
              (unsigned long long)(st.async_preempts - base));
    } while (st.async_preempts - base < WANT);
    atomic_store(&stop, 1);
    gort_wg_wait(&wg);
    printf("%llu async preemptions, %ld red zone words changed\n",
           (unsigned long long)(st.async_preempts - base), atomic_load(&mismatches));
    CHECK(atomic_load(&mismatches) == 0, "%ld red zone words changed", atomic_load(&mismatches));
}

int main(void)
{
    run_main_child(main_g, NULL, "1", "quantum=200us");
    run_main_child(main_g, NULL, "2", "quantum=200us");
    printf("test_preempt_redzone: ok\n");
    return 0;
}
