#!/usr/bin/env python3
"""What the Python package adds to a gradient (issue 15): Graph.grad and the
torch bridge's forward + backward against `trellis bench`'s in-process
median of the same computation (same graph, parameters, data, threads).

    PYTHONPATH=python /usr/bin/python3 bench/python_overhead.py [--graph models/lsnn.json]
        [--algo eprop] [--repeat 7]

The machine's load moves every time: each row is measured in --rounds
rounds interleaved with trellis bench, and its ratio is the median of the
rounds' ratios to the bench median of the same round. Rows: trellis
bench's median of one grad call; Graph.grad with numpy dicts
(parameters copied into the library and data wrapped on every call, as a
script does); Graph.grad with handles bound once (g.params, g.data); and
trellis.torch.Module forward + loss + backward (a run, then a grad with the
cotangent: about two calls' work)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import trellis  # noqa: E402


def median_time(f, repeat, warmup=1):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graph", default="models/lsnn.json")
    ap.add_argument("--task", default="evidence", help="the data: this task's batch 0")
    ap.add_argument("--algo", default="eprop")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.chdir(ROOT)
    g = trellis.Graph.load(a.graph)
    p = g.init(seed=1)
    d = g.task_data(a.task, seed=1, batch=a.batch)
    import torch
    import trellis.torch as tt
    m = tt.Module(g, params=p, algo=a.algo)
    x = torch.from_numpy(d["in"])
    mask, target = torch.from_numpy(d["mask"]), torch.from_numpy(d["target"])

    def step():
        y = m({"in": x})["out"]
        loss = -(mask[..., None] * target * torch.log_softmax(y, -1)).sum() / len(y)
        m.zero_grad()
        loss.backward()
    ph, dh = g.params(p), g.data(d)
    calls = [("Graph.grad, numpy dicts", lambda: g.grad(p, d, algo=a.algo)),
             ("Graph.grad, bound handles", lambda: g.grad(ph, dh, algo=a.algo)),
             ("torch Module forward + backward", step)]
    bench, ratios = [], {w: [] for w, _ in calls}
    with tempfile.TemporaryDirectory() as tmp:
        pf, df = os.path.join(tmp, "p.st"), os.path.join(tmp, "d.st")
        trellis.save_safetensors(pf, p)
        trellis.save_safetensors(df, d)
        for _ in range(a.rounds):
            out = subprocess.run([os.path.join(ROOT, "bin", "trellis"), "bench", a.graph,
                                  "--params", pf, "--data", df, "--algo", a.algo, "--repeat",
                                  str(a.repeat), "--json"], check=True, capture_output=True,
                                 text=True).stdout
            c = json.loads(out)["median_s"]
            bench.append(c)
            for what, f in calls:
                ratios[what].append(median_time(f, a.repeat) / c)
    c = statistics.median(bench)
    rows = [("trellis bench (in process)", c, 1.0)] + \
        [(w, c * statistics.median(r), statistics.median(r)) for w, r in ratios.items()]
    if a.json:
        print(json.dumps({"graph": a.graph, "algo": a.algo, "B": a.batch, "repeat": a.repeat,
                          "rounds": a.rounds, "threads": trellis.threads(),
                          "rows": [{"what": w, "median_s": t, "ratio": r} for w, t, r in rows]}))
        return
    print("%s, %s, B %d, %d threads, median of %d calls, %d rounds"
          % (a.graph, a.algo, a.batch, trellis.threads(), a.repeat, a.rounds))
    for what, t, r in rows:
        print("  %-34s %8.4f s  %5.2fx" % (what, t, r))


if __name__ == "__main__":
    main()
