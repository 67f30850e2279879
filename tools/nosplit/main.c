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
 *
 * The parts, in the order main() runs them: objdump.c reads every input,
 * resolve.c indexes the functions, classify.c classifies them (analyse.c
 * measures each, insn.c decodes its instructions), check.c computes the
 * heights and reports.  This file holds the options and the driver.
 */
#include "nosplit.h"

const char *progname = "gort-nosplit";
int verbose, strict, limit = DEFAULT_LIMIT;
int nerrors, nwarnings;

struct unit *units;
int nunits, cunits;
struct insn *insns;
int ninsns, cinsns;
struct func *funcs;
int nfuncs, cfuncs;
struct sym *syms;
int nsyms, csyms;

void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		die("out of memory");
	return d;
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
	report_roots();
	if (verbose)
		printf("gort-nosplit: %d functions: %d split, %d nosplit; limit %d bytes; %d errors, %d warnings\n",
		       nfuncs, nsplit, nnosplit, limit, nerrors, nwarnings);
	return nerrors ? 1 : 0;
}

