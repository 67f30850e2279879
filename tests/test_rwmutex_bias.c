/*
 * test_rwmutex_bias.c — gort_rwmutex's read bias (src/rwmutex_bias.c),
 * where a reader holds the lock in its P's slot instead of the count:
 *   - a read lock released by another goroutine, by a plain thread, and
 *     one taken by a thread released by a goroutine, each while writers
 *     come and go (a slot must be found from any P, and a writer's
 *     revocation must move it into the count, never lose or copy it);
 *   - writers exclude readers on a read-mostly lock (1 write in 300, so
 *     the bias is on most of the time) with readers that hold the lock
 *     across reschedules (and so release from another P than they took
 *     it on), plain threads among them;
 *   - 1024 locks, four to a bucket on average, with goroutines holding
 *     three at once (the slot of a bucket belongs to one lock at a time;
 *     the others count) and writers on each;
 *   - a goroutine's read lock of a biased lock leaves the count alone (the
 *     bias is used), and a writer's unlock turns the bias back on only
 *     with more than one P;
 *   - the read-mostly phase again while another goroutine changes the
 *     number of Ps (1 to 70: more Ps than columns share them) and some
 *     reads run inside gort_blocking (an M without its P, whose column
 *     is stale);
 *   - a child of fork() whose parent had a writer in the middle of a
 *     revocation: a runlock there that finds nothing is a fatal error
 *     naming fork(), not a loop waiting for a writer that is not there;
 * and after each phase every lock is back to its zero state.  Run at
 * GORTMAXPROCS 1, 2 and 4 (more columns than cores) in children.
 */
#include "check.h"

#include <pthread.h>

/* ---- the bias is used ---- */

static void test_bias_used(void)
{
    watchdog_phase("a read lock of a biased lock leaves the count alone");
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    CHECK_EQ(rw.bias, 0u);
    gort_rwmutex_rlock(&rw);
    CHECK_EQ(rw.readers, 0); /* in this P's slot */
    gort_rwmutex_runlock(&rw);
    gort_rwmutex_lock(&rw); /* revokes */
    CHECK_EQ(rw.bias, GORT_RW_NOBIAS_);
    gort_rwmutex_unlock(&rw);
    bool multi = gort_maxprocs(0) > 1;
    CHECK_EQ(rw.bias, multi ? 0u : GORT_RW_NOBIAS_);
    gort_rwmutex_rlock(&rw);
    CHECK_EQ(rw.readers, multi ? 0 : 1);
    gort_rwmutex_runlock(&rw);
    rwmutex_check_idle(&rw);
}

/* ---- read locks released by someone else ---- */

enum { HO_ROUNDS = 20000 };
static gort_rwmutex hrw;
static long h_a, h_b; /* a == b outside the write lock */
static int h_writing;
static int h_stop;
static gort_chan *h_tokens; /* read locks in transit to their releaser */

static void check_pair(void)
{
    CHECK_EQ(__atomic_load_n(&h_writing, __ATOMIC_SEQ_CST), 0);
    CHECK_EQ(*(volatile long *)&h_b, *(volatile long *)&h_a);
}

static void ho_writer(void *arg)
{
    gort_waitgroup *wg = arg;
    while (!__atomic_load_n(&h_stop, __ATOMIC_SEQ_CST)) {
        gort_rwmutex_lock(&hrw);
        CHECK_EQ(__atomic_add_fetch(&h_writing, 1, __ATOMIC_SEQ_CST), 1);
        *(volatile long *)&h_a = h_a + 1;
        gort_yield();
        *(volatile long *)&h_b = h_b + 1;
        __atomic_sub_fetch(&h_writing, 1, __ATOMIC_SEQ_CST);
        gort_rwmutex_unlock(&hrw);
        for (int i = 0; i < 20; i++)
            gort_yield();
    }
    gort_wg_done(wg);
}

/* Releases every read lock that arrives; int 1 = stop. */
static void ho_release_loop(void)
{
    int tok;
    while (gort_chan_recv(h_tokens, &tok) && tok == 0) {
        check_pair(); /* still held: no writer got in */
        gort_rwmutex_runlock(&hrw);
    }
}

static void g_releaser(void *arg)
{
    ho_release_loop();
    gort_wg_done(arg);
}

static void *t_releaser(void *arg)
{
    ho_release_loop();
    gort_wg_done(arg);
    return NULL;
}

static void g_locker(void *arg)
{
    int zero = 0;
    for (int i = 0; i < HO_ROUNDS; i++) {
        gort_rwmutex_rlock(&hrw);
        check_pair();
        if (i % 7 == 0)
            gort_yield(); /* maybe onto another P before handing it on */
        gort_chan_send(h_tokens, &zero);
    }
    gort_wg_done(arg);
}

static void *t_locker(void *arg)
{
    int zero = 0;
    for (int i = 0; i < HO_ROUNDS / 4; i++) {
        gort_rwmutex_rlock(&hrw); /* a thread: the count */
        check_pair();
        gort_chan_send(h_tokens, &zero);
    }
    gort_wg_done(arg);
    return NULL;
}

static void test_handoff(void)
{
    watchdog_phase("read locks released by another goroutine or thread");
    h_tokens = gort_chan_make(sizeof(int), 16);
    gort_waitgroup lockers = GORT_WAITGROUP_INIT, others = GORT_WAITGROUP_INIT;
    pthread_t tl, tr;
    gort_wg_add(&lockers, 3);
    gort_wg_add(&others, 4);
    CHECK_EQ(gort_go(ho_writer, &others), 0);
    CHECK_EQ(gort_go(g_releaser, &others), 0);
    CHECK_EQ(gort_go(g_releaser, &others), 0);
    CHECK_EQ(pthread_create(&tr, NULL, t_releaser, &others), 0);
    CHECK_EQ(gort_go(g_locker, &lockers), 0);
    CHECK_EQ(gort_go(g_locker, &lockers), 0);
    CHECK_EQ(pthread_create(&tl, NULL, t_locker, &lockers), 0);
    gort_wg_wait(&lockers);
    __atomic_store_n(&h_stop, 1, __ATOMIC_SEQ_CST);
    int one = 1;
    for (int i = 0; i < 3; i++)
        gort_chan_send(h_tokens, &one);
    gort_wg_wait(&others);
    CHECK_EQ(pthread_join(tl, NULL), 0);
    CHECK_EQ(pthread_join(tr, NULL), 0);
    CHECK(h_a > 0, "the writer never got in");
    CHECK_EQ(h_a, h_b);
    rwmutex_check_idle(&hrw);
    gort_chan_free(h_tokens);
}

/* ---- exclusion on a read-mostly lock ---- */

enum { RM_G = 8, RM_T = 2, RM_ITERS = 100000, RM_WRITE_EVERY = 300 };
static gort_rwmutex mrw;
static long m_a, m_b;
static int m_writers, m_readers;
static long m_writes;

static void *blocking_read(void *arg)
{
    (void)arg;
    gort_rwmutex_rlock(&mrw);
    __atomic_add_fetch(&m_readers, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(__atomic_load_n(&m_writers, __ATOMIC_SEQ_CST), 0);
    CHECK_EQ(*(volatile long *)&m_b, *(volatile long *)&m_a);
    __atomic_sub_fetch(&m_readers, 1, __ATOMIC_SEQ_CST);
    gort_rwmutex_runlock(&mrw);
    return NULL;
}

static int rm_done, rm_resizes; /* sizes the cycler set (1000: no cycler) */

static void rm_worker(long id)
{
    bool goroutine = gort_self() != 0;
    /* With the cycler on, on until it has been through every size. */
    for (int i = 0; i < RM_ITERS || __atomic_load_n(&rm_resizes, __ATOMIC_SEQ_CST) < 6; i++) {
        if (goroutine && i % 211 == 5)
            gort_blocking(blocking_read, NULL);
        if ((i + id * 37) % RM_WRITE_EVERY == 0) {
            gort_rwmutex_lock(&mrw);
            CHECK_EQ(__atomic_add_fetch(&m_writers, 1, __ATOMIC_SEQ_CST), 1);
            CHECK_EQ(__atomic_load_n(&m_readers, __ATOMIC_SEQ_CST), 0);
            *(volatile long *)&m_a = m_a + 1;
            *(volatile long *)&m_b = m_b + 1;
            __atomic_add_fetch(&m_writes, 1, __ATOMIC_RELAXED);
            __atomic_sub_fetch(&m_writers, 1, __ATOMIC_SEQ_CST);
            gort_rwmutex_unlock(&mrw);
        } else {
            gort_rwmutex_rlock(&mrw);
            __atomic_add_fetch(&m_readers, 1, __ATOMIC_SEQ_CST);
            CHECK_EQ(__atomic_load_n(&m_writers, __ATOMIC_SEQ_CST), 0);
            long a = *(volatile long *)&m_a;
            if (goroutine && i % 97 == 3)
                gort_yield(); /* release from wherever we are resumed */
            CHECK_EQ(*(volatile long *)&m_b, a);
            __atomic_sub_fetch(&m_readers, 1, __ATOMIC_SEQ_CST);
            gort_rwmutex_runlock(&mrw);
        }
    }
}

static void g_rm(void *arg)
{
    gort_waitgroup *wg = arg;
    static long next;
    rm_worker(__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED));
    gort_wg_done(wg);
}

static void *t_rm(void *arg)
{
    rm_worker(100 + (long)(intptr_t)arg);
    return NULL;
}

/* Changes the number of Ps until the workers are done. */
static void procs_cycler(void *arg)
{
    static const int procs[] = {1, 3, 70, 2, 65, 4};
    for (int i = 0; !__atomic_load_n(&rm_done, __ATOMIC_SEQ_CST); i++) {
        gort_maxprocs(procs[i % 6]);
        __atomic_add_fetch(&rm_resizes, 1, __ATOMIC_SEQ_CST);
        for (int j = 0; j < 50; j++)
            gort_yield();
    }
    gort_wg_done(arg);
}

static void test_read_mostly(bool cycle_procs)
{
    watchdog_phase(cycle_procs ? "exclusion on a read-mostly lock, the Ps changing"
                               : "exclusion on a read-mostly lock");
    int procs0 = gort_maxprocs(0);
    gort_waitgroup cycler = GORT_WAITGROUP_INIT;
    __atomic_store_n(&rm_done, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&rm_resizes, cycle_procs ? 0 : 1000, __ATOMIC_SEQ_CST);
    if (cycle_procs) {
        gort_wg_add(&cycler, 1);
        CHECK_EQ(gort_go(procs_cycler, &cycler), 0);
    }
    m_writes = 0;
    m_a = m_b = 0;
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    pthread_t th[RM_T];
    for (long i = 0; i < RM_T; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, t_rm, (void *)(intptr_t)i), 0);
    gort_wg_add(&wg, RM_G);
    for (int i = 0; i < RM_G; i++)
        CHECK_EQ(gort_go(g_rm, &wg), 0);
    gort_wg_wait(&wg);
    for (int i = 0; i < RM_T; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    __atomic_store_n(&rm_done, 1, __ATOMIC_SEQ_CST);
    if (cycle_procs) {
        gort_wg_wait(&cycler);
        gort_maxprocs(procs0);
    }
    CHECK_EQ(m_a, m_writes);
    CHECK_EQ(m_b, m_writes);
    CHECK(m_writes >= (long)(RM_G + RM_T) * (RM_ITERS / RM_WRITE_EVERY), "%ld writes", m_writes);
    rwmutex_check_idle(&mrw);
}

/* ---- many locks sharing buckets ---- */

enum { ML_LOCKS = 1024, ML_G = 6, ML_ITERS = 50000 };
static struct {
    gort_rwmutex rw;
    int readers, writer; /* inside now */
} locks[ML_LOCKS];

static void ml_worker(void *arg)
{
    gort_waitgroup *wg = arg;
    uint64_t x = gort_self() * 0x9E3779B97F4A7C15ull | 1;
    for (int i = 0; i < ML_ITERS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int k[3] = {(int)(x % ML_LOCKS), (int)((x >> 20) % ML_LOCKS), (int)((x >> 40) % ML_LOCKS)};
        if (i % 50 == 0) {
            gort_rwmutex_lock(&locks[k[0]].rw);
            CHECK_EQ(__atomic_add_fetch(&locks[k[0]].writer, 1, __ATOMIC_SEQ_CST), 1);
            CHECK_EQ(__atomic_load_n(&locks[k[0]].readers, __ATOMIC_SEQ_CST), 0);
            __atomic_sub_fetch(&locks[k[0]].writer, 1, __ATOMIC_SEQ_CST);
            gort_rwmutex_unlock(&locks[k[0]].rw);
            continue;
        }
        /* Three distinct locks at once, always in increasing order (no
         * deadlock with the writers, who take one). */
        if (k[0] == k[1] || k[1] == k[2] || k[0] == k[2])
            continue;
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2 - a; b++)
                if (k[b] > k[b + 1]) {
                    int t = k[b];
                    k[b] = k[b + 1], k[b + 1] = t;
                }
        for (int j = 0; j < 3; j++) {
            gort_rwmutex_rlock(&locks[k[j]].rw);
            __atomic_add_fetch(&locks[k[j]].readers, 1, __ATOMIC_SEQ_CST);
            CHECK_EQ(__atomic_load_n(&locks[k[j]].writer, __ATOMIC_SEQ_CST), 0);
        }
        if (i % 31 == 0)
            gort_yield();
        for (int j = 2; j >= 0; j--) {
            CHECK_EQ(__atomic_load_n(&locks[k[j]].writer, __ATOMIC_SEQ_CST), 0);
            __atomic_sub_fetch(&locks[k[j]].readers, 1, __ATOMIC_SEQ_CST);
            gort_rwmutex_runlock(&locks[k[j]].rw);
        }
    }
    gort_wg_done(wg);
}

static void test_many_locks(void)
{
    watchdog_phase("1024 locks sharing the slots' buckets");
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    gort_wg_add(&wg, ML_G);
    for (int i = 0; i < ML_G; i++)
        CHECK_EQ(gort_go(ml_worker, &wg), 0);
    gort_wg_wait(&wg);
    for (int i = 0; i < ML_LOCKS; i++)
        rwmutex_check_idle(&locks[i].rw);
}

/* ---- fork() while a writer revokes ---- */

static gort_rwmutex frw;

static void child_runlock(void *arg)
{
    (void)arg;
    gort_rwmutex_runlock(&frw); /* finds no unit; the writer is in the parent */
    _exit(0);
}

static void test_fork_revoking(void)
{
    watchdog_phase("a fork child of a revoking writer");
    /* The state a writer leaves in the child when fork() catches it in
     * gort__rwbias_revoke: the writers' mutex held, the bias marked
     * revoking (and a unit it took not yet counted; here, none at all). */
    gort_mutex_lock(&frw.w);
    __atomic_store_n(&frw.bias, GORT_RW_NOBIAS_ | GORT_RW_REVOKING_, __ATOMIC_SEQ_CST);
    expect_child(child_runlock, NULL, 2, "in the child of fork()", "sync.RWMutex.RUnlock");
    __atomic_store_n(&frw.bias, GORT_RW_NOBIAS_, __ATOMIC_SEQ_CST);
    gort_mutex_unlock(&frw.w);
    rwmutex_check_idle(&frw);
}

static void main_g(void *arg)
{
    (void)arg;
    test_bias_used();
    test_handoff();
    test_read_mostly(false);
    test_read_mostly(true);
    test_many_locks();
    test_fork_revoking();
}

int main(void)
{
    watchdog_start("test_rwmutex_bias", 240);
    run_main_child(main_g, NULL, "1", NULL);
    run_main_child(main_g, NULL, "2", NULL);
    run_main_child(main_g, NULL, "4", NULL);
    alarm(0);
    printf("test_rwmutex_bias: ok\n");
    return 0;
}
