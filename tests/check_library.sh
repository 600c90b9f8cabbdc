#!/bin/sh
# check_library.sh - the library as a user gets it (SPEC section 8):
#   - make install into a scratch prefix; the README's example, compiled with
#     pkg-config against the installed trellis and trellis-f64, runs;
#   - trellis.h compiles alone as C11 and as C++ with -Wall -Wextra -pedantic;
#   - the shared libraries export only trl_ names, and the two precisions'
#     names differ: a program built for float32 does not link float64.
# Run from the top folder after `make`; prints what it checks, exit 1 on failure.
set -u
out=tests/out/library
rm -rf "$out" && mkdir -p "$out"
prefix=$(pwd)/$out/prefix
fail() { echo "check_library: $*"; exit 1; }

make --no-print-directory -s install PREFIX="$prefix" >"$out/install.log" 2>&1 ||
    { cat "$out/install.log"; fail "make install PREFIX=$prefix failed"; }
for f in include/trellis.h bin/trellis bin/trellis-f64 lib/libtrellis.a lib/libtrellis-f64.a \
    lib/libtrellis.so.0 lib/libtrellis-f64.so.0 lib/libtrellis.so lib/pkgconfig/trellis.pc \
    lib/pkgconfig/trellis-f64.pc; do
    [ -e "$prefix/$f" ] || fail "make install did not install $f"
done
# DESTDIR stages the same tree under another root
make --no-print-directory -s install PREFIX=/opt/trellis DESTDIR="$(pwd)/$out/stage" \
    >"$out/stage.log" 2>&1 || fail "make install DESTDIR=... failed"
[ -e "$out/stage/opt/trellis/include/trellis.h" ] || fail "DESTDIR was not honoured"
grep -q '^prefix=/opt/trellis$' "$out/stage/opt/trellis/lib/pkgconfig/trellis.pc" ||
    fail "trellis.pc under DESTDIR does not name the final prefix"

# the example is the README's, as it stands there
awk '/^## The library/ {lib = 1} lib && /^```c$/ {on = 1; next} on && /^```$/ {exit} on' README.md \
    >"$out/example.c"
grep -q 'trl_grad(' "$out/example.c" || fail "no C example in the README's library section"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
for pc in trellis trellis-f64; do
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -pedantic -Werror "$out/example.c" -o "$out/example-$pc" \
        $(pkg-config --cflags --libs $pc) -lm || fail "the example does not build with $pc"
    LD_LIBRARY_PATH="$prefix/lib" "$out/example-$pc" models/lsnn.json >"$out/example-$pc.txt" ||
        fail "the example built with $pc failed"
    grep -q 'e-prop gradient norm' "$out/example-$pc.txt" || fail "the example printed no norm"
    # the static library too: nothing to find at run time
    # shellcheck disable=SC2046
    cc -std=c11 "$out/example.c" -o "$out/example-static-$pc" $(pkg-config --cflags $pc) \
        "$prefix/lib/lib$pc.a" $(pkg-config --libs --static $pc | sed "s/-l$pc//") -lm ||
        fail "the example does not link $pc statically"
    "$out/example-static-$pc" models/lsnn.json >/dev/null || fail "the static $pc example failed"
done
echo "library: the README example builds with pkg-config (trellis, trellis-f64; shared, static) and runs"

cc -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c include/trellis.h ||
    fail "trellis.h does not compile alone as C11"
printf '#include "trellis.h"\nint main() { trl_graph *g = nullptr; trl_graph_free(g); return 0; }\n' \
    >"$out/cxx.cpp"
c++ -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude "$out/cxx.cpp" -Llib -ltrellis \
    -o "$out/cxx" || fail "a C++ file including trellis.h does not build"
LD_LIBRARY_PATH=lib "$out/cxx" || fail "the C++ program failed"
echo "library: trellis.h compiles alone as C11 and C++, a C++ program links it"

for so in lib/libtrellis.so.0 lib/libtrellis-f64.so.0; do
    others=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^trl_')
    [ -z "$others" ] || fail "$so exports names without trl_: $others"
done
nm -D --defined-only lib/libtrellis.so.0 | awk '{print $3}' | sort >"$out/f32.names"
nm -D --defined-only lib/libtrellis-f64.so.0 | awk '{print $3}' | sort >"$out/f64.names"
[ -z "$(comm -12 "$out/f32.names" "$out/f64.names")" ] || fail "f32 and f64 export a name in common"
grep -q '^trl_grad_f32$' "$out/f32.names" && grep -q '^trl_grad_f64$' "$out/f64.names" ||
    fail "the precision suffixes are missing"
others=$(nm -g --defined-only lib/libtrellis.a | awk 'NF == 3 {print $3}' | grep -v '^trl_')
[ -z "$others" ] || fail "libtrellis.a defines global names without trl_: $others"
if cc -std=c11 "$out/example.c" -Iinclude -Llib -ltrellis-f64 -lm -o "$out/mixed" 2>/dev/null; then
    fail "a float32 program linked against libtrellis-f64"
fi
echo "library: only trl_ names exported ($(wc -l <"$out/f32.names") per precision), f32 and f64 disjoint"
