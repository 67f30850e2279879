/*
 * test_split_args.c — a function stopped at its prologue resumes with its
 * arguments intact (arch/morestack_amd64.S keeps every argument register,
 * rax and the vector registers, and resumes with rsp as at entry, so the
 * stack arguments are where they were):
 *   - more than six integer arguments, more than eight doubles, a struct
 *     passed by value in memory and one in registers, a long double;
 *   - a variadic function (gcc's continuation begins with
 *     `lea 0x18(%rbp),%r11`, which the runtime emulates) with integer and
 *     double arguments, some on the stack, al counting the vector ones;
 *     clang 14 cannot compile a variadic function with a stack check (a
 *     fatal backend error), so there it is no_split_stack and the case
 *     says it is skipped;
 *   - __m256d arguments (ymm0-7, the ninth on the stack) and __m512d ones,
 *     where the CPU has AVX / AVX-512F (checked at run time; only those
 *     functions are compiled for it).
 * Each function is called right after this thread's guard was poisoned
 * (the slow path, resumed at once: deterministic), then by 4 goroutines on
 * GORTMAXPROCS=2 (quantum=200us, asyncpreemptoff=1: every stop a prologue
 * stop, with other goroutines' values in the registers meanwhile), and
 * every result is compared with the one computed before gort started.
 */
#include "split.h"

#include <immintrin.h>
#include <stdarg.h>
#include <stdatomic.h>

#define NSETS 64

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull + (h >> 29);
}
static inline uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* --- many arguments ---------------------------------------------------- */
struct big { long a[6]; double d; };  /* in memory */
struct pair { float f; int i; };      /* in a register */

uint64_t many(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, double d1, double d2,
              double d3, double d4, double d5, double d6, double d7, double d8, double d9, double d10,
              struct big b, long double x, struct pair p);
__attribute__((noinline)) uint64_t many(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8,
                                        double d1, double d2, double d3, double d4, double d5, double d6,
                                        double d7, double d8, double d9, double d10, struct big b, long double x,
                                        struct pair p)
{
    uint64_t h = 14695981039346656037ull;
    long as[] = {a1, a2, a3, a4, a5, a6, a7, a8};
    double ds[] = {d1, d2, d3, d4, d5, d6, d7, d8, d9, d10};
    for (int i = 0; i < 8; i++)
        h = mix(h, (uint64_t)as[i]);
    for (int i = 0; i < 10; i++)
        h = mix(h, dbits(ds[i]));
    for (int i = 0; i < 6; i++)
        h = mix(h, (uint64_t)b.a[i]);
    h = mix(h, dbits(b.d));
    h = mix(h, dbits((double)(x * 3)));
    h = mix(h, dbits((double)p.f) ^ (uint64_t)p.i);
    return h;
}

#define MANY_ARGS(k)                                                                                     \
    (k) + 1, (k) + 2, (k) + 3, (k) + 4, (k) + 5, (k) + 6, (k) + 7, (k) + 8, (k) + 0.5, (k) + 1.5, (k) + 2.5, \
        (k) + 3.5, (k) + 4.5, (k) + 5.5, (k) + 6.5, (k) + 7.5, (k) + 8.5, (k) + 9.5,                     \
        (struct big){{(k), -(k), 3 * (k), 5, 7, 11}, (k) / 7.0}, (long double)(k) / 3.0L,                \
        (struct pair){(float)(k) / 5.0f, -(k)}

static uint64_t call_many(long k, bool poison)
{
    if (poison)
        split_poison_self();
    return many(MANY_ARGS(k));
}

/* --- variadic --------------------------------------------------------- */
#ifdef __clang__
#define VARIADIC_SPLIT 0
#define VARIADIC_ATTR __attribute__((no_split_stack))
#else
#define VARIADIC_SPLIT 1
#define VARIADIC_ATTR
#endif

/* n pairs (long, double): past the fifth pair the longs are on the stack,
 * past the eighth the doubles. */
uint64_t vmix(int n, ...);
VARIADIC_ATTR __attribute__((noinline)) uint64_t vmix(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        h = mix(h, (uint64_t)va_arg(ap, long));
        h = mix(h, dbits(va_arg(ap, double)));
    }
    va_end(ap);
    return h;
}

#define VMIX_ARGS(k)                                                                                    \
    10, (long)(k), (k) + 0.25, (long)(k) + 1, (k) + 1.25, (long)(k) + 2, (k) + 2.25, (long)(k) + 3,     \
        (k) + 3.25, (long)(k) + 4, (k) + 4.25, (long)(k) + 5, (k) + 5.25, (long)(k) + 6, (k) + 6.25,    \
        (long)(k) + 7, (k) + 7.25, (long)(k) + 8, (k) + 8.25, (long)(k) + 9, (k) + 9.25

static uint64_t call_vmix(long k, bool poison)
{
    if (poison)
        split_poison_self();
    return vmix(VMIX_ARGS(k));
}

/* --- vector arguments ------------------------------------------------- */
#define AVX __attribute__((target("avx"), noinline))
#define AVX512 __attribute__((target("avx512f"), noinline))

__m256d avx_args(__m256d a, __m256d b, __m256d c, __m256d d, __m256d e, __m256d f, __m256d g, __m256d h,
                 __m256d i) AVX;
AVX __m256d avx_args(__m256d a, __m256d b, __m256d c, __m256d d, __m256d e, __m256d f, __m256d g, __m256d h,
                     __m256d i)
{
    __m256d r = a;
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), b);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), c);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), d);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), e);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), f);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), g);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), h);
    r = _mm256_add_pd(_mm256_mul_pd(r, _mm256_set1_pd(3)), i);
    return r;
}

static AVX uint64_t call_avx(long k, bool poison)
{
    __m256d v[9];
    for (int j = 0; j < 9; j++)
        v[j] = _mm256_set_pd(k + j, k * 2 + j, k * 3 - j, k * 0.5 + j);
    if (poison)
        split_poison_self();
    __m256d r = avx_args(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    double out[4];
    _mm256_storeu_pd(out, r);
    uint64_t h = 7;
    for (int j = 0; j < 4; j++)
        h = mix(h, dbits(out[j]));
    return h;
}

__m512d avx512_args(__m512d a, __m512d b, __m512d c, __m512d d, __m512d e, __m512d f, __m512d g, __m512d h,
                    __m512d i) AVX512;
AVX512 __m512d avx512_args(__m512d a, __m512d b, __m512d c, __m512d d, __m512d e, __m512d f, __m512d g,
                           __m512d h, __m512d i)
{
    __m512d r = a, t = _mm512_set1_pd(3);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), b);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), c);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), d);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), e);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), f);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), g);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), h);
    r = _mm512_add_pd(_mm512_mul_pd(r, t), i);
    return r;
}

static AVX512 uint64_t call_avx512(long k, bool poison)
{
    __m512d v[9];
    for (int j = 0; j < 9; j++)
        v[j] = _mm512_set_pd(k + j, k * 2 + j, k * 3 - j, k * 0.5 + j, k - j, k * 7 + j, j, -k);
    if (poison)
        split_poison_self();
    __m512d r = avx512_args(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    double out[8];
    _mm512_storeu_pd(out, r);
    uint64_t h = 11;
    for (int j = 0; j < 8; j++)
        h = mix(h, dbits(out[j]));
    return h;
}

/* --- the cases -------------------------------------------------------- */
enum { K_MANY, K_VMIX, K_AVX, K_AVX512, NKINDS };
static const char *const kind_name[NKINDS] = {"many arguments", "variadic", "__m256d", "__m512d"};
static bool have[NKINDS];
static uint64_t want[NKINDS][NSETS];

static uint64_t call(int kind, long k, bool poison)
{
    switch (kind) {
    case K_MANY: return call_many(k, poison);
    case K_VMIX: return call_vmix(k, poison);
    case K_AVX: return call_avx(k, poison);
    default: return call_avx512(k, poison);
    }
}

#define NG 4
#define CALLS 300000

static void caller(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (long i = 0; split_go_on(i, CALLS); i++) {
        int kind = (int)((i + me) % NKINDS), k = (int)((i * 7 + me) % NSETS);
        if (!have[kind])
            continue;
        uint64_t got = call(kind, k, false);
        CHECK(got == want[kind][k], "%s, set %d: %#llx, before gort %#llx", kind_name[kind], k,
              (unsigned long long)got, (unsigned long long)want[kind][k]);
    }
}

static void args_main(void *arg)
{
    (void)arg;
    /* The slow path at every call, resumed at once. */
    for (int kind = 0; kind < NKINDS; kind++)
        for (int k = 0; have[kind] && k < NSETS; k++) {
            uint64_t got = call(kind, k, true);
            CHECK(split_guard_word() != SPLIT_POISON || (kind == K_VMIX && !VARIADIC_SPLIT),
                  "%s: the poison was not consumed", kind_name[kind]);
            CHECK(got == want[kind][k], "%s, set %d, through the slow path: %#llx, before gort %#llx",
                  kind_name[kind], k, (unsigned long long)got, (unsigned long long)want[kind][k]);
        }
    gort_stats s1 = split_run_until(NG, caller, 0, "argument calls", SPLIT_NEED(prologue_preempts));
    CHECK(s1.prologue_preempts > 0, "never stopped at a prologue");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    __builtin_cpu_init();
    have[K_MANY] = true;
    have[K_VMIX] = true;
    have[K_AVX] = __builtin_cpu_supports("avx");
    have[K_AVX512] = __builtin_cpu_supports("avx512f");
    if (!VARIADIC_SPLIT)
        printf("variadic: no stack check (clang cannot compile a variadic split-stack function): "
               "only checked as a plain call\n");
    for (int kind = 0; kind < NKINDS; kind++) {
        if (!have[kind]) {
            printf("%s: skipped, the CPU does not have it\n", kind_name[kind]);
            continue;
        }
        for (int k = 0; k < NSETS; k++)
            want[kind][k] = call(kind, k, false);
    }
    run_main_child(args_main, NULL, "2", "quantum=200us,asyncpreemptoff=1");
    return 0;
}
