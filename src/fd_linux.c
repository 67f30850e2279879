/*
 * fd_linux.c — the public fd calls (Go's internal/poll fd_unix.go):
 * gort_read, gort_write, gort_accept, gort_connect, gort_fd_wait,
 * gort_set_deadline, gort_close.
 *
 * Each call takes a reference on the fd's pd (netpoll.c: a close waits for
 * it before the number is freed), registers the fd on first use, then
 * loops: check the deadline, sample the direction's edge count, make the
 * system call without libc (no wrapper, no cancellation point), and on
 * EAGAIN park until the count moves.  A call that does not block costs
 * the system call, two atomic reference updates and no clock read unless
 * a deadline is set.
 *
 * Files epoll refuses (regular files, some devices) are never "not ready":
 * their calls are made as blocking system calls inside the system-call
 * bracket, so the P is handed on if they take long (syscall.c).
 *
 * SIGPIPE: socket writes use MSG_NOSIGNAL; a write to another kind of fd
 * (a pipe) runs with SIGPIPE blocked on the thread and takes back the
 * signal it raised, so EPIPE is the only effect.  This code is runtime
 * code, never stopped asynchronously, so the thread's mask is restored
 * before the goroutine can move.
 *
 * Threads that are not goroutines use the same path: the park blocks the
 * thread (proc.c gort__gopark on a pseudo-G) and an M's poller wakes it.
 * Before gort_main has started, and once it has returned, nobody polls,
 * so they wait in poll(2) themselves (gort_close cannot interrupt that).
 * A thread already parked when gort_main returns stays parked unless a
 * close or deadline set by another thread wakes it (gort_main's rule for
 * threads that are not goroutines).
 */
#define _GNU_SOURCE
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static inline ssize_t fail(int err)
{
    errno = err;
    return -1;
}

/* Take the pd of fd for a call: 0 or an errno value.  Also the call's
 * preemption point: a loop that retries a call that fails at once
 * (ECANCELED while the fd is being closed, EBADF) spends its time in this
 * runtime code, where the preemption signal is refused, and with one P
 * it held off the very closer it waited for (test_netpoll_close's dup2
 * race: seconds). */
static inline int enter(int fd, gort__pollfd **pdp, int known)
{
    gort__preempt_check_call();
    if (unlikely(fd < 0))
        return EBADF;
    gort__pollfd *pd = gort__pd_get(fd);
    if (unlikely(!pd))
        return fd >= 0 ? ENOMEM : EBADF;
    *pdp = pd;
    return gort__pd_acquire(pd, known);
}

/* Deadline passed for mode? (No clock read when none is set.) */
static inline bool expired(gort__pollfd *pd, int mode, int64_t deadline)
{
    int64_t d = gort__pd_deadline(pd, mode, deadline);
    return d >= 0 && d <= gort__nanotime();
}

/* Block until the edge count of mode moves (or deadline, close).  0 to
 * try again, else an errno value. */
static int park(gort__pollfd *pd, int mode, uint32_t rs, uint32_t ws, int64_t deadline)
{
    M *m = gort__getm();
    /* No scheduler to poll for us (gort__sched_running): once gort_main
     * returned its Ms park for good, and a thread that parked on the
     * netpoller -- the caller of gort_main itself, using a socket
     * afterwards -- waited forever for data that had come. */
    if (unlikely(!(m && m->curg) && !gort__sched_running())) {
        /* So poll(2) on this thread. */
        int64_t d = gort__pd_deadline(pd, mode, deadline);
        int ms = -1;
        if (d >= 0) {
            int64_t left = d - gort__nanotime();
            if (left <= 0)
                return ETIMEDOUT;
            ms = left / 1000000 + 1 > 1000000 ? 1000000 : (int)(left / 1000000 + 1);
        }
        struct pollfd p = {.fd = pd->fd,
                           .events = (short)(((mode & GORT_READ) ? POLLIN : 0) |
                                             ((mode & GORT_WRITE) ? POLLOUT : 0))};
        gort__sys3(SYS_poll, (long)&p, 1, ms);
        /* No poller moves rseq here: forget the short read's proof. */
        atomic_store_explicit(&pd->rdrained, 0, memory_order_relaxed);
        return 0;
    }
    return gort__pd_wait(pd, mode, rs, ws, deadline);
}

/* A blocking system call for an fd epoll refused: in the bracket. */
static long blocking_call(long nr, long a, long b, long c, long d, long e, long f)
{
    gort_syscall_enter();
    long r;
    do
        r = gort__sys6(nr, a, b, c, d, e, f);
    while (r == -EINTR);
    gort_syscall_exit();
    return r;
}

/* The I/O loop shared by read, write (one chunk), accept and fd_wait's
 * callers: call `op` until it does not say EAGAIN. */
typedef long (*io_op)(gort__pollfd *pd, void *arg);

static long io_loop(gort__pollfd *pd, int mode, io_op op, void *arg)
{
    for (;;) {
        if (unlikely(atomic_load_explicit(&pd->refs, memory_order_relaxed) & GORT_PD_CLOSING))
            return -ECANCELED;
        if (unlikely(expired(pd, mode, -1)))
            return -ETIMEDOUT;
        uint32_t rs = atomic_load_explicit(&pd->rseq, memory_order_acquire);
        uint32_t ws = atomic_load_explicit(&pd->wseq, memory_order_acquire);
        long r = op(pd, arg);
        if (r != -EAGAIN) {
            if (r == -EINTR)
                continue;
            return r;
        }
        if (!pd->pollable)
            return r; /* EAGAIN from a non-pollable fd the user made non-blocking */
        int err = park(pd, mode, rs, ws, -1);
        if (err)
            return -err;
    }
}

/* ---------------------------------------------------------------------
 * read / write
 * ------------------------------------------------------------------- */

typedef struct {
    void *buf;
    size_t n;
} rw_arg;

static long op_read(gort__pollfd *pd, void *arg)
{
    rw_arg *a = arg;
    if (!pd->pollable)
        return blocking_call(SYS_read, pd->fd, (long)a->buf, (long)a->n, 0, 0, 0);
    return gort__sys3(SYS_read, pd->fd, (long)a->buf, (long)a->n);
}

/* TCP sockets skip the read that could only say EAGAIN: a TCP read comes
 * back short only once the receive queue is empty (tcp_recvmsg walks it
 * to the end), and any byte queued since raised an edge, which moves
 * rseq once polled (the kernel queues the data, then signals the edge).
 * So while rseq still has the value sampled before that short read, the
 * goroutine parks at once: a request-reply server saves one of its three
 * system calls per request.  Not once a hang-up, error or urgent data
 * was reported (rhup; EPOLLPRI is registered for this): an end of file
 * that came before the short read makes the next read return 0 and its
 * edge may have been polled before the sample, and a read stops short at
 * the urgent mark.  Not without a poller either (park's poll(2) path
 * clears the proof).  Not for other sockets: unix streams stop short at
 * a message carrying fds (SCM_RIGHTS) or another sender's credentials,
 * SOCK_SEQPACKET at a record (test10's test_netpoll_short).  Go always
 * tries the read. */
ssize_t gort_read(int fd, void *buf, size_t n)
{
    gort__pollfd *pd;
    int err = enter(fd, &pd, 0);
    if (err)
        return fail(err);
    long r;
    if (likely(pd->is_tcp && n > 0)) {
        for (;;) {
            if (unlikely(atomic_load_explicit(&pd->refs, memory_order_relaxed) & GORT_PD_CLOSING)) {
                r = -ECANCELED;
                break;
            }
            if (unlikely(expired(pd, GORT_READ, -1))) {
                r = -ETIMEDOUT;
                break;
            }
            uint32_t rs = atomic_load_explicit(&pd->rseq, memory_order_acquire);
            if (atomic_load_explicit(&pd->rdrained, memory_order_relaxed) != (GORT_PD_DRAINED | rs) ||
                atomic_load_explicit(&pd->rhup, memory_order_relaxed)) {
                r = gort__iobatch_recv(fd, buf, n);
                if (r > 0 && (size_t)r < n)
                    atomic_store_explicit(&pd->rdrained, GORT_PD_DRAINED | rs, memory_order_relaxed);
                if (r != -EAGAIN && r != -EINTR)
                    break;
                if (r == -EINTR)
                    continue;
            }
            uint32_t ws = atomic_load_explicit(&pd->wseq, memory_order_relaxed);
            err = park(pd, GORT_READ, rs, ws, -1);
            if (err) {
                r = -err;
                break;
            }
        }
    } else {
        rw_arg a = {buf, n};
        r = io_loop(pd, GORT_READ, op_read, &a);
    }
    gort__pd_release(pd);
    return r < 0 ? fail((int)-r) : r;
}

/* A pipe write with SIGPIPE blocked; the signal it raises is taken back. */
static long pipe_write(int fd, const void *buf, size_t n)
{
    uint64_t pipebit = 1ull << (SIGPIPE - 1), old;
    gort__kmask(SIG_BLOCK, pipebit, &old);
    long r = gort__sys3(SYS_write, fd, (long)buf, (long)n);
    if (r == -EPIPE && !(old & pipebit)) {
        /* Take back ours, unless one was pending before. */
        uint64_t pend = 0;
        gort__sys3(SYS_rt_sigpending, (long)&pend, 8, 0);
        if (pend & pipebit) {
            struct timespec zero = {0, 0};
            gort__sys6(SYS_rt_sigtimedwait, (long)&pipebit, 0, (long)&zero, 8, 0, 0);
        }
    }
    if (!(old & pipebit))
        gort__kmask(SIG_SETMASK, old, NULL);
    return r;
}

static long op_write(gort__pollfd *pd, void *arg)
{
    rw_arg *a = arg;
    if (pd->is_socket)
        return gort__iobatch_send(pd->fd, a->buf, a->n);
    if (!pd->pollable) {
        gort_syscall_enter();
        long r = pipe_write(pd->fd, a->buf, a->n);
        gort_syscall_exit();
        return r;
    }
    return pipe_write(pd->fd, a->buf, a->n);
}

ssize_t gort_write(int fd, const void *buf, size_t n)
{
    gort__pollfd *pd;
    int err = enter(fd, &pd, 0);
    if (err)
        return fail(err);
    size_t done = 0;
    long r = 0;
    while (done < n || n == 0) {
        rw_arg a = {(char *)buf + done, n - done};
        r = io_loop(pd, GORT_WRITE, op_write, &a);
        if (r < 0)
            break;
        done += (size_t)r;
        if (n == 0)
            break;
    }
    gort__pd_release(pd);
    if (r < 0) {
        if (done == 0)
            return fail((int)-r);
        errno = (int)-r;
    }
    return (ssize_t)done;
}

/* ---------------------------------------------------------------------
 * accept / connect
 * ------------------------------------------------------------------- */

typedef struct {
    struct sockaddr *sa;
    socklen_t *len;
} accept_arg;

static long op_accept(gort__pollfd *pd, void *arg)
{
    accept_arg *a = arg;
    long r = gort__sys6(SYS_accept4, pd->fd, (long)a->sa, (long)a->len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0);
    /* A connection reset while queued: the next one may be fine (Go). */
    if (r == -ECONNABORTED)
        r = -EINTR;
    return r;
}

int gort_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    gort__pollfd *pd;
    int err = enter(fd, &pd, PD_KNOWN_SOCKET);
    if (err)
        return (int)fail(err);
    accept_arg a = {sa, len};
    long r = io_loop(pd, GORT_READ, op_accept, &a);
    gort__pd_release(pd);
    if (r < 0)
        return (int)fail((int)-r);
    /* Register the new fd now: it is known non-blocking and a socket, so
     * this is one epoll_ctl and no probing. */
    gort__pollfd *npd;
    err = enter((int)r, &npd,
                PD_KNOWN_SOCKET | PD_KNOWN_NONBLOCK | (pd->is_tcp ? PD_KNOWN_TCP : 0));
    if (err) {
        gort__sys3(SYS_close, r, 0, 0);
        return (int)fail(err);
    }
    gort__pd_release(npd);
    return (int)r;
}

int gort_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    gort__pollfd *pd;
    int err = enter(fd, &pd, PD_KNOWN_SOCKET);
    if (err)
        return (int)fail(err);
    long r;
    do
        r = gort__sys3(SYS_connect, fd, (long)sa, len);
    while (r == -EINTR);
    if (r == -EINPROGRESS || r == -EALREADY) {
        /* Wait for writability, then ask the socket how it went. */
        for (;;) {
            if (atomic_load(&pd->refs) & GORT_PD_CLOSING) {
                r = -ECANCELED;
                break;
            }
            if (expired(pd, GORT_WRITE, -1)) {
                r = -ETIMEDOUT;
                break;
            }
            uint32_t ws = atomic_load_explicit(&pd->wseq, memory_order_acquire);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            long pr = gort__sys3(SYS_poll, (long)&p, 1, 0);
            if (pr > 0) {
                gort__sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&soerr, (long)&sl, 0);
                r = -soerr;
                break;
            }
            int e = park(pd, GORT_WRITE, 0, ws, -1);
            if (e) {
                r = -e;
                break;
            }
        }
    }
    gort__pd_release(pd);
    return r < 0 ? (int)fail((int)-r) : 0;
}

/* ---------------------------------------------------------------------
 * fd_wait, deadlines, close
 * ------------------------------------------------------------------- */

int gort_fd_wait(int fd, int events, int64_t deadline)
{
    if (events & ~(GORT_READ | GORT_WRITE) || !events)
        return EINVAL;
    gort__pollfd *pd;
    int err = enter(fd, &pd, 0);
    if (err)
        return err;
    short want = (short)(((events & GORT_READ) ? POLLIN | POLLRDHUP : 0) |
                         ((events & GORT_WRITE) ? POLLOUT : 0));
    for (;;) {
        if (atomic_load(&pd->refs) & GORT_PD_CLOSING) {
            err = ECANCELED;
            break;
        }
        if (expired(pd, events, deadline)) {
            err = ETIMEDOUT;
            break;
        }
        if (!pd->pollable)
            break; /* always ready, as poll(2) says of regular files */
        uint32_t rs = atomic_load_explicit(&pd->rseq, memory_order_acquire);
        uint32_t ws = atomic_load_explicit(&pd->wseq, memory_order_acquire);
        /* Edge-triggered registration says nothing of what was ready
         * before: ask the level once. */
        struct pollfd p = {.fd = fd, .events = want};
        if (gort__sys3(SYS_poll, (long)&p, 1, 0) > 0)
            break;
        err = park(pd, events, rs, ws, deadline);
        if (err)
            break;
    }
    gort__pd_release(pd);
    return err;
}

int gort_set_deadline(int fd, int events, int64_t deadline)
{
    if (events & ~(GORT_READ | GORT_WRITE) || !events)
        return EINVAL;
    if (deadline < 0)
        deadline = -1;
    gort__pollfd *pd;
    int err = enter(fd, &pd, 0);
    if (err)
        return err == ECANCELED ? EBADF : err; /* a close began: as after it */
    gort__pd_setdeadline(pd, events, deadline);
    gort__pd_release(pd);
    return 0;
}

int gort_close(int fd)
{
    uint32_t tag;
    gort__pollfd *pd = gort__pd_close_begin(fd, &tag);
    long r;
    if (pd) {
        r = gort__pd_close(pd);
    } else {
        r = gort__sys3(SYS_close, fd, 0, 0);
        gort__pd_detach_end(fd, tag);
    }
    if (r == -EINTR)
        r = 0;
    return r < 0 ? (int)fail((int)-r) : 0;
}
