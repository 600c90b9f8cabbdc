#!/bin/sh
# feedback_train.sh [OUTDIR] - the README's "Training with random and
# adaptive feedback" table: bptt and e-prop with symmetric, random and
# adaptive feedback on the tasks of $TASKS (default: evidence store_recall
# sine, each on models/TASK.json), seeds $SEEDS (default 1-5), $ITERS
# iterations (default 300; TASK_ITERS="sine=100" overrides per task), Adam
# lr 0.003, batch 32, float32. Every rule of a seed starts from the same
# initial weights and feedback matrices (init --seed S --feedback random).
# At most $JOBS trainings at once (default 2), each on one thread. Logs and
# parameters go to OUTDIR (default /tmp/trellis-feedback-train); a run whose
# log is complete is not repeated. Prints one markdown table per task: final
# validation accuracy (nMSE for sine), then mean ± sd (sample sd) per rule.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/bin/trellis"
out=${1:-/tmp/trellis-feedback-train}
tasks=${TASKS:-evidence store_recall sine}
seeds=${SEEDS:-1 2 3 4 5}
iters=${ITERS:-300}
jobs=${JOBS:-2}
mkdir -p "$out"
[ -x "$bin" ] || (cd "$here" && make -s bin/trellis)
export TRELLIS_THREADS=1 OPENBLAS_NUM_THREADS=1

task_iters() { # the iterations of task $1
    n=$iters
    for kv in ${TASK_ITERS:-}; do
        [ "${kv%%=*}" = "$1" ] && n=${kv#*=}
    done
    echo "$n"
}

for task in $tasks; do
    for s in $seeds; do
        [ -f "$out/$task.fb$s.st" ] ||
            "$bin" init "$here/models/$task.json" --seed "$s" --feedback random -o "$out/$task.fb$s.st"
    done
done

# one line per training: task seed rule iterations
for task in $tasks; do
    n=$(task_iters "$task")
    for s in $seeds; do
        for rule in bptt symmetric random adaptive; do
            echo "$task $s $rule $n"
        done
    done
done | xargs -P "$jobs" -L 1 sh -c '
    bin=$0 here=$1 out=$2 task=$3 s=$4 rule=$5 n=$6
    log="$out/$task.$rule.$s.csv"
    if [ -f "$log" ] && tail -n 1 "$log" | grep -q "^$n,"; then exit 0; fi
    case $rule in
    bptt) algo="--algo bptt" ;;
    *) algo="--algo eprop --feedback $rule" ;;
    esac
    echo "== $task seed $s $rule ($n iterations)" >&2
    "$bin" train "$here/models/$task.json" --task "$task" $algo --params "$out/$task.fb$s.st" \
        --seed "$s" --iters "$n" --log "$log" -o "$out/$task.$rule.$s.st" --quiet
' "$bin" "$here" "$out"

python3 - "$out" "$seeds" $tasks <<'PY'
import csv, os, statistics, sys
out, seeds, tasks = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
names = {"bptt": "bptt", "symmetric": "e-prop, symmetric",
         "random": "e-prop, random feedback", "adaptive": "e-prop, adaptive feedback"}
for task in tasks:
    print("\n%s: | rule | %s | mean ± sd | wall time |" % (task, " | ".join("seed " + s for s in seeds)))
    for rule, name in names.items():
        vals, secs = [], []
        for s in seeds:
            rows = list(csv.DictReader(open(os.path.join(out, "%s.%s.%s.csv" % (task, rule, s)))))
            last = rows[-1]
            secs.append(float(last["seconds"]))
            if last["val_accuracy"]:
                vals.append(100 * float(last["val_accuracy"]))
            else:
                vals.append(float(last["val_nmse"]))
        acc = bool(rows[-1]["val_accuracy"])
        fmt = (lambda v: "%.1f%%" % v) if acc else (lambda v: "%.3f" % v)
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print("| %s | %s | %s ± %s | %.0f-%.0f s |" % (
            name, " | ".join(fmt(v) for v in vals), fmt(statistics.mean(vals)).rstrip("%"),
            fmt(sd), min(secs), max(secs)))
PY
