/*
 * insn.c — one line of objdump's AT&T disassembly to a mnemonic and its
 * operands, and the small questions the analysis asks of them (is it a
 * call, a conditional jump, an immediate, an %rsp-relative slot).
 */
#include "nosplit.h"

void decode(const char *text, struct op *o)
{
	memset(o, 0, sizeof *o);
	const char *p = text;
	static const char *const prefixes[] = {
		"notrack ", "bnd ", "rep ", "repz ", "repnz ", "repe ",
		"repne ", "lock ", "data16 ", "cs ", "ds ", "addr32 ",
	};
again:
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(p, prefixes[i], n)) {
			p += n;
			goto again;
		}
	}
	size_t n = strcspn(p, " ");
	if (n >= sizeof o->mn)
		n = sizeof o->mn - 1;
	memcpy(o->mn, p, n);
	p += n;
	while (*p == ' ')
		p++;
	char ops[256];
	snprintf(ops, sizeof ops, "%s", p);
	char *hash = strchr(ops, '#');
	if (hash)
		*hash = 0;
	n = strlen(ops);
	while (n && ops[n - 1] == ' ')
		ops[--n] = 0;
	if (ops[0] == '*') {
		o->indirect = 1;
		snprintf(o->dst, sizeof o->dst, "%s", ops + 1);
		return;
	}
	/* Last top-level comma separates the destination. */
	int depth = 0;
	char *last = NULL;
	for (char *c = ops; *c; c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')')
			depth--;
		else if (*c == ',' && !depth)
			last = c;
	}
	if (last) {
		*last = 0;
		snprintf(o->src, sizeof o->src, "%s", ops);
		snprintf(o->dst, sizeof o->dst, "%s", last + 1);
	} else
		snprintf(o->dst, sizeof o->dst, "%s", ops);
	/* "80 <big+0x30>" */
	if (isxdigit((unsigned char)ops[0])) {
		char *lt = strchr(o->dst, '<');
		o->target = strtoull(ops, NULL, 16);
		if (lt) {
			snprintf(o->tname, sizeof o->tname, "%s", lt + 1);
			char *e = strchr(o->tname, '>');
			if (e)
				*e = 0;
			e = strstr(o->tname, "+0x");
			if (e)
				*e = 0;
		}
	}
}

int is_mn(const struct op *o, const char *base)
{
	size_t n = strlen(base);
	if (strncmp(o->mn, base, n))
		return 0;
	/* AT&T size suffix: pushq, subq, ... */
	return o->mn[n] == 0 || (o->mn[n] == 'q' && o->mn[n + 1] == 0);
}

int is_jcc(const struct op *o)
{
	return o->mn[0] == 'j' && strcmp(o->mn, "jmp") && strcmp(o->mn, "jmpq");
}

int is_call(const struct op *o) { return is_mn(o, "call"); }
int is_jmp(const struct op *o) { return is_mn(o, "jmp"); }

long imm(const char *s, int *ok)
{
	*ok = s[0] == '$';
	if (!*ok)
		return 0;
	return (long)(int64_t)strtoull(s + 1, NULL, 0);
}

/* Displacement of "D(%reg)" with nothing else, or *ok = 0. */
long disp(const char *s, const char *reg, int *ok)
{
	char want[16];
	snprintf(want, sizeof want, "(%s)", reg);
	const char *par = strchr(s, '(');
	*ok = par && !strcmp(par, want);
	if (!*ok)
		return 0;
	return par == s ? 0 : (long)(int64_t)strtoull(s, NULL, 0);
}

/* The deepest byte below the entry %rsp that the memory operands of text
 * touch, given the heights of %rsp (h) and %rbp (bh): the red zone (128
 * bytes below %rsp that leaves, and gcc's tail-calling functions, use
 * without moving %rsp) is stack use too.  Index registers are ignored. */
int below(const char *text, int h, int bh)
{
	int deepest = HUNKNOWN;
	for (const char *p = strchr(text, '('); p; p = strchr(p + 1, '(')) {
		int rsp = !strncmp(p, "(%rsp", 5), rbp = !strncmp(p, "(%rbp", 5);
		if (!rsp && !rbp)
			continue;
		const char *q = p;
		while (q > text && (isxdigit((unsigned char)q[-1]) || q[-1] == 'x'))
			q--;
		if (q > text && q[-1] == '-')
			q--;
		long d = q < p ? (long)strtoll(q, NULL, 0) : 0;
		if (d >= 0)
			continue;
		int depth = rsp ? h - (int)d : bh != HUNKNOWN ? bh - (int)d : HUNKNOWN;
		if (depth > deepest)
			deepest = depth;
	}
	return deepest;
}
