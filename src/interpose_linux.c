/*
 * interpose_linux.c — glibc's blocking entry points, wrapped by symbol
 * interposition so that gort knows when a goroutine is inside one (Go
 * brackets every system call and cgo call with entersyscall/exitsyscall;
 * C code calls libc directly, so the bracket has to be put around libc).
 *
 * How.  Each wrapper has libc's name and signature and is exported, so
 * the dynamic linker binds the program's calls (and, with libgort.so, or
 * an executable that exports them, those of every shared library it
 * loads) to it rather than to libc; it calls libc's own function, found
 * with dlsym(RTLD_NEXT) at load time, between gort__entersyscall_from and
 * gort__exitsyscall.  With libgort.a the wrappers are linked into the
 * executable whenever the program calls one of them (one archive member).
 *
 * What is bracketed: calls that wait for the kernel or for another thread
 * (I/O, sleeps, waits for children, signals, pthread and semaphore waits,
 * name resolution) and stdio, whose calls reach read() and write() inside
 * libc where no wrapper can see them.  Calls that surely block for a while
 * (sleeps of 50 us or more, waits) ask for the P to be handed off at once
 * if work waits behind it; the rest keep it until sysmon's retake bound
 * (20 us), like Go's system calls.  pthread mutexes, rwlocks and
 * spinlocks are interpose_lock.c's.  syscall() is bracketed except
 * for the calls that create or end threads and processes.
 *
 * Not bracketed: calls made by the runtime itself (return address inside
 * it), calls on threads that are not goroutines, calls off the goroutine's
 * stack (a signal handler on an alternate stack), inside gort_preempt_disable
 * or with a runtime lock held (gort__entersyscall_from decides).  errno is
 * preserved across the exit, which may move the goroutine to another
 * thread.  _FORTIFY_SOURCE builds call __read_chk & co.: wrapped too.
 *
 * Rejected: LD_PRELOAD (a second library to ship, and useless with
 * libgort.a); ld --wrap (needs the program's link line, and misses shared
 * libraries); patching libc's code or GOT at run time (fragile across glibc
 * versions, and writes to text); seccomp user notification (a trap to
 * another thread per call).
 */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE
/* No glibc extern-inline bodies (getchar, putchar, getline, vprintf): they
 * would be earlier definitions of the wrappers below. */
#include <features.h>
#undef __USE_EXTERN_INLINES
#include "runtime.h"
#include "interpose.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <threads.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#undef getc
#undef putc
#undef getchar
#undef putchar

void gort__interpose_dl_init(void);
void gort__interpose_vfork_init(void);

void *gort__interpose_resolve(const char *name, void **slot)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        gort__throw("cannot find libc's %s to wrap (fully static executables are not supported)",
                    name);
    __atomic_store_n(slot, f, __ATOMIC_RELAXED);
    return f;
}

/* A sleep this short is over before a hand-off would pay for itself (a
 * thread wake, and the goroutine requeued behind whatever took its P):
 * sysmon's retake covers it if it runs long after all. */
#define LONG_NS 50000
static inline bool ts_long(const struct timespec *t)
{
    return !t || t->tv_sec > 0 || t->tv_nsec >= LONG_NS;
}
static inline bool tv_long(const struct timeval *t)
{
    return !t || t->tv_sec > 0 || t->tv_usec >= LONG_NS / 1000;
}


/* ret, name, blocks?, (parameters), (arguments).  blocks?: false (0) if
 * the call may return at once, true (1) if it surely blocks, SLEEPS if
 * it surely sleeps, so that its thread's CPU is about to be free
 * (runtime.h GORT_CALL_*). */
#define SLEEPS GORT_CALL_SLEEPS
#define WRAPPED(X)                                                                            \
    X(ssize_t, read, false, (int fd, void *b, size_t n), (fd, b, n))                          \
    X(ssize_t, write, false, (int fd, const void *b, size_t n), (fd, b, n))                   \
    X(ssize_t, readv, false, (int fd, const struct iovec *v, int n), (fd, v, n))              \
    X(ssize_t, writev, false, (int fd, const struct iovec *v, int n), (fd, v, n))             \
    X(ssize_t, pread, false, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))             \
    X(ssize_t, pread64, false, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o))         \
    X(ssize_t, pwrite, false, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))      \
    X(ssize_t, pwrite64, false, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))  \
    X(ssize_t, recv, false, (int fd, void *b, size_t n, int fl), (fd, b, n, fl))              \
    X(ssize_t, recvfrom, false,                                                               \
      (int fd, void *b, size_t n, int fl, struct sockaddr *a, socklen_t *al),                 \
      (fd, b, n, fl, a, al))                                                                  \
    X(ssize_t, recvmsg, false, (int fd, struct msghdr *m, int fl), (fd, m, fl))               \
    X(ssize_t, send, false, (int fd, const void *b, size_t n, int fl), (fd, b, n, fl))        \
    X(ssize_t, sendto, false,                                                                 \
      (int fd, const void *b, size_t n, int fl, const struct sockaddr *a, socklen_t al),      \
      (fd, b, n, fl, a, al))                                                                  \
    X(ssize_t, sendmsg, false, (int fd, const struct msghdr *m, int fl), (fd, m, fl))         \
    X(int, recvmmsg, false,                                                                   \
      (int fd, struct mmsghdr *m, unsigned n, int fl, struct timespec *t), (fd, m, n, fl, t))  \
    X(int, sendmmsg, false, (int fd, struct mmsghdr *m, unsigned n, int fl), (fd, m, n, fl))  \
    X(int, accept, false, (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))           \
    X(int, accept4, false, (int fd, struct sockaddr *a, socklen_t *al, int fl),               \
      (fd, a, al, fl))                                                                        \
    X(int, connect, false, (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al))     \
    X(int, creat, false, (const char *p, mode_t m), (p, m))                                   \
    X(int, fsync, false, (int fd), (fd))                                                      \
    X(int, fdatasync, false, (int fd), (fd))                                                  \
    X(int, flock, true, (int fd, int op), (fd, op))                                           \
    X(int, poll, timeout != 0, (struct pollfd *f, nfds_t n, int timeout), (f, n, timeout))    \
    X(int, ppoll, ts_long(t),                                              \
      (struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *s), (f, n, t, s)) \
    X(int, select, tv_long(t),                                             \
      (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (n, r, w, e, t))           \
    X(int, pselect, ts_long(t),                                            \
      (int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *s),  \
      (n, r, w, e, t, s))                                                                     \
    X(int, epoll_wait, timeout != 0, (int fd, struct epoll_event *ev, int n, int timeout),    \
      (fd, ev, n, timeout))                                                                   \
    X(int, epoll_pwait, timeout != 0,                                                         \
      (int fd, struct epoll_event *ev, int n, int timeout, const sigset_t *s),                \
      (fd, ev, n, timeout, s))                                                                \
    X(int, epoll_pwait2, ts_long(t),                                                          \
      (int fd, struct epoll_event *ev, int n, const struct timespec *t, const sigset_t *s),    \
      (fd, ev, n, t, s))                                                                      \
    X(int, nanosleep, ts_long(r) ? SLEEPS : 0,                                                \
      (const struct timespec *r, struct timespec *rem), (r, rem))                             \
    X(int, clock_nanosleep, (fl & TIMER_ABSTIME) || ts_long(r) ? SLEEPS : 0,                  \
      (clockid_t c, int fl, const struct timespec *r, struct timespec *rem), (c, fl, r, rem)) \
    X(int, usleep, us >= LONG_NS / 1000 ? SLEEPS : 0, (useconds_t us), (us))                  \
    X(unsigned, sleep, SLEEPS, (unsigned s), (s))                                             \
    X(int, pause, SLEEPS, (void), ())                                                         \
    X(int, sigsuspend, SLEEPS, (const sigset_t *s), (s))                                      \
    X(int, sigwait, SLEEPS, (const sigset_t *s, int *sig), (s, sig))                          \
    X(int, sigwaitinfo, SLEEPS, (const sigset_t *s, siginfo_t *i), (s, i))                    \
    X(int, sigtimedwait, ts_long(t) ? SLEEPS : 0,                                             \
      (const sigset_t *s, siginfo_t *i, const struct timespec *t),                            \
      (s, i, t))                                                                              \
    X(pid_t, wait, SLEEPS, (int *st), (st))                                                   \
    X(pid_t, waitpid, !(o & WNOHANG) ? SLEEPS : 0, (pid_t p, int *st, int o), (p, st, o))     \
    X(pid_t, wait3, !(o & WNOHANG) ? SLEEPS : 0,                                              \
      (int *st, int o, struct rusage *r), (st, o, r))                                         \
    X(pid_t, wait4, !(o & WNOHANG) ? SLEEPS : 0, (pid_t p, int *st, int o, struct rusage *r), \
      (p, st, o, r))                                                                          \
    X(int, waitid, !(o & WNOHANG) ? SLEEPS : 0,                                               \
      (idtype_t t, id_t id, siginfo_t *i, int o), (t, id, i, o))                              \
    X(int, system, SLEEPS, (const char *c), (c))                                              \
    X(int, pthread_join, true, (pthread_t t, void **r), (t, r))                               \
    X(int, pthread_cond_wait, SLEEPS, (pthread_cond_t *c, pthread_mutex_t *m), (c, m))        \
    X(int, pthread_cond_timedwait, SLEEPS,                                                    \
      (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t), (c, m, t))           \
    X(int, pthread_barrier_wait, true, (pthread_barrier_t *b), (b))                           \
    X(int, sem_wait, true, (sem_t *s), (s))                                                   \
    X(int, sem_timedwait, true, (sem_t *s, const struct timespec *t), (s, t))                 \
    X(int, sem_clockwait, true, (sem_t *s, clockid_t c, const struct timespec *t), (s, c, t)) \
    X(int, pthread_cond_clockwait, SLEEPS,                                                    \
      (pthread_cond_t *c, pthread_mutex_t *m, clockid_t k, const struct timespec *t),         \
      (c, m, k, t))                                                                           \
    X(int, thrd_sleep, ts_long(d) ? SLEEPS : 0,                                               \
      (const struct timespec *d, struct timespec *r), (d, r))                                 \
    X(int, thrd_join, true, (thrd_t t, int *r), (t, r))                                       \
    X(int, cnd_wait, SLEEPS, (cnd_t *c, mtx_t *m), (c, m))                                    \
    X(int, cnd_timedwait, SLEEPS, (cnd_t *c, mtx_t *m, const struct timespec *t), (c, m, t))  \
    X(int, semop, false, (int id, struct sembuf *o, size_t n), (id, o, n))                    \
    X(int, semtimedop, false, (int id, struct sembuf *o, size_t n, const struct timespec *t), \
      (id, o, n, t))                                                                          \
    /* System V messages: never restarted after a handler (signal(7)). */                   \
    X(ssize_t, msgrcv, false, (int id, void *p, size_t n, long t, int fl), (id, p, n, t, fl)) \
    X(int, msgsnd, false, (int id, const void *p, size_t n, int fl), (id, p, n, fl))          \
    X(size_t, fread, false, (void *p, size_t s, size_t n, FILE *f), (p, s, n, f))             \
    X(size_t, fwrite, false, (const void *p, size_t s, size_t n, FILE *f), (p, s, n, f))      \
    X(char *, fgets, false, (char *s, int n, FILE *f), (s, n, f))                             \
    X(int, fgetc, false, (FILE *f), (f))                                                      \
    X(int, getc, false, (FILE *f), (f))                                                       \
    X(int, getchar, false, (void), ())                                                        \
    X(ssize_t, getline, false, (char **l, size_t *n, FILE *f), (l, n, f))                     \
    X(ssize_t, getdelim, false, (char **l, size_t *n, int d, FILE *f), (l, n, d, f))          \
    /* what glibc's inline getline() calls in optimised programs */                           \
    X(ssize_t, __getdelim, false, (char **l, size_t *n, int d, FILE *f), (l, n, d, f))        \
    X(int, fputs, false, (const char *s, FILE *f), (s, f))                                    \
    X(int, puts, false, (const char *s), (s))                                                 \
    X(int, fputc, false, (int c, FILE *f), (c, f))                                            \
    X(int, putc, false, (int c, FILE *f), (c, f))                                             \
    X(int, putchar, false, (int c), (c))                                                      \
    X(int, fflush, false, (FILE *f), (f))                                                     \
    /* where getc_unlocked/putc_unlocked (macros) go when the buffer is     \
     * empty or full: the read() or write() is inside */                                     \
    X(int, __uflow, false, (FILE *f), (f))                                                    \
    X(int, __overflow, false, (FILE *f, int c), (f, c))                                       \
    X(size_t, fread_unlocked, false, (void *p, size_t s, size_t n, FILE *f), (p, s, n, f))    \
    X(size_t, fwrite_unlocked, false, (const void *p, size_t s, size_t n, FILE *f),           \
      (p, s, n, f))                                                                           \
    X(char *, fgets_unlocked, false, (char *s, int n, FILE *f), (s, n, f))                    \
    X(int, vprintf, false, (const char *fmt, va_list ap), (fmt, ap))                          \
    X(int, vfprintf, false, (FILE *f, const char *fmt, va_list ap), (f, fmt, ap))             \
    X(int, getaddrinfo, true,                                                                 \
      (const char *n, const char *s, const struct addrinfo *h, struct addrinfo **r),          \
      (n, s, h, r))                                                                           \
    X(int, getnameinfo, true,                                                                 \
      (const struct sockaddr *a, socklen_t al, char *h, socklen_t hl, char *s, socklen_t sl,  \
       int fl),                                                                               \
      (a, al, h, hl, s, sl, fl))                                                              \
    /* _FORTIFY_SOURCE's checked variants (declared below: glibc declares \
     * them only in fortified builds). */                                                     \
    X(ssize_t, __read_chk, false, (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl))     \
    X(ssize_t, __pread_chk, false, (int fd, void *b, size_t n, off_t o, size_t bl),           \
      (fd, b, n, o, bl))                                                                      \
    X(ssize_t, __recv_chk, false, (int fd, void *b, size_t n, size_t bl, int fl),             \
      (fd, b, n, bl, fl))                                                                     \
    X(ssize_t, __recvfrom_chk, false,                                                         \
      (int fd, void *b, size_t n, size_t bl, int fl, struct sockaddr *a, socklen_t *al),      \
      (fd, b, n, bl, fl, a, al))                                                              \
    X(size_t, __fread_chk, false, (void *p, size_t pl, size_t s, size_t n, FILE *f),          \
      (p, pl, s, n, f))                                                                       \
    X(char *, __fgets_chk, false, (char *s, size_t sl, int n, FILE *f), (s, sl, n, f))        \
    X(int, __poll_chk, timeout != 0, (struct pollfd *f, nfds_t n, int timeout, size_t fl),    \
      (f, n, timeout, fl))                                                                    \
    X(int, __vprintf_chk, false, (int fl, const char *fmt, va_list ap), (fl, fmt, ap))        \
    X(int, __vfprintf_chk, false, (FILE *f, int fl, const char *fmt, va_list ap),             \
      (f, fl, fmt, ap))

/* Wrapped by hand below (variadic, or a fast path first). */
#define SPECIAL(X)                                                                            \
    X(int, open, false, (const char *p, int fl, mode_t m), (p, fl, m))                        \
    X(int, open64, false, (const char *p, int fl, mode_t m), (p, fl, m))                      \
    X(int, openat, false, (int d, const char *p, int fl, mode_t m), (d, p, fl, m))            \
    X(int, openat64, false, (int d, const char *p, int fl, mode_t m), (d, p, fl, m))          \
    X(int, close, false, (int fd), (fd))                                                      \
    X(int, fclose, false, (FILE *f), (f))                                                     \
    X(int, pclose, true, (FILE *f), (f))                                                      \
    X(FILE *, freopen, false, (const char *p, const char *m, FILE *f), (p, m, f))             \
    X(FILE *, freopen64, false, (const char *p, const char *m, FILE *f), (p, m, f))           \
    X(int, dup2, false, (int o, int n), (o, n))                                               \
    X(int, dup3, false, (int o, int n, int fl), (o, n, fl))                                   \
    X(long, syscall, false,                                                                   \
      (long nr, long a, long b, long c, long d, long e, long f), (nr, a, b, c, d, e, f))

WRAPPED(DECLARE)
SPECIAL(DECLARE)

/* glibc declares these only under _FORTIFY_SOURCE. */
GORT_API ssize_t __read_chk(int, void *, size_t, size_t);
GORT_API ssize_t __pread_chk(int, void *, size_t, off_t, size_t);
GORT_API ssize_t __recv_chk(int, void *, size_t, size_t, int);
GORT_API ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
GORT_API size_t __fread_chk(void *, size_t, size_t, size_t, FILE *);
GORT_API ssize_t __getdelim(char **, size_t *, int, FILE *);
GORT_API char *__fgets_chk(char *, size_t, int, FILE *);
GORT_API int __poll_chk(struct pollfd *, nfds_t, int, size_t);
GORT_API int __vprintf_chk(int, const char *, va_list);
GORT_API int __vfprintf_chk(FILE *, int, const char *, va_list);
GORT_API int __printf_chk(int, const char *, ...);
GORT_API int __fprintf_chk(FILE *, int, const char *, ...);

#define DEFINE(ret, name, block, params, args) \
    GORT_API ret name params                   \
    {                                          \
        name##_fn *f_ = REAL(name);            \
        ENTER(block);                          \
        ret r_ = f_ args;                      \
        LEAVE();                               \
        return r_;                             \
    }
WRAPPED(DEFINE)

/* Resolved at load time, not at first use: a first use may be inside a
 * signal handler (write() is async-signal-safe, dlsym is not). */
__attribute__((constructor)) static void interpose_init(void)
{
#define RESOLVE(ret, name, block, params, args) (void)REAL(name);
    WRAPPED(RESOLVE)
    SPECIAL(RESOLVE)
#undef RESOLVE
    gort__interpose_signal_init(); /* interpose_signal.c: also links it in */
    /* pthread locks (interpose_lock.c): also what links that file in. */
    gort__interpose_lock_init();
    gort__interpose_dl_init(); /* dlopen/dlclose (interpose_dl.c) */
    gort__interpose_vfork_init(); /* vfork (arch/vfork_amd64.S) */
}

/* --- close: a registered fd goes through the netpoller's close -------- */

/* close, fclose, freopen and pclose mark the file they close dying
 * (netpoll.c gort__pd_close_begin) and end the mark right after libc's
 * close, before leaving the bracket (which may wait for a P): until then
 * a new descriptor for the same file on that number is refused too.
 * They are cancellation points: a plain thread cancelled in one (glibc
 * acts before the close: the fd stays open) ends the mark on its way out,
 * or the number's file stayed refused for good (an adversarial review).
 * Threads only: the cleanup record is linked into the thread's own list,
 * and a goroutine may come back from its bracket on another thread (nor
 * is a goroutine's thread the program's to cancel). */
struct close_mark {
    int fd;
    uint32_t tag;
};

/* Ends the mark, errno left as the call's. */
static void close_mark_end(void *arg)
{
    struct close_mark *c = arg;
    int e = errno;
    gort__pd_detach_end(c->fd, c->tag);
    errno = e;
}

static inline void mark_end(int fd, uint32_t tag)
{
    if (tag)
        close_mark_end(&(struct close_mark){fd, tag});
}

/* A mark held by a plain thread, whose call takes the path below. */
static inline bool marked_on_thread(uint32_t tag)
{
    M *m = gort__m_tls;
    return tag && !(m && m->curg);
}

/* body(arg) with the mark ended on return or on cancellation. */
__attribute__((noinline)) static void thread_marked(int fd, uint32_t tag, void (*body)(void *),
                                                    void *arg)
{
    struct close_mark c = {fd, tag};
    pthread_cleanup_push(close_mark_end, &c);
    body(arg);
    pthread_cleanup_pop(1);
}

struct close_call {
    close_fn *f;
    int fd, r;
};

static void close_body(void *arg)
{
    struct close_call *c = arg;
    c->r = c->f(c->fd);
}

/* An fd the netpoller knows (netpoll.c) is closed by gort_close: its
 * parked goroutines wake with ECANCELED, and its number is freed only
 * once no call is in flight on it.  Others: libc's close, bracketed, the
 * file marked dying against a first call registering it meanwhile. */
GORT_API int close(int fd)
{
    uint32_t tag;
    if (unlikely(gort__pd_close_begin(fd, &tag) != NULL))
        return gort_close(fd);
    close_fn *f = REAL(close);
    if (marked_on_thread(tag)) {
        struct close_call c = {f, fd, 0};
        thread_marked(fd, tag, close_body, &c);
        return c.r;
    }
    ENTER(false);
    int r = f(fd);
    mark_end(fd, tag);
    LEAVE();
    return r;
}

/* Closes the netpoller cannot make itself: libc's own close inside
 * fclose, pclose and freopen, the implicit close of dup2/dup3's target.
 * A registered fd's waiters wake with ECANCELED and its registration is
 * dropped first (gort__pd_detach); any fd's file is marked dying, so that
 * no call registers it between the test and libc's close.  The race the
 * mark closes: a goroutine's first call on a stream's fd, racing fclose,
 * left the number "registered" for a closed file, parked for ever, and
 * the number's next file never went into epoll
 * (test_netpoll_close_race, 3 of 3 runs before). */
static uint32_t detach_stream(FILE *f, int *fdp)
{
    int fd = f ? fileno(f) : -1;
    uint32_t tag;
    *fdp = fd;
    if (unlikely(gort__pd_close_begin(fd, &tag) != NULL))
        return gort__pd_detach(fd);
    return tag;
}

struct stream_call {
    int (*f)(FILE *);
    FILE *s;
    int r;
};

static void stream_body(void *arg)
{
    struct stream_call *c = arg;
    c->r = c->f(c->s);
}

/* fclose and pclose; pclose also waits for the child: bracketed as a
 * wait.  Inlined: the bracket shows the wrapper's caller's frame, which
 * gort__entersyscall_from finds as its caller's caller. */
static inline __attribute__((always_inline)) int stream_close(int (*fn)(FILE *), FILE *f,
                                                               bool wait, uintptr_t ra)
{
    int fd;
    uint32_t tag = detach_stream(f, &fd);
    if (marked_on_thread(tag)) {
        struct stream_call c = {fn, f, 0};
        thread_marked(fd, tag, stream_body, &c);
        return c.r;
    }
    bool in_ = gort__entersyscall_from(ra, wait);
    int r = fn(f);
    mark_end(fd, tag);
    LEAVE();
    return r;
}

GORT_API int fclose(FILE *f)
{
    return stream_close(REAL(fclose), f, false, (uintptr_t)__builtin_return_address(0));
}

GORT_API int pclose(FILE *f)
{
    return stream_close(REAL(pclose), f, true, (uintptr_t)__builtin_return_address(0));
}

struct reopen_call {
    freopen_fn *f;
    const char *p, *m;
    FILE *s, *r;
};

static void reopen_body(void *arg)
{
    struct reopen_call *c = arg;
    c->r = c->f(c->p, c->m, c->s);
}

/* freopen closes the stream's file (its number then usually gets the new
 * one).  With a NULL path it reopens the same file in another mode, which
 * is a new open file description too.  Inlined as stream_close is. */
static inline __attribute__((always_inline)) FILE *stream_reopen(freopen_fn *fn, const char *p,
                                                                  const char *m, FILE *f,
                                                                  uintptr_t ra)
{
    int fd;
    uint32_t tag = detach_stream(f, &fd);
    if (marked_on_thread(tag)) {
        struct reopen_call c = {fn, p, m, f, NULL};
        thread_marked(fd, tag, reopen_body, &c);
        return c.r;
    }
    bool in_ = gort__entersyscall_from(ra, false);
    FILE *r = fn(p, m, f);
    mark_end(fd, tag);
    LEAVE();
    return r;
}

GORT_API FILE *freopen(const char *p, const char *m, FILE *f)
{
    return stream_reopen(REAL(freopen), p, m, f, (uintptr_t)__builtin_return_address(0));
}

GORT_API FILE *freopen64(const char *p, const char *m, FILE *f)
{
    return stream_reopen(REAL(freopen64), p, m, f, (uintptr_t)__builtin_return_address(0));
}
/* Detach dup2/dup3's target only if the call can succeed: a bad source
 * fd (or dup3 flags) fails before the kernel touches the target, and its
 * goroutines must not see ECANCELED for a close that never happened. */
static bool dup_source_ok(int o)
{
    return fcntl(o, F_GETFD) >= 0;
}

/* dup2/dup3's target n is closed as close() closes it
 * (gort__pd_close_begin: its file marked dying, its block of the table
 * made if need be), and a registered one is detached if the call can
 * succeed.  A goroutine may register n's current file between any check
 * and the dup, which then left the pd registered for a file gone (a
 * reviewer's reproducer: dup2 alternating two files onto a number waited
 * on).  No G needed unless n is registered: a program's dup2 in its own
 * fork's child (before gort_main, say) must not start the runtime. */
static uint32_t dup_target_begin(int o, int n, int fl)
{
    uint32_t tag = 0;
    if (o == n || (fl & ~O_CLOEXEC) || !dup_source_ok(o))
        return 0; /* the call fails: no close, no mark (dup_source_ok) */
    if (gort__pd_close_begin(n, &tag))
        tag = gort__pd_detach(n);
    return tag;
}

GORT_API int dup2(int o, int n)
{
    uint32_t tag = dup_target_begin(o, n, 0);
    int r = REAL(dup2)(o, n);
    mark_end(n, tag);
    return r;
}

GORT_API int dup3(int o, int n, int fl)
{
    uint32_t tag = dup_target_begin(o, n, fl);
    int r = REAL(dup3)(o, n, fl);
    mark_end(n, tag);
    return r;
}

/* --- variadic ------------------------------------------------------- */

static inline bool wants_mode(int fl)
{
    return (fl & O_CREAT) || (fl & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_MODE(fl, last)               \
    mode_t m_ = 0;                        \
    if (wants_mode(fl)) {                 \
        va_list ap;                       \
        va_start(ap, last);               \
        m_ = va_arg(ap, mode_t);          \
        va_end(ap);                       \
    }

GORT_API int open(const char *p, int fl, ...)
{
    OPEN_MODE(fl, fl);
    open_fn *f = REAL(open);
    ENTER(false);
    int r = f(p, fl, m_);
    LEAVE();
    return r;
}

GORT_API int open64(const char *p, int fl, ...)
{
    OPEN_MODE(fl, fl);
    open64_fn *f = REAL(open64);
    ENTER(false);
    int r = f(p, fl, m_);
    LEAVE();
    return r;
}

GORT_API int openat(int d, const char *p, int fl, ...)
{
    OPEN_MODE(fl, fl);
    openat_fn *f = REAL(openat);
    ENTER(false);
    int r = f(d, p, fl, m_);
    LEAVE();
    return r;
}

GORT_API int openat64(int d, const char *p, int fl, ...)
{
    OPEN_MODE(fl, fl);
    openat64_fn *f = REAL(openat64);
    ENTER(false);
    int r = f(d, p, fl, m_);
    LEAVE();
    return r;
}

GORT_API int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf_fn *f = REAL(vprintf);
    ENTER(false);
    int r = f(fmt, ap);
    LEAVE();
    va_end(ap);
    return r;
}

GORT_API int fprintf(FILE *fp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf_fn *f = REAL(vfprintf);
    ENTER(false);
    int r = f(fp, fmt, ap);
    LEAVE();
    va_end(ap);
    return r;
}

GORT_API int __printf_chk(int fl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    __vprintf_chk_fn *f = REAL(__vprintf_chk);
    ENTER(false);
    int r = f(fl, fmt, ap);
    LEAVE();
    va_end(ap);
    return r;
}

GORT_API int __fprintf_chk(FILE *fp, int fl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    __vfprintf_chk_fn *f = REAL(__vfprintf_chk);
    ENTER(false);
    int r = f(fp, fl, fmt, ap);
    LEAVE();
    va_end(ap);
    return r;
}

/* syscall(): every call but those that make or end threads and processes
 * (a child must not run the parent's exitsyscall), return to a signal
 * context, or send a signal.  The six arguments are read whether passed or not, as glibc's
 * own syscall() does: the missing ones are ignored by the kernel (and
 * ASan, which would call reading them an underflow, is not told). */
__attribute__((no_sanitize_address)) GORT_API long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), g = va_arg(ap, long);
    va_end(ap);
    syscall_fn *f = REAL(syscall);
    switch (nr) {
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
    case SYS_exit:
    case SYS_exit_group:
    case SYS_rt_sigreturn:
    case SYS_gettid:
    case SYS_getpid:
    /* Signals never block, and one sent to the caller's own thread runs
     * its handler with the goroutine as it was (Go sends them raw too). */
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo:
        return f(nr, a, b, c, d, e, g);
    }
    int block = nr == SYS_nanosleep || nr == SYS_clock_nanosleep || nr == SYS_wait4 ||
                        nr == SYS_pause
                    ? GORT_CALL_SLEEPS
                    : GORT_CALL_MAYBLOCK;
    ENTER(block);
    long r = f(nr, a, b, c, d, e, g);
    LEAVE();
    return r;
}
