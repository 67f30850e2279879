/*
 * test_netpoll_fork.c — fork() and the netpoller (GORTMAXPROCS=1, 2).
 * The usual child of fork closes the fds it inherited (or dup2s onto
 * them) and execs; gort's rule for children (test_fork.c) is "exec or
 * _exit, wrapped libc calls work".  The child shares the parent's epoll
 * instance, so its close() of an inherited registered fd must be a plain
 * close: no wait for the parent's goroutines parked on it (they are not in
 * the child), no EPOLL_CTL_DEL (that would remove the parent's
 * registration from the shared interest list).
 *
 *  - registered fd, nobody parked: the child closes it and exits 0, then
 *    execs /bin/true after closing; the parent's reader parked afterwards
 *    is woken by data;
 *  - a parent goroutine parked on the fd at fork time: the child's close
 *    returns 0 and the child exits 0; the parked reader is woken by data;
 *  - the child dup2()s /dev/null onto the registered fd: same.
 */
#define _GNU_SOURCE
#include "netcheck.h"

typedef enum { CHILD_CLOSE, CHILD_CLOSE_EXEC, CHILD_DUP2 } child_kind;

static const char *const kind_name[] = {"close()", "close() then exec", "dup2() onto it"};

static void child_body(int fd, child_kind k)
{
    int r;
    if (k == CHILD_DUP2) {
        int nul = open("/dev/null", O_RDONLY);
        r = nul >= 0 && dup2(nul, fd) == fd ? 0 : -1;
    } else {
        r = close(fd);
    }
    if (r != 0)
        _exit(3);
    if (k == CHILD_CLOSE_EXEC) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(4);
    }
    _exit(0);
}

static void check_child(pid_t p, child_kind k)
{
    int st;
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "child that %s an inherited registered fd: status %#x", kind_name[k], st);
}

static void one(child_kind k, bool parked)
{
    int sv[2];
    registered_pair(sv);
    char c;
    op_t o;
    if (parked)
        park_byte_reader(&o, sv[0], &c);
    fflush(NULL);
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0)
        child_body(sv[0], k);
    check_child(p, k);
    if (!parked)
        park_byte_reader(&o, sv[0], &c);
    CHECK_CALL(gort_write(sv[1], "x", 1), 1);
    gort_case cs = {o.done, GORT_RECV, NULL, false};
    CHECK(gort_select(&cs, 1, SLACK) == 0,
          "a child's %s of an inherited fd left the parent's reader (%s at fork) unwoken",
          kind_name[k], parked ? "parked" : "not parked");
    CHECK(o.ret == 1 && c == 'x', "ret %ld errno %d", o.ret, o.err);
    op_free(&o);
    close(sv[0]);
    close(sv[1]);
}

static void all(void *a)
{
    (void)a;
    watchdog_start("test_netpoll_fork", 60);
    for (int k = CHILD_CLOSE; k <= CHILD_DUP2; k++) {
        one((child_kind)k, false);
        one((child_kind)k, true);
    }
}

int main(void)
{
    run_main_child(all, NULL, "1", NULL);
    run_main_child(all, NULL, "2", NULL);
    return 0;
}
