/*
 * classify.c — each function is split (checks its stack), nosplit (no
 * check, in split-stack code: what the proof covers), code without checks
 * (the runtime, libc, units built without -fsplit-stack), a PLT stub, or
 * one of the runtime's entry points that are not analysed.  Objects say it
 * with .note.GNU-split-stack; linked programs by evidence (main.c).
 */
#include "nosplit.h"

int skip_name(const char *n)
{
	static const char *const names[] = {
		"__morestack", "__morestack_non_split",
		"__morestack_allocate_stack_space", "__morestack_large_model",
		"__wrap_pthread_create",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(n, names[i]))
			return 1;
	return !strncmp(n, "gort__", 6);
}

/* The target of f's e-th edge if f is a split function of a linked
 * program whose prologue the linker did not rewrite and the edge is a
 * direct call or jump; else NULL. */
struct func *unrewritten_callee(const struct func *f, int e)
{
	if (!units[f->unit].linked || f->cls != C_SPLIT || f->rewritten || f->e[e].kind != T_FUNC)
		return NULL;
	return &funcs[f->e[e].target];
}

static const char *cold_parent(const char *name, char *buf, size_t n)
{
	const char *c = strstr(name, ".cold");
	if (!c || c == name || (size_t)(c - name) >= n)
		return NULL;
	memcpy(buf, name, (size_t)(c - name));
	buf[c - name] = 0;
	return buf;
}

void classify(void)
{
	for (int i = 0; i < nfuncs; i++) {
		struct func *f = &funcs[i];
		f->has_check = has_prologue_check(f, &f->rewritten);
		if (f->has_check && !strcmp(f->sec, "gort_text"))
			units[f->unit].split_runtime = 1;
	}
	for (int i = 0; i < nfuncs; i++) {
		struct func *f = &funcs[i];
		struct unit *u = &units[f->unit];
		if (skip_name(f->name) || f->ambiguous)
			f->cls = C_SKIP;
		else if (f->has_check) {
			f->cls = C_SPLIT;
			u->nsplit++;
		} else if (u->linked) {
			if (!strncmp(f->sec, ".plt", 4) || !strcmp(f->sec, ".iplt"))
				f->cls = C_PLT;
			else if (!strcmp(f->sec, "gort_nosplit"))
				f->cls = C_NOSPLIT;
			else if (!strcmp(f->sec, "gort_text") && !u->split_runtime)
				f->cls = C_FOREIGN, f->known_foreign = 1;
			else {
				int d = dwarf_split(f->unit, f->lo);
				f->cls = d == 1 ? C_NOSPLIT : C_FOREIGN;
				f->known_foreign = d == 0;
			}
		} else if (!strncmp(f->sec, "gort_nosplit", 12) && (!f->sec[12] || f->sec[12] == '#'))
			f->cls = C_NOSPLIT; /* GORT_NOSPLIT: clang gives an object of
					       only such functions no split-stack note */
		else
			f->cls = u->split ? C_NOSPLIT : C_FOREIGN;
	}
	for (int i = 0; i < nfuncs; i++)
		analyse(&funcs[i]);
	/* A shared library calls its own global functions through its PLT
	 * (they could be interposed): follow the stub to the library's own
	 * definition, which is the code that runs unless a program interposes
	 * it.  Taken for code without checks, a nosplit chain through it was
	 * missed, and a split caller's unadjusted prologue (gold rightly
	 * leaves a call into split code alone) looked like ld.bfd's link. */
	for (int i = 0; i < nfuncs; i++) {
		struct func *f = &funcs[i];
		for (int e = 0; e < f->ne; e++) {
			struct edge *ed = &f->e[e];
			if (ed->kind != T_FUNC || funcs[ed->target].cls != C_PLT)
				continue;
			const char *pn = funcs[ed->target].name;
			const char *at = strstr(pn, "@plt");
			if (!at || at == pn || at[4])
				continue;
			char *base = strndup(pn, (size_t)(at - pn));
			if (!base)
				die("out of memory");
			int d = find_by_name(base, f->unit);
			free(base);
			if (d >= 0 && funcs[d].unit == f->unit && funcs[d].cls != C_PLT)
				ed->target = d;
		}
	}
	for (int i = 0; i < nfuncs; i++) {
		struct func *f = &funcs[i];
		for (int k = f->i0; k < f->i1; k++)
			if (strstr(insns[k].text, "__morestack_non_split") ||
			    (insns[k].rsym && !strcmp(insns[k].rsym, "__morestack_non_split")))
				f->rewritten = 1;
		if (f->cls == C_SPLIT && f->rewritten)
			units[f->unit].nsplit_rewritten++;
	}
	/* gcc's .cold parts have no prologue of their own: they are their
	 * parent's code. */
	for (int i = 0; i < nfuncs; i++) {
		char buf[512];
		const char *pn = cold_parent(funcs[i].name, buf, sizeof buf);
		int p = pn ? find_by_name(pn, funcs[i].unit) : -1;
		if (p >= 0 && funcs[i].cls != C_SKIP && !funcs[i].has_check)
			funcs[i].cls = funcs[p].cls == C_SPLIT ? C_SPLIT : funcs[p].cls;
	}
	/* Linked programs: gold and lld rewrite every split caller of a
	 * non-split unit, so where they did rewrite some, the unrewritten
	 * split functions' direct callees come from split-stack units. */
	for (int i = 0; i < nfuncs; i++)
		for (int e = 0; e < funcs[i].ne; e++) {
			struct func *t = unrewritten_callee(&funcs[i], e);
			if (t && units[funcs[i].unit].nsplit_rewritten && t->cls == C_FOREIGN &&
			    !t->known_foreign) {
				t->cls = C_NOSPLIT;
				t->inferred = 1;
			}
		}
}
