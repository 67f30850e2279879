/*
 * analyse.c — per function: whether its prologue checks the stack (and
 * whether the linker rewrote that check), and, by following %rsp through
 * its control flow, its maximum height and the height at each call or
 * tail jump, which become its call edges.
 */
#include "nosplit.h"

static void add_edge(struct func *f, int growth, int kind, int target, const char *ename,
		     uint64_t at, int tail)
{
	GROW(f->e, f->ne, f->ce);
	struct edge *e = &f->e[f->ne++];
	e->growth = growth;
	e->kind = kind;
	e->target = target;
	e->ename = ename ? xstrdup(ename) : NULL;
	e->at = at;
	e->tail = tail;
}

int has_prologue_check(const struct func *f, int *rewritten)
{
	*rewritten = 0;
	for (int k = f->i0; k < f->i1 && k < f->i0 + 4; k++) {
		struct op o;
		decode(insns[k].text, &o);
		if (!strcmp(o.mn, "endbr64") || !strcmp(o.mn, "lea") || !strncmp(o.mn, "nop", 3))
			continue;
		if (!strcmp(o.mn, "stc")) {
			*rewritten = 1;
			return 1;
		}
		if (is_mn(&o, "cmp") && !strcmp(o.src, "%fs:0x70") &&
		    (!strcmp(o.dst, "%rsp") || !strcmp(o.dst, "%r11")))
			return 1;
		return 0;
	}
	return 0;
}

/* Is the indirect jump at k a jump table dispatch (a branch inside the
 * function) rather than a tail call through a pointer? */
static int is_table_jump(const struct func *f, int k, const struct op *o)
{
	if (strstr(o->dst, ",%") || strstr(o->dst, "(,"))
		return 1; /* jmp *0x0(,%rax,8) */
	for (int j = k - 1; j >= f->i0 && j >= k - 4; j--)
		if (!strncmp(insns[j].text, "movslq ", 7) && strstr(insns[j].text, ",4)"))
			return 1;
	/* gcc -O0: the offset loaded 32-bit and sign-extended apart
	 * (lea 0(,%rax,4),%rdx; lea TABLE,%rax; mov (%rdx,%rax,1),%eax;
	 * cltq; lea TABLE,%rdx; add %rdx,%rax; jmp *%rax). */
	for (int j = k - 1; j > f->i0 && j >= k - 5; j--)
		if (!strcmp(insns[j].text, "cltq") && !strncmp(insns[j - 1].text, "mov ", 4) &&
		    strstr(insns[j - 1].text, ",1),%eax"))
			return 1;
	return 0;
}

/* A linked program's call or jump through a GOT slot that objdump names
 * after a symbol from a shared library ("*0x1f22(%rip)  # 3fd8
 * <write@GLIBC_2.2.5>", -fno-plt): the name, without the version. */
static int got_slot(const char *text, char *name, size_t n)
{
	const char *h = strstr(text, "(%rip)");
	const char *lt = h ? strchr(h, '<') : NULL;
	const char *at = lt ? strchr(lt, '@') : NULL;
	if (!at || (size_t)(at - lt - 1) >= n || at == lt + 1)
		return 0;
	memcpy(name, lt + 1, (size_t)(at - lt - 1));
	name[at - lt - 1] = 0;
	return 1;
}

/* Tracks %rsp through f's control flow (see the header comment), records
 * the local maximum, and the edges: calls and tail jumps, with the height
 * at each. */
void analyse(struct func *f)
{
	int n = f->i1 - f->i0;
	if (n <= 0)
		return;
	int *h = xrealloc(NULL, n * sizeof *h), *bh = xrealloc(NULL, n * sizeof *bh);
	int *visits = xrealloc(NULL, n * sizeof *visits), *work = xrealloc(NULL, n * sizeof *work);
	char *edged = xrealloc(NULL, n);
	for (int i = 0; i < n; i++) {
		h[i] = HUNKNOWN;
		bh[i] = HUNKNOWN;
		visits[i] = 0;
		edged[i] = 0;
	}
	int nw = 0, table_h = HUNKNOWN, table_bh = HUNKNOWN;
	h[0] = 0;
	work[nw++] = 0;
	f->local_max = 0;
	for (;;) {
		while (nw) {
			int i = work[--nw];
			int k = f->i0 + i;
			int ch = h[i], cb = bh[i];
			struct op o;
			decode(insns[k].text, &o);
			if (ch > f->local_max)
				f->local_max = ch;
			int deep = below(insns[k].text, ch, cb);
			if (deep > f->local_max)
				f->local_max = deep;
			int succ_next = 1, ok;
			long v;
			int to_rsp = !strcmp(o.dst, "%rsp");
			if (is_mn(&o, "push") || is_mn(&o, "pushf"))
				ch += 8;
			else if (!strcmp(o.mn, "pushw"))
				ch += 2;
			else if (is_mn(&o, "pop") || is_mn(&o, "popf")) {
				ch -= 8;
				if (!strcmp(o.dst, "%rbp"))
					cb = HUNKNOWN;
			} else if (is_mn(&o, "leave")) {
				if (cb == HUNKNOWN)
					f->dynamic = 1;
				else
					ch = cb - 8;
				cb = HUNKNOWN;
			} else if (to_rsp && (is_mn(&o, "sub") || is_mn(&o, "add"))) {
				v = imm(o.src, &ok);
				if (!ok)
					f->dynamic = 1;
				else
					ch += is_mn(&o, "sub") ? (int)v : -(int)v;
			} else if (to_rsp && is_mn(&o, "lea")) {
				v = disp(o.src, "%rsp", &ok);
				if (ok)
					ch -= (int)v;
				else if (v = disp(o.src, "%rbp", &ok), ok && cb != HUNKNOWN)
					ch = cb - (int)v;
				else
					f->dynamic = 1;
			} else if (to_rsp && is_mn(&o, "and")) {
				v = imm(o.src, &ok);
				if (ok && v < -8)
					ch += (int)(-v - 8); /* realignment: at most this */
				else
					f->dynamic = 1;
			} else if (to_rsp && is_mn(&o, "mov")) {
				if (!strcmp(o.src, "%rbp") && cb != HUNKNOWN)
					ch = cb;
				else
					f->dynamic = 1;
			} else if (to_rsp && !is_mn(&o, "cmp") && !is_mn(&o, "test")) {
				f->dynamic = 1;
			} else if (!strcmp(o.dst, "%rbp") && !is_mn(&o, "cmp") && !is_mn(&o, "test")) {
				cb = is_mn(&o, "mov") && !strcmp(o.src, "%rsp") ? ch : HUNKNOWN;
			}
			if (ch > f->local_max)
				f->local_max = ch;
			int br = -1; /* in-function branch target index */
			if (is_call(&o) || is_jmp(&o) || is_jcc(&o)) {
				int tail = !is_call(&o);
				int growth = h[i] + (tail ? 0 : CALLSIZE);
				char got[256];
				if (o.indirect && !insns[k].rsym && got_slot(insns[k].text, got, sizeof got)) {
					/* -fno-plt: call *slot(%rip) # <write@GLIBC_2.2.5> */
					if (!edged[i])
						add_edge(f, growth, T_EXTERN, -1, got, insns[k].addr, tail);
					if (is_jmp(&o))
						succ_next = 0;
				} else if (o.indirect && !insns[k].rsym) {
					if (is_jmp(&o) && is_table_jump(f, k, &o)) {
						table_h = h[i];
						table_bh = bh[i];
					} else if (!edged[i])
						add_edge(f, growth, T_INDIRECT, -1, NULL, insns[k].addr, tail);
					if (is_jmp(&o))
						succ_next = 0;
				} else if (o.indirect && !insns[k].rgotpc) {
					/* call *fp(%rip): a pointer loaded from data */
					if (!edged[i])
						add_edge(f, growth, T_INDIRECT, -1, NULL, insns[k].addr, tail);
					if (is_jmp(&o))
						succ_next = 0;
				} else {
					const char *ext;
					int t = resolve(f, k, &o, &ext);
					if (t == -2) {
						/* branch inside the function */
						for (int j = 0; j < n; j++)
							if (insns[f->i0 + j].addr == o.target)
								br = j;
					} else if (!edged[i]) {
						add_edge(f, growth, t >= 0 ? T_FUNC : T_EXTERN, t, ext,
							 insns[k].addr, tail);
						if (!strcmp(t >= 0 ? funcs[t].name : ext,
							    "__morestack_allocate_stack_space"))
							f->dynamic = 1;
					}
					if (is_jmp(&o))
						succ_next = 0;
				}
				edged[i] = 1;
			} else if (is_mn(&o, "ret") || !strcmp(o.mn, "ud2") || !strcmp(o.mn, "hlt"))
				succ_next = 0;
			int succ[2] = {succ_next && i + 1 < n ? i + 1 : -1, br};
			for (int s = 0; s < 2; s++) {
				int j = succ[s];
				if (j < 0)
					continue;
				if (h[j] != HUNKNOWN && h[j] >= ch && (bh[j] == cb || bh[j] == HUNKNOWN))
					continue;
				if (++visits[j] > 8) {
					f->dynamic = 1; /* growing around a loop */
					continue;
				}
				if (h[j] == HUNKNOWN || ch > h[j])
					h[j] = ch;
				bh[j] = cb;
				work[nw++] = j;
			}
		}
		/* Code reached only through a jump table starts at the table
		 * jump's height. */
		int seeded = 0;
		for (int i = 0; i < n && table_h != HUNKNOWN; i++)
			if (h[i] == HUNKNOWN) {
				h[i] = table_h;
				bh[i] = table_bh;
				work[nw++] = i;
				seeded = 1;
				break;
			}
		if (!seeded)
			break;
	}
	free(h);
	free(bh);
	free(visits);
	free(work);
	free(edged);
}
