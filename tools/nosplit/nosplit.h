/*
 * nosplit.h — what the parts of gort-nosplit share: the model of the
 * inputs (units, instructions, functions and their call edges), the
 * options, and each part's entry points.  main.c says what the tool
 * proves and how; each .c file says what its part does.
 *
 * Ownership: every array here is filled once by objdump.c while the
 * inputs are read, and only ever grown there; the later passes (index,
 * analysis, classification, check) run one after another on one thread and
 * write only the fields of struct func marked as theirs.
 */
#ifndef GORT_NOSPLIT_H
#define GORT_NOSPLIT_H

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

/* Options and counts (main.c). */
extern const char *progname;
extern int verbose, strict, limit;
extern int nerrors, nwarnings;

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

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
	int lto;           /* object with gcc's LTO sections (.gnu.lto_*) */
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
	int ambiguous;     /* linked: in a second section of the same name (objdump.c) */
	int global;        /* global or weak symbol: other units may call it by name */
	int dynamic;   /* %rsp changed by an unknown amount, or alloca call */
	int local_max; /* max height within the function */
	struct edge *e;
	int ne, ce;
	int height, state; /* check(): state 0 new, 1 on stack, 2 done */
	int reported;      /* graph node for reporting */
};

/* A function symbol as the symbol table lists it: objdump labels the
 * code with one name per address, so an alias (a second name for the
 * same code, __attribute__((alias))) is found through these. */
struct sym {
	char *name;
	int unit;
	char *sec;
	uint64_t addr;
	int global;
};

/* The inputs, in reading order (defined in main.c, filled by objdump.c). */
extern struct sym *syms;
extern int nsyms, csyms;
extern struct unit *units;
extern int nunits, cunits;
extern struct insn *insns;
extern int ninsns, cinsns;
extern struct func *funcs;
extern int nfuncs, cfuncs;

/* One decoded instruction (insn.c). */
struct op {
	char mn[32];     /* mnemonic without prefixes */
	char src[256];   /* first operand ("" if one or none) */
	char dst[256];   /* last operand */
	int indirect;    /* call/jmp through register or memory */
	uint64_t target; /* direct branch target */
	char tname[256]; /* objdump's <name> of the target, without +off */
};

/* objdump.c: read one input (object, archive or linked program). */
void read_input(const char *path);
/* 1 built with -fsplit-stack, 0 without, -1 unknown (linked units). */
int dwarf_split(int unit, uint64_t addr);

/* insn.c: instruction text to operands, and questions about them. */
void decode(const char *text, struct op *o);
int is_mn(const struct op *o, const char *base);
int is_jcc(const struct op *o);
int is_call(const struct op *o);
int is_jmp(const struct op *o);
long imm(const char *s, int *ok);
long disp(const char *s, const char *reg, int *ok);
int below(const char *text, int h, int bh);

/* resolve.c: the indexes over funcs, and call targets. */
void build_index(void);
int find_by_name(const char *name, int unit);
int find_by_addr(int unit, const char *sec, uint64_t addr, int exact);
int resolve(const struct func *f, int k, const struct op *o, const char **ext);

/* analyse.c: a function's stack heights and call edges. */
int has_prologue_check(const struct func *f, int *rewritten);
void analyse(struct func *f);

/* classify.c: split, nosplit, code without checks. */
int skip_name(const char *n);
struct func *unrewritten_callee(const struct func *f, int e);
void classify(void);

/* check.c: heights, the report, escapes, the linker check. */
int check(int i);
const char *fname(const struct func *f);
void escapes(void);
void linker_check(void);
void report_roots(void);

#endif
