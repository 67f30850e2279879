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
 *
 * first_call_body: a goroutine's first call on a new fd racing the
 * program's own close of it (libc's close, through the wrapper, or
 * gort_close, or fclose of a stream on it), with no call in flight when the close begins.  The call
 * must fail (EBADF, or ECANCELED from a close that saw it in flight)
 * within seconds, and the number's next file must be registered anew
 * (non-blocking after its first call, and woken by data).  Bug this
 * caught: the close tested "registered or in use?" without a lock, the
 * first call registered the fd just before the close(2), and the number
 * stayed "registered" with no file: that call could park for ever, and
 * the next file never went into epoll nor became non-blocking (every run
 * of a helper's stress program).
 *
 * new_block_body: the same race where the number's block of gort's fd
 * table (one per 1024 numbers) does not exist yet, so that the close has
 * no pd to mark and the call makes the block: fds moved to a new block's
 * number each round, closed by close(), a dup2 onto the number,
 * gort_close or fclose.  It failed 3 of 3 runs before closes of such
 * numbers made the block themselves (netpoll.c pd_make).
 */
#include "check.h"
#include "../src/runtime.h" /* gort__pd_peek */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define ROUNDS 3000
#define NEW_BLOCKS 64

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

/* The number's next file (the lowest free number: likely old's) is
 * registered by its first call: made non-blocking, and a byte written to
 * its peer wakes a reader parked on it. */
static void check_next_file(int round, int old)
{
    int nv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv) == 0);
    CHECK_EQ(gort_set_deadline(nv[0], GORT_READ, gort_nanotime() + 5000000000LL), 0);
    CHECK(fcntl(nv[0], F_GETFL) & O_NONBLOCK,
          "round %d: fd %d (old %d) not made non-blocking: registered as a closed file's",
          round, nv[0], old);
    probe_t p = {.fd = nv[0]};
    gort_wg_add(&p.wg, 1);
    gort_go(probe_reader, &p);
    gort_yield();
    CHECK_EQ(gort_write(nv[1], "x", 1), 1);
    gort_wg_wait(&p.wg);
    CHECK(p.got == 1, "round %d: fd %d (old %d): read %zd errno %d", round, nv[0], old, p.got,
          p.err);
    CHECK_EQ(gort_close(nv[0]), 0);
    CHECK_EQ(gort_close(nv[1]), 0);
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

        check_next_file(i, sv[0]);
    }
    atomic_store(&stop_opener, 1);
    pthread_join(th, NULL);
    CHECK(atomic_load(&opener_bad) == 0, "%ld of the opener's files were closed under it",
          atomic_load(&opener_bad));
}

typedef struct {
    int fd;
    ssize_t got;
    int err;
    _Atomic int done;
} first_t;

static void first_reader(void *arg)
{
    first_t *f = arg;
    char c;
    f->got = gort_read(f->fd, &c, 1);
    f->err = f->got < 0 ? errno : 0;
    atomic_store(&f->done, 1);
}

/* The netpoller's own descriptors are made at the first registration:
 * made during a loop, they would take a number just closed, and the
 * racing read would act on them.  (For the same reason these bodies run
 * with iobatch=0: each P makes its io_uring ring at its first batched
 * call.)  A read of a closed number acts on whatever file has it. */
static void make_poller(void)
{
    int wv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, wv) == 0);
    CHECK_EQ(gort_set_deadline(wv[0], GORT_READ, -1), 0);
    CHECK_EQ(gort_close(wv[0]), 0);
    CHECK_EQ(gort_close(wv[1]), 0);
}

/* The ways the program closes an fd: libc's close (the wrapper),
 * gort_close, fclose of a stream on it (libc's own close), and a dup2
 * onto it (new_block_body makes that one: it needs the new file). */
enum { BY_CLOSE, BY_GORT_CLOSE, BY_FCLOSE, BY_DUP2 };
static const char *const by_name[] = {"close", "gort_close", "fclose", "dup2"};

static void close_by(int how, int fd)
{
    switch (how) {
    case BY_CLOSE:
        CHECK_EQ(close(fd), 0);
        break;
    case BY_GORT_CLOSE:
        CHECK_EQ(gort_close(fd), 0);
        break;
    default: {
        FILE *fp = fdopen(fd, "r");
        CHECK(fp != NULL);
        CHECK_EQ(fclose(fp), 0);
    }
    }
}

/* Until the first read racing the close is over: 5 s at most. */
static void wait_first_read(first_t *f, const char *unit, int n, int how)
{
    int64_t t0 = gort_nanotime();
    while (!atomic_load(&f->done)) {
        CHECK(gort_nanotime() - t0 < 5000000000LL,
              "%s %d: a first read of fd %d still parked 5 s after its %s", unit, n, f->fd,
              by_name[how]);
        gort_sleep(100000);
    }
}

static void first_call_body(void *arg)
{
    (void)arg;
    make_poller();
    for (int i = 0; i < ROUNDS; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        first_t f = {.fd = sv[0]};
        gort_go(first_reader, &f);
        for (int k = 0; k < (i & 3); k++)
            gort_yield();
        int how = (i >> 2) % 3; /* close, gort_close, fclose */
        close_by(how, sv[0]);
        wait_first_read(&f, "round", i, how);
        CHECK(f.got == -1 && (f.err == EBADF || f.err == ECANCELED),
              "round %d: a read racing the %s of fd %d: %zd errno %d", i, by_name[how], sv[0],
              f.got, f.err);
        CHECK_EQ(close(sv[1]), 0);

        check_next_file(i, sv[0]);
    }
}

/* A number in a block of gort's fd table that does not exist yet (one
 * per 1024 numbers, made by the first call on any of them): *fd moved
 * there, or false when RLIMIT_NOFILE has no room left. */
static bool move_to_new_block(int *fd, int block)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    long n = (long)block * 1024 + 7;
    if ((rlim_t)n >= rl.rlim_cur) {
        if ((rlim_t)n >= rl.rlim_max)
            return false;
        rl.rlim_cur = rl.rlim_max;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    int m = fcntl(*fd, F_DUPFD_CLOEXEC, (int)n);
    CHECK(m == n, "F_DUPFD to %ld: %d (%s)", n, m, strerror(errno));
    CHECK_EQ(close(*fd), 0);
    *fd = m;
    return true;
}

/* The first call ever on a number of a new block racing the number's
 * close: the close found no pd to mark, and the call made the block and
 * registered the file being closed. */
static void new_block_body(void *arg)
{
    int i = (int)(intptr_t)arg;
    make_poller();
    for (int b = 1; b <= NEW_BLOCKS; b++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        if (!move_to_new_block(&sv[0], b)) {
            CHECK_EQ(close(sv[0]), 0);
            CHECK_EQ(close(sv[1]), 0);
            if (b == 1)
                fprintf(stderr, "new_block_body: skipped: RLIMIT_NOFILE's hard limit leaves "
                                "no number above 1024\n");
            break;
        }
        first_t f = {.fd = sv[0]};
        gort_go(first_reader, &f);
        for (int k = 0; k < (b & 3); k++)
            gort_yield();
        /* The number's next file: made by the closing dup2, or after the
         * close. */
        int how = (i + b) & 3;
        bool by_dup = how == BY_DUP2;
        int nv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv) == 0);
        if (by_dup) {
            CHECK_EQ(dup2(nv[0], sv[0]), sv[0]);
            CHECK_EQ(write(nv[1], "x", 1), 1); /* for a read of the new file */
        } else {
            close_by(how, sv[0]);
        }
        wait_first_read(&f, "block", b, how);
        CHECK((f.got == -1 && (f.err == EBADF || f.err == ECANCELED)) || (by_dup && f.got == 1),
              "block %d: a read racing the %s of fd %d: %zd errno %d", b, by_name[how], sv[0],
              f.got, f.err);
        CHECK_EQ(close(sv[1]), 0);
        if (!by_dup)
            CHECK_EQ(fcntl(nv[0], F_DUPFD_CLOEXEC, sv[0]), sv[0]);
        CHECK_EQ(close(nv[0]), 0);
        nv[0] = sv[0];
        CHECK_EQ(gort_set_deadline(nv[0], GORT_READ, gort_nanotime() + 5000000000LL), 0);
        CHECK(fcntl(nv[0], F_GETFL) & O_NONBLOCK,
              "block %d: fd %d not made non-blocking: registered as a closed file's", b, nv[0]);
        CHECK_EQ(gort_close(nv[0]), 0);
        CHECK_EQ(close(nv[1]), 0);
    }
}

/* Closing (or dup2-ing onto) numbers that name no file makes no block
 * of the table: a daemon closes every number up to RLIMIT_NOFILE, and a
 * block each was 104 KiB per 1024 numbers (418 MiB up to 4M). */
static void no_block_for_free_numbers(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    for (int n = 200 * 1024; n < 264 * 1024; n += 97) {
        CHECK(close(n) == -1 && errno == EBADF);
        CHECK(gort_close(n) == -1 && errno == EBADF);
        CHECK(dup2(-1, n) == -1 && errno == EBADF);
        CHECK(gort__pd_peek(n) == NULL, "closing free number %d made its block", n);
    }
    CHECK_EQ(close(sv[0]), 0);
    CHECK_EQ(close(sv[1]), 0);
}

int main(void)
{
    no_block_for_free_numbers();
    run_main_child(body, NULL, "1", NULL);
    run_main_child(body, NULL, "2", NULL);
    run_main_child(first_call_body, NULL, "1", "iobatch=0");
    run_main_child(first_call_body, NULL, "2", "iobatch=0");
    /* Each child has fresh blocks: as many as RLIMIT_NOFILE allows, up to
     * NEW_BLOCKS. */
    for (int i = 0; i < 10; i++)
        run_main_child(new_block_body, (void *)(intptr_t)i, (i & 1) ? "2" : "1", "iobatch=0");
    printf("ok\n");
    return 0;
}
