#!/bin/sh
# check_mpi.sh [TRELLIS] - data-parallel training over Open MPI (SPEC section
# 10), with the float64 binary (default bin/trellis-f64):
#   - 2 ranks train to the parameters of 1 process (within 1e-10 relative);
#   - a checkpoint written under 2 ranks resumes under 1 to the same end;
#   - ranks that read different graphs are stopped with a message;
#   - a rank that fails (a missing file on it alone) stops every rank, with
#     its message and a nonzero status, leaving no output (no hang: timeout);
#   - grad under 2 ranks equals 1 process's for bptt, rtrl and eprop (both
#     engines, order 2, input gradients, a cotangent) on an odd batch.
# Skipped, saying why, without mpirun or without MPI in the binary.
set -u
bin=${1:-bin/trellis-f64}
out=tests/out/mpi
rm -rf "$out" && mkdir -p "$out"
fail() { echo "check_mpi: $*"; exit 1; }
command -v mpirun >/dev/null 2>&1 ||
    { echo "check_mpi: skipped: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"; exit 0; }
run="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && run="$run --allow-run-as-root"
export TRELLIS_THREADS=1
g=models/delayed_xor.json
train="train $g --task delayed_xor --algo eprop --batch 8 --val-batch 16 --eval-every 5 -q"
timeout 120 $run -np 2 $bin $train --iters 1 -o "$out/probe.st" >"$out/probe.log" 2>&1 ||
    { cat "$out/probe.log"; fail "mpirun -np 2 $bin train failed"; }
if grep -q "built without MPI" "$out/probe.log"; then
    echo "check_mpi: skipped: $bin was built without MPI (no mpicc at build time)"; exit 0
fi

# the same parameters for 1 and 2 ranks
$bin $train --iters 10 -o "$out/one.st" --log "$out/one.csv" || fail "1 process failed"
timeout 300 $run -np 2 $bin $train --iters 10 -o "$out/two.st" --log "$out/two.csv" ||
    fail "2 ranks failed"
close() {
    /usr/bin/python3 - "$1" "$2" <<'PY' || fail "$1 and $2 differ by more than 1e-10"
import json, struct, sys
import numpy as np
def read(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             dtype=np.float64)
            for k, v in h.items() if k != "__metadata__"}
a, b = read(sys.argv[1]), read(sys.argv[2])
assert a.keys() == b.keys()
worst = max(np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(a[k]), 1e-300) for k in a)
print(f"check_mpi: {sys.argv[1]} vs {sys.argv[2]}: largest relative difference {worst:.2e}")
sys.exit(1 if worst > 1e-10 else 0)
PY
}
close "$out/one.st" "$out/two.st"
[ "$(wc -l <"$out/two.csv")" = 11 ] || fail "the 2-rank log does not have 10 records"

# a checkpoint of 2 ranks resumed by 1 process
timeout 300 $run -np 2 $bin $train --iters 5 --checkpoint-every 5 --checkpoint "$out/half.ckpt" -o "$out/half.st" ||
    fail "2 ranks, 5 iterations, failed"
$bin $train --iters 10 --resume "$out/half.ckpt" -o "$out/resumed.st" ||
    fail "resuming the 2-rank checkpoint failed"
close "$out/one.st" "$out/resumed.st"

# ranks that read different graphs
sed 's/"dt": 1.0/"dt": 1.00/' $g >"$out/other.json"
cmp -s $g "$out/other.json" && fail "could not make a second graph"
timeout 120 $run -np 1 $bin $train --iters 2 -o "$out/x.st" : -np 1 $bin \
    train "$out/other.json" --task delayed_xor --algo eprop --batch 8 -q --iters 2 -o "$out/x.st" \
    >"$out/differ.log" 2>&1 && fail "ranks with different graphs ran"
grep -q "differ from rank 0" "$out/differ.log" || { cat "$out/differ.log"; fail "no hash message"; }

# one rank fails: its message, a nonzero status, no output, no hang
timeout 120 $run -np 1 $bin $train --iters 2 -o "$out/y.st" : -np 1 $bin $train --iters 2 \
    --params "$out/missing.st" -o "$out/y.st" >"$out/fail.log" 2>&1
rc=$?
[ $rc = 124 ] && fail "a failing rank left the others waiting (timeout)"
[ $rc = 0 ] && fail "a failing rank did not fail the run"
grep -q "missing.st" "$out/fail.log" || { cat "$out/fail.log"; fail "the failing rank's message is lost"; }
[ -e "$out/y.st" ] && fail "a failed run left its output"
# grad: 2 ranks give the gradient of 1 process, for every algorithm and
# engine, on an odd batch (5 samples: 2 on rank 0, 3 on rank 1)
$bin init $g --seed 1 -o "$out/gp.st" >/dev/null || fail "init failed"
$bin data random --graph $g --batch 5 --steps 40 --seed 2 -o "$out/gd.st" >/dev/null ||
    fail "data random failed"
grad="grad $g --params $out/gp.st --data $out/gd.st"
grad_both() { # NAME ARGS...: 1 process, then 2 ranks; the same gradient
    name=$1; shift
    $bin $grad "$@" -o "$out/g1_$name.st" >"$out/g1_$name.log" 2>&1 ||
        { cat "$out/g1_$name.log"; fail "grad $* failed"; }
    timeout 120 $run -np 2 $bin $grad "$@" -o "$out/g2_$name.st" >"$out/g2_$name.log" 2>&1 ||
        { cat "$out/g2_$name.log"; fail "grad $* under 2 ranks failed"; }
    [ "$(grep -c '^loss' "$out/g2_$name.log")" = 1 ] || fail "grad $*: not one loss line of rank 0"
    close "$out/g1_$name.st" "$out/g2_$name.st"
}
grad_both bptt --algo bptt
grad_both rtrl --algo rtrl
grad_both eprop --algo eprop
grad_both eprop_reverse --algo eprop --engine reverse
grad_both eprop_order2 --algo eprop --order 2
# input gradients (each rank its rows) and a cotangent from outside
/usr/bin/python3 - "$out/cot.st" <<'PY' || fail "could not write a cotangent"
import json, struct, sys
import numpy as np
c = np.random.default_rng(4).normal(size=(5, 40, 2))
h = json.dumps({"out": {"dtype": "F64", "shape": list(c.shape), "data_offsets": [0, c.nbytes]}})
h += " " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h.encode() + c.tobytes())
PY
grad_both bptt_dx --algo bptt --input-grads --cotangent "$out/cot.st"
grad_both eprop_dx --algo eprop --input-grads

# grad: rank 0 cannot write; fewer samples than ranks: a message, no hang
timeout 120 $run -np 2 $bin $grad --algo bptt -o "$out/nodir/g.st" >"$out/gw.log" 2>&1
rc=$?
[ $rc = 124 ] && fail "grad: a failing rank 0 left the others waiting (timeout)"
[ $rc = 0 ] && fail "grad: an output that cannot be written did not fail"
grep -q "nodir" "$out/gw.log" || { cat "$out/gw.log"; fail "grad: the write failure is not told"; }
$bin data random --graph $g --batch 1 --steps 5 -o "$out/gd1.st" >/dev/null || fail "data failed"
timeout 120 $run -np 2 $bin grad $g --params "$out/gp.st" --data "$out/gd1.st" --algo bptt \
    -o "$out/g1.st" >"$out/gb.log" 2>&1
rc=$?
[ $rc = 124 ] && fail "grad: 1 sample over 2 ranks hangs"
[ $rc = 0 ] && fail "grad: 1 sample over 2 ranks did not fail"
grep -q "1 sample for 2 mpirun ranks" "$out/gb.log" || { cat "$out/gb.log"; fail "grad: no message for B < R"; }
[ -e "$out/g1.st" ] && fail "grad: a failed run left its output"
$bin init $g --seed 2 -o "$out/gp2.st" >/dev/null || fail "init failed"
timeout 120 $run -np 1 $bin $grad --algo bptt -o "$out/g3.st" : -np 1 $bin grad $g \
    --params "$out/gp2.st" --data "$out/gd.st" --algo bptt -o "$out/g3.st" >"$out/gh.log" 2>&1 &&
    fail "grad: ranks with different parameters ran"
grep -q "differ from rank 0" "$out/gh.log" || { cat "$out/gh.log"; fail "grad: no hash message"; }
[ -e "$out/g3.st" ] && fail "grad: ranks with different files left an output"

echo "check_mpi: 2 ranks equal 1 process (train; grad by bptt, rtrl, eprop, input gradients, cotangents); checkpoints resume across rank counts; mismatches and failures stop every rank"
