/*
 * echo_threads.c — the thread-per-connection twin of bench/echo.c (see
 * echo.h): the main thread accept()s, one pthread per connection runs the
 * same blocking read()/write() loop (echo_serve) until EOF.  No gort: it is
 * built and linked without libgort, so its value is what the kernel and
 * plain threads give; issue 8's target is gort's throughput >= 0.8 x this.
 */
#include "echo.h"

#include <pthread.h>
#include <signal.h>

static void *conn(void *arg)
{
    echo_serve((int)(intptr_t)arg);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = echo_conns_arg(argc, argv);
    int port;
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!th)
        echo_die("calloc");
    signal(SIGPIPE, SIG_IGN);
    int lfd = echo_listen(&port);
    printf("SERVER impl=threads port=%d\n", port);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        int fd = echo_accept(lfd);
        errno = pthread_create(&th[i], NULL, conn, (void *)(intptr_t)fd);
        if (errno)
            echo_die("pthread_create");
    }
    close(lfd);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    printf("SERVER_DONE server_threads=%d\n", n);
    fflush(stdout);
    free(th);
    return 0;
}
