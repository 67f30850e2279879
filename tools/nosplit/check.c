/*
 * check.c — Go's stackcheck for the nosplit functions: heights bottom-up
 * (a cycle is infinite), then, for each over-limit root, every chain that
 * ends over the limit or on a cycle in Go's linker format; what escapes
 * the proof (indirect calls, calls into code without checks, dynamic
 * allocation); and linked programs' missing split-stack call adjustment.
 */
#include "nosplit.h"

static int edge_height(const struct edge *e);

int check(int i)
{
	struct func *f = &funcs[i];
	if (f->state == 2)
		return f->height;
	if (f->state == 1)
		return HCYCLE;
	if (f->cls != C_NOSPLIT) {
		f->state = 2;
		f->height = 0;
		return 0;
	}
	f->state = 1;
	int m = f->local_max;
	for (int e = 0; e < f->ne; e++) {
		int hh = edge_height(&f->e[e]);
		if (hh > m)
			m = hh;
	}
	if (m > HCYCLE)
		m = HCYCLE;
	f->height = m;
	f->state = 2;
	return m;
}

static int edge_height(const struct edge *e)
{
	int hh = e->kind == T_FUNC ? check(e->target) : 0;
	return hh >= HCYCLE ? HCYCLE : e->growth + hh;
}

/* Go's report: walk every path from the root, print the chains that end
 * over the limit or on a cycle, each prefix once. */
struct chain {
	const struct edge *e; /* NULL for the root */
	int fn;
	int printed;
};

static struct chain *chain;
static int nchain, cchain;
/* Go's walk visits every path, exponential in a large cyclic graph: each
 * root gets a budget of steps and of printed chains. */
#define REPORT_STEPS  200000
#define REPORT_CHAINS 16
static long steps_left;
static int chains_left, chains_cut;

static void print_chain(int cycle, int depth)
{
	const char *indent = "";
	if (chains_left <= 0) {
		chains_cut = 1;
		return;
	}
	chains_left--;
	char buf[1024];
	for (int i = 0; i < nchain; i++) {
		struct chain *c = &chain[i];
		int w = 4 * i < (int)sizeof buf - 1 ? 4 * i : (int)sizeof buf - 1;
		memset(buf, ' ', (size_t)w);
		buf[w] = 0;
		indent = buf;
		if (c->printed)
			continue;
		c->printed = 1;
		if (!c->e) {
			printf("%s\n", funcs[c->fn].name);
			continue;
		}
		printf("%sgrows %d bytes", indent, c->e->growth);
		if (c->e->kind == T_FUNC)
			printf(", calls %s", funcs[c->e->target].name);
		else if (c->e->kind == T_INDIRECT)
			printf(", calls indirect");
		else if (c->e->kind == T_EXTERN)
			printf(", calls %s", c->e->ename);
		printf("\n");
	}
	if (cycle)
		printf("%sinfinite cycle\n", indent);
	else
		printf("%s%d bytes over limit\n", indent, -depth);
}

static void report(int fn, int depth)
{
	struct func *f = &funcs[fn];
	if (--steps_left < 0 || chains_left <= 0) {
		chains_cut = 1;
		return;
	}
	if (f->reported) { /* back on a function of this chain */
		print_chain(1, depth);
		return;
	}
	if (f->cls != C_NOSPLIT) { /* a split function checks: the end */
		if (depth < 0)
			print_chain(0, depth);
		return;
	}
	f->reported = 1;
	int maxh = 0;
	for (int e = 0; e < f->ne; e++) {
		const struct edge *ed = &f->e[e];
		int hh = edge_height(ed);
		if (hh > maxh)
			maxh = hh;
		GROW(chain, nchain, cchain);
		chain[nchain++] = (struct chain){ed, ed->kind == T_FUNC ? ed->target : -1, 0};
		if (ed->kind == T_FUNC)
			report(ed->target, depth - ed->growth);
		else if (depth - ed->growth < 0)
			print_chain(0, depth - ed->growth);
		nchain--;
	}
	/* The function's own deepest byte, where it is deeper than every
	 * call it makes (Go's leaf edge). */
	if (f->local_max > maxh || f->ne == 0) {
		struct edge leaf = {f->local_max, T_LEAF, -1, NULL, 0, 0};
		GROW(chain, nchain, cchain);
		chain[nchain++] = (struct chain){&leaf, -1, 0};
		if (depth - f->local_max < 0)
			print_chain(0, depth - f->local_max);
		nchain--;
	}
	f->reported = 0;
}

const char *fname(const struct func *f)
{
	static char buf[1024];
	snprintf(buf, sizeof buf, "%s: %s", units[f->unit].name, f->name);
	return buf;
}

static void escape(const struct func *f, const char *fmt, ...)
{
	va_list ap;
	printf("%s: %s: ", strict ? "error" : "warning", fname(f));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (strict)
		nerrors++;
	else
		nwarnings++;
}

static int same_callee_before(const struct func *f, int e)
{
	const struct edge *ed = &f->e[e];
	for (int j = 0; j < e; j++) {
		const struct edge *o = &f->e[j];
		if (o->kind == ed->kind && o->tail == ed->tail &&
		    (ed->kind == T_FUNC ? o->target == ed->target : !strcmp(o->ename, ed->ename)))
			return 1;
	}
	return 0;
}

void escapes(void)
{
	for (int i = 0; i < nfuncs; i++) {
		struct func *f = &funcs[i];
		if (f->cls != C_NOSPLIT)
			continue;
		if (f->dynamic)
			escape(f, "dynamic stack allocation (VLA, alloca or realignment): its size is not counted");
		for (int e = 0; e < f->ne; e++) {
			struct edge *ed = &f->e[e];
			const char *what = ed->tail ? "jumps to" : "calls";
			if (ed->kind != T_INDIRECT && same_callee_before(f, e))
				continue; /* one warning per callee */
			if (ed->kind == T_INDIRECT)
				escape(f, "indirect %s at %#" PRIx64 ": the target is assumed to check its stack",
				       ed->tail ? "jump" : "call", ed->at);
			else if (ed->kind == T_EXTERN && !skip_name(ed->ename))
				escape(f, "%s %s, %s: its stack use is not counted", what, ed->ename,
				       units[f->unit].linked ? "from a shared library, code without checks"
							     : "not in the input: taken for code without checks");
			else if (ed->kind == T_FUNC &&
				 (funcs[ed->target].cls == C_FOREIGN || funcs[ed->target].cls == C_PLT))
				escape(f, "%s %s, code without checks: its stack use is not counted", what,
				       funcs[ed->target].name);
		}
	}
}

/* Linked programs: split functions whose calls into code without checks
 * the linker did not adjust. */
void linker_check(void)
{
	int *shown = xrealloc(NULL, (size_t)(nunits + 1) * sizeof *shown);
	for (int u = 0; u < nunits; u++)
		shown[u] = 0;
	for (int i = 0; i < nfuncs; i++) {
		struct func *f = &funcs[i];
		for (int e = 0; e < f->ne; e++) {
			struct func *t = unrewritten_callee(f, e);
			/* -fno-plt: a shared library's function through the GOT */
			int got = units[f->unit].linked && f->cls == C_SPLIT && !f->rewritten &&
				  f->e[e].kind == T_EXTERN && !skip_name(f->e[e].ename);
			if (got || (t && (t->cls == C_PLT || (t->cls == C_FOREIGN && t->known_foreign)))) {
				nerrors++;
				/* One program has many such callers: name a few. */
				if (++shown[f->unit] > 5)
					break;
				printf("error: %s: split function calls %s, code without checks, but its prologue was not adjusted: "
				       "linked without split-stack call adjustment: use -fuse-ld=gold or -fuse-ld=lld\n",
				       fname(f), got ? f->e[e].ename : t->name);
				break;
			}
		}
	}
	for (int u = 0; u < nunits; u++)
		if (shown[u] > 5)
			printf("error: %s: %d more split functions linked without split-stack call adjustment\n",
			       units[u].name, shown[u] - 5);
	free(shown);
}

/* Go's findRoots: the roots are the over-limit functions no other
 * over-limit function reaches; walk() deletes what origin reaches and says
 * whether it came back to origin (an unrooted cycle), with the cycle's
 * lowest-numbered function to put back as its root. */
static char *over, *present;

static int walk(int origin, int fn, int *lowest)
{
	if (!present[fn])
		return 0;
	present[fn] = 0;
	if (fn == origin) {
		*lowest = fn;
		return 1;
	}
	int cycle = 0;
	for (int e = 0; e < funcs[fn].ne; e++) {
		const struct edge *ed = &funcs[fn].e[e];
		int l = -1;
		if (ed->kind == T_FUNC && walk(origin, ed->target, &l)) {
			if (!cycle || l < *lowest)
				*lowest = l < fn ? l : fn;
			cycle = 1;
		}
	}
	return cycle;
}

/* Over-limit functions; the roots among them (not reached from another
 * over-limit function) are reported, as Go does. */
void report_roots(void)
{
	int room = limit - CALLSIZE;
	over = xrealloc(NULL, (size_t)nfuncs + 1);
	present = xrealloc(NULL, (size_t)nfuncs + 1);
	for (int i = 0; i < nfuncs; i++)
		present[i] = over[i] = funcs[i].cls == C_NOSPLIT && funcs[i].height > room;
	for (int i = 0; i < nfuncs; i++) {
		if (!over[i] || !present[i])
			continue;
		for (int e = 0; e < funcs[i].ne; e++) {
			const struct edge *ed = &funcs[i].e[e];
			if (ed->kind != T_FUNC)
				continue;
			int lowest = -1;
			if (walk(i, ed->target, &lowest))
				present[lowest] = 1; /* an unrooted cycle */
		}
	}
	for (int i = 0; i < nfuncs; i++) {
		if (!over[i] || !present[i])
			continue;
		printf("%s: nosplit stack over %d byte limit\n", funcs[i].name, limit);
		nchain = 0;
		GROW(chain, nchain, cchain);
		chain[nchain++] = (struct chain){NULL, i, 0};
		steps_left = REPORT_STEPS;
		chains_left = REPORT_CHAINS;
		chains_cut = 0;
		report(i, room);
		if (chains_cut)
			printf("(more chains from %s not shown)\n", funcs[i].name);
		nerrors++;
	}
	free(over);
	free(present);
}
