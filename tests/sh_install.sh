#!/usr/bin/env bash
# make install into a temporary prefix, then build the example the way a user
# would: cc hello.c $(pkg-config --cflags --libs gort), and run it, both against
# the shared library and statically.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
for f in include/gort.h include/gort/malloc.h include/gort/map.h include/gort/stats.h \
         lib/libgort.a lib/libgort.so lib/libgort-malloc.so lib/pkgconfig/gort.pc; do
    [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc examples/hello.c $(pkg-config --cflags --libs gort) -o "$prefix/hello"
out=$("$prefix/hello")
grep -q "len 1000, m\[30\] = 900" <<<"$out" || { echo "unexpected output: $out"; exit 1; }
cc -static-libgcc examples/hello.c -I"$prefix/include" "$prefix/lib/libgort.a" -pthread -o "$prefix/hello-static"
"$prefix/hello-static" | grep -q "hello, gort"
echo "install ok"
