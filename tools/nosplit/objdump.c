/*
 * objdump.c — gort-nosplit's reader: every input goes through binutils'
 * `objdump -h -t -d -r -w` (sections, function symbols, disassembly with
 * relocations) and, for a linked program, `readelf --debug-dump` (which
 * compile units were built with -fsplit-stack).  It fills units, insns and
 * funcs; nothing else writes them.
 *
 * Why objdump's text rather than an ELF/DWARF library and a disassembler:
 * the tool must run wherever gcc does, and binutils always comes with it;
 * the text format has been stable for decades, and the parser below only
 * relies on the address/label/instruction/relocation line shapes.
 */
#include "nosplit.h"

/* Function symbols (type F) of the unit being read are syms[unit_syms,
 * nsyms): objdump labels every symbol, but only these start a function. */
static int unit_syms;

static const struct sym *find_fsym(const char *name)
{
	for (int i = unit_syms; i < nsyms; i++)
		if (!strcmp(syms[i].name, name))
			return &syms[i];
	return NULL;
}

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

/* Inputs that cannot be checked fail (exit 2) rather than pass empty. */
static void check_units(const char *path, int first)
{
	for (int u = first; u < nunits; u++) {
		int code = 0, named = 0;
		for (int i = 0; i < nfuncs; i++)
			if (funcs[i].unit == u && funcs[i].i1 > funcs[i].i0)
				code = 1;
		for (int i = 0; i < nsyms; i++)
			named |= syms[i].unit == u;
		if (units[u].lto && !code)
			die("%s: LTO intermediate code (gcc -flto): nothing to check until it is compiled; "
			    "check the linked program (or objects built with -ffat-lto-objects)",
			    units[u].name);
		if (units[u].linked && code && !named)
			die("%s: no symbol table (stripped?): its functions cannot be told apart; "
			    "check the program before stripping it", path);
	}
}

void read_input(const char *path)
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
	int first_unit = nunits;
	/* Sections of this unit: objcopy --rename-section can leave several
	 * sections of one name (gort's own objects: .text, .text.startup, ...
	 * all become gort_text), and objdump then labels their code with one
	 * another's symbols.  That code cannot be attributed to functions, so
	 * it is not checked (-v says so). */
	char **seen = NULL;
	char **dups = NULL;
	int ndups = 0, cdups = 0;
	char **disasm = NULL; /* duplicated names disassembled so far */
	int ndisasm = 0, cdisasm = 0;
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
			unit_syms = nsyms;
			for (int i = 0; i < nseen; i++)
				free(seen[i]);
			for (int i = 0; i < ndups; i++)
				free(dups[i]);
			for (int i = 0; i < ndisasm; i++)
				free(disasm[i]);
			nseen = ndups = ndisasm = 0;
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
			int dup = 0;
			for (int i = 0; i < ndups; i++)
				dup |= !strcmp(dups[i], sec);
			if (dup && !units[unit].linked) {
				/* An object: objdump labels each section's code with
				 * that section's own symbols (C++ inline functions:
				 * one gort_nosplit section per comdat group), so the
				 * code is attributed; only a relocation against the
				 * section symbol cannot say which of them it means
				 * (resolve.c).  Each gets a name of its own. */
				int k = 1;
				for (int i = 0; i < ndisasm; i++)
					k += !strcmp(disasm[i], sec);
				GROW(disasm, ndisasm, cdisasm);
				disasm[ndisasm++] = xstrdup(sec);
				char *u;
				if (asprintf(&u, "%s#%d", sec, k) < 0)
					die("out of memory");
				free(sec);
				sec = u;
			} else
				ambiguous = dup;
			continue;
		}
		if (mode == SECTIONS) {
			char name[256];
			int idx;
			if (sscanf(line, " %d %255s", &idx, name) != 2)
				continue;
			if (!strcmp(name, ".note.GNU-split-stack"))
				units[unit].split = 1;
			if (!strncmp(name, ".gnu.lto_", 9))
				units[unit].lto = 1;
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
			/* "0000000000000000 g     F .text\t000000000000002a ns_c":
			 * the value, 7 flag columns (binding first, w for weak),
			 * the section, the size, the name. */
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
			GROW(syms, nsyms, csyms);
			struct sym *y = &syms[nsyms++];
			y->name = xstrdup(nm);
			y->unit = unit;
			y->sec = strndup(line + 25, (size_t)(tab - line - 25));
			if (!y->sec)
				die("out of memory");
			y->addr = strtoull(line, NULL, 16);
			y->global = line[17] == 'g' || line[17] == 'u' || line[18] == 'w';
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
			const struct sym *y = find_fsym(name);
			if (!infunc || plt || y) {
				new_func(name, unit, sec, strtoull(line, NULL, 16));
				funcs[nfuncs - 1].ambiguous = ambiguous;
				funcs[nfuncs - 1].global = y && y->global;
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
	for (int i = 0; i < ndisasm; i++)
		free(disasm[i]);
	free(seen);
	free(dups);
	free(disasm);
	int st = pclose(p);
	if (st != 0)
		die("%s failed (status %d)", cmd, st);
	free(cmd);
	check_units(path, first_unit);
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
int dwarf_split(int unit, uint64_t addr)
{
	for (int i = 0; i < nranges; i++)
		if (ranges[i].unit == unit && addr >= ranges[i].lo && addr - ranges[i].lo < ranges[i].len)
			return ranges[i].split;
	return -1;
}
