/*
 * gort-nosplit — the link-time nosplit checker of gort's split-stack mode
 * (issue 11): Go's linker stack check (cmd/link stackcheck) for C.
 *
 * What it proves.  In split-stack mode every function compiled with
 * -fsplit-stack starts with `cmp %fs:0x70,%rsp; jb` (large frames: `lea
 * -N(%rsp),%r11; cmp %fs:0x70,%r11; jb`; gold and lld may turn the compare
 * into `stc` and the call into __morestack_non_split).  Such a function is
 * "split": its prologue checks the stack.  A function without that check
 * inside a split-stack unit (__attribute__((no_split_stack)), GORT_NOSPLIT,
 * clang's frameless leaves) is "nosplit".  A nosplit function called from a
 * split one runs in the window below the stack guard that the split caller's
 * check left; the runtime sizes that window as GORT_NOSPLIT_LIMIT = 2048
 * bytes.  The checker walks every chain of nosplit functions and proves that
 * the bytes it uses, counted from the split caller, fit in the window:
 *
 *     8 (the return address of the call into the chain's first function)
 *   + for each function, its stack height at the call to the next one
 *     (bytes pushed/allocated below its entry %rsp) + 8 for that call's
 *     return address (a tail jump adds its height and no return address)
 *   + the last function's own maximum height, or 8 for a final call into a
 *     split function (whose prologue then checks)
 *   <= limit (default 2048, -limit N).
 *
 * A chain over the limit and any cycle among nosplit functions (which is
 * unbounded) are reported in Go's linker format and fail (exit 1):
 *
 *     ns_a: nosplit stack over 2048 byte limit
 *     ns_a
 *         grows 128 bytes, calls ns_b
 *             grows 1920 bytes
 *             8 bytes over limit
 *
 * ("grows" lines are Go's: height at the call plus the return address; the 8
 * bytes of the call into the root are counted but, as in Go, not printed, so
 * over = 8 + sum of grows - limit.)
 *
 * What escapes the proof (warnings; errors with -strict): calls through a
 * pointer from a nosplit function (assumed, as Go assumes, to reach a split
 * function that checks), calls from a nosplit function into code without
 * checks (the runtime, libc: their stack use is unknown and not counted;
 * gort's guard page remains the backstop), and dynamic stack allocation in
 * a nosplit function (VLA, alloca, realignment by an unknown amount: a
 * non-constant write to %rsp or a call to __morestack_allocate_stack_space).
 *
 * Frame sizes: from the instructions, by tracking %rsp through each
 * function's control flow (push/pop, sub/add/lea/and on %rsp, mov
 * %rsp,%rbp ... leave).  That is exactly what Go's pcsp table records, and
 * it is exact at every call site, which the chain needs.  Rejected:
 *   - .eh_frame CFA rows: exact only while the CFA is %rsp-based; in code
 *     built with frame pointers (gort's default, -fno-omit-frame-pointer)
 *     the CFA moves to %rbp after `mov %rsp,%rbp` and the `sub $N,%rsp` that
 *     allocates the frame never appears in the rows; in objects the FDEs'
 *     addresses also need .rela.eh_frame to find their section.
 *   - -fstack-usage .su files: one number per function (not the height at
 *     each call, so tail calls and calls made before the frame grows are
 *     overcounted), gcc counts the return address and clang does not, and a
 *     linked program carries none.
 * Code reached only through a jump table is seeded with the height at the
 * table's indirect jump; a function whose %rsp the tracking cannot follow is
 * reported as dynamic.
 *
 * Inputs: object files, archives (each member a unit) and linked programs
 * or shared libraries, read through binutils' `objdump -d -r -w -t -h`
 * (binutils comes with gcc; OBJDUMP overrides the command).  Objects are
 * precise: a unit is split-stack iff it carries .note.GNU-split-stack.  A
 * linked program has lost the notes, so functions are classified by
 * evidence, strongest first:
 *   1. a split prologue (compare or `stc`)            -> split
 *   2. section gort_nosplit (GORT_NOSPLIT)            -> nosplit
 *   3. sections gort_text (the runtime, unless some of its functions have
 *      the check: then it was built split-stack), .plt* -> code without checks
 *   4. a direct callee of a split function whose prologue the linker did not
 *      rewrite, in a program where the linker did rewrite others: gold and
 *      lld rewrite every caller of a non-split unit, so the callee comes
 *      from a split-stack unit                        -> nosplit
 *   5. anything else                                  -> code without checks
 * Weaker than objects: a no_split_stack function outside gort_nosplit that
 * no unrewritten split function calls directly (only nosplit or foreign
 * callers) is taken for code without checks and not checked.
 * Linked programs get one more check: a split function that calls code
 * without checks (a PLT entry or, -fno-plt, a GOT slot; the runtime) and
 * whose prologue was not rewritten means the linker skipped the
 * split->non-split call adjustment (GNU ld.bfd does so silently): an error.
 *
 * Not checked at all, by name: the runtime's entry points (__morestack,
 * __morestack_non_split, __morestack_allocate_stack_space,
 * __morestack_large_model, __wrap_pthread_create) and gort__* (the runtime).
 *
 * Exit status: 0 clean (warnings allowed), 1 on an over-limit chain, a
 * cycle, a linker error (or a warning under -strict), 2 on usage or tool
 * errors.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 2048 /* GORT_NOSPLIT_LIMIT */
#define CALLSIZE      8    /* bytes a call pushes */
#define HUNKNOWN      INT_MIN
#define HCYCLE        (INT_MAX / 2) /* "infinite" height: on a cycle */

static const char *progname = "gort-nosplit";
static int verbose, strict, limit = DEFAULT_LIMIT;
static int nerrors, nwarnings;

static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		die("out of memory");
	return d;
}

#define GROW(arr, n, cap)                                                      \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			(cap) = (cap) ? 2 * (cap) : 16;                        \
			(arr) = xrealloc((arr), (cap) * sizeof *(arr));        \
		}                                                              \
	} while (0)

/* ---------------------------------------------------------------------- */
/* Model                                                                  */

enum cls {
	C_FOREIGN, /* code without checks: runtime, libc, non-split units */
	C_SPLIT,   /* has the prologue check */
	C_NOSPLIT, /* no check, in a split-stack unit */
	C_SKIP,    /* runtime entry points: not analysed, no warnings */
	C_PLT,     /* linked program's PLT stub: code without checks */
};

struct unit {
	char *name;
	int split;  /* carries .note.GNU-split-stack (objects) */
	int linked; /* executable or shared library */
	int nsplit_rewritten, nsplit;
	int split_runtime; /* linked: gort_text has split functions */
};

struct insn {
	uint64_t addr;
	char *text;  /* mnemonic and operands, prefixes kept */
	char *rsym;  /* relocation symbol (objects), NULL if none */
	long raddend;
	int rgotpc; /* relocation is GOTPCREL*: a call/jmp through the GOT */
};

enum { T_FUNC, T_INDIRECT, T_EXTERN, T_LEAF };

struct edge {
	int growth;
	int kind;    /* T_* */
	int target;  /* function index for T_FUNC */
	char *ename; /* T_EXTERN: a name not defined in the inputs */
	uint64_t at; /* address of the call, for messages */
	int tail;
};

struct func {
	char *name;
	int unit;
	char *sec;
	uint64_t lo;
	int i0, i1; /* instructions [i0, i1) */
	enum cls cls;
	int has_check, rewritten, inferred;
	int known_foreign; /* linked: DWARF says built without -fsplit-stack */
	int ambiguous;     /* in a second section of the same name (see below) */
	int dynamic;   /* %rsp changed by an unknown amount, or alloca call */
	int local_max; /* max height within the function */
	struct edge *e;
	int ne, ce;
	int height, state; /* check(): state 0 new, 1 on stack, 2 done */
	int reported;      /* graph node for reporting */
};

static struct unit *units;
static int nunits, cunits;
static struct insn *insns;
static int ninsns, cinsns;
static struct func *funcs;
static int nfuncs, cfuncs;

/* Function symbols (type F) of the unit being read: objdump labels every
 * symbol, but only these start a function. */
static char **fsyms;
static int nfsyms, cfsyms;

static int is_fsym(const char *name)
{
	for (int i = 0; i < nfsyms; i++)
		if (!strcmp(fsyms[i], name))
			return 1;
	return 0;
}

static int skip_name(const char *n)
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

/* ---------------------------------------------------------------------- */
/* Reading objdump's output                                               */

static char *shell_quote(const char *s)
{
	size_t n = 3;
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *q = xrealloc(NULL, n), *d = q;
	*d++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(d, "'\\''", 4);
			d += 4;
		} else
			*d++ = *p;
	}
	*d++ = '\'';
	*d = 0;
	return q;
}

/* 0 object, 1 linked (ET_EXEC/ET_DYN), 2 archive; dies on anything else. */
static int file_kind(const char *path)
{
	unsigned char h[18];
	FILE *f = fopen(path, "rb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	size_t n = fread(h, 1, sizeof h, f);
	fclose(f);
	if (n >= 8 && !memcmp(h, "!<arch>\n", 8))
		return 2;
	if (n < 18 || memcmp(h, "\177ELF", 4))
		die("%s: not an ELF file or archive", path);
	if (h[4] != 2 || h[5] != 1)
		die("%s: not a little-endian 64-bit ELF file", path);
	unsigned type = h[16] | (unsigned)h[17] << 8;
	if (type == 1)
		return 0;
	if (type == 2 || type == 3)
		return 1;
	die("%s: ELF type %u is neither an object nor a linked program", path, type);
	return 0;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

/* "puts-0x4" -> name "puts", addend -4. */
static void split_sym(const char *s, char **name, long *addend)
{
	const char *p = s + 1; /* a name never starts with its sign */
	const char *op = NULL;
	for (; *p; p++)
		if ((*p == '+' || *p == '-') && p[1] == '0' && p[2] == 'x')
			op = p;
	*addend = 0;
	if (op) {
		*addend = (long)strtoul(op + 1, NULL, 16);
		if (*op == '-')
			*addend = -*addend;
		*name = strndup(s, (size_t)(op - s));
	} else
		*name = xstrdup(s);
	if (!*name)
		die("out of memory");
}

static void end_func(void)
{
	if (nfuncs && funcs[nfuncs - 1].i1 < 0)
		funcs[nfuncs - 1].i1 = ninsns;
}

static void new_func(const char *name, int unit, const char *sec, uint64_t lo)
{
	end_func();
	GROW(funcs, nfuncs, cfuncs);
	struct func *f = &funcs[nfuncs++];
	memset(f, 0, sizeof *f);
	f->name = xstrdup(name);
	f->unit = unit;
	f->sec = xstrdup(sec);
	f->lo = lo;
	f->i0 = ninsns;
	f->i1 = -1;
	f->height = HUNKNOWN;
}

static void read_dwarf(const char *path, int unit);

static void read_input(const char *path)
{
	int kind = file_kind(path);
	const char *od = getenv("OBJDUMP");
	char *q = shell_quote(path);
	char *cmd;
	if (asprintf(&cmd, "LC_ALL=C %s -h -t -d -r -w --no-show-raw-insn %s",
		     od && *od ? od : "objdump", q) < 0)
		die("out of memory");
	free(q);
	FILE *p = popen(cmd, "r");
	if (!p)
		die("cannot run %s: %s", cmd, strerror(errno));
	char *line = NULL, *sec = xstrdup("");
	/* Sections of this unit: objcopy --rename-section can leave several
	 * sections of one name (gort's own objects: .text, .text.startup, ...
	 * all become gort_text), and objdump then labels their code with one
	 * another's symbols.  That code cannot be attributed to functions, so
	 * it is not checked (-v says so). */
	char **seen = NULL;
	char **dups = NULL;
	int ndups = 0, cdups = 0;
	int nseen = 0, cseen = 0, ambiguous = 0;
	size_t cap = 0;
	int unit = -1, infunc = 0;
	enum { NONE, SECTIONS, SYMBOLS, DISASM } mode = NONE;
	while (getline(&line, &cap, p) >= 0) {
		chomp(line);
		char *ff = strstr(line, ":     file format ");
		if (ff && line[0] != ' ' && line[0] != '\t') {
			end_func();
			*ff = 0;
			GROW(units, nunits, cunits);
			struct unit *u = &units[nunits];
			memset(u, 0, sizeof *u);
			if (kind == 2) {
				if (asprintf(&u->name, "%s(%s)", path, line) < 0)
					die("out of memory");
			} else
				u->name = xstrdup(path);
			u->linked = kind == 1;
			unit = nunits++;
			for (int i = 0; i < nfsyms; i++)
				free(fsyms[i]);
			nfsyms = 0;
			for (int i = 0; i < nseen; i++)
				free(seen[i]);
			for (int i = 0; i < ndups; i++)
				free(dups[i]);
			nseen = ndups = 0;
			infunc = 0;
			mode = NONE;
			continue;
		}
		if (unit < 0)
			continue;
		if (!strncmp(line, "Sections:", 9)) {
			mode = SECTIONS;
			continue;
		}
		if (!strncmp(line, "SYMBOL TABLE:", 13)) {
			mode = SYMBOLS;
			continue;
		}
		if (!strncmp(line, "Disassembly of section ", 23)) {
			mode = DISASM;
			free(sec);
			sec = xstrdup(line + 23);
			size_t n = strlen(sec);
			if (n && sec[n - 1] == ':')
				sec[n - 1] = 0;
			end_func();
			infunc = 0;
			ambiguous = 0;
			for (int i = 0; i < ndups; i++)
				if (!strcmp(dups[i], sec))
					ambiguous = 1;
			continue;
		}
		if (mode == SECTIONS) {
			char name[256];
			int idx;
			if (sscanf(line, " %d %255s", &idx, name) != 2)
				continue;
			if (!strcmp(name, ".note.GNU-split-stack"))
				units[unit].split = 1;
			int dup = 0;
			for (int i = 0; i < nseen; i++)
				dup |= !strcmp(seen[i], name);
			GROW(seen, nseen, cseen);
			seen[nseen++] = xstrdup(name);
			if (dup) {
				GROW(dups, ndups, cdups);
				dups[ndups++] = xstrdup(name);
			}
			continue;
		}
		if (mode == SYMBOLS) {
			/* "0000000000000000 g     F .text\t000000000000002a ns_c" */
			char *tab = strchr(line, '\t');
			if (!tab || tab - line < 25 || line[23] != 'F')
				continue;
			char *nm = strchr(tab + 1, ' ');
			if (!nm)
				continue;
			while (*nm == ' ')
				nm++;
			/* "puts@GLIBC_2.2.5" style versions and visibility notes */
			char *sp = strrchr(nm, ' ');
			if (sp)
				nm = sp + 1;
			GROW(fsyms, nfsyms, cfsyms);
			fsyms[nfsyms++] = xstrdup(nm);
			continue;
		}
		if (mode != DISASM)
			continue;
		/* "0000000000000050 <big>:" */
		if (isxdigit((unsigned char)line[0])) {
			char *lt = strchr(line, '<'), *gt = strrchr(line, '>');
			if (!lt || !gt || gt < lt)
				continue;
			*gt = 0;
			const char *name = lt + 1;
			int plt = !strncmp(sec, ".plt", 4) || !strcmp(sec, ".iplt");
			if (!infunc || plt || is_fsym(name)) {
				new_func(name, unit, sec, strtoull(line, NULL, 16));
				funcs[nfuncs - 1].ambiguous = ambiguous;
				infunc = 1;
			}
			continue;
		}
		/* "  4b:\tjmp    0 <ns_c>\t4c: R_X86_64_PLT32\tns_c-0x4" */
		char *colon = strchr(line, ':');
		if (!infunc || !colon || colon[1] != '\t')
			continue;
		char *s = line;
		while (*s == ' ')
			s++;
		if (!isxdigit((unsigned char)*s))
			continue;
		GROW(insns, ninsns, cinsns);
		struct insn *in = &insns[ninsns++];
		memset(in, 0, sizeof *in);
		in->addr = strtoull(s, NULL, 16);
		char *text = colon + 2;
		char *rel = strstr(text, "\tR_X86_64_"), *tab = strchr(text, '\t');
		if (tab)
			*tab = 0;
		in->text = xstrdup(text);
		if (!rel) {
			/* -w puts a relocation on the instruction's line as
			 * "\tOFF: R_X86_64_TYPE\tSYM": find it after the text. */
			rel = tab ? strstr(tab + 1, "R_X86_64_") : NULL;
		} else
			rel++;
		if (rel) {
			char *rs = strchr(rel, '\t');
			if (rs) {
				in->rgotpc = !strncmp(rel, "R_X86_64_GOTPC", 14) ||
					     !strncmp(rel, "R_X86_64_REX_GOTPC", 18);
				char *end = strchr(rs + 1, '\t');
				if (end)
					*end = 0;
				split_sym(rs + 1, &in->rsym, &in->raddend);
			}
		}
	}
	end_func();
	free(line);
	free(sec);
	for (int i = 0; i < nseen; i++)
		free(seen[i]);
	for (int i = 0; i < ndups; i++)
		free(dups[i]);
	free(seen);
	free(dups);
	int st = pclose(p);
	if (st != 0)
		die("%s failed (status %d)", cmd, st);
	free(cmd);
	if (kind == 1)
		read_dwarf(path, nunits - 1);
}

/* Linked programs: the compile units gcc recorded its switches for
 * (DW_AT_producer, -grecord-gcc-switches is gcc's default) and their
 * address ranges (.debug_aranges).  split: 1 built with -fsplit-stack, 0
 * built without, -1 unknown (clang records no switches by default). */
struct cu {
	uint64_t off;
	int split;
};
struct range {
	int unit;
	uint64_t lo, len;
	int split;
};
static struct range *ranges;
static int nranges, cranges;

static FILE *run_readelf(const char *what, const char *path, char **cmd)
{
	const char *re = getenv("READELF");
	char *q = shell_quote(path);
	if (asprintf(cmd, "LC_ALL=C %s --debug-dump=%s %s 2>/dev/null", re && *re ? re : "readelf",
		     what, q) < 0)
		die("out of memory");
	free(q);
	FILE *p = popen(*cmd, "r");
	if (!p)
		die("cannot run %s: %s", *cmd, strerror(errno));
	return p;
}

static void read_dwarf(const char *path, int unit)
{
	struct cu *cus = NULL;
	int ncus = 0, ccus = 0;
	char *line = NULL, *cmd;
	size_t cap = 0;
	FILE *p = run_readelf("info --dwarf-depth=1", path, &cmd);
	while (getline(&line, &cap, p) >= 0) {
		chomp(line);
		char *c = strstr(line, "Compilation Unit @ offset ");
		if (c) {
			GROW(cus, ncus, ccus);
			cus[ncus].off = strtoull(c + 26, NULL, 16);
			cus[ncus++].split = -1;
			continue;
		}
		if (ncus && strstr(line, "DW_AT_producer")) {
			if (strstr(line, "-fsplit-stack"))
				cus[ncus - 1].split = 1;
			else if (strstr(line, "GNU ") && strstr(line, " -O"))
				cus[ncus - 1].split = 0; /* gcc, switches recorded */
		}
	}
	pclose(p); /* no debug info is no error */
	free(cmd);
	p = run_readelf("aranges", path, &cmd);
	int split = -1;
	while (getline(&line, &cap, p) >= 0) {
		chomp(line);
		char *c = strstr(line, "Offset into .debug_info:");
		if (c) {
			uint64_t off = strtoull(c + 24, NULL, 16);
			split = -1;
			for (int i = 0; i < ncus; i++)
				if (cus[i].off == off)
					split = cus[i].split;
			continue;
		}
		char *end;
		const char *s = line;
		while (*s == ' ')
			s++;
		if (!isxdigit((unsigned char)*s) || split < 0)
			continue;
		uint64_t lo = strtoull(s, &end, 16);
		if (*end != ' ')
			continue;
		uint64_t len = strtoull(end, NULL, 16);
		if (!len)
			continue;
		GROW(ranges, nranges, cranges);
		ranges[nranges++] = (struct range){unit, lo, len, split};
	}
	pclose(p);
	free(cmd);
	free(line);
	free(cus);
}

/* 1, 0 or -1 (see struct cu) for the code at addr of a linked unit. */
static int dwarf_split(int unit, uint64_t addr)
{
	for (int i = 0; i < nranges; i++)
		if (ranges[i].unit == unit && addr >= ranges[i].lo && addr - ranges[i].lo < ranges[i].len)
			return ranges[i].split;
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Instructions                                                           */

struct op {
	char mn[32];     /* mnemonic without prefixes */
	char src[256];   /* first operand ("" if one or none) */
	char dst[256];   /* last operand */
	int indirect;    /* call/jmp through register or memory */
	uint64_t target; /* direct branch target */
	char tname[256]; /* objdump's <name> of the target, without +off */
};

static void decode(const char *text, struct op *o)
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

static int is_mn(const struct op *o, const char *base)
{
	size_t n = strlen(base);
	if (strncmp(o->mn, base, n))
		return 0;
	/* AT&T size suffix: pushq, subq, ... */
	return o->mn[n] == 0 || (o->mn[n] == 'q' && o->mn[n + 1] == 0);
}

static int is_jcc(const struct op *o)
{
	return o->mn[0] == 'j' && strcmp(o->mn, "jmp") && strcmp(o->mn, "jmpq");
}

static int is_call(const struct op *o) { return is_mn(o, "call"); }
static int is_jmp(const struct op *o) { return is_mn(o, "jmp"); }

static long imm(const char *s, int *ok)
{
	*ok = s[0] == '$';
	if (!*ok)
		return 0;
	return (long)(int64_t)strtoull(s + 1, NULL, 0);
}

/* Displacement of "D(%reg)" with nothing else, or *ok = 0. */
static long disp(const char *s, const char *reg, int *ok)
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
static int below(const char *text, int h, int bh)
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

/* ---------------------------------------------------------------------- */
/* Resolving call targets                                                 */

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

static void build_index(void)
{
	byname = xrealloc(NULL, (size_t)(nfuncs + 1) * sizeof *byname);
	byaddr = xrealloc(NULL, (size_t)(nfuncs + 1) * sizeof *byaddr);
	for (int i = 0; i < nfuncs; i++)
		byname[i] = byaddr[i] = i;
	qsort(byname, (size_t)nfuncs, sizeof *byname, cmp_name);
	qsort(byaddr, (size_t)nfuncs, sizeof *byaddr, cmp_addr);
}

/* The function called name: unit's own if it has one, else the first. */
static int find_by_name(const char *name, int unit)
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
		if (first < 0)
			first = byname[j];
	}
	return first;
}

/* The function of unit that starts at (exact) or contains sec+addr; of
 * several at one address (aliases), the last read. */
static int find_by_addr(int unit, const char *sec, uint64_t addr, int exact)
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

static int is_section_name(const char *n)
{
	return n[0] == '.' || !strcmp(n, "gort_text") || !strcmp(n, "gort_nosplit");
}

/* Resolves the target of a direct call or jump at instruction k of f:
 * returns a function index, -1 for a name not in the inputs (*ext set),
 * -2 for a branch inside f. */
static int resolve(const struct func *f, int k, const struct op *o, const char **ext)
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

/* ---------------------------------------------------------------------- */
/* Per-function analysis                                                  */

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

static int has_prologue_check(const struct func *f, int *rewritten)
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
static void analyse(struct func *f)
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

/* ---------------------------------------------------------------------- */
/* Classification                                                         */

/* The target of f's e-th edge if f is a split function of a linked
 * program whose prologue the linker did not rewrite and the edge is a
 * direct call or jump; else NULL. */
static struct func *unrewritten_callee(const struct func *f, int e)
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

static void classify(void)
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
		} else
			f->cls = u->split ? C_NOSPLIT : C_FOREIGN;
	}
	for (int i = 0; i < nfuncs; i++)
		analyse(&funcs[i]);
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

/* ---------------------------------------------------------------------- */
/* The check (Go's stackcheck: heights bottom-up, then the report)        */

static int edge_height(const struct edge *e);

static int check(int i)
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

static const char *fname(const struct func *f)
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

static void escapes(void)
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
static void linker_check(void)
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

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [-limit N] [-strict] [-v] file...\n"
		"  Checks chains of nosplit functions in split-stack code (objects, archives,\n"
		"  linked programs) against the nosplit window (default %d bytes).\n"
		"  -limit N  the window in bytes\n"
		"  -strict   what escapes the proof (indirect calls, calls into code without\n"
		"            checks, dynamic allocation) is an error, not a warning\n"
		"  -v        print every nosplit function's frame and chain height\n"
		"Exit: 0 clean, 1 over the limit, a cycle or a linker error, 2 usage/tool error.\n",
		progname, DEFAULT_LIMIT);
	exit(2);
}

int main(int argc, char **argv)
{
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-limit") || !strcmp(a, "--limit")) {
			if (++i >= argc)
				usage();
			char *end;
			long v = strtol(argv[i], &end, 0);
			if (*end || v <= 0 || v > INT_MAX / 4)
				die("bad -limit %s", argv[i]);
			limit = (int)v;
		} else if (!strcmp(a, "-strict"))
			strict = 1;
		else if (!strcmp(a, "-v"))
			verbose = 1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage();
		else if (a[0] == '-' && a[1])
			usage();
		else {
			read_input(a);
			nfiles++;
		}
	}
	if (!nfiles)
		usage();
	build_index();
	classify();
	int nnosplit = 0, nsplit = 0;
	for (int i = 0; i < nfuncs; i++) {
		check(i);
		nnosplit += funcs[i].cls == C_NOSPLIT;
		nsplit += funcs[i].cls == C_SPLIT;
	}
	if (verbose)
		for (int i = 0; i < nfuncs; i++) {
			struct func *f = &funcs[i];
			if (f->ambiguous)
				printf("nosplit: %s: not checked: in one of several sections named %s\n", fname(f), f->sec);
			if (f->cls != C_NOSPLIT)
				continue;
			printf("nosplit: %s: frame %d bytes, height %d bytes%s%s\n", fname(f), f->local_max,
			       f->height, f->inferred ? " (inferred)" : "", f->dynamic ? " (dynamic)" : "");
			for (int e = 0; e < f->ne; e++) {
				struct edge *ed = &f->e[e];
				printf("nosplit:     +%d %s %s\n", ed->growth, ed->tail ? "jumps to" : "calls",
				       ed->kind == T_FUNC ? funcs[ed->target].name
				       : ed->kind == T_INDIRECT ? "indirect" : ed->ename);
			}
		}
	escapes();
	linker_check();
	/* Over-limit functions; the roots among them (not reached from
	 * another over-limit function) are reported, as Go does. */
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
	if (verbose)
		printf("gort-nosplit: %d functions: %d split, %d nosplit; limit %d bytes; %d errors, %d warnings\n",
		       nfuncs, nsplit, nnosplit, limit, nerrors, nwarnings);
	return nerrors ? 1 : 0;
}
