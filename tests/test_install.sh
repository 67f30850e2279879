#!/bin/sh
# test_install.sh BUILD — `make check-install`: stage `make install` into a
# temporary DESTDIR, then build examples/hello.c the way a user would, with
# pkg-config against the staged tree, linked statically and dynamically,
# and run both.  Not a test_* binary, so tests/run.sh does not pick it up.
set -eu
build=${1:-build}
make=${MAKE:-make}
cc=${CC:-cc}
tmp=$(mktemp -d /tmp/gort-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

fail() { echo "check-install: FAIL: $*" >&2; exit 1; }

"$make" --no-print-directory BUILD="$build" install DESTDIR="$tmp" PREFIX=/usr/local >/dev/null
for f in include/gort.h lib/libgort.a lib/libgort.so lib/pkgconfig/gort.pc; do
    [ -f "$tmp/usr/local/$f" ] || fail "missing /usr/local/$f"
done

# The .pc names the final prefix; the sysroot variable points it at the
# staged tree, as a cross or packaging build would.
export PKG_CONFIG_PATH="$tmp/usr/local/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp"
cflags=$(pkg-config --cflags gort) || fail "pkg-config --cflags"
libs=$(pkg-config --libs gort) || fail "pkg-config --libs"
slibs=$(pkg-config --static --libs gort | sed 's/-lgort/-l:libgort.a/') || fail "pkg-config --static"
echo "check-install: cflags: $cflags"
echo "check-install: libs:   $libs"

want="sum of squares = 385"

# shellcheck disable=SC2086
$cc examples/hello.c $cflags $slibs -o "$tmp/hello-static" || fail "static link"
out=$("$tmp/hello-static") || fail "hello-static exited $?"
echo "$out" | grep -q "$want" || fail "hello-static printed: $out"
echo "check-install: static: $out"

# shellcheck disable=SC2086
$cc examples/hello.c $cflags $libs -o "$tmp/hello-shared" || fail "shared link"
LD_LIBRARY_PATH="$tmp/usr/local/lib" ldd "$tmp/hello-shared" | grep -q "$tmp/usr/local/lib/libgort.so" ||
    fail "hello-shared does not load the staged libgort.so"
out=$(LD_LIBRARY_PATH="$tmp/usr/local/lib" "$tmp/hello-shared") || fail "hello-shared exited $?"
echo "$out" | grep -q "$want" || fail "hello-shared printed: $out"
echo "check-install: shared: $out"
echo "check-install: OK"
