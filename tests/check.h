/*
 * check.h — tiny assertion and child-process helpers for gort's tests.
 * Every test is a standalone program: exit 0 = pass.  CHECK prints the
 * failing condition with file:line and exits 1.  expect_child_fatal runs a
 * function in a forked child and checks its exit status and that stderr
 * contains a given message (used for misuse that must stop the program).
 */
#ifndef GORT_TEST_CHECK_H
#define GORT_TEST_CHECK_H
#include <gort.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__,         \
                    __LINE__, #cond);                                      \
            fprintf(stderr, "" __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                         \
            fflush(stderr);                                                \
            _exit(1);                                                      \
        }                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    CHECK((long long)(a) == (long long)(b), "%lld != %lld",                \
          (long long)(a), (long long)(b))

/* Run fn(arg) in a child process.  The child's stderr is captured.  Passes
 * if the child exited with `want_status` (-1: killed by any signal or
 * exited non-zero) and its stderr contains every non-NULL needle. */
static inline void expect_child(void (*fn)(void *), void *arg, int want_status,
                                const char *needle1, const char *needle2)
{
    char path[] = "/tmp/gort-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fd, 2);
        fn(arg);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    char buf[16384];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    int ok_status;
    if (want_status == -1)
        ok_status = WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
    else
        ok_status = WIFEXITED(st) && WEXITSTATUS(st) == want_status;
    if (!ok_status || (needle1 && !strstr(buf, needle1)) ||
        (needle2 && !strstr(buf, needle2))) {
        fprintf(stderr, "child: status %#x (want %d); stderr:\n%s\n", st,
                want_status, buf);
        fprintf(stderr, "wanted: '%s' '%s'\n", needle1 ? needle1 : "",
                needle2 ? needle2 : "");
        CHECK(0, "child did not fail as expected");
    }
}

/* Run fn(arg) as the main goroutine under gort_main and check it returned 0. */
static inline void run_main(void (*fn)(void *), void *arg)
{
    int rc = gort_main(fn, arg);
    CHECK(rc == 0, "gort_main returned %d", rc);
}

#endif
