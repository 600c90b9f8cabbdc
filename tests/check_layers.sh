#!/bin/sh
# check_layers.sh LAYER... - fails when a file includes a header of a layer
# above its own. The layers are given bottom first (the Makefile's LAYERS);
# a file may include headers of its own folder and of the folders before it.
# include/trellis.h, the public header, sits with api/: only api/ and tools/
# may include it, and it includes standard headers only.
set -u
rank() { # rank FOLDER -> its position in the list, or nothing
    i=0
    for l in $LAYERS; do
        i=$((i + 1))
        [ "$l" = "$1" ] && { echo $i; return; }
    done
}
LAYERS="$*"
bad=0
for dir in $LAYERS; do
    r=$(rank "$dir")
    for f in "$dir"/*.c "$dir"/*.h; do
        [ -f "$f" ] || continue
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            case "$inc" in
            */*) top=${inc%%/*} ;;
            trellis.h) top=api ;;
            *) continue ;;
            esac
            ir=$(rank "$top")
            if [ -z "$ir" ]; then
                echo "$f: includes \"$inc\", which is in no layer (layers: $LAYERS)"
                bad=1
            elif [ "$ir" -gt "$r" ]; then
                echo "$f: includes \"$inc\" of layer $top, above its own layer $dir (order: $LAYERS)"
                bad=1
            fi
        done
    done
done
# The command-line tool is a client of the public API (SPEC section 8): its
# files include trellis.h and tools/ headers only.
for f in tools/*.c tools/*.h; do
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case "$inc" in
        trellis.h | tools/*) ;;
        *)
            echo "$f: includes \"$inc\"; the tool uses the public header trellis.h only"
            bad=1
            ;;
        esac
    done
done
if grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' include/trellis.h; then
    echo "include/trellis.h: the public header includes only standard headers"
    bad=1
fi
[ $bad = 0 ] && echo "layers: every include points down ($LAYERS)"
exit $bad
