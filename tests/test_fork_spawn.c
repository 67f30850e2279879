/*
 * test_fork_spawn.c — system(), popen() and posix_spawn() from goroutines
 * keep working beside call-free loops that are preempted asynchronously
 * (quantum=200us), at GORTMAXPROCS=1 and 2.  glibc runs their children
 * with clone(CLONE_VM|CLONE_VFORK): the child shares the parent's memory
 * and runs only libc code until exec, and no fork handler runs, so the
 * runtime must neither see nor disturb them (fork_linux.c).
 */
#define _GNU_SOURCE
#include "check.h"

#include <spawn.h>
#include <stdatomic.h>

#define ROUNDS 15

extern char **environ;
static atomic_bool stop;
static atomic_int fails, done_count;

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        __asm__ volatile("pause");
}

static void spawner(void *arg)
{
    long kind = (long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        bool ok = false;
        if (kind == 0) {
            int st = system("exit 3");
            ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3;
        } else if (kind == 1) {
            FILE *f = popen("echo hi", "r");
            char buf[16] = {0};
            ok = f && fgets(buf, sizeof buf, f) && strcmp(buf, "hi\n") == 0;
            ok = f && pclose(f) == 0 && ok;
        } else {
            pid_t pid;
            char *argv[] = {"sh", "-c", "exit 5", NULL};
            int st = 0;
            ok = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0 &&
                 waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5;
        }
        if (!ok) {
            fprintf(stderr, "kind %ld round %d failed (errno %d)\n", kind, i, errno);
            atomic_fetch_add(&fails, 1);
        }
    }
    atomic_fetch_add(&done_count, 1);
}

static void main_g(void *arg)
{
    (void)arg;
    gort_go(hog, NULL);
    gort_go(hog, NULL);
    for (long k = 0; k < 6; k++)
        gort_go(spawner, (void *)(k % 3));
    while (atomic_load(&done_count) < 6)
        gort_sleep(1000000);
    atomic_store(&stop, true);
    gort_stats s;
    gort_read_stats(&s);
    printf("%d spawns each of system/popen/posix_spawn, %d failed; %llu async preemptions\n",
           2 * ROUNDS, atomic_load(&fails), (unsigned long long)s.async_preempts);
    CHECK(atomic_load(&fails) == 0);
}

int main(void)
{
    run_main_child(main_g, NULL, "1", "quantum=200us");
    run_main_child(main_g, NULL, "2", "quantum=200us");
    printf("ok\n");
    return 0;
}
