/*
 * symtab.c — naming code addresses: which module, which function, how far
 * into it (Go's symtab.go, for the C world: ELF symbol tables instead of
 * Go's pclntab).
 *
 * What it does.  gort__symtab_lookup(pc) finds the module with
 * _dl_find_object (no lock; dladdr where that is missing, and for the
 * vDSO) and the function containing pc in the module's own ELF .symtab
 * (read from the file; its .dynsym if stripped), which also names static
 * and hidden functions; the whole runtime is hidden, and a
 * test's static functions are what its tracebacks are about.  File and
 * line come from dwarf.c, not from here.
 *
 * Invariants.  May run with runtime locks held, on g0, on a foreign thread
 * or in a signal handler: no malloc, no stdio, no blocking lock.  Every
 * index into the mapped file is bounds-checked, so a truncated or hostile
 * file gives no name rather than a fault.
 *
 * Ownership.  The module cache is append-only, filled under cache_busy (a
 * try-lock: a caller that finds it busy, e.g. a signal handler that
 * interrupted a lookup on its own thread, maps the file privately and
 * copies the name into a thread-local buffer).  Cached mappings are never
 * unmapped, so names returned from them stay valid for the process.
 *
 * Rejected: backtrace_symbols (mallocs, dynamic symbols only), parsing
 * /proc/self/maps per lookup (slow; dladdr already knows the module).
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h> /* program_invocation_name */
#include <link.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* One module's mapped ELF file, cached so a dump of many goroutines does
 * not map the file once per frame.  Entries are only appended, under
 * cache_busy; a caller that finds the cache busy maps privately. */
typedef struct elfmod {
    const void *fbase;       /* dli_fbase identifying the module */
    const unsigned char *map;
    size_t len;
    const Elf64_Sym *syms;
    size_t nsyms;
    const char *strs;
    size_t strslen;
    uintptr_t bias;          /* runtime address - link-time address */
} elfmod;

#define ELF_CACHE 16
static elfmod elf_cache[ELF_CACHE];
static int elf_ncache;
static _Atomic int cache_busy;

static bool main_program(const void *fbase)
{
    /* The kernel maps the executable's program headers in its first page:
     * AT_PHDR lies just above the main program's dli_fbase. */
    uintptr_t phdr = (uintptr_t)getauxval(AT_PHDR);
    return phdr >= (uintptr_t)fbase && phdr - (uintptr_t)fbase < 4096;
}

/* Map the file and find its symbol table; false if it is not usable. */
static bool elf_open(const char *path, const void *fbase, elfmod *em)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return false;
    }
    size_t len = (size_t)st.st_size;
    const unsigned char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return false;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_shoff > len || eh->e_shnum > (len - eh->e_shoff) / sizeof(Elf64_Shdr) ||
        eh->e_phoff > len || eh->e_phnum > (len - eh->e_phoff) / sizeof(Elf64_Phdr))
        goto bad;

    /* Load bias: where the lowest PT_LOAD landed versus its p_vaddr. */
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(map + eh->e_phoff);
    uintptr_t minva = UINTPTR_MAX;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < minva)
            minva = ph[i].p_vaddr;
    if (minva == UINTPTR_MAX)
        goto bad;
    minva &= ~(uintptr_t)4095;

    const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
    const Elf64_Shdr *symsh = NULL;
    for (int i = 0; i < eh->e_shnum; i++)
        if (sh[i].sh_type == SHT_SYMTAB)
            symsh = &sh[i];
    if (!symsh) /* stripped: the dynamic table is better than nothing */
        for (int i = 0; i < eh->e_shnum; i++)
            if (sh[i].sh_type == SHT_DYNSYM)
                symsh = &sh[i];
    if (!symsh || symsh->sh_link >= eh->e_shnum || symsh->sh_offset > len ||
        symsh->sh_size > len - symsh->sh_offset)
        goto bad;
    const Elf64_Shdr *strsh = &sh[symsh->sh_link];
    if (strsh->sh_offset > len || strsh->sh_size > len - strsh->sh_offset)
        goto bad;

    em->fbase = fbase;
    em->map = map;
    em->len = len;
    em->syms = (const Elf64_Sym *)(map + symsh->sh_offset);
    em->nsyms = symsh->sh_size / sizeof(Elf64_Sym);
    em->strs = (const char *)(map + strsh->sh_offset);
    em->strslen = strsh->sh_size;
    em->bias = (uintptr_t)fbase - minva;
    return true;
bad:
    munmap((void *)map, len);
    return false;
}

/* Function containing link-time address `addr`: name and start, or NULL. */
static const char *elf_lookup(const elfmod *em, uintptr_t addr, uintptr_t *start)
{
    const Elf64_Sym *best = NULL;
    for (size_t i = 0; i < em->nsyms; i++) {
        const Elf64_Sym *s = &em->syms[i];
        int type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE) ||
            s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE || s->st_name == 0 ||
            s->st_name >= em->strslen || s->st_value > addr)
            continue;
        if (s->st_size != 0) {
            if (addr - s->st_value < s->st_size) {
                /* Exact containment beats any sizeless label; a global
                 * name beats a local alias of the same code (gcc's
                 * foo.localalias in -fPIC objects), as dladdr's answer
                 * from the dynamic symbols did. */
                if (ELF64_ST_BIND(s->st_info) != STB_LOCAL) {
                    best = s;
                    break;
                }
                if (!best || best->st_size == 0)
                    best = s;
            }
        } else if (best && best->st_size != 0) {
            continue;
        } else if (type != STT_NOTYPE || em->strs[s->st_name] != '.') {
            /* sizeless symbol (hand-written asm): nearest one below */
            if (!best || s->st_value > best->st_value)
                best = s;
        }
    }
    if (!best)
        return NULL;
    /* a sizeless match far away is more misleading than no name */
    if (best->st_size == 0 && addr - best->st_value > 4096)
        return NULL;
    *start = best->st_value;
    return em->strs + best->st_name;
}

/* The file to read a module's symbols from: the executable's through
 * /proc/self/exe (its name may be relative, or gone). */
static const char *module_file(const char *path, const void *fbase)
{
    return (main_program(fbase) || !path || !*path) ? "/proc/self/exe" : path;
}

/* Look up pc in the module at fbase/path via the cache (or a private
 * mapping when another thread is using the cache). */
static const char *elf_name(const char *path, const void *fbase, uintptr_t pc,
                            uintptr_t *symaddr)
{
    const char *file = module_file(path, fbase);
    const char *name = NULL;
    uintptr_t start = 0;
    int expected = 0;
    if (atomic_compare_exchange_strong(&cache_busy, &expected, 1)) {
        elfmod *em = NULL;
        for (int i = 0; i < elf_ncache; i++)
            if (elf_cache[i].fbase == fbase)
                em = &elf_cache[i];
        if (!em && elf_ncache < ELF_CACHE && elf_open(file, fbase, &elf_cache[elf_ncache]))
            em = &elf_cache[elf_ncache++];
        if (em && (name = elf_lookup(em, pc - em->bias, &start)))
            *symaddr = start + em->bias;
        atomic_store(&cache_busy, 0);
        if (em || elf_ncache < ELF_CACHE)
            return name;
    }
    elfmod tmp;
    if (!elf_open(file, fbase, &tmp))
        return NULL;
    /* The name points into the mapping, so copy it out before unmapping. */
    static __thread char namebuf[256];
    if ((name = elf_lookup(&tmp, pc - tmp.bias, &start))) {
        snprintf(namebuf, sizeof namebuf, "%s", name);
        name = namebuf;
        *symaddr = start + tmp.bias;
    }
    munmap((void *)tmp.map, tmp.len);
    return name;
}

/* The module containing pc without the loader's lock: glibc 2.35's
 * _dl_find_object reads a lock-free copy of the loaded objects' ranges.
 * dladdr takes the loader's lock, and a fatal signal's report waited in it
 * for as long as another thread's dlopen ran (a review: 30 s behind a slow
 * constructor; for ever behind one that deadlocks).  The vDSO has no file
 * to read symbols from: dladdr names it. */
static bool find_module(uintptr_t pc, const void **fbase, const char **fname)
{
#if defined(DLFO_STRUCT_HAS_EH_DBASE)
    struct dl_find_object fo;
    if (_dl_find_object((void *)pc, &fo) == 0 && fo.dlfo_link_map && fo.dlfo_map_start) {
        const char *name = fo.dlfo_link_map->l_name;
        if (!name || strncmp(name, "linux-vdso", 10) != 0) {
            *fbase = fo.dlfo_map_start;
            *fname = name && *name ? name : program_invocation_name;
            return true;
        }
    }
#endif
    (void)pc, (void)fbase, (void)fname;
    return false;
}

bool gort__symtab_lookup(uintptr_t lookup, gort__sym *out)
{
    memset(out, 0, sizeof *out);
    out->module = "?";
    const void *fbase;
    const char *fname;
    if (find_module(lookup, &fbase, &fname)) {
        out->module = fname && *fname ? fname : "?";
        out->fbase = (uintptr_t)fbase;
        out->name = elf_name(fname, fbase, lookup, &out->start);
        return true;
    }
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (!dladdr((void *)lookup, &info) || !info.dli_fbase)
        return false;
    out->module = info.dli_fname && *info.dli_fname ? info.dli_fname : "?";
    out->fbase = (uintptr_t)info.dli_fbase;
    out->name = info.dli_sname;
    out->start = (uintptr_t)info.dli_saddr;
    if (!out->name || !out->start) {
        out->start = 0;
        out->name = elf_name(info.dli_fname, info.dli_fbase, lookup, &out->start);
    }
    return true;
}

bool gort__symtab_each_func(uintptr_t pc,
                            void (*fn)(const char *name, uintptr_t lo, uintptr_t hi,
                                       bool internal, void *arg),
                            void *arg)
{
    const void *fbase;
    const char *fname;
    if (!find_module(pc, &fbase, &fname))
        return false;
    elfmod em;
    if (!elf_open(module_file(fname, fbase), fbase, &em))
        return false;
    for (size_t i = 0; i < em.nsyms; i++) {
        const Elf64_Sym *sym = &em.syms[i];
        if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF ||
            sym->st_shndx >= SHN_LORESERVE || sym->st_name == 0 || sym->st_name >= em.strslen)
            continue;
        uintptr_t lo = sym->st_value + em.bias;
        fn(em.strs + sym->st_name, lo, lo + sym->st_size,
           ELF64_ST_BIND(sym->st_info) == STB_LOCAL ||
               ELF64_ST_VISIBILITY(sym->st_other) == STV_HIDDEN,
           arg);
    }
    munmap((void *)em.map, em.len);
    return true;
}

/* Name `pc`, looking it up at `lookup` (pc - 1 for a return address, so a
 * call at the very end of a function is not attributed to the next one). */
void gort__symbolize_at(uintptr_t pc, uintptr_t lookup, char *buf, size_t n)
{
    gort__sym s;
    if (!gort__symtab_lookup(lookup, &s))
        snprintf(buf, n, "0x%lx (?)", (unsigned long)pc);
    else if (s.name)
        snprintf(buf, n, "%s+0x%lx (%s)", s.name, (unsigned long)(pc - s.start), s.module);
    else
        snprintf(buf, n, "0x%lx (%s+0x%lx)", (unsigned long)pc, s.module,
                 (unsigned long)(pc - s.fbase));
}

void gort__symbolize(uintptr_t pc, char *buf, size_t n)
{
    gort__symbolize_at(pc, pc, buf, n);
}
