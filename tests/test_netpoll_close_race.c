/*
 * test_netpoll_close_race.c — gort_close racing with calls that enter the
 * same fd (a reader looping on gort_read, a goroutine looping on
 * gort_set_deadline), as a server does when one goroutine closes a
 * connection another still uses (legal in Go: the calls fail).
 *
 * Checks, per round: gort_close returns 0 exactly once; the number is
 * usable afterwards by a new file that gets it (a byte written to its peer
 * wakes a reader parked on it); and a plain thread that keeps opening and
 * checking its own files never finds one closed under it.  Bugs this
 * caught: a call entering after the close began took a reference and let
 * go of it (refs CLOSING|0 -> |1 -> |0), so it believed it was the last
 * one out and made a second close(2) (closing whatever file had got the
 * number meanwhile), or drove refs below zero (every later call on the
 * number: ECANCELED); and a call entering between the last reference's
 * exit and the close(2) registered the dying file, leaving the number
 * "registered" for the next file, whose readers then never woke.
 */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define ROUNDS 3000

static _Atomic int stop_opener;
static _Atomic long opener_bad;

static void *opener(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_opener)) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        for (int i = 0; i < 50; i++)
            if (fcntl(fd, F_GETFD) < 0) {
                atomic_fetch_add(&opener_bad, 1);
                fd = -1;
                break;
            }
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

typedef struct {
    int fd;
    _Atomic int stop;
    gort_waitgroup wg;
} round_t;

static void reader(void *arg)
{
    round_t *r = arg;
    char c;
    /* Stops at the first failure: a call made once gort_close returned
     * may find the number reused by the opener (the program's own bug,
     * which this test must not commit more than the one call it cannot
     * avoid), so no errno is asserted. */
    while (!atomic_load(&r->stop) && gort_read(r->fd, &c, 1) > 0)
        ;
    gort_wg_done(&r->wg);
}

static void setter(void *arg)
{
    round_t *r = arg;
    while (!atomic_load(&r->stop) && gort_set_deadline(r->fd, GORT_READ, -1) == 0)
        gort_yield();
    gort_wg_done(&r->wg);
}

typedef struct {
    int fd;
    ssize_t got;
    int err;
    gort_waitgroup wg;
} probe_t;

static void probe_reader(void *arg)
{
    probe_t *p = arg;
    char c;
    p->got = gort_read(p->fd, &c, 1);
    p->err = p->got < 0 ? errno : 0;
    gort_wg_done(&p->wg);
}

static void body(void *arg)
{
    (void)arg;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, opener, NULL) == 0);
    for (int i = 0; i < ROUNDS; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        round_t r = {.fd = sv[0]};
        CHECK_EQ(gort_set_deadline(sv[0], GORT_READ, -1), 0); /* registered */
        gort_wg_add(&r.wg, 2);
        gort_go(reader, &r);
        gort_go(setter, &r);
        /* gort_close begins while they are parked or mid-call. */
        for (int k = 0; k < (i & 3); k++)
            gort_yield();
        CHECK_EQ(gort_close(sv[0]), 0);
        atomic_store(&r.stop, 1);
        gort_wg_wait(&r.wg);
        CHECK_EQ(close(sv[1]), 0);

        /* A new file with (likely) the same number must work. */
        int nv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv) == 0);
        probe_t p = {.fd = nv[0]};
        CHECK_EQ(gort_set_deadline(nv[0], GORT_READ, gort_nanotime() + 5000000000LL), 0);
        gort_wg_add(&p.wg, 1);
        gort_go(probe_reader, &p);
        gort_yield();
        CHECK_EQ(gort_write(nv[1], "x", 1), 1);
        gort_wg_wait(&p.wg);
        CHECK(p.got == 1, "round %d: fd %d (old %d): read %zd errno %d", i, nv[0], sv[0],
              p.got, p.err);
        CHECK_EQ(gort_close(nv[0]), 0);
        CHECK_EQ(gort_close(nv[1]), 0);
    }
    atomic_store(&stop_opener, 1);
    pthread_join(th, NULL);
    CHECK(atomic_load(&opener_bad) == 0, "%ld of the opener's files were closed under it",
          atomic_load(&opener_bad));
}

int main(void)
{
    run_main_child(body, NULL, "1", NULL);
    run_main_child(body, NULL, "2", NULL);
    printf("ok\n");
    return 0;
}
