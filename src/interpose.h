/*
 * interpose.h — what the files that wrap libc entry points share
 * (interpose_linux.c and its siblings): finding libc's own function, and
 * the system-call bracket around a call into it.
 *
 * A wrapper has libc's name and signature and is exported (GORT_API); it
 * calls REAL(name), libc's function found with dlsym(RTLD_NEXT), resolved
 * at load time by its file's constructor (a first use may be inside a
 * signal handler, where dlsym is not safe).  A wrapper file other than
 * interpose_linux.c must be reachable from it (its constructor calls the
 * file's init), so that linking interpose_linux.o from libgort.a, which
 * gort-static.pc forces, pulls every wrapper in; the Makefile lists the
 * exported names of every interpose*.o for gort-static.pc.
 */
#ifndef GORT_INTERPOSE_H
#define GORT_INTERPOSE_H

/* dlsym(RTLD_NEXT, name) into *slot, or a fatal error. */
void *gort__interpose_resolve(const char *name, void **slot);

/* typedef name##_fn and the slot real_##name, from an X-macro row
 * (ret, name, surely blocks?, (parameters), (arguments)). */
#define DECLARE(ret, name, block, params, args) \
    typedef ret name##_fn params;               \
    static name##_fn *real_##name;

#define REAL(name) \
    (__atomic_load_n(&real_##name, __ATOMIC_RELAXED) \
         ? real_##name : (name##_fn *)gort__interpose_resolve(#name, (void **)&real_##name))

/* The bracket: entered unless the caller is the runtime, not a goroutine,
 * off its stack, or must keep its P (gort__entersyscall_from decides). */
#define ENTER(block) bool in_ = gort__entersyscall_from((uintptr_t)__builtin_return_address(0), (block))
#define LEAVE() do { if (in_) gort__exitsyscall(); } while (0) /* keeps errno */

#endif
