/*
 * runtime1.c — configuration: GORTMAXPROCS, GORTSTACKSIZE, GORTDEBUG and
 * GORTTRACEBACK (Go's runtime1.go parsedebugvars).
 *
 * gort__cfg holds compiled-in defaults until gort__parse_env() runs (once,
 * from scheduler init; later calls are no-ops), after which it is
 * read-only except for fields the scheduler itself changes under its own
 * rules.  A bad value never stops the program: it is reported once on
 * stderr and the default is kept, like Go's GODEBUG.  The default
 * GORTMAXPROCS is what cpus_linux.c says this process may use.
 *
 * Rejected: parsing with sscanf/strtol on unchecked input (silently
 * accepts "10xyz").
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXPROCS_LIMIT 1024               /* like Go's _MaxGomaxprocs */
#define STACK_MIN (16 * 1024)
#define STACK_MAX ((size_t)1 << 30)

gort__config gort__cfg = {
    .maxprocs = 0,                        /* 0 until parse_env computes it */
    .stacksize = 256 * 1024,
    .schedtrace_ms = 0,
    .quantum_ns = 10 * 1000 * 1000,
    .asyncpreemptoff = false,
    .stuck_report_ns = 1000 * 1000 * 1000,
    .guardedstacks = -1,
    .lazystacks = true,
    .maxthreads = 10000,
    .foreigncalls = true,
    .iobatch = true,
    .wakecpu = true,
    .sysmonslice = true,
    .scheddetail = false,
    .traceback = GORT_TB_SINGLE,
};

/* ---------------------------------------------------------------------
 * Parsing helpers
 * ------------------------------------------------------------------- */

/* Unsigned decimal [s, e) into *out; false on empty/garbage/overflow. */
bool gort__parse_u64(const char *s, const char *e, uint64_t *out)
{
    if (s == e)
        return false;
    uint64_t v = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Duration of the substring [s, e): digits then ns|us|µs|ms|s or nothing
 * (nanoseconds).  -1 if bad or it does not fit in int64. */
static int64_t parse_duration_n(const char *s, const char *e)
{
    const char *d = s;
    while (d < e && *d >= '0' && *d <= '9')
        d++;
    uint64_t v;
    if (!gort__parse_u64(s, d, &v))
        return -1;
    size_t ulen = (size_t)(e - d);
    uint64_t mul;
    if (ulen == 0 || (ulen == 2 && memcmp(d, "ns", 2) == 0))
        mul = 1;
    else if ((ulen == 2 && memcmp(d, "us", 2) == 0) ||
             (ulen == 3 && memcmp(d, "\xc2\xb5s", 3) == 0))
        mul = 1000;
    else if (ulen == 2 && memcmp(d, "ms", 2) == 0)
        mul = 1000 * 1000;
    else if (ulen == 1 && *d == 's')
        mul = 1000 * 1000 * 1000;
    else
        return -1;
    if (v > (uint64_t)INT64_MAX / mul)
        return -1;
    return (int64_t)(v * mul);
}

int64_t gort__parse_duration(const char *s)
{
    if (!s)
        return -1;
    return parse_duration_n(s, s + strlen(s));
}

/* Size in bytes with an optional K/M/G suffix (powers of 1024; "k", "KB",
 * "KiB" too).  0 if bad. */
static size_t parse_size(const char *s)
{
    const char *e = s + strlen(s);
    const char *d = s;
    while (d < e && *d >= '0' && *d <= '9')
        d++;
    uint64_t v;
    if (!gort__parse_u64(s, d, &v))
        return 0;
    uint64_t mul = 1;
    if (d < e) {
        switch (*d) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        case 'b': case 'B': mul = 1; break;
        default: return 0;
        }
        const char *rest = d + 1;
        if (mul != 1 && (strcmp(rest, "B") == 0 || strcmp(rest, "iB") == 0 ||
                         strcmp(rest, "b") == 0))
            rest = e;
        if (rest != e)
            return 0;
    }
    if (v > UINT64_MAX / mul || v * mul > SIZE_MAX)
        return 0;
    return (size_t)(v * mul);
}

static int default_maxprocs(int ncpu)
{
    return ncpu > MAXPROCS_LIMIT ? MAXPROCS_LIMIT : ncpu;
}

/* ---------------------------------------------------------------------
 * Environment
 * ------------------------------------------------------------------- */

static void warn_value(const char *var, const char *key, size_t keylen, const char *val,
                      size_t vallen)
{
    if (key)
        gort__print("gort: warning: %s: bad value '%.*s' for key '%.*s' (ignored)\n", var,
                    (int)vallen, val, (int)keylen, key);
    else
        gort__print("gort: warning: %s: bad value '%.*s' (ignored)\n", var, (int)vallen, val);
}

static bool key_is(const char *k, size_t kl, const char *name)
{
    return strlen(name) == kl && memcmp(k, name, kl) == 0;
}

/* True if an earlier item of the GORTDEBUG string s, before `item`, has
 * the same key (key_only) or is the same key=value, so its warning was
 * already printed. */
static bool seen_before(const char *s, const char *item, size_t il, size_t kl, bool key_only)
{
    for (const char *p = s; p < item; ) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (key_only) {
            const char *eq = memchr(p, '=', len);
            size_t pkl = eq ? (size_t)(eq - p) : len;
            if (pkl == kl && memcmp(p, item, kl) == 0)
                return true;
        } else if (len == il && memcmp(p, item, il) == 0) {
            return true;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return false;
}

static void parse_gortdebug(const char *s)
{
    for (const char *p = s; *p; ) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *k = p;
        size_t kl = (size_t)((eq ? eq : end) - p);
        const char *v = eq ? eq + 1 : end;
        size_t vl = (size_t)(end - v);
        bool ok = eq != NULL;
        bool known = true;
        uint64_t u = 0;
        int64_t d;

        if (kl == 0 && !eq) {
            /* empty item ("a=1,,b=2"): ignore */
        } else if (key_is(k, kl, "schedtrace")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= (uint64_t)INT32_MAX))
                gort__cfg.schedtrace_ms = (int64_t)u;
        } else if (key_is(k, kl, "scheddetail")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.scheddetail = u != 0;
        } else if (key_is(k, kl, "asyncpreemptoff")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.asyncpreemptoff = u != 0;
        } else if (key_is(k, kl, "prologuepreemptoff")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.prologuepreemptoff = u != 0;
        } else if (key_is(k, kl, "membarrier")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.membarrier = u != 0;
        } else if (key_is(k, kl, "iobatch")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.iobatch = u != 0;
        } else if (key_is(k, kl, "lockfence")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.lockfence = u != 0;
        } else if (key_is(k, kl, "sysmonslice")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.sysmonslice = u != 0;
        } else if (key_is(k, kl, "wakecpu")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.wakecpu = u != 0;
        } else if (key_is(k, kl, "quantum")) {
            /* 0 would make sysmon preempt everything it sees. */
            if ((ok = ok && (d = parse_duration_n(v, end)) > 0))
                gort__cfg.quantum_ns = d;
        } else if (key_is(k, kl, "stuckreport")) {
            if ((ok = ok && (d = parse_duration_n(v, end)) >= 0))
                gort__cfg.stuck_report_ns = d;
        } else if (key_is(k, kl, "guardedstacks")) {
            /* At most N guarded stacks: the rest come from red-zone
             * slabs (tests of that path; stack.c). */
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= (uint64_t)INT32_MAX))
                gort__cfg.guardedstacks = (int64_t)u;
        } else if (key_is(k, kl, "lazystacks")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.lazystacks = u != 0;
        } else if (key_is(k, kl, "foreigncalls")) {
            if ((ok = ok && gort__parse_u64(v, end, &u) && u <= 1))
                gort__cfg.foreigncalls = u != 0;
        } else if (key_is(k, kl, "maxthreads")) {
            /* Go's debug.SetMaxThreads: past it, a fatal error. */
            if ((ok = ok && gort__parse_u64(v, end, &u) && u >= 1 && u <= (uint64_t)INT32_MAX))
                gort__cfg.maxthreads = (int64_t)u;
        } else {
            known = false;
        }
        if (!known && !seen_before(s, p, (size_t)(end - p), kl, true))
            gort__print("gort: warning: GORTDEBUG: unknown key '%.*s'\n", (int)kl, k);
        else if (known && !ok && !(kl == 0 && !eq) &&
                 !seen_before(s, p, (size_t)(end - p), kl, false))
            warn_value("GORTDEBUG", k, kl, v, vl);
        p = *end ? end + 1 : end;
    }
}

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void parse_env_once(void)
{
    const char *s;

    gort__cfg.ncpu = gort__ncpu();
    int procs = default_maxprocs(gort__cfg.ncpu);
    if ((s = getenv("GORTMAXPROCS")) && *s) {
        uint64_t u;
        if (gort__parse_u64(s, s + strlen(s), &u) && u >= 1 && u <= MAXPROCS_LIMIT)
            procs = (int)u;
        else
            warn_value("GORTMAXPROCS", NULL, 0, s, strlen(s));
    }
    gort__cfg.maxprocs = procs;

    if ((s = getenv("GORTSTACKSIZE")) && *s) {
        size_t sz = parse_size(s);
        if (sz == 0 || sz > STACK_MAX) {
            warn_value("GORTSTACKSIZE", NULL, 0, s, strlen(s));
        } else {
            long pg = sysconf(_SC_PAGESIZE);
            size_t page = pg > 0 ? (size_t)pg : 4096;
            if (sz < STACK_MIN)
                sz = STACK_MIN;
            gort__cfg.stacksize = (sz + page - 1) & ~(page - 1);
        }
    }

    if ((s = getenv("GORTDEBUG")) && *s)
        parse_gortdebug(s);

    /* Go's GOTRACEBACK words; a number 0/1/2 as in Go too. */
    if ((s = getenv("GORTTRACEBACK")) && *s) {
        static const char *const names[] = {
            [GORT_TB_NONE] = "none", [GORT_TB_SINGLE] = "single", [GORT_TB_ALL] = "all",
            [GORT_TB_SYSTEM] = "system", [GORT_TB_CRASH] = "crash",
        };
        int level = -1;
        for (int i = 0; i <= GORT_TB_CRASH; i++)
            if (strcmp(s, names[i]) == 0)
                level = i;
        if (strcmp(s, "0") == 0)
            level = GORT_TB_NONE;
        else if (strcmp(s, "1") == 0)
            level = GORT_TB_SINGLE;
        else if (strcmp(s, "2") == 0)
            level = GORT_TB_SYSTEM;
        if (level < 0)
            warn_value("GORTTRACEBACK", NULL, 0, s, strlen(s));
        else
            gort__cfg.traceback = level;
    }
}

void gort__parse_env(void)
{
    pthread_once(&env_once, parse_env_once);
}
