/*
 * test_iobatch.c — iobatch (src/iobatch_linux.c, on by default): goroutines'
 * socket reads and writes queued on their P's io_uring and made by one
 * io_uring_enter per batch.  (The netpoller's own tests run with it on,
 * and again with it off: tests/netpoll_direct.sh, test_netpoll_direct.)
 *
 *  1. A batch (GORTMAXPROCS=1): K goroutines each parked in gort_read on
 *     its own TCP connection; main writes a request to every peer, then
 *     waits.  The poller readies the K together, each queues its recv and
 *     parks, and the P submits the K recvs in one call.  Checked: every
 *     reply; the counters grew by at least 3K ops (main's K sends, the K
 *     recvs, the K replies) in at most (ops - K/2) calls: reads shared.
 *  2. Ping-pong (GORTMAXPROCS=2): 16 connections, 2,000 round trips each of
 *     1-2,048 bytes with their contents checked, and a 4 MiB gort_write
 *     that fills the socket (sends come back short and -EAGAIN: the
 *     goroutine parks on the pd's edge between batches).  Meanwhile a
 *     goroutine switches GORTMAXPROCS between 1 and 2 (stops of the world,
 *     and a P going away, with batches queued).
 *  3. The stopped world: the goroutine that stopped it may write to a
 *     socket (it holds the world: it must not park, so the call is made
 *     directly); and gort_close of an fd whose reader parked on its edge
 *     after a batched read found nothing.  (A close while the read is
 *     still queued on the ring is not arranged here: the pd reference the
 *     read holds makes the close wait for it, as for a direct read.)
 *  4. iobatch on by default, and off with GORTDEBUG=iobatch=0: the
 *     counters stay 0.
 *  5. The program closes its rings (as a loop over /proc/self/fd would;
 *     close_range would close the netpoller's epoll fd too) while a batch
 *     is queued (GORTMAXPROCS=1): a goroutine the poller readied with
 *     K echo goroutines closes every io_uring descriptor, so the flush
 *     after it finds the ring gone with the K replies queued.  Checked:
 *     every reply arrives (the queued ops made as direct calls), later
 *     calls are direct (io_batches stops growing), and the process goes on.
 *  6. The closed ring's number taken by a ring of the program's own: the
 *     runtime's next flush enters that number, must see that the ring
 *     took none of its entries, make them directly and never wait on the
 *     other ring's completions (before: a P spinning for ever).
 *  7. A seccomp filter that kills the process at io_uring_setup,
 *     installed before the first socket call (systemd's SystemCallFilter=
 *     without an errno is such a filter): iobatch stays off, no ring is
 *     asked for, and the calls work directly.
 *
 * Where io_uring cannot be set up (kernel.io_uring_disabled, a seccomp
 * profile, Linux before 5.6) or lets a MSG_DONTWAIT recv wait, iobatch
 * falls back to the direct calls: the test checks the same data with the
 * counters at 0, and says so.
 */
#include "netcheck.h"

#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>

enum { K = 32, PAIRS = 16, ROUNDS = 2000, BIG = 4 << 20 };

/* What the runtime asks before it uses a ring (iobatch_linux.c
 * nowait_honoured), asked again here: can a ring be set up, and does a
 * MSG_DONTWAIT recv on an empty socket complete at once with -EAGAIN? */
static bool uring_works(void)
{
    /* Under a seccomp filter the runtime does not ask (iobatch_linux.c
     * seccomp_filtered). */
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    bool filtered = true;
    while (st && fgets(line, sizeof line, st))
        if (strncmp(line, "Seccomp:", 8) == 0)
            filtered = atoi(line + 8) != 0;
    if (st)
        fclose(st);
    if (filtered)
        return false;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(SYS_io_uring_setup, 64, &p); /* the runtime's size */
    if (fd < 0)
        return false;
    size_t len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.sq_off.array + p.sq_entries * sizeof(uint32_t) > len)
        len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
    char *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQ_RING);
    struct io_uring_sqe *sqe = mmap(NULL, sizeof *sqe * p.sq_entries, PROT_READ | PROT_WRITE,
                                    MAP_SHARED, fd, IORING_OFF_SQES);
    int sv[2];
    bool ok = false;
    if (r != MAP_FAILED && sqe != MAP_FAILED && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
        static char byte;
        memset(sqe, 0, sizeof *sqe);
        sqe->opcode = IORING_OP_RECV;
        sqe->fd = sv[0];
        sqe->addr = (uintptr_t)&byte;
        sqe->len = 1;
        sqe->msg_flags = MSG_DONTWAIT;
        ((uint32_t *)(r + p.sq_off.array))[0] = 0;
        __atomic_store_n((uint32_t *)(r + p.sq_off.tail), 1, __ATOMIC_RELEASE);
        long n = syscall(SYS_io_uring_enter, fd, 1, 0, 0, NULL, 0);
        uint32_t tail = __atomic_load_n((uint32_t *)(r + p.cq_off.tail), __ATOMIC_ACQUIRE);
        struct io_uring_cqe *cqe = (struct io_uring_cqe *)(r + p.cq_off.cqes);
        ok = n == 1 && tail == 1 && cqe[0].res == -EAGAIN;
        close(sv[0]);
        close(sv[1]);
    }
    if (sqe != MAP_FAILED)
        munmap(sqe, sizeof *sqe * p.sq_entries);
    if (r != MAP_FAILED)
        munmap(r, len);
    close(fd);
    return ok;
}

static gort_stats st0;
static void stats_mark(void) { gort_read_stats(&st0); }
static void stats_since(uint64_t *batches, uint64_t *ops)
{
    gort_stats s;
    gort_read_stats(&s);
    *batches = s.io_batches - st0.io_batches;
    *ops = s.io_batched - st0.io_batched;
}

/* ---- 1: one wave of reads shares a batch ---- */

static int srv[K], cli[K];
static gort_waitgroup wave_wg;

/* K connections: the client ends in cli, the server ends in srv. */
static void open_pairs(void)
{
    for (int i = 0; i < K; i++) {
        int p[2];
        tcp_pair(p);
        cli[i] = p[0];
        srv[i] = p[1];
    }
}

static void echo_once(void *arg)
{
    int fd = srv[(intptr_t)arg];
    uint32_t v;
    CHECK_CALL(gort_read(fd, &v, sizeof v), (long)sizeof v);
    v = ~v;
    CHECK_CALL(gort_write(fd, &v, sizeof v), (long)sizeof v);
    gort_wg_done(&wave_wg);
}

static void main_wave(void *arg)
{
    bool on = *(bool *)arg;
    open_pairs();
    gort_wg_add(&wave_wg, K);
    for (intptr_t i = 0; i < K; i++)
        CHECK_EQ(gort_go(echo_once, (void *)i), 0);
    wait_io_wait(K); /* all K parked on their fds */
    stats_mark();
    for (int i = 0; i < K; i++) {
        uint32_t v = 0x1000u + (uint32_t)i;
        CHECK_CALL(gort_write(cli[i], &v, sizeof v), (long)sizeof v);
    }
    gort_wg_wait(&wave_wg);
    uint64_t batches, ops;
    stats_since(&batches, &ops);
    for (int i = 0; i < K; i++) {
        uint32_t v;
        CHECK_CALL(gort_read(cli[i], &v, sizeof v), (long)sizeof v);
        CHECK(v == ~(0x1000u + (uint32_t)i), "connection %d: wrong reply %#x", i, v);
        CHECK_CALL(gort_close(cli[i]), 0);
        CHECK_CALL(gort_close(srv[i]), 0);
    }
    fprintf(stderr, "wave of %d: %" PRIu64 " ops in %" PRIu64 " io_uring_enter calls\n", K, ops,
            batches);
    if (!on) {
        CHECK(batches == 0 && ops == 0, "iobatch off, yet %" PRIu64 " batches", batches);
        return;
    }
    /* main's K writes, the K reads, the K replies (and any EAGAIN read). */
    CHECK(ops >= 3 * K, "%" PRIu64 " ops batched, want >= %d", ops, 3 * K);
    CHECK(batches <= ops - K / 2, "%" PRIu64 " ops took %" PRIu64 " calls: the reads shared none",
          ops, batches);
}

/* ---- 2: ping-pong with checked contents, and a write that fills ---- */

/* n bytes from fd (fewer only at end of file). */
static size_t read_full(int fd, void *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = gort_read(fd, (char *)b + got, n - got);
        CHECK(r >= 0, "gort_read: %s", strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void fill(unsigned char *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 2654435761u >> 24 ^ i);
}

static void pong(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char buf[2048];
    for (;;) {
        uint32_t n;
        ssize_t r = gort_read(fd, &n, sizeof n);
        if (r == 0)
            break;
        if (r > 0 && r < (ssize_t)sizeof n)
            r += (ssize_t)read_full(fd, (char *)&n + r, sizeof n - (size_t)r);
        CHECK(r == (ssize_t)sizeof n, "pong header: %zd %s", r, strerror(errno));
        CHECK(n <= sizeof buf);
        CHECK_EQ(read_full(fd, buf, n), (size_t)n);
        CHECK_CALL(gort_write(fd, buf, n), (long)n);
    }
    CHECK_CALL(gort_close(fd), 0);
}

static gort_waitgroup ping_wg;

static void ping(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char out[4 + 2048], in[2048];
    for (uint32_t k = 0; k < ROUNDS; k++) {
        /* Header and payload in one write: two small writes before a
         * read would wait out the peer's delayed ACK (Nagle). */
        uint32_t n = 1 + (k * 7919u + (uint32_t)fd * 31u) % 2048;
        memcpy(out, &n, sizeof n);
        fill(out + 4, n, k ^ (uint32_t)fd << 16);
        CHECK_CALL(gort_write(fd, out, 4 + n), (long)(4 + n));
        CHECK_EQ(read_full(fd, in, n), (size_t)n);
        CHECK(memcmp(in, out + 4, n) == 0, "fd %d round %u: reply differs", fd, k);
    }
    CHECK_CALL(gort_close(fd), 0);
    gort_wg_done(&ping_wg);
}

static void sink(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static unsigned char buf[65536];
    size_t total = 0;
    uint32_t sum = 0;
    for (;;) {
        ssize_t r = gort_read(fd, buf, sizeof buf);
        CHECK(r >= 0, "sink: %s", strerror(errno));
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            sum = sum * 31 + buf[i];
        total += (size_t)r;
    }
    CHECK(total == BIG, "sink got %zu of %d bytes", total, BIG);
    unsigned char *want = malloc(BIG);
    CHECK(want);
    fill(want, BIG, 77);
    uint32_t wsum = 0;
    for (size_t i = 0; i < BIG; i++)
        wsum = wsum * 31 + want[i];
    free(want);
    CHECK(sum == wsum, "sink: the 4 MiB differ");
    CHECK_CALL(gort_close(fd), 0);
    gort_wg_done(&ping_wg);
}

static atomic_bool ping_done;

static void toggle_procs(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&ping_done); i++) {
        gort_maxprocs(i & 1 ? 2 : 1);
        gort_sleep(2 * MS);
    }
    gort_maxprocs(2);
    gort_wg_done(&ping_wg);
}

static void main_pingpong(void *arg)
{
    bool on = *(bool *)arg;
    stats_mark();
    gort_wg_add(&ping_wg, 1);
    CHECK_EQ(gort_go(toggle_procs, NULL), 0);
    gort_wg_add(&ping_wg, PAIRS + 1);
    for (int i = 0; i < PAIRS; i++) {
        int p[2];
        tcp_pair(p);
        CHECK_EQ(gort_go(pong, (void *)(intptr_t)p[1]), 0);
        CHECK_EQ(gort_go(ping, (void *)(intptr_t)p[0]), 0);
    }
    int p[2];
    tcp_pair(p);
    CHECK_EQ(gort_go(sink, (void *)(intptr_t)p[1]), 0);
    unsigned char *big = malloc(BIG);
    CHECK(big);
    fill(big, BIG, 77);
    CHECK_CALL(gort_write(p[0], big, BIG), (long)BIG);
    free(big);
    CHECK_CALL(gort_close(p[0]), 0);
    /* The pairs and the sink are done when only main and the toggler are. */
    while (gort_num_goroutine() > 2)
        gort_sleep(MS);
    atomic_store(&ping_done, true);
    gort_wg_wait(&ping_wg);
    uint64_t batches, ops;
    stats_since(&batches, &ops);
    fprintf(stderr, "ping-pong: %" PRIu64 " ops in %" PRIu64 " io_uring_enter calls\n", ops,
            batches);
    if (on)
        CHECK(ops >= (uint64_t)PAIRS * ROUNDS * 4, "%" PRIu64 " ops batched", ops);
    else
        CHECK(ops == 0);
}

/* ---- 3: the stopped world, and a close while a read is queued ---- */

static int closefd;
static gort_waitgroup close_wg;

static void reader_closed(void *arg)
{
    (void)arg;
    char c;
    ssize_t r = gort_read(closefd, &c, 1);
    CHECK(r < 0 && errno == ECANCELED, "read on a closed fd: %zd (%s)", r, strerror(errno));
    gort_wg_done(&close_wg);
}

static void main_world(void *arg)
{
    (void)arg;
    int p[2];
    tcp_pair(p);
    gort_stop_the_world();
    uint64_t v = 42;
    ssize_t w = gort_write(p[0], &v, sizeof v); /* room: no park */
    gort_start_the_world();
    CHECK(w == (ssize_t)sizeof v, "write with the world stopped: %zd (%s)", w, strerror(errno));
    uint64_t got = 0;
    CHECK_CALL(gort_read(p[1], &got, sizeof got), (long)sizeof got);
    CHECK(got == 42);

    /* A reader parks on the edge (nothing to read); close wakes it. */
    closefd = p[1];
    gort_wg_add(&close_wg, 1);
    CHECK_EQ(gort_go(reader_closed, NULL), 0);
    wait_io_wait(1);
    CHECK_CALL(gort_close(p[1]), 0);
    gort_wg_wait(&close_wg);
    CHECK_CALL(gort_close(p[0]), 0);
}

/* ---- 5: the rings closed under the runtime ---- */

static int trig[2];

/* close(2) itself: libc's close and syscall() are the runtime's
 * (interpose_linux.c), and their bracket flushes the P's batch before the
 * call, which would leave nothing queued on the ring closed here. */
static long raw_close(int fd)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_close), "D"((long)fd)
                     : "rcx", "r11", "memory");
    return r;
}

/* The io_uring descriptors of the process (the runtime's rings, and any
 * the test made), at most max of them into fds; how many. */
static int ring_fds(int *fds, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        if (l > 0 && (link[l] = 0, strcmp(link, "anon_inode:[io_uring]") == 0) && n < max)
            fds[n++] = atoi(e->d_name);
    }
    closedir(d);
    return n;
}

/* Close every one of the runtime's rings; how many. */
static int close_rings(void)
{
    int fds[64];
    int n = ring_fds(fds, 64);
    for (int i = 0; i < n; i++)
        CHECK_EQ(raw_close(fds[i]), 0L);
    return n;
}

static _Atomic int rings_closed = -1;

static void ring_closer(void *arg)
{
    (void)arg;
    char c;
    CHECK_CALL(gort_read(trig[1], &c, 1), 1L);
    /* Not preempted in between, and no call bracket (which flushes)
     * between the close and the mark: the flush that meets the closed
     * ring comes after the mark. */
    gort_preempt_disable();
    atomic_store(&rings_closed, close_rings());
    stats_mark(); /* what is flushed from here on meets a closed ring */
    gort_preempt_enable();
    gort_wg_done(&wave_wg);
}

static void main_lost(void *arg)
{
    bool on = *(bool *)arg;
    open_pairs();
    tcp_pair(trig);
    gort_wg_add(&wave_wg, K + 1);
    CHECK_EQ(gort_go(ring_closer, NULL), 0);
    for (intptr_t i = 0; i < K; i++)
        CHECK_EQ(gort_go(echo_once, (void *)i), 0);
    wait_io_wait(K + 1);
    /* The trigger last: epoll reports the fds in the order they became
     * ready, the K + 1 reads are queued and complete in that order, and
     * the closer runs after the K echoes have queued their replies. */
    for (int i = 0; i < K; i++) {
        uint32_t v = 0x2000u + (uint32_t)i;
        CHECK_CALL(gort_write(cli[i], &v, sizeof v), (long)sizeof v);
    }
    CHECK_CALL(gort_write(trig[0], "x", 1), 1L);
    gort_wg_wait(&wave_wg);
    int closed = atomic_load(&rings_closed);
    fprintf(stderr, "rings closed under the runtime: %d\n", closed);
    CHECK(on ? closed >= 1 : closed == 0, "%d rings closed, iobatch %s", closed, on ? "on" : "off");
    for (int i = 0; i < K; i++) {
        uint32_t v;
        CHECK_CALL(gort_read(cli[i], &v, sizeof v), (long)sizeof v);
        CHECK(v == ~(0x2000u + (uint32_t)i), "connection %d: wrong reply %#x", i, v);
    }
    /* One flush met the closed ring, with the replies queued after (or
     * before) the close: K of them when the closer ran last. */
    uint64_t batches, ops;
    stats_since(&batches, &ops);
    fprintf(stderr, "the flush that found the ring closed held %" PRIu64 " ops\n", ops);
    if (on)
        CHECK(batches == 1 && ops >= 1, "%" PRIu64 " flushes of %" PRIu64 " ops after the close",
              batches, ops);
    /* From here on every call is direct. */
    stats_mark();
    for (int i = 0; i < K; i++) {
        uint32_t v = (uint32_t)i;
        CHECK_CALL(gort_write(cli[i], &v, sizeof v), (long)sizeof v);
        CHECK_CALL(gort_read(srv[i], &v, sizeof v), (long)sizeof v);
        CHECK(v == (uint32_t)i);
        CHECK_CALL(gort_close(cli[i]), 0);
        CHECK_CALL(gort_close(srv[i]), 0);
    }
    stats_since(&batches, &ops);
    CHECK(batches == 0 && ops == 0, "%" PRIu64 " batches after the rings were closed", batches);
    CHECK_CALL(gort_close(trig[0]), 0);
    CHECK_CALL(gort_close(trig[1]), 0);
}

/* ---- 6: the number of a closed ring reused by the program's own ring ---- */

static void main_reuse(void *arg)
{
    bool on = *(bool *)arg;
    int p[2];
    tcp_pair(p);
    uint64_t v = 7;
    CHECK_CALL(gort_write(p[0], &v, sizeof v), (long)sizeof v); /* makes the P's ring */
    CHECK_CALL(gort_read(p[1], &v, sizeof v), (long)sizeof v);
    int ringfd = -1;
    int nring = ring_fds(&ringfd, 1); /* GORTMAXPROCS=1: one ring at most */
    CHECK(on == (nring == 1), "iobatch %s, %d rings", on ? "on" : "off", nring);
    if (!on)
        return;
    /* The program's own ring takes the number: the lowest free one. */
    CHECK_EQ(raw_close(ringfd), 0L);
    struct io_uring_params prm;
    memset(&prm, 0, sizeof prm);
    int mine = (int)syscall(SYS_io_uring_setup, 8, &prm);
    CHECK(mine == ringfd, "the program's ring got fd %d, not the closed %d", mine, ringfd);
    /* The runtime's next flush enters that number: it must see the ring
     * is not its own, make the calls directly, and not wait there. */
    stats_mark();
    for (uint64_t k = 0; k < 100; k++) {
        CHECK_CALL(gort_write(p[0], &k, sizeof k), (long)sizeof k);
        CHECK_CALL(gort_read(p[1], &v, sizeof v), (long)sizeof v);
        CHECK(v == k);
    }
    uint64_t batches, ops;
    stats_since(&batches, &ops);
    /* One flush met the other ring (the first write after the reuse),
     * and none came after it. */
    CHECK(batches == 1, "%" PRIu64 " flushes after the ring went", batches);
    CHECK_CALL(close(mine), 0);
    CHECK_CALL(gort_close(p[0]), 0);
    CHECK_CALL(gort_close(p[1]), 0);
}

/* ---- 7: a seccomp filter that kills at io_uring_setup ---- */

static void main_seccomp(void *arg)
{
    (void)arg;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    CHECK_CALL(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    /* Every thread of the process, the runtime's Ms included. */
    CHECK_CALL(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog), 0L);
    int p[2];
    tcp_pair(p);
    stats_mark();
    for (uint64_t k = 0; k < 100; k++) {
        uint64_t v;
        CHECK_CALL(gort_write(p[0], &k, sizeof k), (long)sizeof k);
        CHECK_CALL(gort_read(p[1], &v, sizeof v), (long)sizeof v);
        CHECK(v == k);
    }
    uint64_t batches, ops;
    stats_since(&batches, &ops);
    CHECK(batches == 0 && ops == 0, "%" PRIu64 " batches under a seccomp filter", batches);
    CHECK_CALL(gort_close(p[0]), 0);
    CHECK_CALL(gort_close(p[1]), 0);
}

int main(void)
{
    watchdog_start("test_iobatch", 100);
    bool uring = uring_works();
    if (!uring)
        fprintf(stderr, "test_iobatch: no io_uring here, one that lets a MSG_DONTWAIT "
                        "recv wait, or a seccomp filter: checking the direct calls iobatch "
                        "falls back to\n");
    bool on = uring, off = false;
    watchdog_phase("wave, iobatch=1");
    run_main_child(main_wave, &on, "1", "iobatch=1");
    watchdog_phase("wave, iobatch by default");
    run_main_child(main_wave, &on, "1", "");
    watchdog_phase("wave, iobatch=0");
    run_main_child(main_wave, &off, "1", "iobatch=0");
    watchdog_phase("ping-pong, iobatch=1");
    run_main_child(main_pingpong, &on, "2", "iobatch=1");
    watchdog_phase("stopped world and close, iobatch=1");
    run_main_child(main_world, NULL, "2", "iobatch=1");
    watchdog_phase("rings closed under a queued batch");
    run_main_child(main_lost, &on, "1", "");
    watchdog_phase("a closed ring's number reused by another ring");
    run_main_child(main_reuse, &on, "1", "");
    watchdog_phase("a seccomp filter that kills at io_uring_setup");
    run_main_child(main_seccomp, NULL, "2", "");
    return 0;
}
