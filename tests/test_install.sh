#!/bin/sh
# test_install.sh BUILD — `make check-install`: stage `make install` into a
# temporary DESTDIR, then check what a user of the installed tree relies on:
#   - the shared library's SONAME (libgort.so.$ABI) and its two symlinks;
#   - examples/hello.c built the way README says, through pkg-config:
#     statically (gort-static.pc) and dynamically (gort.pc), and run;
#   - the static binary needs no libgort.so and exports the libc wrappers;
#     the shared one loads the staged library through the rpath README recommends;
#   - errno through gort.h works in both (tests/test_install.sh's errno.c);
#   - the installed gort-nosplit rejects the corpus's nosplit recursion;
#   - gort.h compiles warning-free as C99/C11 -pedantic and as C++98/11/17, with
#     every compiler available (gcc, clang, g++, clang++).
# Not a test_* binary, so tests/run.sh does not pick it up.
set -eu
build=${1:-build}
make=${MAKE:-make}
cc=${CC:-cc}
version=${VERSION:?}
soname=${SONAME:?}
tmp=$(mktemp -d /tmp/gort-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() { echo "check-install: FAIL: $*" >&2; exit 1; }

"$make" --no-print-directory BUILD="$build" install DESTDIR="$tmp" PREFIX=/usr/local >/dev/null
lib=$tmp/usr/local/lib
for f in include/gort.h lib/libgort.a lib/libgort.so.$version lib/pkgconfig/gort.pc \
         lib/pkgconfig/gort-static.pc bin/gort-nosplit; do
    [ -f "$tmp/usr/local/$f" ] || fail "missing /usr/local/$f"
done
[ "$(readlink "$lib/$soname")" = "libgort.so.$version" ] || fail "$soname is not a link to libgort.so.$version"
[ "$(readlink "$lib/libgort.so")" = "libgort.so.$version" ] || fail "libgort.so is not a link to libgort.so.$version"
got=$(objdump -p "$lib/libgort.so.$version" | awk '$1 == "SONAME" {print $2}')
[ "$got" = "$soname" ] || fail "SONAME is '$got', want $soname"
echo "check-install: SONAME $got, links $soname libgort.so -> libgort.so.$version"

# The .pc names the final prefix; the sysroot variable points it at the
# staged tree, as a cross or packaging build would.
export PKG_CONFIG_PATH="$lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp"
cflags=$(pkg-config --cflags gort) || fail "pkg-config --cflags"
libs=$(pkg-config --libs gort) || fail "pkg-config --libs"
slibs=$(pkg-config --libs gort-static) || fail "pkg-config --libs gort-static"
libdir=$(pkg-config --variable=libdir gort) || fail "pkg-config --variable=libdir"
case $libdir in "$tmp"/*) ;; *) libdir=$tmp$libdir ;; esac  # pkg-config versions differ on sysroot here
echo "check-install: cflags: $cflags"
echo "check-install: libs:   $libs"
echo "check-install: static: $slibs"

want="sum of squares = 385"

# shellcheck disable=SC2086
$cc examples/hello.c $cflags $slibs -o "$tmp/hello-static" || fail "static link"
if readelf -d "$tmp/hello-static" | grep -q 'libgort'; then
    fail "hello-static needs a shared libgort"
fi
# The libc wrappers are exported, so shared libraries' calls reach them.
for f in read usleep pthread_cond_wait; do
    nm -D --defined-only "$tmp/hello-static" | grep -qw "$f" ||
        fail "hello-static does not export the $f wrapper"
done
out=$("$tmp/hello-static") || fail "hello-static exited $?"
echo "$out" | grep -q "$want" || fail "hello-static printed: $out"
echo "check-install: static: $out"

# shellcheck disable=SC2086
$cc examples/hello.c $cflags $libs -Wl,-rpath,"$libdir" -o "$tmp/hello-shared" || fail "shared link"
readelf -d "$tmp/hello-shared" | grep -q "NEEDED.*\[$soname\]" || fail "hello-shared does not need $soname"
ldd "$tmp/hello-shared" | grep -q "$soname => $lib/$soname" || { ldd "$tmp/hello-shared"; fail "hello-shared does not load the staged $soname"; }
out=$("$tmp/hello-shared") || fail "hello-shared exited $?"
echo "$out" | grep -q "$want" || fail "hello-shared printed: $out"
echo "check-install: shared: $out"

# errno in a program that includes gort.h, linked both ways: gort.h's
# inline errno reads gort_errno_tpoff, which a dynamic link copies into
# the executable; the runtime's own reads must see it set too (they did
# not, and its errno writes hit the thread pointer: a crash at the first
# failing wrapped call).
cat > "$tmp/errno.c" <<'EOT'
#include <gort.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
static int bad;
static gort_waitgroup wg = GORT_WAITGROUP_INIT;
static void other(void *a)
{
    int mine = 5000 + (int)(long)a;
    for (int i = 0; i < 1000; i++) {
        errno = mine;
        gort_yield(); /* each goroutine's own errno, across switches */
        if (errno != mine)
            bad = 4;
        if (close(-1) != -1 || errno != EBADF)
            bad = 5;
    }
    gort_wg_done(&wg);
}
static void body(void *a)
{
    (void)a;
    errno = 0;
    if (close(-1) != -1 || errno != EBADF)
        bad = 1;
    gort_wg_add(&wg, 4);
    for (long i = 0; i < 4; i++)
        gort_go(other, (void *)i);
    errno = 1234;
    gort_wg_wait(&wg);
    if (errno != 1234)
        bad = 2;
}
int main(void)
{
    if (gort_main(body, NULL) != 0)
        return 3;
    printf("errno: %s\n", bad ? "wrong" : "ok");
    return bad;
}
EOT
# shellcheck disable=SC2086
$cc "$tmp/errno.c" $cflags $slibs -o "$tmp/errno-static" || fail "static link of errno.c"
# shellcheck disable=SC2086
$cc "$tmp/errno.c" $cflags $libs -Wl,-rpath,"$libdir" -o "$tmp/errno-shared" || fail "shared link of errno.c"
for kind in static shared; do
    out=$(GORTMAXPROCS=1 "$tmp/errno-$kind") || fail "errno-$kind exited $? ($out)"
    [ "$out" = "errno: ok" ] || fail "errno-$kind printed: $out"
done
echo "check-install: errno through gort.h, static and shared: ok"

# The checker, installed: an infinitely recursive nosplit function fails.
$cc -O2 -fsplit-stack -c tests/nosplit/recursion.c -o "$tmp/recursion.o" || fail "compile recursion.c"
rc=0
"$tmp/usr/local/bin/gort-nosplit" "$tmp/recursion.o" > "$tmp/nosplit.out" || rc=$?
[ $rc -eq 1 ] && grep -q "infinite cycle" "$tmp/nosplit.out" || fail "gort-nosplit exited $rc: $(cat "$tmp/nosplit.out")"
echo "check-install: gort-nosplit: $(sed -n 1p "$tmp/nosplit.out")"

# The public header, as users compile it, GORT_NOSPLIT on a definition
# included (g++ refuses no_split_stack there: gort.h leaves it out).
printf '#include <gort.h>\nGORT_NOSPLIT static int ns(int x) { return x + 1; }\nint main(void) { return gort_num_goroutine() < ns(-1); }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cc"
checked=0
for c in gcc clang; do
    command -v $c >/dev/null 2>&1 || continue
    for std in c99 c11; do
        # shellcheck disable=SC2086
        $c -std=$std -pedantic -Wall -Wextra -Werror $cflags -c "$tmp/h.c" -o "$tmp/h.o" ||
            fail "gort.h under $c -std=$std -pedantic"
        checked=$((checked + 1))
    done
done
for cxx in g++ clang++; do
    command -v $cxx >/dev/null 2>&1 || continue
    # C++98 and 11: the C++ section (terminate handler) must not need more.
    for std in c++98 c++11 c++17; do
        # shellcheck disable=SC2086
        $cxx -std=$std -pedantic -Wall -Wextra -Werror $cflags -c "$tmp/h.cc" -o "$tmp/h.o" ||
            fail "gort.h under $cxx -std=$std -pedantic"
        checked=$((checked + 1))
    done
done
[ $checked -ge 3 ] || fail "only $checked compiler/standard pairs available for the header check"
echo "check-install: gort.h clean in $checked compiler/standard pairs"
echo "check-install: OK"
