#!/bin/sh
# check_library.sh - the library as a user gets it (SPEC section 8):
#   - make install into a scratch prefix; the README's example, compiled with
#     pkg-config against the installed trellis and trellis-f64, runs;
#   - trellis.h compiles alone as C11 and as C++ with -Wall -Wextra -pedantic;
#   - the shared libraries export only trl_ names, and the two precisions'
#     names differ: a program built for float32 does not link float64.
#   - libhdf5 is linked by the module libtrellis-hdf5.so.0 only, which the
#     installed tool, libtrellis.so and libtrellis.a programs find and load
#     on their first SHD call (and without which the reader says so).
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

# libhdf5 (and its ~35 libraries) only in the module, loaded on the first SHD
# call: found beside the library (dladdr), in ../lib beside the program, or
# on the loader's path; it exports its one trl_ function. Without libhdf5
# (as the Makefile sees it) there is no module.
if ! pkg-config --exists hdf5; then
    echo "library: no libhdf5 (pkg-config hdf5): the HDF5 module is not checked"
    exit 0
fi
unset TRELLIS_HDF5_MODULE
[ -e "$prefix/lib/libtrellis-hdf5.so.0" ] || fail "make install did not install lib/libtrellis-hdf5.so.0"
for f in lib/libtrellis.so.0 lib/libtrellis-f64.so.0 bin/trellis bin/trellis-f64; do
    ! readelf -d "$prefix/$f" | grep -i 'NEEDED.*hdf5' || fail "$f links libhdf5"
done
! grep -q '^Requires.*hdf5' "$prefix/lib/pkgconfig/trellis.pc" || fail "trellis.pc requires hdf5"
! pkg-config --static --libs trellis | grep -q -- -lhdf5 || fail "trellis.pc links libhdf5"
[ "$(nm -D --defined-only "$prefix/lib/libtrellis-hdf5.so.0" | awk '{print $3}')" = \
    trl_hdf5_module_v1 ] || fail "libtrellis-hdf5.so.0 exports other names than trl_hdf5_module_v1"
/usr/bin/python3 tools/shd_synth.py "$out/shd.h5" --samples 4 --classes 3 >/dev/null ||
    fail "tools/shd_synth.py failed (python3-h5py installed?)"
# loaded_from LOG PATH: the loader's log (LD_DEBUG=files) shows the module
# dlopen-ed as PATH (a file found by trellis, or the soname)
loaded_from() { grep -q "file=$2 .*dynamically loaded by" "$1"; }
LD_DEBUG=files "$prefix/bin/trellis" data shd "$out/shd.h5" --dt 10 --steps 20 \
    -o "$out/shd-cli.safetensors" >/dev/null 2>"$out/shd-cli.txt" &&
    loaded_from "$out/shd-cli.txt" "$prefix/bin/../lib/libtrellis-hdf5.so.0" ||
    fail "the installed trellis does not find the HDF5 module in ../lib"
printf '%s\n' '#include <stdio.h>' '#include "trellis.h"' 'int main(int argc, char **argv) {' \
    '    trl_error *e = trl_error_new();' '    trl_shd_opts o = {.dt_ms = 10, .steps = 20};' \
    '    trl_status s = trl_shd_convert(argv[1], &o, argv[2], NULL, e);' \
    '    if (s) fprintf(stderr, "%s\n", trl_error_message(e));' \
    '    trl_error_free(e);' '    return argc == 3 && s == TRL_OK ? 0 : 1;' '}' >"$out/shd.c"
# shellcheck disable=SC2046
cc -std=c11 "$out/shd.c" -o "$out/shd-shared" $(pkg-config --cflags --libs trellis) ||
    fail "the SHD example does not build"
LD_DEBUG=files LD_LIBRARY_PATH="$prefix/lib" "$out/shd-shared" "$out/shd.h5" \
    "$out/shd-shared.safetensors" 2>"$out/shd-shared.txt" &&
    loaded_from "$out/shd-shared.txt" "$prefix/lib/libtrellis-hdf5.so.0" ||
    fail "libtrellis.so does not find the HDF5 module beside it"
# shellcheck disable=SC2046
cc -std=c11 "$out/shd.c" -o "$out/shd-static" $(pkg-config --cflags trellis) \
    "$prefix/lib/libtrellis.a" $(pkg-config --libs --static trellis | sed "s/-ltrellis//") -lm ||
    fail "the SHD example does not link libtrellis.a"
LD_DEBUG=files LD_LIBRARY_PATH="$prefix/lib" "$out/shd-static" "$out/shd.h5" \
    "$out/shd-static.safetensors" 2>"$out/shd-static.txt" &&
    loaded_from "$out/shd-static.txt" libtrellis-hdf5.so.0 ||
    fail "a program with libtrellis.a does not find the HDF5 module on the loader's path"
TRELLIS_HDF5_MODULE=/nonexistent "$out/shd-static" "$out/shd.h5" "$out/shd-none.safetensors" \
    2>"$out/shd-none.txt" && fail "the SHD reader worked without its module"
grep -q 'needs the module libtrellis-hdf5.so.0' "$out/shd-none.txt" ||
    fail "no clear message without the HDF5 module: $(cat "$out/shd-none.txt")"
echo "library: libhdf5 only in libtrellis-hdf5.so.0, found from bin/, beside libtrellis.so and on the loader's path"
