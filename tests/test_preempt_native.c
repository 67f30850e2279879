/*
 * test_preempt_native.c — asynchronous preemption preserves the complete
 * FPU/vector state bit for bit.  Built with -march=native (the Makefile
 * does that for every test whose name contains "_native"), so on this
 * machine the kernels below really keep live values in zmm0-31 and k0-7
 * (AVX-512), ymm (AVX), xmm (SSE scalar double), the x87 register stack
 * (long double) and non-default rounding modes in MXCSR and the x87
 * control word, across thousands of preemptions at
 * GORTDEBUG=quantum=100us.  Every goroutine's result must equal the same
 * computation run sequentially before the runtime started.
 *
 * The kernels make no calls inside their loops, so every stop inside them
 * is an asynchronous preemption; the test requires >= 1000 of those.
 *
 * How many preemptions one run of the kernels gets depends on the machine,
 * not only on gort: the quantum is wall time, and a pending signal is
 * handled when the thread next gets a CPU, so a starved thread is stopped
 * about once per time slice the kernel gives it, however long it waited.
 * Unloaded, one round of the kernels gets ~7000; with 14 competing loops
 * on 2 cores the Ms get a few hundred slices each and a round gets
 * 300-900.  So the test repeats the same round, checking every result,
 * until 1000 preemptions have been seen (at most MAX_ROUNDS rounds): the
 * count means "at least 1000 preemptions hit these kernels and none
 * changed a bit", whatever the load, and it still fails if preemption
 * does not happen (or happens rarely: under 1000 in MAX_ROUNDS rounds).
 */
#include "check.h"

#include <fenv.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NG 8
#define ITERS 12000000L
#define MAX_ROUNDS 8

typedef struct {
    uint64_t avx512[8];
    uint64_t avx[4];
    double sse;
    long double x87;
    uint32_t mask_pop;
} result;

/* AVX-512: many independent zmm accumulators plus mask registers that a
 * signal landing anywhere must not disturb. */
static void kernel_avx512(int seed, result *r)
{
#ifdef __AVX512F__
    __m512d a[16];
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_set1_pd(1.0 + (seed * 16 + i) * 1e-3);
    const __m512d m = _mm512_set1_pd(0.999999), c = _mm512_set1_pd(1e-7);
    const __m512d lim = _mm512_set1_pd(1.0 + seed * 1e-3);
    __m512i cnt = _mm512_setzero_si512();
    for (long it = 0; it < ITERS / 8; it++) {
        for (int i = 0; i < 16; i++)
            a[i] = _mm512_fmadd_pd(a[i], m, c);
        __mmask8 k = _mm512_cmp_pd_mask(a[it & 15], lim, _CMP_GT_OQ);
        cnt = _mm512_mask_add_epi64(cnt, k, cnt, _mm512_set1_epi64(1));
        a[(it + 3) & 15] = _mm512_mask_blend_pd(k, a[(it + 3) & 15],
                                                _mm512_add_pd(a[(it + 3) & 15], c));
    }
    __m512d s = a[0];
    for (int i = 1; i < 16; i++)
        s = _mm512_xor_pd(s, a[i]);
    s = _mm512_xor_pd(s, _mm512_castsi512_pd(cnt));
    _mm512_storeu_pd((double *)r->avx512, s);
    r->mask_pop = (uint32_t)_mm512_reduce_add_epi64(cnt);
#else
    (void)seed;
    memset(r->avx512, 0, sizeof r->avx512);
    r->mask_pop = 0;
#endif
}

static void kernel_avx(int seed, result *r)
{
#ifdef __AVX2__
    __m256d a[8];
    for (int i = 0; i < 8; i++)
        a[i] = _mm256_set1_pd(0.5 + (seed * 8 + i) * 1e-4);
    const __m256d m = _mm256_set1_pd(1.0000001), c = _mm256_set1_pd(-3e-8);
    for (long it = 0; it < ITERS / 4; it++)
        for (int i = 0; i < 8; i++)
            a[i] = _mm256_add_pd(_mm256_mul_pd(a[i], m), c);
    __m256d s = a[0];
    for (int i = 1; i < 8; i++)
        s = _mm256_add_pd(s, a[i]);
    _mm256_storeu_pd((double *)r->avx, s);
#else
    (void)seed;
    memset(r->avx, 0, sizeof r->avx);
#endif
}

/* Scalar double: rounding-sensitive (each step rounds). */
static void kernel_sse(int seed, result *r)
{
    double x = 1.0 + seed * 1e-6, y = 0.0;
    for (long it = 0; it < ITERS; it++) {
        x = x * 1.0000000001 + 1e-9;
        y += x / 3.0;
    }
    r->sse = y;
}

/* x87: long double keeps values on the x87 stack; 64-bit mantissa. */
static void kernel_x87(int seed, result *r)
{
    long double x = 1.0L + seed * 1e-5L, y = 0.0L, z = 0.5L;
    for (long it = 0; it < ITERS; it++) {
        x = x * 1.00000000001L + 1e-12L;
        y += x / 7.0L;
        z = z * 0.9999999L + y * 1e-20L;
    }
    r->x87 = y + z;
}

static const int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};

static void compute(int i, result *r)
{
    memset(r, 0, sizeof *r);
    /* fesetround sets both MXCSR.RC and the x87 control word: goroutine
     * state that must survive preemption (and migration) too. */
    fesetround(modes[i % 4]);
    kernel_avx512(i, r);
    kernel_avx(i, r);
    kernel_sse(i, r);
    kernel_x87(i, r);
    fesetround(FE_TONEAREST);
}

static result want[NG], got[NG];
static gort_waitgroup wg = GORT_WAITGROUP_INIT;

static void worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    compute(i, &got[i]);
    gort_wg_done(&wg);
}

static void check_round(int round)
{
    for (int i = 0; i < NG; i++) {
        CHECK(memcmp(want[i].avx512, got[i].avx512, sizeof want[i].avx512) == 0, "round %d: avx512 %d",
              round, i);
        CHECK(memcmp(want[i].avx, got[i].avx, sizeof want[i].avx) == 0, "round %d: avx %d", round, i);
        CHECK(memcmp(&want[i].sse, &got[i].sse, sizeof(double)) == 0, "round %d: sse %d: %a vs %a",
              round, i, want[i].sse, got[i].sse);
        /* 10 significant bytes of the 80-bit value; the rest is padding. */
        CHECK(memcmp(&want[i].x87, &got[i].x87, 10) == 0, "round %d: x87 %d: %La vs %La", round, i,
              want[i].x87, got[i].x87);
        CHECK_EQ(want[i].mask_pop, got[i].mask_pop);
    }
}

static void main_g(void *arg)
{
    (void)arg;
    gort_stats st;
    int round = 0;
    do {
        memset(got, 0xa5, sizeof got);
        gort_wg_add(&wg, NG);
        for (int i = 0; i < NG; i++)
            CHECK_EQ(gort_go(worker, (void *)(intptr_t)i), 0);
        gort_wg_wait(&wg);
        check_round(++round);
        gort_read_stats(&st);
        fprintf(stderr, "round %d: async_preempts=%llu requests=%llu signals=%llu\n", round,
                (unsigned long long)st.async_preempts, (unsigned long long)st.preempt_requests,
                (unsigned long long)st.signals_sent);
    } while (st.async_preempts < 1000 && round < MAX_ROUNDS);
    CHECK(st.async_preempts >= 1000, "only %llu async preemptions in %d rounds",
          (unsigned long long)st.async_preempts, round);
}

int main(void)
{
#ifndef __AVX512F__
    printf("note: no AVX-512 on this machine; checking AVX/SSE/x87 only\n");
#endif
    for (int i = 0; i < NG; i++)
        compute(i, &want[i]);
    setenv("GORTDEBUG", "quantum=100us", 1);
    run_main(main_g, NULL);
    printf("%d goroutines: AVX-512/AVX/SSE/x87 results bit-identical to the sequential run\n", NG);
    return 0;
}
