/*
 * handoff.c — how soon a runnable goroutine runs once the goroutine on its
 * only P blocks in a system call (run with GORTMAXPROCS=1).
 *
 * Goroutine B waits on a channel.  Each sample, the main goroutine A sends
 * B a token (B becomes runnable on A's P; A keeps running), stamps t0 and
 * enters a blocking call:
 *   handoff       usleep(1000);
 *   handoff_pipe  a blocking read() of one byte from a pipe that B writes
 *                 once it has run (handoff_pipe.c builds this file with
 *                 HANDOFF_PIPE).
 * B, when it runs, records now - t0 and acknowledges on a buffered channel
 * that A reads after its call returns (so a sample is complete before the
 * next starts).  If the P is handed to another thread while A is in the
 * kernel, B runs within microseconds; if not, only once A's call returns
 * and A parks (>= 1 ms for usleep; for the pipe, never: A waits for B's
 * byte on the only P).  So that a runtime that does not hand the P off
 * still finishes, a plain thread (not a goroutine) writes the byte when A
 * has waited 50 ms and counts it as `rescued` (the sample then reads about
 * 50 ms); after 20 rescues the run stops early with the samples it has.  Value: p99 in ns (target <= 100 us); p50 and the rest are
 * reported too, raw samples to $BENCH_SAMPLES.
 *
 * Twin: bench/go "handoff" / "handoff_pipe" (GOMAXPROCS=1): the same
 * goroutines and channels, with syscall.Nanosleep and syscall.Read of a
 * syscall.Pipe fd (a raw blocking fd, not os.Pipe, which would park on the
 * netpoller instead of blocking in the kernel), so Go's sysmon must retake
 * the P from the system call.  No Boost twin (a fiber that blocks in the
 * kernel blocks its thread).
 */
#include "common.h"

#include <errno.h>
#include <pthread.h>

#ifdef HANDOFF_PIPE
#define NAME "handoff_pipe"
#define CALL "read_pipe"
#else
#define NAME "handoff"
#define CALL "usleep_1ms"
#endif

enum { RESCUE_NS = 50 * 1000 * 1000, MAX_RESCUES = 20 };

static long n_samples;
static gort_chan *token, *ack;
static int64_t *lat;
static _Atomic int64_t t0_stamp;
static atomic_long early;

#ifdef HANDOFF_PIPE
static int pfd[2];
/* Per sample: 0 = A waiting, 1 = B wrote the byte, 2 = the rescuer did.
 * Exactly one byte is written per sample. */
static atomic_int wrote;
static _Atomic int64_t waiting_since; /* 0: A is not in read() */
static atomic_int rescued, rescuer_stop;

static void *rescuer(void *arg)
{
    (void)arg;
    while (!atomic_load(&rescuer_stop)) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        int64_t since = atomic_load(&waiting_since);
        int expect = 0;
        if (since && bench_now() - since > RESCUE_NS &&
            atomic_compare_exchange_strong(&wrote, &expect, 2)) {
            atomic_fetch_add(&rescued, 1);
            if (write(pfd[1], "r", 1) != 1)
                bench_die("rescuer: write failed");
        }
    }
    return NULL;
}
#endif

static void receiver(void *arg)
{
    (void)arg;
    long i;
    while (gort_chan_recv(token, &i)) {
        int64_t t1 = bench_now();
        int64_t t0 = atomic_load(&t0_stamp);
        if (t0 == 0) { /* ran before A stamped (A preempted in between) */
            atomic_fetch_add(&early, 1);
            lat[i] = -1;
        } else {
            lat[i] = t1 - t0;
        }
#ifdef HANDOFF_PIPE
        int expect = 0;
        if (atomic_compare_exchange_strong(&wrote, &expect, 1) && write(pfd[1], "b", 1) != 1)
            bench_die("write to the pipe failed");
#endif
        gort_chan_send(ack, NULL);
    }
}

static void one(long i)
{
    atomic_store(&t0_stamp, 0);
#ifdef HANDOFF_PIPE
    atomic_store(&wrote, 0);
#endif
    gort_chan_send(token, &i); /* B becomes runnable on this P */
    int64_t t0 = bench_now();
    atomic_store(&t0_stamp, t0);
#ifdef HANDOFF_PIPE
    char c;
    atomic_store(&waiting_since, t0);
    ssize_t r;
    while ((r = read(pfd[0], &c, 1)) < 0 && errno == EINTR)
        ;
    atomic_store(&waiting_since, 0);
    if (r != 1)
        bench_die("read from the pipe failed");
#else
    usleep(1000);
#endif
    gort_chan_recv(ack, NULL);
}

static void bench(void *arg)
{
    (void)arg;
    long n = n_samples;
    gort_stats s0, s1;
    char st[512];
    lat = calloc((size_t)n, sizeof *lat);
    token = gort_chan_make(sizeof(long), 0);
    ack = gort_chan_make(0, 1);
    if (!lat || !token || !ack)
        bench_die("out of memory");
#ifdef HANDOFF_PIPE
    pthread_t th;
    if (pipe(pfd) != 0)
        bench_die("pipe failed");
    if (pthread_create(&th, NULL, rescuer, NULL) != 0)
        bench_die("pthread_create failed");
#endif
    bench_go(receiver, NULL);
    for (long i = 0; i < 20 && i < n; i++) /* warm-up: threads exist */
        one(i);
    atomic_store(&early, 0);
#ifdef HANDOFF_PIPE
    atomic_store(&rescued, 0);
#endif
    gort_read_stats(&s0);
    int64_t t_start = bench_now();
    for (long i = 0; i < n; i++) {
        one(i);
#ifdef HANDOFF_PIPE
        if (atomic_load(&rescued) >= MAX_RESCUES) { /* no hand-off: enough said */
            n = i + 1;
            break;
        }
#endif
    }
    int64_t t_end = bench_now();
    gort_read_stats(&s1);
    gort_chan_close(token);
#ifdef HANDOFF_PIPE
    atomic_store(&rescuer_stop, 1);
    pthread_join(th, NULL);
    int nrescued = atomic_load(&rescued);
#else
    int nrescued = 0;
#endif

    /* Drop samples taken before A stamped t0 (counted as early). */
    size_t m = 0;
    for (long i = 0; i < n; i++)
        if (lat[i] >= 0)
            lat[m++] = lat[i];
    bench_dump_samples(lat, m);
    bench_sort(lat, m);
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=" NAME " impl=gort unit=ns value=%" PRId64 " n=%zu call=" CALL
           " p50=%" PRId64 " p90=%" PRId64 " p99=%" PRId64 " max=%" PRId64 " mean=%.0f"
           " early=%ld rescued=%d secs_measured=%.2f %s\n",
           bench_quantile_sorted(lat, m, 0.99), m, bench_quantile_sorted(lat, m, 0.50),
           bench_quantile_sorted(lat, m, 0.90), bench_quantile_sorted(lat, m, 0.99),
           bench_quantile_sorted(lat, m, 1.0), bench_mean(lat, m), atomic_load(&early), nrescued,
           (double)(t_end - t_start) / 1e9, st);
    fflush(stdout);
    free(lat);
}

int main(int argc, char **argv)
{
    n_samples = bench_arg(argc, argv, 1000);
    return gort_main(bench, NULL) ? 1 : 0;
}
