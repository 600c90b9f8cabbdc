#!/bin/sh
# train_tasks.sh [OUTDIR] - train every built-in task with bptt and eprop
# (and rtrl where its traces fit: delayed_xor), then print a markdown table of
# the final validation score, iterations and wall time. Logs and parameters
# go to OUTDIR (default /tmp/trellis-train-tasks). Seeded: reruns give the
# same numbers, up to the wall times.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/bin/trellis"
out=${1:-/tmp/trellis-train-tasks}
mkdir -p "$out"
[ -x "$bin" ] || (cd "$here" && make -s bin/trellis)

# task iterations batch lr algos
while read -r task iters batch lr algos; do
    for algo in $algos; do
        echo "== $task $algo" >&2
        "$bin" train "$here/models/$task.json" --task "$task" --algo "$algo" --seed 1 \
            --iters "$iters" --batch "$batch" --lr "$lr" --eval-every 50 \
            --log "$out/$task-$algo.csv" -o "$out/$task-$algo.safetensors" --quiet
    done
done <<'TASKS'
sine 300 1 0.003 bptt eprop
evidence 300 32 0.003 bptt eprop
store_recall 300 32 0.003 bptt eprop
delayed_xor 300 32 0.003 bptt eprop rtrl
TASKS

python3 - "$out" <<'PY'
import csv, glob, os, sys
out = sys.argv[1]
print("| task | algo | validation | iterations | wall time |")
print("|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(out, "*.csv"))):
    task, algo = os.path.basename(path)[:-4].rsplit("-", 1)
    rows = list(csv.DictReader(open(path)))
    last = [r for r in rows if r["val_loss"]][-1]
    if last["val_accuracy"]:
        score = "accuracy %.1f%%" % (100 * float(last["val_accuracy"]))
    else:
        score = "nmse %.3f" % float(last["val_nmse"])
    print("| %s | %s | %s | %s | %.0f s |" % (task, algo, score, rows[-1]["iter"],
                                               float(rows[-1]["seconds"])))
PY
