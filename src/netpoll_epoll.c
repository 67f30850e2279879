/*
 * netpoll_epoll.c — the netpoller's kernel side on Linux: one epoll set,
 * every fd in it once, edge-triggered for both directions (Go's
 * netpoll_epoll.go), and an eventfd that wakes an M blocked in it.
 *
 * Each registration's data is gen << 32 | fd (netpoll.c checks gen, so an
 * edge of a closed incarnation is dropped).  EPOLLRDHUP, EPOLLHUP and
 * EPOLLERR wake both directions: the call that runs next sees the end of
 * file or the error.  The wake-up eventfd is written at most once until
 * the poller reads it (wake_pending), so a burst of timers or work costs
 * one write.
 *
 * Timeouts go to the nanosecond (epoll_pwait2, Linux 5.11) so a poller
 * that is also the timer sleeper is not a millisecond late; kernels
 * without it get epoll_wait's milliseconds, rounded up.
 *
 * Rejected: io_uring as the default (not everywhere, and a ring per
 * poller is a second design to keep right; the interface here would take
 * it as a second backend); level-triggered registration (an event per
 * poll for every readable fd nobody reads yet).
 */
#include "runtime.h"
#include "arch/syscall_amd64.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

#define WAKE_TAG UINT64_MAX

static int epfd = -1;
static int wakefd = -1;
static _Atomic uint32_t wake_pending;
static bool no_pwait2;

int gort__netpoll_backend_init(void)
{
    long r = gort__sys3(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0);
    if (r < 0)
        return (int)-r;
    epfd = (int)r;
    r = gort__sys3(SYS_eventfd2, 0, EFD_NONBLOCK | EFD_CLOEXEC, 0);
    if (r < 0)
        return (int)-r;
    wakefd = (int)r;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    r = gort__sys6(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, wakefd, (long)&ev, 0, 0);
    return r < 0 ? (int)-r : 0;
}

int gort__netpoll_open(int fd, uint64_t data)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.u64 = data};
    long r = gort__sys6(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, fd, (long)&ev, 0, 0);
    if (r == -EEXIST) /* this file under this number from before: new data */
        r = gort__sys6(SYS_epoll_ctl, epfd, EPOLL_CTL_MOD, fd, (long)&ev, 0, 0);
    return r < 0 ? (int)-r : 0;
}

void gort__netpoll_del(int fd)
{
    struct epoll_event ev = {0};
    gort__sys6(SYS_epoll_ctl, epfd, EPOLL_CTL_DEL, fd, (long)&ev, 0, 0);
}

bool gort__netpoll_wakeup(void)
{
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong(&wake_pending, &zero, 1))
        return false;
    uint64_t one = 1;
    long r;
    do
        r = gort__sys3(SYS_write, wakefd, (long)&one, sizeof one);
    while (r == -EINTR);
    return true;
}

void gort__netpoll_wait(int64_t until, G **list, int32_t *n)
{
    struct epoll_event evs[128];
    long r;
    for (;;) {
        if (until == 0) {
            r = gort__sys6(SYS_epoll_pwait, epfd, (long)evs, 128, 0, 0, 0);
        } else if (until < 0) {
            r = gort__sys6(SYS_epoll_pwait, epfd, (long)evs, 128, -1, 0, 0);
        } else {
            int64_t left = until - gort__nanotime();
            if (left <= 0)
                left = 0;
            r = -ENOSYS;
            if (!no_pwait2) {
                struct timespec ts = {left / 1000000000, left % 1000000000};
                r = gort__sys6(SYS_epoll_pwait2, epfd, (long)evs, 128, (long)&ts, 0, 0);
                if (r == -ENOSYS)
                    no_pwait2 = true;
            }
            if (r == -ENOSYS) {
                int64_t ms = (left + 999999) / 1000000;
                r = gort__sys6(SYS_epoll_pwait, epfd, (long)evs, 128,
                               ms > 1000000000 ? 1000000000 : ms, 0, 0);
            }
        }
        if (r != -EINTR)
            break;
        if (until > 0)
            return; /* let the caller look at its timers again */
    }
    if (r < 0)
        gort__throw("netpoll: epoll_wait on fd %d failed: errno %ld", epfd, -r);
    for (long i = 0; i < r; i++) {
        struct epoll_event *ev = &evs[i];
        if (ev->data.u64 == WAKE_TAG) {
            /* Only a blocking poll consumes the wake-up (Go's netpoll does
             * the same): a non-blocking one (findrunnable, sysmon) that
             * raced with an M entering epoll_wait could otherwise drain
             * the eventfd meant for it, and that M -- the timer sleeper,
             * woken for an earlier timer -- would sleep on to its old
             * deadline.  The eventfd is level-triggered, so a wake-up left
             * unread costs the next non-blocking polls one event each and
             * the next blocking poll returns at once. */
            if (until != 0) {
                uint64_t v;
                gort__sys3(SYS_read, wakefd, (long)&v, sizeof v);
                atomic_store(&wake_pending, 0);
            }
            continue;
        }
        int mode = 0;
        if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
            mode |= GORT_READ;
        if (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            mode |= GORT_WRITE;
        if (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
            mode |= GORT_PD_HUP;
        gort__netpoll_ready(ev->data.u64, mode, list, n);
    }
}
