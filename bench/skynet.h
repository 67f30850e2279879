/*
 * skynet.h — skynet's goroutine, the core of bench/skynet.c, shared with
 * tests/test_programs.c (which runs a smaller tree and checks its sum).
 * The includer provides bench_go(fn, arg) and bench_chan(elem, cap), which
 * start a goroutine and make a channel or fail (common.h: exit 2; the
 * test: CHECK), and may define PROGRAM_CHECK(cond, ...) to check what the
 * benchmark only evaluates.
 *
 * The children's arguments live in an array on the parent's stack: the
 * parent cannot return before all ten have sent, so the array outlives
 * every reader (Go copies the arguments onto the child's stack instead;
 * both cost no allocation).
 */
#ifndef GORT_BENCH_SKYNET_H
#define GORT_BENCH_SKYNET_H

#ifndef PROGRAM_CHECK
#define PROGRAM_CHECK(cond, ...) ((void)(cond))
#endif

enum { DIV = 10 };

struct sk_arg {
    gort_chan *c;
    int64_t num, size;
};

static void skynet(void *p)
{
    struct sk_arg *a = p;
    gort_chan *c = a->c;
    int64_t num = a->num, size = a->size;
    if (size == 1) {
        gort_chan_send(c, &num);
        return;
    }
    gort_chan *rc = bench_chan(sizeof(int64_t), 0);
    struct sk_arg kids[DIV];
    int64_t sub = size / DIV;
    for (int i = 0; i < DIV; i++) {
        kids[i] = (struct sk_arg){ rc, num + i * sub, sub };
        bench_go(skynet, &kids[i]);
    }
    int64_t sum = 0, v;
    for (int i = 0; i < DIV; i++) {
        PROGRAM_CHECK(gort_chan_recv(rc, &v));
        sum += v;
    }
    gort_chan_free(rc);
    gort_chan_send(c, &sum);
}

#endif /* GORT_BENCH_SKYNET_H */
