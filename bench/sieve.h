/*
 * sieve.h — the prime sieve's goroutines, the core of bench/sieve.c,
 * shared with tests/test_programs.c (which runs a shorter chain and
 * checks its primes).  Neither ever returns: the generator and the
 * filters stay parked on their channels once the main goroutine stops
 * taking primes, as in the Go program, and gort_main stops them when the
 * main goroutine returns.
 */
#ifndef GORT_BENCH_SIEVE_H
#define GORT_BENCH_SIEVE_H

struct filter_arg {
    gort_chan *in, *out;
    int64_t prime;
};

static void generate(void *p)
{
    gort_chan *ch = p;
    for (int64_t i = 2;; i++)
        gort_chan_send(ch, &i);
}

/* p: a malloc'd filter_arg, freed here. */
static void filter(void *p)
{
    struct filter_arg *a = p;
    gort_chan *in = a->in, *out = a->out;
    int64_t prime = a->prime, v;
    free(a);
    for (;;) {
        gort_chan_recv(in, &v);
        if (v % prime != 0)
            gort_chan_send(out, &v);
    }
}

#endif /* GORT_BENCH_SIEVE_H */
