/*
 * test_rwmutex.c — gort_rwmutex: try forms and the zero/static value;
 * readers hold it together (goroutines and plain threads at once); writers
 * exclude everyone (a two-word invariant under mixed load from goroutines
 * and threads); writer preference, deterministically: a pending writer
 * keeps out readers that arrive after it and gets the lock before them;
 * no writer starvation under a stream of overlapping readers, nor reader
 * starvation under a stream of writers; a plain thread's read lock blocking
 * a goroutine writer and the reverse; misuse (runlock/unlock of an unlocked
 * or wrongly locked rwmutex, on a goroutine and on a thread) is a fatal
 * error with a traceback.
 */
#include "check.h"
#include "misuse_child.h"

#include <pthread.h>

#define MAX_READERS (1 << 30)

static int32_t readers_of(gort_rwmutex *rw)
{
    return __atomic_load_n(&rw->readers, __ATOMIC_SEQ_CST);
}

/* Yield (a goroutine) or sched_yield (a thread) until rw->readers == want. */
static void wait_readers(gort_rwmutex *rw, int32_t want)
{
    while (readers_of(rw) != want)
        gort_yield();
}

/* ---- basics ---- */

static gort_rwmutex zeroed; /* static zero: usable as is */

static void test_basic(void)
{
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    gort_rwmutex *z = &zeroed;
    /* A fresh lock is biased: a goroutine's first read lock takes its P's
     * slot and leaves the count alone; the second finds that slot taken
     * and counts.  A writer's unlock turns the bias back on only with more
     * than one P. */
    bool rebias = gort_maxprocs(0) > 1;
    for (int k = 0; k < 2; k++, z = &rw) {
        CHECK_EQ(z->bias, 0u);
        gort_rwmutex_rlock(z);
        CHECK_EQ(readers_of(z), 0);
        gort_rwmutex_rlock(z);
        CHECK(gort_rwmutex_tryrlock(z));
        CHECK_EQ(readers_of(z), 2);
        CHECK(!gort_rwmutex_trylock(z)); /* readers hold it */
        /* The failed trylock revoked the bias: every read lock is counted. */
        CHECK_EQ(readers_of(z), 3);
        CHECK_EQ(z->w.state, 0); /* the failed trylock let w go */
        for (int i = 0; i < 3; i++)
            gort_rwmutex_runlock(z);
        CHECK(gort_rwmutex_trylock(z));
        CHECK_EQ(readers_of(z), -MAX_READERS);
        CHECK_EQ(z->bias, GORT_RW_NOBIAS_);
        CHECK(!gort_rwmutex_trylock(z));
        CHECK(!gort_rwmutex_tryrlock(z));
        gort_rwmutex_unlock(z);
        CHECK_EQ(z->bias, rebias ? 0u : GORT_RW_NOBIAS_);
        gort_rwmutex_lock(z);
        gort_rwmutex_unlock(z);
        CHECK_EQ(readers_of(z), 0);
        CHECK_EQ(z->departing, 0);
        CHECK_EQ(z->w.state, 0);
        CHECK_EQ(z->reader_sema, 0);
        CHECK_EQ(z->writer_sema, 0);
    }
}

/* ---- readers hold it at the same time: goroutines and threads ---- */

enum { NR_G = 4, NR_T = 2 };
static gort_rwmutex crw;
static int inside_readers; /* readers inside right now */
static gort_waitgroup c_wg;

static void concurrent_reader(void)
{
    gort_rwmutex_rlock(&crw);
    __atomic_add_fetch(&inside_readers, 1, __ATOMIC_SEQ_CST);
    /* Nobody leaves before everybody is in: an exclusive lock would hang
     * here (the watchdog then fails the test). */
    while (__atomic_load_n(&inside_readers, __ATOMIC_SEQ_CST) < NR_G + NR_T)
        gort_yield();
    gort_rwmutex_runlock(&crw);
    gort_wg_done(&c_wg);
}

static void g_concurrent_reader(void *arg)
{
    (void)arg;
    concurrent_reader();
}

static void *t_concurrent_reader(void *arg)
{
    (void)arg;
    concurrent_reader();
    return NULL;
}

static void test_concurrent_readers(void)
{
    watchdog_phase("readers hold the lock together");
    pthread_t th[NR_T];
    gort_wg_add(&c_wg, NR_G + NR_T);
    for (int i = 0; i < NR_T; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, t_concurrent_reader, NULL), 0);
    for (int i = 0; i < NR_G; i++)
        CHECK_EQ(gort_go(g_concurrent_reader, NULL), 0);
    gort_wg_wait(&c_wg);
    for (int i = 0; i < NR_T; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    rwmutex_check_idle(&crw);
}

/* ---- exclusion under mixed load ---- */

enum { MX_G = 8, MX_T = 2, MX_ITERS = 4000 };
static gort_rwmutex xrw;
static long pair_a, pair_b; /* written only under the write lock, a == b outside it */
static int x_writers, x_readers;
static gort_waitgroup x_wg;

static void mixed_worker(long id)
{
    for (int i = 0; i < MX_ITERS; i++) {
        if ((i + id) % 10 == 0) {
            gort_rwmutex_lock(&xrw);
            CHECK_EQ(__atomic_add_fetch(&x_writers, 1, __ATOMIC_SEQ_CST), 1);
            CHECK_EQ(__atomic_load_n(&x_readers, __ATOMIC_SEQ_CST), 0);
            long a = *(volatile long *)&pair_a;
            *(volatile long *)&pair_a = a + 1;
            if (i % 50 == 0 && gort_self() != 0)
                gort_yield(); /* hold the write lock across a reschedule */
            *(volatile long *)&pair_b = *(volatile long *)&pair_b + 1;
            CHECK_EQ(__atomic_sub_fetch(&x_writers, 1, __ATOMIC_SEQ_CST), 0);
            gort_rwmutex_unlock(&xrw);
        } else {
            gort_rwmutex_rlock(&xrw);
            __atomic_add_fetch(&x_readers, 1, __ATOMIC_SEQ_CST);
            CHECK_EQ(__atomic_load_n(&x_writers, __ATOMIC_SEQ_CST), 0);
            long a = *(volatile long *)&pair_a;
            if (i % 64 == 1 && gort_self() != 0)
                gort_yield();
            CHECK_EQ(*(volatile long *)&pair_b, a);
            __atomic_sub_fetch(&x_readers, 1, __ATOMIC_SEQ_CST);
            gort_rwmutex_runlock(&xrw);
        }
    }
    gort_wg_done(&x_wg);
}

static void g_mixed(void *arg)
{
    mixed_worker((long)arg);
}

static void *t_mixed(void *arg)
{
    mixed_worker((long)arg);
    return NULL;
}

static void test_exclusion(void)
{
    watchdog_phase("exclusion under mixed load");
    pthread_t th[MX_T];
    gort_wg_add(&x_wg, MX_G + MX_T);
    for (long i = 0; i < MX_T; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, t_mixed, (void *)(100 + i)), 0);
    for (long i = 0; i < MX_G; i++)
        CHECK_EQ(gort_go(g_mixed, (void *)i), 0);
    gort_wg_wait(&x_wg);
    for (int i = 0; i < MX_T; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(pair_a, (long)(MX_G + MX_T) * MX_ITERS / 10);
    CHECK_EQ(pair_b, pair_a);
    /* Every unit an unlock released (gort__semrelease_n, all at once) was
     * taken by one of the readers it was counted for (units are
     * interchangeable): none left over. */
    rwmutex_check_idle(&xrw);
    CHECK_EQ(xrw.w.sema, 0);
}

/* ---- writer preference: a pending writer goes before later readers ---- */

static gort_rwmutex prw;
static char order[8];
static int norder;
static gort_waitgroup p_wg;

static void record(char who)
{
    order[__atomic_fetch_add(&norder, 1, __ATOMIC_SEQ_CST)] = who;
}

static void pref_writer(void *arg)
{
    (void)arg;
    gort_rwmutex_lock(&prw);
    record('W');
    gort_rwmutex_unlock(&prw);
    gort_wg_done(&p_wg);
}

static void pref_reader(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&prw);
    record('R');
    gort_rwmutex_runlock(&prw);
    gort_wg_done(&p_wg);
}

static void *pref_reader_thread(void *arg)
{
    pref_reader(arg);
    return NULL;
}

static void test_writer_preference(void)
{
    watchdog_phase("writer preference");
    gort_rwmutex_rlock(&prw); /* an old reader: us */
    gort_wg_add(&p_wg, 3);
    CHECK_EQ(gort_go(pref_writer, NULL), 0);
    /* The writer has announced itself and waits for us. */
    wait_readers(&prw, 1 - MAX_READERS);
    CHECK(!gort_rwmutex_tryrlock(&prw)); /* new readers are kept out... */
    CHECK_EQ(gort_go(pref_reader, NULL), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, pref_reader_thread, NULL), 0);
    /* ...and block (both counted in, neither inside). */
    wait_readers(&prw, 3 - MAX_READERS);
    for (int i = 0; i < 100; i++)
        gort_yield();
    CHECK_EQ(__atomic_load_n(&norder, __ATOMIC_SEQ_CST), 0);
    gort_rwmutex_runlock(&prw); /* the last old reader lets the writer in */
    gort_wg_wait(&p_wg);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(norder, 3);
    CHECK(order[0] == 'W' && order[1] == 'R' && order[2] == 'R', "order %.3s", order);
    rwmutex_check_idle(&prw);
}

/* ---- no starvation: overlapping readers vs. a writer, and the reverse ---- */

enum { ST_READERS = 8, ST_WRITES = 200, ST_READS = 200 };
static gort_rwmutex srw;
static int s_stop;
static gort_waitgroup s_wg;
static long s_reads;
static int s_rinside, s_winside; /* readers / writers inside now */

static void stream_reader(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&s_stop, __ATOMIC_SEQ_CST)) {
        gort_rwmutex_rlock(&srw);
        __atomic_add_fetch(&s_rinside, 1, __ATOMIC_SEQ_CST);
        CHECK_EQ(__atomic_load_n(&s_winside, __ATOMIC_SEQ_CST), 0);
        /* Hold it across a reschedule: with 8 such readers on 2 Ps some
         * reader nearly always holds the lock, so a reader-preferring lock
         * would keep the writer out for good. */
        gort_yield();
        __atomic_add_fetch(&s_reads, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&s_rinside, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_runlock(&srw);
    }
    gort_wg_done(&s_wg);
}

static void *stream_reader_thread(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&s_stop, __ATOMIC_SEQ_CST)) {
        gort_rwmutex_rlock(&srw);
        __atomic_add_fetch(&s_rinside, 1, __ATOMIC_SEQ_CST);
        CHECK_EQ(__atomic_load_n(&s_winside, __ATOMIC_SEQ_CST), 0);
        sched_yield();
        __atomic_sub_fetch(&s_rinside, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_runlock(&srw);
    }
    gort_wg_done(&s_wg);
    return NULL;
}

static void stream_writer(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&s_stop, __ATOMIC_SEQ_CST)) {
        gort_rwmutex_lock(&srw);
        CHECK_EQ(__atomic_add_fetch(&s_winside, 1, __ATOMIC_SEQ_CST), 1);
        gort_yield();
        __atomic_sub_fetch(&s_winside, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_unlock(&srw);
    }
    gort_wg_done(&s_wg);
}

static void test_no_starvation(void)
{
    watchdog_phase("a writer against a stream of readers");
    pthread_t th;
    gort_wg_add(&s_wg, ST_READERS + 1);
    CHECK_EQ(pthread_create(&th, NULL, stream_reader_thread, NULL), 0);
    for (int i = 0; i < ST_READERS; i++)
        CHECK_EQ(gort_go(stream_reader, NULL), 0);
    while (__atomic_load_n(&s_reads, __ATOMIC_RELAXED) < 100)
        gort_yield();
    for (int i = 0; i < ST_WRITES; i++) {
        gort_rwmutex_lock(&srw);
        /* Every reader is out while we hold it. */
        CHECK_EQ(__atomic_add_fetch(&s_winside, 1, __ATOMIC_SEQ_CST), 1);
        CHECK_EQ(__atomic_load_n(&s_rinside, __ATOMIC_SEQ_CST), 0);
        __atomic_sub_fetch(&s_winside, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_unlock(&srw);
    }
    __atomic_store_n(&s_stop, 1, __ATOMIC_SEQ_CST);
    gort_wg_wait(&s_wg);
    CHECK_EQ(pthread_join(th, NULL), 0);

    /* And the reverse: readers get in between the writes of a stream of
     * writers (unlock admits the readers that queued before the next
     * writer can announce itself). */
    watchdog_phase("readers against a stream of writers");
    __atomic_store_n(&s_stop, 0, __ATOMIC_SEQ_CST);
    gort_wg_add(&s_wg, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(gort_go(stream_writer, NULL), 0);
    for (int i = 0; i < ST_READS; i++) {
        gort_rwmutex_rlock(&srw);
        CHECK_EQ(__atomic_load_n(&s_winside, __ATOMIC_SEQ_CST), 0);
        gort_rwmutex_runlock(&srw);
    }
    __atomic_store_n(&s_stop, 1, __ATOMIC_SEQ_CST);
    gort_wg_wait(&s_wg);
    rwmutex_check_idle(&srw);
    CHECK_EQ(srw.w.state, 0);
}

/* ---- a thread's read lock blocks a goroutine writer, and the reverse ---- */

static gort_rwmutex trw;
static gort_waitgroup t_wg;
static int t_written;

static void *thread_holds_read(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&trw);
    gort_wg_done(&t_wg); /* tell the goroutine we hold it */
    /* Until the goroutine writer is pending (it cannot get in). */
    while (readers_of(&trw) != 1 - MAX_READERS)
        sched_yield();
    CHECK_EQ(__atomic_load_n(&t_written, __ATOMIC_SEQ_CST), 0);
    gort_rwmutex_runlock(&trw); /* wakes the goroutine writer */
    return NULL;
}

static void *thread_wants_write(void *arg)
{
    (void)arg;
    gort_rwmutex_lock(&trw); /* blocks this thread until the goroutine reads out */
    __atomic_store_n(&t_written, 2, __ATOMIC_SEQ_CST);
    gort_rwmutex_unlock(&trw);
    return NULL;
}

static void test_thread_goroutine(void)
{
    watchdog_phase("thread reader vs goroutine writer");
    pthread_t th;
    gort_wg_add(&t_wg, 1);
    CHECK_EQ(pthread_create(&th, NULL, thread_holds_read, NULL), 0);
    gort_wg_wait(&t_wg);
    gort_rwmutex_lock(&trw); /* parks until the thread's runlock */
    __atomic_store_n(&t_written, 1, __ATOMIC_SEQ_CST);
    gort_rwmutex_unlock(&trw);
    CHECK_EQ(pthread_join(th, NULL), 0);

    watchdog_phase("goroutine reader vs thread writer");
    gort_rwmutex_rlock(&trw);
    CHECK_EQ(pthread_create(&th, NULL, thread_wants_write, NULL), 0);
    wait_readers(&trw, 1 - MAX_READERS);
    CHECK_EQ(__atomic_load_n(&t_written, __ATOMIC_SEQ_CST), 1);
    gort_rwmutex_runlock(&trw);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(t_written, 2);
    rwmutex_check_idle(&trw);
}

/* ---- misuse ---- */

enum { BAD_RUNLOCK, BAD_RUNLOCK_TWICE, BAD_RUNLOCK_WLOCKED, BAD_RUNLOCK_WLOCKED_BIAS, BAD_UNLOCK,
       BAD_UNLOCK_RLOCKED, BAD_UNLOCK_TWICE };

static __attribute__((noinline)) void misuse(long kind)
{
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    switch (kind) {
    case BAD_RUNLOCK:
        gort_rwmutex_runlock(&rw);
        break;
    case BAD_RUNLOCK_TWICE: /* the lock is biased: the first took a slot */
        gort_rwmutex_rlock(&rw);
        gort_rwmutex_runlock(&rw);
        gort_rwmutex_runlock(&rw);
        break;
    case BAD_RUNLOCK_WLOCKED:
        gort_rwmutex_lock(&rw);
        gort_rwmutex_runlock(&rw);
        break;
    case BAD_RUNLOCK_WLOCKED_BIAS:
        /* As a runlock that saw the bias on just before this writer
         * revoked it: the library's bias path, with the writer in.  It
         * must fail at once, not wait for a writer that cannot come back
         * (this goroutine). */
        gort_rwmutex_lock(&rw);
        gort_rwmutex_runlock_bias_(&rw);
        break;
    case BAD_UNLOCK:
        gort_rwmutex_unlock(&rw);
        break;
    case BAD_UNLOCK_RLOCKED:
        gort_rwmutex_rlock(&rw);
        gort_rwmutex_unlock(&rw);
        break;
    case BAD_UNLOCK_TWICE:
        gort_rwmutex_lock(&rw);
        gort_rwmutex_unlock(&rw);
        gort_rwmutex_unlock(&rw);
        break;
    }
}

static void main_g(void *arg)
{
    (void)arg;
    test_basic();
    test_concurrent_readers();
    test_exclusion();
    test_writer_preference();
    test_no_starvation();
    test_thread_goroutine();
}

int main(void)
{
    const char *r = "gort: fatal error: sync: RUnlock of unlocked RWMutex";
    const char *w = "gort: fatal error: sync: Unlock of unlocked RWMutex";
    const char *tb = "misuse";
    expect_child(child_misuse, (void *)BAD_RUNLOCK, 2, r, tb);
    expect_child(child_misuse, (void *)BAD_RUNLOCK_TWICE, 2, r, tb);
    expect_child(child_misuse, (void *)BAD_RUNLOCK_WLOCKED, 2, r, tb);
    expect_child(child_misuse, (void *)BAD_RUNLOCK_WLOCKED_BIAS, 2, r, tb);
    expect_child(child_misuse, (void *)BAD_UNLOCK, 2, w, tb);
    expect_child(child_misuse, (void *)BAD_UNLOCK_RLOCKED, 2, w, tb);
    expect_child(child_misuse, (void *)BAD_UNLOCK_TWICE, 2, w, tb);
    expect_child(child_misuse_thread, (void *)BAD_RUNLOCK, -1, r, tb);
    expect_child(child_misuse_thread, (void *)BAD_RUNLOCK_TWICE, -1, r, tb);
    expect_child(child_misuse_thread, (void *)BAD_UNLOCK, -1, w, tb);

    watchdog_start("test_rwmutex", 60);
    run_main(main_g, NULL);
    alarm(0);
    printf("test_rwmutex: ok\n");
    return 0;
}
