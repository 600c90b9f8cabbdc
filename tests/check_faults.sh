#!/bin/sh
# check_faults.sh - the command-line tool under faults (README, "Errors and
# safety"; make check runs it): outputs to a full disk, into a folder that
# cannot be written and onto an input; processes writing into one folder at
# once; a NaN during training; SIGINT; and
# SIGKILL at random moments of `train --checkpoint-every 1` (up to 20 times,
# each after a twentieth of the training at most, timed on this machine), after
# which --resume must reach the same final bytes as an uninterrupted run.
#
#   tests/check_faults.sh [TRELLIS_BIN]     (default bin/trellis-f64)
set -u
bin=${1:-bin/trellis-f64}
top=$(cd "$(dirname "$0")/.." && pwd)
case $bin in /*) ;; *) bin=$top/$bin ;; esac
work=$(mktemp -d /tmp/trellis-faults.XXXXXX)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cd "$work" || exit 1
graph=$top/models/sine.json
failures=0
fail() {
    echo "check_faults: FAIL: $*"
    failures=$((failures + 1))
}
# expect STATUS TEXT CMD...: the status, TEXT in stderr
expect() {
    want=$1 text=$2
    shift 2
    "$@" >out.txt 2>err.txt
    got=$?
    [ "$got" -eq "$want" ] || fail "$* -> status $got, expected $want ($(cat err.txt))"
    grep -q -- "$text" err.txt || fail "$* -> stderr lacks \"$text\": $(cat err.txt)"
}
no_temps() {
    left=$(find "$work" -name '*.tmp*' | head -1)
    [ -z "$left" ] || fail "$1: a temporary file was left ($left)"
}

"$bin" init "$graph" --seed 1 -o p.safetensors >/dev/null 2>&1 || fail "init"
"$bin" data sine --graph "$graph" --batch 2 -o d.safetensors >/dev/null 2>&1 || fail "data"
cp p.safetensors p.orig

# a full disk: a clear error, status 1, the device still a device
expect 1 "No space left on device" "$bin" init "$graph" --seed 1 -o /dev/full
[ -c /dev/full ] || fail "/dev/full was replaced"
expect 1 "No space left on device" "$bin" run "$graph" --params p.safetensors \
    --data d.safetensors -o /dev/full

# a folder that cannot be written (root writes anyway: then /proc, which refuses files)
mkdir ro && echo old >ro/out.safetensors && chmod 555 ro
dest=ro/out.safetensors
if touch ro/probe 2>/dev/null; then
    rm -f ro/probe
    dest=/proc/trellis-faults-$$.safetensors
fi
expect 1 "cannot create temporary file" "$bin" init "$graph" --seed 1 -o "$dest"
[ "$(cat ro/out.safetensors)" = old ] || fail "the old output in a read-only folder changed"
no_temps "read-only folder"

# -o equal to an input: refused before anything runs, the input untouched
expect 1 "the output is also an input" "$bin" run "$graph" --params p.safetensors \
    --data d.safetensors -o p.safetensors
expect 1 "the output is also an input" "$bin" grad "$graph" --params p.safetensors \
    --data d.safetensors --algo bptt -o ./d.safetensors
cmp -s p.safetensors p.orig || fail "-o equal to the parameters changed them"
no_temps "-o equal to an input"

# several processes writing different outputs into one folder at once give
# the bytes of one process alone
for a in bptt eprop rtrl; do
    "$bin" grad "$graph" --params p.safetensors --data d.safetensors --algo $a \
        -o serial-$a.safetensors >/dev/null 2>&1 || fail "grad $a"
done
for a in bptt eprop rtrl bptt eprop rtrl; do
    "$bin" grad "$graph" --params p.safetensors --data d.safetensors --algo $a \
        -o par-$a-$$-$(date +%N).safetensors >/dev/null 2>&1 &
done
wait
for f in par-*.safetensors; do
    a=${f#par-}
    a=${a%%-*}
    cmp -s "$f" serial-$a.safetensors || fail "concurrent grad $a: other bytes than alone"
done
[ "$(ls par-*.safetensors | wc -l)" -eq 6 ] || fail "concurrent grads: not 6 outputs"
no_temps "concurrent writers"

# NaN during training: the iteration and tensor named, the last good checkpoint written
expect 1 "iteration 2: the gradient of lif.w.in is not finite" "$bin" train "$graph" \
    --task sine --algo bptt --iters 5 --batch 2 --lr 1e300 --optimizer sgd \
    --checkpoint nan.ckpt -o nan.safetensors --quiet
grep -q "last good state (before iteration 2) is in the checkpoint nan.ckpt" err.txt ||
    fail "NaN: no checkpoint message: $(cat err.txt)"
[ -f nan.ckpt ] && [ ! -f nan.safetensors ] || fail "NaN: checkpoint missing or output written"
expect 1 "iteration 2" "$bin" train "$graph" --task sine --algo bptt --iters 5 --batch 2 \
    --lr 1e300 --optimizer sgd --resume nan.ckpt -o nan.safetensors --quiet

# the reference: an uninterrupted run (the trellis process itself is put in
# the background below, not a shell function, so that signals reach it)
iters=60
args="train $graph --task sine --algo eprop --iters $iters --batch 4 --seed 3 --checkpoint-every 1 --quiet"
# Signals are sent at moments relative to how long this machine takes (no
# fixed timing): t1, a run of one iteration (start-up, the first checkpoint),
# and dur, the whole reference run, both in ms.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
start=$(now_ms)
# shellcheck disable=SC2086
"$bin" train "$graph" --task sine --algo eprop --iters 1 --batch 4 --seed 3 --checkpoint-every 1 \
    --quiet --checkpoint one.ckpt -o one.safetensors >/dev/null 2>&1 || fail "a run of one iteration"
t1=$(($(now_ms) - start))
start=$(now_ms)
# shellcheck disable=SC2086
"$bin" $args --checkpoint ref.ckpt -o ref.safetensors >/dev/null 2>&1 || fail "the reference run"
dur=$(($(now_ms) - start))
[ $dur -gt $t1 ] || dur=$((t1 + 1))

# SIGINT: a checkpoint and status 130, then --resume finishes with the same bytes
# shellcheck disable=SC2086
"$bin" $args --checkpoint int.ckpt -o int.safetensors >/dev/null 2>int.err &
pid=$!
sleep "$(awk -v ms=$((t1 + (dur - t1) / 2)) 'BEGIN { print ms / 1000 }')" # half way
kill -INT $pid
wait $pid
st=$?
if [ $st -eq 130 ]; then
    grep -q "interrupted: checkpoint written to int.ckpt" int.err || fail "SIGINT message"
    # shellcheck disable=SC2086
    "$bin" $args --resume int.ckpt --checkpoint int.ckpt -o int.safetensors >/dev/null 2>&1 ||
        fail "resume after SIGINT"
    cmp -s int.safetensors ref.safetensors || fail "SIGINT + resume: other bytes than the reference"
else
    fail "SIGINT: status $st, expected 130 ($(cat int.err))"
fi

# SIGKILL at random moments, 20 times; each restart resumes the checkpoint it
# finds, which must always be a whole one (the previous or the new)
seed=${FAULT_SEED:-$$}
kills=0
for k in $(seq 1 20); do
    resume=
    [ -f kill.ckpt ] && resume="--resume kill.ckpt"
    # shellcheck disable=SC2086
    "$bin" $args $resume --checkpoint kill.ckpt -o kill.safetensors >/dev/null 2>kill.err &
    pid=$!
    # after the start-up and up to a twentieth of the training: before, during
    # and between checkpoint writes; a run finishes only after several kills
    ms=$(awk -v s="$seed" -v k="$k" -v t1="$t1" -v span=$(((dur - t1) / 20)) \
        'BEGIN { srand(s * 100 + k); print t1 + int(rand() * span) }')
    sleep "$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')"
    kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    [ -f kill.safetensors ] && break # it finished before the kill
    # shellcheck disable=SC2086
    if [ -f kill.ckpt ] && ! "$bin" train "$graph" --task sine --algo eprop --iters 1 --batch 4 \
        --seed 3 --resume kill.ckpt -o /dev/null --quiet >/dev/null 2>resume.err; then
        fail "kill $k: a torn checkpoint: $(cat resume.err)"
    fi
done
# how far the 20 runs got: the checkpoint's next iteration
reached=$(head -c 4096 kill.ckpt 2>/dev/null | grep -a -o '"next_iteration":"[0-9]*"' | tr -dc 0-9)
[ "${reached:-0}" -gt 0 ] || fail "no checkpoint survived the kills: nothing was resumed"
resume=
[ -f kill.ckpt ] && resume="--resume kill.ckpt"
# shellcheck disable=SC2086
[ -f kill.safetensors ] || "$bin" $args $resume --checkpoint kill.ckpt -o kill.safetensors \
    >/dev/null 2>kill.err || fail "the last resume: $(cat kill.err)"
cmp -s kill.safetensors ref.safetensors || fail "SIGKILL + resume: other bytes than the reference"
[ $kills -ge 5 ] || fail "only $kills of the runs were killed (each run should do a twentieth at most)"

if [ $failures -ne 0 ]; then
    echo "check_faults: $failures failures"
    exit 1
fi
echo "check_faults: full disk, read-only folder, -o onto an input, concurrent writers, NaN, SIGINT and $kills SIGKILLs (resumed from iteration ${reached:-0} of $iters): ok"
