#!/bin/sh
# cosine_order.sh GRAPH DATA-ARGS... - one row of the README's "Cosine to the
# exact gradient vs order" table: for seeds $SEEDS (default 1-5), init GRAPH
# with the seed, make data with `trellis data DATA-ARGS --graph GRAPH
# --batch 8 --seed S` and compare m-order e-prop (--engine reverse, orders
# 1, 2, 3, 5, 10, 20, 50) with bptt, float64. Prints the markdown row: the
# whole network's cosine per order (mean ± sd over seeds, sample sd), then
# |exact| / |order 1| per seed. Files go to $OUT (default a temporary dir);
# with CSV=FILE, the row's cosines are also appended to FILE as
# graph,data,order,mean,sd lines (bench/plot_cosine_order.py draws them).
# Example: bench/cosine_order.sh bench/workloads/dag.json random --steps 200 --spiking spikes
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/bin/trellis-f64"
[ -x "$bin" ] || (cd "$here" && make -s bin/trellis-f64)
graph=$1
shift
seeds=${SEEDS:-1 2 3 4 5}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
for s in $seeds; do
    "$bin" init "$graph" --seed "$s" -o "$out/p$s.st" >/dev/null
    "$bin" data "$@" --graph "$graph" --batch 8 --seed "$s" -o "$out/d$s.st" >/dev/null
    for orders in 1,2,3,5 10,20,50; do
        "$bin" compare "$graph" --params "$out/p$s.st" --data "$out/d$s.st" --engine reverse \
            --order "$orders" --json >"$out/c$s.$orders.json"
    done
done
python3 - "$out" "$graph" "$seeds" "$*" "${CSV:-}" <<'PY'
import glob, json, os, statistics, sys
out, graph, seeds, data, csv = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4], sys.argv[5]
orders = [1, 2, 3, 5, 10, 20, 50]


def two_digits(r):  # 2 significant digits, no exponent: 1.1, 35, 28000
    r = float("%.2g" % r)
    return "%d" % r if r >= 10 else "%.1f" % r



cos = {m: [] for m in orders}
ratio, steps = [], None
for s in seeds:
    for path in glob.glob(os.path.join(out, "c%s.*.json" % s)):
        d = json.load(open(path))
        steps = d["steps"]
        for name, v in d["total"]["algos"].items():
            m = int(name.split("order ")[1]) if "order" in name else 1
            cos[m].append(v["cosine"])
            if m == 1:
                ratio.append(1 / v["norm_ratio"])
stats = [(statistics.mean(cos[m]), statistics.stdev(cos[m]) if len(seeds) > 1 else 0) for m in orders]
cells = ["%.2f ± %.2f" % s for s in stats]
if csv:
    with open(csv, "a") as f:
        for m, (mean, sd) in zip(orders, stats):
            f.write("%s,%s,%d,%.6f,%.6f\n" % (graph, data, m, mean, sd))
print("| `%s`, `data %s` (T = %d) | %s | %s |" % (
    graph, data, steps, " | ".join(cells), ", ".join(two_digits(r) for r in ratio)))
PY
