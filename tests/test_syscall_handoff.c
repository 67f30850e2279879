/*
 * test_syscall_handoff.c — a goroutine blocked in a call never holds its P.
 *
 * GORTMAXPROCS=1.  For each kind of blocking call, goroutine A starts
 * goroutine B on the only P and then blocks in the call; only B can
 * release it (write the pipe, connect, signal, post, ...).  B first waits
 * until gort_stats says a goroutine is inside a call, so it acts only
 * while A is in it.  B can run then only if A's P was handed to another
 * thread: without the hand-off nothing runs B and the kind hangs, which
 * its watchdog reports by name.  For the sleeps (nothing to release) A
 * checks after waking that B ran while it slept.  Each kind runs in its
 * own child process, so one that hangs does not hide the others; the
 * test fails if any kind does, after listing them all.
 *
 * The kinds: read, write to a full pipe, stdio reaching read inside libc
 * (fread, fgets, fgetc, getc, getchar, getline -- which glibc's headers
 * inline into __getdelim at -O1 and up -- and getc_unlocked, a macro that
 * reaches libc only through __uflow: no wrapper sees it, so only the
 * detection of a thread blocked in unknown code can hand its P off),
 * recv, accept (unix and tcp), poll, select, epoll_wait, nanosleep,
 * usleep, clock_nanosleep, pthread_cond_wait, a contended
 * pthread_mutex_lock, pthread_join, sem_wait, waitpid, syscall(SYS_read),
 * gort_blocking around a spin, and gort_syscall_enter/exit around a raw
 * `syscall` instruction.  getaddrinfo works in a goroutine.  In each
 * child the counters add up: syscalls and handoffs grew, in_syscall is
 * back to 0.
 *
 * test_syscall_handoff_fortify.c builds this file again with
 * _FORTIFY_SOURCE=2, where read, fgets, fread, recv and poll become
 * libc's __*_chk entry points.
 */
#define _GNU_SOURCE
#include "check.h"

#ifndef TEST_NAME
#define TEST_NAME "test_syscall_handoff"
#endif

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

static int p[2];          /* the pipe most kinds block on */
static int sv[2];         /* socketpair */
static int lfd;           /* listening socket */
static struct sockaddr_storage laddr;
static socklen_t laddr_len;
static FILE *pf;          /* FILE over p[0] */
static int epfd;
static sem_t sem;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_ready;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int owner_has_it;
static pthread_t owner;
static int ctl[2];        /* tells the plain thread to go on */
static pid_t child_pid;
static _Atomic int spin_release;
static int64_t slept_ns;

/* Sizes the compiler cannot see: under _FORTIFY_SOURCE a call whose size
 * is a constant that fits the buffer compiles to the plain function, any
 * other to libc's checking variant (__read_chk, ...). */
static volatile int nv_zero;
#define NV(x) ((x) + nv_zero)

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void xpipe(int fds[2]) { CHECK(pipe2(fds, O_CLOEXEC) == 0); }
static void close_pipe(void) { close(p[0]); close(p[1]); }
static void write_p1(void) { CHECK(write(p[1], "x", 1) == 1); }

/* ---- read / write ---- */
static void a_read(void)
{
    char c = 0;
    CHECK_CALL(read(p[0], &c, NV(1)), 1);
    CHECK_EQ(c, 'x');
}

static void setup_fullpipe(void)
{
    xpipe(p);
    CHECK(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
    char buf[4096] = {0};
    while (write(p[1], buf, sizeof buf) > 0)
        ;
    CHECK(errno == EAGAIN);
    CHECK(fcntl(p[1], F_SETFL, 0) == 0);
}
static void a_write_full(void) { CHECK_CALL(write(p[1], "y", 1), 1); }
static void b_drain(void)
{
    char buf[4096];
    CHECK(read(p[0], buf, NV(sizeof buf)) > 0);
}

/* ---- stdio over a pipe ---- */
static void setup_file(void)
{
    xpipe(p);
    pf = fdopen(p[0], "r");
    CHECK(pf != NULL);
}
static void cleanup_file(void)
{
    fclose(pf); /* closes p[0] */
    close(p[1]);
}
static void b_write_line(void) { CHECK_CALL(write(p[1], "line\n", 5), 5); }
static void a_fread(void)
{
    char buf[8] = {0};
    CHECK_CALL(fread(buf, 1, NV(5), pf), 5);
    CHECK(memcmp(buf, "line\n", 5) == 0);
}
static void a_fgets(void)
{
    char buf[64];
    CHECK(fgets(buf, NV((int)sizeof buf), pf) != NULL);
    CHECK(strcmp(buf, "line\n") == 0, "got '%s'", buf);
}
static void a_fgetc(void) { CHECK_CALL(fgetc(pf), 'l'); }
static void a_getc(void) { CHECK_CALL(getc(pf), 'l'); }
static void a_getc_unlocked(void) { CHECK_CALL(getc_unlocked(pf), 'l'); }
static void setup_stdin(void)
{
    xpipe(p);
    CHECK(dup2(p[0], STDIN_FILENO) == STDIN_FILENO); /* a fresh child: stdin unread */
}
static void a_getchar(void) { CHECK_CALL(getchar(), 'l'); }
static void a_getline(void)
{
    char *line = NULL;
    size_t n = 0;
    CHECK_CALL(getline(&line, &n, pf), 5);
    CHECK(strcmp(line, "line\n") == 0);
    free(line);
}

/* ---- sockets ---- */
static void setup_socketpair(void) { CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0); }
static void cleanup_socketpair(void) { close(sv[0]); close(sv[1]); }
static void a_recv(void)
{
    char c = 0;
    CHECK_CALL(recv(sv[0], &c, NV(1), 0), 1);
    CHECK_EQ(c, 'z');
}
static void b_send(void) { CHECK_CALL(send(sv[1], "z", 1, 0), 1); }

static void setup_unix_listener(void)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&laddr;
    memset(&laddr, 0, sizeof laddr);
    un->sun_family = AF_UNIX;
    /* Abstract name: nothing to clean up in the file system. */
    int n = snprintf(un->sun_path + 1, sizeof un->sun_path - 1, "gort-handoff-%d", (int)getpid());
    laddr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(lfd >= 0);
    CHECK(bind(lfd, (struct sockaddr *)&laddr, laddr_len) == 0);
    CHECK(listen(lfd, 8) == 0);
}
static void setup_tcp_listener(void)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&laddr;
    memset(&laddr, 0, sizeof laddr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(lfd >= 0);
    CHECK(bind(lfd, (struct sockaddr *)in, sizeof *in) == 0);
    laddr_len = sizeof laddr;
    CHECK(getsockname(lfd, (struct sockaddr *)&laddr, &laddr_len) == 0);
    CHECK(listen(lfd, 8) == 0);
}
static void cleanup_listener(void) { close(lfd); }
static int accepted, connected;
static void a_accept(void)
{
    accepted = accept(lfd, NULL, NULL);
    CHECK(accepted >= 0, "accept: %s", strerror(errno));
    close(accepted);
}
static void b_connect(void)
{
    connected = socket(laddr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connected >= 0);
    CHECK(connect(connected, (struct sockaddr *)&laddr, laddr_len) == 0, "connect: %s",
          strerror(errno));
    close(connected);
}

/* ---- readiness waits ---- */
static void a_poll(void)
{
    struct pollfd pfd = {p[0], POLLIN, 0};
    CHECK_CALL(poll(&pfd, NV(1), -1), 1);
    CHECK(pfd.revents & POLLIN);
}
static void a_select(void)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    CHECK_CALL(select(p[0] + 1, &r, NULL, NULL, NULL), 1);
    CHECK(FD_ISSET(p[0], &r));
}
static void setup_epoll(void)
{
    xpipe(p);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    CHECK(epfd >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]};
    CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, p[0], &ev) == 0);
}
static void cleanup_epoll(void)
{
    close(epfd);
    close_pipe();
}
static void a_epoll_wait(void)
{
    struct epoll_event ev;
    CHECK_CALL(epoll_wait(epfd, &ev, 1, -1), 1);
    CHECK_EQ(ev.data.fd, p[0]);
}

/* ---- sleeps: B must run while A sleeps (checked by the harness) ---- */
#define SLEEP_NS (300 * 1000 * 1000)
static void a_nanosleep(void)
{
    struct timespec ts = {0, SLEEP_NS};
    int64_t t0 = gort_nanotime();
    CHECK_CALL(nanosleep(&ts, NULL), 0);
    slept_ns = gort_nanotime() - t0;
}
static void a_usleep(void)
{
    int64_t t0 = gort_nanotime();
    CHECK_CALL(usleep(SLEEP_NS / 1000), 0);
    slept_ns = gort_nanotime() - t0;
}
static void a_clock_nanosleep(void)
{
    struct timespec ts = {0, SLEEP_NS};
    int64_t t0 = gort_nanotime();
    CHECK_CALL(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    slept_ns = gort_nanotime() - t0;
}
static void check_slept(void)
{
    CHECK(slept_ns >= SLEEP_NS, "slept %lld ns", (long long)slept_ns);
}

/* ---- pthread and semaphore waits ---- */
static void setup_cond(void) { cv_ready = 0; }
static void a_cond_wait(void)
{
    CHECK_CALL(pthread_mutex_lock(&mu), 0);
    while (!cv_ready)
        CHECK_CALL(pthread_cond_wait(&cv, &mu), 0);
    CHECK_CALL(pthread_mutex_unlock(&mu), 0);
}
static void b_cond_signal(void)
{
    CHECK_CALL(pthread_mutex_lock(&mu), 0);
    cv_ready = 1;
    CHECK_CALL(pthread_cond_signal(&cv), 0);
    CHECK_CALL(pthread_mutex_unlock(&mu), 0);
}

/* A plain thread (not a goroutine) holds `held` until told on ctl. */
static void *owner_main(void *arg)
{
    int lock_it = arg != NULL;
    if (lock_it) {
        CHECK_CALL(pthread_mutex_lock(&held), 0);
        atomic_store(&owner_has_it, 1);
    }
    char c;
    CHECK_CALL(read(ctl[0], &c, 1), 1);
    if (lock_it)
        CHECK_CALL(pthread_mutex_unlock(&held), 0);
    return NULL;
}
static void setup_owner(void)
{
    xpipe(ctl);
    atomic_store(&owner_has_it, 0);
    CHECK_CALL(pthread_create(&owner, NULL, owner_main, (void *)1), 0);
    while (!atomic_load(&owner_has_it))
        gort_yield();
}
static void cleanup_owner(void)
{
    CHECK_CALL(pthread_join(owner, NULL), 0);
    close(ctl[0]);
    close(ctl[1]);
}
static void a_mutex_lock(void)
{
    CHECK_CALL(pthread_mutex_lock(&held), 0); /* contended: the thread holds it */
    CHECK_CALL(pthread_mutex_unlock(&held), 0);
}
static void b_tell_owner(void) { CHECK_CALL(write(ctl[1], "g", 1), 1); }

static void setup_joinee(void)
{
    xpipe(ctl);
    CHECK_CALL(pthread_create(&owner, NULL, owner_main, NULL), 0);
}
static void cleanup_joinee(void)
{
    close(ctl[0]);
    close(ctl[1]);
}
static void a_join(void) { CHECK_CALL(pthread_join(owner, NULL), 0); }

static void setup_sem(void) { CHECK_CALL(sem_init(&sem, 0, 0), 0); }
static void cleanup_sem(void) { sem_destroy(&sem); }
static void a_sem_wait(void) { CHECK_CALL(sem_wait(&sem), 0); }
static void b_sem_post(void) { CHECK_CALL(sem_post(&sem), 0); }

/* ---- waitpid: a child that exits once B writes the pipe ---- */
static void setup_child(void)
{
    xpipe(p);
    /* A raw fork: the child makes raw system calls only (no libc, no
     * gort), so nothing of the runtime's state matters to it. */
    long pid = raw_syscall3(SYS_fork, 0, 0, 0);
    if (pid == 0) {
        char c;
        raw_syscall3(SYS_read, p[0], (long)&c, 1);
        raw_syscall3(SYS_exit_group, 7, 0, 0);
    }
    CHECK(pid > 0);
    child_pid = (pid_t)pid;
}
static void a_waitpid(void)
{
    int st = 0;
    CHECK_CALL(waitpid(child_pid, &st, 0), child_pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "status %#x", st);
}

/* ---- syscall(), gort_blocking, the bracket ---- */
static void a_syscall_read(void)
{
    char c = 0;
    CHECK_CALL(syscall(SYS_read, p[0], &c, 1), 1);
    CHECK_EQ(c, 'x');
}

static void setup_spin(void) { atomic_store(&spin_release, 0); }
static void *spin_until_released(void *arg)
{
    while (!atomic_load_explicit(&spin_release, memory_order_acquire))
        ;
    return arg;
}
static void a_blocking(void)
{
    int tag;
    CHECK(gort_blocking(spin_until_released, &tag) == &tag);
}
static void b_release_spin(void) { atomic_store_explicit(&spin_release, 1, memory_order_release); }

static void a_bracket_raw(void)
{
    char c = 0;
    gort_syscall_enter();
    long r = raw_syscall3(SYS_read, p[0], (long)&c, 1);
    gort_syscall_exit();
    CHECK_EQ(r, 1);
    CHECK_EQ(c, 'x');
}

/* ---- harness ---- */
struct kind {
    const char *name;
    void (*setup)(void);
    void (*a)(void);
    void (*b)(void);
    void (*cleanup)(void);
    void (*check)(void);
};

static void setup_pipe(void) { xpipe(p); }
static void nothing(void) {}

static const struct kind kinds[] = {
    {"read() on a pipe", setup_pipe, a_read, write_p1, close_pipe, NULL},
    {"write() to a full pipe", setup_fullpipe, a_write_full, b_drain, close_pipe, NULL},
    {"fread() on a FILE over a pipe", setup_file, a_fread, b_write_line, cleanup_file, NULL},
    {"fgets()", setup_file, a_fgets, b_write_line, cleanup_file, NULL},
    {"fgetc()", setup_file, a_fgetc, b_write_line, cleanup_file, NULL},
    {"getc()", setup_file, a_getc, b_write_line, cleanup_file, NULL},
    {"getchar()", setup_stdin, a_getchar, b_write_line, close_pipe, NULL},
    {"getline()", setup_file, a_getline, b_write_line, cleanup_file, NULL},
    {"getc_unlocked() (reaches libc as __uflow)", setup_file, a_getc_unlocked, b_write_line,
     cleanup_file, NULL},
    {"recv() on a socketpair", setup_socketpair, a_recv, b_send, cleanup_socketpair, NULL},
    {"accept() on a unix socket", setup_unix_listener, a_accept, b_connect, cleanup_listener, NULL},
    {"accept() on a tcp socket", setup_tcp_listener, a_accept, b_connect, cleanup_listener, NULL},
    {"poll()", setup_pipe, a_poll, write_p1, close_pipe, NULL},
    {"select()", setup_pipe, a_select, write_p1, close_pipe, NULL},
    {"epoll_wait()", setup_epoll, a_epoll_wait, write_p1, cleanup_epoll, NULL},
    {"nanosleep()", nothing, a_nanosleep, nothing, nothing, check_slept},
    {"usleep()", nothing, a_usleep, nothing, nothing, check_slept},
    {"clock_nanosleep()", nothing, a_clock_nanosleep, nothing, nothing, check_slept},
    {"pthread_cond_wait()", setup_cond, a_cond_wait, b_cond_signal, nothing, NULL},
    {"contended pthread_mutex_lock()", setup_owner, a_mutex_lock, b_tell_owner, cleanup_owner, NULL},
    {"pthread_join()", setup_joinee, a_join, b_tell_owner, cleanup_joinee, NULL},
    {"sem_wait()", setup_sem, a_sem_wait, b_sem_post, cleanup_sem, NULL},
    {"waitpid()", setup_child, a_waitpid, write_p1, close_pipe, NULL},
    {"syscall(SYS_read)", setup_pipe, a_syscall_read, write_p1, close_pipe, NULL},
    {"gort_blocking(spin)", setup_spin, a_blocking, b_release_spin, nothing, NULL},
    {"gort_syscall_enter/exit around a raw read", setup_pipe, a_bracket_raw, write_p1, close_pipe, NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct kind *cur;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static _Atomic int b_ran, a_back;

static void run_b(void *arg)
{
    (void)arg;
    wait_in_syscall(1); /* act only while A is inside its call */
    CHECK(!atomic_load(&a_back), "%s: A came back before B released it", cur->name);
    atomic_store(&b_ran, 1);
    cur->b();
    gort_wg_done(&wg);
}

static void run_a(void *arg)
{
    (void)arg;
    /* B goes on this goroutine's only P; A does nothing else before its
     * call, so B can run only once that P has been handed off. */
    CHECK_CALL(gort_go(run_b, NULL), 0);
    cur->a();
    atomic_store(&a_back, 1);
    CHECK(atomic_load(&b_ran), "%s: A's call returned before B ran", cur->name);
    gort_wg_done(&wg);
}

static void kind_main(void *arg)
{
    (void)arg;
    gort_stats s0, s1;
    gort_read_stats(&s0);
    CHECK_EQ(s0.procs, 1);
    cur->setup();
    gort_wg_add(&wg, 2);
    CHECK_CALL(gort_go(run_a, NULL), 0);
    gort_wg_wait(&wg);
    cur->cleanup();
    if (cur->check)
        cur->check();
    gort_read_stats(&s1);
    /* A's call was entered and its P handed off. */
    CHECK(s1.syscalls > s0.syscalls, "%s: no system call counted", cur->name);
    CHECK(s1.handoffs > s0.handoffs, "%s: no hand-off counted", cur->name);
    CHECK(s1.in_syscall == 0, "%s: in_syscall %llu at the end", cur->name,
          (unsigned long long)s1.in_syscall);
}

/* The resolver (nsswitch, files, maybe a socket to a DNS server) from a
 * goroutine. */
static void resolve_main(void *arg)
{
    (void)arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo("localhost", "80", &hints, &res);
    CHECK(rc == 0, "getaddrinfo: %s", gai_strerror(rc));
    CHECK(res != NULL);
    freeaddrinfo(res);
    gort_stats s;
    gort_read_stats(&s);
    CHECK(s.syscalls > 0);
    CHECK_EQ(s.in_syscall, 0);
}

static void child(void *arg)
{
    setenv("GORTMAXPROCS", "1", 1);
    if (arg) {
        cur = arg;
        watchdog_start(TEST_NAME, 10);
        watchdog_phase(cur->name);
        exit(gort_main(kind_main, NULL) == 0 ? 0 : 3);
    }
    watchdog_start(TEST_NAME, 10);
    watchdog_phase("getaddrinfo(\"localhost\")");
    exit(gort_main(resolve_main, NULL) == 0 ? 0 : 3);
}

int main(void)
{
    static char buf[16384];
    static char failed_names[4096];
    int failed = 0;
    for (size_t i = 0; i <= NKINDS; i++) {
        const struct kind *k = i < NKINDS ? &kinds[i] : NULL;
        const char *name = k ? k->name : "getaddrinfo(\"localhost\")";
        int64_t t0 = mono_ns();
        int st = capture_child(child, (void *)k, buf, sizeof buf);
        double ms = (mono_ns() - t0) / 1e6;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            printf("ok   %-44s %8.1f ms\n", name, ms);
        } else {
            failed++;
            snprintf(failed_names + strlen(failed_names), sizeof failed_names - strlen(failed_names),
                     "  %s\n", name);
            printf("FAIL %-44s %8.1f ms, status %#x; its stderr:\n%s\n", name, ms, st, buf);
        }
        fflush(stdout);
    }
    if (failed)
        fprintf(stderr, "kinds that failed:\n%s", failed_names);
    CHECK(failed == 0, TEST_NAME ": %d of %zu kinds failed (listed above)", failed, NKINDS + 1);
    return 0;
}
