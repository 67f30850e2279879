/*
 * resolve.c — the indexes over every function read (by name; by unit,
 * section and address) and the resolution of a call's or jump's target
 * to a function: through the relocation in an object, through the
 * address and objdump's <name> in a linked program.
 */
#include "nosplit.h"

/* Indexes over funcs, built once every input is read: by name, and by
 * (unit, section for objects, address); lookups are binary searches, so
 * a program of many thousand functions stays quick. */
static int *byname, *byaddr;

static const char *addr_sec(const struct func *f)
{
	return units[f->unit].linked ? "" : f->sec;
}

static int cmp_name(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int c = strcmp(funcs[x].name, funcs[y].name);
	return c ? c : (x > y) - (x < y);
}

/* (unit, sec, lo) of function x against the key; ties by index. */
static int cmp_key(int x, int unit, const char *sec, uint64_t lo)
{
	const struct func *f = &funcs[x];
	if (f->unit != unit)
		return f->unit < unit ? -1 : 1;
	int c = strcmp(addr_sec(f), sec);
	if (c)
		return c;
	return (f->lo > lo) - (f->lo < lo);
}

static int cmp_addr(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int c = cmp_key(x, funcs[y].unit, addr_sec(&funcs[y]), funcs[y].lo);
	return c ? c : (x > y) - (x < y);
}

void build_index(void)
{
	byname = xrealloc(NULL, (size_t)(nfuncs + 1) * sizeof *byname);
	byaddr = xrealloc(NULL, (size_t)(nfuncs + 1) * sizeof *byaddr);
	for (int i = 0; i < nfuncs; i++)
		byname[i] = byaddr[i] = i;
	qsort(byname, (size_t)nfuncs, sizeof *byname, cmp_name);
	qsort(byaddr, (size_t)nfuncs, sizeof *byaddr, cmp_addr);
}

/* The function called name: unit's own if it has one, else the first
 * global (or weak) one of another unit: a static function of another
 * object is not what a call by name reaches.  Failing that, an alias of
 * a function (a symbol objdump did not label the code with). */
int find_by_name(const char *name, int unit)
{
	int lo = 0, hi = nfuncs;
	while (lo < hi) { /* first with name >= name */
		int mid = lo + (hi - lo) / 2;
		if (strcmp(funcs[byname[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	int first = -1;
	for (int j = lo; j < nfuncs && !strcmp(funcs[byname[j]].name, name); j++) {
		if (funcs[byname[j]].unit == unit)
			return byname[j];
		if (first < 0 && funcs[byname[j]].global)
			first = byname[j];
	}
	if (first >= 0)
		return first;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < nsyms; i++) {
			const struct sym *y = &syms[i];
			if ((pass == 0 ? y->unit != unit : !y->global) || strcmp(y->name, name))
				continue;
			int t = find_by_addr(y->unit, y->sec, y->addr, 1);
			if (t >= 0)
				return t;
		}
	return -1;
}

/* The function of unit that starts at (exact) or contains sec+addr; of
 * several at one address (aliases), the last read. */
int find_by_addr(int unit, const char *sec, uint64_t addr, int exact)
{
	if (units[unit].linked)
		sec = "";
	int lo = 0, hi = nfuncs;
	while (lo < hi) { /* first with key > (unit, sec, addr) */
		int mid = lo + (hi - lo) / 2;
		if (cmp_key(byaddr[mid], unit, sec, addr) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	const struct func *f = &funcs[byaddr[lo - 1]];
	if (f->unit != unit || strcmp(addr_sec(f), sec))
		return -1;
	if (exact)
		return f->lo == addr ? byaddr[lo - 1] : -1;
	uint64_t end = f->i1 > f->i0 ? insns[f->i1 - 1].addr : f->lo;
	return addr <= end ? byaddr[lo - 1] : -1;
}

/* Does unit (an object) have several sections called sec?  objdump.c
 * named them sec#1, sec#2, ... */
static int dup_section(int unit, const char *sec)
{
	size_t n = strlen(sec);
	for (int i = 0; i < nfuncs; i++)
		if (funcs[i].unit == unit && !strncmp(funcs[i].sec, sec, n) && funcs[i].sec[n] == '#')
			return 1;
	return 0;
}

static int is_section_name(const char *n)
{
	return n[0] == '.' || !strcmp(n, "gort_text") || !strcmp(n, "gort_nosplit");
}

/* Resolves the target of a direct call or jump at instruction k of f:
 * returns a function index, -1 for a name not in the inputs (*ext set),
 * -2 for a branch inside f. */
int resolve(const struct func *f, int k, const struct op *o, const char **ext)
{
	const struct insn *in = &insns[k];
	*ext = NULL;
	if (in->rsym) {
		if (is_section_name(in->rsym)) {
			/* R_X86_64_PC32 .text+0x2c: section symbol, pc-relative */
			int t = find_by_addr(f->unit, in->rsym, (uint64_t)(in->raddend + 4), 0);
			if (t >= 0)
				return t;
			*ext = in->rsym;
			if (!units[f->unit].linked && dup_section(f->unit, in->rsym) &&
			    asprintf((char **)ext, "%s+%#lx (one of several sections of that name)",
				     in->rsym, in->raddend + 4) < 0)
				die("out of memory");
			return -1;
		}
		int t = find_by_name(in->rsym, f->unit);
		if (t < 0)
			*ext = in->rsym;
		return t;
	}
	uint64_t end = insns[f->i1 - 1].addr;
	/* A call to the function's own first byte is recursion, not a branch
	 * inside it (a linked program has no relocation to say so). */
	if (is_mn(o, "call") && o->target == f->lo) {
		int self = find_by_addr(f->unit, f->sec, o->target, 1);
		if (self >= 0)
			return self;
	}
	if (o->target >= f->lo && o->target <= end && (!o->tname[0] || !strcmp(o->tname, f->name) ||
						       find_by_addr(f->unit, f->sec, o->target, 1) < 0))
		return -2;
	int t = find_by_addr(f->unit, f->sec, o->target, 1);
	if (t < 0 && o->tname[0])
		t = find_by_name(o->tname, f->unit);
	if (t < 0)
		*ext = o->tname[0] ? o->tname : "?";
	return t;
}
