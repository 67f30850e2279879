/*
 * sieve.c — the concurrent prime sieve (the classic Go example): a
 * generator goroutine sends 2, 3, 4, ... on an unbuffered channel; the
 * main goroutine takes the first number off the current channel as the
 * next prime and puts a filter goroutine in front of it that passes on the
 * numbers not divisible by that prime over a new unbuffered channel.  With
 * N primes the chain is N filters long (N = 3000 by default: the 3000th
 * prime, 27449, is checked; exit 2 otherwise).  Every number crosses
 * filters until one divides it, so almost all the time goes to unbuffered
 * handoffs between neighbours, each a park of one goroutine and a wake of
 * the other.  Value: wall time in ms.  Written from the published
 * description; Go twin: bench/go "sieve" (programs.go).  As in the Go
 * program, the generator and the filters never end: gort_main stops them
 * when the main goroutine returns.
 *
 * argv[1]: the number of primes (default 3000).
 */
#include "common.h"
#include "sieve.h" /* generate, filter (shared with tests/test_programs.c) */

/* The n-th prime by trial division, to check the sieve against. */
static int64_t nth_prime(long n)
{
    int64_t p = 1;
    for (long k = 0; k < n;) {
        p++;
        int prime = 1;
        for (int64_t d = 2; d * d <= p; d++)
            if (p % d == 0) {
                prime = 0;
                break;
            }
        k += prime;
    }
    return p;
}

static long n_primes;

static void bench(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    char st[512];
    long n = n_primes;
    int64_t want = nth_prime(n), prime = 0;

    gort_read_stats(&s0);
    int64_t t0 = bench_now();
    gort_chan *ch = bench_chan(sizeof(int64_t), 0);
    bench_go(generate, ch);
    for (long i = 0; i < n; i++) {
        gort_chan_recv(ch, &prime);
        gort_chan *ch1 = bench_chan(sizeof(int64_t), 0);
        struct filter_arg *a = malloc(sizeof *a);
        if (!a)
            bench_die("malloc failed");
        *a = (struct filter_arg){ ch, ch1, prime };
        bench_go(filter, a);
        ch = ch1;
    }
    int64_t t1 = bench_now();
    gort_read_stats(&s1);
    if (prime != want) {
        fprintf(stderr, "sieve: prime %ld is %" PRId64 ", want %" PRId64 "\n", n, prime, want);
        exit(2);
    }
    bench_stats_str(&s0, &s1, st, sizeof st);
    printf("RESULT name=sieve impl=gort unit=ms value=%.1f primes=%ld last=%" PRId64 " %s\n",
           (double)(t1 - t0) / 1e6, n, prime, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    n_primes = bench_arg(argc, argv, 3000);
    int rc = gort_main(bench, NULL);
    return rc ? 1 : 0;
}
