#!/usr/bin/env bash
# make install into a temporary prefix: every header of include/ (the public
# ones and gort/internal/, which the inline paths need) is installed, and each
# public header compiles on its own against the installed tree. Then build the
# example the way a user would: cc hello.c $(pkg-config --cflags --libs gort),
# and run it, both against the shared library and statically.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
for f in include/gort.h include/gort/*.h include/gort/internal/*.h include/gort/internal/map_inline.h \
         lib/libgort.a lib/libgort.so lib/libgort-malloc.so lib/pkgconfig/gort.pc; do
    [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
# each public header on its own, with only the installed tree on the include path
for h in "$prefix"/include/gort.h "$prefix"/include/gort/*.h; do
    printf '#include <%s>\nint gort_install_check_;\n' "${h#"$prefix"/include/}" >"$prefix/one.c"
    cc -std=c11 -Wall -Wextra -Werror -I"$prefix/include" -c "$prefix/one.c" -o "$prefix/one.o" ||
        { echo "does not compile on its own: $h"; exit 1; }
done
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc examples/hello.c $(pkg-config --cflags --libs gort) -o "$prefix/hello"
out=$("$prefix/hello")
grep -q "len 1000, m\[30\] = 900" <<<"$out" || { echo "unexpected output: $out"; exit 1; }
cc -static-libgcc examples/hello.c -I"$prefix/include" "$prefix/lib/libgort.a" -pthread -o "$prefix/hello-static"
"$prefix/hello-static" | grep -q "hello, gort"
# the typed map layer inlines gort/internal/map_inline.h into the program
cat >"$prefix/typed.c" <<'EOF_C'
#include <gort.h>
#include <stdio.h>
GORT_MAP_DEFINE_U64(imap, uint64_t, uint64_t)
GORT_MAP_DEFINE_STR(smap, int)
int main(void) {
    imap *m = imap_new(0);
    smap *s = smap_new(0);
    for (uint64_t i = 0; i < 1000; i++) imap_put(m, i, i * i);
    smap_put(s, gort_str("go"), 1);
    imap_delete(m, 3);
    uint64_t *v = imap_get(m, 30);
    printf("%zu %llu %d\n", imap_len(m), v ? (unsigned long long)*v : 0ull, *smap_get(s, gort_str("go")));
    imap_free(m);
    smap_free(s);
    return 0;
}
EOF_C
cc -std=c11 -O2 -Wall -Wextra -Werror "$prefix/typed.c" $(pkg-config --cflags gort) "$prefix/lib/libgort.a" -pthread -ldl -lm \
    -o "$prefix/typed"
out=$("$prefix/typed")
[ "$out" = "999 900 1" ] || { echo "typed map: unexpected output: $out"; exit 1; }
echo "install ok"
