/* crawler.c — a web crawler with a deadline and a limit, as a Go program
 * would write it with context.WithTimeout and errgroup.SetLimit.  The
 * "web" is a table of fake pages whose fetch takes a while (a sleep that
 * the context cuts short); one page is so slow that the 300 ms deadline
 * ends the crawl: its fetch returns ETIMEDOUT, which becomes the group's
 * error, and the fetches still running return at once.  At most 3 fetches
 * run at a time. */
#include <gort.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct page {
    const char *url, *title;
    int delay_ms;
    int links[4]; /* indexes into web[], -1 ends */
};

static const struct page web[] = {
    {"https://golang.org/", "The Go Programming Language", 20, {1, 2, -1}},
    {"https://golang.org/pkg/", "Packages", 30, {0, 3, 4, 5}},
    {"https://golang.org/cmd/", "Commands", 10, {0, -1}},
    {"https://golang.org/pkg/fmt/", "Package fmt", 40, {0, 1, -1}},
    {"https://golang.org/pkg/os/", "Package os", 25, {0, 1, 6, -1}},
    {"https://golang.org/pkg/context/", "Package context", 15, {1, 7, -1}},
    {"https://golang.org/pkg/os/exec/", "Package exec", 35, {4, -1}},
    {"https://golang.org/pkg/archive/", "(a very slow server)", 60000, {-1}},
};
enum { NPAGES = sizeof web / sizeof web[0] };

struct result {
    int page, err;
};

/* Go's error strings for the context errors. */
static const char *errstr(int err)
{
    return err == ETIMEDOUT ? "context deadline exceeded"
           : err == ECANCELED ? "context canceled" : strerror(err);
}

static gort_chan *results; /* every fetch reports once; room for all */
static int64_t start;

/* fetch: "download" a page, giving up when ctx is done. */
static int fetch(gort_ctx *ctx, void *arg)
{
    int i = (int)(intptr_t)arg;
    int err = gort_ctx_sleep(ctx, (int64_t)web[i].delay_ms * 1000000);
    struct result r = {i, err};
    gort_chan_send(results, &r);
    return err;
}

static void crawl(void *arg)
{
    (void)arg;
    start = gort_nanotime();
    gort_ctx *ctx = gort_ctx_with_timeout(gort_ctx_background(), 300 * 1000000LL);
    gort_errgroup *g = gort_errgroup_new(ctx);
    gort_errgroup_set_limit(g, 3);
    results = gort_chan_make(sizeof(struct result), NPAGES);

    bool seen[NPAGES] = {true};
    int pending = 1;
    gort_errgroup_go(g, fetch, (void *)0);
    while (pending > 0) {
        struct result r;
        gort_chan_recv(results, &r);
        pending--;
        long ms = (long)((gort_nanotime() - start) / 1000000);
        if (r.err) {
            printf("%4ld ms  %s: %s\n", ms, web[r.page].url, errstr(r.err));
            continue;
        }
        printf("%4ld ms  found: %s \"%s\"\n", ms, web[r.page].url, web[r.page].title);
        for (int k = 0; k < 4 && web[r.page].links[k] >= 0; k++) {
            int l = web[r.page].links[k];
            if (seen[l] || gort_ctx_err(ctx))
                continue;
            seen[l] = true;
            pending++;
            gort_errgroup_go(g, fetch, (void *)(intptr_t)l); /* waits while 3 run */
        }
    }
    int err = gort_errgroup_wait(g);
    printf("crawl ended after %ld ms: %s\n", (long)((gort_nanotime() - start) / 1000000),
           err ? errstr(err) : "complete");
    gort_errgroup_free(g);
    gort_ctx_cancel(ctx);
    gort_ctx_release(ctx);
    gort_chan_free(results);
}

int main(void)
{
    return gort_main(crawl, NULL);
}
